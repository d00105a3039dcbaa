"""Figures 2(a), 2(b), 7 and 8: every rule through every outcome, on synthetic score tables."""

import numpy as np
import pytest
from claims_fixtures import score_run

from memlib import claims
from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE

RNG = np.random.default_rng(0)
N = 2000


def long_tail():
    return RNG.exponential(1.0, N) ** 3  # skewed, the top decile holds most of it


def rare_spikes():
    return np.r_[np.ones(N - 20), 3 * np.ones(20)]  # skewness > 1, top decile ~ 12%


@pytest.mark.parametrize(
    ("scores", "muted", "verdict"),
    [
        (long_tail, 0.9, HOLDS),
        (rare_spikes, 0.9, PARTLY),
        (lambda: RNG.normal(10, 1, N), 0.9, FAILS),
        (long_tail, 0.15, UNTESTABLE),  # muted sub-networks below twice chance (0.2)
    ],
)
def test_fig2a_long_tail(scores, muted, verdict):
    check = claims.fig2a_long_tail([score_run(scores(), muted=muted) for _ in range(2)])
    assert check.verdict == verdict
    if verdict == UNTESTABLE:
        assert [c.name for c in check.failed_preconditions()] == ["estimator informative"]


def test_fig2a_judges_every_seed():
    check = claims.fig2a_long_tail([score_run(long_tail()), score_run(RNG.normal(10, 1, N))])
    assert check.verdict == FAILS  # one seed without a tail is enough


def _random_labels(separation):
    corrupted = np.arange(N) < N // 3
    scores = RNG.normal(0, 1, N) + separation * corrupted
    return corrupted, scores


@pytest.mark.parametrize(
    ("separation", "noise_fit", "verdict"),
    [(4.0, 1.0, HOLDS), (1.2, 1.0, PARTLY), (-1.0, 1.0, FAILS), (4.0, 0.3, UNTESTABLE)],
)
def test_fig2b_random_labels(separation, noise_fit, verdict):
    corrupted, scores = _random_labels(separation)
    check = claims.fig2b_random_labels([score_run(scores, corrupted, noise_fit=noise_fit)])
    assert check.verdict == verdict
    if verdict == UNTESTABLE:
        assert [c.name for c in check.failed_preconditions()] == ["noise fitted"]


def _gallery_run(low_agree: float, high_muted_miss: float, muted=0.9):
    """Scores ascending with the index: the lowest 1% agree at rate ``low_agree``; the muted
    sub-network misses the highest 1% at rate ``high_muted_miss``."""
    run = score_run(np.arange(N, dtype=float), muted=muted)
    t = run.table
    k = N // 100
    wrong = (t.label + 1) % 10
    t.loc[: int(k * (1 - low_agree)) - 1, "pred_muted"] = wrong[: int(k * (1 - low_agree))]
    top = t.index[-k:][: int(k * high_muted_miss)]
    t.loc[top, "pred_muted"] = wrong[top]
    return run


@pytest.mark.parametrize("fn", [claims.fig7_gallery, claims.fig8_gallery_cifar])
@pytest.mark.parametrize(
    ("low", "high", "muted", "verdict"),
    [
        (1.0, 0.9, 0.9, HOLDS),
        (1.0, 0.2, 0.9, PARTLY),  # typical low scores only
        (0.5, 0.9, 0.9, FAILS),  # peculiar high scores alone are not enough
        (1.0, 0.9, 0.1, UNTESTABLE),
    ],
)
def test_galleries_share_one_rule(fn, low, high, muted, verdict):
    assert fn([_gallery_run(low, high, muted)]).verdict == verdict
