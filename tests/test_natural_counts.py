"""Memorized counts and their uncertainty (``memlib.natural.counts``), against known answers:
synthetic populations whose true scores ``p_in - p_out`` are known, drawn many times."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from memlib.groundtruth import Z95, fz_estimate
from memlib.natural.counts import THRESHOLD, Count, above, bootstrap, count, full, memorized

FRACTION = 0.7  # each model trains on this share of the examples


def population(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``p_in``, ``p_out`` of ``n`` examples: a third far above the threshold (true score 0.75),
    a third far below (0: always learned), a third near it (uniform on [0, 0.5])."""
    a = b = n // 3
    c = n - a - b
    p_out = np.concatenate([np.full(a, 0.2), np.full(b, 0.95), rng.uniform(0.4, 0.5, c)])
    mem = np.concatenate([np.full(a, 0.75), np.zeros(b), rng.uniform(0.0, 0.5, c)])
    return p_out + mem, p_out


def draw(p_in, p_out, k: int, rng: np.random.Generator, exact: bool = False):
    """``k`` models: membership [k, n] (each example in with probability FRACTION, or exactly
    FRACTION of the examples per model) and correctness ~ Bernoulli(p_in if in else p_out)."""
    n = len(p_in)
    if exact:
        members = np.zeros((k, n), bool)
        for j in range(k):
            members[j, rng.permutation(n)[: int(FRACTION * n)]] = True
    else:
        members = rng.random((k, n)) < FRACTION
    correct = rng.random((k, n)) < np.where(members, p_in, p_out)
    return members, correct


def repetitions(reps=200, n=150, k=64, exact=False, seed=0):
    """Per repetition (a fresh population and fresh models): the count, the true count and the
    actual number of examples on the wrong side of the threshold."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        p_in, p_out = population(n, rng)
        truth = (p_in - p_out) > THRESHOLD
        est = fz_estimate(*draw(p_in, p_out, k, rng, exact))
        c = count(est)
        out.append((c, int(truth.sum()), int((memorized(est) != truth).sum())))
    return out


@pytest.fixture(scope="module", params=[False, True], ids=["bernoulli", "exact-70%"])
def reps(request):
    return repetitions(exact=request.param)


def test_expected_misclassified_matches_the_actual_number_on_average(reps):
    predicted = np.mean([c.misclassified for c, _, _ in reps])
    actual = np.mean([wrong for _, _, wrong in reps])
    assert actual > 5  # enough examples near the threshold for the comparison to mean something
    # The plug-in estimate runs a little low (about 0.88 of the actual here): an example whose
    # true score sits on the threshold is on the wrong side half the time, while its estimate,
    # off the threshold by about one se, gives it ~0.25.
    assert predicted == pytest.approx(actual, rel=0.2)


def test_expected_plus_minus_two_sd_covers_the_true_count(reps):
    z = np.array([(c.expected - true) / c.sd for c, true, _ in reps])
    assert np.mean(np.abs(z) <= 2) >= 0.85  # about 0.93 to 0.96 here
    # Calibrated: neither too narrow nor too wide (sd 10x too small covers ~15% of the time;
    # 10x too large would squeeze the spread of z to ~0.1).
    assert 0.7 <= np.std(z) <= 1.4
    assert abs(np.mean(z)) < 0.75
    assert np.mean(np.abs(z) <= 0.2) < 0.5  # i.e. with sd / 10, coverage would collapse


def test_far_from_the_threshold_the_count_is_exact():
    rng = np.random.default_rng(1)
    n, k = 120, 64
    # Half always right when in and always wrong when out (score 1), half always right (0).
    p_in = np.ones(n)
    p_out = np.r_[np.zeros(n // 2), np.ones(n - n // 2)]
    members, correct = draw(p_in, p_out, k, rng)
    c = count(fz_estimate(members, correct))
    assert c.n == n // 2
    assert c.misclassified == pytest.approx(0, abs=1e-3)
    assert c.expected == pytest.approx(n // 2, abs=1e-3)
    assert c.sd == pytest.approx(0, abs=0.05)


def test_above_is_the_normal_probability_of_a_true_score_past_the_threshold():
    est = {"mem": np.array([THRESHOLD, THRESHOLD + 0.1, THRESHOLD - 0.2, np.nan, 0.9]),
           "se": np.array([0.1, 0.1, 0.1, 0.1, np.nan])}  # fmt: skip
    p = above(est)
    assert p[:3] == pytest.approx([0.5, norm.cdf(1.0), norm.cdf(-2.0)])
    assert p[3] == 0 and p[4] == 0  # not estimated: never above
    c = count(est)
    assert c.n == 2  # 0.35 and 0.9 (the NaN se does not stop the score counting)
    assert c.expected == pytest.approx(p.sum())
    assert c.misclassified == pytest.approx((1 - p[1]) + (1 - p[4]) + p[0] + p[2] + p[3])
    assert c.sd == pytest.approx(np.sqrt((p * (1 - p)).sum()))


def test_an_example_never_out_or_never_in_is_never_counted():
    members = np.array([[1, 1, 0], [1, 0, 1], [1, 1, 0], [1, 0, 1]], bool)  # 0 is never out
    members = np.c_[members, np.zeros(4, bool)]  # 3: never in
    correct = np.c_[members[:, :3], np.zeros(4, bool)]  # right exactly when trained on it
    correct[:, 3] = True
    est = fz_estimate(members, correct)
    assert np.isnan(est["mem"][0]) and np.isnan(est["mem"][3])
    assert est["mem"][1] == est["mem"][2] == 1.0
    assert memorized(est).tolist() == [False, True, True, False]
    c = count(est)
    assert c.n == 2
    assert above(est)[[0, 3]].tolist() == [0.0, 0.0]
    # NaN scores count towards neither the expected count nor its misclassification
    assert c.expected == pytest.approx(above(est)[[1, 2]].sum())
    assert c.misclassified == pytest.approx((1 - above(est)[[1, 2]]).sum())


def test_bootstrap_has_no_spread_when_the_count_cannot_change():
    rng = np.random.default_rng(2)
    row = rng.random(50) < FRACTION
    same = np.tile(row, (8, 1))  # identical models: every example always in or always out
    assert bootstrap(same, same) == 0.0
    members = rng.random((8, 50)) < FRACTION
    everything = np.ones_like(members)  # always right: every score is 0 or NaN
    assert bootstrap(members, everything) == 0.0


def test_bootstrap_sd_of_a_known_two_point_count():
    """Ten identical examples, in 2 of 4 models, right exactly when trained on: a resample
    counts all ten (score 1) when it holds a model with them and one without, else none:
    P = 1 - 2 / 2**4, so the count's sd is 10 sqrt(P (1 - P))."""
    members = np.tile(np.array([[1], [1], [0], [0]], bool), (1, 10))
    p = 1 - 2 / 2**4
    sd = bootstrap(members, members, n_boot=4000, seed=3)
    assert sd == pytest.approx(10 * np.sqrt(p * (1 - p)), rel=0.1)


