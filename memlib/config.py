"""The run configuration: ``RunConfig``, its one set of defaults, and its validation.

``RunConfig`` describes one training run; its fields (with the device resolved) are what
identifies a cached result. ``ensemble_config`` checks the Feldman-Zhang estimator's own
parameters. Bad values fail here, before any work, with a message that says what to do. The
notebooks' parameters and profiles are :mod:`memlib.params`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import DATASETS, LABEL_NOISE
from .errors import MemlibError
from .training import Schedule

ARCHS = ("mlp", "vgg11", "cct")


@dataclass(frozen=True)
class RunConfig:
    """One training run. Defaults: the paper's MNIST recipe (Appendix A)."""

    dataset: str = "mnist"  # mnist, fashion-mnist, cifar10 or npz:PATH
    n_train: int = 0  # random training subset of this size; 0 = all examples
    split: str = "train"  # the split trained on (test: score the test set's examples)
    n_corrupt: int = 0  # training examples given a random label (corrupted)
    label_noise: str = "other"  # the random label: other (never the true one) or uniform (any)
    arch: str = "mlp"  # model family: mlp, vgg11 or cct
    hidden: int = 4096  # hidden width of the MLP
    width: float = 1.0  # channel multiplier of vgg11 (1.0: 64-512) and cct (1.0: 128 dims)
    turnover: bool = True  # turn-over dropout on (False: a plain model)
    mask_last: int = 8  # vgg11: turn-over masks on its last k convolutions (8: all, the paper's)
    mask_pairs: int = 0  # masks drawn from K complementary pairs (0: one per example, the paper's)
    mask_scale: float = 2.0  # multiplier of the kept units (2: inverted dropout; 1: none)
    conv_bias: bool = True  # vgg11: biases on the convolutions
    augment: bool = False  # random flips and shifts of up to 4 pixels (vgg11 and cct)
    lr: float = 0.06  # SGD learning rate
    epochs: int = 200  # training epochs
    batch_size: int = 256  # SGD mini-batch
    momentum: float = 0.0  # SGD momentum
    optimizer: str = "sgd"  # sgd (the paper's), or adamw (the usual one for transformers)
    milestones: tuple[int, ...] = ()  # epochs at which the lr is divided by 10
    bf16: bool = False  # bf16 autocast
    channels_last: bool = False  # NHWC memory format for convolutional models
    mask_seed: int = 0  # turn-over masks
    corrupt_seed: int = 0  # which labels are corrupted, and to what
    init_seed: int = 0  # weight initialization
    order_seed: int = 0  # data order of every epoch
    subset_seed: int = 0  # which examples n_train keeps
    eval_every: int = 1  # evaluate every k epochs (history, scores) and at the last
    probe: int = 0  # follow the mask-code probe on this many training examples (0: not)
    device: str = "auto"  # auto (cuda if available), cpu, cuda, cuda:1, ...

    def __post_init__(self):
        check_types(self)
        # 1 and 1.0: the same run, one cache key
        for name in ("lr", "momentum", "width", "mask_scale"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not (self.dataset in DATASETS or self.dataset.startswith("npz:")):
            raise MemlibError(
                f"bad parameter dataset: unknown dataset {self.dataset!r}; "
                f"choose one of {', '.join(DATASETS)} or npz:PATH"
            )
        for name in ("hidden", "epochs", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise MemlibError(f"bad parameter {name}={getattr(self, name)}: must be >= 1")
        for name in ("n_train", "n_corrupt", "mask_pairs", "probe"):
            if getattr(self, name) < 0:
                raise MemlibError(f"bad parameter {name}={getattr(self, name)}: must be >= 0")
        if self.n_train and self.n_corrupt > self.n_train:
            raise MemlibError(
                f"bad parameter n_corrupt={self.n_corrupt}: more than n_train={self.n_train}"
            )
        if not self.lr > 0 or not 0 <= self.momentum < 1:
            raise MemlibError("bad parameters: need lr > 0 and 0 <= momentum < 1")
        if self.optimizer not in ("sgd", "adamw"):
            raise MemlibError(f"bad parameter optimizer={self.optimizer!r}: sgd or adamw")
        if self.label_noise not in LABEL_NOISE:
            raise MemlibError(
                f"bad parameter label_noise={self.label_noise!r}: one of {', '.join(LABEL_NOISE)}"
            )
        if self.split not in ("train", "test"):
            raise MemlibError(f"bad parameter split={self.split!r}: train or test")
        if self.arch not in ARCHS:
            raise MemlibError(f"bad parameter arch={self.arch!r}: one of {', '.join(ARCHS)}")
        if not self.width > 0:
            raise MemlibError(f"bad parameter width={self.width}: must be > 0")
        self._check_masks()
        object.__setattr__(self, "milestones", tuple(self.milestones))
        if any(not 0 < m <= self.epochs for m in self.milestones) or list(
            self.milestones
        ) != sorted(set(self.milestones)):
            raise MemlibError(
                f"bad parameter milestones={list(self.milestones)}: increasing epochs in "
                f"1..epochs={self.epochs}"
            )
        resolve_device(self.device)

    def _check_masks(self) -> None:
        """The mask design and augmentation fit the architecture."""
        if not 1 <= self.mask_last <= 8:
            raise MemlibError(f"bad parameter mask_last={self.mask_last}: 1 to 8 (vgg11's convs)")
        vgg = {"mask_last": 8, "conv_bias": True, "mask_scale": 2.0}
        for name, default in vgg.items():
            if self.arch != "vgg11" and getattr(self, name) != default:
                raise MemlibError(f"bad parameter {name}: only vgg11 has it (arch={self.arch})")
        if not self.mask_scale > 0:  # vgg11 only: the MLP's muted logits assume 2
            raise MemlibError(f"bad parameter mask_scale={self.mask_scale}: must be > 0")
        if self.augment and self.arch == "mlp":
            raise MemlibError("bad parameter augment: image models only (vgg11, cct), not mlp")
        if self.probe and not self.turnover:
            raise MemlibError("bad parameter probe: the mask-code probe needs turnover=True")

    def with_seed(self, seed: int) -> RunConfig:
        """The same run under one seed for every stream (each stream still draws apart)."""
        return dataclasses.replace(
            self, mask_seed=seed, corrupt_seed=seed, init_seed=seed, order_seed=seed
        )

    def schedule(self) -> Schedule:
        """The optimizer settings of this run, for :func:`training.train`."""
        return Schedule(
            lr=self.lr,
            epochs=self.epochs,
            batch_size=self.batch_size,
            momentum=self.momentum,
            optimizer=self.optimizer,
            milestones=self.milestones,
            bf16=self.bf16,
            augment=self.augment,
            eval_every=self.eval_every,
        )

    def check_fits(self, n: int) -> None:
        """Fail unless ``n_train`` and ``n_corrupt`` fit in a dataset of ``n`` examples."""
        if self.n_train > n:
            raise MemlibError(f"n_train={self.n_train} is more than the {n} training examples")
        if self.n_corrupt > (self.n_train or n):
            raise MemlibError(
                f"n_corrupt={self.n_corrupt} is more than the {self.n_train or n} training examples"
            )

    def key(self) -> dict:
        """What identifies the result: every field, with the device resolved to its type."""
        d = dataclasses.asdict(self)
        d["device"] = resolve_device(self.device).type
        if self.dataset.startswith("npz:"):  # a user's file: its content, not just its name
            path = Path(self.dataset[4:])
            d["npz_sha256"] = (
                hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            )
        return d


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise MemlibError(f"bad parameter device={device!r}: use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MemlibError(
            f"device {device!r} asked for, but CUDA is not available here; use --device cpu or auto"
        )
    return dev


def describe_device(device: torch.device) -> str:
    """The device in a few words, for provenance: the GPU's name, or the CPU threads used."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


CHUNK = 16  # Feldman-Zhang models trained at once, as one ensemble, unless told otherwise


def ensemble_config(cfg: RunConfig, n_models: int, fraction: float, chunk: int) -> RunConfig:
    """The Feldman-Zhang models' recipe: ``cfg`` as a plain MLP trained by SGD, checked with the
    estimator's own parameters (``n_models`` models, each on a ``fraction`` of the training set,
    ``chunk`` at a time)."""
    if cfg.arch != "mlp":
        raise MemlibError(f"bad parameter arch={cfg.arch!r}: the ensembles are MLPs (arch mlp)")
    if cfg.optimizer != "sgd":
        raise MemlibError(f"bad parameter optimizer={cfg.optimizer!r}: the ensembles train SGD")
    if not 0 < fraction < 1:
        raise MemlibError(f"bad parameter fraction={fraction}: must be in (0, 1), e.g. 0.7")
    if n_models < 2:
        raise MemlibError(f"bad parameter n_models={n_models}: need at least 2 models")
    if chunk < 1:
        raise MemlibError(f"bad parameter chunk={chunk}: must be >= 1")
    return dataclasses.replace(cfg, turnover=False)


def check_types(obj) -> None:
    """Raise MemlibError unless every field of the dataclass ``obj`` has its annotated type."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        v, t = getattr(obj, f.name), hints[f.name]
        if not _is(v, t):
            raise MemlibError(
                f"bad parameter {f.name}={v!r}: expected {_name(t)}, got {type(v).__name__}"
            )


def _is(v, t) -> bool:
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        return any(_is(v, a) for a in typing.get_args(t))
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(t) or (object,)
        return isinstance(v, (list, tuple)) and all(_is(x, inner) for x in v)
    if origin is dict:
        key, value = typing.get_args(t) or (object, object)
        return isinstance(v, dict) and all(_is(k, key) and _is(x, value) for k, x in v.items())
    if t is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, t)


def _name(t) -> str:
    return getattr(t, "__name__", str(t)) if typing.get_origin(t) is None else str(t)
