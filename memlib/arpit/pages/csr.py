"""Figures 7 to 9, the critical sample ratio (Arpit et al. 2017): the page's parameters, recipe
and figure."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from ...errors import MemlibError
from .base import PageStudy, positive

ARCH = {"mnist": "mlp", "cifar10": "cnn"}  # the paper's network for each dataset


@dataclass(frozen=True, kw_only=True)
class CSRStudy(PageStudy):
    """Figures 7 to 9, the critical sample ratio."""

    mnist_train: int  # MNIST training images, a random subset (0: all 60,000)
    mnist_widths: list[int]  # the MLP's hidden widths (the paper: 4,096 and 4,096)
    mnist_epochs: int  # MLP training epochs (the paper: 1,000)
    mnist_lr: float  # the MLP's SGD learning rate, constant, no momentum (the paper: 0.01)
    mnist_batch: int  # the MLP's mini-batch size (the paper does not give it)
    mnist_fractions: list[float]  # noise fractions of randX and of randY (Figure 7: 0.2 to 0.8)
    cifar_train: int  # CIFAR-10 training images, a random subset (0: all 50,000)
    cifar_width: float  # the CNN's channel and dense-layer multiplier (the paper: 1.0)
    cifar_epochs: int  # CNN training epochs
    cifar_lr: float  # the CNN's initial SGD learning rate, momentum 0.9 (the paper: 0.01)
    cifar_halve_every: int  # halve the CNN's learning rate every k epochs (the paper: 15)
    cifar_batch: int  # the CNN's mini-batch size (the paper does not give it)
    cifar_fractions: list[float]  # noise fractions of Figure 8 (Figure 9's 100% runs are added)
    n_val: int  # validation points (a random set of the test split) for the accuracy curves
    n_csr: int  # of those validation points, how many have their CSR measured
    n_measure: int  # epochs at which the CSR is measured, spread evenly from 0 to the last
    r: float  # LASS box radius, 0-255 pixel units (the paper: 0.3)
    alpha: float  # LASS signed-gradient step, 0-255 pixel units (the paper: 0.25)
    beta: float  # LASS noise scale, 0-255 pixel units (the paper: 0.2)
    max_iter: int  # LASS steps per point at most (the paper does not give it)
    device: str = "auto"  # cpu, cuda or auto

    def check(self) -> None:
        positive(self, "mnist_epochs", "mnist_lr", "mnist_batch", "cifar_width", "cifar_epochs",
                 "cifar_lr", "cifar_batch", "n_val", "n_csr", "r", "alpha", "max_iter")  # fmt: skip
        for name in ("mnist_train", "cifar_train", "cifar_halve_every", "beta"):
            if getattr(self, name) < 0:
                raise MemlibError(f"bad parameter {name}={getattr(self, name)}: must be >= 0")
        if any(w < 1 for w in self.mnist_widths) or not self.mnist_widths:
            raise MemlibError(f"bad parameter mnist_widths={self.mnist_widths}: widths >= 1")
        for name in ("mnist_fractions", "cifar_fractions"):
            v = getattr(self, name)
            if not v or any(not 0 < f < 1 for f in v) or len(set(v)) != len(v):
                raise MemlibError(f"bad parameter {name}={v}: distinct fractions in (0, 1)")
        if self.n_measure < 2:
            raise MemlibError(f"bad parameter n_measure={self.n_measure}: at least 2 (0, last)")
        if self.n_val > 10_000:
            raise MemlibError(f"bad parameter n_val={self.n_val}: the test split has 10,000")
        if self.n_csr > self.n_val:
            raise MemlibError(f"bad parameter n_csr={self.n_csr}: at most n_val={self.n_val}")

    def describe(self, short: bool = False) -> dict[str, str]:
        n = lambda k: f"{k:,}" if k else "all"
        mlp = "×".join(map(str, self.mnist_widths))
        if short:
            return {"data": f"MNIST {n(self.mnist_train)}, CIFAR {n(self.cifar_train)}",
                    "model": f"MLP {mlp}, CNN ×{self.cifar_width:g}",
                    "epochs": f"{self.mnist_epochs} / {self.cifar_epochs} ep"}  # fmt: skip
        fr = lambda v: ", ".join(f"{f:.0%}" for f in v)
        return {
            "data": f"MNIST ({n(self.mnist_train)} training images; randX and randY at "
            f"{fr(self.mnist_fractions)}) and CIFAR-10 ({n(self.cifar_train)}; at "
            f"{fr(self.cifar_fractions)} and 100%); CSR of {self.n_csr:,} validation points "
            f"at {self.n_measure} epochs",
            "model": f"MLP {mlp} (SGD lr {self.mnist_lr:g}) and the CNN at width "
            f"{self.cifar_width:g} (SGD momentum 0.9, lr {self.cifar_lr:g} halved every "
            f"{self.cifar_halve_every} epochs); LASS r {self.r:g}, α {self.alpha:g}, "
            f"β {self.beta:g}, at most {self.max_iter} steps",
            "epochs": f"{self.mnist_epochs} (MNIST), {self.cifar_epochs} (CIFAR-10) epochs",
        }


def conditions(p: CSRStudy, dataset: str, seed: int) -> list:
    """The data conditions of a dataset: real, then randX and randY at each noise fraction
    (CIFAR-10: also 100%, Figure 9)."""
    from ..conditions import Condition

    fractions = p.mnist_fractions if dataset == "mnist" else [*p.cifar_fractions, 1.0]
    return [Condition("real", 0.0, seed)] + [
        Condition(kind, f, seed) for kind in ("randX", "randY") for f in sorted(set(fractions))
    ]


@dataclass
class CSRRuns:
    """The page's runs: ``curves`` (one row per dataset, condition, seed and epoch: train_acc,
    train_acc_clean, train_acc_noisy, val_acc, csr), ``units`` (dataset -> one 0-255 pixel unit
    in standardized units, per channel) and the cached results behind them."""

    curves: pd.DataFrame
    units: dict[str, list[float]]
    results: list


def run(p: CSRStudy) -> CSRRuns:
    """Train (or load) every network of the page and measure its CSR through training."""
    from ...config import describe_device, resolve_device
    from .. import csr
    from ..train import Recipe

    dev = resolve_device(p.device)
    meta = {"profile": p.profile, "device": describe_device(dev)}
    rows, units, results = [], {}, []
    lass = {"r": p.r, "alpha": p.alpha, "beta": p.beta, "max_iter": p.max_iter}
    for dataset in ("mnist", "cifar10"):
        if dataset == "mnist":
            recipe = Recipe(p.mnist_epochs, p.mnist_lr, batch_size=p.mnist_batch)
            net = {"widths": tuple(p.mnist_widths)}
        else:
            recipe = Recipe(p.cifar_epochs, p.cifar_lr, momentum=0.9, batch_size=p.cifar_batch,
                            halve_every=p.cifar_halve_every)  # fmt: skip
            net = {"width": p.cifar_width}
        n_train = p.mnist_train if dataset == "mnist" else p.cifar_train
        for seed in p.seeds:
            for cond in conditions(p, dataset, seed):
                res = csr.run(dataset=dataset, arch=ARCH[dataset], cond=cond, seed=seed,
                              n_train=n_train, n_val=p.n_val, n_csr=p.n_csr, recipe=recipe,
                              n_measure=p.n_measure, lass=lass, device=dev, meta=meta,
                              **net)  # fmt: skip
                results.append(res)
                units[dataset] = [float(u) for u in res.arrays["pixel_unit"]]
                h = res.history.assign(dataset=dataset, kind=cond.kind, fraction=cond.share,
                                       seed=seed)  # fmt: skip
                rows.append(h)
    return CSRRuns(pd.concat(rows, ignore_index=True), units, results)


# --- the figure --------------------------------------------------------------------------------

PANELS = (  # (dataset, kind, title)
    ("mnist", "randX", "MNIST, noise on the inputs (Fig. 7a)"),
    ("mnist", "randY", "MNIST, noise on the labels (Fig. 7b)"),
    ("cifar10", "randX", "CIFAR-10, noise on the inputs (Fig. 8a)"),
    ("cifar10", "randY", "CIFAR-10, noise on the labels (Fig. 8b)"),
)


def figure(curves: pd.DataFrame) -> plt.Figure:
    """Figures 7 to 9: for each dataset and kind of noise, the accuracy (solid: training, dotted:
    validation) and the CSR of the validation points through training, one colour per noise
    fraction (0%: real data); then Figure 9: CIFAR-10's CSR for real, randX and randY (100%).
    Means over seeds."""
    import matplotlib as mpl

    from ... import plotting

    m = curves.groupby(["dataset", "kind", "fraction", "epoch"], as_index=False).mean(
        numeric_only=True
    )
    fig, axes = plt.subplots(5, 2, figsize=plotting.size(2, rows=5, height=2.5))
    cmap = mpl.colormaps["viridis"]
    for (dataset, kind, title), (acc_ax, csr_ax) in zip(PANELS, axes[:4], strict=True):
        d = m[(m.dataset == dataset) & ((m.kind == kind) | (m.kind == "real"))]
        for f, g in d.groupby("fraction"):
            c = cmap(0.9 * f)
            acc_ax.plot(g.epoch, g.train_acc, color=c, label=f"{f:.0%}")
            acc_ax.plot(g.epoch, g.val_acc, color=c, ls=":")
            k = g.dropna(subset=["csr"])
            csr_ax.plot(k.epoch, k.csr, color=c, marker="o", ms=3)
        acc_ax.set(title=title, ylabel="accuracy", ylim=(0, 1.02))
        csr_ax.set(title="CSR of the validation points", ylabel="CSR")
        csr_ax.set_ylim(bottom=0)
        acc_ax.legend(title="noise", fontsize=8, title_fontsize=8, ncol=2, loc="best")
    d = m[(m.dataset == "cifar10") & (m.fraction.isin([0.0, 1.0]))]
    colors = {"real": "tab:blue", "randX": "tab:orange", "randY": "tab:red"}
    for kind, g in d.groupby("kind"):
        k = g.dropna(subset=["csr"])
        axes[4, 0].plot(k.epoch, k.csr, color=colors[kind], marker="o", ms=3, label=kind)
        axes[4, 1].plot(g.epoch, g.train_acc, color=colors[kind], label=kind)
        axes[4, 1].plot(g.epoch, g.val_acc, color=colors[kind], ls=":")
    axes[4, 0].set(title="CIFAR-10, CSR (Fig. 9)", ylabel="CSR")
    axes[4, 0].set_ylim(bottom=0)
    axes[4, 1].set(title="CIFAR-10, accuracy (100% noise)", ylabel="accuracy", ylim=(0, 1.02))
    axes[4, 0].legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    return fig


def table(curves: pd.DataFrame) -> pd.DataFrame:
    """The numbers behind the figure: each run's measured epochs (CSR with the accuracies)."""
    cols = ["dataset", "kind", "fraction", "seed", "epoch", "train_acc", "val_acc", "csr"]
    return curves.dropna(subset=["csr"])[cols].reset_index(drop=True)
