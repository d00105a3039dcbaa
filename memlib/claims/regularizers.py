"""Arpit et al. (2017), §5, Figure 10: some regularizers, dropout the most and dropout with
adversarial training best of all, hinder the memorization of random labels (low final training
accuracy on randY) while keeping the model's ability to learn real data (best validation
accuracy on CIFAR-10 near the unregularized model's).

The numbers, defined before any result: the unregularized model's randY training accuracy
``b_y`` and real validation accuracy ``b_v``. A setting (regularizer, strength) *caps*
memorization if its randY training accuracy is at most CAP × b_y. A regularizer's *score* is
the best real validation accuracy among its capping strengths (NaN if none caps): a flat curve
in Figure 10 gives a score near b_v; a steep one, a score far below it, or none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core import Claim, Criterion, make, reaches

CAP = 0.5  # randY training accuracy at most this × the unregularized model's: capped (ours)
SLACK = 0.05  # a capping regularizer keeps learning within this of b_v (ours; §5: "without
# significantly impacting learning on real data")
TOP = 2  # "dropout being the most effective": its score ranks in the first TOP (ours)
FITTED = 0.9  # the unregularized model's randY training accuracy: it memorizes (ours)
CHANCE_FACTOR = 2.0  # the unregularized model's real validation at least this × chance (ours)
N_CLASSES = 10
DROPOUTS = ("dropout", "adversarial")  # the regularizers the claim names


def _means(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (regularizer, strength): randY_train_acc and best_val averaged over seeds."""
    return table.groupby(["regularizer", "strength"], sort=False)[
        ["randY_train_acc", "best_val"]].mean().reset_index()  # fmt: skip


def _base(m: pd.DataFrame) -> tuple[float, float]:
    """The unregularized model's (b_y, b_v) from :func:`_means`; NaN without one."""
    base = m[m.regularizer == "none"]
    if not len(base):
        return float("nan"), float("nan")
    return float(base.randY_train_acc.iloc[0]), float(base.best_val.iloc[0])


def scores(table: pd.DataFrame) -> tuple[pd.DataFrame, float, float]:
    """``table`` (one row per regularizer, strength, seed: randY_train_acc, best_val) averaged
    over seeds, with a ``capped`` column; each regularizer's score (and its number of capping
    strengths) as a frame indexed by regularizer; and (b_y, b_v)."""
    m = _means(table)
    b_y, b_v = _base(m)
    m["capped"] = [reaches(CAP * b_y, a) for a in m.randY_train_acc]
    rows = {}
    for name, g in m[m.regularizer != "none"].groupby("regularizer", sort=False):
        c = g[g.capped]
        rows[name] = {"score": float(c.best_val.max()) if len(c) else float("nan"),
                      "n_capped": int(len(c)), "n": int(len(g)),
                      "lowest_randY": float(g.randY_train_acc.min())}  # fmt: skip
    s = pd.DataFrame.from_dict(rows, orient="index")
    return s, b_y, b_v


def nearest(table: pd.DataFrame, name: str) -> str:
    """How far ``name`` got at no cost to learning: among its strengths whose best validation
    accuracy stays within SLACK of b_v (seed means), the one with the lowest randY training
    accuracy, against the cap (a number beside the verdict: how near a flat curve came)."""
    g = _means(table)
    b_y, b_v = _base(g)
    kept = g[(g.regularizer == name) & np.array([reaches(v, b_v - SLACK) for v in g.best_val])]
    if not len(kept):
        return f"no strength keeps validation within {SLACK:.0%} of {b_v:.3f}"
    r = kept.loc[kept.randY_train_acc.idxmin()]
    return (
        f"strength {r.strength}: randY {r.randY_train_acc:.3f} (cap {CAP * b_y:.3f}), "
        f"validation {r.best_val:.3f} (unregularized {b_v:.3f})"
    )


