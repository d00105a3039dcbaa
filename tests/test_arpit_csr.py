"""The CSR page's computation: the pixel-unit conversion, the measured epochs and validation
points, and one run end to end on synthetic data (known shapes and NaN pattern)."""

import numpy as np
import pytest
import torch

from memlib import data
from memlib.arpit import csr
from memlib.arpit.conditions import Condition
from memlib.arpit.train import Recipe
from memlib.errors import MemlibError


def _raw(n=64, c=3, side=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, c, side, side), generator=g).float() / 255
    x[:, 0] = x[:, 0] * 0.5  # channels of different spread
    y = torch.arange(n) % 10
    return x, y, x[:16].clone(), y[:16].clone(), "synthetic"


def test_one_pixel_unit_is_one_255th_of_the_raw_scale_in_standardized_units(monkeypatch):
    raw = _raw()
    monkeypatch.setattr(data, "_load_torchvision", lambda name, root, download: raw)
    csr.prepared.cache_clear()
    d = data.load_dataset("cifar10", n_train=40, subset_seed=3)
    mine, std = csr.prepared("cifar10", 40, 3)
    csr.prepared.cache_clear()
    for k in ("x_train", "y_train", "x_test", "y_test", "true_y_train", "corrupted"):
        assert torch.equal(getattr(mine, k), getattr(d, k)), k  # the same data as load_dataset
    assert mine.n_classes == d.n_classes and mine.source == d.source
    unit = csr.pixel_unit(std)
    assert unit.shape == (1, 3, 1, 1)
    xr = raw[0][data.subset_indices(64, 40, 3)]
    # slow reference: standardize the raw images and the same images one pixel unit brighter
    mean = xr.mean((0, 2, 3), keepdim=True)
    sd = xr.std((0, 2, 3), keepdim=True)
    step = ((xr + 1 / 255 - mean) / sd) - ((xr - mean) / sd)
    torch.testing.assert_close(d.x_train, (xr - mean) / sd, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(step, unit.expand_as(step), rtol=1e-4, atol=1e-6)
    assert unit[0, 0, 0, 0] > unit[0, 1, 0, 0]  # the darker channel: a larger unit


def test_measured_epochs_and_validation_points():
    assert csr.measured_epochs(20, 5) == [0, 5, 10, 15, 20]
    assert csr.measured_epochs(3, 2) == [0, 3]
    assert csr.measured_epochs(2, 10) == [0, 1, 2]
    v = csr.validation_points(100, 30, seed=1)
    assert len(set(v.tolist())) == 30 and v.max() < 100
    assert torch.equal(v, csr.validation_points(100, 30, seed=1))
    assert not torch.equal(v, csr.validation_points(100, 30, seed=2))


def _synthetic(n=120, side=28):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 10
    x = torch.randn(n, 1, side, side, generator=g) * 0.3
    x[torch.arange(n), 0, y, y] += 3.0  # a learnable pattern
    d = data.Dataset("toy", "synthetic", x, y, x[:50].clone(), y[:50].clone(), y.clone(),
                     torch.zeros(n, dtype=torch.bool), 10)  # fmt: skip
    return d, torch.full((1, 1, 1, 1), 0.2)  # the raw images' std


@pytest.mark.parametrize("kind", ["real", "randY"])
def test_a_run_records_accuracies_every_epoch_and_the_csr_at_measured_epochs(
    tmp_path, monkeypatch, kind
):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    monkeypatch.setattr(csr, "prepared", lambda name, n, seed: _synthetic())
    kw = dict(dataset="toy", arch="mlp", cond=Condition(kind, 0.5, 0), seed=0, n_train=0,
              n_val=40, n_csr=10, recipe=Recipe(4, 0.1, batch_size=16), n_measure=3,
              lass={"r": 0.3, "alpha": 0.25, "beta": 0.2, "max_iter": 3}, widths=(16,))  # fmt: skip
    res = csr.run(**kw)
    h = res.history
    assert list(h.epoch) == [0, 1, 2, 3, 4]
    assert h.csr.notna().tolist() == [True, False, True, False, True]
    assert h.csr.dropna().between(0, 1).all() and h.val_acc.between(0, 1).all()
    if kind == "real":
        assert h.train_acc_noisy.isna().all()
        assert (h.train_acc == h.train_acc_clean).all()
    else:
        assert h.train_acc_noisy.notna().all()
    np.testing.assert_allclose(res.arrays["pixel_unit"], [1 / (255 * 0.2)], rtol=1e-6)
    again = csr.run(**kw)  # cached: the same numbers
    assert again.path == res.path and again.history.equals(h)


def test_a_box_of_many_units_finds_more_critical_points_than_a_tiny_one(monkeypatch):
    from memlib.arpit.lass import critical_ratio
    from memlib.arpit.nets import build

    d, std = _synthetic()
    unit = csr.pixel_unit(std)
    m = build("mlp", (1, 28, 28), 10, init_seed=0, widths=(16,))
    tiny = critical_ratio(m, d.x_test, r=0.3, max_iter=10, scale=unit)
    wide = critical_ratio(m, d.x_test, r=200.0, alpha=25.0, max_iter=10, scale=unit)
    assert wide > tiny and wide > 0.5


def test_page_parameters_fail_early():
    from memlib.arpit.pages.csr import CSRStudy, conditions

    base = dict(profile="smoke", seeds=[0], mnist_train=200, mnist_widths=[8], mnist_epochs=2,
                mnist_lr=0.1, mnist_batch=32, mnist_fractions=[0.5], cifar_train=200,
                cifar_width=0.1, cifar_epochs=2, cifar_lr=0.01, cifar_halve_every=15,
                cifar_batch=32, cifar_fractions=[0.2, 0.5], n_val=100, n_csr=20, n_measure=2,
                r=0.3, alpha=0.25, beta=0.2, max_iter=5)  # fmt: skip
    p = CSRStudy(**base)
    assert [c.label() for c in conditions(p, "cifar10", 0)] == [
        "real",
        "randX 20%",
        "randX 50%",
        "randX",
        "randY 20%",
        "randY 50%",
        "randY",
    ]
    assert len(conditions(p, "mnist", 0)) == 3
    assert set(p.describe(short=True)) == {"data", "model", "epochs"}
    for bad in ({"n_csr": 200}, {"mnist_fractions": [1.0]}, {"n_measure": 1}, {"r": 0},
                {"mnist_widths": []}, {"cifar_fractions": [0.5, 0.5]}):  # fmt: skip
        with pytest.raises(MemlibError):
            CSRStudy(**(base | bad))
