"""Beyond the paper: artificial (planted random labels) against natural memorization, as the
models of one family grow."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from .. import counts
from . import base


@dataclass
class ArtificialRuns:
    """``table``: one row per width: the natural count (the unplanted examples,
    :func:`base.row`) and ``count_planted`` (the planted examples memorized, with ``low_planted``
    and ``high_planted``)."""

    table: pd.DataFrame
    runs: list


def run(p: base.NaturalStudy) -> ArtificialRuns:
    d = base.data_spec(p, planted=p.planted)
    rows, runs = [], []
    for w in p.families[p.other_family]:
        s = base.run(p, p.other_family, w, d)
        runs.append(s)
        planted = s.data.planted.cpu().numpy()
        r = base.row(s, p, rows=~planted)
        c = counts.full(s.members[:, planted], s.correct()[:, planted], p.threshold, p.n_boot,
                        p.seed)  # fmt: skip
        rows.append(r | {"count_planted": c.n, "low_planted": c.low, "high_planted": c.high,
                         "fit_planted": _fit(s, planted)})  # fmt: skip
    return ArtificialRuns(pd.DataFrame(rows), runs)


def shown(t: pd.DataFrame) -> pd.DataFrame:
    """The page's table, narrow enough for the column."""
    planted = zip(t.count_planted, t.low_planted, t.high_planted, strict=True)
    return pd.DataFrame({
        "width": t.width, "params": t.params,
        "planted memorized [95%]": [base.count_text(*r) for r in planted],
        "fit planted": t.fit_planted.round(3),
        "natural memorized [95%]": [base.count_text(*r) for r in
                                    zip(t["count"], t.low, t.high, strict=True)],
        "train": t.train_acc.round(3), "test": t.test_acc.round(3),
    })  # fmt: skip


def _fit(s, rows) -> float:
    """The members' accuracy on the examples ``rows`` they trained on (the planted labels)."""
    m = s.members[:, rows]
    return float(s.correct()[:, rows][m].mean())


def figure(t: pd.DataFrame, planted: int, n_train: int) -> plt.Figure:
    """Left: the memorized share of the planted examples; right: the natural count."""
    from ... import plotting

    fig, (a, b) = plt.subplots(1, 2, figsize=plotting.size(2, height=3.0))
    t = t.sort_values("params")
    a.errorbar(t.params, t.count_planted / planted, marker="o", ms=4, capsize=2, color="tab:red",
               yerr=[(t.count_planted - t.low_planted) / planted,
                     (t.high_planted - t.count_planted) / planted])  # fmt: skip
    base.log_x(a)
    base.log_x(b)
    a.set(ylim=(0, 1.02), xlabel="parameters", ylabel="memorized share",
          title=f"artificial: {planted:,} planted labels")  # fmt: skip
    b.errorbar(t.params, t["count"], yerr=[t["count"] - t.low, t.high - t["count"]], marker="o",
               ms=4, capsize=2)  # fmt: skip
    b.set(xlabel="parameters", ylabel=f"memorized (of {n_train - planted:,})",
          title="natural: the other examples")  # fmt: skip
    return fig
