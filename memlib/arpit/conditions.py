"""The paper's data conditions (§2, after Zhang et al. 2017): real data, randY and randX.

* ``randY``: a fraction of the training labels replaced by labels drawn uniformly from *all*
  classes. This is the paper's convention: about 1 in ``n_classes`` of them draw their true label
  again. (The book's other chapters redraw labels to *another* class.)
* ``randX``: a fraction of the training inputs replaced by i.i.d. Gaussian noise matching the
  dataset's mean and variance, per channel (the images are standardized, so nearly N(0, 1)).

The examples that are replaced, and the new labels or pixels, come from the condition's own
``seed``, hashed with a salt of its own: the pages pass one integer as the seed of the data
subset, the initialization, the data order and the condition, and the salt keeps the
condition's random stream apart from the others'.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from ..data import corrupt_labels
from ..errors import MemlibError
from ..masks import hash32

KINDS = ("real", "randX", "randY")
_SALT = 0x5EED_C0DE  # the condition's stream, apart from a seed's other uses (module doc)


@dataclass(frozen=True)
class Condition:
    """What is done to the training set: ``kind`` on a ``fraction`` of it, drawn from ``seed``."""

    kind: str = "real"  # real, randX or randY
    fraction: float = 1.0  # share of the training examples replaced (ignored for real)
    seed: int = 0  # which examples, and their new labels or pixels

    def __post_init__(self):
        if self.kind not in KINDS:
            raise MemlibError(f"bad condition {self.kind!r}: one of {', '.join(KINDS)}")
        if not 0.0 <= self.fraction <= 1.0:
            raise MemlibError(f"bad noise fraction {self.fraction}: must be in [0, 1]")

    @property
    def share(self) -> float:
        """The share of examples actually replaced (0 for real data)."""
        return 0.0 if self.kind == "real" else self.fraction

    def label(self) -> str:
        """'real', 'randY', 'randX 40%': how the pages name it."""
        if self.kind == "real" or self.fraction == 0:
            return "real"
        return self.kind if self.fraction == 1 else f"{self.kind} {self.fraction:.0%}"

    def key(self) -> dict:
        return asdict(self) | ({"fraction": 0.0} if self.kind == "real" else {})


def apply(x: Tensor, y: Tensor, cond: Condition, n_classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """The training set under ``cond``: ``(x [N, ...], y [N], noisy [N] bool)``, ``noisy``
    marking the examples whose label or input was replaced (x and y are not modified)."""
    n = round(cond.share * len(y))
    noisy = torch.zeros(len(y), dtype=torch.bool, device=y.device)
    if n == 0:
        return x, y, noisy
    seed = hash32(cond.seed ^ _SALT)
    if cond.kind == "randY":
        y, idx = corrupt_labels(y, n, n_classes, seed, noise="uniform")
        noisy[idx.to(y.device)] = True
        return x, y, noisy
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(y), generator=g)[:n].sort().values.to(x.device)
    if x.dim() > 2:  # images [N, C, H, W]: the statistics of each channel
        dims, shape = [0, *range(2, x.dim())], [1, -1] + [1] * (x.dim() - 2)
        mean, std = x.mean(dims).reshape(shape), x.std(dims).reshape(shape)
    else:  # flat inputs [N, D]: one channel
        mean, std = x.mean(), x.std()
    z = torch.randn((n, *x.shape[1:]), generator=g).to(x.device)
    x = x.clone()
    x[idx] = (z * std + mean).to(x.dtype)
    noisy[idx] = True
    return x, y, noisy
