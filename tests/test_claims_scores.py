"""Figures 2(a), 2(b), 7 and 8: every rule through every outcome, on synthetic score tables."""

import numpy as np
import pytest
from claims_fixtures import score_run

from memlib import claims
from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE
from memlib.claims.scores import atypicality

N = 2000


def rng():
    return np.random.default_rng(0)


def long_tail():
    return rng().exponential(1.0, N) ** 3  # skewed, the top decile holds most of it


def rare_spikes():
    return np.r_[np.ones(N - 20), 3 * np.ones(20)]  # skewness > 1, top decile ~ 12%


def left_skewed_heavy_positives():  # skewness < 0, but the positive scores' tail is heavy
    return np.r_[-(rng().exponential(1, N // 2) ** 3), rng().exponential(1, N // 2) ** 2]


@pytest.mark.parametrize(
    ("scores", "muted", "verdict"),
    [
        (long_tail, 0.9, HOLDS),
        (rare_spikes, 0.9, PARTLY),
        (lambda: rng().normal(10, 1, N), 0.9, FAILS),
        (lambda: rng().normal(0, 1, N), 0.9, FAILS),  # no tail: half of it is not a tail
        (left_skewed_heavy_positives, 0.9, FAILS),  # partly needs the skewness
        (long_tail, 0.15, UNTESTABLE),  # muted sub-networks below twice chance (0.2)
    ],
)
def test_fig2a_long_tail(scores, muted, verdict):
    check = claims.fig2a_long_tail([score_run(scores(), muted=muted) for _ in range(2)])
    assert check.verdict == verdict
    if verdict == UNTESTABLE:
        assert [c.name for c in check.failed_preconditions()] == ["estimator informative"]


def test_fig2a_judges_every_seed():
    check = claims.fig2a_long_tail([score_run(long_tail()), score_run(rng().normal(10, 1, N))])
    assert check.verdict == FAILS  # one seed without a tail is enough


def _random_labels(separation):
    corrupted = np.arange(N) < N // 3
    scores = rng().normal(0, 1, N) + separation * corrupted
    return corrupted, scores


@pytest.mark.parametrize(
    ("separation", "noise_fit", "muted", "verdict", "failed"),
    [
        (4.0, 1.0, 0.9, HOLDS, []),
        (1.2, 1.0, 0.9, PARTLY, []),
        (-1.0, 1.0, 0.9, FAILS, []),
        (4.0, 0.3, 0.9, UNTESTABLE, ["noise fitted"]),
        (4.0, 1.0, 0.1, UNTESTABLE, ["estimator informative"]),
    ],
)
def test_fig2b_random_labels(separation, noise_fit, muted, verdict, failed):
    corrupted, scores = _random_labels(separation)
    run = score_run(scores, corrupted, noise_fit=noise_fit, muted=muted)
    check = claims.fig2b_random_labels([run])
    assert check.verdict == verdict
    assert [c.name for c in check.failed_preconditions()] == failed


def test_fig2b_judges_every_seed():
    runs = [score_run(s, c) for c, s in (_random_labels(4.0), _random_labels(-1.0))]
    assert claims.fig2b_random_labels(runs).verdict == FAILS


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


def _images(far: float):
    """Images [N, 1, 4, 4]: a prototype per class (label = index % 10) plus noise, the highest-
    scoring 1% (the last indices) ``far`` times as noisy as the rest."""
    g = rng()
    protos = g.normal(0, 5, (10, 1, 4, 4))
    noise = g.normal(0, 1, (N, 1, 4, 4))
    noise[-N // 100 :] *= far
    return protos[np.arange(N) % 10] + noise


@pytest.mark.parametrize("fn", [claims.fig7_gallery, claims.fig8_gallery_cifar])
@pytest.mark.parametrize(
    ("low", "far", "muted", "verdict"),
    [
        (1.0, 3.0, 0.9, HOLDS),
        (1.0, 1.0, 0.9, PARTLY),  # typical low scores only: the high ones are not atypical
        (0.5, 3.0, 0.9, FAILS),  # atypical high scores alone are not enough
        (0.5, 1.0, 0.9, FAILS),
        (1.0, 3.0, 0.1, UNTESTABLE),
    ],
)
def test_galleries_share_one_rule(fn, low, far, muted, verdict):
    check = fn([_gallery_run(low, 0.9, muted)], _images(far))
    assert check.verdict == verdict
    assert check.notes[0].passed  # the muted sub-network misses 90% of the high scores


def test_galleries_report_a_muted_network_that_knows_the_high_scores_beside_the_verdict():
    check = claims.fig7_gallery([_gallery_run(1.0, 0.2)], _images(3.0))
    assert check.notes[0].passed is False and check.verdict == HOLDS


def test_galleries_judge_every_seed():
    runs = [_gallery_run(1.0, 0.9), _gallery_run(0.5, 0.9)]
    assert claims.fig7_gallery(runs, _images(3.0)).verdict == FAILS


def test_atypicality_is_relative_to_each_class():
    a = np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [3, 0], [-3, 0]], float)  # mean 0
    images = np.r_[a, 10 * a + 50]  # the second class: the same shape, 10 times as spread
    d = atypicality(images, np.repeat([0, 1], 6))
    assert np.allclose(d, [1, 1, 1, 1, 3, 3] * 2)
