"""The model families: MLPs of several widths and depths and small CNNs of several widths.

A family is a function of one size knob (``width``) and the input's shape; its members grow by
that knob only, so that within a family the number of parameters is the one thing that moves.
The paper's families are VGG, ResNet and ViT on CIFAR; ours are small enough to train hundreds
of each on two CPU cores.
"""

from __future__ import annotations

import math

from torch import nn

from ..errors import MemlibError

# family -> (what it is, for the page)
FAMILIES = {
    "mlp1": "MLP, one hidden layer of `width` ReLU units",
    "mlp2": "MLP, two hidden layers of `width` ReLU units",
    "cnn": "CNN: conv3×3 stride 2, `width` channels → conv3×3 stride 2, 2·`width` → linear",
}


def build(family: str, width: int, in_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    """One member of ``family`` at ``width`` for inputs of ``in_shape`` (C, H, W)."""
    if family not in FAMILIES:
        raise MemlibError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    if width < 1:
        raise MemlibError(f"bad width {width}: must be >= 1")
    d = math.prod(in_shape)
    if family == "mlp1":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(d, width), nn.ReLU(), nn.Linear(width, n_classes)
        )
    if family == "mlp2":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(d, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, n_classes),
        )  # fmt: skip
    c, h, w = in_shape
    flat = 2 * width * _halved(_halved(h)) * _halved(_halved(w))
    return nn.Sequential(
        nn.Conv2d(c, width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(flat, n_classes),
    )  # fmt: skip


def _halved(n: int) -> int:
    """A side after a 3×3 convolution of stride 2 and padding 1."""
    return (n + 1) // 2


def n_params(family: str, width: int, in_shape: tuple[int, ...], n_classes: int) -> int:
    """The number of trainable parameters of one member."""
    return sum(p.numel() for p in build(family, width, in_shape, n_classes).parameters())


def flops(family: str, width: int, in_shape: tuple[int, ...], n_classes: int) -> float:
    """Forward multiply-adds × 2 of one example (convolutions and linear layers)."""
    total, shape = 0.0, in_shape
    for m in build(family, width, in_shape, n_classes):
        if isinstance(m, nn.Linear):
            total += 2.0 * m.in_features * m.out_features
        elif isinstance(m, nn.Conv2d):
            c, h, w = shape
            shape = (m.out_channels, _halved(h), _halved(w))
            total += 2.0 * shape[1] * shape[2] * m.out_channels * c * 9
    return total
