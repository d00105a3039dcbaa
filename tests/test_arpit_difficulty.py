"""memlib.arpit.difficulty: the equal-difficulty reference, the dispersion ratio, the seeds and
the stack's misclassification record, each against a known answer or a slow reference."""

import numpy as np
import pytest
import torch
from scipy import stats as sps

from memlib.arpit import difficulty as diff
from memlib.arpit import ensemble
from memlib.arpit.conditions import Condition
from memlib.errors import MemlibError


def test_binomial_curve_is_sorted_draws_with_the_binomials_moments():
    c = diff.binomial_curve(0.3, 100, 20_000, seed=1)
    assert np.all(np.diff(c) >= 0) and len(c) == 20_000
    assert np.all(np.isclose(c * 100, np.round(c * 100)))  # multiples of 1/100
    assert abs(c.mean() - 0.3) < 0.003  # 4 standard errors of 0.00032
    assert c.var() == pytest.approx(0.3 * 0.7 / 100, rel=0.05)  # p(1-p)/n
    assert np.array_equal(c, diff.binomial_curve(0.3, 100, 20_000, seed=1))


def test_binomial_quantiles_match_the_sorted_draws_and_a_slow_inverse_cdf():
    q = diff.binomial_quantiles(0.8, 100, 1000)
    draws = np.mean([diff.binomial_curve(0.8, 100, 1000, seed=s) for s in range(50)], 0)
    assert np.abs(q - draws).mean() < 0.01  # the expected sorted curve
    # slow reference: the smallest k with P(X <= k) >= the plotting position
    cdf = np.cumsum([sps.binom.pmf(k, 100, 0.8) for k in range(101)])
    for i in (0, 137, 500, 999):
        pos = (i + 0.5) / 1000
        assert q[i] == np.argmax(cdf >= pos - 1e-12) / 100


def test_dispersion_is_one_for_equal_difficulty_and_known_for_a_mixture():
    rng = np.random.default_rng(0)
    equal = rng.binomial(100, 0.4, 50_000) / 100
    assert diff.dispersion(equal, 100) == pytest.approx(1.0, abs=0.03)
    # half the examples at p = 0.1, half at 0.9: var = E[p(1-p)]/n + Var(p) = 0.0009 + 0.16
    p = np.repeat([0.1, 0.9], 25_000)
    mixed = rng.binomial(100, p) / 100
    assert diff.dispersion(mixed, 100) == pytest.approx((0.0009 + 0.16) / (0.25 / 100), rel=0.02)
    assert np.isnan(diff.dispersion(np.zeros(10), 100))  # no binomial variance at p = 0
    assert np.isnan(diff.dispersion(np.ones(10), 100))


def test_shares_and_the_binomials_expected_shares():
    r = np.array([0.0, 0.05, 0.06, 0.5, 0.94, 0.95, 1.0, 1.0])
    assert diff.share_at_most(r, 0.05) == 2 / 8
    assert diff.share_at_least(r, 0.95) == 3 / 8
    assert diff.binomial_share_at_most(0.1, 100, 0.05) == pytest.approx(
        sum(sps.binom.pmf(k, 100, 0.1) for k in range(6)))  # fmt: skip
    assert diff.binomial_share_at_least(0.9, 100, 0.95) == pytest.approx(
        sum(sps.binom.pmf(k, 100, 0.9) for k in range(95, 101)))  # fmt: skip
    draws = np.random.default_rng(2).binomial(100, 0.1, 200_000) / 100
    assert diff.share_at_most(draws, 0.05) == pytest.approx(
        diff.binomial_share_at_most(0.1, 100, 0.05), abs=0.003)  # fmt: skip


def test_within_class_dispersion_removes_differences_between_classes():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 40_000)
    p = np.where(labels == 1, 0.6, 0.9)  # classes differ, examples within a class do not
    r = rng.binomial(100, p) / 100
    assert diff.dispersion(r, 100) > 3
    assert diff.within_class_dispersion(r, labels, 100) == pytest.approx(1.0, abs=0.03)


def test_member_seeds_are_separate_streams_and_measured_examples():
    inits, orders = diff.member_seeds(0, 50)
    assert len(set(inits)) == 50 and len(set(orders)) == 50 and not set(inits) & set(orders)
    assert diff.member_seeds(1, 50)[0] != inits and diff.member_seeds(0, 3)[0] == inits[:3]
    assert np.array_equal(diff.measured(300, 1000, 0), np.arange(300))
    m = diff.measured(5000, 1000, 0)
    assert len(np.unique(m)) == 1000 and np.all(np.diff(m) > 0) and m.max() < 5000
    for bad in ({"n_examples": 0}, {"conditions": (Condition(), Condition())}):
        with pytest.raises(MemlibError):
            diff.Setup(**(_SETUP | bad))


_SETUP = dict(dataset="mnist", n_train=40, subset_seed=0, n_examples=25, widths=(8,),
              n_models=3, lr=0.5, batch_size=8, epochs=1, seed=4, device="cpu",
              conditions=(Condition(), Condition("randY", 1.0, seed=2)))  # fmt: skip


def test_difficulty_run_records_each_members_mistakes(tmp_path, monkeypatch):
    """Tiny stacks on synthetic data: the record equals the predictions of each condition's
    stack built again with the same seeds (the same members in every condition); cached on a
    second call, which loads no data."""
    from memlib.arpit.conditions import apply
    from memlib.arpit.train import Recipe
    from memlib.data import Dataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 1, 2, 3, generator=g)
    y = (x.flatten(1)[:, 0] > 0).long()
    data = Dataset(name="toy", source="toy", x_train=x, y_train=y, x_test=x[:4], y_test=y[:4],
                   true_y_train=y, corrupted=torch.zeros(40, dtype=torch.bool),
                   n_classes=2)  # fmt: skip
    calls = []
    monkeypatch.setattr(diff, "load_dataset", lambda *a, **k: calls.append(1) or data)
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    s = diff.Setup(**_SETUP)
    r = diff.difficulty_run(s)
    a = r.result.arrays
    idx = torch.as_tensor(diff.measured(40, 25, 4))
    assert np.array_equal(a["index"], idx.numpy())
    assert np.allclose(a["pixel_sum"], x[idx].flatten(1).double().sum(1).numpy())
    inits, orders = diff.member_seeds(4, 3)
    for cond in s.conditions:
        xs, ys, _ = apply(x, y, cond, 2)
        params = ensemble.init_stack(6, (8,), 2, inits)
        ensemble.fit_stack(params, xs[None], ys[None], torch.zeros(3, dtype=torch.long),
                           Recipe(epochs=1, lr=0.5, batch_size=8), orders)  # fmt: skip
        wrong = (ensemble.predict(params, xs[idx]) != ys[idx]).numpy()
        assert a[f"wrong_{cond.kind}"].shape == (3, 25)
        assert np.array_equal(a[f"wrong_{cond.kind}"], wrong)
        assert np.array_equal(a[f"label_{cond.kind}"], ys[idx].numpy())
        assert np.allclose(r.rates(cond.kind), wrong.mean(0))
    assert not np.array_equal(a["label_real"], a["label_randY"])
    assert len(calls) == 1 and np.array_equal(diff.difficulty_run(s).rates("real"),
                                              r.rates("real"))  # fmt: skip
    assert len(calls) == 1  # the second call loads the cache
