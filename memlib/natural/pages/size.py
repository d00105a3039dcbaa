"""Figure 1: memorized count against the number of parameters, within each family; how the
counts converge with the number of models; the cost of the paper profile."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import counts, nets
from . import base


@dataclass
class SizeRuns:
    """``table``: one row per training set, family and width (:func:`base.row`);
    ``convergence``: the count of one run from its first k models, for every k of the ladder."""

    table: pd.DataFrame
    convergence: pd.DataFrame
    runs: list
    turnover: pd.DataFrame | None = None


def run(p: base.NaturalStudy) -> SizeRuns:
    """Every family on the main training set, ``other_family`` on the others, and the ladder."""
    table, by_key = base.every_set(p)
    runs = list(by_key.values())
    fam = next(iter(p.families))
    big = base.run(p, fam, p.mid[fam], n_models=max(max(p.ladder), p.n_models))
    runs.append(big)
    tov = None
    if "mlp1" in p.families:
        tov, score_run = turnover(p, by_key[(p.dataset, "mlp1", p.mid["mlp1"])])
        runs.append(score_run)
    return SizeRuns(table, convergence(big, p), runs, tov)


def turnover(p: base.NaturalStudy, s) -> tuple[pd.DataFrame, object]:
    """The turn-over-dropout MLP of the same width on the same training set (the first part's
    recipe: one model, SGD at 0.06, batch 256, ``turnover_epochs`` epochs), its scores against
    the run's Feldman-Zhang scores and memorized set."""
    from ... import stats
    from ...config import RunConfig
    from ...runs import score_run

    cfg = RunConfig(dataset=s.spec.data.dataset, n_train=p.n_train, subset_seed=p.seed,
                    hidden=s.spec.width, epochs=p.turnover_epochs, device=p.device)  # fmt: skip
    run = score_run(cfg, profile=p.profile, progress=False)
    t = run.table
    if not np.array_equal(t.true_label.to_numpy(), s.data.true_y.numpy()):
        raise RuntimeError("the turn-over run trained on other examples than the ensemble")
    est = s.estimate()
    mem, score = est["mem"], t.score.to_numpy(float)
    ok = np.isfinite(mem)
    memorized = counts.memorized(est, p.threshold)
    k = int(memorized.sum())
    row = {"family": "mlp1", "width": s.spec.width,
           "spearman": stats.spearman(score[ok], mem[ok]),
           "auc (memorized)": stats.roc_auc(score, memorized) if 0 < k < len(mem) else np.nan,
           "precision at k": stats.precision_at_k(score, np.where(ok, mem, -1), k) if k else np.nan,
           "k": k, "muted_acc": float(run.history.muted_acc.iloc[-1])}  # fmt: skip
    return pd.DataFrame([row]), run


def convergence(s, p: base.NaturalStudy) -> pd.DataFrame:
    """The count from the first k models of ``s`` (k on the ladder), with its uncertainty."""
    rows = []
    for k in sorted(set(p.ladder)):
        if k > s.k:
            continue
        c = counts.full(s.members[:k], s.correct()[:k], p.threshold, p.n_boot, p.seed)
        rows.append({"k": k, "count": c.n, "expected": c.expected, "sd": c.sd,
                     "misclassified": c.misclassified, "low": c.low, "high": c.high})  # fmt: skip
    return pd.DataFrame(rows).assign(family=s.spec.family, width=s.spec.width)


def figure(t: pd.DataFrame, conv: pd.DataFrame, n_train: int) -> plt.Figure:
    """Left: the memorized count against parameters per family (main training set; bars: 95%
    bootstrap intervals over the models); middle: the other training sets; right: the count
    against the number of models."""
    from ... import plotting

    fig, axes = plt.subplots(2, 2, figsize=plotting.size(2, rows=2, height=3.2))
    axes = axes.ravel()
    axes[3].axis("off")
    main = t[t.data == t.data.iloc[0]]
    for ax, d in ((axes[0], main), (axes[1], t[t.data != t.data.iloc[0]])):
        by = "family" if ax is axes[0] else "data"
        for name, g in d.groupby(by, sort=False):
            g = g.sort_values("params")
            err = [g["count"] - g.low, g.high - g["count"]]
            label = name if by == "family" else base.pretty(name)
            ax.errorbar(g.params, g["count"], yerr=err, marker="o", ms=4, capsize=2, label=label)
        base.log_x(ax)
        ax.set(xlabel="parameters", ylabel="memorized examples")
        ax.legend(fontsize=8)
    axes[0].set_title(f"{base.pretty(main.data.iloc[0])} ({n_train:,}), every family")
    axes[1].set_title("other training sets")
    c = conv.sort_values("k")
    axes[2].errorbar(c.k, c["count"], yerr=[c["count"] - c.low, c.high - c["count"]], marker="o",
                     ms=4, capsize=2, label="count, 95% bootstrap")  # fmt: skip
    axes[2].plot(c.k, c.expected, ls="--", color="grey", label="Σ P(score > threshold)")
    base.log_x(axes[2])
    axes[2].set(xlabel="models", ylabel="memorized",
                title=f"convergence ({c.family.iloc[0]} {c.width.iloc[0]})")  # fmt: skip
    axes[2].set_xticks(c.k, [str(k) for k in c.k])
    axes[2].legend(fontsize=8)
    return fig


def cost(
    p: base.NaturalStudy,
    in_shape=(3, 32, 32),
    n_classes: int = 10,
    n_train: int = 50_000,
    n_test: int = 10_000,
    tflops: float = 50.0,
) -> pd.DataFrame:
    """FLOPs and GPU hours of ``p``'s families at ``p``'s recipe on a training set of
    ``n_train`` (each model on ``fraction`` of it) with every model evaluated on every
    training and test example at every epoch; ``tflops``: the sustained throughput assumed."""
    rows = []
    for fam, widths in p.families.items():
        for w in widths:
            f = nets.flops(fam, w, in_shape, n_classes)
            train = 3 * f * p.fraction * n_train * p.epochs * p.n_models
            evals = f * (n_train + n_test) * (p.epochs + 1) * p.n_models
            rows.append({"family": fam, "width": w,
                         "params": nets.n_params(fam, w, in_shape, n_classes),
                         "PFLOP": (train + evals) / 1e15,
                         "GPU hours": (train + evals) / (tflops * 1e12) / 3600})  # fmt: skip
    out = pd.DataFrame(rows)
    bits = (p.epochs + 1) * p.n_models * (n_train + n_test) / 8
    return out.assign(**{"correctness GB": bits / 1e9})


def numbers(t: pd.DataFrame) -> pd.DataFrame:
    """The table behind the figure."""
    cols = ["data", "family", "width", "params", "k", "count", "low", "high", "expected", "sd",
            "misclassified", "train_acc", "test_acc", "gap"]  # fmt: skip
    return t[cols].round(3)
