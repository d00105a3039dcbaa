"""Resumable work: checkpoints written atomically, and read back only when whole."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def save_atomic(obj: dict, path: Path) -> None:
    """Write ``obj`` to ``path`` so that a run killed mid-write leaves the previous file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path | None, device, keys: tuple[str, ...]) -> dict | None:
    """The checkpoint at ``path``, or None if there is none; a torn one (unreadable, or without
    every one of ``keys``) is reported and ignored, so that the run starts over. Whether its
    contents fit the run is the caller's to check."""
    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
        missing = [k for k in keys if k not in state]
        if missing:
            raise KeyError(f"no {', '.join(missing)}")
        return state
    except Exception as e:
        print(f"memlib: ignoring unreadable checkpoint {path} ({type(e).__name__}: {e})")
        return None
