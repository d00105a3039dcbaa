"""The paper's experiments as functions of a notebook's parameters and a seed (all cached).

Each returns a ``DynamicsRun`` whose history follows named subsets: the notebooks call these and
plot. Subsets are chosen from the data or from earlier runs' scores, never by hand.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from . import gradients as G
from .config import CorruptionStudy, DynamicsStudy, PartitionStudy
from .data import subset_indices
from .errors import MemlibError
from .experiment import (
    DynamicsRun,
    dynamics_run,
    extremes,
    pick,
    run_data,
    score_run,
)
from .masks import hash32

_PICK = 0x5E1EC7  # salt of the stream that picks the followed subsets


def random_label_dynamics(p: DynamicsStudy, seed: int, turnover: bool = False) -> DynamicsRun:
    """Figures 3 and 4: train on data with ``p.corrupt`` random labels, following ``easy`` (a
    random ``p.subset_size`` of the real-label examples) and ``difficult`` (as many random-label
    ones). The plain model also records gradient statistics (Eq. 3, 4) at ``p.grad_epochs()``."""
    cfg = p.run(seed, turnover=turnover)
    data = run_data(cfg, device=None)
    corrupted = data.corrupted.cpu().numpy()
    s = hash32(seed ^ _PICK)
    subsets = {
        "easy": pick(~corrupted, p.subset_size, s),
        "difficult": pick(corrupted, p.subset_size, s + 1),
    }
    return dynamics_run(
        cfg,
        subsets=subsets,
        grad_epochs=() if turnover else p.grad_epochs(),
        grad_groups=() if turnover else ("easy", "difficult"),
        grad_batches=p.grad_batches,
        profile=p.profile,
    )


def score_test_set(p: PartitionStudy, seed: int, n_test: int | None = None):
    """Memorization scores of the *test* examples: the Figure 2(a) recipe, trained on the test
    set (a turn-over model of its own, which the followed model never meets). With ``n_train``
    set, on a random subset of the test set of that size (at most all of it). ``n_test``: the
    test set's size, if the caller knows it. Returns a ScoreRun."""
    if p.n_train and n_test is None:
        n_test = len(run_data(p.run(seed), device=None).y_test)
    n = p.n_train and min(p.n_train, n_test)
    cfg = p.run(seed, split="test", n_train=n, corrupt=0)
    return score_run(cfg, profile=p.profile)


def _train_partition(p: PartitionStudy, seed: int):
    """The ``p.fraction`` lowest- and highest-score training examples (this seed's scoring run)."""
    scores = score_run(p.run(seed), profile=p.profile).table.score.to_numpy()
    return extremes(scores, round(p.fraction * len(scores)))


def partition_dynamics(p: PartitionStudy, seed: int, control: bool = False) -> DynamicsRun:
    """Figure 5(a,b): the ``p.fraction`` lowest- and highest-score examples of the training set
    (scores of the Figure 2(a) run of this seed) and of the test set (:func:`score_test_set`) are
    the easy and difficult subsets; a plain MLP trains for ``p.train_epochs`` and is followed on
    them. ``control`` leaves the difficult training subset out of training."""
    easy, difficult = _train_partition(p, seed)
    n_test = len(run_data(p.run(seed), device=None).y_test)
    test_run = score_test_set(p, seed, n_test)
    test = test_run.table.score.to_numpy()
    t_easy, t_difficult = extremes(test, round(p.fraction * len(test)))
    if len(test) < n_test:  # scored on a subset of the test set: masks over the whole of it
        keep = subset_indices(n_test, len(test), test_run.config.subset_seed).numpy()
        t_easy, t_difficult = (np.isin(np.arange(n_test), keep[m]) for m in (t_easy, t_difficult))
    cfg = p.followed(seed)
    return dynamics_run(
        cfg,
        subsets={"easy": easy, "difficult": difficult},
        test_subsets={"easy": t_easy, "difficult": t_difficult},
        exclude=difficult if control else None,
        profile=p.profile,
    )


def subset_training(p: PartitionStudy, seed: int, on: str) -> DynamicsRun:
    """Figure 6: the easy and difficult subsets of :func:`partition_dynamics` (same scores, same
    size), and a plain model trained for ``p.train_epochs`` on the one named ``on`` only; the
    history follows both (the other one is never trained on)."""
    if on not in ("easy", "difficult"):
        raise MemlibError(f"subset_training(on={on!r}): easy or difficult")
    easy, difficult = _train_partition(p, seed)
    cfg = p.followed(seed)
    return dynamics_run(
        cfg,
        subsets={"easy": easy, "difficult": difficult},
        exclude=~(easy if on == "easy" else difficult),
        test=False,
        profile=p.profile,
    )


def corruption_dynamics(p: CorruptionStudy, seed: int, level: float) -> DynamicsRun:
    """Figure 10: a plain model trained with ``round(level * N)`` random labels (N: the training
    set, after ``n_train``), followed on its random-label and real-label examples."""
    n = p.n_train or run_data(p.run(seed), device=None).n_train
    cfg = p.run(seed, turnover=False, corrupt=round(level * n))
    corrupted = run_data(cfg, device=None).corrupted.cpu().numpy()
    return dynamics_run(cfg, subsets={"random": corrupted, "real": ~corrupted}, profile=p.profile)


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


def extremes_per_class(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """Figures 7 and 8: the ``k`` lowest- and ``k`` highest-score training examples of every
    class (by the label trained on), with ``kind`` (lowest / highest) and ``rank`` (0 = most
    extreme). Rows keep ``score_table``'s columns."""
    parts = []
    for _, group in table.groupby("label"):
        g = group.sort_values(["score", "index"])
        for kind, rows in (("lowest", g.head(k)), ("highest", g.tail(k).iloc[::-1])):
            parts.append(rows.assign(kind=kind, rank=range(len(rows))))
    return pd.concat(parts, ignore_index=True)


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
