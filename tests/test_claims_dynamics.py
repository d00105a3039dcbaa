"""Figures 3, 4, 9 and 10: every rule through every outcome, on synthetic histories."""

from types import SimpleNamespace

import numpy as np
import pytest
from claims_fixtures import history, peaked, ramp, run

from memlib import claims
from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE
from memlib.errors import MemlibError

# --- Figure 3 -------------------------------------------------------------------------------------


def fig3_run(easy_at=2, difficult_gain=0.02, drop=0.02, epochs=40):
    """Easy reaches 95% at ``easy_at``; difficult moves by ``difficult_gain`` from epoch 1 to the
    test peak (epoch 20); the test accuracy drops by ``drop`` after it."""
    return run(
        history(
            epochs,
            train_acc_easy=ramp(0.1, 0.95, easy_at),
            train_acc_difficult=lambda e: 0.01 + difficult_gain * np.clip(e - 1, 0, 19) / 19,
            test_acc=peaked(0.5, 20, 0.45, drop),
        )
    )


@pytest.mark.parametrize(
    ("kw", "verdict"),
    [
        ({}, HOLDS),
        ({"difficult_gain": -0.01}, PARTLY),  # easy faster, peak then drop, no early gain
        ({"drop": 0.0}, PARTLY),
        ({"easy_at": 60}, FAILS),  # easy never reaches 90% in 40 epochs: (1) fails
        ({"difficult_gain": -0.01, "drop": 0.0}, FAILS),
    ],
)
def test_fig3(kw, verdict):
    assert claims.fig3_random_label_dynamics([fig3_run(**kw), fig3_run(**kw)]).verdict == verdict


def uniform_run(kept_gain, changed_gain):
    """A uniform-noise run: the kept-label and changed-label difficult examples move by these
    from epoch 1 to the test peak; the whole difficult subset is a tenth / nine tenths mix."""
    h = fig3_run().history
    for name, gain in (("kept", kept_gain), ("changed", changed_gain)):
        h[f"train_acc_difficult_{name}"] = 0.05 + gain * np.clip(h.epoch - 1, 0, 19) / 19
    h["train_acc_difficult"] = 0.1 * h.train_acc_difficult_kept + 0.9 * (
        h.train_acc_difficult_changed
    )
    return run(h)


def test_fig3_judges_every_seed():
    check = claims.fig3_random_label_dynamics([fig3_run(), fig3_run(difficult_gain=-0.01)])
    assert check.parts[1].passed is False and check.verdict == PARTLY


@pytest.mark.parametrize(
    ("kept", "changed", "supported"),
    [(0.5, -0.01, True), (0.5, 0.02, False), (0.0, -0.01, False)],
)
def test_fig3_label_convention_note_does_not_change_the_verdict(kept, changed, supported):
    runs = [fig3_run(difficult_gain=-0.01)]
    check = claims.fig3_random_label_dynamics(runs, uniform=[uniform_run(kept, changed)])
    assert check.verdict == PARTLY
    (note,) = check.notes
    assert note.name == "label convention" and note.passed is supported


# --- Figure 4 -------------------------------------------------------------------------------------


def fig4_run(cos_ok=True, con_ok=True, reversed_epochs=(0,), n_stats=10):
    """Statistics at epochs 0 to ``n_stats`` - 1 (NaN at the others, to 12). The contribution
    ordering is reversed at ``reversed_epochs``; each ordering holds elsewhere if its flag says
    so."""
    e = np.arange(13)
    stats_at = e < n_stats
    rev = np.isin(e, reversed_epochs)
    nan = np.where(stats_at, 1.0, np.nan)
    h = history(
        12,
        cos_easy=nan * (0.02 if cos_ok else 0.01),
        cos_difficult=nan * 0.015,
        contrib_easy=nan * np.where(rev | (not con_ok), 3.0, 1.0),
        contrib_difficult=nan * 2.0,
        contrib_all=nan * 1.5,
    )
    return run(h)


