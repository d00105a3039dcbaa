"""Figures (seaborn), each saved as PNG next to the CSV of its numbers."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import stats
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


# The book's text column is about 690 px wide at 1280 px; figures are drawn at that width, at
# 100 dpi, so that they are barely scaled down, and every text in them is at least 11 pt
# (15 px), as large as the page's small print (14.4 px).
COLUMN_INCHES = 6.8
DPI = 100


def setup() -> None:
    """The book's plotting style: seaborn's whitegrid, fonts legible at the column's width."""
    sns.set_theme(context="notebook", style="whitegrid")
    plt.rcParams.update(
        {
            "figure.dpi": DPI,
            "savefig.dpi": 150,
            "figure.constrained_layout.use": True,
            **{f"{k}.labelsize": 11 for k in ("xtick", "ytick")},
            "legend.fontsize": 11,
            "legend.title_fontsize": 11,
        }
    )


def size(ncols: int = 1, rows: int = 1, height: float = 3.3) -> tuple[float, float]:
    """A figure's size for ``rows`` rows of panels that fill the column (``ncols`` is checked:
    more than two panels in a row leave each too narrow to read)."""
    if ncols > 2:
        raise ValueError("at most two panels per row fit the column; use more rows")
    return (COLUMN_INCHES, height * rows)


def results_dir(profile: str) -> Path:
    """Where figures and their CSVs go: ``$MEMLIB_RESULTS/<profile>`` or ``results/<profile>``."""
    root = Path(os.environ.get("MEMLIB_RESULTS") or project_root() / "results")
    return root / (profile or "adhoc")


def save(fig: plt.Figure, name: str, numbers: pd.DataFrame, profile: str) -> None:
    """Save ``fig`` as ``<name>.png`` and ``numbers`` as ``<name>.csv`` under
    :func:`results_dir`."""
    out = results_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png", bbox_inches="tight")
    numbers.to_csv(out / f"{name}.csv", index=False)


def score_histogram(
    table: pd.DataFrame, hue: str | None = None, ax=None, bins: int = 100, log: bool = True
):
    """Histogram of memorization scores, optionally split by a column (e.g. ``group``)."""
    ax = ax or plt.subplots(figsize=size())[1]
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
    ax.set_xlabel("score  L(muted) − L(unmuted)")
    return ax


