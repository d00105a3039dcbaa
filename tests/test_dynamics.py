"""Dynamics runs: followed subsets, left-out examples, gradient statistics, the studies."""

import numpy as np
import pandas as pd
import pytest
import torch

from memlib import RunConfig
from memlib.config import CorruptionStudy, DynamicsStudy, PartitionStudy
from memlib.data import load_dataset
from memlib.errors import MemlibError
from memlib.experiment import dynamics_run, extremes, pick
from memlib.studies import (
    backpack_check,
    corruption_dynamics,
    extremes_per_class,
    mask_code_probe,
    partition_dynamics,
    random_label_dynamics,
    score_test_set,
    subset_training,
)


def _cfg(path, **kw):
    kw = {"hidden": 32, "epochs": 3, "lr": 0.1, "batch_size": 32, "device": "cpu"} | kw
    return RunConfig(dataset=f"npz:{path}", turnover=False, **kw)


def test_pick_and_extremes():
    mask = np.arange(100) % 3 == 0
    a = pick(mask, 10, seed=1)
    assert a.sum() == 10 and not (a & ~mask).any()
    assert (pick(mask, 10, seed=1) == a).all() and (pick(mask, 10, seed=2) != a).any()
    with pytest.raises(MemlibError, match="cannot pick 40"):
        pick(mask, 40, seed=0)
    scores = np.array([5.0, 1.0, 3.0, 9.0, 0.0, 7.0])
    low, high = extremes(scores, 2)
    assert np.flatnonzero(low).tolist() == [1, 4] and np.flatnonzero(high).tolist() == [3, 5]


def test_history_follows_subsets_with_stats_at_chosen_epochs(tiny_npz):
    sub = {"a": np.arange(200) < 50, "b": np.arange(200) >= 150}
    run = dynamics_run(
        _cfg(tiny_npz), subsets=sub, grad_epochs=(0, 2), grad_groups=("a",), progress=False
    )
    h = run.history
    assert {"train_acc_a", "train_acc_b", "cos_a", "contrib_a", "contrib_all"} <= set(h)
    assert "cos_b" not in h
    assert h.cos_a.notna().tolist() == [True, False, True, False]
    assert all((run.subsets()[k] == v).all() for k, v in sub.items())
    assert h.train_acc.iloc[-1] > h.train_acc.iloc[0]
    again = dynamics_run(
        _cfg(tiny_npz), subsets=sub, grad_epochs=(0, 2), grad_groups=("a",), progress=False
    )
    assert again.result.path == run.result.path  # served from the cache
    with pytest.raises(MemlibError, match="not subsets"):
        dynamics_run(_cfg(tiny_npz), subsets=sub, grad_groups=("c",))


def test_excluded_examples_never_train(tiny_npz, tmp_path):
    """Relabelling the left-out examples must not change training at all."""
    f = np.load(tiny_npz)
    out = np.arange(200) >= 120
    y2 = f["y"].copy()
    y2[out] = (y2[out] + 1) % 4
    other = tmp_path / "relabelled.npz"
    np.savez(other, x=f["x"], y=y2)
    runs = [
        dynamics_run(_cfg(p), subsets={"out": out}, exclude=out, progress=False)
        for p in (tiny_npz, other)
    ]
    w = [r.model().state_dict() for r in runs]
    assert all(torch.equal(w[0][k], w[1][k]) for k in w[0])
    assert (runs[0].result.arrays["exclude"] == out).all()
    # ... and that is not because nothing trains: without the exclusion the weights differ
    full = dynamics_run(_cfg(other), subsets={"out": out}, progress=False).model().state_dict()
    assert not torch.equal(full["fc1.weight"], w[1]["fc1.weight"])


def test_split_test_trains_on_the_test_set(mnist_root):
    d = load_dataset("mnist", split="test", root=mnist_root)
    assert (d.n_train, len(d.y_test)) == (10_000, 60_000)
    with pytest.raises(MemlibError, match="bad split"):
        load_dataset("mnist", split="val", root=mnist_root)


