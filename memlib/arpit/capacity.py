"""Capacity and time to fit (Arpit et al. 2017, §3.3, Figures 5 and 6).

One *stack* is a set of 2-hidden-layer MLPs of one width trained at once on one training-set
size (:mod:`.ensemble`): one member per (condition, seed), each on its own variant of the data
(real, randX or randY at some fraction; the condition's examples and noise drawn from the seed).
Members of one seed share their initialization and data order, so conditions are compared on
paired networks. After every epoch each member's accuracy on its own training set (as trained:
noisy inputs, random labels) and on held-out real examples is recorded. The *time to fit* is
the first epoch at 100% training accuracy; a member that never reaches it within the epoch cap
is censored (NaN, never a number). A stack stops as soon as every member has fitted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..data import load_dataset, subset_indices
from ..results import Computed
from . import cached
from .conditions import Condition, apply
from .ensemble import fit_stack, init_stack, predict
from .train import Recipe


class _AllFitted(Exception):
    """Raised by the epoch callback to end a stack's training once every member has fitted."""


@dataclass(frozen=True)
class Stack:
    """One stack's setting: its width, training-set size and conditions (× seeds)."""

    width: int  # hidden units of each of the two layers
    n_train: int  # training examples per member (a random subset of the training split)
    conditions: tuple[tuple[str, float], ...]  # (kind, fraction) of each condition
    seeds: tuple[int, ...]  # per seed: initialization, data order, condition's noise

    def members(self) -> list[tuple[str, float, int]]:
        return [(k, f, s) for s in self.seeds for k, f in self.conditions]


def first_fit(train_acc: np.ndarray, epochs: np.ndarray) -> float:
    """The first epoch at which ``train_acc`` is 1 (100% training accuracy); NaN if never."""
    hit = np.flatnonzero(np.asarray(train_acc) >= 1.0)
    return float(epochs[hit[0]]) if len(hit) else float("nan")


@functools.lru_cache(maxsize=1)
def _data(dataset: str, device: str):
    """The whole dataset (standardized with its full training split's statistics), loaded once
    per process."""
    return load_dataset(dataset, device=device)


def train_stack(st: Stack, recipe: Recipe, *, dataset: str, n_val: int, device: str = "cpu",
                progress: bool = False) -> pd.DataFrame:  # fmt: skip
    """Train one stack; one row per (member, epoch): kind, fraction, seed, epoch, train_acc
    (on the member's own training set), val_acc (real held-out examples: the first ``n_val`` of a
    random order of the test split)."""
    data = _data(dataset, str(device))
    keep = subset_indices(len(data.y_train), st.n_train, seed=0).to(device)  # nested in n_train
    x, y = data.x_train.flatten(1)[keep], data.y_train[keep]  # [N, D], [N]
    val = subset_indices(len(data.y_test), n_val, seed=1).to(device)
    xv, yv = data.x_test.flatten(1)[val], data.y_test[val]  # [V, D], [V]
    members = st.members()
    variants = [apply(x, y, Condition(k, f, s), data.n_classes) for k, f, s in members]
    xs = torch.stack([v[0] for v in variants])  # [M, N, D]
    ys = torch.stack([v[1] for v in variants])  # [M, N]
    m = len(members)
    params = init_stack(x.shape[1], (st.width, st.width), data.n_classes,
                        [s for _, _, s in members], device)  # fmt: skip
    rows, fitted = [], np.zeros(m, bool)

    def on_epoch(epoch, params):
        tr = (predict(params, xs, per_member=True) == ys).float().mean(1).cpu().numpy()
        va = (predict(params, xv) == yv).float().mean(1).cpu().numpy()
        for i, (k, f, s) in enumerate(members):
            rows.append((k, f, s, epoch, float(tr[i]), float(va[i])))
        fitted[tr >= 1.0] = True
        if fitted.all():
            raise _AllFitted

    try:
        fit_stack(params, xs, ys, torch.arange(m), recipe, [s for _, _, s in members],
                  on_epoch=on_epoch, progress=progress)  # fmt: skip
    except _AllFitted:
        pass
    return pd.DataFrame(rows, columns=["kind", "fraction", "seed", "epoch", "train_acc", "val_acc"])


def run_stack(st: Stack, recipe: Recipe, *, dataset: str, n_val: int, device: str = "cpu",
              meta: dict | None = None):  # fmt: skip
    """:func:`train_stack`, cached: a ``Result`` whose history is its table."""
    config = {"dataset": dataset, "width": st.width, "n_train": st.n_train, "n_val": n_val,
              "conditions": [list(c) for c in st.conditions], "seeds": list(st.seeds),
              "recipe": recipe.key()}  # fmt: skip

    def compute(folder):
        h = train_stack(st, recipe, dataset=dataset, n_val=n_val, device=device)
        return Computed(h, {}, {"device": str(device), "source": dataset})

    return cached("capacity", config, compute, meta=meta)


def summarize(history: pd.DataFrame) -> pd.DataFrame:
    """One row per member (kind, fraction, seed): ``fit_epoch`` (first epoch at 100% training
    accuracy; NaN: censored), ``censored``, ``last_epoch`` (trained), ``val_acc`` (held-out
    accuracy at the fit epoch, or at the last epoch if censored), ``train_acc`` (then)."""
    out = []
    for (k, f, s), g in history.groupby(["kind", "fraction", "seed"], sort=False):
        g = g.sort_values("epoch")
        e = first_fit(g.train_acc.to_numpy(), g.epoch.to_numpy())
        at = g[g.epoch == e].iloc[0] if np.isfinite(e) else g.iloc[-1]
        out.append({"kind": k, "fraction": f, "seed": s, "fit_epoch": e,
                    "censored": not np.isfinite(e), "last_epoch": int(g.epoch.max()),
                    "val_acc": float(at.val_acc), "train_acc": float(at.train_acc)})  # fmt: skip
    return pd.DataFrame(out)