def arpit_regularizers(table: pd.DataFrame) -> Claim:
    """Figure 10 on ``table`` (see :func:`scores`):

    1. *dropout caps memorization*: the better of dropout and dropout + adversarial training
       has a score of at least b_v − SLACK (it cuts randY training accuracy to at most CAP ×
       b_y and keeps real validation accuracy within SLACK of b_v);
    2. *dropout the most effective*: that score ranks in the first TOP of all regularizers'
       (no score ranks last).

    Partly: either. Preconditions: the unregularized model memorizes randY (at least FITTED)
    and learns real data (validation at least CHANCE_FACTOR × chance). Beside the verdict:
    each other regularizer's score."""
    s, b_y, b_v = scores(table)
    ours = [d for d in DROPOUTS if d in s.index]
    best = s.loc[ours, "score"].max() if ours else float("nan")
    best_name = s.loc[ours, "score"].idxmax() if ours and np.isfinite(best) else None

    def shown(name):
        r = s.loc[name]
        n, k = int(r.n), int(r.n_capped)
        if k:
            return f"{r.score:.3f} ({k} of {n} strengths capped)"
        return f"none of {n} strengths capped (lowest randY {r.lowest_randY:.3f})"

    measured = "; ".join(f"{d}: {shown(d)}" for d in ours) + f"; b_v {b_v:.3f}"
    why = "" if ours else "no dropout or adversarial settings were run"
    ranked = s.score.fillna(-np.inf).rank(ascending=False, method="min")
    rank = int(ranked[best_name]) if best_name else None
    parts = [
        Criterion("dropout caps memorization", f"dropout or dropout + adversarial training cuts "
                  f"randY training accuracy to at most {CAP:g} × the unregularized model's and "
                  f"keeps its best validation accuracy within {SLACK:.0%} of it", measured,
                  None if why else reaches(best, b_v - SLACK), "§5, Figure 10; thresholds ours",
                  why),
        Criterion("dropout the most effective", f"that regularizer's score ranks in the first "
                  f"{TOP} of the {len(s)} regularizers", f"rank {rank} ({best_name})" if rank
                  else "no capping strength", None if why else bool(rank is not None
                  and rank <= TOP), "§5: \"dropout being the most effective\"", why),
    ]  # fmt: skip
    pre = [
        Criterion("randY memorized", f"the unregularized model's final training accuracy on "
                  f"randY at least {FITTED:.0%}", f"{b_y:.3f}", bool(b_y >= FITTED), "ours"),
        Criterion("real learned", f"the unregularized model's best validation accuracy at "
                  f"least {CHANCE_FACTOR:g} × chance ({CHANCE_FACTOR / N_CLASSES:.0%})",
                  f"{b_v:.3f}", bool(b_v >= CHANCE_FACTOR / N_CLASSES), "ours"),
    ]  # fmt: skip
    notes = [
        Criterion(f"{name} caps memorization", f"score at least b_v − {SLACK:.0%}", shown(name),
                  reaches(s.loc[name, "score"], b_v - SLACK), "ours")
        for name in s.index if name not in DROPOUTS
    ]  # fmt: skip
    numbers = {"unregularized": f"randY training accuracy {b_y:.3f}, best validation {b_v:.3f}"}
    numbers |= {f"score, {name}": shown(name) for name in s.index}
    numbers |= {f"lowest randY at no cost, {name}": nearest(table, name) for name in s.index}
    numbers["the paper"] = "a figure (Figure 10), no number; dropout the most effective"
    key_value = f"{best:.1%} / {b_v:.1%}" if np.isfinite(best) else f"none / {b_v:.1%}"
    return make("arpit_regularizers", "Figure 10", "dropout hinders memorization of random "
                "labels without hurting learning on real data", parts,
                partly=any(c.passed for c in parts), preconditions=pre, notes=notes,
                numbers=numbers, key=("best val. capped by dropout / none", key_value,
                                      "(a figure)"))  # fmt: skip