def test_studies_pick_their_subsets(mnist_root, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    common = {"profile": "smoke", "n_train": 600, "hidden": 32, "batch_size": 64, "lr": 0.05}
    p = DynamicsStudy(
        **common,
        corrupt=200,
        subset_size=100,
        epochs=2,
        grad_every=1,
        grad_batches=2,
        device="cpu",
    )
    run = random_label_dynamics(p, seed=0)
    s = run.subsets()
    assert s["easy"].sum() == s["difficult"].sum() == 100 and not (s["easy"] & s["difficult"]).any()
    assert run.history.cos_easy.notna().all() and len(run.history) == 3
    turn = random_label_dynamics(p, seed=0, turnover=True)
    assert "unmuted_acc_difficult" in turn.history and "cos_easy" not in turn.history
    assert (turn.subsets()["difficult"] == s["difficult"]).all()  # the same followed examples
    worst = backpack_check(run, n_batches=1, batch_size=16)
    assert max(worst.values()) < 1e-4

    q = PartitionStudy(**common, epochs=2, train_epochs=2, fraction=0.1, device="cpu")
    main, ctrl = partition_dynamics(q, 0), partition_dynamics(q, 0, control=True)
    # test-set scores of a model trained on as many test examples (600 of 10,000): masks over all
    t_easy = main.subsets("test")["easy"]
    assert main.subsets()["difficult"].sum() == 60 and t_easy.sum() == 60 and len(t_easy) == 10000
    assert (ctrl.result.arrays["exclude"] == main.subsets()["difficult"]).all()
    assert "test_acc_difficult" in main.history
    scorer = score_test_set(q, 0)  # trains on test images: the training split is not evaluated
    assert scorer.config.split == "test" and scorer.history.test_acc.isna().all()

    on_d = subset_training(q, 0, on="difficult")  # Figure 6: the same subsets, one trained on
    assert (on_d.result.arrays["exclude"] == ~main.subsets()["difficult"]).all()
    assert (on_d.subsets()["easy"] == main.subsets()["easy"]).all()
    assert on_d.history.test_acc.isna().all() and on_d.history.train_acc_easy.notna().all()
    assert on_d.config.turnover is False and on_d.config.epochs == q.train_epochs

    c = CorruptionStudy(
        **common,
        dataset="mnist",
        arch="mlp",
        levels=[0.0, 0.5],
        epochs=1,
        milestones=[],
        momentum=0.0,
        device="cpu",
    )
    noisy = corruption_dynamics(c, 0, 0.5)  # Figure 10: half of the 600 labels random
    assert noisy.config.corrupt == 300 and noisy.subsets()["random"].sum() == 300
    assert corruption_dynamics(c, 0, 0.0).subsets()["random"].sum() == 0


def test_study_parameters_fail_early():
    with pytest.raises(MemlibError, match="subset_size"):
        DynamicsStudy(corrupt=100, subset_size=200)
    with pytest.raises(MemlibError, match="fraction"):
        PartitionStudy(fraction=0.9)
    with pytest.raises(MemlibError, match="milestones"):
        PartitionStudy(train_epochs=10, train_milestones=[20])
    with pytest.raises(MemlibError, match="levels"):
        CorruptionStudy(levels=[0.0, 1.5])
    assert DynamicsStudy(epochs=23, grad_every=5).grad_epochs()[-4:] == (10, 15, 20, 23)


def test_extremes_per_class():
    t = pd.DataFrame(
        {"index": range(8), "label": [0, 0, 0, 1, 1, 1, 1, 0], "score": [3, 1, 2, 9, 5, 7, 6, 0]}
    )
    g = extremes_per_class(t, 2)
    low = g[g.kind == "lowest"].sort_values(["label", "rank"])
    high = g[g.kind == "highest"].sort_values(["label", "rank"])
    assert low["index"].tolist() == [7, 1, 4, 6]
    assert high["index"].tolist() == [0, 2, 3, 5]


def test_mask_code_probe(tiny_npz):
    import dataclasses

    from memlib.experiment import score_run

    run = score_run(dataclasses.replace(_cfg(tiny_npz), turnover=True), progress=False)
    probe = mask_code_probe(run)
    assert set(probe) == {"real", "blank", "swapped"}
    assert all(0 <= v <= 1 for v in probe.values())
    # its own images: the unmuted training accuracy of the score table (up to argmax near-ties)
    assert abs(probe["real"] - (run.table.pred_unmuted == run.table.label).mean()) <= 0.02
