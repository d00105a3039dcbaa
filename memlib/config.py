"""Typed, validated configuration, and the profiles (smoke, cpu, paper) that are data files.

``RunConfig`` describes one training run of a turn-over-dropout model. Each notebook declares its
parameters as a dataclass here (``NOTEBOOKS``); profile files ``profiles/<name>.yml`` give its
values per notebook. Bad names or types fail before any work, with a message that says what to do.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import typing
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from .data import DATASETS, LABEL_NOISE
from .errors import MemlibError

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
PROFILES = ("smoke", "cpu", "paper")
ARCHS = ("mlp", "vgg11", "cct")


@dataclass(frozen=True)
class RunConfig:
    """One training run. Defaults: the paper's MNIST recipe (Appendix A)."""

    dataset: str = "mnist"  # mnist, fashion-mnist, cifar10 or npz:PATH
    n_train: int = 0  # random training subset of this size; 0 = all examples
    split: str = "train"  # the split trained on (test: score the test set's examples)
    corrupt: int = 0  # training examples given a random label
    label_noise: str = "other"  # the random label: other (never the true one) or uniform (any)
    arch: str = "mlp"  # model family: mlp, vgg11 or cct
    hidden: int = 4096  # hidden width of the MLP
    width: float = 1.0  # channel multiplier of vgg11 (1.0: 64-512) and cct (1.0: 128 dims)
    turnover: bool = True  # turn-over dropout on (False: a plain model)
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
    device: str = "auto"  # auto (cuda if available), cpu, cuda, cuda:1, ...

    def __post_init__(self):
        check_types(self)
        if not (self.dataset in DATASETS or self.dataset.startswith("npz:")):
            raise MemlibError(
                f"bad parameter dataset: unknown dataset {self.dataset!r}; "
                f"choose one of {', '.join(DATASETS)} or npz:PATH"
            )
        for name in ("hidden", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise MemlibError(f"bad parameter {name}={getattr(self, name)}: must be >= 1")
        for name in ("n_train", "corrupt"):
            if getattr(self, name) < 0:
                raise MemlibError(f"bad parameter {name}={getattr(self, name)}: must be >= 0")
        if self.n_train and self.corrupt > self.n_train:
            raise MemlibError(
                f"bad parameter corrupt={self.corrupt}: more than n_train={self.n_train}"
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
        object.__setattr__(self, "milestones", tuple(self.milestones))
        if any(not 0 < m <= self.epochs for m in self.milestones) or list(
            self.milestones
        ) != sorted(set(self.milestones)):
            raise MemlibError(
                f"bad parameter milestones={list(self.milestones)}: increasing epochs in "
                f"1..epochs={self.epochs}"
            )
        resolve_device(self.device)

    def with_seed(self, seed: int) -> RunConfig:
        """The same run under one seed for every stream (each stream still draws apart)."""
        return dataclasses.replace(
            self, mask_seed=seed, corrupt_seed=seed, init_seed=seed, order_seed=seed
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


class _Study:
    """What every notebook's parameters share: a profile, seeds, and the runs they describe."""

    def _check(self) -> None:
        check_types(self)
        if self.profile not in PROFILES:
            raise MemlibError(f"bad parameter profile={self.profile!r}: one of {PROFILES}")
        if not self.seeds:
            raise MemlibError("bad parameter seeds=[]: give at least one seed")
        self.run(self.seeds[0])  # validates the run parameters now, before any work

    def run(self, seed: int, **changes) -> RunConfig:
        """The training run of one seed: the fields this study shares with RunConfig."""
        shared = {f.name for f in dataclasses.fields(RunConfig)} & set(self.__dataclass_fields__)
        cfg = RunConfig(**{k: getattr(self, k) for k in shared}).with_seed(seed)
        return dataclasses.replace(cfg, **changes)


@dataclass(frozen=True)
class ScoreStudy(_Study):
    """Parameters of the notebooks that score a dataset (Figures 2, 7 and 9a)."""

    profile: str = "cpu"  # the profile that set these values, shown with every figure
    dataset: str = "mnist"  # dataset scored
    n_train: int = 0  # training subset size; 0 = all
    corrupt: int = 0  # random labels
    arch: str = "mlp"  # mlp, vgg11 or cct
    hidden: int = 4096  # MLP width
    width: float = 1.0  # channel multiplier of vgg11 and cct
    epochs: int = 20  # training epochs
    lr: float = 0.06  # SGD learning rate
    momentum: float = 0.0  # SGD momentum
    optimizer: str = "sgd"  # sgd or adamw
    milestones: list[int] = field(default_factory=list)  # epochs where the lr is divided by 10
    batch_size: int = 256  # mini-batch size
    bf16: bool = False  # bf16 autocast
    channels_last: bool = False  # NHWC memory format (convolutional models)
    seeds: list[int] = field(default_factory=lambda: [0])  # one run per seed
    device: str = "auto"  # training device

    def __post_init__(self):
        self._check()


@dataclass(frozen=True)
class DynamicsStudy(_Study):
    """Parameters of the random-label dynamics notebooks (Figures 3 and 4): ordinary training of
    a plain MLP, followed on a real-label (easy) and a random-label (difficult) subset."""

    profile: str = "cpu"
    dataset: str = "mnist"
    n_train: int = 0
    corrupt: int = 20000  # random labels
    subset_size: int = 10000  # examples in each followed subset
    hidden: int = 4096
    epochs: int = 100
    lr: float = 0.01
    batch_size: int = 256
    bf16: bool = False
    seeds: list[int] = field(default_factory=lambda: [0])  # plain-MLP runs
    turnover_seeds: list[int] = field(default_factory=lambda: [0])  # turn-over comparison runs
    uniform_seeds: list[int] = field(default_factory=list)  # plain runs, uniform label noise
    grad_every: int = 5  # gradient statistics at epochs 0-10, then every grad_every epochs
    grad_batches: int = 40  # random mini-batches for the contributions (Eq. 4)
    device: str = "auto"

    def __post_init__(self):
        self._check()
        clean = self.n_train - self.corrupt if self.n_train else self.subset_size
        if not 0 < self.subset_size <= min(self.corrupt, clean):
            raise MemlibError(
                f"bad parameter subset_size={self.subset_size}: must be positive and fit in "
                f"both the {self.corrupt} random-label and the clean examples"
            )
        if self.grad_every < 1 or self.grad_batches < 1:
            raise MemlibError("bad parameters: need grad_every >= 1 and grad_batches >= 1")

    def grad_epochs(self) -> tuple[int, ...]:
        """The epochs with gradient statistics: 0-10, then every ``grad_every``-th, and the last."""
        every = range(0, self.epochs + 1, self.grad_every)
        return tuple(sorted({*range(min(10, self.epochs) + 1), *every, self.epochs}))


@dataclass(frozen=True)
class PartitionStudy(_Study):
    """Parameters of Figures 5 and 6: scores (as for Figure 2a, or 8) partition the training and
    test sets; a plain model is then trained and followed on the easy and difficult subsets
    (Figure 5), or trained on one of them only (Figure 6)."""

    profile: str = "cpu"
    dataset: str = "mnist"
    n_train: int = 0
    arch: str = "mlp"
    hidden: int = 4096
    width: float = 1.0
    epochs: int = 20  # epochs of the scoring runs (those of Figure 2a)
    train_epochs: int = 30  # epochs of the plain model whose dynamics are followed
    fraction: float = 0.1  # share of each set in each of the easy and difficult subsets
    lr: float = 0.06
    momentum: float = 0.0
    milestones: list[int] = field(default_factory=list)  # lr / 10 in the scoring runs
    train_milestones: list[int] = field(default_factory=list)  # lr / 10 in the followed runs
    control: bool = True  # Figure 5: also train without the difficult subset (the control)
    batch_size: int = 256
    bf16: bool = False
    channels_last: bool = False
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"

    def __post_init__(self):
        self._check()
        if not 0 < self.fraction <= 0.5 or self.train_epochs < 1:
            raise MemlibError(
                f"bad parameters fraction={self.fraction}, train_epochs={self.train_epochs}: "
                "need 0 < fraction <= 0.5 and train_epochs >= 1"
            )
        self.followed(self.seeds[0])  # the followed run's parameters too

    def followed(self, seed: int) -> RunConfig:
        """The followed run of one seed: a plain model, ``train_epochs``, ``train_milestones``."""
        return self.run(
            seed, turnover=False, epochs=self.train_epochs, milestones=self.train_milestones
        )


@dataclass(frozen=True)
class CorruptionStudy(_Study):
    """Parameters of Figure 10: a plain model trained on the same data with a growing fraction
    of random labels (``levels``, shares of the training set), followed to the end."""

    profile: str = "cpu"
    dataset: str = "cifar10"
    n_train: int = 0
    levels: list[float] = field(default_factory=lambda: [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    arch: str = "vgg11"
    hidden: int = 4096  # MLP width (arch mlp)
    width: float = 1.0
    epochs: int = 200
    lr: float = 0.01
    momentum: float = 0.9
    milestones: list[int] = field(default_factory=lambda: [100, 150])
    batch_size: int = 256
    bf16: bool = False
    channels_last: bool = False
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"

    def __post_init__(self):
        self._check()
        if not self.levels or any(not 0 <= x <= 1 for x in self.levels):
            raise MemlibError(f"bad parameter levels={self.levels}: fractions in [0, 1]")


@dataclass(frozen=True)
class GroundTruthStudy(_Study):
    """Parameters of the ground-truth chapter: turn-over-dropout scores (one run per seed) against
    the Feldman-Zhang estimator (``models`` plain MLPs, each on a random ``fraction`` of the
    data), on the same data, clean and with ``corrupt`` random labels, with the same recipe."""

    profile: str = "cpu"
    dataset: str = "mnist"
    n_train: int = 1000  # training examples (a random subset; 0 = all)
    corrupt: int = 100  # random labels in the noisy condition (the clean one has none)
    data_seed: int = 0  # which labels are randomized: the same data for every run
    hidden: int = 256  # MLP width, of the turn-over model and of every ground-truth model
    epochs: int = 30
    lr: float = 0.06
    momentum: float = 0.9
    batch_size: int = 128
    bf16: bool = False
    models: int = 512  # Feldman-Zhang models (k)
    fraction: float = 0.7  # share of the training set each of them trains on (r)
    chunk: int = 16  # models trained at once, as one ensemble
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])  # turn-over runs
    top: float = 0.1  # precision@k: the top share of examples compared
    bootstrap: int = 1000  # bootstrap resamples of the examples, for the intervals
    device: str = "auto"

    def __post_init__(self):
        from .groundtruth import check_fz

        self._check()
        check_fz(self.models, self.fraction, self.chunk)
        if self.models % 2:
            raise MemlibError(f"bad parameter models={self.models}: even, to split in halves")
        if not 0 < self.top <= 0.5 or self.bootstrap < 10:
            raise MemlibError(
                f"bad parameters top={self.top}, bootstrap={self.bootstrap}: "
                "need 0 < top <= 0.5 and bootstrap >= 10"
            )
        if self.n_train and self.corrupt > self.n_train:
            raise MemlibError(f"bad parameter corrupt={self.corrupt}: more than n_train")

    def turnover_run(self, seed: int, corrupt: int) -> RunConfig:
        """The turn-over-dropout run of one seed, on the condition's data."""
        return self.run(seed, corrupt=corrupt, corrupt_seed=self.data_seed)

    def ground_truth(self, corrupt: int) -> RunConfig:
        """The ground-truth models' recipe on the condition's data (plain MLPs, first seed)."""
        return self.run(self.seeds[0], corrupt=corrupt, corrupt_seed=self.data_seed, turnover=False)


# Notebook name -> its parameters. A notebook not listed here takes no parameters.
NOTEBOOKS: dict[str, type] = {
    "fig2a_long_tail": ScoreStudy,
    "fig2b_random_labels": ScoreStudy,
    "fig3_random_label_dynamics": DynamicsStudy,
    "fig4_gradient_similarity": DynamicsStudy,
    "fig5ab_easy_difficult": PartitionStudy,
    "fig7_gallery": ScoreStudy,
    "fig9a_early_convergence": ScoreStudy,
    "fig5cd_easy_difficult_cifar": PartitionStudy,
    "fig6_informative_difficult": PartitionStudy,
    "fig8_gallery_cifar": ScoreStudy,
    "fig9b_early_convergence_cct": ScoreStudy,
    "fig10_corruption_levels": CorruptionStudy,
    "fz_ground_truth": GroundTruthStudy,
}


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
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(t) or (object,)
        return isinstance(v, (list, tuple)) and all(_is(x, inner) for x in v)
    if t is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, t)


def _name(t) -> str:
    return getattr(t, "__name__", str(t)) if typing.get_origin(t) is None else str(t)


def params_for(notebook: str, values: dict):
    """Validate ``values`` (name -> value) against the notebook's parameters and build them."""
    cls = NOTEBOOKS.get(notebook)
    if cls is None:
        if values:
            raise MemlibError(f"notebook {notebook!r} takes no parameters, got {sorted(values)}")
        return None
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise MemlibError(
            f"unknown parameter(s) {', '.join(unknown)} for {notebook}; "
            f"known: {', '.join(sorted(known))}"
        )
    return cls(**values)


def load_profile(profile: str) -> dict[str, dict]:
    """Notebook name -> parameter values, from ``profiles/<profile>.yml``."""
    path = PROFILES_DIR / f"{profile}.yml"
    if profile not in PROFILES or not path.exists():
        raise MemlibError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    data = yaml.safe_load(path.read_text()) or {}
    for nb, values in data.items():
        params_for(nb, {"profile": profile, **(values or {})})
    return {nb: {"profile": profile, **(v or {})} for nb, v in data.items()}


def notebook_params(notebook: str, namespace: dict):
    """Inside a notebook: validate its parameters, including any that papermill injected.

    Papermill only warns about unknown parameters; this reads the injected cell (IPython's input
    history holds it, headed ``# Parameters``) and rejects names the notebook does not declare.
    """
    cls = NOTEBOOKS[notebook]
    names = {f.name for f in dataclasses.fields(cls)}
    for src in namespace.get("In", []):
        if src.lstrip().startswith("# Parameters"):
            injected = {
                t.id
                for node in ast.parse(src).body
                if isinstance(node, ast.Assign)
                for t in node.targets
                if isinstance(t, ast.Name)
            }
            unknown = sorted(injected - names)
            if unknown:
                raise MemlibError(
                    f"unknown parameter(s) {', '.join(unknown)} for {notebook}; "
                    f"known: {', '.join(sorted(names))}"
                )
    return params_for(notebook, {k: namespace[k] for k in names if k in namespace})
