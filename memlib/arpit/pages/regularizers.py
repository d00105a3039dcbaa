"""Figures 10 and 11, regularizers (Arpit et al. 2017, §5): the page's parameters, recipe and
figures. Its unregularized runs are also Figure 2's (the filters page reads them)."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...errors import MemlibError
from .. import regularizers as R
from ..train import Recipe
from .base import PageStudy, positive


@dataclass(frozen=True, kw_only=True)
class CNNStudy(PageStudy):
    """The CNN runs shared by the filters and regularizers pages (the same values in both
    profiles, so that the book trains the unregularized models once)."""

    n_train: int  # CIFAR-10 training images (0: all 50,000)
    n_val: int  # validation images (a fixed random draw from the CIFAR-10 test split)
    width: float  # the CNN's channel multiplier (1.0: the paper's 200 channels, 384/192 units)
    epochs: int  # training epochs of every run
    lr: float  # SGD learning rate (the paper: 0.01), momentum 0.9
    halve_every: int  # halve the learning rate every k epochs (the paper: 15)
    batch_size: int  # mini-batch size (the paper does not give it)
    device: str = "cpu"  # where to train: cpu or cuda

    def check(self) -> None:
        positive(self, "n_val", "width", "epochs", "lr", "batch_size")
        if not 0 <= self.n_train <= 50_000 or self.n_val > 10_000:
            raise MemlibError("bad parameter n_train or n_val: CIFAR-10 has 50,000 and 10,000")
        if self.halve_every < 0:
            raise MemlibError(f"bad parameter halve_every={self.halve_every}: must be >= 0")
        if self.device not in ("cpu", "cuda"):
            raise MemlibError(f"bad parameter device={self.device!r}: cpu or cuda")

    def setup(self) -> R.Setup:
        recipe = Recipe(self.epochs, self.lr, momentum=0.9, batch_size=self.batch_size,
                        halve_every=self.halve_every)  # fmt: skip
        return R.Setup(self.n_train, self.n_val, self.width, recipe, self.device)

    def channels(self) -> int:
        return max(1, round(200 * self.width))

    def describe(self, short: bool = False) -> dict[str, str]:
        n = self.n_train or 50_000
        if short:
            data = f"CIFAR-10 {n / 1000:g}k" if n >= 1000 else f"CIFAR-10 {n}"
            return {"data": data, "model": f"CNN ×{self.width:g}", "epochs": str(self.epochs)}
        return {
            "data": f"CIFAR-10, {n:,} training images, real labels and randY",
            "model": f"the paper's small AlexNet at width {self.width:g} "
            f"({self.channels()} channels)",
            "epochs": f"{self.epochs} epochs, SGD lr {self.lr:g} (momentum 0.9, halved every "
            f"{self.halve_every})",
        }

    def meta(self) -> dict:
        return {"profile": self.profile, "device": self.device}


@dataclass(frozen=True, kw_only=True)
class RegularizersStudy(CNNStudy):
    """Figures 10 and 11, regularizers."""

    strengths: dict[str, list[float]]  # regularizer -> its strengths (0, none, is always run)
    adversarial: list[list[float]]  # dropout + adversarial training: [weight, dropout] pairs

    def check(self) -> None:
        super().check()
        for name, values in self.strengths.items():
            if name not in R.FIELDS or name == "adversarial":
                known = ", ".join(k for k in R.FIELDS if k != "adversarial")
                raise MemlibError(f"bad regularizer {name!r} in strengths: one of {known}")
            for v in values:
                R.regularizer(name, v)  # fails on a bad value
        for pair in self.adversarial:
            R.regularizer("adversarial", pair)
        if not self.strengths.get("dropout") and not self.adversarial:
            raise MemlibError("bad parameters: the claim needs dropout or adversarial settings")

    def settings(self) -> list[tuple[str, object]]:
        """(regularizer, strength) of every run, the unregularized one first."""
        out = [("none", 0.0)]
        out += [(n, v) for n, vs in self.strengths.items() for v in vs]
        return out + [("adversarial", list(pair)) for pair in self.adversarial]


def run(p: CNNStudy) -> dict:
    """Train (or load) every run of the page: ``table`` (one row per regularizer setting and
    seed: train_acc on randY, best_val and final_val on real data) and ``runs`` (name ->
    {"randY": result, "real": result} per seed)."""
    setup, rows, runs = p.setup(), [], {}
    settings = p.settings() if hasattr(p, "settings") else [("none", 0.0)]
    for seed in p.seeds:
        for name, strength in settings:
            reg = R.regularizer(name, strength)
            pair = {k: R.cnn_run(setup, k, reg, seed, p.meta()) for k in ("randY", "real")}
            runs[name, R.strength_label(name, strength), seed] = pair
            rand, real = R.summary(pair["randY"]), R.summary(pair["real"])
            rows.append({"regularizer": name, "strength": R.strength_label(name, strength),
                         "order": len(rows), "seed": seed, "randY_train_acc": rand["train_acc"],
                         "real_train_acc": real["train_acc"], "best_val": real["best_val"],
                         "final_val": real["final_val"]})  # fmt: skip
    table = pd.DataFrame(rows)
    return {"table": table, "runs": runs,
            "results": [r for pair in runs.values() for r in pair.values()]}  # fmt: skip


MARKERS = {"none": "o", "dropout": "o", "input_dropout": "s", "input_noise": "^",
           "hidden_noise": "v", "weight_decay": "D", "adversarial": "*"}  # fmt: skip
COLOURS = {"dropout": "tab:blue", "input_dropout": "tab:orange", "input_noise": "tab:green",
           "hidden_noise": "tab:purple", "weight_decay": "tab:brown",
           "adversarial": "tab:red", "none": "black"}  # fmt: skip


def mean_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table averaged over seeds, one row per (regularizer, strength), in run order."""
    cols = ["randY_train_acc", "real_train_acc", "best_val", "final_val"]
    g = table.groupby(["regularizer", "strength"], sort=False)
    return g[cols].mean().join(g.order.min()).sort_values("order").reset_index()


