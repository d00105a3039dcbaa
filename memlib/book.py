"""The book around the claim checks: what a claim page shows, and the Sphinx extension.

In a notebook, :func:`report` shows a claim check (the verdict in an admonition coloured by it,
and the criteria), glues the page's header (``claim_header``: the verdict, the scale run here
against the paper's, and the command that re-runs the page) and each criterion's measured value
(:func:`value_key`, for prose), and stores the record, with the cost of the runs behind it, in
the output's metadata.

At build time, the extension (``sphinx: extra_extensions: [memlib.book]``) reads those records
back from the executed notebooks into the landing page's claims table (the ``claims-table``
directive), serves MathJax from the book's own static files, and widens nothing: outputs wrap.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .claims import ADMONITION, UNTESTABLE, Claim, headline, render_markdown, render_text
from .claims.core import md_cell
from .claims.core import seeds as seed_count
from .params import PROFILES, load_profile, params_for

_DATA = {"mnist": ("MNIST", 60_000), "fashion-mnist": ("Fashion-MNIST", 60_000),
         "cifar10": ("CIFAR-10", 50_000)}  # fmt: skip
_BADGE = {"holds": "success", "partly holds": "warning", "does not hold": "danger",
          UNTESTABLE: "info"}  # fmt: skip
_FRACTION = {0.125: "⅛", 0.25: "¼", 0.5: "½"}


DESIGN = ("mask_last", "mask_pairs", "mask_scale", "conv_bias", "augment")


def measured_design(cfg, folder: Path | None = None) -> dict | None:
    """What the book's conv-net page (executed at the cpu profile, in ``folder``, default the
    book's) measured for the VGG-11 mask design of ``cfg`` (the first grid point with the same
    masks): ``{"point", "auc", "works", "target"}``, the AUC as the page prints it. None if the
    page has no such point or was not executed."""
    from .claims.convnet import WORKS_AUC

    rec = load_records(folder or Path(__file__).resolve().parent.parent / "book")
    rec = rec.get("convnet_scores")
    if rec is None or rec.get("profile") != "cpu":
        return None
    g = params_for("convnet_scores", load_profile("cpu")["convnet_scores"])
    for name in g.grid:
        point = g.point(name, g.seeds[0])
        if all(getattr(point, k) == getattr(cfg, k) for k in DESIGN) and name in rec["numbers"]:
            text = rec["numbers"][name]
            auc = re.search(r"AUC ([0-9.]+(?: ± [0-9.]+)?(?: \(n=\d+\))?)", text).group(1)
            works = float(auc.split()[0]) >= WORKS_AUC
            return {"point": name, "auc": auc, "works": works, "target": f"at least {WORKS_AUC}"}
    return None


# --- a claim page ---------------------------------------------------------------------------------


def scale(p, seeds: bool = True, short: bool = False) -> dict[str, str]:
    """What a notebook's parameters ``p`` run, in four fields: data, model, epochs, seeds
    (``short``: in a few characters each, for the claims table)."""
    if hasattr(p, "describe"):  # a page that says what it runs (the Arpit et al. chapter)
        return p.scale(seeds, short)
    if hasattr(p, "datasets"):
        return _localization_scale(p, seeds, short)
    cfg = p.config(p.seeds[0])
    name, total = _DATA.get(cfg.dataset, (cfg.dataset, 0))
    n = cfg.n_train or total
    width = _FRACTION.get(cfg.width, cfg.width)
    model = {
        "mlp": ("MLP {h}", "MLP, {h} hidden units"),
        "vgg11": (
            "VGG-11" + ("" if width == 1 else " ×{w}"),
            "VGG-11" + ("" if width == 1 else " at {w} width"),
        ),
        "cct": ("CCT {d}-d", "CCT-2, {d} dimensions"),
    }[cfg.arch][0 if short else 1].format(h=f"{cfg.hidden:,}", w=width, d=round(128 * cfg.width))
    model += masks(cfg, short)
    ep = "ep" if short else "epochs"
    epochs = f"{cfg.epochs} {ep}"
    if hasattr(p, "train_epochs"):
        epochs = (
            f"{cfg.epochs}+{p.train_epochs} {ep}"
            if short
            else (f"{cfg.epochs} epochs (scores), {p.train_epochs} (followed)")
        )
    data = f"{n:,} {name}" if short else f"{name}, {n:,} examples"
    out = {"data": data if n else name, "model": model, "epochs": epochs}
    if seeds:
        out["seeds"] = seed_count(p.seeds)
        if hasattr(p, "n_models"):
            k = p.n_models
            out["seeds"] += f", {k} models" if short else f", {k} ground-truth models"
    return out


def _localization_scale(p, seeds: bool, short: bool) -> dict[str, str]:
    """:func:`scale` of the Maini chapter's pages: several datasets, one ResNet-9 recipe."""
    sizes = []
    for d in p.datasets:
        name, total = _DATA.get(d, (d, 0))
        n = p.n_train or total
        sizes.append(f"{n:,} {name}" if n else name)
    width = _FRACTION.get(p.width, p.width)
    model = "ResNet-9" + ("" if p.width == 1 else (f" ×{width}" if short else f" at {width} width"))
    if hasattr(p, "p_gen"):  # the example-tied dropout pages
        model += (", tied" if short else
                  f", example-tied dropout (p_gen {p.p_gen:g}, p_mem {p.p_mem:g})")  # fmt: skip
    out = {"data": ", ".join(sizes) + f", {p.noise:.0%} noise", "model": model,
           "epochs": f"{p.epochs} {'ep' if short else 'epochs'}"}  # fmt: skip
    if seeds:
        out["seeds"] = seed_count(p.seeds) + ("" if short else f" ({p.datasets[0]})")
    return out


