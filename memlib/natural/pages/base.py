"""What every page of the "Back to Fundamentals" chapter shares: its parameters, the runs they
name, and the table of memorized counts the claims read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...config import check_types
from ...errors import MemlibError
from ...groundtruth import fz_estimate
from .. import counts, data, ensemble, nets, sweep

NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


@dataclass(frozen=True, kw_only=True)
class NaturalStudy:
    """The chapter's parameters (every page reads the same; each runs what it needs). Bad values
    fail here, before any work, in one line."""

    profile: str  # the profile these values come from (smoke, cpu or paper)
    seed: int  # the seed of every stream: subsets, initializations, data orders, planted labels
    dataset: str  # the main training set: mnist, fashion-mnist or cifar10 (a random subset)
    n_train: int  # its training examples (the paper: all of CIFAR-10's 50,000)
    n_test: int  # test examples, a random subset of the test split (the paper: 10,000)
    families: dict[str, list[int]]  # family -> its widths, smallest first (the paper: VGG, ResNet)
    lr: dict[str, float]  # family -> peak learning rate of the triangular schedule (paper: 0.4)
    epochs: int  # training epochs (the paper: 100)
    batch_size: int  # mini-batch size (the paper: 512)
    momentum: float  # SGD momentum (the paper does not give it)
    weight_decay: float  # SGD weight decay (the paper: some, unstated)
    peak: float  # share of the steps at which the learning rate peaks (the paper: unstated)
    n_models: int  # models per architecture (the paper: 2,000)
    fraction: float  # each model trains on this random share of the training set (paper: 0.7)
    chunk: int  # models trained at once, as one ensemble (one cached, resumable job)
    n_jobs: int  # joblib processes running chunks side by side (one torch thread each)
    threshold: float  # memorized: estimated score above this (the paper: 0.25)
    mid: dict[str, int]  # family -> the mid-size width followed through training (Figure 2)
    others: list[str]  # other training sets, each with every width of `other_family`
    other_family: str  # the family trained on `others` and on the planted labels
    tail_ratio: float  # the long-tailed subset ("<dataset>-lt"): largest class / smallest
    planted: int  # the artificial page: training examples given a random other label
    ladder: list[int]  # convergence: numbers of models (the largest may exceed n_models)
    n_boot: int  # bootstrap resamples of the models behind every interval
    turnover_epochs: int  # the turn-over-dropout MLP compared with the mlp1 family's mid width
    device: str = "cpu"  # cpu, cuda or auto

    def __post_init__(self):
        check_types(self)
        if self.dataset not in NAMES:
            raise MemlibError(f"bad parameter dataset={self.dataset!r}: one of {', '.join(NAMES)}")
        for o in self.others:
            if o.removesuffix("-lt") not in NAMES:
                raise MemlibError(f"bad parameter others: {o!r} is not a dataset (or <name>-lt)")
        for fam, widths in self.families.items():
            if fam not in nets.FAMILIES:
                raise MemlibError(f"bad family {fam!r}: one of {', '.join(nets.FAMILIES)}")
            if not widths or sorted(set(widths)) != widths or widths[0] < 1:
                raise MemlibError(f"bad widths of {fam}: {widths} (distinct, >= 1, increasing)")
            if fam not in self.lr or fam not in self.mid or self.mid[fam] not in widths:
                raise MemlibError(f"family {fam} needs an lr and a mid width among its widths")
        if self.other_family not in self.families:
            raise MemlibError(f"bad parameter other_family={self.other_family!r}: not a family")
        for name in ("epochs", "batch_size", "n_models", "chunk", "n_jobs", "n_boot",
                     "turnover_epochs"):  # fmt: skip
            if getattr(self, name) < 1:
                raise MemlibError(f"bad parameter {name}={getattr(self, name)}: must be >= 1")
        if not 0 < self.fraction < 1 or not 0 < self.threshold < 1:
            raise MemlibError("bad parameter fraction or threshold: both in (0, 1)")
        if self.n_models < 8 or not self.ladder or min(self.ladder) < 8:
            raise MemlibError("bad parameter n_models or ladder: at least 8 models each")
        data.DataSpec(self.dataset, self.n_train, self.n_test, planted=self.planted)
        if self.tail_ratio < 1:
            raise MemlibError(f"bad parameter tail_ratio={self.tail_ratio}: must be >= 1")

    def describe(self, short: bool = False) -> dict[str, str]:
        """What the page runs, for its header (``short``: for the book's claims table)."""
        fams = ", ".join(f"{f} ×{len(w)}" for f, w in self.families.items())
        if short:
            return {"data": f"{NAMES[self.dataset]} {self.n_train:,}", "model": fams,
                    "epochs": f"{self.epochs} ep, {self.n_models} models"}  # fmt: skip
        widths = "; ".join(f"{f} widths {', '.join(map(str, w))}" for f, w in self.families.items())
        return {
            "data": f"{NAMES[self.dataset]}, a random {self.n_train:,} training and "
            f"{self.n_test:,} test images; also {', '.join(map(pretty, self.others)) or 'no other'}"
            f" ({self.other_family} only; long-tailed: {self.tail_ratio:g} to 1)",
            "model": f"{widths}; {self.n_models} models each, on a random "
            f"{self.fraction:.0%} of the training set",
            "epochs": f"{self.epochs} epochs, batch {self.batch_size}, triangular learning rate",
        }

    def scale(self, seeds: bool = True, short: bool = False) -> dict[str, str]:
        return self.describe(short)


def data_spec(p: NaturalStudy, name: str = "", planted: int = 0) -> data.DataSpec:
    """The training set ``name`` (default: the main one; ``<dataset>-lt``: its long tail)."""
    name = name or p.dataset
    ratio = p.tail_ratio if name.endswith("-lt") else 1.0
    return data.DataSpec(name.removesuffix("-lt"), p.n_train, p.n_test, ratio, planted, p.seed)


def spec(p: NaturalStudy, family: str, width: int, dspec: data.DataSpec | None = None):
    """The estimator run of one family and width."""
    recipe = ensemble.Recipe(p.epochs, p.lr[family], p.batch_size, p.momentum, p.weight_decay,
                             p.peak)  # fmt: skip
    return sweep.RunSpec(dspec or data_spec(p), family, width, recipe, p.fraction,
                         p.seed, p.seed, p.seed, p.device)  # fmt: skip


def run(p: NaturalStudy, family: str, width: int, dspec=None, n_models: int = 0) -> sweep.Sweep:
    """Train (or load) one family and width's models."""
    return sweep.run(spec(p, family, width, dspec), n_models or p.n_models, chunk=p.chunk,
                     n_jobs=p.n_jobs, profile=p.profile)  # fmt: skip


def grid(p: NaturalStudy, dspec=None, families=None) -> dict[tuple[str, int], sweep.Sweep]:
    """Every width of every family (or of ``families``) on one training set."""
    fams = families or list(p.families)
    return {(f, w): run(p, f, w, dspec) for f in fams for w in p.families[f]}


def every_set(p: NaturalStudy) -> tuple[pd.DataFrame, dict]:
    """Every family on the main training set and ``other_family`` on the others: one row per
    run (:func:`table`, with its training set in ``data``) and the runs, by (set, family,
    width)."""
    main = grid(p)
    tables, runs = [table(main, p)], {(p.dataset, *k): s for k, s in main.items()}
    for name in p.others:
        g = grid(p, data_spec(p, name), [p.other_family])
        tables.append(table(g, p, name))
        runs |= {(name, *k): s for k, s in g.items()}
    return pd.concat(tables, ignore_index=True), runs


def row(s: sweep.Sweep, p: NaturalStudy, epoch: int = -1, rows=None) -> dict:
    """One run's memorized count at ``epoch`` (with its uncertainty) and its accuracies;
    ``rows``: only these training examples are counted (a boolean mask)."""
    m, c = s.members, s.correct(epoch)
    if rows is not None:
        m, c = m[:, rows], c[:, rows]
    cnt = counts.full(m, c, p.threshold, p.n_boot, p.seed)
    with np.errstate(invalid="ignore"):
        mean_score = float(np.nanmean(fz_estimate(m, c)["mem"]))
    return {"family": s.spec.family, "width": s.spec.width, "params": s.n_params, "k": s.k,
            "epoch": epoch % (s.epochs + 1), "count": cnt.n, "expected": cnt.expected,
            "sd": cnt.sd, "misclassified": cnt.misclassified, "low": cnt.low, "high": cnt.high,
            "mean_score": mean_score,
            **s.accuracy(epoch)}  # fmt: skip


def table(sweeps: dict, p: NaturalStudy, name: str = "") -> pd.DataFrame:
    """One row per run (family, width) at the last epoch; ``name``: the training set's."""
    out = pd.DataFrame([row(s, p) for s in sweeps.values()])
    return out.assign(data=name or p.dataset)


def pretty(name: str) -> str:
    """A training set's name as a reader sees it: "Fashion-MNIST, long-tailed"."""
    return NAMES[name.removesuffix("-lt")] + (", long-tailed" if name.endswith("-lt") else "")


def log_x(ax) -> None:
    """A log-scaled x axis with labels at the decades only."""
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())


