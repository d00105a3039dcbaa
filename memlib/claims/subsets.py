"""Claims about easy and difficult subsets chosen by score: Figures 5(a,b), 5(c,d) and 6."""

from __future__ import annotations

import dataclasses

from .. import stats
from .core import (
    Claim,
    Criterion,
    by_seed,
    faster,
    informative,
    lowest,
    make,
    ms,
    reach_epochs,
    reach_numbers,
    validated,
)

# --- Figures 5 and 6: easy and difficult subsets by score ----------------------------------------


def _partition(r, ctl) -> dict:
    """Figure 5's measurements of one followed run (and its control, if any)."""
    h = r.history
    easy_done = stats.first_epoch_reaching(h.train_acc_easy, 0.99, h.epoch)
    d = h.set_index("epoch").train_acc_difficult
    out = reach_epochs(h)
    out |= {
        "easy_done": easy_done,
        "gain": 100 * float(d[easy_done] - d[0]),
        **{f"test_{s}": float(h[f"test_acc_{s}"].iloc[-1]) for s in ("easy", "difficult")},
        "test": float(h.test_acc.iloc[-1]),
        "train": float(h.train_acc.iloc[-1]),
    }
    if ctl is not None:
        dc = ctl.history.set_index("epoch").train_acc_difficult
        out |= {
            "gap_done": 100 * float(d[easy_done] - dc[easy_done]),
            "gap1": 100 * float(d[1] - dc[1]),
            "gap": 100 * float(d.iloc[-1] - dc.iloc[-1]),
        }
    return out


def _easy_difficult(
    runs, controls, scorers, *, page, figure, control_part: bool, twins=()
) -> Claim:
    # Long by design: one claim, read top to bottom (its numbers, then each criterion
    # in the docstring's order); splitting it would scatter the rules it states.
    ctl = list(controls) or [None] * len(runs)
    rows = [_partition(r, k) for r, k in zip(runs, ctl, strict=True)]
    c = by_seed(rows)
    sim = Criterion(
        "simultaneous",
        "when the easy subset is learnt (99% of its final accuracy), the difficult subset is "
        "at least 5 points more accurate than in the control trained without it, in every "
        "seed (5 points: several times the sampling error of a subset's accuracy)",
        "",
        None,
        "§3.3 and Figure 5's control; threshold ours",
        "needs the control run, trained without the difficult subset (not run here)",
    )
    if controls:
        sim = dataclasses.replace(
            sim, value=f"{ms(c['gap_done'], '.1f')} points", passed=lowest(c["gap_done"]) >= 5
        )
    parts = [
        Criterion(
            "easy faster",
            "the easy subset reaches 90% training accuracy before the difficult one, in every seed",
            f"epoch: easy at {stats.describe_epochs(c['easy90'])}, difficult at "
            f"{stats.describe_epochs(c['difficult90'])}",
            faster(c["easy90"], c["difficult90"]),
            "§3.3 (easy examples fitted faster)",
        ),
        sim,
    ]
    if control_part:
        parts.append(
            Criterion(
                "control far lower",
                "at the last epoch, the difficult subset is at least 10 points less accurate "
                "in the control, in every seed",
                f"{ms(c['gap'], '.1f')} points" if controls else "",
                lowest(c["gap"]) >= 10 if controls else None,
                "Figure 5's caption; threshold ours",
                "" if controls else "needs the control run",
            )
        )
    parts.append(
        Criterion(
            "test ordered",
            "at the last epoch, the easy test subset is more accurate than the difficult one, "
            "in every seed",
            f"easy {ms(c['test_easy'], '.3f')}, difficult {ms(c['test_difficult'], '.3f')}",
            all(e > d for e, d in zip(c["test_easy"], c["test_difficult"], strict=True)),
            "§3.3 (easy reach a higher test accuracy)",
        )
    )
    numbers = {
        "seeds, epochs": f"{len(runs)}, {int(runs[0].history.epoch.iloc[-1])}",
        **reach_numbers(c),
        "easy reaches 99% of its final accuracy at epoch": ms(c["easy_done"], ".1f"),
        "difficult subset's gain since initialization by then": f"{ms(c['gain'], '.1f')} points",
    }
    if controls:
        numbers["difficult, with − without it in training: epoch 1 / last"] = (
            f"{ms(c['gap1'], '.1f')} / {ms(c['gap'], '.1f')} points"
        )
    numbers["final accuracy, training set / test set"] = (
        f"{ms(c['train'], '.3f')} / {ms(c['test'], '.3f')}"
    )
    if controls:
        key = (
            "points the difficult subset gains from training on it, by the time easy is learnt",
            ms(c["gap_done"], ".1f"),
        )
    else:
        diff = [100 * (e - d) for e, d in zip(c["test_easy"], c["test_difficult"], strict=True)]
        key = ("final test accuracy, easy − difficult (points)", ms(diff, ".1f"))
    return make(
        page,
        figure,
        "easy and difficult learnt simultaneously, easy faster",
        parts,
        partly=bool(parts[0].passed and any(p.passed for p in parts[1:])),
        preconditions=[informative(scorers), *validated(twins)],
        numbers=numbers,
        key=(*key, "no number"),
    )


