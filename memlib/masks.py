"""Turn-over dropout masks (Kobayashi et al. 2020; Liu et al. 2021, §2.2 and Appendix B).

Every training example ``i`` owns a fixed binary mask ``m(i)`` per masked layer. It is never
stored: it is recomputed on the fly from ``(seed, layer, i)`` with a 32-bit integer hash that
runs on int64 tensors, so the CPU and a GPU produce the same bits. Each hash yields one 32-bit
word, i.e. 32 units, so a 4096-unit layer costs 128 hashes per example.

Conventions
-----------
* ``unmuted`` uses ``m(i)``: the only sub-network that example ``i`` ever updates.
* ``muted`` uses ``1 - m(i)``: the sub-network that never received a gradient from ``i``.
* Kept units are scaled by ``1 / (1 - p) = 2``, as inverted dropout with ``p = 0.5`` does, so the
  two sub-networks produce outputs on the same scale as the full network (``scale`` changes it;
  1 keeps the units as they are).
* Inputs without an index (the test set, new data) use the full network, unmasked and unscaled:
  the expectation of either sub-network. For one masked layer followed by a linear layer, the
  full network's logits are exactly the mean of the muted and unmuted logits. (VGG-11, with
  eight masked layers, uses that mean instead: see ``models.VGG11``.)

Paired masks (``pairs = K > 0``, beyond the paper): instead of a mask of its own, each example
draws one of ``2K`` codes from the same hash: one side of one of ``K`` complementary pairs. The
code is the same in every layer, so an example's muted network is exactly the unmuted network of
the examples that drew the other side of its pair: a network trained as a whole, by other
examples. The mask of pair ``p`` is the per-example mask of index ``p``; the other side is its
complement.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

_M32 = 0xFFFFFFFF
# Odd multipliers below 2**31: a 32-bit value times one of them stays below 2**63, so the int64
# product never overflows and the hash is exact (and identical) on every device.
_C1 = 0x7FEB352D
_C2 = 0x31848BAB
_PAIRS = 0x9A1F5  # salt of the stream that assigns examples to paired codes
MODES = ("unmuted", "muted")


def _mix(x: Tensor) -> Tensor:
    """A 32-bit avalanche hash on int64 tensors holding values in [0, 2**32)."""
    x = x ^ (x >> 16)
    x = (x * _C1) & _M32
    x = x ^ (x >> 15)
    x = (x * _C2) & _M32
    return x ^ (x >> 16)


def hash32(x: int) -> int:
    """The same hash on a Python int: the slow, obvious reference used by the tests."""
    x ^= x >> 16
    x = (x * _C1) & _M32
    x ^= x >> 15
    x = (x * _C2) & _M32
    return x ^ (x >> 16)


def pair_code(idx: Tensor, pairs: int, seed: int) -> Tensor:
    """The paired code [B] of the examples ``idx`` [B], in [0, 2 * pairs): pair ``code // 2``,
    side ``code % 2``. The same in every layer."""
    key = hash32((seed ^ _PAIRS) & _M32)
    return _mix((idx.to(torch.int64) & _M32) ^ key) % (2 * pairs)


def mask_words(idx: Tensor, n_units: int, layer: int, seed: int, pairs: int = 0) -> Tensor:
    """Packed masks of the examples ``idx`` [B]: int64 words [B, ceil(n_units / 32)] of 32 bits.
    ``pairs > 0``: the masks of the examples' paired codes (see the module's docstring)."""
    if pairs:
        code = pair_code(idx, pairs, seed)
        return mask_words(code // 2, n_units, layer, seed) ^ ((code % 2) * _M32).unsqueeze(1)
    n_words = (n_units + 31) // 32
    key = hash32((hash32(seed & _M32) ^ (layer & _M32)) & _M32)
    i = idx.to(torch.int64).reshape(-1, 1) & _M32
    w = torch.arange(n_words, dtype=torch.int64, device=idx.device).reshape(1, -1)
    h = _mix(_mix(i ^ key) ^ w)  # [B, W]
    return _mix(h ^ key)


_TABLES: dict[tuple, Tensor] = {}


def _table(device: torch.device, dtype: torch.dtype, mode: str, scale: float = 2.0) -> Tensor:
    """Lookup table [256, 8]: for each byte value, its 8 bits (least significant first) as the
    mask values of ``mode``: bool (unmuted bits), or the scaled mask scale * m (unmuted) or
    scale * (1 - m) (muted) in ``dtype``."""
    key = (device, dtype, mode, scale)
    if key not in _TABLES:
        v = torch.arange(256, device=device).unsqueeze(1)
        bits = (v >> torch.arange(8, device=device)) & 1
        if mode == "muted":
            bits = 1 - bits
        _TABLES[key] = bits.bool() if dtype == torch.bool else (scale * bits).to(dtype)
    return _TABLES[key]


def _unpack(words: Tensor, n_units: int, table: Tensor) -> Tensor:
    """Packed words [B, W] -> [B, n_units] through a byte table: one gather per byte is far
    cheaper than a shift per bit followed by a bool-to-float conversion."""
    shifts = torch.tensor([0, 8, 16, 24], dtype=torch.int64, device=words.device)
    octets = ((words.unsqueeze(-1) >> shifts) & 0xFF).reshape(-1)  # [B * W * 4]
    return table.index_select(0, octets).reshape(words.shape[0], -1)[:, :n_units]


def mask_bits(idx: Tensor, n_units: int, layer: int, seed: int, pairs: int = 0) -> Tensor:
    """Boolean masks [B, n_units] of the examples ``idx`` [B]: True marks an unmuted unit.

    Bit ``b`` of word ``w`` is unit ``32 * w + b``.
    """
    words = mask_words(idx, n_units, layer, seed, pairs)
    return _unpack(words, n_units, _table(words.device, torch.bool, "unmuted"))


def mask_scale(
    idx: Tensor,
    n_units: int,
    layer: int,
    seed: int,
    mode: str,
    dtype: torch.dtype,
    *,
    pairs: int = 0,
    scale: float = 2.0,
) -> Tensor:
    """The multiplier [B, n_units] that turn-over dropout applies: ``scale`` (2: inverted
    dropout, p = 1/2) on the units ``mode`` keeps, 0 elsewhere."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    words = mask_words(idx, n_units, layer, seed, pairs)
    return _unpack(words, n_units, _table(words.device, dtype, mode, scale))


