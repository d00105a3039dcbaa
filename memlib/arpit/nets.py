"""The paper's networks (§2), with the regularizers of §5 built in.

* :class:`MLP`: ReLU hidden layers (the paper: two of 4,096 units on MNIST; §3.2: two of 16).
* :class:`CNN`: the small AlexNet-style network of Zhang et al. (2017) on CIFAR-10 (footnote 2):
  Crop(2, 2) → Conv(200, 5×5) → BN → ReLU → MaxPool(3×3) → Conv(200, 5×5) → BN → ReLU →
  MaxPool(3×3) → Dense(384) → BN → ReLU → Dense(192) → BN → ReLU → Dense(10). The paper ran it in
  Keras, whose defaults we take where it says nothing: unpadded ("valid") convolutions, pooling
  strides equal to the pool size. ``width`` scales the 200 channels and the dense layers.

Every hidden ReLU is followed by :class:`Noise` (dropout, then additive Gaussian noise), and
the input by another, so that every regularizer of Figure 10 is a field of :class:`Regularizer`.
In the CNN, dropout follows the dense layers only, where AlexNet puts it: the paper's rates go up
to 0.9, which would leave a convolution a tenth of its channels; Gaussian noise follows every
hidden ReLU, convolutions included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..errors import MemlibError


@dataclass(frozen=True)
class Regularizer:
    """The regularizers of §5; all zero: none."""

    dropout: float = 0.0  # dropout rate after every hidden dense ReLU (CNN: not the convs)
    input_dropout: float = 0.0  # dropout rate on the input pixels
    input_noise: float = 0.0  # std of Gaussian noise added to the (standardized) input
    hidden_noise: float = 0.0  # std of Gaussian noise added after every hidden ReLU
    weight_decay: float = 0.0  # L2 penalty, as SGD's weight_decay
    adversarial: float = 0.0  # weight of the loss on LASS critical samples (0: none)

    def __post_init__(self):
        for name in ("dropout", "input_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise MemlibError(f"bad {name}={getattr(self, name)}: a rate in [0, 1)")
        for name in ("input_noise", "hidden_noise", "weight_decay"):
            if getattr(self, name) < 0:
                raise MemlibError(f"bad {name}={getattr(self, name)}: must be >= 0")
        if not 0.0 <= self.adversarial <= 1.0:
            raise MemlibError(f"bad adversarial={self.adversarial}: a weight in [0, 1]")

    def key(self) -> dict:
        return asdict(self)


class Noise(nn.Module):
    """Dropout (inverted) with rate ``p``, then additive N(0, sigma²) noise; training only."""

    def __init__(self, p: float = 0.0, sigma: float = 0.0):
        super().__init__()
        self.p, self.sigma = p, sigma

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.p:
            x = F.dropout(x, self.p, training=True)
        if self.training and self.sigma:
            x = x + self.sigma * torch.randn_like(x)
        return x


class MLP(nn.Module):
    """``n_in`` → ReLU layers of ``widths`` → ``n_classes``; inputs are flattened."""

    def __init__(self, n_in: int, widths: tuple[int, ...], n_classes: int,
                 reg: Regularizer = Regularizer()):  # fmt: skip
        super().__init__()
        sizes = [n_in, *widths]
        self.input = Noise(reg.input_dropout, reg.input_noise)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False))
        self.noise = nn.ModuleList(Noise(reg.dropout, reg.hidden_noise) for _ in widths)
        self.out = nn.Linear(sizes[-1], n_classes)

    def forward(self, x: Tensor) -> Tensor:
        h = self.input(x.flatten(1))
        for fc, noise in zip(self.hidden, self.noise, strict=True):
            h = noise(fc(h).relu())
        return self.out(h)


class CNN(nn.Module):
    """The paper's CIFAR-10 network (module docstring); ``width`` 1.0: 200 channels, dense
    layers of 384 and 192 units. Inputs [B, C, H, W] of at least 24×24 pixels after the crop."""

    def __init__(self, in_shape: tuple[int, int, int], n_classes: int, width: float = 1.0,
                 reg: Regularizer = Regularizer()):  # fmt: skip
        super().__init__()
        c, h, w = in_shape
        ch, d1, d2 = (max(1, round(n * width)) for n in (200, 384, 192))
        hidden = lambda: Noise(reg.dropout, reg.hidden_noise)
        conv = lambda: Noise(0.0, reg.hidden_noise)  # no dropout on the convolutions (module doc)
        self.input = Noise(reg.input_dropout, reg.input_noise)
        self.features = nn.Sequential(
            nn.Conv2d(c, ch, 5), nn.BatchNorm2d(ch), nn.ReLU(), conv(), nn.MaxPool2d(3),
            nn.Conv2d(ch, ch, 5), nn.BatchNorm2d(ch), nn.ReLU(), conv(), nn.MaxPool2d(3),
        )  # fmt: skip
        side = lambda s: ((s - 4 - 4) // 3 - 4) // 3  # crop 2+2, conv 5, pool 3, conv 5, pool 3
        if min(side(h), side(w)) < 1:
            raise MemlibError(f"images of {h}×{w} are too small for the CNN: need 28×28 or more")
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(ch * side(h) * side(w), d1), nn.BatchNorm1d(d1), nn.ReLU(),
            hidden(), nn.Linear(d1, d2), nn.BatchNorm1d(d2), nn.ReLU(), hidden(),
            nn.Linear(d2, n_classes),
        )  # fmt: skip

    @property
    def first_filters(self) -> Tensor:
        """The first convolution's filters [channels, C, 5, 5] (Figure 2)."""
        return self.features[0].weight

    def forward(self, x: Tensor) -> Tensor:
        x = self.input(x[..., 2:-2, 2:-2])  # Crop(2, 2)
        return self.classifier(self.features(x))


def build(arch: str, in_shape: tuple[int, ...], n_classes: int, *, init_seed: int,
          widths: tuple[int, ...] = (), width: float = 1.0,
          reg: Regularizer = Regularizer()) -> nn.Module:  # fmt: skip
    """A freshly initialized ``mlp`` (hidden ``widths``) or ``cnn`` (channel multiplier
    ``width``), PyTorch's default initialization under ``init_seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        if arch == "mlp":
            return MLP(int(torch.tensor(in_shape).prod()), tuple(widths), n_classes, reg)
        if arch == "cnn":
            return CNN(tuple(in_shape), n_classes, width, reg)
    raise MemlibError(f"unknown arch {arch!r}: mlp or cnn")
