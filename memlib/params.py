"""The notebooks' parameters: one dataclass per kind of page, filled from a profile file.

A profile (``profiles/<name>.yml``: smoke, cpu, paper, and the chapter files of
``profiles/<name>/``) gives, per notebook, every value of its parameters; it is their only
source. A study's training settings (``RunSettings``: dataset,
model, optimizer, ...) are optional: those a profile leaves out take ``RunConfig``'s defaults,
and :meth:`Study.config` turns them into the ``RunConfig`` of one seed. A study's own values
(seeds, subset sizes, levels, ...) have no default: a profile that misses one fails.

This module cannot change a computed number (every run is identified by its ``RunConfig``), so it
is outside the cache's code version: editing it keeps every cached result.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .arpit.pages import PAGES as ARPIT_PAGES
from .natural.pages import PAGES as NATURAL_PAGES
from .config import RunConfig, check_types, ensemble_config
from .errors import MemlibError

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
PROFILES = ("smoke", "cpu", "paper")


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """The training settings a profile may give a page; unset (None): RunConfig's default."""

    dataset: str | None = None  # mnist, fashion-mnist, cifar10 or npz:PATH
    n_train: int | None = None  # random training subset of this size; 0 = all examples
    n_corrupt: int | None = None  # training examples given a random label (corrupted)
    arch: str | None = None  # mlp, vgg11 or cct
    hidden: int | None = None  # hidden units of the MLP
    width: float | None = None  # channel multiplier of vgg11 (1.0: 64-512) and cct (1.0: 128 dims)
    epochs: int | None = None  # training epochs
    lr: float | None = None  # learning rate
    momentum: float | None = None  # SGD momentum
    optimizer: str | None = None  # sgd, or adamw
    milestones: list[int] | None = None  # epochs at which the lr is divided by 10
    batch_size: int | None = None  # mini-batch size
    bf16: bool | None = None  # bf16 autocast (fast on AMX, AVX-512 bf16 and GPUs)
    channels_last: bool | None = None  # NHWC memory format (convolutional models)
    mask_last: int | None = None  # vgg11: masks on its last k convolutions (8: all, the paper's)
    mask_pairs: int | None = None  # masks from K complementary pairs (0: one per example)
    mask_scale: float | None = None  # vgg11: multiplier of the kept units (2: inverted dropout)
    conv_bias: bool | None = None  # vgg11: biases on the convolutions
    augment: bool | None = None  # random flips and 4-pixel shifts while training
    eval_every: int | None = None  # evaluate every k epochs (and at the last)
    probe: int | None = None  # follow the mask-code probe on this many training examples
    device: str | None = None  # auto (cuda if available), cpu, cuda, cuda:1, ...


_RUN = tuple(f.name for f in dataclasses.fields(RunSettings))


def check_study(p) -> None:
    """What every page's parameters must have: their types, a known profile, a seed."""
    check_types(p)
    if p.profile not in PROFILES:
        raise MemlibError(f"bad parameter profile={p.profile!r}: one of {PROFILES}")
    if not p.seeds:
        raise MemlibError("bad parameter seeds=[]: give at least one seed")


@dataclass(frozen=True, kw_only=True)
class Study(RunSettings):
    """What every page's parameters share: the profile they come from, and the seeds."""

    profile: str  # the profile these values come from (smoke, cpu or paper)
    seeds: list[int]  # one run (or one set of runs) per seed

    def __post_init__(self):
        check_study(self)
        self.config(self.seeds[0])  # validates the run settings now, before any work

    def config(self, seed: int, **changes) -> RunConfig:
        """The ``RunConfig`` of one seed: the settings given, ``changes`` on top."""
        given = {k: getattr(self, k) for k in _RUN if getattr(self, k) is not None}
        return dataclasses.replace(RunConfig(**given).with_seed(seed), **changes)


@dataclass(frozen=True, kw_only=True)
class ScoreStudy(Study):
    """Pages that score a dataset with turn-over dropout (Figures 2, 7, 8 and 9)."""


