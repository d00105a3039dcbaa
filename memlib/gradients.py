"""Per-example gradient statistics without per-example gradients (paper, Eq. 3 and Eq. 4).

For a linear layer ``y = W a + b`` the gradient of example i's loss is an outer product,
``∇_W L_i = δ_i a_iᵀ`` and ``∇_b L_i = δ_i``, with ``δ_i = ∂L_i/∂y_i``. Dot products between two
examples' gradients therefore factor:

    ⟨∇_W L_i, ∇_W L_j⟩ = (δ_i·δ_j)(a_i·a_j),        ⟨∇_b L_i, ∇_b L_j⟩ = δ_i·δ_j

so the Gram matrix of per-example gradients over all parameters is
``G = Σ_layers (Δ Δᵀ) ⊙ (A Aᵀ + 1)`` (the ``+ 1`` only for layers with a bias). It needs the layer
inputs ``A`` and output gradients ``Δ`` of one forward and one backward pass, never the
``B × P`` per-example gradients (P = 3.2 million for the 4096-unit MLP). Eq. 3 and Eq. 4 need
nothing more:

- cosine similarity ``G_ij / sqrt(G_ii G_jj)``;
- contribution of example i to the mini-batch gradient ``g = mean_j v_j``:
  ``v_i·g / ‖g‖ = mean_j G_ij / sqrt(mean_jk G_jk)``.

The mean cosine over *all* pairs of a large subset uses the same factors once more: with
``u_i = v_i / ‖v_i‖``, ``Σ_{i≠j} u_i·u_j = ‖Σ_i u_i‖² − n``, and ``Σ_i u_i`` is, per layer, the
single product ``(Δ / ‖v‖)ᵀ A``. That is exact and costs one pass over the subset.

Only ``nn.Linear`` parameters are supported (the MLP); a model with other parameters is refused.
``backpack_grads`` and ``loop_grads`` are the slow references the tests and notebooks check against.
"""

from __future__ import annotations

import copy
import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Factors = list[tuple[Tensor, Tensor, bool]]  # per linear layer: inputs A [B, in], δ [B, out], bias


def _call(model: nn.Module, x: Tensor, idx: Tensor | None, mode: str) -> Tensor:
    """The logits of the sub-network that trains (``idx`` given) or of the full network."""
    if idx is not None and getattr(model, "turnover", False):
        return model(x, idx, mode)
    return model(x)


def _linears(model: nn.Module) -> list[nn.Linear]:
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    covered = {id(p) for m in layers for p in m.parameters()}
    if any(id(p) not in covered for p in model.parameters() if p.requires_grad):
        raise NotImplementedError("gradient factors need a model whose parameters are nn.Linear")
    return layers


def factors(
    model: nn.Module, x: Tensor, y: Tensor, idx: Tensor | None = None, mode: str = "unmuted"
) -> Factors:
    """Inputs and output gradients of every linear layer for the per-example losses
    ``cross_entropy(f(x_i), y_i)`` (f: the sub-network ``mode`` when ``idx`` is given). fp32/64,
    no autocast; parameter ``.grad`` is left untouched."""
    layers = _linears(model)
    inputs: dict[int, Tensor] = {}
    outputs: dict[int, Tensor] = {}

    def hook(module, args, out):
        inputs[id(module)] = args[0].detach().flatten(1)
        outputs[id(module)] = out

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.enable_grad():
            loss = F.cross_entropy(_call(model, x, idx, mode), y, reduction="sum")
            deltas = torch.autograd.grad(loss, [outputs[id(m)] for m in layers])
    finally:
        for h in handles:
            h.remove()
    return [(inputs[id(m)], d, m.bias is not None) for m, d in zip(layers, deltas, strict=True)]


def cross_gram(fa: Factors, fb: Factors) -> Tensor:
    """``G[i, j] = ⟨v_i, v_j⟩`` for i in batch a, j in batch b: [Ba, Bb]."""
    g = 0.0
    for (a1, d1, bias), (a2, d2, _) in zip(fa, fb, strict=True):
        aa = a1 @ a2.T
        g = g + (d1 @ d2.T) * (aa + 1 if bias else aa)
    return g


def gram(fs: Factors) -> Tensor:
    """The Gram matrix of a batch's per-example gradients, [B, B]."""
    return cross_gram(fs, fs)


def sq_norms(fs: Factors) -> Tensor:
    """``‖v_i‖²`` for every example of the batch, [B], without the Gram matrix."""
    n = 0.0
    for a, d, bias in fs:
        aa = (a * a).sum(1)
        n = n + (d * d).sum(1) * (aa + 1 if bias else aa)
    return n


def cosine(g: Tensor) -> Tensor:
    """Pairwise cosine similarities from a Gram matrix."""
    s = g.diagonal().clamp_min(torch.finfo(g.dtype).tiny).sqrt()
    return g / s[:, None] / s[None, :]


