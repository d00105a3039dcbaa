"""Figures 5 and 6, and the ground truth: every rule through every outcome, on synthetic runs."""

import numpy as np
import pandas as pd
import pytest
from claims_fixtures import history, ramp, run, score_run

from memlib import claims
from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE


def scorer(muted=0.9):
    return score_run(np.zeros(100), muted=muted)


def followed(easy_at=2, difficult_top=0.9, difficult_at=10, test_easy=0.99, epochs=20):
    """The followed run: easy reaches 99% at ``easy_at``; difficult rises to ``difficult_top``
    by ``difficult_at``."""
    return run(
        history(
            epochs,
            train_acc_easy=ramp(0.1, 0.99, easy_at),
            train_acc_difficult=ramp(0.0, difficult_top, difficult_at),
            train_acc=ramp(0.1, 0.97, easy_at),
            test_acc_easy=ramp(0.1, test_easy, easy_at),
            test_acc_difficult=ramp(0.1, 0.8, difficult_at),
            test_acc=ramp(0.1, 0.97, easy_at),
        )
    )


def control(gap_early=0.1, gap_end=0.4, epochs=20):
    """The control's difficult subset: ``gap_early`` below the followed run's at epochs 1-2,
    ``gap_end`` below at the end (the followed run's defaults)."""
    f = followed().history.train_acc_difficult.to_numpy()
    gap = np.where(np.arange(epochs + 1) <= 2, gap_early, gap_end)
    gap[0] = 0
    return run(history(epochs, train_acc_difficult=f - gap))


@pytest.mark.parametrize(
    ("kw", "ctl", "muted", "verdict"),
    [
        ({}, {}, 0.9, HOLDS),
        ({}, {"gap_early": 0.02}, 0.9, PARTLY),  # 2 points when easy is learnt: not simultaneous
        ({}, {"gap_end": 0.05}, 0.9, PARTLY),  # simultaneous, but the control ends close
        ({"easy_at": 15, "test_easy": 0.5}, {"gap_early": 0.02, "gap_end": 0.02}, 0.9, FAILS),
        # both control parts hold, easy is slower and the test subsets are not ordered: the
        # two control parts alone do not make a partial result
        ({"easy_at": 15, "test_easy": 0.5}, {}, 0.9, FAILS),
        ({}, {}, 0.1, UNTESTABLE),  # the partition is uninformative
    ],
)
def test_fig5ab(kw, ctl, muted, verdict):
    check = claims.fig5ab_easy_difficult([followed(**kw)], [control(**ctl)], [scorer(muted)])
    assert check.verdict == verdict


def test_fig5ab_judges_simultaneity_by_the_control_not_the_gain_since_initialization():
    """The difficult subset gains 18 points by the time easy is learnt, all of which the
    control (never trained on it) gains too: that is not simultaneous learning."""
    check = claims.fig5ab_easy_difficult([followed()], [control(gap_early=0.0)], [scorer()])
    simultaneous = next(c for c in check.parts if c.name == "simultaneous")
    assert simultaneous.passed is False


def test_fig5_judges_every_seed():
    runs, ctl = [followed(), followed()], [control(), control(gap_early=0.02)]
    check = claims.fig5ab_easy_difficult(runs, ctl, [scorer(), scorer()])
    assert next(c for c in check.parts if c.name == "simultaneous").passed is False


def test_fig5ab_without_its_control_cannot_hold():
    check = claims.fig5ab_easy_difficult([followed()], [], [scorer()])
    assert [c.passed for c in check.parts] == [True, None, None, True]
    assert check.verdict == PARTLY


def test_fig5cd_without_a_control_cannot_measure_simultaneity():
    check = claims.fig5cd_easy_difficult_cifar([followed()], [scorer()])
    simultaneous = next(c for c in check.parts if c.name == "simultaneous")
    assert simultaneous.passed is None and "control" in simultaneous.why
    assert check.verdict == PARTLY  # the other two parts hold: never "holds" without it
    assert claims.fig5cd_easy_difficult_cifar([followed()], [scorer()], [control()]).verdict == (
        HOLDS
    )
    assert claims.fig5cd_easy_difficult_cifar([followed()], [scorer(0.1)]).verdict == UNTESTABLE
    slow = followed(easy_at=15, test_easy=0.5)
    assert claims.fig5cd_easy_difficult_cifar([slow], [scorer()]).verdict == FAILS