@dataclass(frozen=True, kw_only=True)
class DynamicsStudy(Study):
    """Figures 3 and 4: ordinary training of a plain MLP, followed on a clean (easy) and a
    corrupted (difficult) subset."""

    n_subset: int  # examples in each followed subset
    turnover_seeds: list[int]  # turn-over runs, for comparison
    uniform_seeds: list[int]  # plain runs with uniform label noise (the true class allowed)
    grad_every: int  # gradient statistics at epochs 0-10, then every grad_every epochs
    n_grad_batches: int  # random mini-batches for the contributions (Eq. 4)

    def __post_init__(self):
        super().__post_init__()
        cfg = self.config(self.seeds[0])
        clean = cfg.n_train - cfg.n_corrupt if cfg.n_train else self.n_subset
        if not 0 < self.n_subset <= min(cfg.n_corrupt, clean):
            raise MemlibError(
                f"bad parameter n_subset={self.n_subset}: must be positive and fit in "
                f"both the {cfg.n_corrupt} corrupted and the clean examples"
            )
        if self.grad_every < 1 or self.n_grad_batches < 1:
            raise MemlibError("bad parameters: need grad_every >= 1 and n_grad_batches >= 1")

    def grad_epochs(self) -> tuple[int, ...]:
        """The epochs with gradient statistics: 0-10, then every ``grad_every``-th, and the last."""
        epochs = self.config(self.seeds[0]).epochs
        every = range(0, epochs + 1, self.grad_every)
        return tuple(sorted({*range(min(10, epochs) + 1), *every, epochs}))


@dataclass(frozen=True, kw_only=True)
class PartitionStudy(Study):
    """Figures 5 and 6: scores (the scoring runs: epochs, milestones) partition the training and
    test sets; a plain model then trains (``train_epochs``, ``train_milestones``) and is followed
    on the easy and difficult subsets (Figure 5), or trains on one of them only (Figure 6)."""

    epochs: int | None = None  # epochs of the scoring runs (turn-over dropout)
    milestones: list[int] | None = None  # epochs of the scoring runs at which the lr is / 10
    train_epochs: int  # epochs of the followed plain model
    train_milestones: list[int]  # lr / 10 in the followed runs
    fraction: float  # share of each set in each of the easy and difficult subsets
    control: bool  # Figure 5: also train without the difficult subset (the control)

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.fraction <= 0.5 or self.train_epochs < 1:
            raise MemlibError(
                f"bad parameters fraction={self.fraction}, train_epochs={self.train_epochs}: "
                "need 0 < fraction <= 0.5 and train_epochs >= 1"
            )
        self.followed(self.seeds[0])  # the followed run's parameters too

    def followed(self, seed: int) -> RunConfig:
        """The followed run of one seed: a plain model, ``train_epochs``, ``train_milestones``."""
        return self.config(
            seed,
            turnover=False,
            epochs=self.train_epochs,
            milestones=self.train_milestones,
        )


@dataclass(frozen=True, kw_only=True)
class CorruptionStudy(Study):
    """Figure 10: a plain model trained on the same data with a growing share of random labels
    (``levels``), followed to the end."""

    levels: list[float]  # shares of the training set given a random label

    def __post_init__(self):
        super().__post_init__()
        if not self.levels or any(not 0 <= x <= 1 for x in self.levels):
            raise MemlibError(f"bad parameter levels={self.levels}: fractions in [0, 1]")


@dataclass(frozen=True, kw_only=True)
class GroundTruthStudy(Study):
    """The ground-truth chapter: turn-over-dropout scores (one run per seed) against the
    Feldman-Zhang estimator (``n_models`` plain MLPs, each on a random ``fraction`` of the data),
    on the same data, clean and with ``n_corrupt`` random labels, with the same recipe."""

    n_corrupt: int | None = None  # random labels in the noisy condition (the clean one has none)
    seeds: list[int]  # turn-over runs (the ground-truth models use the first seed's streams)
    data_seed: int  # which labels are randomized: the same data for every run
    n_models: int  # Feldman-Zhang models (k)
    fraction: float  # share of the training set each of them trains on (r)
    chunk: int  # models trained at once, as one ensemble
    top: float  # precision@k: the top share of examples compared
    n_bootstrap: int  # bootstrap resamples of the examples, for the intervals

    def __post_init__(self):
        super().__post_init__()
        ensemble_config(self.ensemble(0), self.n_models, self.fraction, self.chunk)
        if self.n_models % 2:
            raise MemlibError(f"bad parameter n_models={self.n_models}: even, to split in halves")
        if not 0 < self.top <= 0.5 or self.n_bootstrap < 10:
            raise MemlibError(
                f"bad parameters top={self.top}, n_bootstrap={self.n_bootstrap}: "
                "need 0 < top <= 0.5 and n_bootstrap >= 10"
            )

    def turnover(self, seed: int, n_corrupt: int) -> RunConfig:
        """The turn-over-dropout run of one seed, on the condition's data."""
        return self.config(seed, n_corrupt=n_corrupt, corrupt_seed=self.data_seed)

    def ensemble(self, n_corrupt: int) -> RunConfig:
        """The ground-truth models' recipe on the condition's data (plain MLPs, first seed)."""
        cfg = self.config(self.seeds[0], n_corrupt=n_corrupt, corrupt_seed=self.data_seed)
        return dataclasses.replace(cfg, turnover=False)


