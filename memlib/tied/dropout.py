"""Example-tied dropout (Maini et al. 2023, §6.2) and the two baselines it is compared with
(Table 3), as masks after the eight convolution blocks of a ResNet-9.

Example-tied dropout. In a block of ``n`` channels the first ``n_gen = round(p_gen · n)`` are
*generalization* channels: every example uses them. Each training example ``i`` also owns
``k = round(p_mem · (n − n_gen))`` of the other, *memorization*, channels: the ``k`` with the
smallest 32-bit keys among ``masks.mask_words(i, ...)``, the hash stream of the book's mask
engine (with a salt of its own, so an example's tied channels are not its turn-over mask).
Like turn-over masks they are recomputed from ``(seed, layer, i)`` whenever needed, never
stored, and the same on every device. While training, example ``i`` passes through its
generalization channels and its own ``k`` memorization channels, unscaled, as in the paper.

Evaluation modes (``Dropped.forward``'s ``mode``):

* ``own``: each training example through the channels it was trained with;
* ``full``: every channel, the memorization channels scaled by ``k / (n − n_gen)`` (the chance
  that a given example uses one): the network in expectation, for inputs without an index;
* ``drop``: the memorization channels zeroed, the generalization channels scaled by the ratio
  of active channels, ``(n_gen + k) / n_gen`` — that is ``(p_gen + (1 − p_gen) p_mem) / p_gen``
  up to rounding — so that the next layer receives as many active channels' worth of input as
  in training;
* ``drop_paper``: as ``drop``, with the public code's factor ``(p_gen + p_mem) / p_gen``;
* ``drop_unscaled``: as ``drop``, the generalization channels left as they are.

The public code draws each memorization channel independently with probability ``p_mem``
(seeding the global generator per example) and keeps the drawn masks in a dense tensor; here
each example has exactly ``k``, so the rescaling above is exact.

Baselines. ``dropout``: standard (inverted) dropout of single activations with probability
``p_drop`` after the same blocks while training, none at evaluation. ``sparse``: a fixed random
share ``keep`` of each convolution's weights, the rest held at zero (the paper: "a sparse
network with remaining parameter fraction = p_gen"). ``none``: the plain ResNet-9.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from ..config import check_types
from ..errors import MemlibError
from ..localization.resnet import LAYERS, ResNet9
from ..masks import hash32, mask_words

SCHEMES = ("tied", "dropout", "sparse", "none")
MODES = ("own", "full", "drop", "drop_paper", "drop_unscaled")
CONVS = tuple(name for name in LAYERS if name.startswith("conv"))  # the masked blocks
_TIED, _DROP, _SPARSE = 0x71ED5EED, 0x0D209, 0x5A125E  # salts of the three streams


@dataclass(frozen=True)
class DropoutConfig:
    """Which masks a ResNet-9 trains with. Defaults: example-tied dropout at the paper's
    Table 3 setting (p_gen 0.4, p_mem 0.2)."""

    scheme: str = "tied"  # tied, dropout (standard), sparse or none
    p_gen: float = 0.4  # tied: share of each block's channels that every example uses
    p_mem: float = 0.2  # tied: share of the other channels that each example also uses
    p_drop: float = 0.4  # dropout: chance that an activation is dropped at a training step
    keep: float = 0.4  # sparse: share of each convolution's weights kept
    mask_seed: int = 0  # which channels each example owns, the dropout draws, the kept weights

    def __post_init__(self):
        check_types(self)
        for name in ("p_gen", "p_mem", "p_drop", "keep"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.scheme not in SCHEMES:
            raise MemlibError(f"bad parameter scheme={self.scheme!r}: one of {', '.join(SCHEMES)}")
        if not (0 < self.p_gen < 1 and 0 < self.p_mem <= 1):
            raise MemlibError(
                f"bad parameters p_gen={self.p_gen}, p_mem={self.p_mem}: need 0 < p_gen < 1 "
                "and 0 < p_mem <= 1, e.g. 0.4 and 0.2"
            )
        if not (0 <= self.p_drop < 1 and 0 < self.keep <= 1):
            raise MemlibError("bad parameters: need 0 <= p_drop < 1 and 0 < keep <= 1")

    def with_seed(self, seed: int) -> DropoutConfig:
        return dataclasses.replace(self, mask_seed=seed)

    def key(self) -> dict:
        """The fields this scheme uses (the others do not change its runs)."""
        used = {"tied": ("p_gen", "p_mem"), "dropout": ("p_drop",), "sparse": ("keep",)}
        return {"scheme": self.scheme, "mask_seed": self.mask_seed} | {
            k: getattr(self, k) for k in used.get(self.scheme, ())
        }


def channel_split(n: int, p_gen: float, p_mem: float) -> tuple[int, int]:
    """``(n_gen, k)`` of a block of ``n`` channels: its generalization channels, and how many of
    the other ``n − n_gen`` each example owns (at least one of each)."""
    if n < 2:
        raise MemlibError(f"example-tied dropout needs at least 2 channels a block, got {n}")
    n_gen = min(n - 1, max(1, round(p_gen * n)))
    return n_gen, min(n - n_gen, max(1, round(p_mem * (n - n_gen))))


def tied_masks(idx: Tensor, n: int, layer: int, seed: int, p_gen: float, p_mem: float) -> Tensor:
    """The channels [B, n] (bool) that the training examples ``idx`` [B] use in block ``layer``:
    the generalization channels, and each example's own ``k`` memorization channels."""
    n_gen, k = channel_split(n, p_gen, p_mem)
    n_mem = n - n_gen
    keys = mask_words(idx, 32 * n_mem, layer, (seed ^ _TIED) & 0xFFFFFFFF)  # [B, n_mem]
    keys = (keys << 16) | torch.arange(n_mem, device=keys.device)  # distinct: no ties
    own = torch.zeros(keys.shape, dtype=torch.bool, device=keys.device)
    own.scatter_(1, keys.topk(k, dim=1, largest=False).indices, True)
    gen = torch.ones(len(idx), n_gen, dtype=torch.bool, device=keys.device)
    return torch.cat([gen, own], dim=1)


