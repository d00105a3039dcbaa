"""Where memorization lives (Maini et al. 2023, §3 to §6.1): ResNet-9 trajectories with per-epoch
checkpoints and gradient accounting, layer rewinding, layer retraining, greedy neuron removal,
and the baselines that detect mislabelled examples.

The subpackage's results are keyed by :func:`code_version`: the package's code version (the
data path and the cache) and this subpackage's own code, so that editing it recomputes its
results only.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from ..results import code_fingerprint
from ..results import code_version as package_version


@functools.cache
def code_version() -> str:
    """The package's code version combined with this subpackage's sources (docstrings and
    comments left out)."""
    h = hashlib.sha256(package_version().encode())
    for p in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(p.name.encode() + code_fingerprint(p.read_text()).encode())
    return h.hexdigest()[:12]


from .config import LocalizeConfig  # noqa: E402
from .resnet import LAYERS, ResNet9, build_resnet9  # noqa: E402
from .trajectory import Trajectory, trajectory  # noqa: E402

__all__ = ["LAYERS", "LocalizeConfig", "ResNet9", "Trajectory", "build_resnet9", "code_version",
           "trajectory"]  # fmt: skip
