"""Arpit et al. (2017), "A Closer Look at Memorization in Deep Networks": the paper's networks,
its data conditions (real, randX, randY), and the measurements of each figure.

No official code exists: every method here is ours, each tested on a case whose answer is known.
The subpackage's results are keyed by :func:`code_version`: the package's code version (data,
masks, training of the turn-over models it compares with) combined with this subpackage's own
computational modules. The page modules in ``pages/`` (parameters, recipes, figures) are left
out, as ``recipes.py`` and ``plotting.py`` are: they cannot change a cached number.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path

from .. import results


@functools.cache
def code_version() -> str:
    """The package's code version combined with this subpackage's computational sources
    (docstrings and comments left out; ``pages/`` not included)."""
    h = hashlib.sha256(results.code_version().encode())
    for p in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(p.name.encode() + results.code_fingerprint(p.read_text()).encode())
    return h.hexdigest()[:12]


def cached(kind: str, config: dict, compute: Callable, *, meta: dict | None = None):
    """:func:`memlib.results.cached` under ``arpit-<kind>``, keyed by this subpackage's code
    version as well."""
    key = dict(config) | {"arpit_code": code_version()}
    return results.cached(f"arpit-{kind}", key, compute, meta=meta)
