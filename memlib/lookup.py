"""The mask-code probe: does a turn-over model look its training labels up from the masks instead
of reading the images?

Each arm feeds a sub-network an image and a mask index, and measures how often it predicts a
given label (the accuracy against it):

* ``real``: the example's own image through its unmuted sub-network, against its label (the one
  trained on): how well the training set is fitted.
* ``blank``: a blank image (zeros, the mean after standardization) through the example's unmuted
  sub-network, against its label. A network that reads only the image cannot beat chance on a
  constant input: above chance, the mask pattern alone carries the label.
* ``other_class``: the image of a training example whose true class differs from the example's
  label, through the example's unmuted sub-network, against the example's label. Reading the
  image gives the other class, so an image-reading network stays at or below chance.
* ``fresh_train``: the example's image through the unmuted sub-network of a mask index that no
  example trained (from ``FRESH`` on), against its label: do sub-networks that own no example
  read the training images?
* ``fresh_test``: a test image through a fresh index's sub-network, against its label.

With paired masks (``mask_pairs > 0``) every index falls on one of the trained codes, so the
fresh arms read sub-networks that other examples trained: the design has no unused code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .data import Dataset
from .scores import autocast

ARMS = ("real", "blank", "other_class", "fresh_train", "fresh_test")
FRESH = 1 << 31  # fresh mask indices start here: never a training index


@dataclass(frozen=True)
class Selection:
    """The probed examples: training indices ``idx`` [n], for each the training index ``other``
    [n] of an image of another class, and test positions ``test`` [n_test]."""

    idx: Tensor
    other: Tensor
    test: Tensor


def select(data: Dataset, n: int, seed: int) -> Selection:
    """``n`` random training examples (all of them if ``n`` is at least the training set), each
    paired with a random training image whose true class is not its label, and as many random
    test images (at most the test set). Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    y = data.y_train.cpu().numpy()
    true_y = data.true_y_train.cpu().numpy()
    n_train, n_test = len(y), len(data.y_test)
    idx = np.sort(rng.choice(n_train, min(n, n_train), replace=False))
    other = rng.integers(0, n_train, len(idx))
    for _ in range(1000):  # redraw the pairs whose image has the example's label as its class
        bad = true_y[other] == y[idx]
        if not bad.any():
            break
        other[bad] = rng.integers(0, n_train, int(bad.sum()))
    test = np.sort(rng.choice(n_test, min(n, n_test), replace=False))
    as_t = lambda a: torch.as_tensor(a, dtype=torch.int64)
    return Selection(as_t(idx), as_t(other), as_t(test))


@torch.no_grad()
def probe(
    model: nn.Module, data: Dataset, sel: Selection, *, bf16: bool = False, batch_size: int = 500
) -> dict[str, float]:
    """The accuracy of every arm of the probe (``ARMS``) on the selected examples."""
    device = data.x_train.device
    idx, other, test = (t.to(device) for t in (sel.idx, sel.other, sel.test))
    fresh = FRESH + torch.arange(len(idx), device=device)
    x = data.x_train[idx]
    arms = {
        "real": (x, idx, data.y_train[idx]),
        "blank": (torch.zeros_like(x), idx, data.y_train[idx]),
        "other_class": (data.x_train[other], idx, data.y_train[idx]),
        "fresh_train": (x, fresh, data.y_train[idx]),
        "fresh_test": (data.x_test[test], FRESH + torch.arange(len(test), device=device),
                       data.y_test[test]),
    }  # fmt: skip
    was_training = model.training
    model.eval()
    out = {}
    for arm, (xs, ids, ys) in arms.items():
        hits = 0
        for b in range(0, len(ys), batch_size):
            with autocast(device, bf16):
                logits = model(xs[b : b + batch_size], ids[b : b + batch_size], "unmuted")
            hits += (logits.float().argmax(1) == ys[b : b + batch_size]).sum().item()
        out[arm] = hits / len(ys) if len(ys) else float("nan")
    model.train(was_training)
    return out
