"""The filters page (Figure 2): the smoothness measure on filters whose answer is known, against
a slow loop; the bootstrap summaries, the page's parameters and its figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from memlib.arpit.filters import mean_ci, smoothness
from memlib.arpit.pages import filters as page
from memlib.errors import MemlibError


def slow_smoothness(f: np.ndarray) -> float:
    """The definition, one neighbouring pair at a time: Σ a·b / ½ Σ (a² + b²)."""
    num = den = 0.0
    c, h, w = f.shape
    for k in range(c):
        for i in range(h):
            for j in range(w):
                for di, dj in ((0, 1), (1, 0)):
                    if i + di < h and j + dj < w:
                        a, b = f[k, i, j], f[k, i + di, j + dj]
                        num += a * b
                        den += 0.5 * (a * a + b * b)
    return num / den


def test_matches_slow_reference():
    w = np.random.default_rng(0).normal(size=(6, 3, 5, 5))
    w[1] += np.linspace(-1, 1, 5)  # a ramp under the noise
    np.testing.assert_allclose(smoothness(w), [slow_smoothness(f) for f in w], rtol=1e-12)


def test_known_filters():
    ramp = np.broadcast_to(np.linspace(-2, 2, 5), (3, 5, 5))  # zero-mean horizontal ramp
    checker = np.indices((5, 5)).sum(0) % 2 * 2.0 - 1.0
    noise = np.random.default_rng(1).uniform(-1, 1, (2000, 3, 5, 5))  # PyTorch's init: uniform
    s = smoothness(np.stack([np.ones((3, 5, 5)), ramp, np.broadcast_to(checker, (3, 5, 5))]))
    assert s[0] == pytest.approx(1.0)
    assert s[1] > 0.8  # vertical pairs equal, horizontal ones a fifth of the range apart
    assert s[2] == pytest.approx(-1.0)
    assert abs(smoothness(noise).mean()) < 0.01  # i.i.d. noise: about 0
    assert np.isnan(smoothness(np.zeros((1, 3, 5, 5))))[0]  # no weights: no smoothness


def test_mean_ci():
    m, lo, hi = mean_ci(np.r_[np.full(50, 1.0), np.full(50, 3.0), np.nan], n=300)
    assert m == pytest.approx(2.0) and lo < 2.0 < hi and lo > 1.5
    assert np.isnan(mean_ci(np.array([np.nan]))[0])


def _table(real, randy, init):
    rows = [{"seed": 0, "filter": i, "model": k, "smoothness": v}
            for k, vals in (("real", real), ("randY", randy), ("init", init))
            for i, v in enumerate(vals)]  # fmt: skip
    return pd.DataFrame(rows)


def test_compare_is_paired():
    init = np.random.default_rng(0).normal(0, 0.3, 40)
    out = page.compare(_table(init + 0.5, init + 0.1, init), n_boot=200)
    assert out["real-init"][0] == pytest.approx(0.5)
    assert out["real-init"][1] == pytest.approx(0.5)  # every pair differs by 0.5: no spread
    assert out["real-randY"][0] == pytest.approx(0.4)
    assert out["randY-init"][1] > 0.0


def _study(**kw):
    values = dict(profile="smoke", seeds=[0], n_train=128, n_val=128, width=0.05, epochs=2,
                  lr=0.01, halve_every=15, batch_size=128, n_show=10, n_boot=200)  # fmt: skip
    return page.FiltersStudy(**(values | kw))


def test_study_checks():
    assert _study().describe(short=True)["model"] == "CNN ×0.05"
    for bad in ({"n_show": 11}, {"n_boot": 10}, {"width": 0.0}, {"n_val": 20_000},
                {"device": "tpu"}, {"seeds": []}):  # fmt: skip
        with pytest.raises(MemlibError):
            _study(**bad)


def test_tile_and_figure():
    w = np.random.default_rng(0).normal(size=(10, 3, 5, 5))
    t = page._tile(w, 4)
    assert t.shape == (3 * 6 - 1, 4 * 6 - 1, 3) and t.min() >= 0 and t.max() <= 1
    np.testing.assert_allclose(t[:5, :5, 0], (w[0, 0] - w[0].min()) / np.ptp(w[0]))
    table = _table(smoothness(w), smoothness(w), smoothness(w))
    fig = page.figure({"real": w, "randY": w, "init": w}, table, 10)
    assert len(fig.axes) == 2
