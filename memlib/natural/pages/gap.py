"""Figure 3: the memorized count against the train-test accuracy gap, across all models."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from . import base


@dataclass
class GapRuns:
    """``table``: one row per model (:func:`base.row`) of the main training set and of the
    other training sets (column ``data``)."""

    table: pd.DataFrame
    runs: list


def run(p: base.NaturalStudy) -> GapRuns:
    table, runs = base.every_set(p)
    return GapRuns(table, list(runs.values()))


def figure(t: pd.DataFrame, n_train: int) -> plt.Figure:
    """One panel per training set: the count against the gap, one marker per family."""
    from ... import plotting

    sets = list(dict.fromkeys(t.data))
    rows = -(-len(sets) // 2)
    fig, axes = plt.subplots(rows, 2, figsize=plotting.size(2, rows=rows, height=3.0),
                             squeeze=False)  # fmt: skip
    axes = axes.ravel()
    for ax in axes[len(sets) :]:
        ax.axis("off")
    for ax, d in zip(axes, sets, strict=False):
        for fam, g in t[t.data == d].groupby("family", sort=False):
            ax.errorbar(g.gap, g["count"], yerr=[g["count"] - g.low, g.high - g["count"]],
                        ls="", marker="o", ms=4, capsize=2, label=fam)  # fmt: skip
        ax.set(title=base.pretty(d), xlabel="train − test accuracy", ylabel="memorized examples")
        ax.legend(fontsize=8)
    return fig
