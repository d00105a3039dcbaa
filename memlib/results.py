"""Saved work: results cached on disk, keyed by parameters and code version, with provenance.

A result lives in ``<cache>/<kind>/<key>/`` where ``key`` hashes its config and the code version.
The folder holds ``config.json``, ``meta.json`` (provenance: profile, device, times, commit),
``history.csv``, ``arrays.npz`` and, while the run is in flight, ``checkpoint.pt``. Reloading
checks that the stored config matches; an unreadable entry is recomputed, never fatal.

The cache root is ``$MEMLIB_CACHE`` if set, else ``.cache/`` in the project (git-ignored).
"""

from __future__ import annotations

import ast
import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# Modules that do not change what a cached run computes: presentation, the notebooks'
# parameters, and the analysis and subset choices whose every input (config, subset masks) is
# already part of the cache key. Editing them keeps the cache valid; so does editing a comment or
# a docstring anywhere. Subpackages are not hashed here: memlib/claims/ judges results, and
# memlib/localization/ keys its own results by its own code version on top of this one.
OUTSIDE_CODE_VERSION = frozenset(
    {
        "agreement.py",
        "book.py",
        "cli.py",
        "params.py",
        "plotting.py",
        "probes.py",
        "recipes.py",
        "runner.py",
        "stats.py",
        "__init__.py",
        "__main__.py",
    }
)


def project_root() -> Path:
    """The source checkout holding this package, or the working directory for an installed one."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def cache_root() -> Path:
    if os.environ.get("MEMLIB_CACHE"):
        return Path(os.environ["MEMLIB_CACHE"]).expanduser()
    return project_root() / ".cache"


@functools.cache
def code_version() -> str:
    """Hash of the package's computational sources: a change there invalidates cached results.

    What is hashed is each module's syntax tree without its docstrings, so that a comment or a
    docstring can be edited without recomputing anything."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
    for p in sorted(pkg.glob("*.py")):
        if p.name not in OUTSIDE_CODE_VERSION:
            h.update(p.name.encode() + code_fingerprint(p.read_text()).encode())
    return h.hexdigest()[:12]


def code_fingerprint(source: str) -> str:
    """The code of a module, without comments, docstrings or layout: its syntax tree, written
    back as source (``ast.unparse``, which reads the same across Python versions)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def _is_docstring(node: ast.AST) -> bool:
    value = getattr(node, "value", None)
    return (
        isinstance(node, ast.Expr)
        and isinstance(value, ast.Constant)
        and isinstance(value.value, str)
    )


def cache_key(kind: str, config: dict) -> str:
    """The folder name of a result: a hash of its kind, config (as JSON) and the code version.
    It can be recomputed from the stored ``config.json`` and ``meta.json`` (its ``kind`` and
    ``code_version``)."""
    text = json.dumps({"kind": kind, "config": config, "code": code_version()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@functools.cache
def git_commit() -> str:
    """The checkout's commit, marked ``+changes`` if the package or its dependencies differ from it.

    Only ``memlib/`` and ``pyproject.toml`` count: executing notebooks rewrites tracked notebook
    files, which must not mark the code as changed.
    """

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", *args], cwd=project_root(), capture_output=True, text=True, timeout=10
        )

    try:
        head = git("rev-parse", "--short=10", "HEAD")
        if head.returncode != 0:
            return "unknown"
        changed = git("status", "--porcelain", "--", "memlib", "pyproject.toml").stdout.strip()
        return head.stdout.strip() + ("+changes" if changed else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class Result:
    """A cached result: its config, provenance, per-epoch history and named arrays."""

    config: dict
    meta: dict
    history: pd.DataFrame
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None

    def provenance(self) -> str:
        """A two-line caption: profile, device, wall time, commit, and the data copy used."""
        m = self.meta
        return (
            f"Provenance: profile {m.get('profile') or '-'} · device {m.get('device', '-')} · "
            f"wall {m['wall_s']:.0f} s\n            commit {m['commit']} · "
            f"data {m.get('source', '-')}"
        )


@dataclass
class Computed:
    """What a computation returns to :func:`cached`: its per-epoch history, named arrays, and
    provenance of its own (e.g. the data copy used), saved beside the cache's."""

    history: pd.DataFrame
    arrays: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)


def cached(
    kind: str,
    config: dict,
    compute: Callable[[Path], Computed],
    *,
    meta: dict | None = None,
) -> Result:
    """Load the result of ``kind`` for ``config``, or run ``compute(folder)`` and save it.

    ``compute`` receives the result's folder (for its checkpoint) and returns a
    :class:`Computed`. ``meta`` (e.g. profile, device) joins the saved provenance.
    """
    config = json.loads(json.dumps(config))  # as stored: lists, not tuples
    key = cache_key(kind, config)
    folder = cache_root() / kind / key
    try:
        return load(folder, config)
    except FileNotFoundError:
        pass
    except Exception as e:
        print(f"memlib: recomputing unreadable cache entry {folder} ({type(e).__name__}: {e})")
        for name in ("config.json", "meta.json", "history.csv", "arrays.npz"):
            (folder / name).unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    t0, started = time.perf_counter(), _now()
    out = compute(folder)
    info = {
        **(meta or {}),
        **out.meta,
        "kind": kind,
        "key": key,
        "code_version": code_version(),
        "commit": git_commit(),
        "started": started,
        "finished": _now(),
        "wall_s": time.perf_counter() - t0,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "torch": _torch_version(),
    }
    _write(folder, config, info, out.history, out.arrays)
    (folder / "checkpoint.pt").unlink(missing_ok=True)
    return load(folder, config)


def load(folder: Path, config: dict | None = None) -> Result:
    """Read a result folder; with ``config``, check that it is the result of that config."""
    stored = json.loads((folder / "config.json").read_text())
    if config is not None and stored != json.loads(json.dumps(config)):
        raise ValueError(f"{folder} holds a result for another config")
    meta = json.loads((folder / "meta.json").read_text())
    history = pd.read_csv(folder / "history.csv")
    with np.load(folder / "arrays.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return Result(stored, meta, history, arrays, folder)


def _write(folder: Path, config, meta, history: pd.DataFrame, arrays: dict) -> None:
    """Write every file under a temporary name, then move them in; meta.json goes last, so a
    folder with a meta.json is complete."""
    tmp = folder / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    (tmp / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True))
    history.to_csv(tmp / "history.csv", index=False)
    np.savez(tmp / "arrays.npz", **arrays)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
    for name in ("config.json", "history.csv", "arrays.npz", "meta.json"):
        os.replace(tmp / name, folder / name)
    tmp.rmdir()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _torch_version() -> str:
    import torch

    return torch.__version__
