"""The verdict rule and how a claim check reads."""

import pytest

from memlib import claims
from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE, Claim, Criterion, decide


def c(passed, name="part"):
    return Criterion(name, "a rule", "a value", passed, "§1", "" if passed is not None else "why")


@pytest.mark.parametrize(
    ("parts", "pre", "partly", "verdict"),
    [
        ([c(True), c(True)], [], False, HOLDS),
        ([c(True), c(True)], [c(True)], False, HOLDS),
        ([c(True), c(False)], [], True, PARTLY),
        ([c(True), c(False)], [], False, FAILS),
        ([c(False), c(False)], [], False, FAILS),
        ([c(True), c(True)], [c(False)], True, UNTESTABLE),  # a failed precondition wins
        ([c(None), c(None)], [], True, UNTESTABLE),  # nothing measurable
        ([c(True), c(None)], [], True, PARTLY),  # untestable parts never make it hold
        ([c(True), c(None)], [], False, FAILS),
    ],
)
def test_decide_covers_every_outcome(parts, pre, partly, verdict):
    assert decide(parts, pre, partly) == verdict


def _claim(verdict_parts, pre=()):
    return Claim(
        page="fig2a_long_tail",
        figure="Figure 2(a)",
        claim="a claim",
        verdict=decide(verdict_parts, pre, any(p.passed for p in verdict_parts)),
        parts=tuple(verdict_parts),
        preconditions=tuple(pre),
        numbers={"a number with a long name " * 3: "a value " * 12},
        key=("q", "1", "2"),
    )


def test_text_lines_fit_88_columns_and_name_failed_preconditions():
    claim = _claim([c(True)], [c(False, "estimator informative")])
    text = str(claim)
    assert text.startswith("Verdict: the claim is not testable here (failed: estimator")
    assert max(map(len, text.splitlines())) <= 88
    assert "✗ estimator informative" in text


@pytest.mark.parametrize(
    ("parts", "css"),
    [([c(True)], "tip"), ([c(True), c(False)], "warning"), ([c(False)], "danger"),
     ([c(None)], "note")],
)  # fmt: skip
def test_markdown_is_an_admonition_coloured_by_the_verdict(parts, css):
    md = claims.render_markdown(_claim(parts))
    assert md.startswith(":::{admonition} Verdict:")
    assert f":class: {css} memlib-verdict" in md
    assert md.count(":::") == 2 and "| the numbers behind it |" in md


def test_markdown_escapes_pipes_in_values():
    claim = _claim([Criterion("p", "a | b", "x | y", True)])
    assert "a \\| b" in claims.render_markdown(claim)


def test_every_page_has_its_claim_check():
    from memlib.params import NOTEBOOKS

    assert set(claims.CLAIMS) == set(NOTEBOOKS)


def test_reaches_counts_a_threshold_met_up_to_rounding_and_never_nan():
    from memlib.claims.core import reaches

    assert 0.052 - 0.032 < 0.02 and reaches(0.052 - 0.032, 0.02)
    assert reaches(0.8, 0.8) and not reaches(0.79, 0.8)
    assert not reaches(float("nan"), 0.0)
