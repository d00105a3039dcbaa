"""Figure 4: transient memorization, model-wise (memorized by a small model, not by a large
one) and temporal (memorized at the peak epoch, not at the last)."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...claims.natural import stages, transient_stats
from .. import counts
from . import base


@dataclass
class TransientRuns:
    """The numbers behind the two kinds of transient memorization (``model_wise``,
    ``temporal``: ``claims.natural.transient_stats``), the scores they compare, and the
    long-tailed set's per-class counts (``tail``: None without one)."""

    model_wise: dict
    temporal: dict
    scores: dict[str, np.ndarray]
    tail: dict | None
    per_class: pd.DataFrame | None
    runs: list


def transient(memorizing: dict, other: dict, threshold: float) -> tuple[np.ndarray, dict]:
    """The points memorized under the estimate ``memorizing`` and not under ``other`` (same
    training set: a small model against a large one, the peak epoch against the last), and
    their numbers, scored under ``memorizing`` (the condition that memorizes them)."""
    m = counts.memorized(memorizing, threshold)
    t = m & ~counts.memorized(other, threshold)
    noise = sum(counts.count(e, threshold).misclassified for e in (memorizing, other))
    return t, transient_stats(memorizing["mem"], t, noise, m)


def run(p: base.NaturalStudy) -> TransientRuns:
    fam = next(iter(p.families))
    widths = p.families[fam]
    small, large = base.run(p, fam, widths[0]), base.run(p, fam, widths[-1])
    es, el = small.estimate(), large.estimate()
    _, mw = transient(es, el, p.threshold)
    mid = base.run(p, fam, p.mid[fam])
    curve = pd.DataFrame([base.row(mid, p, e) for e in range(mid.epochs + 1)])
    peak = stages(curve)["peak_epoch"]
    ep, last = mid.estimate(peak), mid.estimate()
    _, tw = transient(ep, last, p.threshold)
    scores = {f"{fam} {widths[0]}": es["mem"], f"{fam} {widths[-1]}": el["mem"],
              f"{fam} {p.mid[fam]}, epoch {peak} (peak)": ep["mem"],
              f"{fam} {p.mid[fam]}, epoch {mid.epochs} (last)": last["mem"]}  # fmt: skip
    runs = [small, large, mid]
    tail = per_class = None
    lt = [o for o in p.others if o.endswith("-lt")]
    if lt:
        of = p.families[p.other_family]
        d = base.data_spec(p, lt[0])
        s2, l2 = base.run(p, p.other_family, of[0], d), base.run(p, p.other_family, of[-1], d)
        runs += [s2, l2]
        e2, f2 = s2.estimate(), l2.estimate()
        t2, _ = transient(e2, f2, p.threshold)
        y = s2.data.y_train.cpu().numpy()
        sizes = np.bincount(y)
        rare = np.argsort(sizes, kind="stable")[: len(sizes) // 2]
        in_rare = np.isin(y, rare)
        tail = {"n": int(t2.sum()), "transient": float(in_rare[t2].mean()) if t2.any() else 0.0,
                "data": float(in_rare.mean())}  # fmt: skip
        per_class = pd.DataFrame({
            "class": np.arange(len(sizes)), "examples": sizes,
            "small": np.bincount(y, counts.memorized(e2, p.threshold), len(sizes)),
            "large": np.bincount(y, counts.memorized(f2, p.threshold), len(sizes)),
            "transient": np.bincount(y, t2, len(sizes)),
        }).astype({"small": int, "large": int, "transient": int})  # fmt: skip
    return TransientRuns(mw, tw, scores, tail, per_class, runs)


def figure(r: TransientRuns, threshold: float, tail_name: str = "") -> plt.Figure:
    """(a) The distribution of scores of the small and the large model; (b) of the mid-size
    model at its peak epoch and at the last; (c) the long-tailed set: memorized share per class
    by the small and the large model."""
    from ... import plotting

    rows = 2 if r.per_class is not None else 1
    fig, axes = plt.subplots(rows, 2, figsize=plotting.size(2, rows=rows, height=3.2))
    axes = axes.ravel()
    if rows == 2:
        axes[3].axis("off")
    bins = np.linspace(-0.2, 1.0, 25)
    names = list(r.scores)
    for ax, pair, title in ((axes[0], names[:2], "(a) model-wise"),
                            (axes[1], names[2:], "(b) temporal")):  # fmt: skip
        for name in pair:
            v = r.scores[name]
            ax.hist(v[np.isfinite(v)], bins=bins, histtype="step", lw=1.5, label=name)
        ax.axvline(threshold, color="grey", ls=":")
        ax.set(yscale="log", xlabel="estimated memorization score", ylabel="examples",
               title=title)  # fmt: skip
        ax.legend(fontsize=7)
    if r.per_class is not None:
        c = r.per_class
        x = np.arange(len(c))
        axes[2].bar(x - 0.2, c.small / c.examples, 0.4, label="smallest")
        axes[2].bar(x + 0.2, c.large / c.examples, 0.4, label="largest")
        axes[2].set(xticks=x, xlabel="class (largest first)", ylabel="memorized share",
                    title=f"(c) {base.pretty(tail_name)}" if tail_name else "(c)")  # fmt: skip
        axes[2].legend(fontsize=7)
    return fig


def numbers(r: TransientRuns) -> pd.DataFrame:
    """One row per kind of transient memorization: the count against the estimator's expected
    misclassified points, the transient points' mean score (± sd), that of every point
    memorized under the same condition, and all points'."""
    rows = [{"kind": k, "transient": v["n"], "expected from noise": round(v["noise"], 1),
             "mean score": f"{v['mean']:.3f} ± {v['sd']:.3f}",
             "memorized: n, mean": f"{v['mem_n']:,}, {v['mem_mean']:.3f}",
             "all points": f"{v['all_mean']:.3f} ± {v['all_sd']:.3f}"}
            for k, v in (("model-wise", r.model_wise), ("temporal", r.temporal))]  # fmt: skip
    return pd.DataFrame(rows)
