"""Figure 1 (Arpit et al. 2017, §3.1): how hard each training example is after one epoch.

For one data condition (real, randX or randY), ``n_models`` MLPs of one shape, each from its own
initialization and data order, train for one epoch as one stack (:mod:`.ensemble`); an example's
*misclassification rate* is the share of them that get it wrong (against the condition's label)
on the ``n_examples`` measured training examples. Were all examples equally hard, the rates would
be draws of Binomial(n_models, p̄) / n_models, p̄ the mean rate: :func:`binomial_curve` is that
reference as the paper plots it, :func:`binomial_quantiles` its expected sorted curve, and
:func:`dispersion` the observed variance of the rates over the binomial's p̄(1 − p̄) / n_models.

Seeds: member ``m``'s initialization and data order come from two separate streams of ``seed``
(:func:`member_seeds`); the condition (which pixels or labels are random) has its own seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats as sps
from torch import Tensor

from ..config import describe_device, resolve_device
from ..data import load_dataset, subset_indices
from ..errors import MemlibError
from ..masks import hash32
from ..results import Computed, Result
from . import cached, ensemble
from .conditions import Condition, apply
from .train import Recipe

_INIT, _ORDER, _PICK = 0x51A7E1, 0x0D0E25, 0x9C4A11  # salts: one seed, independent streams


@dataclass(frozen=True)
class Setup:
    """The stacks of a page: every value that changes a number."""

    dataset: str  # mnist, fashion-mnist or cifar10
    n_train: int  # training subset (0: every training example), as load_dataset keeps it
    subset_seed: int  # which examples n_train keeps
    n_examples: int  # measured examples (all of the training set if it has no more)
    widths: tuple[int, ...]  # hidden ReLU layers of the MLP
    n_models: int  # initializations and data orders per condition (the paper: 100)
    lr: float  # SGD learning rate (the paper: 0.01)
    batch_size: int  # mini-batch size (the paper does not give it)
    epochs: int  # training epochs (the paper: 1)
    seed: int  # the members' initializations and data orders, and the measured examples
    conditions: tuple[Condition, ...]  # one stack each: real, randX, randY, with their seeds
    device: str = "auto"  # auto, cpu, cuda, ...

    def __post_init__(self):
        if min(self.n_examples, self.n_models, self.epochs, *self.widths) < 1:
            raise MemlibError(f"bad setup {self}: counts and widths must be > 0")
        if not self.conditions or len({c.kind for c in self.conditions}) < len(self.conditions):
            raise MemlibError(f"bad setup {self}: one or more conditions, each kind once")

    def key(self) -> dict:
        return asdict(self) | {"conditions": [c.key() for c in self.conditions], "device": None}


def member_seeds(seed: int, n_models: int) -> tuple[list[int], list[int]]:
    """The initialization seeds and the data-order seeds of the members: two streams of
    ``seed`` that share no value with each other (in practice) nor depend on the condition."""
    stream = lambda salt: [hash32(hash32(seed ^ salt) + m) for m in range(n_models)]
    return stream(_INIT), stream(_ORDER)


def measured(n_train: int, n_examples: int, seed: int) -> np.ndarray:
    """The sorted indices of the measured examples: all ``n_train`` if there are no more than
    ``n_examples``, else a random ``n_examples`` of them (from ``seed``'s own stream)."""
    if n_examples >= n_train:
        return np.arange(n_train)
    return subset_indices(n_train, n_examples, hash32(seed ^ _PICK)).numpy()


@dataclass
class DifficultyRun:
    """The cached stacks, one per condition (the same members' seeds in each). arrays:
    ``wrong_<kind>`` [M, n] (1: member m misclassifies measured example i), ``label_<kind>``
    [n] (the condition's labels), ``index`` [n] (in the training subset), ``true_label`` [n],
    ``pixel_sum`` [n] (of the real image, to check it is the same example elsewhere); history:
    one row per member and condition (init and order seed, its error on the measured
    examples)."""

    setup: Setup
    result: Result

    @property
    def meta(self) -> dict:
        return self.result.meta

    def rates(self, kind: str) -> np.ndarray:
        """Every measured example's misclassification rate over the members: [n]."""
        return self.result.arrays[f"wrong_{kind}"].mean(0)

    def provenance(self) -> str:
        return self.result.provenance()


def stack_mistakes(s: Setup, x: Tensor, y: Tensor, n_classes: int, cond: Condition,
                   idx: Tensor, progress: bool = False) -> tuple[np.ndarray, Tensor]:  # fmt: skip
    """One condition's stack trained on x [N, ...], y [N] under ``cond``: which member
    misclassifies which measured example ``idx`` [n] ([M, n] bool), and the labels used [N]."""
    xc, yc, _ = apply(x, y, cond, n_classes)
    inits, orders = member_seeds(s.seed, s.n_models)
    params = ensemble.init_stack(xc[0].numel(), s.widths, n_classes, inits, x.device)
    recipe = Recipe(epochs=s.epochs, lr=s.lr, batch_size=s.batch_size)
    data_of = torch.zeros(s.n_models, dtype=torch.long)
    ensemble.fit_stack(params, xc[None], yc[None], data_of, recipe, orders, progress=progress)
    return (ensemble.predict(params, xc[idx]) != yc[idx]).cpu().numpy(), yc


def difficulty_run(s: Setup, *, profile: str = "", progress: bool = False) -> DifficultyRun:
    """Train ``s``'s stacks, one condition after the other (cached), and record who
    misclassifies which measured example."""

    def compute(folder) -> Computed:
        device = resolve_device(s.device)
        data = load_dataset(s.dataset, n_train=s.n_train, subset_seed=s.subset_seed,
                            device=device)  # fmt: skip
        x, y = data.x_train, data.y_train
        idx = measured(len(y), s.n_examples, s.seed)
        sel = torch.as_tensor(idx, device=device)
        inits, orders = member_seeds(s.seed, s.n_models)
        arrays = {
            "index": idx,
            "true_label": y[sel].cpu().numpy(),
            "pixel_sum": x[sel].flatten(1).double().sum(1).cpu().numpy(),
        }
        rows = []
        for cond in s.conditions:
            wrong, yc = stack_mistakes(s, x, y, data.n_classes, cond, sel, progress)
            arrays[f"wrong_{cond.kind}"] = wrong.astype(np.uint8)
            arrays[f"label_{cond.kind}"] = yc[sel].cpu().numpy()
            rows.append(pd.DataFrame({"condition": cond.kind, "member": range(s.n_models),
                                      "init_seed": inits, "order_seed": orders,
                                      "error": wrong.mean(1)}))  # fmt: skip
        meta = {"device": describe_device(device), "source": data.source}
        return Computed(pd.concat(rows, ignore_index=True), arrays, meta)

    return DifficultyRun(s, cached("difficulty", s.key(), compute, meta={"profile": profile}))


# --- the equal-difficulty reference ------------------------------------------------------------


def binomial_curve(p: float, n_runs: int, n_points: int, seed: int) -> np.ndarray:
    """The paper's reference: ``n_points`` draws of Binomial(n_runs, p) / n_runs, sorted."""
    draws = np.random.default_rng(seed).binomial(n_runs, p, n_points) / n_runs
    return np.sort(draws)


def binomial_quantiles(p: float, n_runs: int, n_points: int) -> np.ndarray:
    """The expected sorted curve of that reference: the Binomial's quantiles at the plotting
    positions (i + 0.5) / n_points, divided by n_runs."""
    q = (np.arange(n_points) + 0.5) / n_points
    return sps.binom.ppf(q, n_runs, p) / n_runs


def dispersion(rates: np.ndarray, n_runs: int) -> float:
    """The variance of the rates over the Binomial's, p̄(1 − p̄) / n_runs: about 1 when every
    example is equally hard, larger when difficulty differs between examples. NaN when p̄ is
    0 or 1 (no binomial variance to compare with)."""
    rates = np.asarray(rates, dtype=np.float64)
    p = rates.mean() if len(rates) else np.nan
    if not 0 < p < 1 or len(rates) < 2:
        return float("nan")
    return float(rates.var(ddof=1) / (p * (1 - p) / n_runs))


def share_at_most(rates: np.ndarray, cut: float) -> float:
    """The share of examples misclassified in at most ``cut`` of the runs (consistently easy)."""
    return float(np.mean(np.asarray(rates) <= cut + 1e-12))


def share_at_least(rates: np.ndarray, cut: float) -> float:
    """The share of examples misclassified in at least ``cut`` of the runs (consistently hard)."""
    return float(np.mean(np.asarray(rates) >= cut - 1e-12))


def binomial_share_at_most(p: float, n_runs: int, cut: float) -> float:
    """The share the equal-difficulty reference expects at or below ``cut``: P(X ≤ ⌊cut·n⌋)."""
    return float(sps.binom.cdf(np.floor(cut * n_runs + 1e-9), n_runs, p))


def binomial_share_at_least(p: float, n_runs: int, cut: float) -> float:
    """The share it expects at or above ``cut``: P(X ≥ ⌈cut·n⌉)."""
    return float(sps.binom.sf(np.ceil(cut * n_runs - 1e-9) - 1, n_runs, p))


def within_class_dispersion(rates: np.ndarray, labels: np.ndarray, n_runs: int) -> float:
    """The variance of the rates over what equal difficulty *within each label class* gives:
    every class c its own Binomial(n_runs, p̄_c), mixed in the classes' shares. About 1 when the
    examples of a class are equally hard (however the classes differ)."""
    rates, labels = np.asarray(rates, dtype=np.float64), np.asarray(labels)
    classes = np.unique(labels)
    pc = {c: rates[labels == c].mean() for c in classes}
    p_i = np.array([pc[c] for c in labels])
    expected = np.mean(p_i * (1 - p_i)) / n_runs + p_i.var()  # law of total variance
    return float(rates.var() / expected) if expected > 0 else float("nan")
