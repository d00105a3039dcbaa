"""Figures (seaborn), each saved as PNG next to the CSV of its numbers."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .results import project_root

PALETTE = {
    "easy": "tab:blue",
    "difficult": "tab:red",
    "clean": "tab:blue",
    "corrupted": "tab:red",
    "unmuted": "tab:green",
    "muted": "tab:purple",
    "full": "black",
}


def setup() -> None:
    sns.set_theme(context="notebook", style="whitegrid")


def results_dir(profile: str) -> Path:
    """Where figures and their CSVs go: ``$MEMLIB_RESULTS/<profile>`` or ``results/<profile>``."""
    root = Path(os.environ.get("MEMLIB_RESULTS") or project_root() / "results")
    return root / (profile or "adhoc")


def save(fig: plt.Figure, name: str, numbers: pd.DataFrame, profile: str) -> Path:
    """Save ``fig`` as ``<name>.png`` and ``numbers`` as ``<name>.csv``; return the folder."""
    out = results_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png", dpi=150, bbox_inches="tight")
    numbers.to_csv(out / f"{name}.csv", index=False)
    return out


def score_histogram(
    table: pd.DataFrame, hue: str | None = None, ax=None, bins: int = 100, log: bool = True
):
    """Histogram of memorization scores, optionally split by a column (e.g. ``group``)."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    sns.histplot(
        data=table,
        x="score",
        hue=hue,
        bins=bins,
        element="step",
        ax=ax,
        palette=PALETTE if hue else None,
        stat="count",
        common_bins=True,
    )
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("memorization score  L(muted) − L(unmuted)")
    return ax


def curves(history: pd.DataFrame, columns: dict[str, str], ax=None, ylabel: str = "accuracy"):
    """Per-epoch curves: ``columns`` maps legend label -> history column."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    for label, col in columns.items():
        ax.plot(
            history["epoch"], history[col], label=label, color=PALETTE.get(label), marker="o", ms=3
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


def tail_plot(scores: np.ndarray, ax=None):
    """Sorted scores against rank (log-scaled rank): the long tail, one line per seed."""
    ax = ax or plt.subplots(figsize=(7, 4))[1]
    s = np.sort(np.asarray(scores))[::-1]
    ax.plot(np.arange(1, len(s) + 1), s)
    ax.set_xscale("log")
    ax.set_xlabel("rank (highest score first)")
    ax.set_ylabel("memorization score")
    return ax
