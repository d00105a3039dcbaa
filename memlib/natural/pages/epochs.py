"""Figure 2: the memorized count against the epoch, for the mid-size model of every family."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from . import base


@dataclass
class EpochRuns:
    """``curves``: one row per family and epoch (0: the initialization), :func:`base.row`."""

    curves: pd.DataFrame
    runs: list


def run(p: base.NaturalStudy) -> EpochRuns:
    rows, runs = [], []
    for fam in p.families:
        s = base.run(p, fam, p.mid[fam])
        runs.append(s)
        rows += [base.row(s, p, e) for e in range(s.epochs + 1)]
    return EpochRuns(pd.DataFrame(rows), runs)


def figure(curves: pd.DataFrame, n_train: int) -> plt.Figure:
    """Left: the memorized count per epoch (band: 95% bootstrap interval over the models);
    right: the mean training and test accuracy."""
    from ... import plotting

    fig, (ax, acc) = plt.subplots(1, 2, figsize=plotting.size(2, height=3.2))
    for (fam, w), g in curves.groupby(["family", "width"], sort=False):
        line = ax.plot(g.epoch, g["count"], marker="o", ms=3, label=f"{fam} {w}")[0]
        ax.fill_between(g.epoch, g.low, g.high, color=line.get_color(), alpha=0.2)
        acc.plot(g.epoch, g.train_acc, color=line.get_color(), label=f"{fam} {w}, train")
        acc.plot(g.epoch, g.test_acc, color=line.get_color(), ls=":", label="test")
    ax.set(xlabel="epoch", ylabel=f"memorized (of {n_train:,})", title="memorized count")
    acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy (solid: train, dotted: test)",
            ylim=(0, 1.02))  # fmt: skip
    ax.legend(fontsize=8)
    return fig
