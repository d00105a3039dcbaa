"""Models with turn-over dropout.

Every model splits into ``trunk(x)``, the computation before the first mask (shared by the muted
and unmuted sub-networks), and ``tail(h, idx, mode)``. Evaluating both sub-networks then costs one
trunk and two tails; ``forward`` is their composition.
"""

from __future__ import annotations

import threading

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

    eval_batch_size = 4096  # examples per evaluation batch

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_classes: int,
        turnover: bool = True,
        mask_seed: int = 0,
        *,
        mask_pairs: int = 0,
    ):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        drop = TurnoverDropout(n_hidden, layer=0, seed=mask_seed, pairs=mask_pairs)
        self.drop = drop if turnover else None
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

    ``width`` scales every convolution's channels (1.0: 64 to 512). With ``turnover=True`` the
    ReLU outputs of the last ``mask_last`` convolutions (8: all of them, the paper's design)
    carry *spatial* turn-over dropout (Appendix B): whole feature maps are kept or zeroed per
    example, layer ids 0 to 7 by convolution, so a layer's masks do not depend on which others
    are masked. A masked map's filter and bias, and the next layer's weights reading it, get no
    gradient from the example; unmasked layers are shared by both sub-networks. The classifier
    (one linear layer on the pooled last maps) then has no bias, for the MLP's reason: a shared
    bias would belong to no sub-network. ``mask_pairs`` and ``mask_scale``: see
    :mod:`memlib.masks`; ``conv_bias=False`` drops the convolutions' biases.

    The full network (``idx=None``: test images, new data) of a turn-over VGG-11 is the mean of
    the logits of two complementary sub-networks, those of the reserved index ``FULL_INDEX``:
    the scale the sub-networks trained at. (For the MLP's single masked layer this mean is
    exactly the unmasked network; through eight masked layers and ReLUs it is not.)
    """

    eval_batch_size = 256  # convolutions run faster on batches that stay in cache
    FULL_INDEX = 0xFFFFFFFF  # never a training index (a dataset would need 2**32 examples)

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        width: float = 1.0,
        turnover: bool = True,
        mask_seed: int = 0,
        *,
        mask_last: int = 8,
        mask_pairs: int = 0,
        mask_scale: float = 2.0,
        conv_bias: bool = True,
    ):
        super().__init__()
        self.convs, self.drops, self.pool_after = nn.ModuleList(), nn.ModuleList(), []
        n_convs = sum(item != "M" for item in VGG11_LAYERS)
        c_in = in_channels
        for item in VGG11_LAYERS:
            if item == "M":
                self.pool_after[-1] = True
                continue
            c = max(1, round(item * width))
            layer = len(self.convs)
            self.convs.append(nn.Conv2d(c_in, c, 3, padding=1, bias=conv_bias))
            masked = turnover and layer >= n_convs - mask_last
            self.drops.append(
                TurnoverDropout(
                    c,
                    layer=layer,
                    seed=mask_seed,
                    spatial=True,
                    pairs=mask_pairs,
                    scale=mask_scale,
                )  # fmt: skip
                if masked
                else nn.Identity()
            )
            self.pool_after.append(False)
            c_in = c
        self.fc = nn.Linear(c_in, n_classes, bias=not turnover)
        self._turnover = turnover
        for m in self.modules():  # torchvision's VGG init: without batch-norm, the default
            if isinstance(m, nn.Conv2d):  # init shrinks the signal and training stalls at 10%
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @property
    def turnover(self) -> bool:
        return self._turnover

    def trunk(self, x: Tensor) -> Tensor:
        return F.relu(self.convs[0](x))  # [B, C0, H, W]: before the first mask

    def tail(self, h: Tensor, idx: Tensor | None = None, mode: str = "unmuted") -> Tensor:
        if idx is None and self._turnover:  # the full network: the mean of a complementary pair
            full = torch.full((len(h),), self.FULL_INDEX, dtype=torch.int64, device=h.device)
            return (self.tail(h, full, "unmuted") + self.tail(h, full, "muted")) / 2
        for k, (conv, drop) in enumerate(zip(self.convs, self.drops, strict=True)):
            if k > 0:
                h = F.relu(conv(h))
            if isinstance(drop, TurnoverDropout):
                h = drop(h, idx, mode)
            if self.pool_after[k]:
                h = F.max_pool2d(h, 2)
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))  # [B, classes]

    def forward(self, x: Tensor, idx: Tensor | None = None, mode: str = "unmuted") -> Tensor:
        return self.tail(self.trunk(x), idx, mode)


class _Block(nn.Module):
    """A pre-norm transformer block, MLP ratio 1; ``drop`` masks the MLP's hidden units."""

    def __init__(self, c: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn = nn.MultiheadAttention(c, heads, batch_first=True)
        self.fc1, self.fc2 = nn.Linear(c, c), nn.Linear(c, c)

    def forward(self, t: Tensor, drop) -> Tensor:
        a = self.norm1(t)
        t = t + self.attn(a, a, a, need_weights=False)[0]
        return t + self.fc2(drop(F.gelu(self.fc1(self.norm2(t)))))


class CCT(nn.Module):
    """A compact convolutional transformer (Hassani et al. 2021, CCT-2/3x2) for small images.

    Tokenizer: two 3×3 convolutions (``c/2`` and ``c`` channels, c = 128·width), each followed by
    ReLU and a 3×3 max-pool of stride 2 (28×28 → 7×7 = 49 tokens of dimension c). Then a learnt
    positional embedding, ``depth`` pre-norm transformer blocks (``heads`` heads, MLP ratio 1,
    GELU), a final layer norm, sequence pooling (an attention-weighted mean of the tokens) and a
    linear classifier.

    Where the turn-over masks go (``turnover=True``): on the feature maps of both tokenizer
    convolutions (spatial, as in VGG-11; layer ids 0 and 1) and on the hidden units of every
    block's MLP (linear, one mask per example shared by its tokens; layer ids 2, 3, ...). The
    attention projections, layer norms, positional embedding, pooling and classifier are shared
    by both sub-networks: unlike the MLP and VGG-11, a CCT's muted sub-network is not untouched
    by the example, so its scores are the paper's recipe applied as far as the architecture lets
    it. The classifier has no bias, as in the other models.
    """

    eval_batch_size = 256

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        width: float = 1.0,
        turnover: bool = True,
        mask_seed: int = 0,
        depth: int = 2,
        heads: int = 2,
        n_tokens: int = 49,
        mask_pairs: int = 0,
    ):
        super().__init__()
        c = max(heads, round(128 * width / heads) * heads)
        self.conv1 = nn.Conv2d(in_channels, c // 2, 3, padding=1)
        self.conv2 = nn.Conv2d(c // 2, c, 3, padding=1)
        self.pos = nn.Parameter(torch.randn(1, n_tokens, c) * 0.02)
        self.blocks = nn.ModuleList(_Block(c, heads) for _ in range(depth))
        self.norm, self.attend = nn.LayerNorm(c), nn.Linear(c, 1)
        self.fc = nn.Linear(c, n_classes, bias=not turnover)
        self._turnover = turnover
        units = [c // 2, c] + [c] * depth  # layer ids 0, 1: tokenizer maps; 2, ...: block MLPs
        self.drops = (
            nn.ModuleList(
                TurnoverDropout(u, layer=k, seed=mask_seed, spatial=k < 2, pairs=mask_pairs)
                for k, u in enumerate(units)
            )
            if turnover
            else None
        )

    @property
    def turnover(self) -> bool:
        return self._turnover

    def _drop(self, k: int, h: Tensor, idx: Tensor | None, mode: str) -> Tensor:
        return self.drops[k](h, idx, mode) if self._turnover else h

    def trunk(self, x: Tensor) -> Tensor:
        return F.relu(self.conv1(x))  # [B, c/2, H, W]: before the first mask

    def tail(self, h: Tensor, idx: Tensor | None = None, mode: str = "unmuted") -> Tensor:
        h = F.max_pool2d(self._drop(0, h, idx, mode), 3, 2, 1)
        h = F.relu(self.conv2(h))
        h = F.max_pool2d(self._drop(1, h, idx, mode), 3, 2, 1)
        t = h.flatten(2).transpose(1, 2) + self.pos  # [B, T, c]
        for k, block in enumerate(self.blocks):
            t = block(t, lambda u, k=k: self._drop(2 + k, u, idx, mode))
        t = self.norm(t)
        w = torch.softmax(self.attend(t), dim=1)  # [B, T, 1]: sequence pooling
        return self.fc((w * t).sum(1))  # [B, classes]

    def forward(self, x: Tensor, idx: Tensor | None = None, mode: str = "unmuted") -> Tensor:
        return self.tail(self.trunk(x), idx, mode)


_INIT_LOCK = threading.Lock()  # see build_model


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
    mask_pairs: int = 0,
    vgg: dict | None = None,
) -> nn.Module:
    """Build on the CPU under ``init_seed`` (so every device starts from the same weights).

    arch: ``mlp`` (``hidden`` units), ``vgg11`` or ``cct`` (channels scaled by ``width``).
    mask_pairs: see :mod:`memlib.masks`; vgg: VGG11's keyword options (mask_last, ...).
    Seeding uses torch's process-wide generator, so builds in concurrent threads (joblib's
    threading or in-process Dask backends) take turns: each gets exactly its own seed's weights."""
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        if arch == "mlp":
            n_in = 1
            for s in input_shape:
                n_in *= s
            return MLP(n_in, hidden, n_classes, turnover, mask_seed, mask_pairs=mask_pairs)
        if arch == "vgg11":
            c, opts = input_shape[0], {"mask_pairs": mask_pairs} | (vgg or {})
            return VGG11(c, n_classes, width, turnover=turnover, mask_seed=mask_seed, **opts)
        if arch == "cct":
            n_tokens = 1
            for s in input_shape[1:]:
                n_tokens *= (s + 3) // 4  # two stride-2 pools
            return CCT(
                input_shape[0], n_classes, width, turnover, mask_seed, n_tokens=n_tokens,
                mask_pairs=mask_pairs,
            )  # fmt: skip
    raise ValueError(f"unknown architecture {arch!r}; known: mlp, vgg11, cct")
