"""The Chinese report as a reader sees it: headless Chromium draws its text with the embedded glyphs.

The report of a small result with Chinese province names is written with
``lang="zh"`` and opened from disk in the system Chromium (driven by
Playwright, no browser download).  The test checks that the embedded subset of
Noto Sans CJK SC loaded (that it covers every character of the page is
checked in ``test_report.py``),
that the map drew a polygon per province offline, and saves a screenshot to
``_build/screenshots/report_zh.png``.  Without Chromium or Playwright it is
skipped with the reason (``NQPF_REQUIRE_BROWSER=1`` makes that a failure).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_report import NAMES, fake_result  # tests/ is on sys.path (rootdir-relative test modules)

from nqpf_helpers import report

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "_build" / "screenshots"
REQUIRE = os.environ.get("NQPF_REQUIRE_BROWSER") == "1"


def _chromium() -> str | None:
    explicit = os.environ.get("NQPF_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(reason)
    pytest.skip(reason)


def test_chinese_report_renders_in_a_browser(tmp_path):
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium found (apt-get install chromium, or set NQPF_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: pip install -e '.[test]'")
    out = report.write_report(fake_result(), tmp_path / "out", lang="zh")
    outside: list[str] = []

    def route(route_) -> None:
        if urlsplit(route_.request.url).scheme in ("file", "data", "about", "blob"):
            route_.continue_()
        else:
            outside.append(route_.request.url)
            route_.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.route("**/*", route)
            page.goto((out / "report.html").as_uri(), wait_until="load")
            page.evaluate("document.fonts.ready.then(() => true)")
            heading = page.inner_text("h1")
            assert heading == "新质生产力（NQPF）测算报告"
            loaded = page.evaluate(
                "() => [...document.fonts].filter(f => f.family.includes('NQPF CJK')).map(f => f.status)"
            )
            assert loaded == ["loaded"], loaded
            assert all(name in page.inner_text("table.results") for name in NAMES)
            frame = next(f for f in page.frames if f.url.endswith("map.html"))
            frame.wait_for_selector("path.leaflet-interactive", state="attached", timeout=60_000)
            assert frame.locator("path.leaflet-interactive").count() >= len(NAMES)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "report_zh.png"), full_page=True)
        finally:
            browser.close()
    assert outside == [], outside
