"""Claims about training dynamics: Figures 3, 4, 9(a), 9(b) and 10."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import stats
from ..errors import MemlibError
from .core import (
    Claim,
    Criterion,
    at_end,
    by_seed,
    faster,
    highest,
    lowest,
    make,
    ms,
    reach_epochs,
    reach_numbers,
    seeds,
)

# --- Figures 3 and 4: random-label dynamics ------------------------------------------------------


def _test_peak(h: pd.DataFrame, window: int) -> dict:
    """The ``window``-smoothed test accuracy's peak: its epoch, height, the drop (points) from
    it to the smoothed last epoch, and the last epoch."""
    test = stats.smooth(h.test_acc, window)
    return {
        "peak": int(h.epoch.iloc[int(test.argmax())]),
        "top": float(test.max()),
        "drop": 100 * float(test.max() - test[-1]),
        "last": int(h.epoch.iloc[-1]),
    }


def _dynamics(h: pd.DataFrame, window: int, subset: str = "difficult") -> dict:
    """Figure 3's measurements of one run: epochs to 50% / 90%, the ``subset``'s gain (points)
    from epoch 1 to the smoothed test peak, and :func:`_test_peak`."""
    peak = _test_peak(h, window)
    d = h.set_index("epoch")[f"train_acc_{subset}"]
    return (
        reach_epochs(h)
        | peak
        | {
            "d1": float(d[1]),
            "gain": 100 * float(d[peak["peak"]] - d[1]),
        }
    )


def fig3_random_label_dynamics(runs, uniform=(), turnover=(), window: int = 5) -> Claim:
    """§3.2, Figure 3: with 20,000 random labels, (1) easy examples are learnt much faster
    (easy reaches 90% before difficult reaches 50%); (2) the difficult subset improves a little
    early (at least 0.5 points from epoch 1 to the test peak); (3) the test accuracy peaks, then
    drops (by at least 0.5 points by the last epoch); every seed, on the ``window``-smoothed test
    curve. Partly: (1) and one other.

    Note beside the verdict, from the ``uniform`` runs (random labels drawn from all classes):
    the missing early gain comes from the label convention if, with uniform noise, the difficult
    subset gains at least 0.5 points while its examples whose random label is not their true
    class do not. ``turnover``: the turn-over-dropout comparison, reported only."""
    # Long by design: one claim, read top to bottom (its numbers, then each criterion
    # in the docstring's order); splitting it would scatter the rules it states.
    c = by_seed([_dynamics(r.history, window) for r in runs])
    drop_ok = all(p < end for p, end in zip(c["peak"], c["last"], strict=True))
    parts = [
        Criterion(
            "easy faster",
            "the easy subset reaches 90% training accuracy before the difficult one reaches "
            "50%, in every seed",
            f"easy 90% at {stats.describe_epochs(c['easy90'])}; "
            f"difficult 50% at {stats.describe_epochs(c['difficult50'])}",
            faster(c["easy90"], c["difficult50"]),
            "§3.2 (learnt much faster)",
        ),
        Criterion(
            "early improvement",
            "the difficult subset gains at least 0.5 points from epoch 1 to the test peak, in "
            "every seed",
            f"{ms(c['gain'], '+.2f')} points",
            lowest(c["gain"]) >= 0.5,
            "§3.2 (a small improvement at the initial epochs); threshold ours",
        ),
        Criterion(
            "peak then drop",
            "the smoothed test accuracy peaks before the last epoch and drops at least 0.5 "
            "points by then, in every seed",
            f"peak at epoch {ms(c['peak'], '.1f')}, drop {ms(c['drop'], '.2f')} points",
            drop_ok and lowest(c["drop"]) >= 0.5,
            "§3.2, Figure 3(b); threshold ours",
        ),
    ]
    numbers = {
        "seeds, epochs": f"{len(runs)}, {c['last'][0]}",
        **reach_numbers(c),
        "difficult after epoch 1": ms(c["d1"], ".4f"),
        "test peak: epoch, accuracy": f"{ms(c['peak'], '.1f')}, {ms(c['top'], '.4f')}",
    }
    if turnover:
        t = by_seed([_dynamics(r.history, window) for r in turnover])
        numbers["turn-over MLP: test peak epoch, drop"] = (
            f"{ms(t['peak'], '.1f')}, {ms(t['drop'], '.2f')} points"
        )
    notes = [_label_convention(uniform, window)] if uniform else []
    return make(
        "fig3_random_label_dynamics",
        "Figure 3",
        "easy examples learnt faster; difficult ones improve early; test peaks then drops",
        parts,
        partly=bool(parts[0].passed and (parts[1].passed or parts[2].passed)),
        notes=notes,
        numbers=numbers,
        key=("test peak at epoch", ms(c["peak"], ".0f"), "about 20"),
    )


def _label_convention(uniform, window: int) -> Criterion:
    """Figure 3's explanation of the missing early gain, tested on uniform-noise runs."""
    u = by_seed([_dynamics(r.history, window) for r in uniform])
    changed = [_dynamics(r.history, window, "difficult_changed")["gain"] for r in uniform]
    kept = [_dynamics(r.history, window, "difficult_kept")["gain"] for r in uniform]
    return Criterion(
        "label convention",
        "with uniform label noise (a tenth keep their class) the difficult subset gains at "
        "least 0.5 points from epoch 1 to the test peak, and its examples whose random label "
        "is another class do not",
        f"{ms(u['gain'], '+.2f')} points (label kept {ms(kept, '+.1f')}, "
        f"changed {ms(changed, '+.2f')})",
        lowest(u["gain"]) >= 0.5 and highest(changed) < 0.5,
        "ours",
    )


