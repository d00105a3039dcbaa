"""Arpit et al. (2017), §3.1, Figure 1: after one epoch, real data has examples that are
consistently easy (and hard); for random inputs (randX) the spread of difficulty is what the
Binomial of equal difficulty gives; random labels (randY) have no consistently easy examples.

The functions take one row per measured training example: its misclassification rate over the
runs in each condition (``rate_real``, ``rate_randX``, ``rate_randY``), its ``label`` in the
randX condition (the real labels) and, beyond the paper, its turn-over memorization ``score``
(NaN or absent: none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import stats
from ..arpit.difficulty import (
    binomial_share_at_least,
    binomial_share_at_most,
    dispersion,
    share_at_least,
    share_at_most,
    within_class_dispersion,
)
from .core import Claim, Criterion, informative, make

CONDITIONS = ("real", "randX", "randY")
EASY = 0.05  # consistently easy: misclassified in at most 5% of the runs (ours)
HARD = 0.95  # consistently hard: misclassified in at least 95% of the runs (ours)
REAL_RATIO = 2.0  # real data's dispersion ratio at least this (ours; Figure 1: far from binomial)
EASY_EXCESS = 0.05  # consistently easy examples beyond the Binomial's share, in share (ours)
HARD_EXCESS = 0.01  # consistently hard examples beyond the Binomial's share (ours)
RANDX_RATIO = 1.5  # randX "well modeled as random Binomial noise" (§3.1): ratio at most this (ours)
GAP = 2.0  # real data "much more variable" (Figure 1's caption): ratio this many times more (ours)
SCORE_AUC = 0.7  # beyond the paper: the score's ROC-AUC for hard vs easy at least this (ours)
MIN_GROUP = 10  # examples needed in each of the easy and hard groups for that AUC


def _ratio_ci(rates: np.ndarray, n_runs: int, n_boot: int) -> tuple[float, float]:
    return stats.bootstrap_ci(lambda r: dispersion(r, n_runs), rates, n=n_boot)


def summary(rates: np.ndarray, n_runs: int, n_boot: int = 1000) -> dict:
    """One condition's numbers: mean rate p̄, dispersion ratio with a bootstrap interval over
    examples, the shares of consistently easy and hard examples with intervals, and the shares
    the equal-difficulty Binomial(n_runs, p̄) expects."""
    r = np.asarray(rates, dtype=np.float64)
    p = float(r.mean()) if len(r) else float("nan")
    ok = 0 < p < 1
    easy_ci = stats.bootstrap_ci(lambda v: share_at_most(v, EASY), r, n=n_boot)
    hard_ci = stats.bootstrap_ci(lambda v: share_at_least(v, HARD), r, n=n_boot)
    return {
        "p": p, "ratio": dispersion(r, n_runs),
        "ratio_ci": _ratio_ci(r, n_runs, n_boot) if ok else (np.nan, np.nan),
        "easy": share_at_most(r, EASY), "easy_ci": easy_ci,
        "hard": share_at_least(r, HARD), "hard_ci": hard_ci,
        "easy_binom": binomial_share_at_most(p, n_runs, EASY) if ok else np.nan,
        "hard_binom": binomial_share_at_least(p, n_runs, HARD) if ok else np.nan,
    }  # fmt: skip


def _why_ratio(s: dict, name: str) -> str:
    return "" if np.isfinite(s["ratio"]) else f"every {name} example has the same rate {s['p']:.2f}"


def _fmt(s: dict) -> str:
    lo, hi = s["ratio_ci"]
    return f"{s['ratio']:.2f} [{lo:.2f}, {hi:.2f}]"


def score_notes(table: pd.DataFrame, scorers, n_boot: int) -> tuple[list[Criterion], dict]:
    """Beyond the paper: do consistently easy examples have low turn-over scores and hard ones
    high? Spearman of the real-data rate with the score (bootstrap interval above 0), and the
    score's ROC-AUC for consistently hard against consistently easy (at least SCORE_AUC)."""
    score = table["score"].to_numpy(float) if "score" in table else np.full(len(table), np.nan)
    rate, nan = table["rate_real"].to_numpy(float), float("nan")
    known = np.isfinite(score)
    usable = informative(scorers) if scorers else None
    why = ("no turn-over scores" if not known.any() else
           "the scoring run is not informative" if usable is not None and not usable.passed
           else "")  # fmt: skip
    rho = stats.spearman(rate[known], score[known]) if known.sum() > 2 else nan
    rho_ci = stats.bootstrap_ci(stats.spearman, rate[known], score[known], n=n_boot) \
        if known.sum() > 2 else (nan, nan)  # fmt: skip
    easy, hard = known & (rate <= EASY + 1e-12), known & (rate >= HARD - 1e-12)
    both = easy | hard
    enough = min(easy.sum(), hard.sum()) >= MIN_GROUP
    auc = stats.roc_auc(score[both], hard[both]) if enough else nan
    auc_ci = stats.bootstrap_ci(stats.roc_auc, score[both], hard[both], n=n_boot) \
        if enough else (nan, nan)  # fmt: skip
    notes = [] if usable is None else [usable]
    notes += [
        Criterion("scores track difficulty", "Spearman's ρ of the real-data misclassification "
                  "rate with the turn-over score, bootstrap 95% interval above 0",
                  f"{rho:.3f} [{rho_ci[0]:.3f}, {rho_ci[1]:.3f}]",
                  None if why else bool(rho_ci[0] > 0), "ours (beyond the paper)", why),
        Criterion("hard scored higher", f"ROC-AUC of the score for consistently hard (rate ≥ "
                  f"{HARD:.0%}) against consistently easy (≤ {EASY:.0%}) at least {SCORE_AUC}",
                  f"{auc:.3f} [{auc_ci[0]:.3f}, {auc_ci[1]:.3f}] ({hard.sum()} hard, "
                  f"{easy.sum()} easy)", None if why or not enough else bool(auc >= SCORE_AUC),
                  "ours (beyond the paper)", why or f"{hard.sum()} hard and {easy.sum()} easy "
                  f"examples: fewer than {MIN_GROUP} in a group"),
    ]  # fmt: skip
    numbers = {"turn-over score against difficulty": (
        f"Spearman {rho:.3f}; ROC-AUC hard vs easy {auc:.3f}; mean score of the easy "
        f"{np.mean(score[easy]) if easy.any() else nan:.3f}, of the hard "
        f"{np.mean(score[hard]) if hard.any() else nan:.3f}")}  # fmt: skip
    return notes, numbers