@pytest.mark.parametrize(
    ("kw", "error", "verdict"),
    [
        ({}, 1e-6, HOLDS),  # reversed at initialization only: 9 of 10 epochs
        # epoch 0 counts: reversed there and once more, 7 of 9 (without it, 8 of 8 would pass)
        ({"reversed_epochs": (0, 1), "n_stats": 9}, 1e-6, PARTLY),
        ({"con_ok": False}, 1e-6, PARTLY),
        ({"cos_ok": False}, 1e-6, PARTLY),
        ({"con_ok": False, "cos_ok": False}, 1e-6, FAILS),
        ({}, 1e-3, UNTESTABLE),  # the fast statistics disagree with BackPACK
    ],
)
def test_fig4(kw, error, verdict):
    check = claims.fig4_gradient_similarity([fig4_run(**kw)], backpack_error=error)
    assert check.verdict == verdict
    assert "initialization" in " ".join(check.numbers)


def test_fig4_needs_statistics_at_initialization():
    r = fig4_run()
    r.history.loc[0, ["cos_easy", "cos_difficult", "contrib_easy", "contrib_difficult"]] = np.nan
    with pytest.raises(MemlibError, match="initialization"):
        claims.fig4_gradient_similarity([r], backpack_error=1e-6)


# --- Figure 9 -------------------------------------------------------------------------------------


def fig9_run(reach_at=2, still_rising=0.0, epochs=20, stable_from=2, n=500, seed=0):
    """Both sub-networks reach their plateau at ``reach_at`` (and rise by ``still_rising`` over
    the last epochs); the scores are a fixed ranking from ``stable_from`` on, random before."""
    rng = np.random.default_rng(seed)
    final = rng.normal(size=n)
    scores = np.stack(
        [final if e >= stable_from else rng.normal(size=n) for e in range(epochs + 1)]
    )

    def acc(top):
        return lambda e: ramp(0.1, top, reach_at)(e) + still_rising * np.clip(e - 15, 0, None) / 5

    h = history(epochs, unmuted_acc=acc(0.99), muted_acc=acc(0.9))
    return run(h, epoch_scores=scores)


@pytest.mark.parametrize("fn", [claims.fig9a_early_convergence, claims.fig9b_early_convergence_cct])
@pytest.mark.parametrize(
    ("kw", "verdict", "failed"),
    [
        ({}, HOLDS, []),
        ({"stable_from": 15}, PARTLY, []),  # fast, but the scores at epoch 2 are not final
        ({"reach_at": 12, "stable_from": 3}, PARTLY, []),  # slow, scores stable by epoch 5
        ({"reach_at": 12, "stable_from": 15}, FAILS, []),
        ({"still_rising": 0.02}, PARTLY, []),  # fast, but still moving: scores not measurable
        ({"still_rising": 0.05, "reach_at": 12}, FAILS, []),  # slow, and still moving
        ({"epochs": 8}, UNTESTABLE, ["long enough"]),
    ],
)
def test_fig9(fn, kw, verdict, failed):
    check = fn([fig9_run(**kw, seed=s) for s in range(2)])
    assert check.verdict == verdict
    assert [c.name for c in check.failed_preconditions()] == failed


def test_fig9_compares_scores_no_later_than_the_few_epochs():
    """A slow run reaches 95% at epoch 12: the scores are compared at epoch 5, not 12."""
    check = claims.fig9a_early_convergence([fig9_run(reach_at=12, stable_from=8)])
    assert check.parts[1].passed and check.parts[2].passed is False


def test_fig9_scores_are_not_judged_against_unsettled_final_scores():
    check = claims.fig9b_early_convergence_cct([fig9_run(still_rising=0.02, stable_from=19)])
    assert check.parts[1].passed is False and check.parts[2].passed is None


def test_fig9_a_run_still_rising_slowly_is_not_stable():
    """0.3 points per epoch at the end of a 15-epoch run: two 3-epoch window means differ by
    less than a point, but the accuracy leaves a 1-point band over the last 6 epochs."""
    r = fig9_run(epochs=15)
    for col in ("unmuted_acc", "muted_acc"):
        r.history[col] = 0.9 + 0.003 * r.history.epoch
    check = claims.fig9b_early_convergence_cct([r])
    assert check.parts[1].passed is False and "1.5 points" in check.parts[1].value
    assert check.parts[2].passed is None


def test_fig9_judges_every_seed():
    runs = [fig9_run(), fig9_run(reach_at=12, stable_from=15, seed=1)]
    assert claims.fig9a_early_convergence(runs).verdict == FAILS