def test_bootstrap_is_reproducible_by_seed():
    rng = np.random.default_rng(4)
    p_in, p_out = population(60, rng)
    members, correct = draw(p_in, p_out, 16, rng)
    a = bootstrap(members, correct, n_boot=50, seed=7)
    assert a == bootstrap(members, correct, n_boot=50, seed=7)
    assert a > 0


def test_full_is_the_count_with_its_normal_interval():
    rng = np.random.default_rng(5)
    p_in, p_out = population(90, rng)
    members, correct = draw(p_in, p_out, 24, rng)
    f = full(members, correct, n_boot=100, seed=1)
    c = count(fz_estimate(members, correct))
    assert (f.n, f.expected, f.sd, f.misclassified) == (c.n, c.expected, c.sd, c.misclassified)
    sd = bootstrap(members, correct, n_boot=100, seed=1)
    assert sd > 0
    assert f.low == pytest.approx(f.n - Z95 * sd)
    assert f.high == pytest.approx(f.n + Z95 * sd)
    assert f.low < f.n < f.high
    assert "95% [" in str(f)


def test_full_interval_never_goes_below_zero():
    rng = np.random.default_rng(7)
    p_in = np.full(40, 0.5)
    p_out = np.full(40, 0.4)  # true scores 0.1: a count of a few, with a spread
    members, correct = draw(p_in, p_out, 16, rng)
    f = full(members, correct, n_boot=100, seed=2)
    assert f.low >= 0 and f.high > f.n
    if f.n - Z95 * bootstrap(members, correct, n_boot=100, seed=2) < 0:
        assert f.low == 0


def test_full_without_a_bootstrap_has_no_interval():
    rng = np.random.default_rng(6)
    members, correct = draw(*population(30, rng), 8, rng)
    f = full(members, correct, n_boot=1)
    assert np.isnan(f.low) and np.isnan(f.high)
    assert "95%" not in str(f)
    assert isinstance(f, Count)


def test_a_higher_threshold_counts_fewer():
    rng = np.random.default_rng(7)
    est = fz_estimate(*draw(*population(90, rng), 32, rng))
    lo, hi = count(est, 0.1), count(est, 0.5)
    assert hi.n <= lo.n and hi.expected <= lo.expected