def fig4_gradient_similarity(runs, backpack_error: float) -> Claim:
    """§3.2, Figure 4: (a) per-example gradients of easy examples are more similar (Eq. 3) than
    those of difficult ones, and (b) difficult examples contribute more to the mini-batch
    gradient (Eq. 4) than easy ones and than the whole set, "constantly": each ordering in at
    least 90% of the epochs with statistics, initialization (epoch 0) included, every seed.
    Partly: one of the two. Precondition: the fast path agrees with BackPACK to 1e-4."""
    # Long by design: one claim, read top to bottom (its numbers, then each criterion
    # in the docstring's order); splitting it would scatter the rules it states.
    cols = ["epoch", "cos_easy", "cos_difficult", "contrib_easy", "contrib_difficult"]
    hs = [r.history[[*cols, "contrib_all"]].dropna() for r in runs]
    if any(h.epoch.min() != 0 or h.epoch.max() == 0 for h in hs):
        raise MemlibError(
            "Figure 4's check needs gradient statistics at initialization (epoch 0) and after "
            "at least one epoch of training, in every run"
        )
    cos = [float((h.cos_easy > h.cos_difficult).mean()) for h in hs]
    con = [
        float(
            ((h.contrib_difficult > h.contrib_easy) & (h.contrib_difficult > h.contrib_all)).mean()
        )
        for h in hs
    ]
    n = len(hs[0])
    last = int(hs[0].epoch.iloc[-1])
    k = int((hs[0].epoch <= last / 10).sum())  # the samples are denser early in training
    of = f"(share of {n} epochs, {k} of them in the first tenth of training)"
    parts = [
        Criterion(
            "easy gradients agree",
            "mean pairwise cosine higher among easy than among difficult examples in at least "
            "90% of the epochs with statistics, in every seed",
            f"{ms(cos, '.3f')} {of}",
            lowest(cos) >= 0.9,
            "§3.2 (much higher); threshold ours",
        ),
        Criterion(
            "difficult drive the update",
            "mean contribution of difficult examples above the easy ones' and the whole "
            "set's in at least 90% of the epochs with statistics, in every seed",
            f"{ms(con, '.3f')} {of}",
            lowest(con) >= 0.9,
            "§3.2 (constantly higher); threshold ours",
        ),
    ]
    fast = Criterion(
        "gradient statistics exact",
        "the Gram-identity statistics agree with BackPACK's per-example gradients to 1e-4 "
        "(largest relative deviation)",
        f"{backpack_error:.1e}",
        backpack_error <= 1e-4,
        "ours",
    )
    first = [h.iloc[0] for h in hs]
    after = [h[h.epoch > 0].iloc[0] for h in hs]
    final = [h.iloc[-1] for h in hs]

    def at(rows, k):
        return ms([float(r[k]) for r in rows], ".3f")

    numbers = {
        "epochs with statistics": f"{n}, from {int(hs[0].epoch.iloc[0])} to "
        f"{int(hs[0].epoch.iloc[-1])} ({seeds(runs)})",
        "median cosine gap, easy − difficult": ms(
            [float((h.cos_easy - h.cos_difficult).median()) for h in hs], ".4f"
        ),
    }
    for label, rows in (("initialization", first), ("epoch 1", after), ("last epoch", final)):
        numbers[f"contribution easy / difficult / all, {label}"] = (
            f"{at(rows, 'contrib_easy')} / {at(rows, 'contrib_difficult')} / "
            f"{at(rows, 'contrib_all')}"
        )
    return make(
        "fig4_gradient_similarity",
        "Figure 4",
        "easy gradients agree; difficult examples drive SGD",
        parts,
        partly=any(c.passed for c in parts),
        preconditions=[fast],
        numbers=numbers,
        key=("epochs in which difficult contribute most", ms(con, ".2f"), "constantly"),
    )


