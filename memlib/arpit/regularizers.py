"""The CNN runs of §5 (Figures 10 and 11) and §3.1 (Figure 2): the paper's small AlexNet on
CIFAR-10, on real labels and on randY, under each regularizer at each strength.

One cached run per (data condition, regularizer setting, seed). Every run of a seed starts from
the same initialization (``init_seed`` = the seed), so the unregularized real and randY runs,
whose first-layer filters Figure 2 shows, differ only in their labels; their untrained filters
are stored with them. Each run records, after every epoch, the mean training loss (Figure 11)
and, on real data, the accuracy on a fixed validation set (``n_val`` images drawn at random from the
CIFAR-10 test split: the paper's "best validation accuracy" is the highest of these); after the
last epoch, the accuracy on its own training labels (the paper's "final training accuracy").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import data
from ..errors import MemlibError
from ..results import Computed
from . import cached
from .conditions import Condition, apply
from .nets import Regularizer, build
from .train import Recipe, accuracy, fit

N_CLASSES = 10

# The regularizers of Figure 10, by the name the pages use: the Regularizer field each sets.
# "adversarial" is dropout with adversarial training, a (weight, dropout rate) pair.
FIELDS = {
    "dropout": "dropout",
    "input_dropout": "input_dropout",
    "input_noise": "input_noise",
    "hidden_noise": "hidden_noise",
    "weight_decay": "weight_decay",
    "adversarial": "adversarial",
}
LABELS = {
    "none": "none",
    "dropout": "dropout",
    "input_dropout": "input dropout",
    "input_noise": "input Gaussian noise",
    "hidden_noise": "hidden Gaussian noise",
    "weight_decay": "weight decay",
    "adversarial": "dropout + adv. training",
}


def regularizer(name: str, strength: float | list[float]) -> Regularizer:
    """The :class:`Regularizer` of ``name`` at ``strength``: a number, or for ``adversarial``
    a pair (weight of the adversarial loss, dropout rate); ``none``: no regularizer."""
    if name == "none":
        return Regularizer()
    if name == "adversarial":
        if not isinstance(strength, (list, tuple)) or len(strength) != 2:
            raise MemlibError(f"bad adversarial setting {strength!r}: a [weight, dropout] pair")
        return Regularizer(adversarial=float(strength[0]), dropout=float(strength[1]))
    if name not in FIELDS:
        raise MemlibError(f"unknown regularizer {name!r}: one of {', '.join(FIELDS)}")
    return Regularizer(**{FIELDS[name]: float(strength)})


def strength_label(name: str, strength) -> str:
    """'0.5', or 'w 0.5, p 0.1' for an adversarial pair."""
    if name == "adversarial":
        return f"w {strength[0]:g}, p {strength[1]:g}"
    return "0" if name == "none" else f"{strength:g}"


@dataclass(frozen=True)
class Setup:
    """What every run of a page shares."""

    n_train: int  # CIFAR-10 training images (a random subset drawn from the seed; 0: all)
    n_val: int  # validation images: a fixed random draw from the test split
    width: float  # the CNN's channel multiplier (1.0: the paper's 200 channels)
    recipe: Recipe  # the SGD recipe
    device: str = "cpu"  # where to train (not part of the results' key)

    def key(self) -> dict:
        return {"dataset": "cifar10", "n_train": self.n_train, "n_val": self.n_val,
                "width": self.width, "recipe": self.recipe.key()}  # fmt: skip


@dataclass(frozen=True)
class Data:
    """A run's data: standardized training images and labels, validation images and labels,
    and one 0-255 pixel unit in standardized units per channel (for LASS)."""

    x: torch.Tensor  # [N, 3, 32, 32], standardized with the training subset's channel statistics
    y: torch.Tensor  # [N] true labels
    x_val: torch.Tensor  # [n_val, 3, 32, 32], standardized likewise
    y_val: torch.Tensor  # [n_val]
    unit: torch.Tensor  # [1, 3, 1, 1]: 1 / (255 · std of the raw [0, 1] training images)
    source: str  # where the pixels came from


VAL_SEED = 0  # the validation images: a random draw from the test split (fixed for all runs)


@functools.lru_cache(maxsize=2)
def load(n_train: int, n_val: int, seed: int, device: str) -> Data:
    """CIFAR-10 as :func:`memlib.data.load_dataset` gives it (the training subset of ``seed``,
    standardized with its statistics), with ``n_val`` test images drawn at random (the test
    split is stored by class) and the pixel unit, from one read of the files; kept per process
    (a read takes seconds; the runs never modify the tensors)."""
    xtr, ytr, xte, yte, source = data._load_torchvision("cifar10", data.data_root(), None)
    if n_train:
        keep = data.subset_indices(len(ytr), n_train, seed)
        xtr, ytr = xtr[keep], ytr[keep]
    val = torch.randperm(len(yte), generator=torch.Generator().manual_seed(VAL_SEED))[:n_val]
    mean, std = data._channel_stats(xtr)
    norm = lambda x: ((x - mean) / std).contiguous().to(device)
    return Data(norm(xtr), ytr.to(device), norm(xte[val]), yte[val].to(device),
                (1.0 / (255.0 * std)).to(device), source)  # fmt: skip


def cnn_run(setup: Setup, kind: str, reg: Regularizer, seed: int, meta: dict | None = None):
    """The cached run of the CNN on ``kind`` (real or randY) CIFAR-10 under ``reg``: history
    (epoch, lr, loss, val_acc on real runs, train_acc at the last epoch) and arrays
    ``filters`` / ``filters_init`` [K, 3, 5, 5] (first layer, trained and untrained)."""
    if kind not in ("real", "randY"):
        raise MemlibError(f"bad condition {kind!r}: real or randY")
    cond = Condition(kind, 1.0, seed)
    config = setup.key() | {"condition": cond.key(), "reg": reg.key(), "seed": seed}

    def compute(folder: Path) -> Computed:
        d = load(setup.n_train, setup.n_val, seed, setup.device)
        x, y, _ = apply(d.x, d.y, cond, N_CLASSES)
        xv, yv = d.x_val, d.y_val
        model = build("cnn", tuple(x.shape[1:]), N_CLASSES, init_seed=seed, width=setup.width,
                      reg=reg).to(setup.device)  # fmt: skip
        init = model.first_filters.detach().cpu().numpy().copy()
        scale = d.unit if reg.adversarial else 1.0
        last = setup.recipe.epochs

        def on_epoch(epoch: int, m) -> dict:
            row = {"val_acc": accuracy(m, xv, yv) if kind == "real" else float("nan")}
            row["train_acc"] = accuracy(m, x, y) if epoch == last else float("nan")
            return row

        hist = fit(model, x, y, setup.recipe, reg=reg, order_seed=seed, noise_seed=seed,
                   scale=scale, on_epoch=on_epoch, folder=folder)  # fmt: skip
        filters = model.first_filters.detach().cpu().numpy()
        return Computed(pd.DataFrame(hist), {"filters": filters, "filters_init": init},
                        {"source": d.source})  # fmt: skip

    return cached("regularizers", config, compute, meta=meta)


def summary(res) -> dict:
    """A run's numbers: final training accuracy, best and final validation accuracy."""
    h = res.history
    val = h.val_acc[h.epoch > 0].to_numpy(float) if "val_acc" in h else np.array([np.nan])
    return {
        "train_acc": float(h.train_acc.iloc[-1]),
        "best_val": float(np.nanmax(val)) if np.isfinite(val).any() else float("nan"),
        "final_val": float(val[-1]),
    }