@dataclass(frozen=True, kw_only=True)
class GridStudy(Study):
    """When do turn-over scores work on a conv net: the run settings given are the base (the
    paper's design at this profile's scale), ``planted`` of the training images get a random
    label, and each grid point changes some settings of the base. Every point runs with the
    first seed; the base and the selected setting with every seed. ``control``: the settings
    that turn the base into the MNIST MLP, the negative control of the probe."""

    planted: float  # share of the training images given a random label
    grid: dict[str, dict]  # grid point name -> the run settings it changes ({}: the base)
    control: dict  # the run settings of the MNIST MLP control, on top of the base

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.planted < 1:
            raise MemlibError(f"bad parameter planted={self.planted}: a share in (0, 1)")
        if not self.grid:
            raise MemlibError("bad parameter grid={}: give at least one grid point")
        for name, changes in {**self.grid, "control": self.control}.items():
            unknown = sorted(set(changes) - set(_RUN))
            if unknown:
                raise MemlibError(
                    f"bad grid point {name!r}: unknown setting(s) {', '.join(unknown)}; "
                    f"known: {', '.join(_RUN)}"
                )
            self.point(name, self.seeds[0])  # every point's run is valid before any work
        self.base()

    def base(self) -> str:
        """The grid point that changes nothing: the paper's design."""
        base = [name for name, changes in self.grid.items() if not changes]
        if len(base) != 1:
            raise MemlibError("bad parameter grid: exactly one point must be {} (the base)")
        return base[0]

    def point(self, name: str, seed: int) -> RunConfig:
        """The run of a grid point (``control``: the MLP control) and seed, before the labels
        are planted (:func:`recipes.grid_run` plants them)."""
        return self.config(seed, **(self.control if name == "control" else self.grid[name]))


