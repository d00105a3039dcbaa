"""The loss-sensitivity claim (Figures 3 and 4), driven through every outcome with synthetic
Gini tables and per-class matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memlib import claims
from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE
from memlib.claims.sensitivity import diagonal_wins, off_diagonal

STEPS = [50, 150, 250, 350]


def _gini(real=(0.3, 0.4, 0.5, 0.6), rand=(0.2, 0.2, 0.2, 0.2), acc=0.95, seeds=(0, 1)):
    rows = []
    for s in seeds:
        for kind, curve in (("real", real), ("randX", rand), ("randY", rand)):
            for step, g in zip(STEPS, curve, strict=True):
                rows.append({"condition": kind, "seed": s, "step": step, "gini": g,
                             "acc": acc if kind == "real" else 0.3})  # fmt: skip
    return pd.DataFrame(rows)


def _mat(off: float, diag: float = 1.0, n_seeds: int = 2) -> np.ndarray:
    m = np.full((10, 10), off) + np.eye(10) * (diag - off)
    return np.stack([m] * n_seeds)


def _mats(real_off=0.2, rand_off=0.1, rand_diag=1.0):
    return {"real": _mat(real_off), "randX": _mat(rand_off, rand_diag),
            "randY": _mat(rand_off, rand_diag)}  # fmt: skip


@pytest.mark.parametrize(
    "gini, mats, verdict, failed",
    [
        (_gini(), _mats(), HOLDS, []),
        # real leads only at the end: the final gap holds, the "over training" share fails
        (_gini(real=(0.1, 0.1, 0.1, 0.5)), _mats(), PARTLY, ["real concentrated over training"]),
        # real ahead, by less than the margin
        (_gini(real=(0.25, 0.25, 0.25, 0.25)), _mats(), PARTLY, ["real concentrated at the end"]),
        # random data more spread off the diagonal than real data
        (_gini(), _mats(real_off=0.05), PARTLY, ["real spread off the diagonal"]),
        # the random matrices are not diagonal-dominant (and so spread more off it)
        (
            _gini(),
            _mats(rand_diag=0.05),
            PARTLY,
            ["diagonal dominant", "real spread off the diagonal"],
        ),
        # nothing holds
        (
            _gini(real=(0.1,) * 4),
            _mats(real_off=0.05, rand_diag=0.05),
            FAILS,
            [
                "real concentrated at the end",
                "real concentrated over training",
                "diagonal dominant",
                "real spread off the diagonal",
            ],
        ),
        # the real-data model did not fit its training set
        (_gini(acc=0.5), _mats(), UNTESTABLE, []),
    ],
)
def test_rule(gini, mats, verdict, failed):
    c = claims.arpit_sensitivity(gini, mats)
    assert c.verdict == verdict
    assert [p.name for p in c.parts if p.passed is False] == failed
    assert c.key[0] == "final Gini real / randX / randY"


def test_one_seed_failing_fails_the_every_seed_rules():
    g = _gini()
    g.loc[(g.seed == 1) & (g.condition == "real") & (g.step == 350), "gini"] = 0.22
    c = claims.arpit_sensitivity(g, _mats())
    assert not c.parts[0].passed and c.parts[1].passed  # 3 of 4 steps still lead: 75%


def test_one_grid_step_leaves_the_over_training_part_unmeasured():
    g = _gini()
    c = claims.arpit_sensitivity(g[g.step == 350], _mats())
    assert c.parts[1].passed is None and c.verdict == PARTLY  # an unmeasured part: not all hold


def test_nan_never_passes():
    g = _gini()
    g.loc[g.condition == "real", "gini"] = np.nan
    c = claims.arpit_sensitivity(g, _mats())
    assert not c.parts[0].passed and not c.parts[1].passed
    g = _gini()
    g.loc[g.condition == "randY", "gini"] = np.nan  # a random condition's Gini unknown
    c = claims.arpit_sensitivity(g, _mats())
    assert not c.parts[0].passed and not c.parts[1].passed


def test_matrix_helpers():
    m = _mat(0.1, 1.0, n_seeds=1)
    np.testing.assert_allclose(off_diagonal(m), [0.9 / 1.9])
    assert diagonal_wins(m) == 10
    m[0, 3, 3] = 0.0  # column 3 now peaks off the diagonal
    assert diagonal_wins(m) == 9
