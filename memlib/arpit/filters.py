"""How structured first-layer filters are (Figure 2): the spatial smoothness of each filter.

Figure 2 is a picture; the number beside it is each filter's *smoothness*, the uncentered
correlation of horizontally and vertically adjacent weights within the filter, over all its
input channels:

    s = Σ a·b / ½ Σ (a² + b²) = 1 − Σ (a − b)² / Σ (a² + b²),

the sums over every pair (a, b) of neighbouring weights (same channel, one pixel apart in a row
or a column). It lies in [−1, 1]: 1 for a constant filter, near 1 for a slow ramp or a colour
blob, about 0 for i.i.d. zero-mean noise (PyTorch's initialization), −1 for a checkerboard.
Edge and blob detectors, the filters of a network trained on natural images, are smooth at a
5×5 scale; the paper's random-label filters look noisier. An all-zero filter has none (NaN).
"""

from __future__ import annotations

import numpy as np

from .. import stats


def smoothness(w: np.ndarray) -> np.ndarray:
    """The smoothness of each filter of ``w`` [K, C, H, W] (module docstring): [K] float64."""
    w = np.asarray(w, dtype=np.float64)
    pairs = ((w[..., :, :-1], w[..., :, 1:]), (w[..., :-1, :], w[..., 1:, :]))
    prod = sum((a * b).sum(axis=(1, 2, 3)) for a, b in pairs)
    energy = sum(0.5 * (a**2 + b**2).sum(axis=(1, 2, 3)) for a, b in pairs)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(energy > 0, prod / np.where(energy > 0, energy, 1.0), np.nan)


def mean_ci(values: np.ndarray, n: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """The mean of ``values`` (e.g. one per filter, or paired differences) and its 95%
    bootstrap interval over them: ``(mean, low, high)``; NaN values are left out."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    lo, hi = stats.bootstrap_ci(np.mean, v, n=n, seed=seed)
    return float(v.mean()), lo, hi