SHORT = {"mnist": "MNIST", "fashion-mnist": "F-MNIST", "cifar10": "CIFAR-10"}


def short(name: str) -> str:
    """A training set's name in a table: "F-MNIST-LT"."""
    return SHORT[name.removesuffix("-lt")] + ("-LT" if name.endswith("-lt") else "")


def count_text(count, low, high) -> str:
    """A count as a reader sees it: n [95% interval]."""
    return f"{int(count):,} [{low:,.0f}, {high:,.0f}]"


def shown(t: pd.DataFrame) -> pd.DataFrame:
    """A table of runs as the pages show it, narrow enough for the column: the training set,
    family, width, parameters, the count with its interval, the count the scores imply (±
    sd), the expected misclassified, and the accuracies."""
    out = pd.DataFrame({
        "data": t.data.map(short), "family": t.family, "width": t.width, "params": t.params,
        "memorized [95%]": [count_text(*r) for r in zip(t["count"], t.low, t.high, strict=True)],
        "Σp ± sd": [f"{e:.0f} ± {s:.0f}" for e, s in zip(t.expected, t.sd, strict=True)],
        "miscl.": t.misclassified.round(0).astype(int),
        "train": t.train_acc.round(3), "test": t.test_acc.round(3), "gap": t.gap.round(3),
    })  # fmt: skip
    return out


def provenance(runs: list) -> str:
    """The page's provenance: the first run's line, with the compute of all its runs."""
    sweeps = [r for r in runs if isinstance(r, sweep.Sweep)]
    wall = sum(r.wall_s for r in sweeps)
    models = sum(r.k for r in sweeps)
    head = sweeps[0].provenance().split("\n")[1]
    m = sweeps[0].chunks[0].meta
    return (f"Provenance: profile {m.get('profile') or '-'} · device {m['device']} · wall "
            f"{wall / 60:.1f} min ({len(sweeps)} runs, {models:,} models)\n{head}")  # fmt: skip
