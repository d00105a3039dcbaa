"""The chapter's recipe (Maini et al. 2023, §3): one typed, validated configuration per run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import RunConfig, check_types, resolve_device
from ..errors import MemlibError


@dataclass(frozen=True)
class LocalizeConfig:
    """One ResNet-9 trained with label noise. Defaults: the paper's text (§3)."""

    dataset: str = "cifar10"  # cifar10, mnist, fashion-mnist or npz:PATH
    n_train: int = 0  # random training subset of this size; 0 = all examples
    noise: float = 0.1  # share of training labels redrawn to another class
    width: float = 1.0  # channel multiplier (1.0: 64-128-(128,128)-256-(256,256)-128)
    epochs: int = 50  # training epochs
    peak_epoch: int = 10  # the one-cycle lr rises linearly to lr here, then falls to 0
    lr: float = 0.1  # peak learning rate
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 5e-4  # SGD weight decay
    batch_size: int = 512  # examples per step
    bf16: bool = False  # bf16 autocast
    channels_last: bool = False  # NHWC memory format
    corrupt_seed: int = 0  # which labels are redrawn, and to what
    init_seed: int = 0  # weight initialization
    order_seed: int = 0  # data order of every epoch
    subset_seed: int = 0  # which examples n_train keeps
    device: str = "auto"  # auto (cuda if available), cpu, cuda, ...

    def __post_init__(self):
        check_types(self)
        for name in ("noise", "width", "lr", "momentum", "weight_decay"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not 0 <= self.noise < 1:
            raise MemlibError(f"bad parameter noise={self.noise}: a share in [0, 1), e.g. 0.1")
        for name in ("epochs", "batch_size", "peak_epoch"):
            if getattr(self, name) < 1:
                raise MemlibError(f"bad parameter {name}={getattr(self, name)}: must be >= 1")
        if self.peak_epoch >= self.epochs:
            raise MemlibError(
                f"bad parameter peak_epoch={self.peak_epoch}: must be below epochs={self.epochs}"
            )
        if not (self.lr > 0 and self.width > 0 and 0 <= self.momentum < 1):
            raise MemlibError("bad parameters: need lr > 0, width > 0 and 0 <= momentum < 1")
        if self.weight_decay < 0:
            raise MemlibError(f"bad parameter weight_decay={self.weight_decay}: must be >= 0")
        self.data_config()  # the dataset's name and subset size, checked now
        resolve_device(self.device)

    def with_seed(self, seed: int) -> LocalizeConfig:
        """The same run under one seed for every stream (each stream still draws apart)."""
        return dataclasses.replace(self, corrupt_seed=seed, init_seed=seed, order_seed=seed)

    def data_config(self, n_total: int | None = None) -> RunConfig:
        """The book's data path for this run (``runs.run_data``): the same images and the same
        redrawn labels as a turn-over run with these seeds. ``n_total``: the dataset's size,
        which turns ``noise`` into a count (until then 0)."""
        n = self.n_train or (n_total or 0)
        return RunConfig(
            dataset=self.dataset,
            n_train=self.n_train,
            n_corrupt=round(self.noise * n),
            label_noise="other",
            corrupt_seed=self.corrupt_seed,
            subset_seed=self.subset_seed,
            channels_last=self.channels_last,
            device=self.device,
            turnover=False,
        )

    def key(self) -> dict:
        d = dataclasses.asdict(self)
        d["device"] = resolve_device(self.device).type
        return d