def curves(
    history: pd.DataFrame,
    columns: dict[str, str],
    ax=None,
    ylabel: str = "accuracy",
    smooth: int = 1,
    style: str = "-",
    legend: bool = True,
):
    """Per-epoch curves: ``columns`` maps legend label -> history column. ``smooth`` > 1 draws
    the centred sliding-window mean; the colour comes from the label's first word."""
    ax = ax or plt.subplots(figsize=size())[1]
    marker = "o" if len(history) <= 40 else None
    for label, col in columns.items():
        h = history[["epoch", col]].dropna()
        ax.plot(
            h["epoch"],
            stats.smooth(h[col], smooth),
            style,
            label=label,
            color=PALETTE.get(label.split()[0]),
            marker=marker,
            ms=3,
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend()
    return ax


def gallery(images: np.ndarray, titles: list[str], ncols: int, title_size: float = 11):
    """A grid of grey-scale or RGB images [K, C, H, W], each with its title; returns the figure.
    It fills the column's width: ``ncols`` images a row."""
    rows = -(-len(images) // ncols)
    w = COLUMN_INCHES / ncols
    lines = max(t.count("\n") + 1 for t in titles) if titles else 0
    fig, axes = plt.subplots(
        rows, ncols, figsize=(COLUMN_INCHES, rows * (w + lines * title_size / 60)), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, t in zip(axes.flat, images, titles, strict=False):
        img = np.asarray(img, dtype=np.float32)
        img = (img - img.min()) / max(float(img.max() - img.min()), 1e-8)  # per-image contrast
        if img.shape[0] == 1:
            ax.imshow(img[0], cmap="gray")
        else:
            ax.imshow(img.transpose(1, 2, 0))
        ax.set_title(t, fontsize=title_size)
    return fig


def tail_plot(scores: np.ndarray, ax=None):
    """Sorted scores against rank (log-scaled rank): the long tail, one line per seed."""
    ax = ax or plt.subplots(figsize=size())[1]
    s = np.sort(np.asarray(scores))[::-1]
    ax.plot(np.arange(1, len(s) + 1), s)
    ax.set_xscale("log")
    ax.set_xlabel("rank (highest score first)")
    ax.set_ylabel("memorization score")
    return ax


def grid_figure(table: pd.DataFrame, works: float, usable: float, chance: float) -> plt.Figure:
    """The conv-net grid: per grid point (rows), (a) the planted labels' ROC-AUC of each seed,
    with the two thresholds, and (b) the accuracies of its muted and unmuted sub-networks on the
    training set and of its prediction on the test set, with the probe's two lookup arms."""
    names = list(dict.fromkeys(table.point))
    y = {n: i for i, n in enumerate(names)}
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=size(2, height=0.32 * len(names) + 1.9), sharey=True
    )
    ax1.scatter(table.auc, table.point.map(y), color="black", s=22, zorder=3)
    lines = ((0.5, ":", "chance", "center"), (usable, "--", "usable ", "right"),
             (works, "-", " works", "left"))  # fmt: skip
    for x, style, label, align in lines:
        ax1.axvline(x, color="tab:gray", ls=style, lw=1)
        ax1.text(x, -0.9, label, ha=align, va="bottom", fontsize=10, color="tab:gray")
    ax1.set(xlabel="ROC-AUC, planted labels", xlim=(0.4, 1.0), ylim=(len(names) - 0.5, -1))
    ax1.set_yticks(range(len(names)), names)
    first = table.groupby("point", sort=False).first().reindex(names)
    marks = (("unmuted", "tab:green", "o"), ("muted", "tab:purple", "o"),
             ("test", "black", "|"), ("blank", "tab:red", "x"),
             ("other_class", "tab:orange", "+"))  # fmt: skip
    names_ = {"blank": "probe: blank", "other_class": "probe: other class"}
    for col, color, marker in marks:
        label = names_.get(col, col)
        ax2.scatter(first[col], range(len(names)), color=color, marker=marker, s=30, label=label)
    ax2.axvline(chance, color="tab:gray", ls=":", lw=1)
    ax2.set(xlabel="accuracy (first seed)", xlim=(0, 1.02), xticks=[0.25, 0.5, 0.75, 1.0])
    fig.legend(*ax2.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=11)
    return fig


def probe_curves(histories: dict[str, list[pd.DataFrame]], arms: dict[str, str], chance: float):
    """The mask-code probe through training: one panel per setting (``histories``: title ->
    one history per seed), one line per probe arm (``arms``: column -> label); solid: first
    seed, dashed: the others."""
    n = len(histories)
    fig, axes = plt.subplots((n + 1) // 2, 2, figsize=size(2, rows=(n + 1) // 2, height=2.9),
                             sharey=True, squeeze=False)  # fmt: skip
    fixed = {"probe_real": "tab:blue", "probe_blank": "tab:red", "probe_other_class": "tab:orange",
             "probe_fresh_train": "tab:green", "probe_fresh_test": "tab:purple"}  # fmt: skip
    spare = iter(sns.color_palette("colorblind", len(arms)))
    colors = {col: fixed.get(col) or next(spare) for col in arms}
    for ax, (title, hs) in zip(axes.flat, histories.items(), strict=False):
        for k, h in enumerate(hs):
            for col, label in arms.items():
                ax.plot(h.epoch, h[col], color=colors[col], ls="-" if k == 0 else "--",
                        label=label if k == 0 else None)  # fmt: skip
        ax.axhline(chance, color="tab:gray", ls=":", lw=1)
        ax.set(title=title, xlabel="epoch", ylim=(-0.02, 1.02))
    for ax in axes.flat[n:]:
        ax.axis("off")
    axes[0, 0].set_ylabel("accuracy")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if n % 2:  # the empty panel holds the legend
        axes.flat[n].legend(handles, labels, loc="center", fontsize=11)
    else:
        fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=11)
    return fig


# --- Maini et al. (2023) ----------------------------------------------------------------------


def _layer_labels(ax, layers, axis: str = "x") -> None:
    short = [name.replace("conv", "c") for name in layers]
    getattr(ax, f"set_{axis}ticks")(range(len(layers)))
    getattr(ax, f"set_{axis}ticklabels")(short)


def gradient_accounting(g: pd.DataFrame, window: tuple[int, int]) -> plt.Figure:
    """Figures 1-2: per layer, the clean, noisy and total contributions (mean over epochs), and
    the cosine between the clean and the noisy gradient per layer and epoch. ``g``: one row per
    (epoch, layer), seeds averaged."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=size(2, height=3.6),
                                   gridspec_kw={"width_ratios": [1, 1.3]})  # fmt: skip
    layers = list(dict.fromkeys(g.layer))
    m = g.groupby("layer", sort=False)[["grad_clean", "grad_noisy", "grad_total"]].mean()
    x = np.arange(len(layers))
    for i, (col, name, color) in enumerate([("grad_clean", "clean", PALETTE["clean"]),
                                            ("grad_noisy", "noisy", PALETTE["corrupted"]),
                                            ("grad_total", "total", "grey")]):  # fmt: skip
        ax1.bar(x + (i - 1) * 0.27, m.loc[layers, col], 0.27, color=color, label=name)
    _layer_labels(ax1, layers)
    ax1.set_ylabel("‖summed gradient‖ / √params")
    ax1.set_title("contribution (mean over epochs)")
    ax1.legend(fontsize=11)
    cos = g.pivot(index="layer", columns="epoch", values="grad_cos").loc[layers]
    im = ax2.imshow(cos.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                    extent=(cos.columns.min() - 0.5, cos.columns.max() + 0.5, len(layers) - 0.5, -0.5))  # fmt: skip
    _layer_labels(ax2, layers, "y")
    for e in window:
        ax2.axvline(e, color="black", lw=1, ls=":")
    ax2.set_xlabel("epoch")
    ax2.set_title("cosine(clean, noisy)")
    fig.colorbar(im, ax=ax2, fraction=0.05)
    return fig


def rewind_figure(grid: pd.DataFrame) -> plt.Figure:
    """Figure 3: the learning curves of the clean and noisy examples, and their accuracy after
    rewinding each layer to each epoch (seeds averaged)."""
    fig, axes = plt.subplots(1, 3, figsize=size(2, height=3.4),
                             gridspec_kw={"width_ratios": [1.1, 1, 1]})  # fmt: skip
    curve = grid[grid.layer == "none"]
    for col, name, color in (("clean_acc", "clean", PALETTE["clean"]),
                             ("noisy_acc", "noisy", PALETTE["corrupted"]), ("test_acc", "test", "grey")):  # fmt: skip
        axes[0].plot(curve.epoch, curve[col], color=color, label=name)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("accuracy")
    axes[0].set_title("training")
    axes[0].legend(fontsize=11)
    g = grid[grid.layer != "none"]
    layers = list(dict.fromkeys(g.layer))
    for ax, col, name in ((axes[1], "clean_acc", "clean, rewound"), (axes[2], "noisy_acc", "noisy, rewound")):
        t = g.pivot(index="layer", columns="epoch", values=col).loc[layers]
        sns.heatmap(t, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=ax is axes[2], annot=False)
        ax.set_yticks(np.arange(len(layers)) + 0.5)
        ax.set_yticklabels([n.replace("conv", "c") for n in layers], rotation=0)
        ax.set_title(name)
        ax.set_xlabel("rewound to epoch")
        ax.set_ylabel("")
    return fig


def retrain_figure(tables: dict[str, pd.DataFrame]) -> plt.Figure:
    """Figure 4: the noisy examples' accuracy (against their redrawn labels) while each layer
    is retrained on clean examples only, one panel per dataset."""
    fig, axes = plt.subplots(1, len(tables), figsize=size(2, height=3.4), sharey=True, squeeze=False)
    colors = plt.cm.viridis(np.linspace(0, 0.9, 9))
    for ax, (name, t) in zip(axes[0], tables.items()):
        for color, (layer, g) in zip(colors, t.groupby("layer", sort=False)):
            ax.plot(g.epoch, g.noisy_acc, color=color, label=layer.replace("conv", "c"))
        ax.set_title(name)
        ax.set_xlabel("retraining epoch")
    axes[0][0].set_ylabel("noisy accuracy")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=9,
               fontsize=11, handlelength=1)  # fmt: skip
    return fig


def removal_figure(removal: pd.DataFrame, layers, max_steps: int) -> plt.Figure:
    """Figure 5: units zeroed to flip each example, the accuracy lost on the rest of the
    training set, and the layers of the units (share of all zeroed), noisy against clean."""
    fig, axes = plt.subplots(1, 3, figsize=size(2, height=3.4))
    n = removal.n.where(removal.flipped, max_steps + 1)
    groups = {"noisy": removal.corrupted, "clean": ~removal.corrupted}
    bins = np.arange(0, n.max() + 2) - 0.5 if n.max() < 40 else 30
    for name, m in groups.items():
        color = PALETTE["corrupted" if name == "noisy" else "clean"]
        axes[0].hist(n[m], bins=bins, alpha=0.6, color=color, label=name)
        drop = removal.rest_before[m] - removal.rest_after[m]
        axes[1].hist(drop, bins=15, alpha=0.6, color=color, label=name)
        share = removal.loc[m, list(layers)].sum() / max(1, removal.loc[m, list(layers)].to_numpy().sum())
        axes[2].plot(range(len(layers)), share.to_numpy(), marker="o", color=color, label=name)
    axes[0].set_xlabel("units zeroed to flip")
    axes[0].set_ylabel("examples")
    axes[0].legend(fontsize=11)
    axes[1].set_xlabel("accuracy lost, rest")
    _layer_labels(axes[2], list(layers))
    axes[2].set_ylabel("share of units")
    axes[2].tick_params(axis="x", labelsize=10)
    return fig


_GROUPS = (("clean", PALETTE["clean"]), ("noisy", PALETTE["corrupted"]), ("test", "grey"))


def _group_bars(ax, table: pd.DataFrame, cols: dict[str, str], categories: list[str]) -> None:
    """Bars of the mean of ``table[cols[group]]`` per category (rows ``table.category``), one
    colour per group, with every model as a dot."""
    width = 0.8 / len(_GROUPS)
    for j, (group, color) in enumerate(_GROUPS):
        for i, c in enumerate(categories):
            v = table.loc[table.category == c, cols[group]].to_numpy(float)
            x = i + (j - 1) * width
            ax.bar(x, v.mean(), width, color=color, alpha=0.8, label=group if i == 0 else None)
            if len(v) > 1:
                ax.plot(np.full(len(v), x), v, "o", color="black", markersize=3)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels(categories)
    ax.set_ylim(0, 1.05)


def tied_figure(acc: pd.DataFrame, paper: dict) -> plt.Figure:
    """Table 1: clean, noisy and test accuracy through the examples' own channels (test: every
    channel) and after dropping the memorization channels, per dataset (bars: seed means, dots:
    seeds; crosses: the paper's values)."""
    t = acc.reset_index().rename(columns={"dataset": "category"})
    names = list(dict.fromkeys(t.category))
    fig, axes = plt.subplots(1, 2, figsize=size(2, height=3.3), sharey=True)
    modes = ((0, "before dropping", {"clean": "clean_own", "noisy": "noisy_own",
                                     "test": "test_full"}),
             (1, "after dropping", {"clean": "clean_drop", "noisy": "noisy_drop",
                                    "test": "test_drop"}))  # fmt: skip
    for k, title, cols in modes:
        _group_bars(axes[k], t, cols, names)
        for i, d in enumerate(names):
            if d in paper:
                axes[k].plot(i + np.array([-0.27, 0, 0.27]), paper[d][k], "x", color="black",
                             markersize=7, label="paper" if i == 0 else None)  # fmt: skip
        axes[k].set_title(title)
    axes[0].set_ylabel("accuracy")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4)
    return fig


