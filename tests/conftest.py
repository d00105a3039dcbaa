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


@pytest.fixture
def tiny_npz(tmp_path):
    """A learnable 4-class problem: 8x8 uint8 images with a bright quadrant per class."""
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 60, (n, 8, 8)).astype(np.uint8)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4] += 150
    path = tmp_path / "tiny.npz"
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture
def images_npz(tmp_path):
    """A learnable 4-class problem of 16x16 images (a bright quadrant per class): large enough
    for ResNet-9."""
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 60, (n, 16, 16)).astype(np.uint8)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, 8 * r : 8 * r + 8, 8 * q : 8 * q + 8] += 150
    path = tmp_path / "images.npz"
    np.savez(path, x=x, y=y)
    return path
