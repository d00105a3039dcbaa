"""Models with turn-over dropout.

Every model splits into ``trunk(x)``, the computation before the first mask (shared by the muted
and unmuted sub-networks), and ``tail(h, idx, mode)``. Evaluating both sub-networks then costs one
trunk and two tails; ``forward`` is their composition.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .masks import TurnoverDropout


class MLP(nn.Module):
    """One-hidden-layer MLP, ReLU (the paper's MNIST model, Appendix A).

    With ``turnover=True`` the hidden layer's 4096 (``n_hidden``) neurons carry turn-over dropout,
    layer id 0. A hidden neuron's mask removes its row of ``fc1`` (weights and bias) and its column
    of ``fc2`` from the example's sub-network. ``fc2`` then has no bias: a shared output bias would
    be updated by every example, so no sub-network would be untouched by it.
    """

    def __init__(
        self, n_in: int, n_hidden: int, n_classes: int, turnover: bool = True, mask_seed: int = 0
    ):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.drop = TurnoverDropout(n_hidden, layer=0, seed=mask_seed) if turnover else None
        self.fc2 = nn.Linear(n_hidden, n_classes, bias=not turnover)

    @property
    def turnover(self) -> bool:
        return self.drop is not None

    def trunk(self, x: Tensor) -> Tensor:
        return F.relu(self.fc1(x.flatten(1)))  # [B, H]

    def tail(self, h: Tensor, idx: Tensor | None = None, mode: str = "unmuted") -> Tensor:
        if self.drop is not None:
            h = self.drop(h, idx, mode)
        return self.fc2(h)  # [B, classes]

    def forward(self, x: Tensor, idx: Tensor | None = None, mode: str = "unmuted") -> Tensor:
        return self.tail(self.trunk(x), idx, mode)

    def tail_all(self, h: Tensor, idx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Logits (full, unmuted, muted), each [B, classes], with one masked product.

        ``fc2`` is linear without bias and the two masks are complements scaled by 2, so
        ``muted = 2 * full - unmuted`` exactly (up to rounding).
        """
        full = self.fc2(h)
        unmuted = self.tail(h, idx, "unmuted")
        return full, unmuted, 2.0 * full - unmuted


VGG11_LAYERS = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG11(nn.Module):
    """VGG-11 without batch-norm, ReLU (the paper's CIFAR-10 model, Appendix A), for 32×32 inputs.

    ``width`` scales every convolution's channels (1.0: 64 to 512). With ``turnover=True`` each
    convolution's ReLU output carries *spatial* turn-over dropout (Appendix B): whole feature maps
    are kept or zeroed per example, layer ids 0 to 7. A masked map's filter and bias, and the
    next layer's weights reading it, get no gradient from the example. The classifier (one linear
    layer on the pooled last maps) then has no bias, for the MLP's reason: a shared bias would
    belong to no sub-network.
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        width: float = 1.0,
        turnover: bool = True,
        mask_seed: int = 0,
    ):
        super().__init__()
        self.convs, self.drops, self.pool_after = nn.ModuleList(), nn.ModuleList(), []
        c_in = in_channels
        for item in VGG11_LAYERS:
            if item == "M":
                self.pool_after[-1] = True
                continue
            c = max(1, round(item * width))
            layer = len(self.convs)
            self.convs.append(nn.Conv2d(c_in, c, 3, padding=1))
            self.drops.append(
                TurnoverDropout(c, layer=layer, seed=mask_seed, spatial=True)
                if turnover
                else nn.Identity()
            )
            self.pool_after.append(False)
            c_in = c
        self.fc = nn.Linear(c_in, n_classes, bias=not turnover)
        self._turnover = turnover

    @property
    def turnover(self) -> bool:
        return self._turnover

    def trunk(self, x: Tensor) -> Tensor:
        return F.relu(self.convs[0](x))  # [B, C0, H, W]: before the first mask

    def tail(self, h: Tensor, idx: Tensor | None = None, mode: str = "unmuted") -> Tensor:
        for k, (conv, drop) in enumerate(zip(self.convs, self.drops, strict=True)):
            if k > 0:
                h = F.relu(conv(h))
            if self._turnover:
                h = drop(h, idx, mode)
            if self.pool_after[k]:
                h = F.max_pool2d(h, 2)
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))  # [B, classes]

    def forward(self, x: Tensor, idx: Tensor | None = None, mode: str = "unmuted") -> Tensor:
        return self.tail(self.trunk(x), idx, mode)


def build_model(
    arch: str,
    input_shape: tuple[int, ...],
    n_classes: int,
    *,
    hidden: int,
    turnover: bool,
    mask_seed: int,
    init_seed: int,
    width: float = 1.0,
) -> nn.Module:
    """Build on the CPU under ``init_seed`` (so every device starts from the same weights).

    arch: ``mlp`` (``hidden`` units) or ``vgg11`` (channels scaled by ``width``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        if arch == "mlp":
            n_in = 1
            for s in input_shape:
                n_in *= s
            return MLP(n_in, hidden, n_classes, turnover=turnover, mask_seed=mask_seed)
        if arch == "vgg11":
            return VGG11(input_shape[0], n_classes, width, turnover=turnover, mask_seed=mask_seed)
    raise ValueError(f"unknown architecture {arch!r}; known: mlp, vgg11")
