import itertools

import numpy as np

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