def mode_scale(n: int, p_gen: float, p_mem: float, mode: str) -> Tensor:
    """The per-channel multiplier [n] of an evaluation mode without an example's own mask:
    ``full``, ``drop``, ``drop_paper`` or ``drop_unscaled`` (see the module's docstring)."""
    n_gen, k = channel_split(n, p_gen, p_mem)
    gen, mem = {
        "full": (1.0, k / (n - n_gen)),
        "drop": ((n_gen + k) / n_gen, 0.0),
        "drop_paper": ((p_gen + p_mem) / p_gen, 0.0),
        "drop_unscaled": (1.0, 0.0),
    }[mode]
    return torch.tensor([gen] * n_gen + [mem] * (n - n_gen))


class Dropped(nn.Module):
    """A ResNet-9 with the masks of a :class:`DropoutConfig` after its eight conv blocks.

    ``forward(x, idx=None, mode="full", step=0)``: ``mode`` is one of ``MODES``. ``own`` needs
    ``idx`` [B], the training indices of the rows (example-tied dropout), and ``step`` (standard
    dropout: the draw of that optimizer step). Standard dropout and the sparse network have no
    ``drop`` modes; their ``full`` is their usual evaluation. The masks follow ``mode`` only,
    not ``self.training``: standard dropout drops in ``own`` even in eval mode.
    """

    def __init__(self, net: ResNet9, cfg: DropoutConfig):
        super().__init__()
        self.net, self.cfg = net, cfg
        self._ctx: tuple | None = None  # (idx, mode, generator) of the pass under way
        for layer, name in enumerate(CONVS):
            block = getattr(net, name)
            if cfg.scheme == "sparse":
                prune.custom_from_mask(block.conv, "weight", self._kept(block.conv.weight, layer))
            elif cfg.scheme != "none":
                block.register_forward_hook(self._hook(layer))

    def _kept(self, w: Tensor, layer: int) -> Tensor:
        g = torch.Generator().manual_seed(hash32(self.cfg.mask_seed ^ _SPARSE ^ layer))
        flat = torch.zeros(w.numel(), dtype=w.dtype)
        flat[torch.randperm(w.numel(), generator=g)[: round(self.cfg.keep * w.numel())]] = 1
        return flat.reshape(w.shape).to(w.device)

    def _hook(self, layer: int):
        def hook(module, inputs, out: Tensor) -> Tensor:
            return out if self._ctx is None else out * self._multiplier(layer, out)

        return hook

    def _multiplier(self, layer: int, out: Tensor) -> Tensor:
        idx, mode, gen = self._ctx
        c, n = self.cfg, out.shape[1]
        if c.scheme == "dropout":
            if mode != "own":
                return torch.ones((), dtype=out.dtype, device=out.device)
            keep = torch.rand(out.shape, generator=gen, device=out.device) >= c.p_drop
            return keep.to(out.dtype) / (1 - c.p_drop)
        if mode == "own":
            m = tied_masks(idx.to(out.device), n, layer, c.mask_seed, c.p_gen, c.p_mem)
            return m.to(out.dtype)[:, :, None, None]
        return mode_scale(n, c.p_gen, c.p_mem, mode).to(out.device, out.dtype).view(1, -1, 1, 1)

    def forward(self, x: Tensor, idx: Tensor | None = None, mode: str = "full", step: int = 0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode.startswith("drop") and self.cfg.scheme != "tied":
            raise ValueError(f"mode {mode!r} needs example-tied dropout, not {self.cfg.scheme}")
        if mode == "own" and self.cfg.scheme == "tied" and idx is None:
            raise ValueError("mode 'own' needs the training indices idx of the rows")
        gen = None
        if mode == "own" and self.cfg.scheme == "dropout":
            seed = hash32((self.cfg.mask_seed ^ _DROP) & 0xFFFFFFFF) + step
            gen = torch.Generator(device=x.device).manual_seed(seed)
        self._ctx = (idx, mode, gen)
        try:
            return self.net(x)
        finally:
            self._ctx = None
