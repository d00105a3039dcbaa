"""Arpit et al. (2017), §3.3, Figures 5 and 6: noisy data need more capacity, and capacity and
data size change the time to fit noise more than the time to fit real data.

The functions take the per-member tables of the capacity page (one row per trained MLP:
kind, fraction, seed, width, n_train, fit_epoch (NaN: censored), censored, val_acc).

Numbers defined before any result:

* *width needed* of a condition: the smallest width whose validation accuracy (mean over seeds)
  is within NEAR of the condition's best over widths;
* *time-to-fit slope*: the least-squares slope of log epochs-to-100%-training-accuracy (mean
  over seeds of the log) against log width, or against log training-set size, over the widths
  (sizes) where every seed of real data and of every randX level fitted within the epoch cap:
  the same range for every condition, so that their slopes compare (at least 3 points).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core import Claim, Criterion, make

NEAR = 0.01  # "within 1 point of the best validation accuracy" (ours: the paper gives no number)
SLOPE_MARGIN = 0.0  # noise slopes must beat real data's by more than this (ours)
# The paper's values, read off its Figures 5 and 6 (no numbers are printed).
PAPER_WIDTH = "real: near-maximal by 4,096 units; with noise, more is needed (Fig. 5)"
PAPER_SLOPES = "steeper for noise than for real data, against width and against n (Fig. 6)"


def needed_width(table: pd.DataFrame, near: float) -> float:
    """The smallest width whose mean (over seeds) validation accuracy is within ``near`` of
    the best mean over widths. ``table``: columns width, val_acc (one condition)."""
    v = table.groupby("width").val_acc.mean().sort_index()
    ok = v.index[v.to_numpy() >= v.max() - near - 1e-12]
    return float(ok[0]) if len(ok) else float("nan")


def loglog_slope(x, epochs) -> tuple[float, int]:
    """Least-squares slope of log epochs against log x over the x where every seed fitted
    (``epochs``: [len(x), n_seeds], NaN = censored), and the number of points used; NaN under
    3 points. Censored points are left out, which flattens a slope where they lie at its end."""
    if len(x) == 0:
        return float("nan"), 0
    x, e = np.asarray(x, float), np.asarray(epochs, float).reshape(len(x), -1)
    keep = np.isfinite(e).all(1) & (e > 0).all(1)
    if keep.sum() < 3:
        return float("nan"), int(keep.sum())
    ly = np.log(e[keep]).mean(1)
    return float(np.polyfit(np.log(x[keep]), ly, 1)[0]), int(keep.sum())


def _levels(table: pd.DataFrame, kind: str) -> list[float]:
    return sorted(table[table.kind == kind].fraction.unique())


def _cond(table: pd.DataFrame, kind: str, fraction: float) -> pd.DataFrame:
    return table[(table.kind == kind) & np.isclose(table.fraction, fraction)]


def widths_needed(table: pd.DataFrame, near: float = NEAR) -> dict[tuple[str, float], float]:
    """(kind, fraction) -> the width needed (real data under ("real", 0.0))."""
    out = {("real", 0.0): needed_width(_cond(table, "real", 0.0), near)}
    for kind in ("randX", "randY"):
        for f in _levels(table, kind):
            out[kind, f] = needed_width(_cond(table, kind, f), near)
    return out


def slopes(table: pd.DataFrame, x: str) -> dict[tuple[str, float], tuple[float, int]]:
    """(kind, fraction) -> (time-to-fit slope against log ``x``, points used), real and randX,
    each over the ``x`` values where every seed of every one of them fitted (module doc)."""
    grids = {}
    for kind, f in [("real", 0.0), *(("randX", f) for f in _levels(table, "randX"))]:
        g = _cond(table, kind, f)
        e = g.pivot_table(index=x, columns="seed", values="fit_epoch", dropna=False)
        grids[kind, f] = e.reindex(index=sorted(table[x].unique()),
                                   columns=sorted(table.seed.unique()))  # fmt: skip
    common = np.logical_and.reduce([np.isfinite(e.to_numpy()).all(1) for e in grids.values()])
    return {c: loglog_slope(e.index.to_numpy()[common], e.to_numpy()[common])
            for c, e in grids.items()}  # fmt: skip


def _needs_more(need: dict, kind: str, table: pd.DataFrame) -> Criterion:
    """The width needed at the kind's highest noise level exceeds real data's."""
    top = max(_levels(table, kind), default=float("nan"))
    real, noisy = need[("real", 0.0)], need.get((kind, top), float("nan"))
    value = f"real {real:g}; " + ", ".join(
        f"{f:.0%} {need[kind, f]:g}" for f in _levels(table, kind)
    )
    ok = np.isfinite(real) and np.isfinite(noisy)
    return Criterion(
        f"{kind} needs more width",
        f"the width needed (validation accuracy within {NEAR:.0%} of the best) is larger at "
        f"{kind} {top:.0%} than for real data",
        value,
        bool(noisy > real) if ok else None,
        "§3.3.1, Figure 5; threshold ours",
        "" if ok else "no validation accuracy",
    )


def _steeper(sl: dict, x: str, sign: int, what: str) -> Criterion:
    """Every measurable randX slope is beyond real data's (more negative for width: sign -1;
    more positive for size: sign +1)."""
    real, _ = sl[("real", 0.0)]
    noisy = {f: s for (k, f), (s, _) in sl.items() if k == "randX" and np.isfinite(s)}
    value = "; ".join(f"{label(k, f)} {s:+.2f} ({n} pts)" for (k, f), (s, n) in sl.items())
    why = "" if np.isfinite(real) and noisy else "no slope is measurable"
    passed = None if why else all(sign * (s - real) > SLOPE_MARGIN for s in noisy.values())
    return Criterion(
        f"{what} matters more for noise",
        f"the slope of log epochs-to-fit against log {x} is {'steeper' if sign < 0 else 'larger'}"
        f" for every randX level (fitted at 3 points or more) than for real data",
        value,
        passed,
        "§3.3.2, Figure 6; threshold ours",
        why + f" (fewer than 3 {x} values where every seed of every condition fitted)"
        if why
        else "",
    )


def label(kind: str, fraction: float) -> str:
    return "real" if kind == "real" else f"{kind} {fraction:.0%}"


def real_fits(widths: pd.DataFrame, sizes: pd.DataFrame) -> Criterion:
    """Precondition: at the largest width, every real-data model fits its training set."""
    top = _cond(widths, "real", 0.0)
    top = top[top.width == top.width.max()]
    n = int(top.censored.sum()) if len(top) else 0
    return Criterion(
        "real data fitted",
        "every real-data model of the largest width reaches 100% training accuracy within "
        "the epoch cap",
        f"{len(top) - n} of {len(top)}",
        bool(len(top)) and n == 0,
        "ours: time to fit is defined only if it fits",
    )


def arpit_capacity(widths: pd.DataFrame, sizes: pd.DataFrame) -> Claim:
    """§3.3, Figures 5 and 6, on the width sweep's and the size sweep's member tables:

    1. *randX needs more width*, 2. *randY needs more width*: the width needed at the highest
       noise level exceeds real data's (Figure 5);
    3. *width matters more for noise*: every measurable randX slope of log time-to-fit against
       log width is more negative than real data's (Figure 6, left: diminishing returns of
       capacity are stronger on real data);
    4. *size matters more for noise*: every measurable randX slope against log n is larger
       than real data's (Figure 6, right).

    Partly: any part holds. Precondition: the real-data models of the largest width fit."""
    need = widths_needed(widths)
    sw, sn = slopes(widths, "width"), slopes(sizes, "n_train")
    parts = [
        _needs_more(need, "randX", widths),
        _needs_more(need, "randY", widths),
        _steeper(sw, "width", -1, "width"),
        _steeper(sn, "n", +1, "size"),
    ]
    rises = {}
    for kind in ("randX", "randY"):
        v = [need[("real", 0.0)], *(need[kind, f] for f in _levels(widths, kind))]
        rises[kind] = bool(np.all(np.diff(v) >= 0)) if np.isfinite(v).all() else None
    notes = [
        Criterion(
            "width needed rises with noise",
            "for randX and for randY, the width needed never falls as the noise share grows",
            ", ".join(
                f"{k}: {'yes' if r else 'no' if r is False else '-'}" for k, r in rises.items()
            ),  # fmt: skip
            None if None in rises.values() else all(rises.values()),
            "§3.3.1, Figure 5",
            "" if None not in rises.values() else "a width needed is not measurable",
        )
    ]
    best = widths.groupby(["kind", "fraction", "width"]).val_acc.mean()
    numbers = {
        "width needed (ours)": "; ".join(f"{label(k, f)} {w:g}" for (k, f), w in need.items()),
        "width needed (paper)": PAPER_WIDTH,
        "best validation accuracy": "; ".join(
            f"{label(k, f)} {g.max():.3f}" for (k, f), g in best.groupby(level=[0, 1])
        ),
        "slopes vs width (ours)": parts[2].value,
        "slopes vs n (ours)": parts[3].value,
        "slopes (paper)": PAPER_SLOPES,
        "censored models": f"{int(widths.censored.sum())} of {len(widths)} (width sweep), "
        f"{int(sizes.censored.sum())} of {len(sizes)} (size sweep)",
    }
    top = max(_levels(widths, "randX"), default=float("nan"))
    key = (
        f"width needed, real / randX {top:.0%}",
        f"{need[('real', 0.0)]:g} / {need.get(('randX', top), float('nan')):g}",
        "rises with noise",
    )
    return make("arpit_capacity", "Figures 5 and 6", "noise needs more capacity, and capacity "
                "and data size change its time to fit more", parts,
                partly=any(c.passed for c in parts), preconditions=[real_fits(widths, sizes)],
                notes=notes, numbers=numbers, key=key)  # fmt: skip
