"""The regularizers claim (Figure 10), driven through every outcome with synthetic tables."""

from __future__ import annotations

import pandas as pd
import pytest

from memlib import claims
from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE
from memlib.claims.regularizers import scores


def _table(base=(1.0, 0.40), **curves):
    """curves: regularizer -> [(randY train acc, best val)] per strength."""
    rows = [{"regularizer": "none", "strength": "0", "seed": 0,
             "randY_train_acc": base[0], "best_val": base[1]}]  # fmt: skip
    for name, pts in curves.items():
        rows += [{"regularizer": name, "strength": str(i), "seed": 0, "randY_train_acc": a,
                  "best_val": v} for i, (a, v) in enumerate(pts)]  # fmt: skip
    return pd.DataFrame(rows)


FLAT = [(0.8, 0.41), (0.3, 0.39)]  # caps randY at 0.3 and keeps 0.39
STEEP = [(0.8, 0.35), (0.3, 0.2)]  # caps it, but learning falls with it
NONE = [(0.9, 0.4), (0.7, 0.4)]  # never caps


@pytest.mark.parametrize(
    "curves, base, verdict",
    [
        ({"dropout": FLAT, "weight_decay": STEEP, "input_noise": NONE}, (1.0, 0.4), HOLDS),
        ({"adversarial": FLAT, "dropout": STEEP, "input_noise": STEEP}, (1.0, 0.4), HOLDS),
        ({"dropout": STEEP, "weight_decay": FLAT, "input_noise": FLAT}, (1.0, 0.4), FAILS),
        # keeps learning, but two others do better: partly
        ({"dropout": [(0.3, 0.36)], "weight_decay": FLAT, "input_noise": FLAT}, (1.0, 0.4), PARTLY),
        # not within the slack, but still the best of the regularizers: partly
        ({"dropout": STEEP, "weight_decay": NONE, "input_noise": NONE}, (1.0, 0.4), PARTLY),
        ({"dropout": NONE, "weight_decay": FLAT}, (1.0, 0.4), FAILS),  # dropout never caps
        ({"dropout": FLAT}, (0.6, 0.4), UNTESTABLE),  # randY not memorized
        ({"dropout": FLAT}, (1.0, 0.12), UNTESTABLE),  # real data not learned
        ({"weight_decay": FLAT}, (1.0, 0.4), UNTESTABLE),  # no dropout settings
        ({"dropout": FLAT}, (float("nan"), 0.4), UNTESTABLE),
    ],
)
def test_verdicts(curves, base, verdict):
    c = claims.arpit_regularizers(_table(base, **curves))
    assert c.verdict == verdict
    assert c.key[0] and "unregularized" in c.numbers


def test_scores_average_seeds():
    t = _table(dropout=FLAT)
    t2 = t.assign(seed=1, best_val=t.best_val - 0.02)
    s, b_y, b_v = scores(pd.concat([t, t2]))
    assert b_y == 1.0 and b_v == pytest.approx(0.39)
    assert s.loc["dropout", "score"] == pytest.approx(0.38) and s.loc["dropout", "n_capped"] == 1


def test_notes_other_regularizers():
    c = claims.arpit_regularizers(_table(dropout=FLAT, weight_decay=STEEP))
    assert [n.passed for n in c.notes] == [False]


def test_nearest_reports_the_lowest_randy_that_keeps_learning():
    from memlib.claims.regularizers import nearest

    t = _table(dropout=[(0.9, 0.41), (0.55, 0.39), (0.1, 0.2)], weight_decay=[(0.8, 0.3)])
    assert nearest(t, "dropout") == (
        "strength 1: randY 0.550 (cap 0.500), validation 0.390 (unregularized 0.400)"
    )
    assert nearest(t, "weight_decay").startswith("no strength keeps validation within 5%")
    c = claims.arpit_regularizers(t)
    assert c.numbers["lowest randY at no cost, dropout"].startswith("strength 1: randY 0.550")
    assert not c.parts[0].passed  # 0.55 misses the cap; the number is beside the verdict


def test_a_cap_or_slack_met_exactly_counts():
    # 0.414 is exactly 0.464 − 0.05, and 0.25 exactly half of 0.5: both reach their threshold
    t = _table(base=(0.5, 0.464), dropout=[(0.25, 0.414)])
    c = claims.arpit_regularizers(t)
    assert c.parts[0].passed is True
