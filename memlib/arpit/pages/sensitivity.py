"""Figures 3 and 4, loss sensitivity (Arpit et al. 2017): the page's parameters, recipe and
figure."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from ...errors import MemlibError
from .. import sensitivity as sens
from ..conditions import Condition
from .base import PageStudy, positive

CONDITIONS = ("real", "randX", "randY")  # the page's training sets, each 100% of its kind
COLORS = {"real": "tab:blue", "randX": "tab:orange", "randY": "tab:red"}


@dataclass(frozen=True, kw_only=True)
class SensitivityStudy(PageStudy):
    """Figures 3 and 4, loss sensitivity."""

    n_train: int = 1000  # MNIST training digits (the paper: 1,000), downscaled to 14×14
    widths: list[int] = (16, 16)  # hidden ReLU layers of the MLP (the paper: 2 of 16)
    batch_size: int = 20  # SGD minibatch size (the paper does not say)
    lr: float = 0.1  # SGD learning rate, no momentum (the paper does not say)
    n_steps: int = 800  # SGD updates unrolled (the paper's Figure 3: about 10^5)
    every: int = 100  # g^t is taken every this many updates, from the end of the first epoch

    def check(self) -> None:
        positive(self, "n_train", "batch_size", "lr", "n_steps", "every")
        if not self.widths or min(self.widths) <= 0:
            raise MemlibError(f"bad parameter widths={list(self.widths)}: positive layer sizes")
        if self.n_train > 60_000:
            raise MemlibError(f"bad parameter n_train={self.n_train}: MNIST has 60,000 digits")
        if self.n_steps * self.batch_size < self.n_train:
            raise MemlibError(
                f"bad parameter n_steps={self.n_steps}: fewer than one epoch of "
                f"{self.n_train} examples at batch size {self.batch_size}"
            )

    def describe(self, short: bool = False) -> dict[str, str]:
        w = "×".join(map(str, self.widths))
        if short:
            return {"data": f"MNIST {self.n_train} 14²", "model": f"MLP {w}",
                    "epochs": f"{self.n_steps} steps"}  # fmt: skip
        epochs = self.n_steps * self.batch_size / self.n_train
        return {
            "data": f"{self.n_train} MNIST digits at 14×14: real, randX and randY",
            "model": f"MLP, hidden layers {w}, SGD (batch {self.batch_size}, lr {self.lr:g})",
            "epochs": f"{self.n_steps} updates ({epochs:g} epochs) unrolled, g^t every "
            f"{self.every}",
        }


def run(p: SensitivityStudy) -> dict[str, list]:
    """Every condition's unrolled run, one per seed: condition -> [Result, ...]."""
    return {
        kind: [
            sens.run(
                Condition(kind, 1.0, seed=s),
                seed=s,
                n_train=p.n_train,
                widths=tuple(p.widths),
                batch_size=p.batch_size,
                lr=p.lr,
                n_steps=p.n_steps,
                every=p.every,
                profile=p.profile,
            )  # fmt: skip
            for s in p.seeds
        ]
        for kind in CONDITIONS
    }


def gini_table(res: dict[str, list]) -> pd.DataFrame:
    """One row per (condition, seed, grid step): step, gini, loss, acc."""
    rows = [
        r.history.assign(condition=kind, seed=r.config["seed"])
        for kind, runs in res.items()
        for r in runs
    ]
    return pd.concat(rows, ignore_index=True)[["condition", "seed", "step", "gini", "loss", "acc"]]


def matrices(res: dict[str, list]) -> dict[str, np.ndarray]:
    """Figure 4's ``ḡ_{i,j}`` of each condition [seeds, C, C]."""
    out = {}
    for kind, runs in res.items():
        out[kind] = np.stack([
            sens.class_matrix(r.arrays["per_class"], r.arrays["y"], r.arrays["per_class"].shape[1])
            for r in runs
        ])  # fmt: skip
    return out


def figure(res: dict[str, list]) -> plt.Figure:
    """Top: Figure 3, the Gini coefficient of ``ḡ_x`` over examples against training step
    (mean over seeds, each seed a thin line), with the training accuracy beside it. Bottom:
    Figure 4, the per-class matrices of real and randY data (mean over seeds, log colour)."""
    table, mats = gini_table(res), matrices(res)
    fig = plt.figure(figsize=(6.8, 7.4))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.15])
    ax_g, ax_a = top.subplots(1, 2)
    for kind, g in table.groupby("condition", sort=False):
        for _, s in g.groupby("seed"):
            ax_g.plot(s.step, s.gini, color=COLORS[kind], lw=0.8, alpha=0.4)
            ax_a.plot(s.step, s.acc, color=COLORS[kind], lw=0.8, alpha=0.4)
        m = g.groupby("step")[["gini", "acc"]].mean()
        ax_g.plot(m.index, m.gini, color=COLORS[kind], lw=2, label=kind)
        ax_a.plot(m.index, m.acc, color=COLORS[kind], lw=2, label=kind)
    ax_g.set(xlabel="SGD update t", ylabel="Gini of ḡ over examples", ylim=(0, 1))
    ax_a.set(xlabel="SGD update t", ylabel="training accuracy", ylim=(0, 1))
    ax_g.legend(loc="upper left")
    shown = [k for k in ("real", "randY") if k in mats]
    m = {k: mats[k].mean(0) for k in shown}
    lo = min(float(v[v > 0].min()) for v in m.values())
    hi = max(float(v.max()) for v in m.values())
    axes = bottom.subplots(1, len(shown))
    for ax, kind in zip(np.atleast_1d(axes), shown, strict=True):
        im = ax.imshow(m[kind], norm=LogNorm(lo, hi), cmap="viridis")
        ax.set(title=f"{kind}: ḡ(i, j)", xlabel="class j of the example x",
               ylabel="loss of class i", xticks=range(10), yticks=range(10))  # fmt: skip
        ax.grid(False)
    bottom.colorbar(im, ax=axes, shrink=0.8, label="loss sensitivity (log)")
    return fig


def summary(res: dict[str, list]) -> pd.DataFrame:
    """One row per condition and seed: the last step's Gini of ``ḡ`` and training accuracy, and
    the off-diagonal share of the per-class matrix."""
    from ...claims.sensitivity import off_diagonal

    table, mats = gini_table(res), matrices(res)
    last = table.sort_values("step").groupby(["condition", "seed"], sort=False).last()
    rows = []
    for kind, runs in res.items():
        off = off_diagonal(mats[kind])
        for r, o in zip(runs, off, strict=True):
            s = last.loc[(kind, r.config["seed"])]
            rows.append({"condition": kind, "seed": r.config["seed"], "step": int(s.step),
                         "gini": s.gini, "train_acc": s.acc, "off_diagonal": o})  # fmt: skip
    return pd.DataFrame(rows).set_index(["condition", "seed"])
