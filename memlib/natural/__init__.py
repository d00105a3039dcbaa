""" "Back to Fundamentals": natural memorization against model size, training time and the
generalization gap, measured with the Feldman-Zhang (2020) estimator on vectorized ensembles.

No code of the paper is public: every method here is ours. ``nets`` holds the model families,
``ensemble`` trains many members of one at once, ``data`` builds the training sets (subsets, a
long-tailed subset, planted random labels), ``sweep`` runs the estimator (chunked, cached,
resumable, fanned out with joblib) and records every member's correctness at every epoch, and
``counts`` turns the scores into memorized counts with their uncertainty.

The subpackage's results are keyed by :func:`code_version`: the package's code version
combined with this subpackage's computational modules (``pages/`` and ``counts.py``, which only
read results, are left out).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path

from .. import results

HERE = Path(__file__).resolve().parent
COMPUTE = ("__init__.py", "data.py", "ensemble.py", "nets.py", "sweep.py")


@functools.cache
def code_version() -> str:
    """The package's code version combined with this subpackage's computational sources
    (docstrings and comments left out)."""
    h = hashlib.sha256(results.code_version().encode())
    for name in COMPUTE:
        h.update(name.encode() + results.code_fingerprint((HERE / name).read_text()).encode())
    return h.hexdigest()[:12]


def cached(kind: str, config: dict, compute: Callable, *, meta: dict | None = None):
    """:func:`memlib.results.cached` under ``natural-<kind>``, keyed by :func:`code_version`."""
    key = dict(config) | {"natural_code": code_version()}
    return results.cached(f"natural-{kind}", key, compute, meta=meta)