# --- Figure 9: early convergence of the sub-networks ---------------------------------------------


def _convergence(runs, *, page, figure, model, early: int, tol: float) -> Claim:
    # Long by design: one claim, read top to bottom (its numbers, then each criterion
    # in the docstring's order); splitting it would scatter the rules it states.
    n_epochs = int(runs[0].history.epoch.iloc[-1])
    w = 2 * max(3, round(0.2 * n_epochs))  # the end of the run judged for stability
    e_un, e_mu, rho, settle, move = [], [], [], [], []
    for r in runs:
        h = r.history
        e_un.append(stats.first_epoch_reaching(h.unmuted_acc, 0.95, h.epoch))
        e_mu.append(stats.first_epoch_reaching(h.muted_acc, 0.95, h.epoch))
        e = min(max(e_un[-1], e_mu[-1]), early)
        s = r.epoch_scores
        rho.append(stats.spearman(s[e], s[-1]))
        curve = [stats.spearman(x, s[-1]) for x in s]
        settle.append(next((k for k in range(len(curve)) if min(curve[k:]) >= 0.9), np.nan))
        acc = h[["unmuted_acc", "muted_acc"]].to_numpy()[-w:]
        move.append(float(np.max(acc.max(0) - acc.min(0))) if len(h) > w else np.inf)
    long_enough = Criterion(
        "long enough",
        f"the runs train at least twice the 'few epochs' of the claim ({2 * early})",
        f"{n_epochs} epochs",
        n_epochs >= 2 * early,
        "Appendix D; ours",
    )
    stable = highest(move) < tol
    parts = [
        Criterion(
            "fast",
            f"both sub-networks reach 95% of their final training accuracy by epoch {early}, "
            "in every seed",
            f"unmuted at epoch {ms(e_un, '.1f')}, muted at {ms(e_mu, '.1f')}",
            highest(e_un + e_mu) <= early,
            f"Appendix D (within the first a few epochs); {early} epochs ours",
        ),
        Criterion(
            "then stable",
            f"each sub-network's training accuracy stays within a {100 * tol:.0f}-point band "
            f"over the last {w} epochs (two fifths of the run, at least 6), in every seed",
            f"widest band {100 * highest(move):.1f} points",
            stable,
            "Appendix D (and then stabilize); threshold ours",
        ),
        Criterion(
            "scores settled",
            f"the scores at that epoch (at most {early}) have a Spearman correlation of at "
            "least 0.8 with the final scores, in every seed",
            ms(rho) if stable else "",
            lowest(rho) >= 0.8 if stable else None,
            "Appendix D (scores after a few epochs); threshold ours",
            "" if stable else "training has not stabilized, so the final scores are not final",
        ),
    ]
    numbers = {
        "seeds, epochs": f"{len(runs)}, {n_epochs}",
        "final accuracy, unmuted / muted": f"{ms(at_end(runs, 'unmuted_acc'))} / "
        f"{ms(at_end(runs, 'muted_acc'))}",
        "epoch reaching 95% of final, unmuted / muted": f"{ms(e_un, '.1f')} / {ms(e_mu, '.1f')}",
        "Spearman of the scores then with the final scores": ms(rho),
        "first epoch after which that Spearman stays ≥ 0.9": ms(settle, ".1f"),
    }
    return make(
        page,
        figure,
        f"{model}: the sub-networks converge within a few epochs",
        parts,
        partly=bool(parts[0].passed or parts[2].passed),
        preconditions=[long_enough],
        numbers=numbers,
        key=("epoch reaching 95% of final, unmuted", ms(e_un, ".1f"), "a few"),
    )