def contributions(g: Tensor) -> Tensor:
    """Eq. 4 for every example of the batch: ``v_i·ḡ / ‖ḡ‖``, ``ḡ`` the batch's mean gradient."""
    return g.mean(1) / g.mean().clamp_min(torch.finfo(g.dtype).tiny).sqrt()


@torch.no_grad()
def mean_pairwise_cosine(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    idx: Tensor | None = None,
    mode: str = "unmuted",
    batch_size: int = 2048,
) -> float:
    """Eq. 3, exactly, over all ordered pairs ``i ≠ j`` of the examples given (any number).

    Examples whose gradient is exactly zero (a fitted example whose softmax saturated in float)
    have no direction and are left out of the pairs.
    """
    sums: list[Tensor] | None = None
    n = 0
    for b in range(0, len(x), batch_size):
        i = None if idx is None else idx[b : b + batch_size]
        fs = factors(model, x[b : b + batch_size], y[b : b + batch_size], i, mode)
        norm = sq_norms(fs).sqrt()
        keep = norm > 0
        n += int(keep.sum())
        w = torch.where(keep, 1.0 / norm.clamp_min(torch.finfo(norm.dtype).tiny), 0.0)[:, None]
        part = []
        for a, d, bias in fs:
            part.append((d * w).T @ a)
            if bias:
                part.append((d * w).sum(0))
        sums = part if sums is None else [s + p for s, p in zip(sums, part, strict=True)]
    if n < 2:
        return float("nan")
    total = sum(float((s.double() ** 2).sum()) for s in sums)
    return (total - n) / (n * (n - 1))


# --- slow references -------------------------------------------------------------------------


def loop_grads(
    model: nn.Module, x: Tensor, y: Tensor, idx: Tensor | None = None, mode: str = "unmuted"
) -> Tensor:
    """Per-example gradients [B, P] by one autograd call per example (the obvious reference)."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for k in range(len(x)):
        i = None if idx is None else idx[k : k + 1]
        loss = F.cross_entropy(_call(model, x[k : k + 1], i, mode), y[k : k + 1])
        rows.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)]))
    return torch.stack(rows)


def backpack_grads(
    model: nn.Module, x: Tensor, y: Tensor, idx: Tensor | None = None, mode: str = "unmuted"
) -> Tensor:
    """Per-example gradients [B, P] by BackPACK's ``BatchGrad`` (the paper's tool), on a copy of
    ``model`` so that the caller's model carries no BackPACK hooks."""
    from backpack import backpack, extend
    from backpack.extensions import BatchGrad

    twin = copy.deepcopy(model)
    with warnings.catch_warnings():  # BackPACK warns about the container module and its hooks
        warnings.simplefilter("ignore", UserWarning)
        twin = extend(twin)
        loss = F.cross_entropy(_call(twin, x, idx, mode), y, reduction="sum")
        with backpack(BatchGrad()):
            loss.backward()
    grads = [p.grad_batch.flatten(1) for p in twin.parameters() if p.requires_grad]
    return torch.cat(grads, 1)


def max_rel_error(fast: Tensor, reference: Tensor) -> float:
    """Largest deviation relative to the reference's largest magnitude."""
    scale = reference.abs().max().clamp_min(torch.finfo(reference.dtype).tiny)
    return float((fast - reference).abs().max() / scale)


# --- per-epoch statistics for the training history ---------------------------------------------


def epoch_stats(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    groups: dict[str, Tensor],
    *,
    n_batches: int,
    batch_size: int,
    seed: int,
) -> dict[str, float]:
    """Eq. 3 and Eq. 4 for named groups of training examples (boolean masks [N]).

    ``cos_<group>``: exact mean pairwise cosine over all pairs of the group. ``contrib_<group>``
    and ``contrib_all``: mean contribution of the group's members to the gradient of the
    mini-batch they sit in, over ``n_batches`` random mini-batches of the whole training set.
    Gradients are those of the full network (the plain model) in fp32, at the current weights.
    """
    was = model.training
    model.eval()
    out: dict[str, float] = {}
    for name, mask in groups.items():
        m = mask.to(x.device)
        out[f"cos_{name}"] = mean_pairwise_cosine(model, x[m], y[m])
    gen = torch.Generator().manual_seed(seed)
    sums = {k: 0.0 for k in [*groups, "all"]}
    counts = dict.fromkeys(sums, 0)
    for _ in range(n_batches):
        b = torch.randperm(len(x), generator=gen)[:batch_size].to(x.device)
        c = contributions(gram(factors(model, x[b], y[b])))
        for name, mask in [*groups.items(), ("all", None)]:
            sel = c if mask is None else c[mask.to(x.device)[b]]
            sums[name] += float(sel.sum())
            counts[name] += len(sel)
    for k in sums:
        out[f"contrib_{k}"] = sums[k] / counts[k] if counts[k] else math.nan
    model.train(was)
    return out
