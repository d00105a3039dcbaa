"""Langevin adversarial sample search (LASS, §4.1, Algorithm 1) and the critical sample ratio.

A point x is *critical* if some x̂ in the box ‖x̂ − x‖∞ ≤ r is given another class than x
(Eq. 1: the predicted class, not the true label). LASS looks for one with signed gradient steps
plus Gaussian noise, projected back into the box:

    Δ = α · sign(∇ₓ ℓ(x̃, k)) + β · η,   η ~ N(0, I),   x̃ ← clip_box(x̃ + Δ)

where k is the class predicted at x. Algorithm 1 writes the gradient of f_k; we ascend the
cross-entropy of class k, which moves *away* from class k (ascending f_k itself would move away
from the boundary). Each point stops as soon as its own prediction changes (the paper's
per-sample rule; the one public port stops the whole population after 20 new critical samples),
or after ``max_iter`` steps (the paper gives none). α, β and r are in pixel units of the 0-255
scale (the paper: α 0.25, β 0.2, r 0.3); ``scale`` converts one such unit to the model's input
units (1 / (255 · std) for standardized images). No clipping to the valid pixel range: the
paper states none.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def lass(
    model: nn.Module,
    x: Tensor,
    *,
    r: float = 0.3,
    alpha: float = 0.25,
    beta: float = 0.2,
    max_iter: int = 20,
    scale: Tensor | float = 1.0,
    seed: int = 0,
    batch_size: int = 1024,
) -> tuple[Tensor, Tensor]:
    """Search a critical sample for every point of ``x`` [N, ...] (the model in eval mode).

    Returns ``(critical [N] bool, x_hat [N, ...])``: ``x_hat`` is the adversarial point where one
    was found, the last iterate otherwise. Deterministic for a ``seed`` (η is drawn from it)."""
    was = model.training
    model.eval()
    g = torch.Generator(device=x.device).manual_seed(seed)
    out = [_search(model, xb, r, alpha, beta, max_iter, scale, g) for xb in x.split(batch_size)]
    model.train(was)
    if not out:
        return torch.zeros(0, dtype=torch.bool, device=x.device), x.clone()
    return torch.cat([c for c, _ in out]), torch.cat([xh for _, xh in out])


def _search(model, x, r, alpha, beta, max_iter, scale, g) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        k = model(x).argmax(1)
    box = r * scale
    xt, found = x.clone(), torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for _ in range(max_iter):
        active = ~found
        if not active.any():
            break
        xa = xt[active].requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(xa), k[active], reduction="sum"), xa)
        with torch.no_grad():
            eta = torch.randn(xa.shape, generator=g, device=x.device)
            step = alpha * grad.sign() + beta * eta
            moved = x[active] + (xa + step * scale - x[active]).clamp(-box, box)  # the box
            xt[active] = moved
            flipped = model(moved).argmax(1) != k[active]
            found[active.nonzero().squeeze(1)[flipped]] = True
    return found, xt


def critical_ratio(model: nn.Module, x: Tensor, **lass_kw) -> float:
    """The critical sample ratio (CSR, §4.1): the share of ``x`` with a critical sample."""
    critical, _ = lass(model, x, **lass_kw)
    return float(critical.float().mean()) if len(critical) else float("nan")