# --- Figure 10 ------------------------------------------------------------------------------------


def fig10_runs(e50, fitted, drop, allrand_train=0.2, epochs=30):
    """Levels 0, .2, .4, .6, .8, 1: the training accuracy reaches 50% at ``e50[level]`` (None:
    never); the noisy runs fit ``fitted`` of their random labels and lose ``drop`` of test
    accuracy after a peak at epoch 10."""
    out = {}
    for i, lv in enumerate([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]):
        at = e50[i]
        train = (lambda e, at=at: np.where(e >= at, 0.6, 0.3)) if at is not None else 0.3
        if lv == 1.0:
            train = allrand_train
        h = history(
            epochs,
            train_acc=train,
            test_acc=peaked(0.2, 10, 0.3, drop if 0 < lv < 1 else 0.0),
            train_acc_corrupted=fitted if lv > 0 else np.nan,
        )
        out[lv, 0] = run(h, config=SimpleNamespace(n_corrupt=int(1000 * lv)))
    return out


NEVER = None
FINE = [3, 6, 9, 12, 15, NEVER]


@pytest.mark.parametrize(
    ("e50", "fitted", "drop", "verdict", "parts"),
    [
        (FINE, 0.8, 0.05, HOLDS, [True, True]),
        # never against never is no evidence either way: (3, 6), (6, never) are enough
        ([3, 6, NEVER, NEVER, NEVER, NEVER], 0.8, 0.05, HOLDS, [True, True]),
        # one informative pair only: not measurable
        ([3, NEVER, NEVER, NEVER, NEVER, NEVER], 0.8, 0.05, PARTLY, [None, True]),
        ([15, 12, 9, 6, 3, NEVER], 0.8, 0.05, PARTLY, [False, True]),  # faster with more noise
        ([3, 3, 3, 3, 3, NEVER], 0.8, 0.05, PARTLY, [False, True]),  # never slower
        (FINE, 0.2, 0.0, PARTLY, [True, None]),  # the noise never fitted: no drop to test
        (FINE, 0.8, 0.0, PARTLY, [True, False]),  # fitted noise, no drop
        ([15, 12, 9, 6, 3, NEVER], 0.8, 0.0, FAILS, [False, False]),
        ([3, NEVER, NEVER, NEVER, NEVER, NEVER], 0.2, 0.0, UNTESTABLE, [None, None]),
    ],
)
def test_fig10(e50, fitted, drop, verdict, parts):
    check = claims.fig10_corruption_levels(fig10_runs(e50, fitted, drop))
    assert [c.passed for c in check.parts] == parts
    assert check.verdict == verdict


@pytest.mark.parametrize(("allrand", "fails"), [(0.2, True), (0.9, False)])
def test_fig10_all_random_is_a_note(allrand, fails):
    check = claims.fig10_corruption_levels(fig10_runs(FINE, 0.8, 0.05, allrand))
    assert check.verdict == HOLDS and check.notes[0].passed is fails


def test_fig10_note_needs_a_run_with_every_label_random():
    runs = {k: r for k, r in fig10_runs(FINE, 0.8, 0.05).items() if k[0] < 1}
    check = claims.fig10_corruption_levels(runs)
    assert check.verdict == HOLDS and check.notes[0].passed is None


def test_fig10_one_seed_failing_is_not_hidden_by_an_unmeasurable_one():
    runs = fig10_runs([15, 12, 9, 6, 3, NEVER], 0.8, 0.05)
    other = fig10_runs([3, NEVER, NEVER, NEVER, NEVER, NEVER], 0.8, 0.05)
    runs |= {(lv, 1): r for (lv, _), r in other.items()}
    assert claims.fig10_corruption_levels(runs).parts[0].passed is False


def test_fig10_drop_must_come_after_a_peak_before_the_end():
    runs = fig10_runs(FINE, 0.8, 0.0)
    for r in runs.values():  # rising to the end, with a dip only at the last epoch
        r.history["test_acc"] = np.r_[np.linspace(0.2, 0.6, len(r.history) - 1), 0.58]
    assert claims.fig10_corruption_levels(runs).parts[1].passed is False
