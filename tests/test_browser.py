"""The built regional-results page, opened in headless Chromium, draws its maps offline.

The site is served on 127.0.0.1 from a sub-path (``/nqpf-book/``, as on GitHub
Pages), the page is opened in the system Chromium driven by Playwright (no
browser download), and the test checks that the Leaflet maps drew polygons,
that the year slider restyles them, and that no request left the machine.
The world chapter's map gets the same check.  Screenshots are saved to
``_build/screenshots/regional_map.png`` and ``world_map.png``.

Run after a book build (``make book``).  Without a build or a browser the test
is skipped with the reason, unless ``NQPF_REQUIRE_BUILD=1`` (set by
``.ci/run``), when it fails instead.  ``NQPF_BUILD_DIR`` points it at another
build's ``html`` folder and ``NQPF_CHROMIUM`` at another browser binary.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("NQPF_BUILD_DIR") or ROOT / "_build" / "html")
# page, fewest polygons its largest map must draw (one per province; most countries), screenshot name
PAGES = [
    ("chapters/05_regional_results.html", 31, "regional_map.png"),
    ("chapters/07_world.html", 140, "world_map.png"),
]
MOUNT = "/nqpf-book/"
REQUIRE = os.environ.get("NQPF_REQUIRE_BUILD") == "1"
SCREENSHOTS = BUILD.parent / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LOCAL_SCHEMES = {"data", "about", "blob"}


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (NQPF_REQUIRE_BUILD=1, so this is an error, not a skip)")
    pytest.skip(reason)


def _chromium() -> str | None:
    explicit = os.environ.get("NQPF_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class _SubPathHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site under MOUNT only, like a project page on GitHub Pages."""

    def translate_path(self, path: str) -> str:
        url_path = urlsplit(path).path
        if not url_path.startswith(MOUNT):
            return str(Path(self.directory) / "__outside_the_mount__")
        return super().translate_path("/" + url_path[len(MOUNT) :])

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    missing = [str(BUILD / name) for name, _, _ in PAGES if not (BUILD / name).is_file()]
    if missing:
        _unavailable(f"{', '.join(missing)} missing: build the book first: make book")
    handler = functools.partial(_SubPathHandler, directory=str(BUILD))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{MOUNT}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        _unavailable(
            "no Chromium found (looked for chromium, chromium-browser, google-chrome; or set NQPF_CHROMIUM). "
            "Install it, e.g. `apt-get install chromium`"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def _map_frames(page) -> list:
    return [f for f in page.frames if f.evaluate("() => typeof L !== 'undefined' && !!document.querySelector('.leaflet-container')")]


@pytest.mark.parametrize(("page_name", "min_polygons", "shot"), PAGES, ids=[Path(p).stem for p, _, _ in PAGES])
def test_maps_draw_offline(site, browser, page_name: str, min_polygons: int, shot: str):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    outside: list[str] = []
    errors: list[str] = []

    def route(route_) -> None:
        url = route_.request.url
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS:
            route_.continue_()
        else:  # record and block: the test itself must not need the internet
            outside.append(url)
            route_.abort()

    page.route("**/*", route)
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(f"console: {m.text} ({m.location.get('url', '')})") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e} {e.stack or ''}"))

    response = page.goto(site + page_name, wait_until="load", timeout=120_000)
    assert response is not None and response.ok, f"could not load {site + page_name}"
    page.wait_for_load_state("networkidle", timeout=120_000)

    frames = _map_frames(page)
    assert frames, "no Leaflet map on the page: Leaflet did not load, or the chapter embeds no interactive map"
    counts = []
    for frame in frames:
        try:
            frame.wait_for_selector("path.leaflet-interactive", state="attached", timeout=60_000)
        except PlaywrightTimeout:
            pass  # counted as 0 below, so the failure names every map
        counts.append(frame.locator("path.leaflet-interactive").count())
    print(f"polygons per map: {counts}")
    assert max(counts) >= min_polygons, counts
    assert min(counts) > 0, f"a map drew no polygon: {counts}"

    # The year slider restyles the polygons of the first map that has one.
    with_slider = [f for f in frames if f.locator("input.nqpf-year-input").count()]
    if with_slider:
        frame = with_slider[0]
        fills = "() => Array.from(document.querySelectorAll('path.leaflet-interactive'), p => p.getAttribute('fill')).join()"
        before = frame.evaluate(fills)
        frame.evaluate(
            "() => { const i = document.querySelector('input.nqpf-year-input'); i.value = 0;"
            " i.dispatchEvent(new Event('input')); }"
        )
        assert frame.evaluate(fills) != before, "moving the year slider did not recolour the map"
        frame.evaluate(
            "() => { const i = document.querySelector('input.nqpf-year-input'); i.value = i.max;"
            " i.dispatchEvent(new Event('input')); }"
        )

    frames[0].frame_element().scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / shot))
    print(f"screenshot: {SCREENSHOTS / shot}")

    assert outside == [], f"requests to outside hosts: {outside[:10]}"
    local = [u for u in requests if urlsplit(u).scheme not in LOCAL_SCHEMES]
    assert all(urlsplit(u).hostname in LOCAL_HOSTS for u in local)
    assert any(u.endswith("/_static/nqpf-maps/leaflet/leaflet.js") for u in requests), "Leaflet was not loaded from the site"
    # Errors of the theme's own scripts are not this test's business; the maps' are
    # (they run in srcdoc iframes, or in Leaflet served from the site).
    map_errors = [e for e in errors if "about:srcdoc" in e or "nqpf-maps" in e or "leaflet" in e.lower()]
    if len(map_errors) < len(errors):
        print("other errors on the page:", *sorted(set(errors) - set(map_errors)), sep="\n  ")
    assert map_errors == [], map_errors
    page.close()