def masks(cfg, short: bool = False) -> str:
    """How a turn-over model's masks differ from the paper's design ('' if they do not)."""
    if not cfg.turnover:
        return ""
    parts = []
    if cfg.arch == "vgg11" and cfg.mask_last != 8:
        k = cfg.mask_last
        long = "masks on the last convolution only" if k == 1 else f"masks on the last {k} of 8"
        parts.append(f"last {k}" if short else long)
    if cfg.mask_pairs:
        parts.append(f"K={cfg.mask_pairs}" if short else f"{cfg.mask_pairs} mask pairs")
    if cfg.mask_scale != 2.0:
        parts.append(f"×{cfg.mask_scale:g}" if short else f"kept maps ×{cfg.mask_scale:g}")
    if not cfg.conv_bias:
        parts.append("no bias" if short else "no conv biases")
    if cfg.augment:
        parts.append("aug" if short else "flips and shifts")
    if not parts:
        return ""
    return f" ({', '.join(parts)})" if short else ", " + ", ".join(parts)


def paper_scale(page: str, short: bool = False) -> dict[str, str]:
    """The scale of the paper's recipe (the ``paper`` profile) of a page, seeds left out: the
    paper does not state them."""
    return scale(params_for(page, load_profile("paper")[page]), seeds=False, short=short)


def overrides(p, page: str) -> dict:
    """The parameters of ``p`` that differ from its profile's values for ``page`` (given with
    ``memlib run -p NAME VALUE`` or papermill's ``-p``)."""
    base = params_for(page, load_profile(p.profile).get(page, {"profile": p.profile}))
    names = [f for f in p.__dataclass_fields__ if getattr(p, f) != getattr(base, f)]
    return {f: getattr(p, f) for f in names}


def command(page: str, profile: str, changed: dict | None = None) -> str:
    """The command that re-runs a page (with the parameters ``changed`` from the profile)."""
    extra = "".join(f" -p {k} {json.dumps(v)}" for k, v in (changed or {}).items())
    return f"memlib run {page} --profile {profile}{extra}"


def record(claim: Claim, p, runs=()) -> dict:
    """The claim check with what the book shows around it: profile, scale here and in the
    paper, the re-run command, and each cached result behind it (kind, key, wall time)."""
    results = [
        res for r in runs for res in (getattr(r, "chunks", None) or [getattr(r, "result", r)])
    ]  # runs, or cached results themselves
    seen = {}
    for res in results:
        m = res.meta
        seen[m["key"]] = {k: m.get(k) for k in ("kind", "key", "wall_s", "commit", "device")}
    changed = overrides(p, claim.page)
    return claim.to_dict() | {
        "headline": headline(claim),
        "profile": p.profile,
        "overrides": changed,
        "scale": scale(p),
        "paper_scale": paper_scale(claim.page),
        "scale_short": scale(p, short=True),
        "paper_scale_short": paper_scale(claim.page, short=True),
        "command": command(claim.page, p.profile, changed),
        "runs": list(seen.values()),
    }


