"""Arpit et al. (2017), §3.2, Figures 3 and 4: on real data a few examples dominate the loss
sensitivity (a high Gini coefficient of ``ḡ_x`` over examples); on random data it is spread over
most of them. Per class, the sensitivity is highest on the diagonal, and more spread off it for
real data.

The functions take the page's Gini table (one row per condition, seed and grid step: columns
condition, seed, step, gini, acc) and its per-class matrices (condition -> [seeds, C, C]).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core import Claim, Criterion, lowest, make, ms

RANDOM = ("randX", "randY")  # the random conditions real data is compared with
GINI_MARGIN = 0.1  # real's final Gini above each random condition's by this (ours; paper ~0.4)
MOST = 0.75  # share of the grid steps at which real's Gini must lead both random ones (ours)
DIAGONAL_COLUMNS = 9  # of 10 columns j whose largest entry must be ḡ_{j,j} (ours)
FITTED = 0.9  # training accuracy the real-data model must reach (ours: a trained network)
PAPER_GINI = {"real": "≈0.5–0.7", "randX": "≈0.1–0.2", "randY": "≈0.1–0.2"}  # read off Fig. 3


def _final(gini: pd.DataFrame, kind: str, column: str = "gini") -> pd.Series:
    """Each seed's value of ``column`` at its last grid step, indexed by seed."""
    g = gini[gini.condition == kind].sort_values("step")
    return g.groupby("seed")[column].last()


def _lead(gini: pd.DataFrame) -> pd.Series:
    """Per seed, the share of grid steps at which real's Gini exceeds every random one's."""
    w = gini.pivot(index=["seed", "step"], columns="condition", values="gini")  # NaN kept
    ahead = np.ones(len(w), dtype=bool)
    for kind in RANDOM:
        ahead &= (w["real"] > w[kind]).to_numpy()  # NaN compares False
    return pd.Series(ahead, index=w.index).groupby(level="seed").mean()


def off_diagonal(m: np.ndarray) -> np.ndarray:
    """The share of each seed's matrix total off its diagonal: [seeds, C, C] → [seeds]."""
    total = m.sum((1, 2))
    return (total - np.trace(m, axis1=1, axis2=2)) / total


def diagonal_wins(m: np.ndarray) -> int:
    """The columns j of the seeds' mean matrix [seeds, C, C] whose largest entry is ḡ_{j,j}."""
    mean = m.mean(0)
    return int((mean.argmax(0) == np.arange(len(mean))).sum())


def arpit_sensitivity(gini: pd.DataFrame, mats: dict[str, np.ndarray]) -> Claim:
    """§3.2, Figures 3 and 4, over seeds:

    1. *real concentrated at the end*: at the last step, real data's Gini exceeds each random
       condition's by at least GINI_MARGIN, in every seed;
    2. *real concentrated over training*: real's Gini exceeds both random ones' at a share of at
       least MOST of the grid steps, in every seed (needs two grid steps);
    3. *diagonal dominant*: in every condition, ḡ_{j,j} is the largest entry of at least
       DIAGONAL_COLUMNS columns j (mean over seeds);
    4. *real spread off the diagonal*: real data's off-diagonal share exceeds each random
       condition's, in every seed.

    Precondition: the real-data model fits at least FITTED of its training set in every seed.
    Partly: any part holds."""
    fin = {k: _final(gini, k) for k in ("real", *RANDOM)}
    acc = {k: _final(gini, k, "acc") for k in ("real", *RANDOM)}
    gap = pd.concat([fin["real"] - fin[k] for k in RANDOM], axis=1).min(axis=1, skipna=False)
    lead = _lead(gini)
    n_steps = int(gini.step.nunique())
    off = {k: off_diagonal(mats[k]) for k in ("real", *RANDOM)}
    off_gap = np.minimum.reduce([off["real"] - off[k] for k in RANDOM])
    wins = {k: diagonal_wins(mats[k]) for k in ("real", *RANDOM)}
    n_classes = int(mats["real"].shape[-1])
    parts = [
        Criterion(
            "real concentrated at the end", f"at the last step, real data's Gini of ḡ exceeds "
            f"randX's and randY's by at least {GINI_MARGIN}, in every seed",
            f"smallest gap {lowest(gap):.3f}", lowest(gap) >= GINI_MARGIN,
            "§3.2, Figure 3 (≈0.5–0.7 against ≈0.1–0.2); margin ours",
        ),
        Criterion(
            "real concentrated over training", f"real data's Gini exceeds both random ones' at "
            f"{MOST:.0%} of the grid steps or more, in every seed",
            f"lowest share {lowest(lead):.0%} of {n_steps} steps",
            lowest(lead) >= MOST if n_steps >= 2 else None,
            "§3.2, Figure 3; share ours", "" if n_steps >= 2 else "one grid step only",
        ),
        Criterion(
            "diagonal dominant", f"in real, randX and randY, ḡ(j, j) is the largest entry of at "
            f"least {DIAGONAL_COLUMNS} of the {n_classes} columns j (mean over seeds)",
            ", ".join(f"{k} {w}" for k, w in wins.items()),
            min(wins.values()) >= DIAGONAL_COLUMNS, "§3.2, Figure 4; count ours",
        ),
        Criterion(
            "real spread off the diagonal", "real data's off-diagonal share of ḡ(i, j) exceeds "
            "randX's and randY's, in every seed", f"smallest gap {lowest(off_gap):+.3f}",
            lowest(off_gap) > 0, "§3.2, Figure 4",
        ),
    ]  # fmt: skip
    fitted = Criterion(
        "real data fitted", f"the real-data model fits at least {FITTED:.0%} of its training "
        "set at the last step, in every seed", ms(acc["real"]), lowest(acc["real"]) >= FITTED,
        "ours: the claim is about a trained network",
    )  # fmt: skip
    numbers = {
        f"final Gini, {k}": f"{ms(fin[k])} (paper {PAPER_GINI[k]})" for k in fin
    } | {
        f"final training accuracy, {k}": ms(acc[k]) for k in acc
    } | {
        f"off-diagonal share, {k}": ms(off[k]) for k in off
    }  # fmt: skip
    means = "{:.2f} / {:.2f} / {:.2f}".format(*(float(fin[k].mean()) for k in fin))
    return make(
        "arpit_sensitivity", "Figures 3 and 4", "real data: a few examples dominate the loss "
        "sensitivity; random data: spread out", parts, partly=any(c.passed for c in parts),
        preconditions=[fitted], numbers=numbers,
        key=("final Gini real / randX / randY", means, "≈0.6 / ≈0.15 / ≈0.15"),
    )  # fmt: skip