def mask_reference(i: int, n_units: int, layer: int, seed: int, pairs: int = 0) -> list[bool]:
    """Pure-Python mask of example ``i``; must equal ``mask_bits`` bit for bit."""
    if pairs:
        code = hash32((i & _M32) ^ hash32((seed ^ _PAIRS) & _M32)) % (2 * pairs)
        bits = mask_reference(code // 2, n_units, layer, seed)
        return [b != bool(code % 2) for b in bits]
    key = hash32((hash32(seed & _M32) ^ (layer & _M32)) & _M32)
    bits = []
    for w in range((n_units + 31) // 32):
        h = hash32(hash32(hash32((i & _M32) ^ key) ^ w) ^ key)
        bits += [bool((h >> b) & 1) for b in range(32)]
    return bits[:n_units]


class TurnoverDropout(nn.Module):
    """Turn-over dropout on ``n_units`` neurons, or on ``n_units`` feature maps if ``spatial``.

    ``forward(h, idx, mode)``: ``h`` is [B, n_units] or [B, T, n_units] (linear: tokens share
    their example's mask) or [B, n_units, H, W] (spatial),
    ``idx`` [B] the training indices of the rows, ``mode`` one of ``MODES``. ``idx=None`` returns
    ``h`` unchanged: the full network, used for examples that own no mask.
    """

    def __init__(
        self,
        n_units: int,
        layer: int,
        seed: int,
        spatial: bool = False,
        *,
        pairs: int = 0,
        scale: float = 2.0,
    ):
        super().__init__()
        self.n_units, self.layer, self.seed, self.spatial = n_units, layer, seed, spatial
        self.pairs, self.scale = pairs, scale

    def forward(self, h: Tensor, idx: Tensor | None = None, mode: str = "unmuted") -> Tensor:
        if idx is None:
            return h
        scale = mask_scale(
            idx.to(h.device), self.n_units, self.layer, self.seed, mode, h.dtype,
            pairs=self.pairs, scale=self.scale,
        )  # fmt: skip
        if self.spatial:
            scale = scale[:, :, None, None]
        elif h.dim() == 3:
            scale = scale[:, None, :]
        return h * scale  # [B, U], [B, T, U] or [B, U, H, W]

    def extra_repr(self) -> str:
        kind = "spatial" if self.spatial else "linear"
        extra = (f", pairs={self.pairs}" if self.pairs else "") + (
            f", scale={self.scale}" if self.scale != 2.0 else ""
        )
        return f"n_units={self.n_units}, layer={self.layer}, seed={self.seed}, {kind}{extra}"
