"""Execute the notebooks with papermill under a profile, and build the book."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .config import load_profile, params_for
from .errors import MemlibError
from .results import project_root


def notebooks() -> list[str]:
    """Notebook names in the book's order (the order of ``_toc.yml``)."""
    import yaml

    toc = yaml.safe_load((project_root() / "_toc.yml").read_text())
    files = [c["file"] for c in toc.get("chapters", [])]
    names = [Path(f).name for f in files]
    return [n for n in names if (project_root() / "notebooks" / f"{n}.ipynb").exists()]


def default_output(notebook: str, profile: str) -> Path:
    """smoke refreshes the source notebook's outputs (what nbval checks); cpu and paper write the
    book's copy."""
    folder = "notebooks" if profile == "smoke" else "book"
    return project_root() / folder / f"{notebook}.ipynb"


def run(
    notebook: str, profile: str = "cpu", out: Path | None = None, overrides: dict | None = None
) -> Path:
    """Execute ``notebooks/<notebook>.ipynb`` with ``profile``'s parameters (plus ``overrides``).

    Parameters are validated before the kernel starts: papermill itself only warns.
    """
    import papermill

    name = Path(notebook).stem
    src = project_root() / "notebooks" / f"{name}.ipynb"
    if not src.exists():
        raise MemlibError(f"no notebook {src}; known: {', '.join(notebooks())}")
    params = {**load_profile(profile).get(name, {}), **(overrides or {})}
    if params_for(name, params) is None:
        params = {}
    out = Path(out) if out else default_output(name, profile)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"memlib: executing {name} with profile {profile} -> {out}", file=sys.stderr)
    try:
        papermill.execute_notebook(
            str(src),
            str(out),
            parameters=params,
            kernel_name="python3",
            cwd=str(out.parent),
            progress_bar=False,
        )
    finally:
        if out.exists():
            strip(out)
    return out


def strip(path: Path) -> None:
    """Remove papermill's and Jupyter's timestamps, so that committed notebooks diff cleanly."""
    nb = json.loads(Path(path).read_text())
    nb.get("metadata", {}).pop("papermill", None)
    for cell in nb.get("cells", []):
        for key in ("papermill", "execution", "ExecuteTime"):
            cell.get("metadata", {}).pop(key, None)
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def build(profile: str = "cpu", execute: bool = True, only: list[str] | None = None) -> Path:
    """Execute every notebook with ``profile`` (unless ``execute=False``), then build the HTML."""
    if execute:
        for name in only or notebooks():
            run(name, profile)
    root = project_root()
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [
        str(exe) if exe.exists() else "jupyter-book",
        "build",
        str(root),
        "-W",
        "-n",
        "--keep-going",
    ]
    try:
        subprocess.run(cmd, check=True)
    except subprocess.CalledProcessError:
        raise MemlibError(
            "jupyter-book build failed (warnings count as errors); see above"
        ) from None
    return root / "_build" / "html" / "index.html"
