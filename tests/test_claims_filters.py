"""The filters claim (Figure 2), driven through every outcome with synthetic summaries."""

from __future__ import annotations

import pytest

from memlib import claims
from memlib.claims import FAILS, HOLDS, PARTLY, UNTESTABLE

NAN = float("nan")


def _smooth(real=(0.5, 0.4, 0.6), randy=(0.1, 0.0, 0.2), init=(0.0, -0.1, 0.1),
            real_init=(0.5, 0.4, 0.6), randy_init=(0.1, 0.05, 0.15),
            real_randy=(0.4, 0.3, 0.5)):  # fmt: skip
    return {"real": real, "randY": randy, "init": init, "real-init": real_init,
            "randY-init": randy_init, "real-randY": real_randy}  # fmt: skip


@pytest.mark.parametrize(
    "smooth, fit, val, verdict",
    [
        (_smooth(), 0.99, 0.4, HOLDS),
        (_smooth(real_randy=(0.05, -0.02, 0.1)), 0.99, 0.4, PARTLY),  # randY as smooth
        (_smooth(real=(0.1, 0.05, 0.15)), 0.99, 0.4, FAILS),  # real not smooth enough
        (_smooth(real_init=(0.3, -0.01, 0.6)), 0.99, 0.4, FAILS),  # not above its init
        (_smooth(), 0.5, 0.4, UNTESTABLE),  # randY not memorized
        (_smooth(), 0.99, 0.15, UNTESTABLE),  # real not learned
        (_smooth(), NAN, 0.4, UNTESTABLE),
        (_smooth(real=(NAN,) * 3, real_randy=(NAN,) * 3), 0.99, 0.4, UNTESTABLE),
    ],
)
def test_verdicts(smooth, fit, val, verdict):
    c = claims.arpit_filters(smooth, {"randY": [fit], "real": [1.0]}, [val])
    assert c.verdict == verdict
    assert c.key[0] and "real" in c.numbers["mean smoothness (95% interval over filters)"]


def test_shared_patterns_note():
    c = claims.arpit_filters(_smooth(randy_init=(0.0, -0.1, 0.1)), {"randY": [1.0],
                             "real": [1.0]}, [0.4])  # fmt: skip
    assert c.verdict == HOLDS and c.notes[0].passed is False


def test_every_seed_counts():
    c = claims.arpit_filters(_smooth(), {"randY": [0.99, 0.5], "real": [1.0, 1.0]}, [0.4, 0.4])
    assert c.verdict == UNTESTABLE