def tied_grid_figure(grid: pd.DataFrame) -> plt.Figure:
    """Table 2: clean and noisy accuracy after dropping, by p_gen (columns) and p_mem (rows)."""
    fig, axes = plt.subplots(1, 2, figsize=size(2, height=2.6))
    for ax, col, name in ((axes[0], "clean_drop", "clean, dropped"),
                          (axes[1], "noisy_drop", "noisy, dropped")):  # fmt: skip
        t = grid[col].unstack(level=0)  # rows p_mem, columns p_gen
        sns.heatmap(t, ax=ax, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f", cbar=False,
                    annot_kws={"fontsize": 11})  # fmt: skip
        ax.set_title(name)
        ax.set_xlabel("p_gen")
        ax.set_ylabel("p_mem")
    return fig


def baselines_figure(acc: pd.DataFrame) -> plt.Figure:
    """Table 3: clean, noisy and test accuracy of each method at evaluation (example-tied
    dropout after dropping its memorization channels)."""
    t = acc.reset_index().rename(columns={acc.index.name or "index": "category"})
    fig, ax = plt.subplots(figsize=size(1, height=3.2))
    _group_bars(ax, t, {"clean": "clean", "noisy": "noisy", "test": "test"}, list(t.category))
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper right", ncol=3, fontsize=11)
    ax.set_ylim(0, 1.2)
    return fig


def forgotten_figure(tables: dict[str, pd.DataFrame], estimators: dict[str, list[str]]):
    """The memorization estimates of the fitted clean examples, forgotten against kept when the
    memorization channels are dropped: one panel per (dataset, estimator), as percentile ranks
    among the fitted clean examples."""
    panels = [(d, e) for d, es in estimators.items() for e in es]
    rows = -(-len(panels) // 2)
    fig, axes = plt.subplots(rows, 2, figsize=size(2, rows=rows, height=2.6), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (d, e) in zip(axes.flat, panels, strict=False):
        t = tables[d]
        fitted = t[~t.corrupted & t.correct_own]
        rank = fitted[e].rank(pct=True)
        lost = ~fitted.correct_drop
        bins = np.linspace(0, 1, 11)
        for group, name, color in ((~lost, "kept", "clean"), (lost, "forgotten", "corrupted")):
            if group.any():  # an empty group has no density
                ax.hist(rank[group], bins=bins, density=True, alpha=0.6, color=PALETTE[color],
                        label=name)  # fmt: skip
        ax.set_title(f"{d}, {e}")
        ax.set_xlabel("estimate, percentile rank")
    axes[0][0].set_ylabel("density")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=2)
    return fig
