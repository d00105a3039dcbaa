import itertools

import numpy as np
import pandas as pd
import pytest

from memlib import stats
from memlib.stats import first_epoch_reaching, mean_std, roc_auc, skewness, top_share


def test_roc_auc_against_all_pairs():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 20, 300).astype(float)  # many ties
    pos = rng.random(300) < 0.3
    pairs = [(a > b) + 0.5 * (a == b) for a, b in itertools.product(s[pos], s[~pos])]
    assert abs(roc_auc(s, pos) - np.mean(pairs)) < 1e-12
    assert roc_auc(np.arange(10), np.arange(10) >= 5) == 1.0


def test_top_share_and_skewness():
    x = np.array([1.0] * 9 + [91.0])
    assert top_share(x, 0.1) == 0.91
    assert skewness(x) > 2 and abs(skewness(np.array([1.0, 2.0, 3.0]))) < 1e-12


def test_first_epoch_reaching():
    assert first_epoch_reaching([0.1, 0.5, 0.96, 0.97, 1.0], 0.95) == 2
    assert first_epoch_reaching([0.1, 0.5, 1.0], 0.95, epochs=[0, 5, 10]) == 10
    assert mean_std([1.0]) == "1.000" and mean_std([1.0, 3.0]).startswith("2.000 ± 1.414")
    assert mean_std([-1.0, -3.0], "+.1f") == "-2.0 ± 1.4 (n=2)"  # the sign on the mean only


def test_verdict():
    from memlib.stats import verdict

    assert verdict(True, True) == "holds" and verdict(False, True) == "partly holds"
    assert verdict(False, False) == "does not hold"


def test_smooth_and_epoch_helpers():
    v = [0.0, 1.0, 2.0, 3.0, 10.0]
    np.testing.assert_allclose(stats.smooth(v, 3), [0.5, 1.0, 2.0, 5.0, 6.5])
    np.testing.assert_allclose(stats.smooth(v, 1), v)
    assert stats.first_epoch_above([0.1, 0.4, 0.6, 0.95], 0.5) == 2
    assert stats.first_epoch_above([0.1, 0.4], 0.5) is None
    assert stats.first_epoch_above([0.1, 0.9], 0.5, epochs=[0, 5]) == 5
    assert stats.describe_epochs([None, None]) == "never (all 2 seeds)"
    assert stats.describe_epochs([3]) == "3.0"
    assert stats.describe_epochs([2, 4, None]) == "3.0 ± 1.4 (n=2); never in 1 of 3 seeds"


def test_correlations_precision_and_intervals_against_slow_references():
    rng = np.random.default_rng(0)
    fz = rng.random(300)
    to = fz + 0.3 * rng.standard_normal(300)
    top = lambda x, k: set(np.argsort(-x)[:k])
    assert stats.precision_at_k(to, fz, 30) == len(top(to, 30) & top(fz, 30)) / 30
    assert stats.precision_at_k(fz, fz, 30) == 1.0
    assert abs(stats.pearson(to, fz) - pd.Series(to).corr(pd.Series(fz))) < 1e-12
    ranks = np.corrcoef(pd.Series(to).rank(), pd.Series(fz).rank())[0, 1]
    assert abs(stats.spearman(to, fz) - ranks) < 1e-12
    assert stats.spearman_brown(0.5) == pytest.approx(2 / 3)
    assert stats.spearman_brown(0.5, factor=3) == pytest.approx(0.75)
    lo, hi = stats.bootstrap_ci(np.mean, fz, n=500)
    assert lo < fz.mean() < hi and (lo, hi) == stats.bootstrap_ci(np.mean, fz, n=500)
    means = [fz[i].mean() for i in np.random.default_rng(0).integers(0, 300, (500, 300))]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
