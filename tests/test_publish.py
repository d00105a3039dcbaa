"""`make publish` pushes the built HTML to the gh-pages branch of a remote (ghp-import).

Run against a throwaway repository and a local bare remote, never the developer's repository:
the Makefile of the working tree is copied into a fresh git repository with a tiny
`_build/html`, and make is told not to rebuild the HTML nor reinstall the venv (`-o`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)  # the environment running the tests: it has ghp-import (dev extra)


def _env(home: Path) -> dict[str, str]:
    """git with a fixed identity and no user or system configuration; make with no inherited
    flags (the tests may run under `make unit`)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GIT_")
        and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    }
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="memlib test",
        GIT_AUTHOR_EMAIL="test@memlib.invalid",
        GIT_COMMITTER_NAME="memlib test",
        GIT_COMMITTER_EMAIL="test@memlib.invalid",
    )
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_make_publish_pushes_gh_pages(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = _env(tmp_path)
    remote, project = tmp_path / "remote.git", tmp_path / "project"
    _run(["git", "init", "-q", "--bare", str(remote)], tmp_path, env)

    project.mkdir()
    shutil.copy(ROOT / "Makefile", project / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    _run(["git", "init", "-q"], project, env)
    _run(["git", "add", "Makefile", "pyproject.toml"], project, env)
    _run(["git", "commit", "-q", "-m", "project"], project, env)
    html = project / "_build" / "html"
    html.mkdir(parents=True)
    (html / "index.html").write_text("<!DOCTYPE html><title>book</title><p>the book</p>\n")

    stamp = VENV / ".installed"
    out = _run(
        ["make", "-o", "html", "-o", str(stamp), "publish", f"VENV={VENV}", f"GH_REMOTE={remote}"],
        project,
        env,
    )
    assert "memlib build" not in out, f"make rebuilt the HTML:\n{out}"

    tree = _run(
        ["git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only", "gh-pages"], tmp_path, env
    ).split()
    assert sorted(tree) == [".nojekyll", "index.html"], tree
    page = _run(["git", "--git-dir", str(remote), "show", "gh-pages:index.html"], tmp_path, env)
    assert "the book" in page
    head = _run(["git", "rev-parse", "--short", "HEAD"], project, env).strip()
    message = _run(
        ["git", "--git-dir", str(remote), "log", "-1", "--format=%s", "gh-pages"], tmp_path, env
    )
    assert head in message, message
