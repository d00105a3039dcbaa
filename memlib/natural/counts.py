"""Memorized counts and their uncertainty.

An example is memorized when its estimated Feldman-Zhang score exceeds ``threshold`` (0.25, the
paper's and Feldman and Zhang's). The estimate has a standard error (``se``, from the members
that trained on the example and those that did not), so a count of the examples above a
threshold carries two kinds of error, both reported:

* **misclassification**: with ``p_i = Φ((mem_i − threshold) / se_i)``, the probability that
  example ``i``'s true score is above the threshold (a normal approximation), the expected
  number of examples on the wrong side of it is ``Σ_{counted} (1 − p_i) + Σ_{not} p_i``, and
  ``Σ p_i ± sqrt(Σ p_i (1 − p_i))`` is the count the scores imply, with its standard deviation;
* **sampling of the models**: the standard deviation of the count over bootstrap resamples of
  the ``k`` members (rows of the membership and correctness matrices), and the normal interval
  ``n ± 1.96 sd``. Not the percentile interval: a resample repeats models, so its scores are
  noisier than the estimate's and, where most examples lie below the threshold, its counts are
  biased upwards (with 16 models, a count of 11 had a percentile interval of [13, 26]). How the
  count itself drifts with the number of models is what the convergence ladder shows.

Both are approximations, tested on synthetic populations with known scores
(``tests/test_natural_counts.py``): with 64 models the expected misclassified count runs about
a tenth below the actual one (an example whose true score sits on the threshold is on the wrong
side half the time, the normal approximation gives it less), and with 16 to 32 models and many
examples just below the threshold ``expected`` drifts upwards as the count itself does. From
about 64 models on it is calibrated there.

This module only reads results: it is outside the subpackage's code version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from ..groundtruth import Z95, fz_estimate

THRESHOLD = 0.25  # Feldman and Zhang (2020), and the paper (§3.1)


@dataclass(frozen=True)
class Count:
    """A memorized count: ``n`` examples above the threshold; ``expected`` ± ``sd``, the count
    the scores' uncertainty implies; ``misclassified``, the expected number on the wrong side of
    the threshold; ``low``-``high``, ``n ± 1.96`` bootstrap standard deviations over the models."""

    n: int
    expected: float
    sd: float
    misclassified: float
    low: float = float("nan")
    high: float = float("nan")

    def __str__(self) -> str:
        boot = f", 95% [{self.low:,.0f}, {self.high:,.0f}]" if np.isfinite(self.low) else ""
        return f"{self.n:,}{boot} (± {self.sd:.0f}; ~{self.misclassified:.0f} misclassified)"


def above(est: dict, threshold: float = THRESHOLD) -> np.ndarray:
    """P(true score > threshold) per example, under a normal approximation of the estimate with
    its standard error (0 where the score is not estimated)."""
    mem, se = np.asarray(est["mem"], float), np.asarray(est["se"], float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = norm.cdf((mem - threshold) / se)
    return np.where(np.isfinite(p), p, 0.0)


def count(est: dict, threshold: float = THRESHOLD) -> Count:
    """The memorized count of one estimate, with its misclassification error (no bootstrap)."""
    counted = np.nan_to_num(np.asarray(est["mem"], float), nan=-1.0) > threshold
    p = above(est, threshold)
    wrong = float((1 - p[counted]).sum() + p[~counted].sum())
    return Count(int(counted.sum()), float(p.sum()), float(np.sqrt((p * (1 - p)).sum())), wrong)


def bootstrap(
    members: np.ndarray,
    correct: np.ndarray,
    threshold: float = THRESHOLD,
    n_boot: int = 200,
    seed: int = 0,
) -> float:
    """The standard deviation of the memorized count over ``n_boot`` resamples of the models
    (rows of ``members`` [k, n] and ``correct`` [k, n])."""
    rng = np.random.default_rng(seed)
    k = len(members)
    counts = []
    for _ in range(n_boot):
        rows = rng.integers(0, k, k)
        mem = fz_estimate(members[rows], correct[rows])["mem"]
        counts.append(int((np.nan_to_num(mem, nan=-1.0) > threshold).sum()))
    return float(np.std(counts, ddof=1))


def full(members, correct, threshold: float = THRESHOLD, n_boot: int = 200, seed: int = 0) -> Count:
    """:func:`count` with its 95% interval over the models (``n ± 1.96`` bootstrap sd, the
    lower end at least 0)."""
    c = count(fz_estimate(members, correct), threshold)
    sd = bootstrap(members, correct, threshold, n_boot, seed) if n_boot > 1 else float("nan")
    return Count(
        c.n,
        c.expected,
        c.sd,
        c.misclassified,
        float(np.maximum(0.0, c.n - Z95 * sd)),
        c.n + Z95 * sd,
    )


def memorized(est: dict, threshold: float = THRESHOLD) -> np.ndarray:
    """Which examples are memorized (estimate above the threshold; NaN never)."""
    return np.nan_to_num(np.asarray(est["mem"], float), nan=-1.0) > threshold
