"""What a claim check is: criteria, preconditions, the verdict rule, and how it reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import stats

HOLDS, PARTLY, FAILS, UNTESTABLE = "holds", "partly holds", "does not hold", "not testable here"
VERDICTS = (HOLDS, PARTLY, FAILS, UNTESTABLE)


@dataclass(frozen=True)
class Criterion:
    """One pre-stated test: a measured ``value`` against the threshold stated in ``rule``.

    ``passed`` is None when the criterion cannot be measured here; ``why`` then says why.
    """

    name: str  # a few words: "easy faster"
    rule: str  # the threshold, in words
    value: str  # what was measured, formatted
    passed: bool | None
    source: str = ""  # where the threshold comes from: the paper's section, or "ours"
    why: str = ""  # why it could not be measured

    def __post_init__(self):  # numpy bools to bool, so that `passed is True` holds
        if self.passed is not None:
            object.__setattr__(self, "passed", bool(self.passed))

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "–"}[self.passed]

    @property
    def shown(self) -> str:
        """The value as a reader sees it: the measured value, or why it is not measurable."""
        return self.value if self.passed is not None else f"not measurable: {self.why}"


@dataclass(frozen=True)
class Claim:
    """A claim check: its criteria, preconditions, notes, the numbers behind them, and the
    verdict. ``key``: (quantity, value here, the paper's value) for the book's claims table."""

    page: str  # the notebook, e.g. "fig2a_long_tail"
    figure: str  # "Figure 2(a)"
    claim: str  # the claim in a few words
    verdict: str
    parts: tuple[Criterion, ...]
    preconditions: tuple[Criterion, ...] = ()
    notes: tuple[Criterion, ...] = ()
    numbers: dict[str, str] = field(default_factory=dict)
    key: tuple[str, str, str] = ("", "", "")

    def failed_preconditions(self) -> list[Criterion]:
        return [c for c in self.preconditions if not c.passed]

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return render_text(self)

    def _repr_markdown_(self) -> str:
        return render_markdown(self)


def decide(
    parts: Sequence[Criterion], preconditions: Sequence[Criterion] = (), partly: bool = False
) -> str:
    """The verdict from the criteria: not testable if a precondition failed or no part could be
    measured; holds if every part passed; else ``partly`` (the claim's own rule) or not."""
    if not all(c.passed for c in preconditions):
        return UNTESTABLE
    if all(c.passed is None for c in parts):
        return UNTESTABLE
    if all(c.passed is True for c in parts):
        return HOLDS
    return PARTLY if partly else FAILS


def make(page, figure, claim, parts, *, partly, preconditions=(), notes=(), numbers, key):
    """The :class:`Claim` of these criteria, with its verdict (:func:`decide`)."""
    return Claim(
        page=page,
        figure=figure,
        claim=claim,
        verdict=decide(parts, preconditions, partly),
        parts=tuple(parts),
        preconditions=tuple(preconditions),
        notes=tuple(notes),
        numbers=dict(numbers),
        key=key,
    )


# --- shared measurements and preconditions ------------------------------------------------------

ms = stats.mean_std  # "m ± s (n=k)" over seeds

EXACT = 1e-9  # accuracies, CSRs and rank correlations of a few hundred points take exact values
# (k / n); floating point can miss one that equals a threshold by a hair (0.052 − 0.032 < 0.02)


def reaches(value: float, threshold: float) -> bool:
    """``value >= threshold``, where a value that equals the threshold up to rounding (EXACT)
    reaches it. NaN never does."""
    return bool(value >= threshold - EXACT)


def lowest(values) -> float:
    """The lowest of per-seed values; NaN if any is NaN, so that a criterion on it fails
    whatever the seeds' order ("in every seed")."""
    return float(np.min(np.asarray(values, dtype=np.float64)))


def highest(values) -> float:
    """The highest of per-seed values; NaN if any is NaN (see :func:`lowest`)."""
    return float(np.max(np.asarray(values, dtype=np.float64)))


def at_end(runs, column: str) -> list[float]:
    return [float(r.history[column].iloc[-1]) for r in runs]


def seeds(runs) -> str:
    """'1 seed' or 'k seeds'."""
    return f"{len(runs)} seed{'s' * (len(runs) != 1)}"


def n_classes(runs) -> int:
    """The number of classes of scoring runs (from their score tables' true labels)."""
    return int(max(r.table.true_label.max() for r in runs)) + 1


def informative(scorers) -> Criterion:
    """The estimator is informative: the muted sub-networks, the stand-in for a model that never
    saw the example, classify their training examples at least at twice chance. Below that,
    nearly every example looks memorized and the scores no longer rank anything."""
    muted, chance = at_end(scorers, "muted_acc"), 1 / n_classes(scorers)
    return Criterion(
        "estimator informative",
        f"the scoring model's muted sub-networks fit at least twice chance ({2 * chance:.2f}) "
        "of the training examples, in every seed",
        f"muted {ms(muted)}, unmuted {ms(at_end(scorers, 'unmuted_acc'))}",
        lowest(muted) >= 2 * chance,
        "ours",
    )


USABLE_AUC = 0.75  # the planted-label AUC a scoring setting needs before a page relies on it


def planted_auc(run) -> float:
    """The ROC-AUC of a scoring run's scores for its corrupted (planted) labels."""
    t = run.table
    return stats.roc_auc(t.score.to_numpy(), t.corrupted.to_numpy())


def validated(twins) -> list[Criterion]:
    """The scoring setting ranks planted random labels first: its planted-label twins (the same
    setting, a tenth of the labels random; the grid page's runs) reach an ROC-AUC of at least
    ``USABLE_AUC`` in every seed. No twins: no such precondition (an empty list)."""
    if not twins:
        return []
    aucs = [planted_auc(r) for r in twins]
    share = float(np.mean([r.table.corrupted.mean() for r in twins]))
    return [
        Criterion(
            "estimator validated",
            f"the same scoring setting, with {share:.0%} of the labels replaced by random ones, "
            f"ranks them first with an ROC-AUC of at least {USABLE_AUC}, in every seed",
            ms(aucs),
            lowest(aucs) >= USABLE_AUC,
            "ours (the conv-net page)",
        )
    ]


def faster(fast: Sequence[int | None], slow: Sequence[int | None]) -> bool:
    """Every seed's ``fast`` epoch is reached, and before ``slow``'s (never counts as later)."""
    return all(f is not None and (s is None or f < s) for f, s in zip(fast, slow, strict=True))


def reach_epochs(h) -> dict[str, int | None]:
    """The first epochs at which the easy and difficult subsets' training accuracy reaches 50%
    and 90%: keys easy50, easy90, difficult50, difficult90 (None: never)."""
    return {
        f"{s}{q}": stats.first_epoch_above(h[f"train_acc_{s}"], q / 100, h.epoch)
        for s in ("easy", "difficult")
        for q in (50, 90)
    }


def reach_numbers(c: dict[str, list]) -> dict[str, str]:
    """:func:`reach_epochs` over seeds, as the lines of a claim's numbers."""
    return {
        f"{s} reaches 50% / 90% at epoch": f"{stats.describe_epochs(c[s + '50'])} / "
        f"{stats.describe_epochs(c[s + '90'])}"
        for s in ("easy", "difficult")
    }


def by_seed(rows: list[dict]) -> dict[str, list]:
    return {k: [r[k] for r in rows] for k in rows[0]}


# --- How a claim check reads ---------------------------------------------------------------------

ADMONITION = {HOLDS: "tip", PARTLY: "warning", FAILS: "danger", UNTESTABLE: "note"}  # its colour


def headline(claim: Claim) -> str:
    """'Verdict: the claim holds.', with the failed preconditions when it is not testable."""
    if claim.verdict != UNTESTABLE:
        return f"Verdict: the claim {claim.verdict}."
    failed = [c.name for c in claim.failed_preconditions()]
    why = f"failed: {', '.join(failed)}" if failed else "no part of it could be measured here"
    return f"Verdict: the claim is not testable here ({why})."


def _groups(claim: Claim):
    return (
        ("Parts of the claim", claim.parts),
        ("Preconditions", claim.preconditions),
        ("Beside the verdict", claim.notes),
    )


def render_text(claim: Claim, width: int = 88) -> str:
    """The claim check as plain text, lines of at most ``width`` characters."""
    import textwrap

    def wrap(text: str, indent: str) -> list[str]:
        return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "    ")

    lines = wrap(headline(claim), "")
    for title, group in _groups(claim):
        if group:
            lines.append(f"{title}:")
            for c in group:
                lines += wrap(f"{c.mark} {c.name}: {c.shown}. Criterion: {c.rule}.", "  ")
    lines.append("Numbers:")
    for k, v in claim.numbers.items():
        lines += wrap(f"{k}: {v}", "  ")
    return "\n".join(lines)


def md_cell(text) -> str:
    """``text`` as one cell of a markdown table: pipes escaped, on one line."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(claim: Claim) -> str:
    """The claim check as MyST markdown: an admonition coloured by the verdict, holding a table
    of the criteria (mark, part, criterion with its source, value here); then the numbers."""
    out = [
        f":::{{admonition}} {headline(claim)}",
        f":class: {ADMONITION[claim.verdict]} memlib-verdict",
        "",
    ]
    for title, group in _groups(claim):
        if not group:
            continue
        out += [f"**{title}**", "", "| | | criterion | here |", "|:-:|:--|:--|:--|"]
        for c in group:
            rule = c.rule + (f" ({c.source})" if c.source else "")
            out.append(f"| {c.mark} | {md_cell(c.name)} | {md_cell(rule)} | {md_cell(c.shown)} |")
        out.append("")
    out += [":::", "", "| the numbers behind it | |", "|:--|:--|"]
    out += [f"| {md_cell(k)} | {md_cell(v)} |" for k, v in claim.numbers.items()]
    return "\n".join(out) + "\n"
