"""Probes of a trained model: does a turn-over model read its masks instead of its images, and
does the fast gradient path agree with BackPACK on it?"""

from __future__ import annotations

import dataclasses

import torch

from . import gradients as G
from . import lookup
from .runs import DynamicsRun, run_data


def mask_code_probe(run, batch_size: int = 500, seed: int = 0) -> dict[str, float]:
    """Does a turn-over model read its examples' masks instead of their images? The arms of
    :mod:`memlib.lookup` on every training example of ``run``'s final model (and as many test
    images): ``real``, ``blank``, ``other_class``, ``fresh_train``, ``fresh_test``. High accuracy
    on a blank image, or on another class's image, means the mask pattern alone identifies the
    example's label: memorization by a per-example code."""
    data = run_data(dataclasses.replace(run.config, device="cpu"))
    model = run.model(data)
    sel = lookup.select(data, data.n_train, seed)
    return lookup.probe(model, data, sel, bf16=run.config.bf16, batch_size=batch_size)


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