def fig9a_early_convergence(runs, early: int = 5, tol: float = 0.01) -> Claim:
    """Appendix D, Figure 9(a), the MLP, every seed: (1) *fast*: both sub-networks reach 95% of
    their final training accuracy by epoch ``early`` (the claim's "few epochs"); (2) *then
    stable*: over the last two fifths of the run (at least 6 epochs), each one's training
    accuracy stays within a band of ``tol``, so that a run still rising fails; (3) *scores
    settled*: the scores at the later of the two epochs of (1), at most ``early``, correlate at
    least 0.8 (Spearman) with the final ones, which is not measurable if (2) fails (the final
    scores are then not final). Partly: (1) or (3).
    Precondition: the runs are at least ``2 * early`` epochs long."""
    return _convergence(
        runs,
        page="fig9a_early_convergence",
        figure="Figure 9(a)",
        model="MLP",
        early=early,
        tol=tol,
    )


def fig9b_early_convergence_cct(runs, early: int = 5, tol: float = 0.01) -> Claim:
    """Appendix D, Figure 9(b), the compact transformer: the rule of
    :func:`fig9a_early_convergence`."""
    return _convergence(
        runs,
        page="fig9b_early_convergence_cct",
        figure="Figure 9(b)",
        model="CCT",
        early=early,
        tol=tol,
    )


# --- Figure 10: corruption levels ----------------------------------------------------------------


