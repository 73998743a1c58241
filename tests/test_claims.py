"""Claims of the plain-markdown pages, checked against their sources.

Chapters guard their claims with build-time asserts; the introduction has no
code cells, so its factual claims are guarded here. The source check needs no
build; the built-page check runs when ``_build/html`` (or ``$NQPF_BUILD_DIR``)
exists, like tests/test_site.py; the comparison with the paper needs the text
of Cao & Dai (2025) in ../shared/seeds (or ``$NQPF_SEEDS_DIR``) and is skipped
only when that folder is absent.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("NQPF_BUILD_DIR", ROOT / "_build" / "html")).resolve()

#: Claim 16 of issue 11: the first use of the phrase by China's leadership.
FIRST_USE = dt.date(2023, 9, 7)
FIRST_USE_PLACE = "Heilongjiang"


def seeds_dirs() -> list[Path]:
    """Where the source texts may be: $NQPF_SEEDS_DIR, ../shared/seeds, or next to the offline data."""
    candidates = [os.environ.get("NQPF_SEEDS_DIR", ""), ROOT.parent / "shared" / "seeds"]
    if os.environ.get("NQPF_DATA_DIR"):
        candidates.append(Path(os.environ["NQPF_DATA_DIR"]).parent / "seeds")
    return [Path(c) for c in candidates if c and Path(c).is_dir()]


def paper_text() -> str | None:
    for folder in seeds_dirs():
        for path in sorted(folder.glob("*.txt")):
            text = path.read_text(encoding="utf-8", errors="replace")
            if "Table A1" in text and "new quality productive forces" in text.lower():
                return text
    return None


def table_a1_rows(text: str) -> list[tuple[dt.date, str]]:
    """Dated rows of the paper's Table A1 (dates written month/day/year, as 1/31/2024 shows)."""
    start = text.rindex("Table A1.")  # the table itself, not the footnote that points to it
    rows = []
    for line in text[start:].splitlines()[1:]:
        match = re.match(r"(\d{1,2})/(\d{1,2})/(\d{4})\t(.*)", line)
        if match:
            month, day, year = (int(g) for g in match.groups()[:3])
            rows.append((dt.date(year, month, day), match.group(4)))
        elif rows and not line.strip():
            continue
        elif rows:
            break
    return rows


class _Text(HTMLParser):
    """The visible text of a page's main article (scripts and styles dropped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def opening_paragraph(markdown: str) -> str:
    body = markdown.split("\n# ", 1)[1].split("\n", 1)[1].strip()
    return " ".join(body.split("\n\n", 1)[0].split())


def test_intro_source_dates_the_first_use_to_september_2023():
    first = opening_paragraph((ROOT / "book" / "intro.md").read_text(encoding="utf-8"))
    sentence = first.split(": ", 1)[0]  # the opening sentence, up to the gloss of what NQPF means
    assert sentence.startswith("In September 2023") and FIRST_USE_PLACE in sentence, sentence
    assert "November 2023" not in sentence, "the opening must not date the concept to November 2023"
    # the parenthesis that explains why the paper's own text says November
    assert f"{FIRST_USE.day} September 2023" in first and "Table A1" in first, first


def test_built_intro_dates_the_first_use_to_september_2023():
    page = BUILD / "book" / "intro.html"
    if not page.exists():
        if os.environ.get("NQPF_REQUIRE_BUILD") == "1":
            pytest.fail(f"build the book first: make book (no {page})")
        pytest.skip(f"no build at {BUILD}")
    parser = _Text()
    parser.feed(page.read_text(encoding="utf-8"))
    text = " ".join("".join(parser.parts).split())
    assert f"In September 2023, on an inspection tour of {FIRST_USE_PLACE}" in text
    assert f"{FIRST_USE.day} September 2023" in text  # the parenthesis that explains the paper's "November"


def test_paper_table_a1_dates_the_first_use_to_7_september_2023():
    text = paper_text()
    if text is None:
        pytest.skip("the paper's text (../shared/seeds) is not available here")
    rows = table_a1_rows(text)
    assert len(rows) >= 3, "Table A1 of the paper could not be read"
    first_date, first_content = min(rows)
    assert first_date == FIRST_USE, rows
    assert FIRST_USE_PLACE in first_content
