"""Maini et al. (2023), §6.2 and §7: example-tied dropout directs memorization to channels that
can then be dropped (Tables 1 to 3), and the clean examples it forgets are atypical (Figure 7).

The functions take tables of accuracies (one row per model; columns ``<group>_<mode>`` with
group clean, noisy or test and mode own, full or drop, as ``TiedRun.accuracies`` gives them)
and, for the forgotten examples, one row per training example. A precondition common to the
tables: through its own channels, every tied model predicts the redrawn labels of most noisy
examples; without it there is no memorization to direct.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import stats
from .core import Claim, Criterion, highest, lowest, make, ms
from .localization import DETECTS, GONE, KEPT, MEMORIZED

TEST_SLACK = 0.02  # test accuracy after dropping at least the full network's minus this
ATYPICAL = 0.7  # ROC-AUC of a memorization estimate for "forgotten" among fitted clean examples
MIN_FORGOTTEN = 10  # forgotten clean examples needed to measure that AUC

# The paper's Table 1 (clean, noisy, test; before and after dropping), Table 2 (clean, noisy
# after dropping, by (p_gen, p_mem)) and Table 3 (clean, noisy), as fractions.
PAPER_TABLE1 = {
    "cifar10": ((0.999, 0.993, 0.793), (0.908, 0.031, 0.827)),
    "mnist": ((1.0, 1.0, 0.990), (0.992, 0.001, 0.993)),
    "svhn": ((0.999, 0.996, 0.895), (0.958, 0.014, 0.896)),
}
PAPER_TABLE2 = {
    (0.1, 0.1): (0.842, 0.029), (0.2, 0.1): (0.869, 0.028), (0.3, 0.1): (0.871, 0.029),
    (0.4, 0.1): (0.899, 0.031), (0.5, 0.1): (0.920, 0.039), (0.6, 0.1): (0.930, 0.049),
    (0.1, 0.2): (0.869, 0.028), (0.2, 0.2): (0.882, 0.030), (0.3, 0.2): (0.908, 0.031),
    (0.4, 0.2): (0.917, 0.034), (0.5, 0.2): (0.936, 0.047), (0.6, 0.2): (0.950, 0.069),
}  # fmt: skip
PAPER_TABLE3 = {"dropout": (1.0, 0.995), "sparse": (1.0, 0.998), "tied": (0.908, 0.031)}


def memorized_own(acc: pd.DataFrame) -> Criterion:
    """Every tied model predicts at least MEMORIZED of its noisy examples' redrawn labels
    through their own channels."""
    worst = lowest(acc.noisy_own)
    return Criterion(
        "memorized", f"every tied model predicts the redrawn labels of at least {MEMORIZED:.0%} "
        "of its noisy examples through their own channels",
        f"lowest {worst:.3f} ({len(acc)} model{'s' * (len(acc) > 1)})", bool(worst >= MEMORIZED),
        "ours: nothing to direct otherwise",
    )  # fmt: skip


def maini_tied_dropout(acc: pd.DataFrame) -> Claim:
    """§6.2, Table 1, on ``acc`` indexed by (dataset, seed); seeds are averaged. For each
    dataset, after dropping the memorization channels:

    1. *noisy forgotten*: the noisy examples' accuracy is at most GONE;
    2. *clean kept*: the clean accuracy is within KEPT of its value through their own channels;
    3. *test kept*: the test accuracy is at least the full network's minus TEST_SLACK.

    Partly: the noisy examples are forgotten on some dataset."""
    m = acc.groupby(level=0, sort=False).mean()
    parts, numbers = [], {}
    for d, r in m.iterrows():
        parts += [
            Criterion(f"noisy forgotten ({d})", f"noisy accuracy after dropping at most {GONE:.0%}",
                      f"{r.noisy_own:.3f} → {r.noisy_drop:.3f}", bool(r.noisy_drop <= GONE),
                      "§6.2, Table 1 (3.1% on CIFAR-10); threshold ours"),
            Criterion(f"clean kept ({d})", f"clean accuracy drops by at most {KEPT:.0%}",
                      f"{r.clean_own:.3f} → {r.clean_drop:.3f}",
                      bool(r.clean_own - r.clean_drop <= KEPT),
                      "§6.2, Table 1 (9.1 points on CIFAR-10); threshold ours"),
            Criterion(f"test kept ({d})", f"test accuracy after dropping at least the full "
                      f"network's minus {TEST_SLACK:.0%}", f"{r.test_full:.3f} → {r.test_drop:.3f}",
                      bool(r.test_drop >= r.test_full - TEST_SLACK),
                      "§6.2, Table 1 (79.3% → 82.7% on CIFAR-10); threshold ours"),
        ]  # fmt: skip
        g = acc.loc[d]
        numbers[f"{d}: before"] = (f"clean {ms(g.clean_own)}, noisy {ms(g.noisy_own)}, test "
                                   f"{ms(g.test_full)}")  # fmt: skip
        numbers[f"{d}: after"] = (f"clean {ms(g.clean_drop)}, noisy {ms(g.noisy_drop)}, test "
                                  f"{ms(g.test_drop)}")  # fmt: skip
        numbers[f"{d}: after, other rescalings"] = "; ".join(
            f"{rule}: clean {r[f'clean_{m}']:.3f}, noisy {r[f'noisy_{m}']:.3f}, test "
            f"{r[f'test_{m}']:.3f}" for m, rule in (("drop_paper", "public code's"),
                                                    ("drop_unscaled", "none")))  # fmt: skip
    main = m.iloc[0]
    notes = [Criterion(
        "public code's rescaling", "the main dataset's noisy accuracy after dropping is also at "
        f"most {GONE:.0%} with the public code's factor (p_gen + p_mem) / p_gen",
        f"clean {main.clean_drop_paper:.3f}, noisy {main.noisy_drop_paper:.3f}, test "
        f"{main.test_drop_paper:.3f}", bool(main.noisy_drop_paper <= GONE), "ours")]  # fmt: skip
    noisy_parts = [c for c in parts if c.name.startswith("noisy")]
    return make("maini_tied_dropout", "Table 1", "dropping the memorization channels forgets "
                "the noisy examples only", parts, partly=any(c.passed for c in noisy_parts),
                preconditions=[memorized_own(acc)], notes=notes, numbers=numbers,
                key=("noisy acc. dropped", f"{main.noisy_drop:.1%}", "3.1%"))  # fmt: skip


def maini_tied_grid(grid: pd.DataFrame) -> Claim:
    """§6.2, Table 2, on ``grid`` indexed by (p_gen, p_mem), one model each:

    1. *robust*: in every cell the noisy accuracy after dropping is at most GONE;
    2. *clean rises with p_gen*: for each p_mem, the clean accuracy after dropping is higher at
       the largest p_gen than at the smallest;
    3. *noisy rises with p_gen*: the same for the noisy accuracy after dropping.

    Partly: any of them. The numbers say which of the paper's cells our Table 1 setting is
    nearest."""
    worst = highest(grid.noisy_drop)
    parts = [Criterion("robust", f"noisy accuracy after dropping at most {GONE:.0%} in every cell",
                       f"highest {worst:.3f}", bool(worst <= GONE),
                       "§6.2, Table 2 (at most 6.9%); threshold ours")]  # fmt: skip
    for col, group in (("clean_drop", "clean"), ("noisy_drop", "noisy")):
        rises = []
        for pm, g in grid.groupby(level=1):
            v = g[col].droplevel(1).sort_index()
            rises.append((pm, v.iloc[0], v.iloc[-1]))
        parts.append(Criterion(
            f"{group} rises with p_gen", f"for each p_mem, the {group} accuracy after dropping "
            "is higher at the largest p_gen than at the smallest",
            "; ".join(f"p_mem {pm:g}: {lo:.3f} → {hi:.3f}" for pm, lo, hi in rises),
            all(hi > lo for _, lo, hi in rises), "§6.2, Table 2"))  # fmt: skip
    numbers = {f"p_gen {g:g}, p_mem {m:g}": f"clean {r.clean_drop:.3f}, noisy {r.noisy_drop:.3f}"
               + (f" (paper {PAPER_TABLE2[g, m][0]:.1%}, {PAPER_TABLE2[g, m][1]:.1%})"
                  if (g, m) in PAPER_TABLE2 else "") for (g, m), r in grid.iterrows()}  # fmt: skip
    if (0.4, 0.2) in grid.index:  # the paper's Table 3 row (90.8%, 3.1%) is its (0.3, 0.2) cell
        r = grid.loc[(0.4, 0.2)]
        dist = {g: abs(r.clean_drop - PAPER_TABLE2[g, 0.2][0])
                + abs(r.noisy_drop - PAPER_TABLE2[g, 0.2][1]) for g in (0.3, 0.4)}  # fmt: skip
        numbers["Table 3's row"] = (
            f"ours at (0.4, 0.2) is {100 * dist[0.4]:.1f} points from the paper's (0.4, 0.2) "
            f"cell and {100 * dist[0.3]:.1f} from its (0.3, 0.2) cell, which Tables 1 and 3 "
            "print (sum of the clean and noisy differences)")  # fmt: skip
    return make("maini_tied_grid", "Table 2", "the localization is robust to p_gen and p_mem",
                parts, partly=any(c.passed for c in parts),
                preconditions=[memorized_own(grid)], numbers=numbers,
                key=("worst noisy acc. dropped", f"{worst:.1%}", "6.9%"))  # fmt: skip


def maini_tied_baselines(acc: pd.DataFrame) -> Claim:
    """§6.2, Table 3, on ``acc`` indexed by scheme (dropout, sparse, tied), one model each:

    1. *dropout memorizes*, 2. *sparse memorizes*: the standard-dropout and the sparse network
       predict at least MEMORIZED of the noisy examples' redrawn labels at evaluation;
    3. *tied forgets*: the tied model's noisy accuracy after dropping is at most GONE.

    Partly: any of them."""
    parts = [
        Criterion(f"{k} memorizes", f"noisy accuracy of the {name} at least {MEMORIZED:.0%}",
                  f"{acc.loc[k, 'noisy_full']:.3f}", bool(acc.loc[k, "noisy_full"] >= MEMORIZED),
                  f"§6.2, Table 3 ({PAPER_TABLE3[k][1]:.1%}); threshold ours")
        for k, name in (("dropout", "standard dropout"), ("sparse", "sparse network"))
    ] + [Criterion("tied forgets", f"noisy accuracy of example-tied dropout after dropping at "
                   f"most {GONE:.0%}", f"{acc.loc['tied', 'noisy_drop']:.3f}",
                   bool(acc.loc["tied", "noisy_drop"] <= GONE),
                   "§6.2, Table 3 (3.1%); threshold ours")]  # fmt: skip
    numbers = {k: f"clean {r.clean_full:.3f}, noisy {r.noisy_full:.3f}, test {r.test_full:.3f}"
               for k, r in acc.iterrows()}  # fmt: skip
    r = acc.loc["tied"]
    numbers["tied"] = (f"every channel: {numbers['tied']}; dropped: clean {r.clean_drop:.3f}, "
                       f"noisy {r.noisy_drop:.3f}, test {r.test_drop:.3f}")  # fmt: skip
    return make("maini_tied_baselines", "Table 3", "dropout and sparsity still memorize; "
                "example-tied dropout does not", parts, partly=any(c.passed for c in parts),
                preconditions=[memorized_own(acc.loc[["tied"]])], numbers=numbers,
                key=("noisy acc. dropout / sparse", f"{acc.loc['dropout', 'noisy_full']:.1%} / "
                     f"{acc.loc['sparse', 'noisy_full']:.1%}", "99.5% / 99.8%"))  # fmt: skip


def forgotten(rows: pd.DataFrame) -> np.ndarray:
    """The clean training examples that are right through their own channels and wrong
    without the memorization channels."""
    return (~rows.corrupted & rows.correct_own & ~rows.correct_drop).to_numpy(bool)


def atypicality(rows: pd.DataFrame, estimator: str) -> dict:
    """How a memorization estimate (column ``estimator``, higher = more memorized) separates
    the forgotten clean examples from the kept ones: ROC-AUC with a bootstrap interval,
    overlap of the forgotten set with as many top-scored examples, and the estimate's own
    ROC-AUC for the noisy examples (does it work here?). Examples without an estimate are
    left out; the AUC is NaN unless at least MIN_FORGOTTEN are forgotten and some kept."""
    known = np.isfinite(rows[estimator].to_numpy(float))  # Feldman-Zhang: in and out of models
    rows = rows[known]
    fitted = (~rows.corrupted & rows.correct_own).to_numpy(bool)
    lost, score = forgotten(rows)[fitted], rows[estimator].to_numpy(float)[fitted]
    k, nan = int(lost.sum()), float("nan")
    top = np.argsort(-score, kind="stable")[:k]
    enough = MIN_FORGOTTEN <= k < len(lost)  # an AUC, with an interval, needs both groups
    return {
        "n_forgotten": k, "n_fitted": int(fitted.sum()),
        "auc": stats.roc_auc(score, lost) if enough else nan,
        "ci": stats.bootstrap_ci(stats.roc_auc, score, lost, n=200) if enough else (nan, nan),
        "overlap": float(lost[top].mean()) if k else nan,
        "chance": float(lost.mean()) if len(lost) else nan,
        "detects": stats.roc_auc(rows[estimator].to_numpy(float), rows.corrupted.to_numpy(bool)),
    }  # fmt: skip


def maini_forgotten(tables: dict[str, pd.DataFrame], estimators: dict[str, list[str]]) -> Claim:
    """§6.2, Figure 7: the clean examples forgotten when the memorization channels are dropped
    are atypical. ``tables``: dataset -> one row per training example (corrupted, correct_own,
    correct_drop and one column per estimator); ``estimators``: dataset -> its estimators.

    One part per (dataset, estimator): the estimate separates the forgotten from the kept
    fitted clean examples with ROC-AUC at least ATYPICAL. Not measurable where fewer than
    MIN_FORGOTTEN are forgotten, or where the estimate does not itself detect the noisy
    examples (ROC-AUC below DETECTS): it would not be a working estimator here. Partly: any."""
    parts, numbers, aucs, names = [], {}, [], []
    for d, rows in tables.items():
        lost = forgotten(rows)
        if "pred_drop" in rows and lost.any():  # where the forgotten examples go
            counts = rows.pred_drop[lost].value_counts()
            numbers[f"{d}: forgotten, predicted as"] = (
                f"class {counts.index[0]} for {counts.iloc[0] / lost.sum():.0%} of them "
                f"(next: class {counts.index[1] if len(counts) > 1 else '-'})")  # fmt: skip
        for e in estimators[d]:
            a = atypicality(rows, e)
            aucs.append(a["auc"])
            names.append(f"{e} ({d})")
            why = (f"{a['n_forgotten']} of {a['n_fitted']} fitted clean examples forgotten"
                   if not np.isfinite(a["auc"]) else
                   f"the estimate detects the noisy examples with ROC-AUC {a['detects']:.2f} only"
                   if not a["detects"] >= DETECTS else "")  # fmt: skip
            parts.append(Criterion(
                f"atypical by {e} ({d})", f"ROC-AUC of the {e} estimate for forgotten among "
                f"fitted clean examples at least {ATYPICAL}",
                f"{a['auc']:.3f} [{a['ci'][0]:.3f}, {a['ci'][1]:.3f}]",
                None if why else bool(a["auc"] >= ATYPICAL), "§6.2, Figure 7 (a gallery); "
                "threshold ours", why))  # fmt: skip
            numbers[f"{d}, {e}"] = (
                f"ROC-AUC {a['auc']:.3f}; "
                f"{a['n_forgotten']} of {a['n_fitted']} fitted clean examples forgotten; "
                f"overlap with the top {a['n_forgotten']}: {a['overlap']:.0%} (chance "
                f"{a['chance']:.0%}); noisy-label AUC {a['detects']:.3f}")  # fmt: skip
    i = next((i for i, c in enumerate(parts) if c.passed is not None), 0)  # first measured
    return make("maini_forgotten", "Figure 7", "the forgotten clean examples are atypical",
                parts, partly=any(c.passed for c in parts), numbers=numbers,
                key=(f"forgotten AUC, {names[i]}", f"{aucs[i]:.2f}", "(a gallery)"))  # fmt: skip
