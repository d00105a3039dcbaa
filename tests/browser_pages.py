"""Helpers of test_browser.py: the built book's pages, its local references, an HTTP server, the
Chromium install, and the checks that run inside the browser."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = ["chromium", "chromium-driver", "fonts-dejavu-core"]
WIDTH = 1280  # px: the layout every check and screenshot is made at
MAX_HEIGHT = 30_000  # px: screenshots of longer pages are cut here
SKIPPED_PAGES = {"genindex.html", "search.html"}
# Only the book's own server resolves: a page that needs the network fails the same way here,
# on a CI machine with network, and for a reader offline.
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    f"--window-size={WIDTH},900",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def book_pages(html: Path) -> list[str]:
    """The book's HTML pages relative to ``html`` (posix paths), without the generated index, the
    search page and Sphinx's folders (``_static/``, ``_sources/``, ``_images/``, ...)."""
    pages = []
    for path in sorted(html.rglob("*.html"), key=_natural):
        rel = path.relative_to(html)
        if rel.as_posix() in SKIPPED_PAGES or any(p.startswith("_") for p in rel.parts[:-1]):
            continue
        pages.append(rel.as_posix())
    return pages


def _natural(path: Path) -> list:
    """fig2a before fig10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.as_posix())]


def redirect_target(html: Path, page: str) -> str | None:
    """Where a ``<meta http-equiv="refresh">`` page (Jupyter Book's index.html) sends the reader."""
    m = re.search(
        r"""<meta\s+http-equiv=["']?refresh["']?\s+content=["'][^"']*url=([^"']+)["']""",
        (html / page).read_text(errors="replace"),
        re.IGNORECASE,
    )
    return _local_path(page, m.group(1).strip()) if m else None


# --- references that must resolve to a file of the build ------------------------------------

_BASE = "http://book.invalid/"


def _local_path(page: str, ref: str) -> str | None:
    """The build-relative path ``ref`` points to from ``page``, or None if it is not local
    (another host, ``mailto:``, ``data:``, a bare ``#fragment``, ...)."""
    ref = ref.strip()
    if not ref or ref.startswith("#"):
        return None
    url = urlsplit(urljoin(_BASE + page, ref))
    if url.scheme not in ("http", "https") or url.netloc != urlsplit(_BASE).netloc:
        return None
    path = unquote(url.path).lstrip("/")
    return path + "index.html" if path == "" or path.endswith("/") else path


class _References(HTMLParser):
    """``(what, reference)`` for every image, script, ``<link>`` and ``<a>`` of a page."""

    ATTRS = {"img": "src", "script": "src", "link": "href", "a": "href", "source": "src"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attr = self.ATTRS.get(tag)
        values = dict(attrs)
        if attr and values.get(attr):
            what = tag
            if tag == "link":
                what = f"link rel={values.get('rel') or '?'}"
            self.found.append((what, values[attr]))

    handle_startendtag = handle_starttag


def missing_references(html: Path, page: str) -> list[str]:
    """Local images, scripts, stylesheets (any ``<link>``) and links of ``page`` whose file is
    not in the build. Fragments and query strings are ignored; other hosts are not checked here
    (the browser reports what fails to load)."""
    parser = _References()
    parser.feed((html / page).read_text(errors="replace"))
    problems, seen = [], set()
    for what, ref in parser.found:
        path = _local_path(page, ref)
        if path is None or (what, ref) in seen:
            continue
        seen.add((what, ref))
        if not (html / path).is_file():
            problems.append(f"{what} {ref!r}: {path} is not in the build")
    return problems


# --- serving the build and starting the browser ---------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(html: Path):
    """Serve ``html`` on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def install_chromium() -> str | None:
    """Install Debian's Chromium and chromedriver if either is missing. Returns None when both are
    there, else a one-line reason why they could not be installed."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    apt = shutil.which("apt-get")
    if apt is None:
        return f"{CHROMIUM} or {CHROMEDRIVER} missing, and no apt-get to install them"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        [apt, "update", "-qq"],
        [apt, "install", "-y", "-qq", *APT_PACKAGES],
    ):
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            return f"`{' '.join(cmd[:2])}` failed (exit {done.returncode}): {last}"
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return f"apt-get ran, but {CHROMIUM} or {CHROMEDRIVER} is still missing"
    return None


def start_chromium(user_data_dir: Path):
    """Headless Chromium at 1280 px through /usr/bin/chromedriver, its console log enabled.
    Selenium Manager is never asked for a driver: the driver's path is given."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={user_data_dir}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    # The viewport, not the window, must be WIDTH wide: correct for any window decoration.
    inner = driver.execute_script("return window.innerWidth")
    if inner != WIDTH:
        driver.set_window_size(2 * WIDTH - inner, 900)
    return driver


# --- in the browser -------------------------------------------------------------------------

# Resolves once the page is loaded and MathJax (if the page has it) has typeset it. Pages without
# MathJax, or whose MathJax script failed to load, resolve at once.
WAIT_JS = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const mj = window.MathJax;
  if (document.readyState === "complete" && mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(() => done("typeset"), (e) => done("MathJax failed: " + e));
  } else if (document.readyState === "complete" && Date.now() - start > 300) {
    done(mj && mj.startup ? "MathJax did not start" : "no MathJax");
  } else if (Date.now() - start > 20000) {
    done("timeout: readyState " + document.readyState);
  } else {
    setTimeout(poll, 25);
  }
})();
"""

# Resolves when every <img> has finished loading or failing (after the window was resized, lazy
# images included), or after 10 s.
IMAGES_JS = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const pending = [...document.images].filter((img) => !img.complete).length;
  if (pending === 0 || Date.now() - start > 10000) done(pending);
  else setTimeout(poll, 25);
})();
"""

# Everything the browser checks on one page; see test_browser.py for what each entry means.
CHECK_JS = r"""
const snippet = (el) => (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim()
  .slice(0, 80);
const describe = (el) => el.tagName.toLowerCase() + (el.classList.length ?
  "." + [...el.classList].slice(0, 2).join(".") : "");
const visible = (el) => el.getClientRects().length > 0 &&
  getComputedStyle(el).visibility !== "hidden";
const out = {images: [], untypeset: [], raw_tex: [], raw_roles: [], too_wide: [],
             claims: null};

for (const img of document.images) {
  if (!(img.complete && img.naturalWidth > 0)) {
    out.images.push(img.getAttribute("src") || img.currentSrc || "(no src)");
  }
}

for (const el of document.querySelectorAll(".math")) {
  if (!el.querySelector("mjx-container")) out.untypeset.push(describe(el) + " " +
    JSON.stringify(snippet(el) || el.textContent.trim().slice(0, 80)));
}

const article = document.querySelector("article.bd-article") ||
  document.querySelector("main") || document.body;
const skip = "pre, code, script, style, noscript, textarea, mjx-container, .math";
const tex = /\\\(|\\\[|\$\$|\\mathcal/;
const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const m = node.data.match(tex);
  const parent = node.parentElement;
  if (!m || !parent || parent.closest(skip) || !visible(parent)) continue;
  const at = Math.max(0, m.index - 30);
  out.raw_tex.push(describe(parent) + " " +
    JSON.stringify(node.data.slice(at, at + 80).replace(/\s+/g, " ").trim()));
}

// A MyST role left as text (a glued value that was not pasted, a reference not resolved).
const role = /\{(glue(:\w+)?|doc|ref|numref|eq|cite(:\w+)?)\}/;
const roles = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
for (let node = roles.nextNode(); node; node = roles.nextNode()) {
  const parent = node.parentElement;
  if (!parent || parent.closest("script, style") || !role.test(node.data)) continue;
  out.raw_roles.push(describe(parent) + " " + JSON.stringify(snippet(parent)));
}

const blocks = [...document.querySelectorAll(
  "div.cell_output, div.cell_output pre, div.cell_output table, div.cell_output div.output, " +
  "article pre")];
const wide = blocks.filter((el) => el.scrollWidth > el.clientWidth + 1);
for (const el of wide) {
  if (wide.some((other) => other !== el && el.contains(other))) continue;  // innermost only
  out.too_wide.push({what: describe(el), text: snippet(el), scroll: el.scrollWidth,
                     client: el.clientWidth});
}

const claims = document.querySelector(".memlib-claims");
if (claims) {
  out.claims = {tag: claims.tagName.toLowerCase(),
                table: claims.tagName === "TABLE" || !!claims.querySelector("table"),
                links: [...claims.querySelectorAll("a[href]")].map((a) => a.href)};
}
return out;
"""


def screenshot(driver, path: Path) -> int:
    """A full-page screenshot at WIDTH px: the window grows to the document's height (at most
    MAX_HEIGHT) first. Returns the height."""
    height = driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"
    )
    height = max(1, min(int(height), MAX_HEIGHT))
    size = driver.get_window_size()
    inner = driver.execute_script("return window.innerHeight")
    driver.set_window_size(size["width"], height + size["height"] - inner)
    driver.execute_async_script(IMAGES_JS)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return height


# --- the report -----------------------------------------------------------------------------

PER_KIND = 8  # problems of one kind shown per page; the rest are counted


def report(problems: dict[str, list[tuple[str, str]]], n_pages: int) -> str:
    """One readable message: page by page, problems grouped by kind."""
    bad = {page: items for page, items in problems.items() if items}
    total = sum(len(items) for items in bad.values())
    counts: dict[str, int] = {}
    for items in bad.values():
        for kind, _ in items:
            counts[kind] = counts.get(kind, 0) + 1
    lines = [
        f"{total} problem(s) on {len(bad)} of {n_pages} page(s) of the book at {WIDTH} px "
        f"({', '.join(f'{kind}: {n}' for kind, n in counts.items())}):"
    ]
    for page, items in bad.items():
        lines.append(f"\n{page}")
        kinds: dict[str, list[str]] = {}
        for kind, text in items:
            kinds.setdefault(kind, []).append(text)
        for kind, texts in kinds.items():
            for text in texts[:PER_KIND]:
                lines.append(f"  [{kind}] {text}")
            if len(texts) > PER_KIND:
                lines.append(f"  [{kind}] ... and {len(texts) - PER_KIND} more")
    return "\n".join(lines)
