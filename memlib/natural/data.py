"""The training sets of the chapter: a random subset of a dataset, a long-tailed subset with
class sizes falling geometrically, and planted random labels.

A long-tailed subset keeps ``n_c = floor(n_0 * ratio ** (-c / (C - 1)))`` training examples of
class ``c`` (``c = 0..C-1``), the construction of CIFAR-10-LT (Cao et al. 2019): class 0 has
``n_0 = n_train / C``, what a balanced subset of ``n_train`` gives every class, and the last
class ``n_0 / ratio``; each class's examples are a seeded random choice. (All of CIFAR-10 at
ratio 100 gives CIFAR-10-LT's 12,406 examples.)
A balanced subset is the one ``data.load_dataset(n_train=..., subset_seed=seed)`` keeps, so that
a turn-over run of the same size and seed trains on the same examples. The test subset stays
balanced (a random ``n_test`` of the test split), as is usual for
long-tailed benchmarks. Planted labels: ``planted`` training examples get a uniformly random
*other* label (``data.corrupt_labels``), their own seed apart from the subset's.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..data import corrupt_labels, load_dataset, subset_indices
from ..errors import MemlibError
from ..masks import hash32

_SUBSET, _TEST, _PLANT = 0x5A11, 0x7E57, 0x9A27


@dataclass(frozen=True)
class DataSpec:
    """What a training set is: the dataset, its size, its tail and its planted labels."""

    dataset: str  # mnist, fashion-mnist or cifar10
    n_train: int  # training examples, a random subset (long-tailed: n_train / C in class 0)
    n_test: int  # test examples, a random subset of the test split (balanced)
    ratio: float = 1.0  # long tail: largest class size / smallest (1: a uniform random subset)
    planted: int = 0  # training examples given a random other label
    seed: int = 0  # the subsets' and the planted labels' seed

    def __post_init__(self):
        if self.n_train < 10 or self.n_test < 1:
            raise MemlibError(f"bad data n_train={self.n_train}, n_test={self.n_test}")
        if self.ratio < 1:
            raise MemlibError(f"bad parameter ratio={self.ratio}: largest/smallest class >= 1")
        if not 0 <= self.planted < self.n_train:
            raise MemlibError(f"bad parameter planted={self.planted}: 0 to n_train - 1")


@dataclass
class TrainSet:
    """A built training set: inputs and labels (trained on), the true labels, which examples
    are planted, the indices into the dataset's splits and a description of the data copy."""

    x_train: Tensor
    y_train: Tensor
    true_y: Tensor
    planted: Tensor  # [n] bool
    x_test: Tensor
    y_test: Tensor
    train_index: np.ndarray
    test_index: np.ndarray
    n_classes: int
    source: str


def class_sizes(n_max: int, n_classes: int, ratio: float) -> list[int]:
    """Geometric class sizes from the largest (class 0, ``n_max``) to the smallest,
    ``n_max / ratio`` (rounded down, at least 1)."""
    f = ratio ** (-np.arange(n_classes) / max(n_classes - 1, 1))
    return np.maximum(1, np.floor(n_max * f + 1e-9)).astype(int).tolist()


@functools.lru_cache(maxsize=1)
def _full(name: str):
    """The whole dataset, loaded once per process for every training set built from it."""
    return load_dataset(name)


def build(spec: DataSpec, device="cpu") -> TrainSet:
    """The training and test sets of ``spec`` on ``device`` (inputs standardized per channel
    with the full training split's statistics, as ``data.load_dataset`` does)."""
    full = _full(spec.dataset)
    y = full.y_train
    g = torch.Generator().manual_seed(hash32(spec.seed ^ _SUBSET))
    if spec.ratio == 1:
        if spec.n_train > len(y):
            raise MemlibError(f"n_train={spec.n_train}: {spec.dataset} has {len(y)} examples")
        idx = subset_indices(len(y), spec.n_train, spec.seed)  # load_dataset's own subset
    else:
        sizes = class_sizes(spec.n_train // full.n_classes, full.n_classes, spec.ratio)
        parts = []
        for c, k in enumerate(sizes):
            pool = torch.nonzero(y == c).squeeze(1)
            if k > len(pool):
                raise MemlibError(f"class {c} has {len(pool)} examples, the tail asks for {k}")
            parts.append(pool[torch.randperm(len(pool), generator=g)[:k]])
        idx = torch.cat(parts)
    idx = idx.sort().values
    gt = torch.Generator().manual_seed(hash32(spec.seed ^ _TEST))
    if spec.n_test > len(full.y_test):
        raise MemlibError(f"n_test={spec.n_test}: the test split has {len(full.y_test)}")
    tidx = torch.randperm(len(full.y_test), generator=gt)[: spec.n_test].sort().values
    true_y = y[idx]
    y_used, planted_idx = corrupt_labels(true_y, spec.planted, full.n_classes,
                                         hash32(spec.seed ^ _PLANT), "other")  # fmt: skip
    planted = torch.zeros(len(idx), dtype=torch.bool)
    planted[planted_idx] = True
    return TrainSet(
        x_train=full.x_train[idx].to(device),
        y_train=y_used.to(device),
        true_y=true_y,
        planted=planted,
        x_test=full.x_test[tidx].to(device),
        y_test=full.y_test[tidx].to(device),
        train_index=idx.numpy(),
        test_index=tidx.numpy(),
        n_classes=full.n_classes,
        source=full.source,
    )
