"""Figures 5 and 6, capacity and time to fit (Arpit et al. 2017): the page's parameters, recipe
and figure."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter, ScalarFormatter

from ... import plotting
from ...errors import MemlibError
from .base import DATA_NAMES, PageStudy, positive


@dataclass(frozen=True, kw_only=True)
class CapacityStudy(PageStudy):
    """Figures 5 and 6, capacity and time to fit."""

    dataset: str = "mnist"  # the dataset (the paper: MNIST)
    widths: list[int]  # hidden units per layer of the 2-hidden-layer MLPs, width sweep
    n_train: int  # training examples of the width sweep (the paper: 50,000)
    randx: list[float]  # shares of randX inputs in the width sweep (real data is always run)
    randy: list[float]  # shares of randY labels in the width sweep
    size_width: int  # hidden units per layer of the size sweep (the paper: 4,096)
    sizes: list[int]  # training-set sizes of the size sweep
    size_randx: list[float]  # shares of randX inputs in the size sweep (with real data)
    n_val: int  # held-out real test images the validation accuracy is measured on
    epochs: int  # epoch cap: a model not at 100% training accuracy by then is censored
    lr: float  # SGD learning rate (the paper: 0.01)
    momentum: float  # SGD momentum (the paper: 0, plain SGD)
    batch_size: int  # mini-batch size (the paper does not give it)
    device: str = "cpu"  # cpu, cuda, cuda:1, ...

    def check(self) -> None:
        positive(self, "n_train", "size_width", "n_val", "epochs", "lr", "batch_size")
        if self.dataset not in DATA_NAMES:
            raise MemlibError(f"bad parameter dataset={self.dataset!r}: one of {list(DATA_NAMES)}")
        for name in ("widths", "sizes"):
            v = getattr(self, name)
            if len(v) < 3 or min(v) < 1 or sorted(set(v)) != v:
                raise MemlibError(f"bad parameter {name}={v}: at least 3 increasing values > 0")
        for name in ("randx", "randy", "size_randx"):
            v = getattr(self, name)
            if not v or not all(0 < f <= 1 for f in v):
                raise MemlibError(f"bad parameter {name}={v}: shares in (0, 1], at least one")
        if self.momentum < 0 or self.momentum >= 1:
            raise MemlibError(f"bad parameter momentum={self.momentum}: must be in [0, 1)")

    def describe(self, short: bool = False) -> dict[str, str]:
        w = f"{self.widths[0]}-{self.widths[-1]}"
        if short:
            n = f"{self.n_train // 1000}k" if self.n_train >= 1000 else f"{self.n_train}"
            return {"data": f"MNIST {n}", "model": f"MLP {w}", "epochs": f"≤{self.epochs}"}
        return {
            "data": f"{DATA_NAMES[self.dataset]}, {self.n_train:,} training images (width "
            f"sweep), {self.sizes[0]:,}-{self.sizes[-1]:,} (size sweep)",
            "model": f"2-hidden-layer MLPs, {w} units (size sweep: {self.size_width})",
            "epochs": f"until 100% training accuracy, at most {self.epochs} epochs",
        }

    def recipe(self):
        from ..train import Recipe

        return Recipe(epochs=self.epochs, lr=self.lr, momentum=self.momentum,
                      batch_size=self.batch_size)  # fmt: skip


@dataclass
class CapacityRuns:
    """The page's cached stacks and their per-member summaries."""

    widths: pd.DataFrame  # one row per member of the width sweep (column width)
    sizes: pd.DataFrame  # one row per member of the size sweep (column n_train)
    results: list  # the cached stacks (Results, each with .meta)


def run(p: CapacityStudy) -> CapacityRuns:
    """Train (or load) every stack: one per width at ``n_train`` (real, randX and randY), one
    per training-set size at ``size_width`` (real and randX)."""
    from .. import capacity as cap

    seeds, recipe, meta = tuple(p.seeds), p.recipe(), {"profile": p.profile}
    kw = {"dataset": p.dataset, "n_val": p.n_val, "device": p.device, "meta": meta}
    conds = (("real", 0.0), *(("randX", f) for f in p.randx), *(("randY", f) for f in p.randy))
    results, wt, st = [], [], []
    for w in p.widths:
        r = cap.run_stack(cap.Stack(w, p.n_train, conds, seeds), recipe, **kw)
        results.append(r)
        wt.append(cap.summarize(r.history).assign(width=w, n_train=p.n_train))
    conds = (("real", 0.0), *(("randX", f) for f in p.size_randx))
    for n in p.sizes:
        r = cap.run_stack(cap.Stack(p.size_width, n, conds, seeds), recipe, **kw)
        results.append(r)
        st.append(cap.summarize(r.history).assign(width=p.size_width, n_train=n))
    return CapacityRuns(pd.concat(wt, ignore_index=True), pd.concat(st, ignore_index=True),
                        results)  # fmt: skip