def fig10_corruption_levels(runs: dict, window: int = 5) -> Claim:
    """Appendix E, Figure 10 (``runs``: (level, seed) -> run, level the share of random labels),
    every seed:

    1. *slower with more noise*: over the levels below 100%, the epoch at which the training
       accuracy first reaches 50% never decreases with the level and grows at least once
       (never = later than any epoch). Two levels that both never reach it say nothing about
       their order, so only the consecutive pairs with at least one reached count, and a seed
       needs two such pairs (else not measurable);
    2. *peak then drop*: every noisy run that fitted at least half of its random labels has a
       smoothed test accuracy that peaks before the last epoch and drops by at least 1 point by
       then (Figure 3's measure). A run that never fitted its noise cannot show the drop the
       fitting causes; none fitted: not measurable.

    Partly: one of the two. Beside the verdict, the paper's remark that with every label
    random the model fails to fit under this schedule (final training accuracy below 50%)."""
    # Long by design: one claim, read top to bottom (its numbers, then each criterion
    # in the docstring's order); splitting it would scatter the rules it states.
    rows = []
    for (lv, s), r in runs.items():
        h = r.history
        fit = h["train_acc_corrupted"].iloc[-1] if "train_acc_corrupted" in h and lv > 0 else np.nan
        rows.append(
            {
                "level": lv,
                "seed": s,
                "n_corrupt": int(r.config.n_corrupt),
                "e50": stats.first_epoch_above(h.train_acc, 0.5, h.epoch),
                "train": float(h.train_acc.iloc[-1]),
                "noise_fit": float(fit),
                **_test_peak(h, window),
            }
        )
    t = pd.DataFrame(rows).sort_values(["seed", "level"])
    partial = t[t.level < 1]
    e50 = {
        lv: [None if pd.isna(v) else int(v) for v in g.e50] for lv, g in partial.groupby("level")
    }
    e50_text = ", ".join(stats.describe_epochs(v) for v in e50.values())
    slower = _slower([g.e50.tolist() for _, g in partial.groupby("seed")])
    mixed = t[(t.level > 0) & (t.level < 1)]  # some labels corrupted, not all
    fitted = mixed[mixed.noise_fit >= 0.5]
    dropped = (fitted.peak < fitted["last"]) & (fitted["drop"] >= 1)
    parts = [
        Criterion(
            "slower with more noise",
            "the epoch reaching 50% training accuracy does not decrease, and grows at least "
            "once, from level to level (pairs where both never reach it not counted; two pairs "
            "needed), in every seed",
            f"{e50_text} (levels {', '.join(f'{lv:.0%}' for lv in e50)})",
            slower,
            "Appendix E; thresholds ours",
            "" if slower is not None else "at most one level reaches 50% within the run",
        ),
        Criterion(
            "peak then drop",
            "every noisy run that fitted at least half of its random labels has a smoothed "
            "test peak before its last epoch and drops by at least 1 point by then",
            f"{len(fitted)} of {len(mixed)} noisy runs fitted half their noise"
            + (f"; smallest drop {fitted['drop'].min():.1f} points" if len(fitted) else ""),
            bool(dropped.all()) if len(fitted) else None,
            "Appendix E; thresholds ours",
            "" if len(fitted) else "no noisy run fitted half of its random labels",
        ),
    ]
    allrand = t[t.level == 1]
    notes = [
        Criterion(
            "all random fails to fit",
            "with every label random, the final training accuracy stays below 50%, in every "
            "seed (the paper's remark on its schedule)",
            ms(allrand.train) if len(allrand) else "",
            bool((allrand.train < 0.5).all()) if len(allrand) else None,
            "Appendix E (incompetent to fit)",
            "" if len(allrand) else "no run with every label random",
        )
    ]
    numbers = {}
    for lv, g in t.groupby("level"):
        numbers[f"{g['n_corrupt'].iloc[0]:,} random labels ({lv:.0%})"] = (
            f"train 50% at {stats.describe_epochs(_epochs(g.e50))}"
            f"; final train {ms(g.train)}; noise fitted {ms(g.noise_fit) if lv > 0 else '–'}"
            f"; test peak {ms(g.top)} at epoch {ms(g.peak, '.0f')}, "
            f"drop {ms(g['drop'], '.1f')} points"
        )
    return make(
        "fig10_corruption_levels",
        "Figure 10",
        "more random labels, slower fitting; test peaks then drops",
        parts,
        partly=any(c.passed for c in parts),
        notes=notes,
        numbers=numbers,
        key=("epoch reaching 50% train accuracy, by level", e50_text, "later with more noise"),
    )


def _epochs(values) -> list[int | None]:
    return [None if pd.isna(v) else int(v) for v in values]


def _slower(per_seed: list[list]) -> bool | None:
    """Figure 10's part 1 over seeds (each: the levels' epochs to 50%, None or NaN = never):
    False if a seed's informative pairs contradict it, None if a seed has fewer than two."""
    verdicts = []
    for e in per_seed:
        e = [np.inf if v is None or pd.isna(v) else v for v in e]
        pairs = [(a, b) for a, b in zip(e, e[1:], strict=False) if min(a, b) < np.inf]
        if any(a > b for a, b in pairs) or (len(pairs) >= 2 and not any(a < b for a, b in pairs)):
            verdicts.append(False)
        else:
            verdicts.append(True if len(pairs) >= 2 else None)
    return False if False in verdicts else None if None in verdicts else True
