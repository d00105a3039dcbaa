"""§4, Figures 7 to 9: the critical sample ratio (CSR) of the validation set through training.

One run trains one network (:func:`.train.fit`) on one data condition and records, after every
epoch, its accuracy on the training set as trained on (noisy labels or inputs included) and on
validation points (the test split), and at a few *measured* epochs the CSR of a fixed random set
of validation points (:func:`.lass.critical_ratio`). LASS's α, β and r are in pixel units of the
0-255 scale; :func:`pixel_unit` converts one such unit to the standardized inputs.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .. import data
from ..results import Computed
from . import cached
from .conditions import Condition, apply
from .lass import critical_ratio
from .nets import build
from .train import Recipe, accuracy, fit


def pixel_unit(raw_std: Tensor) -> Tensor:
    """One 0-255 pixel unit in standardized input units, per channel: 1 / (255 · std), ``std``
    the channel's standard deviation of the raw images on the [0, 1] scale ([1, C, 1, 1])."""
    return 1.0 / (255.0 * raw_std)


@functools.lru_cache(maxsize=2)
def prepared(name: str, n_train: int, seed: int) -> tuple[data.Dataset, Tensor]:
    """What :func:`memlib.data.load_dataset` gives for ``name`` (the random ``n_train`` training
    images of ``seed``, standardized per channel; on the cpu), and the per-channel std
    [1, C, 1, 1] of those raw training images on the [0, 1] scale that it standardized with:
    the raw images are read once, and kept for the process."""
    xtr, ytr, xte, yte, source = data._load_torchvision(name, data.data_root(), None)
    n_classes = int(max(ytr.max(), yte.max())) + 1
    if n_train:
        keep = data.subset_indices(len(ytr), n_train, seed)
        xtr, ytr = xtr[keep], ytr[keep]
    mean, std = data._channel_stats(xtr)
    norm = lambda x: ((x - mean) / std).contiguous()
    none = torch.zeros(len(ytr), dtype=torch.bool)
    d = data.Dataset(name=name, source=source, x_train=norm(xtr), y_train=ytr,
                     x_test=norm(xte), y_test=yte, true_y_train=ytr, corrupted=none,
                     n_classes=n_classes)  # fmt: skip
    return d, std


def validation_points(n_test: int, n_val: int, seed: int) -> Tensor:
    """A random ``n_val`` of the test split's indices (some copies are sorted by class); the
    CSR is measured on the first ``n_csr`` of them."""
    return torch.randperm(n_test, generator=torch.Generator().manual_seed(seed))[:n_val]


def measured_epochs(epochs: int, n_measure: int) -> list[int]:
    """``n_measure`` epochs (at least 2) spread evenly from 0 (before training) to ``epochs``."""
    return sorted({round(float(e)) for e in np.linspace(0, epochs, max(2, n_measure))})


def run(
    *,
    dataset: str,
    arch: str,
    cond: Condition,
    seed: int,
    n_train: int,
    n_val: int,
    n_csr: int,
    recipe: Recipe,
    n_measure: int,
    lass: dict,
    widths: tuple[int, ...] = (),
    width: float = 1.0,
    device: torch.device | str = "cpu",
    meta: dict | None = None,
):
    """One network trained on ``cond`` of ``dataset`` (subset, initialization, data order and
    condition from ``seed``), cached. History: epoch, lr, loss, train_acc (labels trained on),
    train_acc_clean / train_acc_noisy (the examples left as they were / replaced), val_acc
    (``n_val`` random test points), csr (the first ``n_csr`` of them; NaN between measured
    epochs). ``lass``: r, alpha, beta, max_iter, in 0-255 pixel units."""
    config = {
        "dataset": dataset, "arch": arch, "cond": cond.key(), "seed": seed, "n_train": n_train,
        "n_val": n_val, "n_csr": n_csr, "recipe": recipe.key(), "n_measure": n_measure,
        "lass": dict(lass), "widths": list(widths) if arch == "mlp" else [],
        "width": width if arch == "cnn" else 1.0,
    }  # fmt: skip

    def compute(folder) -> Computed:
        d, std = prepared(dataset, n_train, seed)
        d = d.to(device)
        x, y, noisy = apply(d.x_train, d.y_train, cond, d.n_classes)
        unit = pixel_unit(std).to(device)
        val = validation_points(len(d.y_test), n_val, seed).to(device)
        xv, yv, xc = d.x_test[val], d.y_test[val], d.x_test[val[:n_csr]]
        model = build(arch, d.input_shape, d.n_classes, init_seed=seed, widths=widths,
                      width=width).to(device)  # fmt: skip
        at = set(measured_epochs(recipe.epochs, n_measure))

        def on_epoch(epoch, m) -> dict:
            row = {
                "train_acc": accuracy(m, x, y),
                "train_acc_clean": accuracy(m, x[~noisy], y[~noisy]),
                "train_acc_noisy": accuracy(m, x[noisy], y[noisy]),
                "val_acc": accuracy(m, xv, yv),
                "csr": float("nan"),
            }
            if epoch in at:
                row["csr"] = critical_ratio(m, xc, scale=unit, seed=seed * 1009 + epoch, **lass)
            return row

        hist = fit(model, x, y, recipe, order_seed=seed, noise_seed=seed, on_epoch=on_epoch,
                   folder=folder)  # fmt: skip
        arrays = {"pixel_unit": unit.flatten().cpu().numpy()}
        return Computed(pd.DataFrame(hist), arrays, {"source": d.source})

    return cached("csr", config, compute, meta=meta)
