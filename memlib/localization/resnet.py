"""ResNet-9 in the common fast-CIFAR form (Maini et al. 2023, §3), with units that can be zeroed.

Widths 64-128-(128,128)-256-(256,256)-128 at ``width=1`` (about 2.3M parameters): eight
conv-batch-norm-ReLU blocks, two of them residual pairs, a global max-pool, a bias-free linear
classifier and an output scale of 0.2. ``layers()`` names the nine layers the chapter studies
(``conv1`` … ``conv8``, ``fc``); a layer is a conv with its batch norm (weights, affine and running
statistics), or the classifier.

Every conv block multiplies its output channels by a buffer ``keep`` [C] (ones), after the ReLU:
zeroing ``keep[j]`` zeroes channel j's activation for every input, which zeroing the conv's
weights would not do (in eval mode batch norm adds β − γμ/σ after a zeroed weight). The
classifier's weights carry a mask of the same kind, ``fc.keep`` [classes, features]: the paper
zeroes single weights of linear layers (§6.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

WIDTHS = (64, 128, 128, 128, 256, 256, 256, 128)  # output channels of conv1..conv8 at width 1
LAYERS = tuple(f"conv{i}" for i in range(1, 9)) + ("fc",)


class ConvBN(nn.Module):
    """Conv (no bias), batch norm, ReLU, then the channel mask ``keep`` [C]."""

    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 1, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.register_buffer("keep", torch.ones(c_out))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x))) * self.keep.view(1, -1, 1, 1)


class MaskedLinear(nn.Linear):
    """A bias-free linear layer whose weights are multiplied by ``keep`` [out, in] (ones)."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__(n_in, n_out, bias=False)
        self.register_buffer("keep", torch.ones(n_out, n_in))

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.keep)


class ResNet9(nn.Module):
    """ResNet-9 for ``c_in``-channel images (32×32 CIFAR, 28×28 MNIST); ``width`` scales every
    layer's channels (at least 1 each)."""

    def __init__(self, c_in: int, n_classes: int, width: float = 1.0, scale: float = 0.2):
        super().__init__()
        w = [max(1, round(c * width)) for c in WIDTHS]
        self.conv1 = ConvBN(c_in, w[0])
        self.conv2 = ConvBN(w[0], w[1], k=5, stride=2, padding=2)
        self.conv3 = ConvBN(w[1], w[2])
        self.conv4 = ConvBN(w[2], w[3])
        self.conv5 = ConvBN(w[3], w[4])
        self.conv6 = ConvBN(w[4], w[5])
        self.conv7 = ConvBN(w[5], w[6])
        self.conv8 = ConvBN(w[6], w[7], padding=0)
        self.fc = MaskedLinear(w[7], n_classes)
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(self.conv1(x))  # [B, w1, H/2, W/2]
        h = h + self.conv4(self.conv3(h))  # residual pair
        h = F.max_pool2d(self.conv5(h), 2)  # [B, w4, H/4, W/4]
        h = h + self.conv7(self.conv6(h))  # residual pair
        h = torch.amax(self.conv8(h), dim=(2, 3))  # [B, w7]: global max-pool
        return self.fc(h) * self.scale

    def layers(self) -> dict[str, nn.Module]:
        """The nine layers, input to output: name -> module."""
        return {name: getattr(self, name) for name in LAYERS}

    def units(self) -> dict[str, Tensor]:
        """Every zeroable unit's mask: a conv layer's channels [C], the classifier's weights
        [classes, features]."""
        return {name: m.keep for name, m in self.layers().items()}


def build_resnet9(input_shape: tuple[int, ...], n_classes: int, width: float, init_seed: int):
    """A ResNet-9 built on the CPU under ``init_seed`` (every device starts from the same
    weights); torch's global generator is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        return ResNet9(input_shape[0], n_classes, width)