def arpit_difficulty(table: pd.DataFrame, n_runs: int, scorers=(), n_boot: int = 1000) -> Claim:
    """§3.1, Figure 1, on ``table`` (module docstring); ``n_runs``: runs per condition;
    ``scorers``: the turn-over run(s) behind ``score``. Parts:

    1. *real dispersed*: real data's dispersion ratio is at least REAL_RATIO, its interval above 1;
    2. *real easy examples*: the share misclassified in at most EASY of the runs exceeds the
       Binomial's by EASY_EXCESS, and its interval lies above the Binomial's share;
    3. *real hard examples*: likewise at least HARD, by HARD_EXCESS;
    4. *randX binomial*: randX's ratio is at most RANDX_RATIO;
    5. *randY no easy examples*: randY's easy share exceeds its Binomial's by less than EASY_EXCESS;
    6. *real most variable*: real data's ratio is GAP times that of each random condition.

    Precondition: one epoch on real data fits at least twice chance of the measured examples.
    Partly: any part. Notes: randY's ratio (§3.1: not binomial), randX's ratio within label
    classes, and the turn-over scores against difficulty (:func:`score_notes`)."""
    s = {c: summary(table[f"rate_{c}"].to_numpy(float), n_runs, n_boot) for c in CONDITIONS}
    real, rx, ry = s["real"], s["randX"], s["randY"]
    n_classes = int(table["label"].max()) + 1 if len(table) else 10
    pre = Criterion("real data learned", f"after one epoch on real data the runs classify at "
                    f"least twice chance ({2 / n_classes:.2f}) of the measured examples",
                    f"mean accuracy {1 - real['p']:.3f}", bool(1 - real["p"] >= 2 / n_classes),
                    "ours: no pattern learned otherwise")  # fmt: skip
    ratio_crit = lambda name, rule, val, ok, src, c: Criterion(
        name, rule, val, None if _why_ratio(s[c], c) else ok, src, _why_ratio(s[c], c)
    )
    parts = [
        ratio_crit("real dispersed", f"real data's dispersion ratio at least {REAL_RATIO:g}, "
                   "its bootstrap 95% interval above 1", _fmt(real),
                   real["ratio"] >= REAL_RATIO and real["ratio_ci"][0] > 1,
                   "§3.1, Figure 1; threshold ours", "real"),
        Criterion("real easy examples", f"share of real examples misclassified in at most "
                  f"{EASY:.0%} of the runs above the Binomial's by {EASY_EXCESS:.0%}, its interval "
                  "above the Binomial's", f"{real['easy']:.1%} [{real['easy_ci'][0]:.1%}, "
                  f"{real['easy_ci'][1]:.1%}], Binomial {real['easy_binom']:.1%}",
                  bool(real["easy"] - real["easy_binom"] >= EASY_EXCESS
                       and real["easy_ci"][0] > real["easy_binom"]),
                  "§3.1 (\"consistently classified correctly\"); thresholds ours"),
        Criterion("real hard examples", f"share misclassified in at least {HARD:.0%} of the runs "
                  f"above the Binomial's by {HARD_EXCESS:.0%}, its interval above the Binomial's",
                  f"{real['hard']:.1%} [{real['hard_ci'][0]:.1%}, {real['hard_ci'][1]:.1%}], "
                  f"Binomial {real['hard_binom']:.1%}",
                  bool(real["hard"] - real["hard_binom"] >= HARD_EXCESS
                       and real["hard_ci"][0] > real["hard_binom"]),
                  "§3.1 (\"consistently classified incorrectly\"); thresholds ours"),
        ratio_crit("randX binomial", f"randX's dispersion ratio at most {RANDX_RATIO:g}", _fmt(rx),
                   rx["ratio"] <= RANDX_RATIO, "§3.1 (\"well modeled as random Binomial "
                   "noise\"); threshold ours", "randX"),
        Criterion("randY no easy examples", f"share of randY examples misclassified in at most "
                  f"{EASY:.0%} of the runs above the Binomial's by less than {EASY_EXCESS:.0%}",
                  f"{ry['easy']:.1%}, Binomial {ry['easy_binom']:.1%}",
                  bool(ry["easy"] - ry["easy_binom"] < EASY_EXCESS)
                  if np.isfinite(ry["easy_binom"]) else None, "§3.1, Figure 1; threshold ours",
                  _why_ratio(ry, "randY")),
        Criterion("real most variable", f"real data's dispersion ratio at least {GAP:g} times "
                  "randX's and randY's", f"{real['ratio']:.2f} against {rx['ratio']:.2f} and "
                  f"{ry['ratio']:.2f}", bool(real["ratio"] >= GAP * max(rx["ratio"], ry["ratio"]))
                  if all(np.isfinite(v["ratio"]) for v in s.values()) else None,
                  "Figure 1's caption (\"much more variable in real data\"); threshold ours",
                  "a condition has no spread to compare"),
    ]  # fmt: skip
    within = within_class_dispersion(table["rate_randX"], table["label"], n_runs)
    notes = [
        ratio_crit("randY beyond binomial", f"randY's dispersion ratio above {RANDX_RATIO:g} "
                   "(§3.1: randY is not binomial, \"some use of shared patterns\")", _fmt(ry),
                   ry["ratio"] > RANDX_RATIO, "§3.1", "randY"),
        Criterion("randX within classes", f"randX's ratio against equal difficulty within each "
                  f"label class at most {RANDX_RATIO:g} (the classes' shares differ, and so may "
                  "their rates)", f"{within:.2f}", bool(within <= RANDX_RATIO)
                  if np.isfinite(within) else None, "ours", "no spread to compare"),
    ]  # fmt: skip
    more, score_numbers = score_notes(table, scorers, n_boot)
    numbers = {
        c: f"p̄ {v['p']:.3f}; dispersion {_fmt(v)}; easy (≤ {EASY:.0%}) {v['easy']:.1%} "
        f"(Binomial {v['easy_binom']:.1%}); hard (≥ {HARD:.0%}) {v['hard']:.1%} (Binomial "
        f"{v['hard_binom']:.1%}) (paper: a figure, no numbers)" for c, v in s.items()
    } | {"examples, runs": f"{len(table)} examples, {n_runs} runs per condition (paper: 1,000, "
         "100)"} | score_numbers  # fmt: skip
    return make("arpit_difficulty", "Figure 1", "real data has consistently easy and hard "
                "examples; random data's difficulty is nearly binomial", parts,
                partly=any(c.passed for c in parts), preconditions=[pre],
                notes=notes + more, numbers=numbers,
                key=("dispersion real / randX / randY", f"{real['ratio']:.1f} / {rx['ratio']:.1f} "
                     f"/ {ry['ratio']:.1f}", "(a figure: real ≫ randX ≈ 1)"))  # fmt: skip
