"""The Figure 1 difficulty claim, driven through every outcome with synthetic rates."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from memlib import claims
from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE

N, RUNS = 1000, 100


def _rates(p, seed) -> np.ndarray:
    """Rates of examples whose own probabilities of being misclassified are ``p``."""
    return np.random.default_rng(seed).binomial(RUNS, np.broadcast_to(p, (N,))) / RUNS


def _real(seed=0) -> np.ndarray:  # a third easy, a third hard-ish, the rest in between
    p = np.concatenate(
        [np.full(N // 3, 0.01), np.full(N // 3, 0.99), np.full(N - 2 * (N // 3), 0.5)]
    )
    return _rates(p, seed)


def _table(real=None, randx=None, randy=None, score=None) -> pd.DataFrame:
    labels = np.arange(N) % 10
    t = pd.DataFrame({
        "index": np.arange(N), "label": labels,
        "rate_real": _real() if real is None else real,
        "rate_randX": _rates(0.88, 1) if randx is None else randx,
        "rate_randY": _rates(0.88, 2) if randy is None else randy,
    })  # fmt: skip
    if score is not None:
        t["score"] = score
    return t


def _scorer(muted=0.7):
    table = pd.DataFrame({"true_label": np.arange(N) % 10})
    return SimpleNamespace(history=pd.DataFrame({"muted_acc": [muted], "unmuted_acc": [1.0]}),
                           table=table)  # fmt: skip


def _check(t, **kw):
    return claims.arpit_difficulty(t, RUNS, n_boot=100, **kw)


def test_holds_on_real_patterns_and_binomial_random_data():
    c = _check(_table())
    assert c.verdict == HOLDS, str(c)
    assert c.key[0].startswith("dispersion")
    real = float(c.key[1].split(" / ")[0])
    assert real > 50  # var ≈ 0.22 against 0.0025 for p̄ ≈ 0.5


def test_randx_with_a_spread_of_difficulty_is_partly():
    randx = _rates(np.where(np.arange(N) % 2, 0.7, 0.97), 3)  # two kinds of randX examples
    c = _check(_table(randx=randx))
    assert c.verdict == PARTLY
    failed = {p.name for p in c.parts if p.passed is False}
    assert "randX binomial" in failed


def test_randy_with_easy_examples_is_partly():
    randy = _rates(np.where(np.arange(N) < 200, 0.01, 0.9), 4)
    c = _check(_table(randy=randy))
    assert c.verdict == PARTLY
    assert {p.name for p in c.parts if p.passed is False} >= {"randY no easy examples"}


def test_binomial_real_data_does_not_hold():
    # real data as spread as the random conditions: no easy or hard examples, nothing dispersed
    c = _check(_table(real=_rates(0.5, 5), randx=_rates(0.6, 6), randy=_rates(0.6, 7)))
    real_parts = [p for p in c.parts if p.name.startswith("real")]
    assert not any(p.passed for p in real_parts)
    assert c.verdict == PARTLY  # the random-data parts still pass
    c = _check(_table(real=_rates(0.5, 5), randx=randx_spread(), randy=_rates(
        np.where(np.arange(N) < 200, 0.01, 0.9), 4)))  # fmt: skip
    assert c.verdict == FAILS


def randx_spread():
    return _rates(np.where(np.arange(N) % 2, 0.5, 0.97), 8)


def test_untestable_when_real_data_is_not_learned():
    c = _check(_table(real=_rates(0.85, 9)))
    assert c.verdict == UNTESTABLE
    assert c.failed_preconditions()[0].name == "real data learned"


def test_no_spread_is_not_measurable_not_a_crash():
    c = _check(_table(randx=np.ones(N)))  # every randX example always wrong: p̄ = 1
    byname = {p.name: p for p in c.parts}
    assert byname["randX binomial"].passed is None and "same rate" in byname["randX binomial"].why
    assert byname["real most variable"].passed is None
    assert c.verdict == PARTLY  # a part not measurable, the rest pass


def test_score_notes_through_every_outcome():
    real = _real()
    rng = np.random.default_rng(10)
    tracks = real + rng.normal(0, 0.1, N)  # higher scores for harder examples
    notes = {n.name: n for n in _check(_table(score=tracks), scorers=[_scorer()]).notes}
    assert notes["scores track difficulty"].passed and notes["hard scored higher"].passed
    assert notes["estimator informative"].passed
    noise = rng.normal(0, 1, N)
    notes = {n.name: n for n in _check(_table(score=noise), scorers=[_scorer()]).notes}
    assert notes["scores track difficulty"].passed is False
    assert notes["hard scored higher"].passed is False
    # an uninformative scorer: the notes are not measurable, and the verdict does not change
    c = _check(_table(score=tracks), scorers=[_scorer(muted=0.1)])
    notes = {n.name: n for n in c.notes}
    assert notes["hard scored higher"].passed is None and c.verdict == HOLDS
    # no scores at all; too few easy examples for an AUC
    notes = {n.name: n for n in _check(_table()).notes}
    assert notes["scores track difficulty"].passed is None
    few = _rates(np.where(np.arange(N) < 5, 0.0, 0.99), 11)
    notes = {n.name: n for n in _check(_table(real=few, score=tracks)).notes}
    assert notes["hard scored higher"].passed is None
    assert "fewer than" in notes["hard scored higher"].why


def test_randy_note_and_within_class_note():
    randy = _rates(np.where(np.arange(N) % 2, 0.75, 0.97), 12)  # randY not binomial
    notes = {n.name: n for n in _check(_table(randy=randy)).notes}
    assert notes["randY beyond binomial"].passed is True
    # randX rates that differ by class only: binomial within classes
    labels = np.arange(N) % 10
    randx = _rates(np.where(labels == 1, 0.6, 0.92), 13)
    c = _check(_table(randx=randx))
    notes = {n.name: n for n in c.notes}
    assert notes["randX within classes"].passed is True
    assert {p.name: p for p in c.parts}["randX binomial"].passed is False


@pytest.mark.parametrize("bad", [np.nan])
def test_nan_rates_do_not_crash(bad):
    real = _real().copy()
    real[:3] = bad
    c = _check(_table(real=real))
    assert c.verdict == UNTESTABLE  # the real rates are unknown: nothing to judge on
    assert not any(p.passed for p in c.parts if p.name.startswith("real"))
