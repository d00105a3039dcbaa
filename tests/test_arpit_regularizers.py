"""The regularizers page's runs (Figures 2, 10, 11): the regularizer settings, the data as
load_dataset gives it, a tiny cached run end to end, the page's parameters and figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch

from memlib import data
from memlib.arpit import regularizers as R
from memlib.arpit.nets import Regularizer
from memlib.arpit.pages import regularizers as page
from memlib.arpit.train import Recipe
from memlib.errors import MemlibError


@pytest.fixture
def fake_cifar(monkeypatch):
    """A stand-in for CIFAR-10's files: 200 + 100 random 32×32 RGB images in [0, 1], the test
    split stored by class as the JPEG copy is."""
    g = torch.Generator().manual_seed(0)
    xtr, xte = torch.rand(200, 3, 32, 32, generator=g), torch.rand(100, 3, 32, 32, generator=g)
    ytr, yte = torch.randint(0, 10, (200,), generator=g), torch.arange(10).repeat_interleave(10)
    fake = lambda name, root, download: (xtr * 0.5, ytr, xte * 0.5, yte, "fake")
    monkeypatch.setattr(data, "_load_torchvision", fake)
    R.load.cache_clear()
    yield
    R.load.cache_clear()


def test_regularizer_settings():
    assert R.regularizer("none", 0.0) == Regularizer()
    assert R.regularizer("input_noise", 2.0) == Regularizer(input_noise=2.0)
    assert R.regularizer("adversarial", [0.5, 0.2]) == Regularizer(adversarial=0.5, dropout=0.2)
    assert R.strength_label("adversarial", [0.5, 0.2]) == "w 0.5, p 0.2"
    assert R.strength_label("dropout", 0.50) == "0.5"
    for name, bad in (("dropout", 1.0), ("adversarial", 0.5), ("momentum", 0.1),
                      ("weight_decay", -1.0)):  # fmt: skip
        with pytest.raises(MemlibError):
            R.regularizer(name, bad)


def test_load_matches_load_dataset(fake_cifar):
    d = R.load(50, 30, 3, "cpu")
    ref = data.load_dataset("cifar10", n_train=50, subset_seed=3)
    torch.testing.assert_close(d.x, ref.x_train)
    torch.testing.assert_close(d.y, ref.y_train)
    assert d.x_val.shape == (30, 3, 32, 32) and len(set(d.y_val.tolist())) > 3  # not one class
    # the validation images are test images, standardized like the training set
    assert any(torch.equal(v, d.x_val[0]) for v in ref.x_test)
    raw_std = data._load_torchvision("cifar10", None, None)[0][
        data.subset_indices(200, 50, 3)].std((0, 2, 3))  # fmt: skip
    torch.testing.assert_close(d.unit.flatten(), 1 / (255 * raw_std))


def test_tiny_run_end_to_end(fake_cifar):
    setup = R.Setup(n_train=64, n_val=20, width=0.05, recipe=Recipe(2, 0.01, momentum=0.9))
    res = R.cnn_run(setup, "real", R.regularizer("dropout", 0.5), 0)
    h = res.history
    assert list(h.epoch) == [0, 1, 2] and h.val_acc.notna().all()
    assert h.train_acc.isna().sum() == 2 and 0 <= h.train_acc.iloc[-1] <= 1
    assert res.arrays["filters"].shape == res.arrays["filters_init"].shape == (10, 3, 5, 5)
    assert not np.allclose(res.arrays["filters"], res.arrays["filters_init"])
    rand = R.cnn_run(setup, "randY", R.regularizer("none", 0.0), 0)
    np.testing.assert_array_equal(rand.arrays["filters_init"], res.arrays["filters_init"])
    assert rand.history.val_acc.isna().all()  # validation only on real data
    s = R.summary(res)
    assert s["best_val"] == h.val_acc[h.epoch > 0].max() and s["train_acc"] == h.train_acc.iloc[-1]
    again = R.cnn_run(setup, "real", R.regularizer("dropout", 0.5), 0)  # from the cache
    assert again.path == res.path
    with pytest.raises(MemlibError):
        R.cnn_run(setup, "randX", Regularizer(), 0)


def _study(**kw):
    values = dict(profile="smoke", seeds=[0], n_train=64, n_val=20, width=0.05, epochs=1,
                  lr=0.01, halve_every=15, batch_size=64, strengths={"dropout": [0.5]},
                  adversarial=[])  # fmt: skip
    return page.RegularizersStudy(**(values | kw))


def test_study_checks():
    p = _study(adversarial=[[0.5, 0.2]])
    assert p.settings() == [("none", 0.0), ("dropout", 0.5), ("adversarial", [0.5, 0.2])]
    assert "CIFAR-10" in p.describe()["data"] and p.describe(True)["epochs"] == "1"
    for bad in ({"strengths": {"dropout": [1.5]}}, {"strengths": {"momentum": [0.1]}},
                {"adversarial": [[0.5]]}, {"strengths": {}, "adversarial": []},
                {"epochs": 0}, {"n_train": 60_000}):  # fmt: skip
        with pytest.raises(MemlibError):
            _study(**bad)


def test_run_and_figures(fake_cifar):
    p = _study(strengths={"dropout": [0.5], "weight_decay": [0.01]})
    out = page.run(p)
    t = out["table"]
    assert list(t.regularizer) == ["none", "dropout", "weight_decay"] and len(out["results"]) == 6
    m = page.mean_table(pd.concat([t, t.assign(seed=1)]))
    assert len(m) == 3 and m.best_val.tolist() == t.best_val.tolist()
    assert len(page.figure10(t).axes) == 1
    assert len(page.figure11(out["runs"], t, 0).axes) == 2
