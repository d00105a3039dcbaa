"""Execute the notebooks with papermill under a profile, and build the book."""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from .config import load_profile, params_for
from .errors import MemlibError
from .results import cache_root, git_commit, project_root


def notebooks() -> list[str]:
    """Notebook names in the book's order (the order of ``_toc.yml``)."""
    import yaml

    toc = yaml.safe_load((project_root() / "_toc.yml").read_text())
    chapters = [c for part in toc.get("parts", [toc]) for c in part.get("chapters", [])]
    names = [Path(c["file"]).name for c in chapters]
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
            strip(out, sorted(overrides or {}))
    return out


def strip(path: Path, overrides: list[str] = ()) -> None:
    """Tidy an executed notebook for committing and reading (``overrides``: the names of the
    parameters given on top of the profile, which the parameters cell then names).

    Removes papermill's and Jupyter's timestamps (so that committed notebooks diff cleanly) and
    the stderr of cells tagged ``remove-stderr`` (progress bars, hidden from readers anyway).
    The parameters are shown once: the cell papermill injected, each value commented as in the
    notebook's own ``parameters`` cell, which the book then hides (``remove-cell``).
    """
    nb = json.loads(Path(path).read_text())
    nb.get("metadata", {}).pop("papermill", None)
    cells = nb.get("cells", [])
    for cell in cells:
        meta = cell.get("metadata", {})
        for key in ("papermill", "execution", "ExecuteTime"):
            meta.pop(key, None)
        if "remove-stderr" in meta.get("tags", []):
            cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("name") != "stderr"]
    tagged = {t: c for c in cells for t in c.get("metadata", {}).get("tags", [])}
    if "parameters" in tagged and "injected-parameters" in tagged:
        defaults, injected = tagged["parameters"], tagged["injected-parameters"]
        injected["source"] = _annotated(_src(injected), _src(defaults), overrides)
        if "remove-cell" not in defaults["metadata"]["tags"]:
            defaults["metadata"]["tags"].append("remove-cell")
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _annotated(injected: str, defaults: str, overrides=()) -> list[str]:
    """The injected parameters, each line with the comment of its name in ``defaults``."""
    comments = {}
    for line in defaults.splitlines():
        name, _, rest = line.partition("=")
        if "#" in rest:
            comments[name.strip()] = rest.split("#", 1)[1].strip()
    out = []
    for line in injected.splitlines():
        name, eq, _ = line.partition("=")
        if line.startswith("# Parameters"):
            found = re.search(r"^profile = [\"']([^\"']*)", injected, re.M)
            profile = found.group(1) if found else ""
            line = f"# Parameters of the {profile} profile (memlib/profiles/{profile}.yml)"
            if overrides:
                line += f", with {', '.join(overrides)} changed"
        elif eq and name.strip() in comments and "  # " not in line:
            line = f"{line}  # {comments[name.strip()]}"
        if line:
            out.append(line)
    return [x + "\n" for x in out[:-1]] + out[-1:]


def build(profile: str = "cpu", execute: bool = True, only: list[str] | None = None) -> Path:
    """Execute every notebook with ``profile`` (unless ``execute=False``), then build the HTML.

    An executing build of the whole book writes ``build-<profile>.json`` beside the executed
    notebooks: its wall time, each notebook's, the HTML's, and how many cached results it
    computed (the rest came from the cache). The Reproducing page reads it.
    """
    from .config import NOTEBOOKS

    names = only or notebooks()
    t0, before, seconds = time.perf_counter(), _cache_entries(), {}
    record = execute and not only
    if execute:
        load_profile(profile)  # a bad profile fails before any work
        # The claim pages first; then the record, which the other pages (Reproducing) read.
        for name in sorted(names, key=lambda n: n not in NOTEBOOKS):
            if record and name not in NOTEBOOKS and seconds:
                _write_build_record(profile, seconds, t0, before)
            t = time.perf_counter()
            run(name, profile)
            seconds[name] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    try:
        return html()
    finally:  # the record of an executing build is kept even if the HTML fails
        if record and seconds:
            _write_build_record(profile, seconds, t0, before, time.perf_counter() - t)


def html() -> Path:
    """Build the HTML book from the notebooks as they are (``-W``: warnings fail the build)."""
    root = project_root()
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "-W", "-n"]
    try:
        subprocess.run([*cmd, "--keep-going"], check=True)
    except subprocess.CalledProcessError:
        raise MemlibError(
            "jupyter-book build failed (warnings count as errors); see above"
        ) from None
    return root / "_build" / "html" / "index.html"


def _cache_entries() -> set[Path]:
    """Every complete cached result (a folder with its meta.json)."""
    return set(cache_root().glob("*/*/meta.json"))


def _write_build_record(profile, seconds, t0, before, html_s=None) -> None:
    """``build-<profile>.json``: the build so far (``html_s`` once the HTML is built)."""
    new = _cache_entries() - before
    computed = Counter(m.parent.parent.name for m in new)  # cached results computed, by kind
    record = {
        "profile": profile,
        "commit": git_commit(),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - t0, 1),
        "notebooks_s": seconds,
        "html_s": None if html_s is None else round(html_s, 1),
        "computed": dict(computed),
        "compute_s": round(sum(json.loads(m.read_text()).get("wall_s", 0) for m in new), 1),
        "machine": machine(),
    }
    out = default_output(next(iter(seconds)), profile).parent / f"build-{profile}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")


def machine() -> str:
    """This machine in a few words: CPU model, the cores torch may use, torch (or the GPU)."""
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} GPU, torch {torch.__version__}"
    model = platform.processor() or "CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        model = names[0] if names else model
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
