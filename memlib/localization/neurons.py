"""Greedy neuron removal (§6.1): how many units must be zeroed to flip one example's prediction.

A unit is a channel of a conv layer (its activation, zeroed for every position) or a single
weight of the classifier, as in the paper. Each step zeroes the unit whose removal raises most,
to first order, the objective

    J = ℓ(F̄(x_i), y_i) − mean_{j ∈ ref} ℓ(F(x_j), y_j),

where F̄ averages the logits over ``n_noise`` Gaussian perturbations of x_i (redrawn every
step), so that the search does not exploit an adversarial direction of one input, and the
reference batch (random training examples, the example excluded) keeps the rest of the
training set's predictions. With every unit's mask m (1: kept), zeroing unit u changes J by
about −∂J/∂m_u: that is the (parameter × gradient) score, the parameter being the mask.
The loop stops when the prediction on the clean input differs from y_i, or after ``max_steps``
removals (the example then "never flips").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .resnet import ResNet9


@dataclass(frozen=True)
class Removal:
    """One example's removal: the units zeroed, in order ((layer, flat index)), whether the
    prediction flipped, and the units zeroed per layer."""

    units: list[tuple[str, int]]
    flipped: bool

    @property
    def n(self) -> int:
        return len(self.units)

    def per_layer(self, layers) -> np.ndarray:
        return np.array([sum(u[0] == name for u in self.units) for name in layers])


def _masks(model: ResNet9) -> dict[str, Tensor]:
    return {name: m.keep for name, m in model.layers().items()}


def remove_until_flip(model: ResNet9, x: Tensor, y: int, ref_x: Tensor, ref_y: Tensor, *,
                      n_noise: int, sigma: float, max_steps: int,
                      gen: torch.Generator) -> Removal:  # fmt: skip
    """Zero units of ``model`` (eval mode) one by one until its prediction on ``x`` [C, H, W]
    is no longer ``y``. The model's masks are left as the removal set them (``reset`` them)."""
    model.eval()
    masks = _masks(model)
    units: list[tuple[str, int]] = []
    target = torch.tensor([y], device=x.device)
    for _ in range(max_steps + 1):
        with torch.no_grad():
            if model(x[None]).argmax(1).item() != y:
                return Removal(units, True)
        if len(units) == max_steps:
            break
        for m in masks.values():
            m.requires_grad_(True)
        noise = torch.randn((n_noise, *x.shape), generator=gen).to(x.device) * sigma
        logits = model(torch.cat([x[None] + noise, ref_x]))
        j = F.cross_entropy(logits[:n_noise].mean(0, keepdim=True), target)
        j = j - F.cross_entropy(logits[n_noise:], ref_y)
        grads = torch.autograd.grad(j, list(masks.values()))
        best, name_best, idx_best = -float("inf"), None, -1
        for (name, m), g in zip(masks.items(), grads):
            score = torch.where(m.detach() > 0, -g, torch.tensor(-float("inf"))).flatten()
            i = int(score.argmax())
            if score[i] > best:
                best, name_best, idx_best = float(score[i]), name, i
        for m in masks.values():
            m.requires_grad_(False)
        with torch.no_grad():
            masks[name_best].view(-1)[idx_best] = 0.0
        units.append((name_best, idx_best))
    return Removal(units, False)


def reset(model: ResNet9) -> None:
    """Every unit kept again."""
    with torch.no_grad():
        for m in _masks(model).values():
            m.fill_(1.0)
