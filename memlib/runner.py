"""Execute the notebooks with papermill under a profile, and build the book, whole or by part.

The book has one part per paper (``_toc.yml``; each part's ``name`` is what ``--part`` takes).
Each notebook's execution time is kept in ``book/build-<profile>.json``, which gives the next
build its estimate of the time left.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from .errors import MemlibError
from .params import NOTEBOOKS, field_notes, load_profile, params_for
from .results import cache_root, git_commit, project_root


class _ValidatedParameters(logging.Filter):
    """Papermill warns of every parameter the ``parameters`` cell does not assign, which holds
    only the profile's name; :func:`params.params_for` has checked every name already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


logging.getLogger("papermill").addFilter(_ValidatedParameters())


def parts() -> dict[str, list[str]]:
    """Part name -> its notebooks, in the book's order (``_toc.yml``)."""
    import yaml

    toc = yaml.safe_load((project_root() / "_toc.yml").read_text())
    out = {}
    for part in toc.get("parts", [toc]):
        names = [Path(c["file"]).name for c in part.get("chapters", [])]
        have = [n for n in names if (project_root() / "notebooks" / f"{n}.ipynb").exists()]
        out[part.get("name", "book")] = have
    return out


def notebooks() -> list[str]:
    """Notebook names in the book's order."""
    return [n for names in parts().values() for n in names]


def output_dir(profile: str) -> Path:
    """smoke refreshes the source notebooks' outputs (what nbval checks); cpu and paper write the
    book's copies."""
    return project_root() / ("notebooks" if profile == "smoke" else "book")


def default_output(notebook: str, profile: str) -> Path:
    return output_dir(profile) / f"{notebook}.ipynb"


def execute_notebook(
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
            strip(out, sorted(overrides or {}), notebook=name)
    return out


def strip(path: Path, overrides: list[str] = (), notebook: str | None = None) -> None:
    """Tidy an executed notebook for committing and reading (``overrides``: the names of the
    parameters given on top of the profile, which the parameters cell then names).

    Removes papermill's and Jupyter's timestamps (so that committed notebooks diff cleanly) and
    the stderr of cells tagged ``remove-stderr`` (progress bars, hidden from readers anyway).
    The parameters are shown once: the cell papermill injected, each value commented with what
    it means (the study's field comment, :func:`params.field_notes`); the notebook's own
    ``parameters`` cell (only the profile's name) is hidden (``remove-cell``).
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
        study = NOTEBOOKS.get(notebook or Path(path).stem)
        notes = field_notes(study) if study else {}
        injected["source"] = _annotated(_src(injected), notes, overrides)
        if "remove-cell" not in defaults["metadata"]["tags"]:
            defaults["metadata"]["tags"].append("remove-cell")
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _annotated(injected: str, comments: dict[str, str], overrides=()) -> list[str]:
    """The injected parameters, each line with its name's comment from ``comments``."""
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


def build(profile: str = "cpu", execute: bool = True, part: str | None = None) -> Path:
    """Execute the notebooks with ``profile`` (unless ``execute=False``), then build the HTML.

    ``part``: only that part's notebooks (and the "about" part's, whose Reproducing page reads
    the others). A line per notebook reports its time, the time elapsed and an estimate of the
    time left (each remaining notebook's time in the last build). An executing build writes
    ``build-<profile>.json`` beside the executed notebooks: its wall time, each notebook's, the
    HTML's, and how many cached results it computed. The Reproducing page reads it.
    """
    if not execute:
        return html()
    load_profile(profile)  # a bad profile fails before any work
    names, previous = _selected(part), _read_record(profile)
    t0, before, seconds = time.perf_counter(), _cache_entries(), {}
    record = lambda html_s=None: _write_build_record(
        profile, part, previous, seconds, t0, before, html_s
    )
    # The claim pages first; then the record, which the other pages (Reproducing) read.
    for i, name in enumerate(names, 1):
        if name not in NOTEBOOKS and seconds:
            record()
        t = time.perf_counter()
        execute_notebook(name, profile)
        seconds[name] = round(time.perf_counter() - t, 1)
        left = sum(previous.get("notebooks_s", {}).get(n, 0) for n in names[i:])
        print(_progress(i, len(names), seconds[name], time.perf_counter() - t0, left, name))
    t = time.perf_counter()
    try:
        return html()
    finally:  # the record of an executing build is kept even if the HTML fails
        record(time.perf_counter() - t)


def _selected(part: str | None) -> list[str]:
    """The notebooks a build executes, in order: a part's and the "about" part's, or all."""
    found = parts()
    if part is not None and part not in found:
        raise MemlibError(f"unknown part {part!r}; the book's parts: {', '.join(found)}")
    names = notebooks() if part is None else found[part] + found.get("about", [])
    return sorted(dict.fromkeys(names), key=lambda n: n not in NOTEBOOKS)


def _progress(i: int, total: int, took: float, elapsed: float, left: float, name: str) -> str:
    """One line per executed notebook: done/total, its time, the time elapsed and left."""
    clock = lambda s: f"{int(s // 60)}:{int(s % 60):02d}"
    eta = f" · about {clock(left)} left (last build's times)" if left else ""
    return f"memlib: [{i}/{total}] {name} in {took:.0f} s · {clock(elapsed)} elapsed{eta}"


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


def _record_path(profile: str) -> Path:
    return output_dir(profile) / f"build-{profile}.json"


def _read_record(profile: str) -> dict:
    path = _record_path(profile)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_build_record(profile, part, previous, seconds, t0, before, html_s=None) -> None:
    """``build-<profile>.json``: the build so far (``html_s`` once the HTML is built). A part's
    build keeps the other notebooks' times from the previous record."""
    new = _cache_entries() - before
    computed = Counter(m.parent.parent.name for m in new)  # cached results computed, by kind
    record = {
        "profile": profile,
        "part": part,
        "commit": git_commit(),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - t0, 1),
        "notebooks_s": {**(previous.get("notebooks_s", {}) if part else {}), **seconds},
        "html_s": None if html_s is None else round(html_s, 1),
        "computed": dict(computed),
        "compute_s": round(sum(json.loads(m.read_text()).get("wall_s", 0) for m in new), 1),
        "machine": machine(),
    }
    out = _record_path(profile)
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