def label(kind: str, fraction: float) -> str:
    return "real" if kind == "real" else f"{kind} {fraction:.0%}"


def _curves(ax, table: pd.DataFrame, x: str, y: str, kinds, cap: float | None = None):
    """One line per condition: the mean over seeds of ``y`` against ``x``; with ``cap``,
    censored members are drawn as open triangles at the cap and the mean is over fitted ones."""
    conds = table[table.kind.isin(kinds)][["kind", "fraction"]].drop_duplicates()
    conds = conds.sort_values("fraction")
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(conds)))
    for c, (_, (k, f)) in zip(colors, conds.iterrows(), strict=True):
        g = table[(table.kind == k) & (table.fraction == f)]
        m = g.groupby(x)[y].mean()
        ax.plot(m.index, m.to_numpy(), "o-", color=c, label=label(k, f), ms=4)
        if cap is not None and g.censored.any():
            cx = g[g.censored][x].unique()
            ax.plot(cx, np.full(len(cx), cap), "^", mfc="none", color=c, ms=8)
    ax.set_xscale("log", base=2)


def figure(runs: CapacityRuns, epochs: int) -> plt.Figure:
    """(a, b) Figure 5: validation accuracy against width, randX and randY; (c, d) Figure 6:
    epochs to 100% training accuracy against width and against the training-set size (real
    and randX). Open triangles at the cap: censored (never fitted)."""
    fig, axes = plt.subplots(2, 2, figsize=plotting.size(2, 2, height=3.2))
    w, s = runs.widths, runs.sizes
    for ax, kind in zip(axes[0], ("randX", "randY"), strict=True):
        _curves(ax, w, "width", "val_acc", ("real", kind))
        ax.set(xlabel="hidden units per layer", ylabel="validation accuracy", title=kind)
        at = (1, 0.55) if kind == "randX" else (1, 0.35)  # between the curves (cpu profile)
        ax.legend(fontsize=9, loc="center right", bbox_to_anchor=at)
    fit = lambda t: t.assign(fit_epoch=t.fit_epoch.where(~t.censored))
    _curves(axes[1, 0], fit(w), "width", "fit_epoch", ("real", "randX"), cap=epochs)
    axes[1, 0].set(xlabel="hidden units per layer", ylabel="epochs to 100% train acc.",
                   title=f"n = {int(w.n_train.iloc[0]):,}")  # fmt: skip
    _curves(axes[1, 1], fit(s), "n_train", "fit_epoch", ("real", "randX"), cap=epochs)
    axes[1, 1].set(xlabel="training examples", ylabel="epochs to 100% train acc.",
                   title=f"{int(s.width.iloc[0])} units")  # fmt: skip
    for ax in axes[1]:
        ax.set_yscale("log")
        lim = ax.get_ylim()
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks(
            [t for t in (1, 2, 5, 10, 20, 30, 50, 100, 200, 500, 1000) if t <= 2 * epochs]
        )
        ax.set_ylim(lim)
        ax.legend(fontsize=9)
    return fig


def numbers(runs: CapacityRuns) -> pd.DataFrame:
    """Every member of both sweeps, one row each (column sweep: width or size)."""
    return pd.concat([runs.widths.assign(sweep="width"), runs.sizes.assign(sweep="size")],
                     ignore_index=True)  # fmt: skip


def fit_table(runs: CapacityRuns) -> pd.DataFrame:
    """Epochs to 100% training accuracy over seeds ('never' where censored): one row per width
    of the width sweep and per size of the size sweep, one column per condition."""
    from ... import stats

    def epochs(g):
        return stats.describe_epochs(
            [None if c else int(e) for e, c in zip(g.fit_epoch, g.censored, strict=True)]
        )

    cols = ["kind", "fraction"]
    sweeps = {"width": (runs.widths, "width"), "n": (runs.sizes, "n_train")}
    out = {
        f"{name} {v}": t[t[x] == v].groupby(cols).apply(epochs, include_groups=False)
        for name, (t, x) in sweeps.items()
        for v in sorted(t[x].unique())
    }
    t = pd.DataFrame(out).T.fillna("-")  # randY is not in the size sweep
    t.columns = [label(k, f) for k, f in t.columns]
    return t


def provenance(runs: CapacityRuns) -> str:
    """The stacks' total training time, and the last stack's provenance."""
    total = sum(r.meta["wall_s"] for r in runs.results)
    return f"{len(runs.results)} stacks, {total:.0f} s of training in all; the last one:\n" + (
        runs.results[-1].provenance()
    )
