"""The paper's experiments as recipes: the subsets they pick, and the runs they make of them."""

import numpy as np
import pandas as pd
import pytest

from memlib.errors import MemlibError
from memlib.params import load_profile, params_for
from memlib.recipes import (
    corruption_dynamics,
    extremes,
    extremes_per_class,
    partition_dynamics,
    pick,
    random_label_dynamics,
    score_test_set,
    subset_training,
)
from memlib.runs import run_data, score_run


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
    low, high = extremes(np.array([1.0, 1.0, 1.0, 2.0]), 1)  # ties: by index
    assert np.flatnonzero(low).tolist() == [0] and np.flatnonzero(high).tolist() == [3]


def _study(notebook, **changes):
    return params_for(notebook, load_profile("smoke")[notebook] | changes)


COMMON = {"n_train": 600, "hidden": 32, "batch_size": 64, "lr": 0.05, "device": "cpu"}


def test_random_label_dynamics_follows_easy_and_difficult(mnist_root, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    p = _study("fig3_random_label_dynamics", **COMMON, n_corrupt=200, n_subset=100, epochs=2,
               grad_every=1, n_grad_batches=2)  # fmt: skip
    run = random_label_dynamics(p, seed=0)
    s = run.subsets()
    corrupted = run_data(run.config).corrupted.numpy()
    assert s["easy"].sum() == s["difficult"].sum() == 100
    assert not (s["easy"] & corrupted).any() and (s["difficult"] <= corrupted).all()
    assert run.history.cos_easy.notna().all() and len(run.history) == 3
    assert run.config.n_corrupt == 200 and not run.config.turnover
    turn = random_label_dynamics(p, seed=0, turnover=True)
    assert "unmuted_acc_difficult" in turn.history and "cos_easy" not in turn.history
    assert (turn.subsets()["difficult"] == s["difficult"]).all()  # the same followed examples
    uniform = random_label_dynamics(p, seed=0, label_noise="uniform")
    u = uniform.subsets()
    data = run_data(uniform.config)
    kept = (data.y_train == data.true_y_train).numpy()
    assert (u["difficult_kept"] == (u["difficult"] & kept)).all() and u["difficult_kept"].any()
    assert (u["difficult_changed"] == (u["difficult"] & ~kept)).all()
    assert "cos_easy" not in uniform.history  # statistics only with the default noise


def test_partition_recipes_pick_their_subsets_from_the_scores(mnist_root, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    q = _study("fig5ab_easy_difficult", **COMMON, epochs=2, train_epochs=2, fraction=0.1)
    main, ctrl = partition_dynamics(q, 0), partition_dynamics(q, 0, control=True)
    # the training subsets: the 60 lowest and highest scores of the seed's scoring run
    table = score_run(q.config(0), progress=False).table
    order = np.argsort(table.score.to_numpy(), kind="stable")
    assert np.flatnonzero(main.subsets()["easy"]).tolist() == sorted(order[:60].tolist())
    assert np.flatnonzero(main.subsets()["difficult"]).tolist() == sorted(order[-60:].tolist())
    # test-set scores of a model trained on as many test examples (600 of 10,000): masks over all
    t_easy = main.subsets("test")["easy"]
    assert main.subsets()["difficult"].sum() == 60 and t_easy.sum() == 60 and len(t_easy) == 10000
    assert (ctrl.result.arrays["exclude"] == main.subsets()["difficult"]).all()
    assert "test_acc_difficult" in main.history
    assert main.config.turnover is False and main.config.epochs == q.train_epochs
    scorer = score_test_set(q, 0)  # trains on test images: the training split is not evaluated
    assert scorer.config.split == "test" and scorer.history.test_acc.isna().all()
    assert scorer.config.n_train == 600 and scorer.config.n_corrupt == 0

    on_d = subset_training(q, 0, on="difficult")  # Figure 6: the same subsets, one trained on
    assert (on_d.result.arrays["exclude"] == ~main.subsets()["difficult"]).all()
    assert (on_d.subsets()["easy"] == main.subsets()["easy"]).all()
    assert on_d.history.test_acc.isna().all() and on_d.history.train_acc_easy.notna().all()
    assert on_d.config.turnover is False and on_d.config.epochs == q.train_epochs
    with pytest.raises(MemlibError, match="easy or difficult"):
        subset_training(q, 0, on="both")


def test_corruption_dynamics_follows_the_corrupted_and_clean_examples(mnist_root, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    c = _study("fig10_corruption_levels", **COMMON, dataset="mnist", arch="mlp", width=1.0,
               levels=[0.0, 0.5], epochs=1, milestones=[], momentum=0.0,
               channels_last=False)  # fmt: skip
    noisy = corruption_dynamics(c, 0, 0.5)  # Figure 10: half of the 600 labels random
    s = noisy.subsets()
    assert noisy.config.n_corrupt == 300 and s["corrupted"].sum() == 300
    assert (s["clean"] == ~s["corrupted"]).all()
    assert (s["corrupted"] == run_data(noisy.config).corrupted.numpy()).all()
    assert {"train_acc_corrupted", "train_acc_clean"} <= set(noisy.history)
    clean = corruption_dynamics(c, 0, 0.0)
    assert clean.subsets()["corrupted"].sum() == 0 and clean.subsets()["clean"].all()


def test_extremes_per_class():
    t = pd.DataFrame(
        {"index": range(8), "label": [0, 0, 0, 1, 1, 1, 1, 0], "score": [3, 1, 2, 9, 5, 7, 6, 0]}
    )
    g = extremes_per_class(t, 2)
    low = g[g.kind == "lowest"].sort_values(["label", "rank"])
    high = g[g.kind == "highest"].sort_values(["label", "rank"])
    assert low["index"].tolist() == [7, 1, 4, 6]
    assert high["index"].tolist() == [0, 2, 3, 5]
