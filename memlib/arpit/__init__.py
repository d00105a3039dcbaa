"""Arpit et al. (2017), "A Closer Look at Memorization in Deep Networks": the paper's networks,
its data conditions (real, randX, randY), and the measurements of each figure.

No official code exists: every method here is ours, each tested on a case whose answer is known.
The subpackage's results are keyed by :func:`code_version`: the package's code version (data,
masks, training of the turn-over models it compares with) combined with this subpackage's shared
modules and the module that computes them. The page modules in ``pages/`` (parameters, recipes,
figures) are left out, as ``recipes.py`` and ``plotting.py`` are: they cannot change a cached
number.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

from .. import results

HERE = Path(__file__).resolve().parent
# The modules every page's results depend on; a page's own module is added by `cached`.
SHARED = ("__init__.py", "conditions.py", "ensemble.py", "lass.py", "nets.py", "train.py")


@functools.cache
def code_version(module: str = "") -> str:
    """The package's code version combined with this subpackage's shared sources and, if given,
    the file ``module`` of this folder (docstrings and comments left out; ``pages/`` never)."""
    h = hashlib.sha256(results.code_version().encode())
    for name in sorted({*SHARED, *([module] if module else [])}):
        h.update(name.encode() + results.code_fingerprint((HERE / name).read_text()).encode())
    return h.hexdigest()[:12]


def cached(kind: str, config: dict, compute: Callable, *, meta: dict | None = None):
    """:func:`memlib.results.cached` under ``arpit-<kind>``, keyed by the code version of the
    shared modules and of the module that calls it: editing one page's computation recomputes
    that page's results only."""
    caller = Path(sys._getframe(1).f_globals.get("__file__", "")).resolve()
    module = caller.name if caller.parent == HERE else ""
    key = dict(config) | {"arpit_code": code_version(module)}
    return results.cached(f"arpit-{kind}", key, compute, meta=meta)
