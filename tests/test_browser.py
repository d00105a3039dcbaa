"""The built HTML book in a real browser: Debian's headless Chromium, driven by selenium through
/usr/bin/chromedriver, reading `_build/html` over HTTP from 127.0.0.1 at 1280 px.

Every page of the book must load without a console error, with every local file it references
present, its math typeset by MathJax (no raw TeX left), no MyST role left as text (a glued value
not pasted), and every cell output and code block within its column; the landing page must hold the
claims table, one link per claim notebook. A full-page screenshot of every page goes to
`_build/screenshots/`. `make browser` builds the HTML and runs this test; `make unit` leaves it out
(marker `browser`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from urllib.parse import urldefrag

import browser_pages as bp
import pytest

from memlib.params import NOTEBOOKS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium and chromedriver, installed with apt-get once per session if missing."""
    reason = bp.install_chromium()
    if reason:
        pytest.skip(f"no headless Chromium: {reason}")
    return bp.CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium, tmp_path_factory):
    driver = bp.start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


def test_book_in_browser(request):
    if not (HTML / "index.html").is_file():  # before Chromium is installed or started
        pytest.fail(f"{HTML / 'index.html'} does not exist: run `make html` first", pytrace=False)
    browser = request.getfixturevalue("browser")
    t0 = time.perf_counter()
    pages = bp.book_pages(HTML)
    redirects = {p: bp.redirect_target(HTML, p) for p in pages}
    redirects = {p: target for p, target in redirects.items() if target}
    pages = [p for p in pages if p not in redirects]
    problems: dict[str, list[tuple[str, str]]] = {p: [] for p in [*redirects, *pages]}
    for page, target in redirects.items():  # index.html: only where it sends the reader
        if target not in pages:
            problems[page].append(
                ("missing file", f"redirects to {target}, not a page of the book")
            )
    by_name = {Path(p).name: p for p in pages}
    landing = redirects.get("index.html") or by_name.get("intro.html")
    if landing not in pages:
        problems.setdefault("index.html", []).append(
            ("claims", f"no landing page (index.html redirects to {landing})")
        )

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    browser.get_log("browser")  # start from an empty console log
    window = browser.get_window_size()
    with bp.serve(HTML) as base:
        for page in pages:
            found = problems[page]
            found += [("missing file", text) for text in bp.missing_references(HTML, page)]
            try:
                browser.set_window_size(window["width"], window["height"])
                browser.get(base + page)
                state = browser.execute_async_script(bp.WAIT_JS)
                if state.startswith(("timeout", "MathJax failed")):
                    found.append(("load", state))
                bp.screenshot(browser, (SCREENSHOTS / page).with_suffix(".png"))
                result = browser.execute_script(bp.CHECK_JS)
            except Exception as e:  # a page that breaks the driver: report it, go on
                found.append(("load", f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"))
                continue
            finally:
                found += [("console", text) for text in _console_errors(browser, base)]
                # The next page is a first visit too (the theme keeps its mode in localStorage).
                browser.execute_script("localStorage.clear(); sessionStorage.clear();")
            found += [
                ("broken image", f"<img src={src!r}> has no pixels (naturalWidth 0)")
                for src in result["images"]
            ]
            found += [("raw TeX", f"not typeset by MathJax: {t}") for t in result["untypeset"]]
            found += [("raw TeX", f"TeX in the text: {t}") for t in result["raw_tex"]]
            found += [("raw MyST", f"a role left as text: {t}") for t in result["raw_roles"]]
            found += [
                (
                    "too wide",
                    f"{w['what']} is {w['scroll']} px wide in a {w['client']} px column: "
                    f"{w['text']!r}",
                )
                for w in result["too_wide"]
            ]
            if page == landing:
                found += _claims_table(result["claims"], base, by_name)

    print(
        f"\nbrowser: {len(pages)} pages in {time.perf_counter() - t0:.1f} s; "
        f"screenshots in {SCREENSHOTS}"
    )
    if any(problems.values()):
        pytest.fail(bp.report(problems, len(problems)), pytrace=False)


def _console_errors(browser, base: str) -> list[str]:
    """SEVERE console messages since the last call, the server's address shortened to `/`. The
    browser's own request for /favicon.ico (no page asks for it) is not the book's."""
    return [
        entry["message"].replace(base, "/")
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and not entry["message"].startswith(base + "favicon.ico ")
    ]


def _claims_table(claims, base: str, by_name: dict[str, str]) -> list[tuple[str, str]]:
    """The landing page's table (class memlib-claims) must link every claim notebook's page."""
    if claims is None:
        return [("claims", "no element with class memlib-claims (the table of the claims)")]
    found = []
    if not claims["table"]:
        found.append(("claims", f"the memlib-claims element is a <{claims['tag']}>, not a table"))
    links = {urldefrag(href).url for href in claims["links"]}
    for name in NOTEBOOKS:
        page = by_name.get(f"{name}.html")
        if page is None:
            found.append(("claims", f"claim {name}: no page {name}.html in the build"))
        elif base + page not in links:
            found.append(("claims", f"claim {name}: the claims table has no link to {page}"))
    return found
