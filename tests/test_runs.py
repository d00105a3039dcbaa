"""Cached runs (memlib.runs): scoring runs of every architecture, dynamics runs with followed
subsets, left-out examples and gradient statistics, and their resumption."""

import dataclasses
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch

from memlib import runs
from memlib.config import RunConfig
from memlib.errors import MemlibError
from memlib.results import cache_key, cache_root
from memlib.runs import dynamics_run, run_data, score_run
from memlib.scores import COLUMNS


def _cfg(path, **kw):
    kw = {"hidden": 32, "epochs": 3, "lr": 0.1, "batch_size": 32, "device": "cpu"} | kw
    return RunConfig(dataset=f"npz:{path}", turnover=False, **kw)


def _images(path, n, shape, n_classes=4, seed=0):
    """A learnable npz of ``n`` uint8 images [n, *shape]: each class brightens its own band."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    x = rng.integers(0, 80, (n, *shape)).astype(np.uint8)
    band = shape[0] // n_classes
    for i, c in enumerate(y):
        x[i, c * band : (c + 1) * band] += 150
    np.savez(path, x=x, y=y)
    return path


@pytest.mark.parametrize(
    "arch, shape, width",
    [("vgg11", (32, 32, 3), 0.125), ("cct", (28, 28), 0.125)],
)
def test_score_run_on_convolutional_models(tmp_path, monkeypatch, arch, shape, width):
    path = _images(tmp_path / f"{arch}.npz", 48, shape)
    cfg = RunConfig(dataset=f"npz:{path}", arch=arch, width=width, n_corrupt=6, epochs=2,
                    lr=0.01, momentum=0.9, batch_size=16, device="cpu")  # fmt: skip
    run = score_run(cfg, progress=False)
    h, t = run.history, run.table
    assert h.epoch.tolist() == [0, 1, 2]
    assert {"train_acc", "unmuted_acc", "muted_acc", "train_acc_corrupted"} <= set(h)
    assert list(t.columns) == COLUMNS and t.shape == (48, len(COLUMNS))
    assert run.epoch_scores.shape == (3, 48) and np.isfinite(run.epoch_scores).all()
    assert np.isfinite(t.score).all() and t.corrupted.sum() == 6
    np.testing.assert_allclose(t.score, t.loss_muted - t.loss_unmuted, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.epoch_scores[-1], t.score, rtol=1e-5, atol=1e-6)
    assert not np.allclose(run.epoch_scores[0], run.epoch_scores[-1])  # it trained
    stored = json.loads((run.result.path / "config.json").read_text())
    assert cache_key("score_run", stored) == run.result.path.name  # recomputable from its config
    assert stored["npz_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    model = run.model()
    assert type(model).__name__ == {"vgg11": "VGG11", "cct": "CCT"}[arch]
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "again"))  # the same seed, recomputed
    pd.testing.assert_frame_equal(score_run(cfg, progress=False).table, t)


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
    # the subset accuracies are those of the final model on those examples
    data = run_data(run.config)
    pred = run.model(data).eval()(data.x_train).argmax(1).numpy()
    right = pred == data.y_train.numpy()
    assert h.train_acc_a.iloc[-1] == pytest.approx(right[sub["a"]].mean())
    assert h.train_acc_b.iloc[-1] == pytest.approx(right[sub["b"]].mean())
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
    followed = [
        dynamics_run(_cfg(p), subsets={"out": out}, exclude=out, progress=False)
        for p in (tiny_npz, other)
    ]
    w = [r.model().state_dict() for r in followed]
    assert all(torch.equal(w[0][k], w[1][k]) for k in w[0])
    assert (followed[0].result.arrays["exclude"] == out).all()
    # ... and that is not because nothing trains: without the exclusion the weights differ
    full = dynamics_run(_cfg(other), subsets={"out": out}, progress=False).model().state_dict()
    assert not torch.equal(full["fc1.weight"], w[1]["fc1.weight"])


class Killed(Exception):
    pass


def test_dynamics_run_with_gradient_statistics_resumes_exactly(tiny_npz, tmp_path, monkeypatch):
    """Killed after epoch 2's statistics (before its checkpoint) and run again: the history,
    gradient statistics included, and the weights are those of an uninterrupted run."""
    cfg = _cfg(tiny_npz, epochs=5, momentum=0.9, milestones=(3,), n_corrupt=40)
    corrupted = run_data(cfg).corrupted.numpy()
    follow = dict(
        subsets={"corrupted": corrupted, "clean": ~corrupted},
        grad_epochs=(0, 1, 2, 3, 5),
        grad_groups=("corrupted", "clean"),
        n_grad_batches=3,
        progress=False,
    )
    whole = dynamics_run(cfg, **follow)
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "interrupted"))
    real = runs._gradient_stats
    seen, kill = [], [True]

    def dying(*a):
        callback = real(*a)

        def stats(model, epoch):
            seen.append(epoch)
            out = callback(model, epoch)
            if epoch == 2 and kill:
                kill.clear()
                raise Killed
            return out

        return stats

    monkeypatch.setattr(runs, "_gradient_stats", dying)
    with pytest.raises(Killed):
        dynamics_run(cfg, **follow)
    (ckpt,) = (cache_root() / "dynamics_run").glob("*/checkpoint.pt")
    assert torch.load(ckpt, weights_only=False)["epoch"] == 1
    assert not list(cache_root().glob("dynamics_run/*/meta.json"))  # no result yet
    seen.clear()
    resumed = dynamics_run(cfg, **follow)
    assert seen == [2, 3, 4, 5]  # from the checkpoint on: epochs 0 and 1 are not redone
    h = resumed.history
    assert {"cos_corrupted", "cos_clean", "contrib_corrupted", "contrib_clean"} <= set(h)
    assert h.cos_clean.notna().tolist() == [True, True, True, True, False, True]
    pd.testing.assert_frame_equal(h, whole.history)
    w0, w1 = whole.model().state_dict(), resumed.model().state_dict()
    assert all(torch.equal(w0[k], w1[k]) for k in w0)


def test_run_data_is_what_the_run_trains_on(tiny_npz):
    cfg = _cfg(tiny_npz, n_corrupt=30, n_train=150, subset_seed=4).with_seed(2)
    a, b = run_data(cfg), run_data(cfg)
    assert a.n_train == 150 and int(a.corrupted.sum()) == 30
    assert torch.equal(a.y_train, b.y_train) and torch.equal(a.x_train, b.x_train)
    other = run_data(cfg.with_seed(3))  # another seed: other corrupted labels, same examples
    assert torch.equal(other.x_train, a.x_train) and not torch.equal(other.corrupted, a.corrupted)
    channels_last = run_data(dataclasses.replace(cfg, channels_last=True))
    assert channels_last.x_train.is_contiguous(memory_format=torch.channels_last)
