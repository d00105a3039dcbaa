"""Example-tied dropout (Maini et al. 2023, §6.2): memorization directed to channels chosen in
advance, then dropped; the baselines (standard dropout, a sparse network); and what the
dropped channels forget.

The subpackage's results are keyed by :func:`code_version`: the ResNet-9 chapter's code version
(its models, data path and recipe, :func:`memlib.localization.code_version`) and this
subpackage's own code, so that editing it recomputes its results only.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from ..localization import code_version as localization_version
from ..results import code_fingerprint


@functools.cache
def code_version() -> str:
    """The ResNet-9 chapter's code version combined with this subpackage's sources (docstrings
    and comments left out)."""
    h = hashlib.sha256(localization_version().encode())
    for p in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(p.name.encode() + code_fingerprint(p.read_text()).encode())
    return h.hexdigest()[:12]


from .dropout import SCHEMES, DropoutConfig, Dropped, channel_split, tied_masks  # noqa: E402
from .run import TiedRun, tied_run  # noqa: E402

__all__ = ["SCHEMES", "DropoutConfig", "Dropped", "TiedRun", "channel_split", "code_version",
           "tied_masks", "tied_run"]  # fmt: skip