def subset_run(trained, held_out_gain, epochs=10, fit=0.95):
    """Trained on ``trained`` (fitted to ``fit``); the other subset gains ``held_out_gain``."""
    other = "difficult" if trained == "easy" else "easy"
    return run(
        history(
            epochs,
            **{f"train_acc_{trained}": ramp(0.1, fit, 5),
               f"train_acc_{other}": ramp(0.1, 0.1 + held_out_gain, 5)},
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    ("to_easy", "to_difficult", "fit", "muted", "verdict", "failed"),
    [
        (0.30, 0.05, 0.95, 0.9, HOLDS, []),
        (0.12, 0.10, 0.95, 0.9, PARTLY, []),  # asymmetric, not twice
        (0.08, 0.01, 0.95, 0.9, PARTLY, []),  # asymmetric, but under the 10-point floor
        (0.05, 0.30, 0.95, 0.9, FAILS, []),
        (0.30, 0.05, 0.80, 0.9, UNTESTABLE, ["trained subset fitted"]),
        (0.30, 0.05, 0.95, 0.1, UNTESTABLE, ["estimator informative"]),
    ],
)
def test_fig6(to_easy, to_difficult, fit, muted, verdict, failed):
    check = claims.fig6_informative_difficult(
        [subset_run("easy", to_difficult, fit=fit)],
        [subset_run("difficult", to_easy, fit=fit)],
        [scorer(muted)],
    )
    assert check.verdict == verdict
    assert [c.name for c in check.failed_preconditions()] == failed


def agreement(single_min, auc_gap=0.0, noisy=True):
    rows = [
        {"metric": "spearman", "per_seed": single_min + 0.01, "seed_sd": 0.01,
         "seed_min": single_min, "averaged": single_min + 0.05, "ci_low": 0.0, "ci_high": 1.0},
    ]  # fmt: skip
    if noisy:
        rows += [
            {"metric": "roc_auc turn-over", "seed_min": 0.95 + auc_gap, "averaged": 0.96},
            {"metric": "roc_auc feldman-zhang", "seed_min": np.nan, "averaged": 0.95},
        ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("single", "gap", "reliability", "fit", "verdict"),
    [
        (0.85, 0.0, 0.95, 1.0, HOLDS),
        (0.78, 0.0, 0.95, 1.0, PARTLY),  # one run: 0.78; the average of the seeds: 0.83
        (0.85, -0.05, 0.95, 1.0, PARTLY),  # agrees, but finds the random labels worse
        (0.70, 0.0, 0.95, 1.0, PARTLY),
        (0.30, 0.0, 0.95, 1.0, FAILS),
        (0.85, 0.0, 0.80, 1.0, UNTESTABLE),  # the ground truth itself is not reliable
        (0.85, 0.0, 0.95, 0.90, UNTESTABLE),  # the models do not fit their data
    ],
)
def test_fz_ground_truth_judges_single_runs(single, gap, reliability, fit, verdict):
    check = claims.fz_ground_truth(
        {"clean": agreement(single, noisy=False), "noisy": agreement(single, gap)},
        {"clean": reliability, "noisy": 0.97},
        {"clean": (1.0, fit), "noisy": (1.0, 1.0)},
    )
    assert check.verdict == verdict
    (note,) = check.notes  # the seeds' average is reported beside the verdict
    assert note.name == "averaging the seeds" and note.passed is (single + 0.05 >= 0.8)


def test_fz_ground_truth_a_nan_in_any_condition_fails_its_rule():
    check = claims.fz_ground_truth(
        {"clean": agreement(0.85, noisy=False), "noisy": agreement(np.nan)},
        {"clean": 0.95, "noisy": np.nan},
        {"clean": (1.0, 1.0), "noisy": (1.0, np.nan)},
    )
    assert [c.passed for c in check.preconditions] == [False, False]
    assert [c.passed for c in check.parts] == [False, False]
