import os
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Every test gets its own cache and results folder, and never touches the network."""
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MEMLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MEMLIB_OFFLINE", "1")


@pytest.fixture
def mnist_root():
    root = Path(os.environ.get("MEMLIB_DATA", SHARED))
    if not (root / "MNIST" / "raw").is_dir():
        pytest.skip("MNIST not available; set MEMLIB_DATA")
    return root


def quadrant_images(path, n: int, side: int):
    """A learnable 4-class problem saved to ``path``: ``n`` side x side uint8 images of noise
    with one bright quadrant, the class's."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 60, (n, side, side)).astype(np.uint8)
    h = side // 2
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, h * r : h * r + h, h * q : h * q + h] += 150
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture
def tiny_npz(tmp_path):
    """200 8x8 images with a bright quadrant per class (:func:`quadrant_images`)."""
    return quadrant_images(tmp_path / "tiny.npz", 200, 8)


@pytest.fixture
def images_npz(tmp_path):
    """120 16x16 images with a bright quadrant per class: large enough for ResNet-9."""
    return quadrant_images(tmp_path / "images.npz", 120, 16)
