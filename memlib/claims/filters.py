"""Arpit et al. (2017), §3.1, Figure 2: the first-layer filters of the CNN trained on real
CIFAR-10 are structured (edge- and blob-like); those of the same CNN trained on random labels
(randY) look like noise, though the paper reads "some use of shared patterns" into them.

The figure is a picture; the number beside it is each filter's spatial smoothness
(:func:`memlib.arpit.filters.smoothness`: 1 constant, 0 i.i.d. noise, −1 checkerboard), its
mean over filters with a 95% bootstrap interval, and paired differences between models started
from the same initialization.
"""

from __future__ import annotations

import numpy as np

from .core import Claim, Criterion, lowest, make

FITTED = 0.9  # randY training accuracy of the model whose filters are shown (ours: it memorized)
CHANCE_FACTOR = 2.0  # the real model's validation accuracy at least this × chance (ours)
SMOOTH = 0.2  # mean smoothness of "structured" filters (ours: a fifth above i.i.d. noise's 0)
N_CLASSES = 10


def _fmt(ci) -> str:
    return f"{ci[0]:.3f} [{ci[1]:.3f}, {ci[2]:.3f}]"


def arpit_filters(smooth: dict, train_acc: dict, best_val: list[float]) -> Claim:
    """``smooth``: :func:`memlib.arpit.pages.filters.compare`'s (mean, low, high) per model and
    paired difference; ``train_acc``: {"randY", "real"} -> final training accuracy per seed;
    ``best_val``: the real model's best validation accuracy per seed.

    1. *real structured*: the real model's filters have a mean smoothness of at least SMOOTH,
       and are smoother than their own initialization (the paired interval's low end > 0);
    2. *randY noise-like*: the real model's filters are smoother than the randY model's (the
       paired interval's low end > 0).

    Partly: the first holds. Preconditions: the randY model memorized its labels (at least
    FITTED), the real model learned (validation at least CHANCE_FACTOR × chance). Beside the
    verdict: randY's filters are smoother than their initialization ("some use of shared
    patterns")."""
    real, ri = smooth["real"], smooth["real-init"]
    rr, yi = smooth["real-randY"], smooth["randY-init"]
    parts = [
        Criterion("real structured", f"mean smoothness of the real model's filters at least "
                  f"{SMOOTH}, and above their initialization's (paired 95% interval above 0)",
                  f"{_fmt(real)}; minus initialization {_fmt(ri)}",
                  None if not np.isfinite(real[0]) else bool(real[0] >= SMOOTH and ri[1] > 0),
                  "§3.1, Figure 2 (a picture); threshold ours", "no filters"),
        Criterion("randY noise-like", "the real model's filters smoother than the randY "
                  "model's (paired 95% interval above 0)", _fmt(rr),
                  None if not np.isfinite(rr[0]) else bool(rr[1] > 0),
                  "§3.1, Figure 2 (a picture); threshold ours", "no filters"),
    ]  # fmt: skip
    fitted, learned = lowest(train_acc["randY"]), lowest(best_val)
    pre = [
        Criterion("randY memorized", f"the randY model's final training accuracy at least "
                  f"{FITTED:.0%}, in every seed", f"lowest {fitted:.3f}", bool(fitted >= FITTED),
                  "ours: the filters of a model that memorized random labels"),
        Criterion("real learned", f"the real model's best validation accuracy at least "
                  f"{CHANCE_FACTOR:g} × chance ({CHANCE_FACTOR / N_CLASSES:.0%}), in every seed",
                  f"lowest {learned:.3f}", bool(learned >= CHANCE_FACTOR / N_CLASSES), "ours"),
    ]  # fmt: skip
    notes = [
        Criterion("randY shared patterns", "the randY model's filters smoother than their "
                  "initialization (paired 95% interval above 0)", _fmt(yi),
                  None if not np.isfinite(yi[0]) else bool(yi[1] > 0),
                  "§3.1: \"some use of shared patterns\"", "no filters"),
    ]  # fmt: skip
    numbers = {
        "mean smoothness (95% interval over filters)": f"real {_fmt(real)}; randY "
        f"{_fmt(smooth['randY'])}; untrained {_fmt(smooth['init'])}",
        "paired differences": f"real − untrained {_fmt(ri)}; randY − untrained {_fmt(yi)}; "
        f"real − randY {_fmt(rr)}",
        "final training accuracy": f"randY {np.round(train_acc['randY'], 3).tolist()}, real "
        f"{np.round(train_acc['real'], 3).tolist()}",
        "the paper": "a picture (Figure 2), no number",
    }
    return make("arpit_filters", "Figure 2", "real data gives structured first-layer filters, "
                "random labels noise-like ones", parts, partly=parts[0].passed is True,
                preconditions=pre, notes=notes, numbers=numbers,
                key=("filter smoothness, real / randY", f"{real[0]:.3f} / "
                     f"{smooth['randY'][0]:.3f}", "(a picture)"))  # fmt: skip
