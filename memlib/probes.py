"""Probes of a trained model: does a turn-over model read its masks instead of its images, and
does the fast gradient path agree with BackPACK on it?"""

from __future__ import annotations

import dataclasses

import torch

from . import gradients as G
from .runs import DynamicsRun, run_data


def mask_code_probe(run, batch_size: int = 500) -> dict[str, float]:
    """Does a turn-over model read its examples' masks instead of their images? The accuracy,
    against each training example's label, of its *unmuted* sub-network fed its own image
    (``real``), a blank image (``blank``, all zeros after standardization), or the next
    example's image (``swapped``). High accuracy without the real image means the mask pattern
    alone identifies the example: memorization by a per-example code."""
    data = run_data(dataclasses.replace(run.config, device="cpu"))
    model = run.model(data).eval()
    idx = torch.arange(data.n_train)
    inputs = {
        "real": data.x_train,
        "blank": torch.zeros_like(data.x_train),
        "swapped": data.x_train[torch.roll(idx, 1)],
    }
    out = {}
    with torch.no_grad():
        for name, x in inputs.items():
            pred = torch.cat(
                [
                    model(x[b : b + batch_size], idx[b : b + batch_size], "unmuted").argmax(1)
                    for b in range(0, len(idx), batch_size)
                ]
            )
            out[name] = (pred == data.y_train).float().mean().item()
    return out


def backpack_check(run: DynamicsRun, n_batches: int = 2, batch_size: int = 64, seed: int = 0):
    """The fast path against BackPACK on ``n_batches`` random training mini-batches of ``run``'s
    final model: the largest relative deviation of the cosine matrix and of the contributions."""
    data = run_data(dataclasses.replace(run.config, device="cpu"))
    model = run.model(data)
    gen = torch.Generator().manual_seed(seed)
    worst = {"cosine": 0.0, "contribution": 0.0}
    for _ in range(n_batches):
        b = torch.randperm(data.n_train, generator=gen)[:batch_size]
        x, y = data.x_train[b], data.y_train[b]
        fast = G.gram(G.factors(model, x, y))
        v = G.backpack_grads(model, x, y)
        ref = v @ v.T
        worst["cosine"] = max(worst["cosine"], G.max_rel_error(G.cosine(fast), G.cosine(ref)))
        err = G.max_rel_error(G.contributions(fast), G.contributions(ref))
        worst["contribution"] = max(worst["contribution"], err)
    return worst
