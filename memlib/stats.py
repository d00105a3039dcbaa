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
    return f"{v.mean():{fmt}} ± {v.std(ddof=1):{fmt.lstrip('+')}} (n={len(v)})"


def smooth(values: Sequence[float], window: int = 5) -> np.ndarray:
    """Centred sliding-window mean (the paper's "sliding-window smoothed" curves); the window
    shrinks at the ends, so the first and last epochs keep a value."""
    v = np.asarray(values, dtype=np.float64)
    if window <= 1:
        return v
    half = window // 2
    return np.array([v[max(0, i - half) : i + half + 1].mean() for i in range(len(v))])


def first_epoch_above(
    values: Sequence[float], level: float, epochs: Sequence[int] | None = None
) -> int | None:
    """First epoch at which ``values`` reaches ``level`` (absolute), or None if it never does."""
    values = np.asarray(values, dtype=np.float64)
    epochs = np.arange(len(values)) if epochs is None else np.asarray(epochs)
    hit = np.flatnonzero(values >= level)
    return int(epochs[hit[0]]) if len(hit) else None


def describe_epochs(values: Sequence[int | None]) -> str:
    """Epochs over seeds, where None means "never": 'm ± s (n=k)', 'never', or both."""
    seen = [v for v in values if v is not None]
    never = len(values) - len(seen)
    if not seen:
        return "never" + (f" (all {len(values)} seeds)" if len(values) > 1 else "")
    text = mean_std(seen, ".1f")
    return text + (f"; never in {never} of {len(values)} seeds" if never else "")


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.asarray(a, np.float64), np.asarray(b, np.float64))[0, 1])


def precision_at_k(score: np.ndarray, reference: np.ndarray, k: int) -> float:
    """Share of the ``k`` highest ``reference`` examples that are also among the ``k`` highest
    ``score`` ones (ties broken in favour of the lower index)."""
    top = lambda x: set(np.argsort(-np.asarray(x, np.float64), kind="stable")[:k])
    return len(top(score) & top(reference)) / k


def bootstrap_ci(
    fn, *arrays: np.ndarray, n: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of ``fn(*arrays)`` over ``n`` resamples of the examples (rows)."""
    rng = np.random.default_rng(seed)
    m = len(arrays[0])
    stats = [fn(*(np.asarray(a)[i] for a in arrays)) for i in rng.integers(0, m, (n, m))]
    lo, hi = np.nanpercentile(stats, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def spearman_brown(r: float, factor: float = 2.0) -> float:
    """Reliability of an average over ``factor`` times as many measurements, from one of ``r``
    (the split-half correlation of two halves gives the whole's with factor 2)."""
    return factor * r / (1 + (factor - 1) * r)