def fig5ab_easy_difficult(runs, controls, scorers) -> Claim:
    """§3.3, Figure 5(a,b), MNIST: (1) easy faster: easy reaches 90% training accuracy before
    difficult; (2) simultaneous: when easy is learnt, difficult is at least 5 points above the
    control that never trains on it; (3) the control is far lower at the end (10 points);
    (4) the easy test subset ends more accurate; every seed. Partly: (1) and one other ((2) and
    (3) both compare with the control, so they cannot make a partial result alone).
    Precondition: the scoring runs' estimator is informative."""
    return _easy_difficult(
        runs,
        controls,
        scorers,
        page="fig5ab_easy_difficult",
        figure="Figure 5(a,b)",
        control_part=True,
    )


def fig5cd_easy_difficult_cifar(runs, scorers, controls=(), twins=()) -> Claim:
    """§3.3, Figure 5(c,d), CIFAR-10: parts (1), (2) and (4) of :func:`fig5ab_easy_difficult`
    (the paper draws no control here; without one, (2) cannot be measured). Partly: (1) and one
    other. Preconditions: the scoring runs' estimator is informative, and validated on planted
    labels (``twins``, :func:`core.validated`)."""
    return _easy_difficult(
        runs,
        controls,
        scorers,
        page="fig5cd_easy_difficult_cifar",
        figure="Figure 5(c,d)",
        control_part=False,
        twins=twins,
    )


def fig6_informative_difficult(on_easy, on_difficult, scorers, twins=()) -> Claim:
    """§3.3, Figure 6: training on the difficult subset helps the held-out easy subset, not the
    reverse. Holds: training on difficult raises easy by at least 10 points and by at least
    twice what training on easy gives difficult, every seed; partly: the transfer to easy is
    the larger in every seed. Preconditions: the estimator is informative and validated on
    planted labels (``twins``), and the subset trained on is fitted (90%) in every run."""
    # Long by design: one claim, read top to bottom (its numbers, then each criterion
    # in the docstring's order); splitting it would scatter the rules it states.

    def final(r, s):
        return float(r.history[f"train_acc_{s}"].iloc[-1])

    def gain(r, s):
        h = r.history[f"train_acc_{s}"]
        return 100 * float(h.iloc[-1] - h.iloc[0])

    to_easy = [gain(r, "easy") for r in on_difficult]
    to_difficult = [gain(r, "difficult") for r in on_easy]
    asym = [a - b for a, b in zip(to_easy, to_difficult, strict=True)]
    fit = [final(r, "easy") for r in on_easy] + [final(r, "difficult") for r in on_difficult]
    parts = [
        Criterion(
            "difficult inform easy",
            "training on the difficult subset raises the held-out easy one by at least 10 "
            "points and at least twice as much as the reverse, in every seed",
            f"difficult → easy {ms(to_easy, '.1f')}, easy → difficult "
            f"{ms(to_difficult, '.1f')} points",
            all(a >= 10 and a >= 2 * b for a, b in zip(to_easy, to_difficult, strict=True)),
            "§3.3 (substantially vs marginal); thresholds ours",
        ),
        Criterion(
            "asymmetric",
            "the transfer from difficult to easy exceeds the reverse, in every seed",
            f"{ms(asym, '+.1f')} points",
            lowest(asym) > 0,
            "§3.3",
        ),
    ]
    fitted = Criterion(
        "trained subset fitted",
        "each run fits the subset it trains on to at least 90%",
        f"lowest {min(fit):.3f}",
        lowest(fit) >= 0.9,
        "ours",
    )
    numbers = {
        "subset size, seeds, epochs": f"{int(on_easy[0].subsets()['easy'].sum()):,}, "
        f"{len(on_easy)}, {int(on_easy[0].history.epoch.iloc[-1])}"
        if hasattr(on_easy[0], "subsets")
        else f"{len(on_easy)} seeds",
        "trained on easy: easy, difficult (held out)": f"{ms([final(r, 'easy') for r in on_easy])}"
        f", {ms([final(r, 'difficult') for r in on_easy])}",
        "trained on difficult: difficult, easy (held out)": (
            f"{ms([final(r, 'difficult') for r in on_difficult])}, "
            f"{ms([final(r, 'easy') for r in on_difficult])}"
        ),
    }
    return make(
        "fig6_informative_difficult",
        "Figure 6",
        "difficult examples inform easy ones, not the reverse",
        parts,
        partly=parts[1].passed,
        preconditions=[informative(scorers), *validated(twins), fitted],
        numbers=numbers,
        key=(
            "transfer to easy − to difficult (points)",
            ms(asym, "+.1f"),
            "substantial vs marginal",
        ),
    )