@dataclass(frozen=True, kw_only=True)
class LocalizationStudy:
    """Maini et al. (2023): ResNet-9s trained with label noise, and the analyses of where they
    memorize. One set of values serves the chapter's four pages, which share their models."""

    profile: str  # the profile these values come from (smoke, cpu or paper)
    datasets: list[str]  # datasets trained; the first is the main one (CIFAR-10)
    seeds: list[int]  # seeds of the main dataset; the others run the first seed only
    n_train: int  # random training subset of this size; 0 = all examples
    noise: float  # share of training labels redrawn to another class
    width: float  # ResNet-9 channel multiplier (1.0: 64 to 256 channels)
    epochs: int  # training epochs
    peak_epoch: int  # epoch of the one-cycle schedule's peak lr
    lr: float  # peak learning rate
    batch_size: int  # mini-batch size
    bf16: bool  # bf16 autocast
    channels_last: bool  # NHWC memory format
    n_eval_clean: int  # clean training examples evaluated (with every noisy one)
    n_eval_test: int  # test examples evaluated
    rewind_epochs: list[int]  # epochs a layer is rewound to (0: initialization)
    rewind_datasets: list[str]  # datasets whose models are rewound (main: every seed)
    retrain_epochs: int  # epochs of layer retraining on clean examples
    retrain_peak: int  # epoch of the retraining schedule's peak lr
    retrain_datasets: list[str]  # datasets whose models are retrained (first seed)
    n_per_group: int  # noisy and clean examples whose prediction is flipped by removal
    n_ref: int  # reference examples whose loss the removal keeps
    n_noise: int  # Gaussian perturbations averaged per step
    sigma: float  # their standard deviation (standardized pixels)
    max_steps: int  # units removed at most before an example counts as never flipped
    n_rest: int  # other training examples whose accuracy is measured after removal
    forget_epochs: int  # epochs on the second split, for forgetting time
    n_second: int  # test images forming the second split

    def __post_init__(self):
        check_study(self)
        if not self.datasets:
            raise MemlibError("bad parameter datasets=[]: give at least one dataset")
        for name in ("rewind_datasets", "retrain_datasets"):
            extra = set(getattr(self, name)) - set(self.datasets)
            if extra:
                raise MemlibError(f"bad parameter {name}: {sorted(extra)} are not trained")
        if any(not 0 <= t <= self.epochs for t in self.rewind_epochs):
            raise MemlibError(f"bad parameter rewind_epochs: epochs in 0..{self.epochs}")
        if not 0 < self.retrain_peak < self.retrain_epochs:
            raise MemlibError("bad parameters: need 0 < retrain_peak < retrain_epochs")
        for name in ("n_per_group", "n_ref", "n_noise", "max_steps", "n_rest", "n_second",
                     "n_eval_clean", "n_eval_test"):  # fmt: skip
            if getattr(self, name) < 1:
                raise MemlibError(f"bad parameter {name}={getattr(self, name)}: must be >= 1")
        if self.forget_epochs < 2:
            raise MemlibError(f"bad parameter forget_epochs={self.forget_epochs}: must be >= 2")
        for d in self.datasets:
            self.config(d, self.seeds[0])  # validates the recipe now, before any work

    def config(self, dataset: str, seed: int):
        """The ``LocalizeConfig`` of one model."""
        from .localization import LocalizeConfig

        names = ("n_train", "noise", "width", "epochs", "peak_epoch", "lr", "batch_size", "bf16",
                 "channels_last")  # fmt: skip
        return LocalizeConfig(dataset=dataset, **{k: getattr(self, k) for k in names}).with_seed(seed)

    def runs(self) -> list[tuple[str, int]]:
        """(dataset, seed) of every model: the main dataset under every seed, the others once."""
        main, *rest = self.datasets
        return [(main, s) for s in self.seeds] + [(d, self.seeds[0]) for d in rest]


@dataclass(frozen=True, kw_only=True)
class TiedStudy(LocalizationStudy):
    """Maini et al. (2023), §6.2 and §7: ResNet-9s trained with example-tied dropout, on the
    data and recipe of the chapter's other pages (the values above, one source), the baselines,
    and what dropping the memorization channels forgets."""

    p_gen: float  # Tables 1 and 3: share of each block's channels that every example uses
    p_mem: float  # share of the other channels that each example also uses
    grid: list[list[float]]  # Table 2's cells, [p_gen, p_mem] each (main dataset, first seed)
    p_drop: float  # Table 3: standard dropout's drop probability
    keep: float  # Table 3: the sparse network's share of kept weights
    scorers: dict[str, str]  # forgotten examples: dataset -> the page whose recipe scores it
    fz_dataset: str  # forgotten examples: the dataset also given Feldman-Zhang estimates
    fz_models: int  # their number of models (recipe: the ground-truth page's)
    n_gallery: int  # forgotten examples shown per dataset

    def __post_init__(self):
        super().__post_init__()
        from .tied import DropoutConfig

        if not self.grid or any(len(cell) != 2 for cell in self.grid):
            raise MemlibError(
                f"bad parameter grid={self.grid}: [p_gen, p_mem] pairs, e.g. [[0.4, 0.2]]"
            )
        for g, m in self.grid:
            DropoutConfig(p_gen=g, p_mem=m)
        DropoutConfig(p_gen=self.p_gen, p_mem=self.p_mem, p_drop=self.p_drop, keep=self.keep)
        extra = set(self.scorers) - set(self.datasets)
        if extra or self.fz_dataset not in self.scorers:
            raise MemlibError(
                f"bad parameters scorers, fz_dataset: {sorted(extra) or self.fz_dataset} "
                "must be trained datasets with a scorer"
            )
        pages = {d: NOTEBOOKS.get(page) for d, page in self.scorers.items()}
        if not all(cls and issubclass(cls, Study) for cls in pages.values()):
            raise MemlibError(
                f"bad parameter scorers={self.scorers}: each must name a turn-over page"
            )
        if pages[self.fz_dataset] is not GroundTruthStudy:
            raise MemlibError(
                f"bad parameter fz_dataset={self.fz_dataset!r}: its scorer must be the "
                "ground-truth page (fz_ground_truth), whose recipe the Feldman-Zhang models take"
            )
        if self.fz_models < 2 or self.n_gallery < 1:
            raise MemlibError("bad parameters: need fz_models >= 2 and n_gallery >= 1")

    def dropout(self, seed: int, scheme: str = "tied", **changes):
        """The ``DropoutConfig`` of one model (``changes``: e.g. another p_gen)."""
        from .tied import DropoutConfig

        names = ("p_gen", "p_mem", "p_drop", "keep")
        fields = {k: getattr(self, k) for k in names}
        return DropoutConfig(scheme=scheme, **(fields | changes)).with_seed(seed)


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
    "convnet_scores": GridStudy,
    "fz_ground_truth": GroundTruthStudy,
    "maini_gradients": LocalizationStudy,
    "maini_rewinding": LocalizationStudy,
    "maini_retraining": LocalizationStudy,
    "maini_neurons": LocalizationStudy,
    "maini_tied_dropout": TiedStudy,
    "maini_tied_grid": TiedStudy,
    "maini_tied_baselines": TiedStudy,
    "maini_forgotten": TiedStudy,
    **ARPIT_PAGES,
    **NATURAL_PAGES,
}


