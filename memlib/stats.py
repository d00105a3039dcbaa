"""The statistics behind the claim checks, each with a slow reference in the tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as _st


def skewness(x: np.ndarray) -> float:
    """Sample skewness (Fisher-Pearson, biased): > 0 means a longer right tail."""
    return float(_st.skew(np.asarray(x, dtype=np.float64)))


def top_share(x: np.ndarray, q: float = 0.1) -> float:
    """Share of the total held by the top ``q`` fraction of values: sum(top) / sum(all)."""
    x = np.sort(np.asarray(x, dtype=np.float64))[::-1]
    k = max(1, int(round(q * len(x))))
    return float(x[:k].sum() / x.sum())


def roc_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """ROC-AUC of ``score`` for the boolean labels ``positive``: P(score_pos > score_neg), ties
    counted half (the Mann-Whitney U statistic divided by n_pos * n_neg)."""
    score, positive = np.asarray(score, dtype=np.float64), np.asarray(positive, dtype=bool)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _st.rankdata(score)  # average ranks for ties
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def first_epoch_reaching(
    values: Sequence[float], frac: float = 0.95, epochs: Sequence[int] | None = None
) -> int:
    """First epoch at which ``values`` reaches ``frac`` of its final value."""
    values = np.asarray(values, dtype=np.float64)
    epochs = np.arange(len(values)) if epochs is None else np.asarray(epochs)
    return int(epochs[np.argmax(values >= frac * values[-1])])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(_st.spearmanr(a, b).statistic)


def verdict(holds: bool, partly: bool) -> str:
    """The verdict of a claim check, from its two pre-stated criteria."""
    return "holds" if holds else "partly holds" if partly else "does not hold"


def mean_std(values: Sequence[float], fmt: str = ".3f") -> str:
    """'m ± s (n=k)' over seeds, or the single value when there is one."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 1:
        return f"{v[0]:{fmt}}"
    return f"{v.mean():{fmt}} ± {v.std(ddof=1):{fmt}} (n={len(v)})"