def header(rec: dict) -> str:
    """The page's header (MyST): the verdict in its colour, here against the paper, re-run."""
    here = " · ".join(rec["scale"].values())
    paper = " · ".join(rec["paper_scale"].values())
    return "\n".join(
        [
            f":::{{admonition}} {rec['headline']}",
            f":class: {ADMONITION[rec['verdict']]} memlib-verdict",
            "",
            f"**Here** (`{rec['profile']}` profile{_changed(rec)}): {here}.  ",
            f"**The paper's scale** (`paper` profile, the paper's recipe as far as it gives "
            f"one): {paper}.  ",
            f"**Re-run this page:** `{rec['command']}`; the criteria are in the claim check "
            "at the end of the page.",
            ":::",
        ]
    )


def _changed(rec: dict) -> str:
    changed = rec.get("overrides") or {}
    return f", with {', '.join(f'{k} = {v}' for k, v in changed.items())}" if changed else ""


def report(claim: Claim, p, runs=()) -> None:
    """Show ``claim`` in the notebook and record it for the book (see the module's docstring).
    ``p``: the notebook's parameters; ``runs``: the cached runs the claim was judged on."""
    from IPython.display import Markdown, display
    from myst_nb import glue

    rec = _jsonable(record(claim, p, runs))
    display(
        {"text/markdown": render_markdown(claim), "text/plain": render_text(claim)},
        raw=True,
        metadata={"memlib": {"claim": rec}},
    )
    glue("claim_header", Markdown(header(rec)), display=False)
    for c in (*claim.parts, *claim.preconditions, *claim.notes):
        glue(value_key(c.name), Markdown(c.value if c.passed is not None else c.why), display=False)


def value_key(name: str) -> str:
    """The glue key of a criterion's measured value, for prose: ``{glue:md}`claim_early_gain```
    for the criterion named "early gain"."""
    return "claim_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=float))


def load_records(folder: Path) -> dict[str, dict]:
    """Page name -> the claim record stored in its executed notebook ``folder/<page>.ipynb``."""
    out = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for cell in cells:
            for o in cell.get("outputs", []):
                rec = o.get("metadata", {}).get("memlib", {}).get("claim")
                if rec:
                    out[path.stem] = rec
    return out


def claims_table(records: dict[str, dict], order: list[str]) -> str:
    """The landing page's table of claims (MyST): one row per claim page, in ``order``."""
    rows = [
        "| claim | verdict | key number | run here (the paper's recipe) |",
        "|:--|:--|:--|:--|",
    ]
    for page in [p for p in order if p in records]:
        r = records[page]
        quantity, here, paper = r["key"]
        here_s, paper_s = r["scale_short"], r["paper_scale_short"]
        diff = [v for k, v in paper_s.items() if here_s.get(k) != v]
        scale_text = " · ".join(here_s.values()) + (f" ({' · '.join(diff)})" if diff else "")
        rows.append(
            f"| [{r['figure']}]({page}.ipynb): {_cell(r['claim'])} "
            f"| {{bdg-{_BADGE[r['verdict']]}}}`{r['verdict']}` "
            f"| {_cell(quantity)}: **{_cell(here)}**; paper: {_cell(paper)} "
            f"| {_cell(scale_text)} |"
        )
    return "\n".join(rows) + "\n"


# --- the Reproducing page -------------------------------------------------------------------------


def markdown_table(df, floats: str = "") -> str:
    """A DataFrame as a MyST table (its index dropped), for ``IPython.display.Markdown``;
    ``floats``: the format of float cells (``".3f"``). NaN shows as "–"."""
    cols = [str(c) for c in df.columns]
    rows = ["| " + " | ".join(cols) + " |", "|" + "|".join(":--" for _ in cols) + "|"]
    rows += [
        "| " + " | ".join(_cell(v, floats) for v in r) + " |" for r in df.itertuples(index=False)
    ]
    return "\n".join(rows) + "\n"


def _cell(v, floats: str = "") -> str:
    if isinstance(v, float):
        return "–" if v != v else format(v, floats)
    return md_cell(v)