def figure10(table: pd.DataFrame) -> plt.Figure:
    """Figure 10: final training accuracy on randY (x) against best validation accuracy on
    real data (y), one curve per regularizer from no regularization to its strongest."""
    m = mean_table(table)
    base = m[m.regularizer == "none"].iloc[0]
    fig, ax = plt.subplots(figsize=(6.8, 5.2))
    for name, g in m[m.regularizer != "none"].groupby("regularizer", sort=False):
        x = np.r_[base.randY_train_acc, g.randY_train_acc]
        y = np.r_[base.best_val, g.best_val]
        ax.plot(x, y, marker=MARKERS[name], color=COLOURS[name], label=R.LABELS[name],
                markersize=9 if name == "adversarial" else 6, lw=1.6)  # fmt: skip
    ax.plot(base.randY_train_acc, base.best_val, "o", color="black", ms=9, label="none", zorder=5)
    ax.axhline(base.best_val, color="grey", ls="--", lw=1)
    ax.axvline(base.randY_train_acc / 2, color="grey", ls=":", lw=1)
    ax.set_xlabel("final training accuracy on randY")
    ax.set_ylabel("best validation accuracy, real data")
    ax.set_xlim(0, 1.02)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False)  # fmt: skip
    return fig


def figure11(runs: dict, table: pd.DataFrame, seed: int) -> plt.Figure:
    """Figure 11: training loss per epoch on randY (left) and real data (right), for no
    regularization and each regularizer at its middle strength (the stronger of two)."""
    fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.6), sharey=True)
    chosen = [("none", "0")]
    for name, g in table[(table.seed == seed) & (table.regularizer != "none")].groupby(
        "regularizer", sort=False
    ):
        chosen.append((name, g.strength.iloc[len(g) // 2]))
    for ax, kind in zip(axes, ("randY", "real"), strict=True):
        for name, s in chosen:
            h = runs[name, s, seed][kind].history
            h = h[h.epoch > 0]
            ax.plot(h.epoch, h.loss, color=COLOURS[name], lw=1.5,
                    label=f"{R.LABELS[name]}" + ("" if name == "none" else f" ({s})"))  # fmt: skip
        ax.set_title(kind, fontsize=12)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False)  # fmt: skip
    return fig
