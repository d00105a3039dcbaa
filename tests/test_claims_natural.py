"""The natural-memorization claims ("Back to Fundamentals", Figures 1 to 4 and the artificial
proxy), driven through every outcome with small synthetic count tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memlib import claims
from memlib.claims.core import FAILS, HOLDS, PARTLY, UNTESTABLE
from memlib.claims.natural import falls, stages, transient_stats

WIDTHS = [8, 16, 32, 64]


def family(data, fam, counts, half=10.0, train_acc=1.0, test_acc=0.6, widths=WIDTHS):
    """One family on one training set: a row per width, its count ± ``half`` as the interval."""
    w = np.asarray(widths[: len(counts)], float)
    c = np.asarray(counts)
    return pd.DataFrame({"data": data, "family": fam, "width": w, "params": 10 * w**2,
                         "count": c, "low": c - half, "high": c + half,
                         "train_acc": train_acc, "test_acc": test_acc,
                         "gap": train_acc - test_acc})  # fmt: skip


def size_table(*families):
    return pd.concat(families, ignore_index=True)


FALLING, RISING = [400, 300, 200, 100], [100, 200, 300, 400]


# --- falls and natural_size (Figure 1) ------------------------------------------------------


def test_falls_on_a_hand_made_family():
    g = family("d", "mlp", FALLING).iloc[::-1]  # rows in any order: sorted by params
    assert falls(g) == (pytest.approx(-1.0), True, True)
    rho, ok, below = falls(family("d", "mlp", FALLING, half=200))  # intervals overlap
    assert (rho, ok, below) == (pytest.approx(-1.0), True, False)
    rho, ok, below = falls(family("d", "mlp", [400, 100, 300, 200]))  # ρ = -0.4
    assert rho == pytest.approx(-0.4) and not ok and below
    rho, ok, below = falls(family("d", "mlp", [400, 100, 200, 300], half=60))  # ρ = -0.2
    assert rho == pytest.approx(-0.2) and not ok and not below
    assert falls(family("d", "mlp", RISING)) == (pytest.approx(1.0), False, False)
    # ρ exactly at FALL_RHO = -0.8 (4 widths, one swap away from -1) falls
    rho, ok, _ = falls(family("d", "mlp", [400, 300, 100, 200]))
    assert rho == pytest.approx(-0.8) and ok


def test_size_holds_when_every_family_falls():
    t = size_table(family("a", "mlp", FALLING), family("a", "cnn", FALLING),
                   family("b", "mlp", FALLING))  # fmt: skip
    c = claims.natural_size(t)
    assert c.verdict == HOLDS, c
    assert [p.passed for p in c.parts] == [True] * 3
    assert c.numbers["families"] == "3"
    assert c.key[1] == "400 → 100 (mlp)"
    assert [n.passed for n in c.notes] == [True] * 3  # every width fits its training set


def test_size_partly_when_some_families_fall():
    t = size_table(family("a", "mlp", FALLING), family("a", "cnn", RISING))
    c = claims.natural_size(t)
    assert c.verdict == PARTLY
    assert [p.passed for p in c.parts] == [True, False]


def test_size_fails_when_no_family_falls_clearly():
    # cnn's counts fall, but its intervals overlap: not "wholly below"
    t = size_table(family("a", "mlp", RISING), family("a", "cnn", FALLING, half=200))
    c = claims.natural_size(t)
    assert c.verdict == FAILS
    assert [p.passed for p in c.parts] == [False, False]


def test_size_untestable_when_a_model_did_not_learn():
    t = size_table(family("a", "mlp", FALLING), family("a", "cnn", FALLING, test_acc=0.15))
    c = claims.natural_size(t)  # 10 classes: at least 0.2 needed
    assert c.verdict == UNTESTABLE
    assert c.failed_preconditions()[0].name == "models learned"
    assert "cnn" in c.failed_preconditions()[0].value
    assert claims.natural_size(t, n_classes=100).verdict == HOLDS  # 0.15 > 2 / 100


def test_size_skips_families_with_fewer_than_three_widths():
    t = size_table(family("a", "mlp", FALLING), family("a", "cnn", [10, 400]))
    c = claims.natural_size(t)
    assert c.verdict == HOLDS and len(c.parts) == 1
    c = claims.natural_size(family("a", "cnn", [400, 10]))
    assert c.parts == () and c.verdict == UNTESTABLE  # nothing to measure


def test_size_note_over_fitted_widths_only():
    t = family("a", "mlp", [100, 400, 300, 200])
    t["train_acc"] = [0.5, 1.0, 1.0, 1.0]  # the smallest does not fit: ρ over the others is -1
    c = claims.natural_size(t)
    assert c.verdict == FAILS  # ρ over all four is +0.2
    (note,) = c.notes
    assert note.passed and "3 widths" in note.value
    t["train_acc"] = [0.5, 0.5, 1.0, 1.0]
    assert claims.natural_size(t).notes == ()


# --- stages and natural_epochs (Figure 2) ---------------------------------------------------


def curve(counts, half=5.0):
    """One run through training: epochs 0..len-1 (0: the initialization)."""
    c = np.asarray(counts, float)
    return pd.DataFrame({"epoch": np.arange(len(c)), "count": c.astype(int), "low": c - half,
                         "high": c + half})  # fmt: skip


# epoch 0 (ignored), 2 quiet epochs (the first tenth of 20), a rise to 100 at 14, a fall to 80
THREE = [50, 0, 1] + [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97, 100] + [98, 95, 90, 85, 82, 80]


def test_stages_of_a_hand_made_curve():
    s = stages(curve(THREE).sample(frac=1, random_state=0))  # rows in any order
    assert s == {"early": 1, "early_high": 6.0, "early_end": 2, "peak": 100, "peak_low": 95.0,
                 "peak_epoch": 14, "final": 80, "final_high": 85.0, "last": 20}  # fmt: skip


def test_stages_of_a_short_run_keep_at_least_epoch_one():
    s = stages(curve([0, 3, 9, 7, 5, 4]))  # a tenth of 5 epochs rounds to 0: epoch 1 only
    assert (s["early"], s["early_end"], s["peak"], s["peak_epoch"]) == (3, 1, 9, 2)
    assert (s["final"], s["last"]) == (4, 5)
    s = stages(curve([0, 1, 5, 5, 2]))  # a tie: the first peak
    assert s["peak_epoch"] == 2


def test_epochs_holds_with_three_stages():
    c = claims.natural_epochs(curve(THREE), "mlp")
    assert c.verdict == HOLDS, c
    assert [p.passed for p in c.parts] == [True, True, True]
    assert c.numbers["peak_epoch"] == "14"
    assert c.key[1] == "100 (ep. 14) → 80 (ep. 20)"
    assert "(mlp)" in c.claim


def test_epochs_partly_with_a_rise_and_no_fall():
    rising = [0, 0, 0] + list(range(10, 190, 10))  # the peak is the last epoch
    c = claims.natural_epochs(curve(rising), "mlp")
    assert c.verdict == PARTLY
    assert [p.passed for p in c.parts] == [True, True, False]


def test_epochs_partly_with_a_fall_and_no_rise():
    early_peak = [0, 100, 90] + [80] * 18  # peaks at epoch 1, inside the first tenth
    c = claims.natural_epochs(curve(early_peak), "mlp")
    assert c.verdict == PARTLY
    assert [p.passed for p in c.parts] == [False, False, True]


def test_epochs_fails_when_quiet_at_first_but_neither_rising_nor_falling():
    # a count of 3 at most, every interval [count ± 10]: none at first, but nothing is clear
    c = claims.natural_epochs(curve([0, 0, 0] + [3] * 18, half=10), "mlp")
    assert c.verdict == FAILS
    assert [p.passed for p in c.parts] == [True, False, False]
    c = claims.natural_epochs(curve([0] + [50] * 20), "mlp")  # flat from the start
    assert c.verdict == FAILS
    assert [p.passed for p in c.parts] == [False, False, False]


@pytest.mark.parametrize("final, ok", [(95, True), (96, False)])
def test_epochs_fall_needs_five_percent(final, ok):
    counts = [0, 0, 0] + [50] * 10 + [100] + [100] * 6 + [final]
    c = claims.natural_epochs(curve(counts, half=0.4), "mlp")
    assert c.parts[2].passed is ok
    assert c.verdict == (HOLDS if ok else PARTLY)


def test_epochs_untestable_without_any_memorization():
    c = claims.natural_epochs(curve([5] + [0] * 20), "mlp")  # epoch 0 does not count
    assert c.verdict == UNTESTABLE
    assert c.failed_preconditions()[0].name == "memorization seen"


# --- natural_gap (Figure 3) -----------------------------------------------------------------


def gap_table(n, slope=1000.0, noise=0.0, seed=0, families=("mlp", "cnn")):
    rng = np.random.default_rng(seed)
    gap = np.linspace(0.05, 0.5, n)
    count = 100 + slope * gap + noise * rng.standard_normal(n)
    fam = [families[i % len(families)] for i in range(n)]
    return pd.DataFrame({"family": fam, "gap": gap, "count": count.round()})


def test_gap_holds_when_count_tracks_the_gap():
    c = claims.natural_gap(gap_table(10, noise=5), n_boot=200)
    assert c.verdict == HOLDS, c
    assert float(c.numbers["r"]) > 0.99 and float(c.numbers["low"]) > 0.9
    assert c.numbers["n"] == "10"
    assert [n.passed for n in c.notes] == [True, True]  # within each family


def test_gap_partly_when_positive_but_not_strong():
    t = gap_table(200, slope=100, noise=20)  # r about 0.55
    c = claims.natural_gap(t, n_boot=300)
    assert c.verdict == PARTLY
    assert [p.passed for p in c.parts] == [False, True]
    assert 0.3 < float(c.numbers["r"]) < 0.8


def test_gap_fails_when_count_falls_with_the_gap():
    c = claims.natural_gap(gap_table(10, slope=-1000, noise=5), n_boot=200)
    assert c.verdict == FAILS
    assert [p.passed for p in c.parts] == [False, False]


# the per-family r and the all-NaN bootstrap percentiles warn outside natural_gap's errstate
@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_gap_fails_without_a_crash_when_the_count_is_constant():
    t = gap_table(8, slope=0)
    c = claims.natural_gap(t, n_boot=100)
    assert c.verdict == FAILS
    assert c.numbers["r"] == "nan"


def test_gap_untestable_with_too_few_models():
    c = claims.natural_gap(gap_table(4), n_boot=100)
    assert c.verdict == UNTESTABLE
    assert c.failed_preconditions()[0].name == "enough models"
    assert claims.natural_gap(gap_table(2), n_boot=100).verdict == UNTESTABLE  # no interval


def test_gap_is_reproducible_by_seed():
    t = gap_table(30, slope=100, noise=20)
    assert claims.natural_gap(t, n_boot=100, seed=3) == claims.natural_gap(t, n_boot=100, seed=3)


# --- transient_stats and natural_transient (Figure 4) ---------------------------------------


def test_transient_stats_by_hand():
    scores = np.array([0.0, 0.1, 0.5, 0.7, np.nan, 0.2])
    memorized = [False, False, True, True, True, True]
    t = transient_stats(scores, [False, False, True, True, True, False], 1.5, memorized)
    assert t["mem_n"] == 4 and t["mem_mean"] == pytest.approx((0.5 + 0.7 + 0.2) / 3)
    assert t["n"] == 3  # a NaN score still counts as a point, not in the mean
    assert t["mean"] == pytest.approx(0.6) and t["sd"] == pytest.approx(0.1)
    assert t["all_mean"] == pytest.approx(0.3)
    assert t["all_sd"] == pytest.approx(np.std([0.0, 0.1, 0.5, 0.7, 0.2]))
    assert t["noise"] == 1.5
    empty = transient_stats(scores, np.zeros(6, bool), 0.0, np.zeros(6, bool))
    assert empty["n"] == 0 and np.isnan(empty["mean"]) and np.isnan(empty["sd"])


def kind(n=60, transient_score=0.5, noise=10.0, seed=0, outliers=30):
    """``n`` transient points of 400 with scores around ``transient_score``, ``outliers`` more
    memorized points near 0.95 that stay memorized; the others ~0.1."""
    rng = np.random.default_rng(seed)
    scores = np.clip(0.1 + 0.05 * rng.standard_normal(400), -1, 1)
    scores[:n] = transient_score + 0.05 * rng.standard_normal(n)
    scores[n : n + outliers] = 0.95
    memorized = np.arange(400) < n + outliers
    return transient_stats(scores, np.arange(400) < n, noise, memorized)


def test_transient_holds_when_both_kinds_are_many_and_high():
    c = claims.natural_transient(kind(), kind(n=40, transient_score=0.4, seed=1))
    assert c.verdict == HOLDS, c
    assert [p.passed for p in c.parts] == [True] * 4
    assert c.numbers == {"model_wise": "60", "temporal": "40"}
    assert [n.name for n in c.notes] == ["model-wise above average", "temporal above average"]


def test_transient_partly_when_only_one_kind_stands_out():
    temporal = kind(n=5, transient_score=0.98, noise=20, outliers=0)  # few, and the outliers
    c = claims.natural_transient(kind(), temporal)
    assert c.verdict == PARTLY
    assert [p.passed for p in c.parts] == [True, True, False, False]
    c = claims.natural_transient(kind(noise=100), temporal)  # high but within the noise
    assert [p.passed for p in c.parts] == [False, True, False, False]
    assert c.verdict == PARTLY


def test_transient_fails_when_neither_kind_stands_out():
    dull = kind(n=5, transient_score=0.98, noise=20, outliers=0)
    none = transient_stats(np.linspace(0, 1, 10), np.zeros(10, bool), 0.0, np.zeros(10, bool))
    c = claims.natural_transient(dull, none)
    assert c.verdict == FAILS
    assert [p.passed for p in c.parts] == [False] * 4


def test_transient_tail_note():
    tail = {"transient": 0.7, "n": 60, "data": 0.2}
    c = claims.natural_transient(kind(), kind(), tail=tail)
    assert [n.passed for n in c.notes] == [True, True, True]
    c = claims.natural_transient(kind(), kind(), tail={**tail, "transient": 0.1})
    assert [n.passed for n in c.notes] == [True, True, False]
    assert c.verdict == HOLDS  # a note never moves the verdict


# --- natural_artificial ---------------------------------------------------------------------


def artificial(planted_counts, counts, half=10.0):
    w = np.asarray(WIDTHS[: len(counts)], float)
    c = np.asarray(counts)
    # the family column, as in the pages' tables, keeps a row's count an int (a row of only
    # numeric columns would be all floats: "400.0")
    t = pd.DataFrame({"family": "mlp", "width": w, "params": 10 * w**2,
                      "count_planted": planted_counts,
                      "count": c, "low": c - half, "high": c + half})  # fmt: skip
    return t.iloc[::-1]  # rows in any order: sorted by params


def test_artificial_holds_when_the_two_move_apart():
    c = claims.natural_artificial(artificial([20, 40, 60, 80], FALLING), planted=100)
    assert c.verdict == HOLDS, c
    assert c.key[1] == "20% → 80%; 400 → 100"


def test_artificial_partly_when_one_moves():
    c = claims.natural_artificial(artificial([20, 40, 60, 80], [300] * 4), planted=100)
    assert c.verdict == PARTLY
    assert [p.passed for p in c.parts] == [True, False]
    c = claims.natural_artificial(artificial([80, 80, 80, 80], FALLING), planted=100)
    assert c.verdict == PARTLY
    assert [p.passed for p in c.parts] == [False, True]


def test_artificial_fails_when_neither_moves():
    c = claims.natural_artificial(artificial([50, 40, 30, 20], RISING), planted=100)
    assert c.verdict == FAILS
    assert [p.passed for p in c.parts] == [False, False]


@pytest.mark.parametrize("largest, ok", [(30, True), (29, False)])
def test_artificial_rise_threshold_is_inclusive(largest, ok):
    # 0.3 - 0.2 is 0.0999... in floating point: still a rise of 0.1
    c = claims.natural_artificial(artificial([20, 25, 25, largest], FALLING), planted=100)
    assert c.parts[0].passed is ok


def test_gap_notes_the_mean_score_when_the_table_has_it():
    t = pd.DataFrame({"family": ["a"] * 6, "gap": np.linspace(0.1, 0.3, 6),
                      "count": [10, 30, 20, 50, 40, 60],
                      "mean_score": np.linspace(0.1, 0.3, 6) + 0.01})  # fmt: skip
    c = claims.natural_gap(t, n_boot=50)
    note = [n for n in c.notes if n.name == "mean score against the gap"]
    assert len(note) == 1 and note[0].passed and note[0].value == "r = 1.00"