def profiles_table(pages: list[str]):
    """What each claim page runs at the ``smoke``, ``cpu`` and ``paper`` profiles (read from
    the profile files): one row per page."""
    import pandas as pd

    from .claims import CLAIMS

    values = {pr: load_profile(pr) for pr in PROFILES}
    rows = []
    for page in [p for p in pages if p in CLAIMS]:
        row = {"page": page}
        for pr in PROFILES:
            row[pr] = " · ".join(scale(params_for(page, values[pr][page]), short=True).values())
        rows.append(row)
    return pd.DataFrame(rows)


def times_table(records: dict[str, dict], build: dict | None, order: list[str]):
    """Per claim page: its cached runs (each counted once, on the first page that uses it),
    their compute time as recorded when each was computed, and the page's execution time in
    the build ``build`` (``build-<profile>.json``), which is short when the runs were cached."""
    import pandas as pd

    seen = set()
    rows = {"page": [], "new runs": [], "their compute, min": [], "page in the last build, min": []}
    for page in [p for p in order if p in records]:
        runs = [r for r in records[page]["runs"] if r["key"] not in seen]
        seen |= {r["key"] for r in runs}
        page_s = (build or {}).get("notebooks_s", {}).get(page, 0)
        for k, v in zip(
            rows,
            (records[page]["figure"], len(runs), sum(r["wall_s"] for r in runs) / 60, page_s / 60),
            strict=True,
        ):
            rows[k].append(v)
    return pd.DataFrame(rows)


def parts_table(records: dict[str, dict], build: dict | None, parts: dict[str, list[str]]):
    """Per part of the book (``runner.parts()``): its claim pages, the compute of their runs
    from an empty cache (each run counted once in the part: a part built on its own), and the
    pages' execution time in the last build."""
    import pandas as pd

    rows = []
    for name, pages in parts.items():
        t = times_table(records, build, pages)
        if len(t):
            rows.append({"part": name, "claim pages": len(t),
                         "compute from an empty cache, min": t.iloc[:, 2].sum(),
                         "pages in the last build, min": t.iloc[:, 3].sum()})  # fmt: skip
    return pd.DataFrame(rows)


# --- the Sphinx extension -------------------------------------------------------------------------

_MATHJAX = "mathjax/tex-mml-chtml.js"  # under _static/, copied from the django-static-mathjax wheel
_CSS = """\
/* Outputs and code wrap instead of running past the column (and being cut off). */
article pre { white-space: pre-wrap; word-break: break-word; }
div.cell_output table { display: block; max-width: 100%; overflow-x: auto; }
.memlib-claims td, .memlib-claims th { vertical-align: top; }
"""


def _mathjax_source() -> Path:
    import mathjax  # the django-static-mathjax wheel: MathJax 3 as plain files

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _config_inited(app, config) -> None:
    config.mathjax_path = _MATHJAX
    config.html_css_files = [*config.html_css_files, "memlib.css"]


def _build_finished(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    target = static / "mathjax"
    if not (target / "tex-mml-chtml.js").exists():
        shutil.copytree(_mathjax_source(), target, dirs_exist_ok=True)
    (static / "memlib.css").write_text(_CSS)


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """sphinx-thebe and sphinx-togglebutton register their inline scripts twice (once with the
    file name None, once with ""), and the second ``const`` declaration is an error in every
    page's console. Keep the first of scripts that differ in nothing else."""
    seen, kept = set(), []
    for js in context.get("script_files", []):
        attrs = getattr(js, "attributes", {})
        ident = (getattr(js, "filename", js) or "", tuple(sorted(attrs.items())))
        if ident not in seen:
            seen.add(ident)
            kept.append(js)
    context["script_files"] = kept


def setup(app):
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class ClaimsTable(SphinxDirective):
        """``claims-table``: the table of every claim page's verdict, read from the executed
        notebooks beside the page that holds the directive."""

        def run(self):
            from .runner import notebooks

            folder = Path(self.env.doc2path(self.env.docname)).parent
            for nb in folder.glob("*.ipynb"):
                self.env.note_dependency(str(nb))
            parsed = self.parse_text_to_nodes(claims_table(load_records(folder), notebooks()))
            for node in parsed:
                for table in node.findall(nodes.table):
                    table["classes"] += ["memlib-claims"]
            return parsed

    app.add_directive("claims-table", ClaimsTable)
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _dedupe_scripts, priority=900)  # after the adders
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