def params_for(notebook: str, values: dict) -> Study | None:
    """Validate ``values`` (name -> value) against the notebook's parameters and build them."""
    cls = NOTEBOOKS.get(notebook)
    if cls is None:
        if values:
            raise MemlibError(f"notebook {notebook!r} takes no parameters, got {sorted(values)}")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise MemlibError(
            f"unknown parameter(s) {', '.join(unknown)} for {notebook}; "
            f"known: {', '.join(sorted(fields))}"
        )
    needed = (n for n, f in fields.items() if f.default is dataclasses.MISSING)
    missing = sorted(n for n in needed if n not in values)
    if missing:
        raise MemlibError(
            f"{notebook} needs parameter(s) {', '.join(missing)}: add them to its profile"
        )
    return cls(**values)


def load_profile(profile: str) -> dict[str, dict]:
    """Notebook name -> parameter values, from ``profiles/<profile>.yml`` (every one checked)."""
    path = PROFILES_DIR / f"{profile}.yml"
    if profile not in PROFILES or not path.exists():
        raise MemlibError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    data = yaml.safe_load(path.read_text()) or {}
    for extra in sorted((PROFILES_DIR / profile).glob("*.yml")):  # a chapter's own file
        more = yaml.safe_load(extra.read_text()) or {}
        twice = sorted(set(more) & set(data))
        if twice:
            raise MemlibError(f"profile {profile}: {', '.join(twice)} given twice ({extra.name})")
        data |= more
    values = {nb: {"profile": profile, **(v or {})} for nb, v in data.items()}
    for nb, v in values.items():
        params_for(nb, v)
    return values


def notebook_params(notebook: str, namespace: dict) -> Study | None:
    """Inside a notebook: its parameters, from the profile named by ``profile`` in
    ``namespace`` with any value set there (papermill's injected cell) on top.

    Papermill only warns about unknown parameters; this reads the injected cell (IPython's input
    history holds it, headed ``# Parameters``) and rejects names the notebook does not declare.
    """
    cls = NOTEBOOKS[notebook]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(_injected(namespace) - names)
    if unknown:
        raise MemlibError(
            f"unknown parameter(s) {', '.join(unknown)} for {notebook}; "
            f"known: {', '.join(sorted(names))}"
        )
    profile = namespace.get("profile", "cpu")
    values = load_profile(profile).get(notebook, {"profile": profile})
    return params_for(notebook, values | {k: namespace[k] for k in names if k in namespace})


def _injected(namespace: dict) -> set[str]:
    """The names assigned in the cell papermill injected, if any."""
    return {
        t.id
        for src in namespace.get("In", [])
        if src.lstrip().startswith("# Parameters")
        for node in ast.parse(src).body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def field_notes(cls: type) -> dict[str, str]:
    """Each field's comment in the class source (and its bases'): what the parameter means."""
    notes = {}
    for c in reversed(cls.__mro__[:-1]):
        for name, note in re.findall(r"^    (\w+): [^#\n]*#\s*(.+)$", inspect.getsource(c), re.M):
            notes[name] = note.strip()
    return notes
