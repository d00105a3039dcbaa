"""The Maini chapter's claim checks, driven through their outcomes with synthetic results."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE
from memlib.claims import localization as L
from memlib.localization import LAYERS, LocalizeConfig

CFG = LocalizeConfig(epochs=10, peak_epoch=2)


def _traj(cos: float, ratio: float, noisy_acc: float = 1.0):
    rows = [{"epoch": e, "layer": layer, "grad_clean": 1.0, "grad_noisy": ratio,
             "grad_total": 0.5, "grad_cos": cos} for e in range(1, 11) for layer in LAYERS]  # fmt: skip
    hist = pd.DataFrame({"epoch": [10], "noisy_acc": [noisy_acc], "clean_acc": [1.0]})
    return SimpleNamespace(config=CFG, history=hist, grad_table=lambda: pd.DataFrame(rows))


def test_gradients_verdicts():
    assert L.maini_gradients({("cifar10", 0): _traj(-0.9, 1.0)}).verdict == HOLDS
    assert L.maini_gradients({("cifar10", 0): _traj(-0.5, 1.0)}).verdict == PARTLY
    assert L.maini_gradients({("cifar10", 0): _traj(-0.9, 0.2)}).verdict == PARTLY
    assert L.maini_gradients({("cifar10", 0): _traj(0.1, 0.2)}).verdict == FAILS
    assert L.maini_gradients({("cifar10", 0): _traj(-0.9, 1.0, 0.3)}).verdict == UNTESTABLE


def test_gradient_window_scales_the_papers_epochs():
    assert L.window(LocalizeConfig(epochs=50, peak_epoch=10)) == (10, 30)


def _grid(noisy_rewound: float, clean_rewound: float):
    rows = [{"layer": "none", "epoch": e, "clean_acc": 1.0, "noisy_acc": 1.0, "test_acc": 0.5}
            for e in range(11)]  # fmt: skip
    rows += [{"layer": layer, "epoch": 5, "clean_acc": 1.0, "noisy_acc": 1.0, "test_acc": 0.5}
             for layer in LAYERS]  # fmt: skip
    rows[-1] |= {"noisy_acc": noisy_rewound, "clean_acc": clean_rewound}  # fc
    return pd.DataFrame(rows)


def test_rewinding_verdicts():
    trajs = {("cifar10", 0): _traj(-0.9, 1.0)}
    ok, gone = _grid(0.9, 1.0), _grid(0.1, 0.95)
    assert L.maini_rewinding({("cifar10", 0): ok, ("mnist", 0): ok}, trajs).verdict == HOLDS
    both = {("cifar10", 0): gone, ("mnist", 0): ok}
    assert L.maini_rewinding(both, trajs).verdict == PARTLY
    assert L.maini_rewinding({("cifar10", 0): gone, ("mnist", 0): gone}, trajs).verdict == FAILS
    # the clean accuracy fell with the noisy one: not a localization
    assert L.maini_rewinding({("cifar10", 0): _grid(0.1, 0.5)}, trajs).verdict == HOLDS
    # a single dataset: the verdict rests on it alone
    assert L.maini_rewinding({("cifar10", 0): gone}, trajs).verdict == FAILS


def _retrain(n_redundant: int):
    rows = []
    for i, layer in enumerate(LAYERS):
        top = 0.9 if i < n_redundant else 0.3
        rows += [{"layer": layer, "epoch": e, "noisy_acc": a, "clean_acc": 0.9, "test_acc": 0.5}
                 for e, a in ((0, 0.1), (1, top), (2, top - 0.05))]  # fmt: skip
    return pd.DataFrame(rows)


def test_retraining_verdicts():
    trajs = {("cifar10", 0): _traj(-0.9, 1.0)}
    assert L.maini_retraining({("cifar10", 0): _retrain(5)}, trajs).verdict == HOLDS
    assert L.maini_retraining({("cifar10", 0): _retrain(4)}, trajs).verdict == FAILS
    two = {("cifar10", 0): _retrain(9), ("mnist", 0): _retrain(1)}
    assert L.maini_retraining(two, trajs).verdict == PARTLY
    # the reset itself (epoch 0) never counts
    t = _retrain(0)
    t.loc[t.epoch == 0, "noisy_acc"] = 1.0
    assert L.maini_retraining({("cifar10", 0): t}, trajs).verdict == FAILS


def _removal(n_noisy, n_clean, flipped=True):
    k = len(n_noisy)
    return pd.DataFrame({"index": np.arange(2 * k), "corrupted": [True] * k + [False] * k,
                         "n": list(n_noisy) + list(n_clean), "flipped": flipped,
                         "rest_before": 1.0, "rest_after": 0.9})  # fmt: skip


def test_neurons_verdicts():
    trajs = {("cifar10", 0): _traj(-0.9, 1.0)}
    base = {"learning time": np.arange(10.0)}
    holds = _removal([2, 3, 4, 5, 6], [10, 12, 15, 20, 30])
    assert L.maini_neurons(holds, base, trajs, 60).verdict == HOLDS
    # fewer, but not by half: the ranking may still detect them
    partly = _removal([7, 8, 9, 10, 11], [12, 13, 14, 15, 16])
    assert L.maini_neurons(partly, base, trajs, 60).verdict == PARTLY
    fails = _removal([5, 6, 7, 8, 9], [5, 6, 7, 8, 9])
    assert L.maini_neurons(fails, base, trajs, 60).verdict == FAILS
    untestable = {("cifar10", 0): _traj(-0.9, 1.0, noisy_acc=0.1)}
    assert L.maini_neurons(holds, base, untestable, 60).verdict == UNTESTABLE


def test_never_flipped_examples_count_beyond_the_cap():
    r = _removal([2, 2, 2, 2, 2], [1, 1, 1, 1, 1])
    r.loc[~r.corrupted, "flipped"] = False  # the clean ones never flipped: cap + 1 = 61
    check = L.maini_neurons(r, {}, {("cifar10", 0): _traj(-0.9, 1.0)}, 60)
    assert check.verdict == HOLDS
    assert "5 clean" in check.numbers["never flipped"]
