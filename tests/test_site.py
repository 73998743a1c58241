"""The built site: complete, relative, downloadable, publishable on GitHub Pages.

These tests read the HTML that ``make book`` (or ``make book-strict``) wrote to
``_build/html``, or to ``$NQPF_BUILD_DIR``. Without a build they are skipped,
unless ``NQPF_REQUIRE_BUILD=1`` (CI), where a missing build is a failure.
The citation-metadata tests at the top need no build.
"""

from __future__ import annotations

import json
import os
import pkgutil
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("NQPF_BUILD_DIR", ROOT / "_build" / "html")).resolve()
PAPER_DOI = "10.1080/13504851.2025.2458703"
# Pages whose figures must be numbered, captioned and cited from the text.
FIGURE_CHAPTERS = sorted(f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("[0-9][0-9]_*.md"))
# Every chapter is a lesson: objectives, prerequisites, run time, exercises with folded solutions, a summary.
EXERCISE_CHAPTERS = FIGURE_CHAPTERS


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _toc_files(node) -> list[str]:
    if isinstance(node, dict):
        found = [node[k] for k in ("root", "file") if k in node]
        return found + [f for v in node.values() if isinstance(v, (dict, list)) for f in _toc_files(v)]
    if isinstance(node, list):
        return [f for item in node for f in _toc_files(item)]
    return []


def toc_pages() -> list[str]:
    return _toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))


def is_notebook_page(docname: str) -> bool:
    source = ROOT / f"{docname}.md"
    if not source.exists():
        return False  # test_every_toc_page_was_built reports it
    text = source.read_text(encoding="utf-8")
    return text.startswith("---") and "kernelspec:" in text.split("---", 2)[1]


def public_modules() -> list[str]:
    """Public modules of the package as they are in the source tree now (and those of its subpackages)."""
    names = []
    for m in pkgutil.iter_modules([str(ROOT / "nqpf_helpers")]):
        if m.name.startswith("_"):
            continue
        names.append(f"nqpf_helpers.{m.name}")
        if m.ispkg:
            names += [
                f"nqpf_helpers.{m.name}.{s.name}"
                for s in pkgutil.iter_modules([str(ROOT / "nqpf_helpers" / m.name)])
                if not s.name.startswith("_")
            ]
    return sorted(names)


class _Page(HTMLParser):
    """Links, element ids and the classes of every element of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        self.elements.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if key in a:
                self.links.append((tag, key, a[key]))

    def with_class(self, name: str) -> list[dict[str, str]]:
        return [a for _, a in self.elements if name in a.get("class", "").split()]


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def is_external(url: str) -> bool:
    return bool(urlsplit(url).scheme) or url.startswith("//")


def resolve(page: Path, url: str) -> Path:
    return (page.parent / unquote(urlsplit(url).path)).resolve()


@pytest.fixture(scope="module")
def build() -> Path:
    if not (BUILD / "index.html").exists():
        message = f"build the book first: make book (no {BUILD / 'index.html'})"
        if os.environ.get("NQPF_REQUIRE_BUILD") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return BUILD


def html_of(build: Path, docname: str) -> Path:
    path = build / f"{docname}.html"
    assert path.exists(), f"{docname} is in _toc.yml but {path} was not built"
    return path


# --------------------------------------------------------------------------- #
# Citation metadata (no build needed)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("docname", EXERCISE_CHAPTERS)
def test_chapter_source_is_a_lesson(docname):
    # Checked on the source, so it needs no build: the order a student meets the parts in.
    text = (ROOT / f"{docname}.md").read_text(encoding="utf-8")
    parts = {
        "learning objectives": text.find("```{admonition} What you will learn"),
        "prerequisites and run time": text.find("```{admonition} Before you start"),
        "exercises": text.find("\n## Exercises\n"),
        "summary": text.find("\n## Summary\n"),
    }
    missing = [name for name, at in parts.items() if at < 0]
    assert not missing, f"{docname}: missing {missing}"
    assert parts["learning objectives"] < parts["prerequisites and run time"] < parts["exercises"], docname
    first_section = text.find("\n## ")
    assert parts["prerequisites and run time"] < first_section, f"{docname}: the prerequisites come before the first section"
    before_you_start = text[parts["prerequisites and run time"]:].split("\n```\n", 1)[0]
    assert "Time to learn" in before_you_start and "Run time" in before_you_start, docname
    exercises = re.findall(r"```\{exercise\}[^\n]*\n:label: ([\w-]+)", text)
    solved = re.findall(r"```\{solution-start\} ([\w-]+)\n:class: dropdown", text)
    assert len(exercises) >= 2 and sorted(solved) == sorted(exercises), f"{docname}: {exercises} vs folded {solved}"


def test_glossary_covers_the_plain_names():
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    terms = {line.strip() for line in text.splitlines() if line and not line[0].isspace() and not line.startswith(("`", ":", "(", "#"))}
    from nqpf_helpers.forecast import PROTOCOLS

    needed = {
        "First release (30% training)", "Current release (70% training)", "Paper text, one step",
        "Paper text, recursive", "Improved (protocol)", "Flip share", "Beta convergence", "Sigma convergence",
        "In-sample year", "Super-efficiency SBM", "Known-answer test", *PROTOCOLS,
    }
    assert needed <= terms, f"glossary lacks {sorted(needed - terms)}"


def test_citation_cff_parses_and_cites_the_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "type", "version", "license", "repository-code"):
        assert cff.get(key), f"CITATION.cff: missing or empty {key!r}"
    assert all(a.get("name") or a.get("family-names") for a in cff["authors"]), "every author needs a name"
    papers = [r for r in cff.get("references", []) if r.get("doi") == PAPER_DOI]
    assert papers, f"CITATION.cff must list the original paper (doi {PAPER_DOI}) under references"
    paper = papers[0]
    assert [a["family-names"] for a in paper["authors"]] == ["Cao", "Dai"]
    assert paper["journal"] == "Applied Economics Letters" and paper["year"] == 2025


def test_repository_url_is_the_same_everywhere():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = config["repository"]["url"].rstrip("/")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["repository-code"].rstrip("/") == url, "change repository.url in _config.yml and CITATION.cff together"
    assert url in (ROOT / "README.md").read_text(encoding="utf-8"), "README must say where the repository is published"


def test_readme_and_intro_cite_the_paper():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Citing" in readme and PAPER_DOI in readme and "CITATION.cff" in readme
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert "{cite:t}`cao2025`" in intro and PAPER_DOI in intro


# --------------------------------------------------------------------------- #
# The built site
# --------------------------------------------------------------------------- #
def test_every_toc_page_was_built(build):
    for docname in toc_pages():
        html_of(build, docname)


def test_nojekyll(build):
    # Without it GitHub Pages runs Jekyll, which drops _static/, _sources/ and _images/.
    assert (build / ".nojekyll").exists()


def test_no_notebook_trust_notice(build):
    # folium writes it for Jupyter; nqpf_helpers.sphinx_maps strips it from the pages
    pages = [p.relative_to(build).as_posix() for p in build.rglob("*.html") if "Make this Notebook Trusted" in p.read_text(encoding="utf-8")]
    assert not pages, f"pages still show folium's 'Make this Notebook Trusted' notice: {pages}"


#: Largest HTML page the site may serve (issue 11): a reader on a slow line
#: should not wait for tens of MB of map data.
MAX_PAGE_MB = 1.5


def test_no_page_above_the_size_limit(build):
    pages = [p for p in build.rglob("*.html") if not p.relative_to(build).as_posix().startswith("_static/")]
    assert pages, "no HTML page in the build"
    sizes = {p.relative_to(build).as_posix(): p.stat().st_size / 1e6 for p in pages}
    heavy = {name: round(mb, 2) for name, mb in sizes.items() if mb > MAX_PAGE_MB}
    assert not heavy, f"pages above {MAX_PAGE_MB} MB (make their maps lighter or split them): {heavy}"


def test_no_absolute_local_paths(build):
    markers = sorted({str(ROOT), str(BUILD), "/work/", "/tmp/", "/home/", "/root/"})
    offenders = []
    for path in build.rglob("*"):
        if not path.is_file() or path.suffix in {".png", ".jpg", ".svg", ".woff", ".woff2", ".ttf", ".eot", ".ico", ".pdf"}:
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        rel = path.relative_to(build).as_posix()
        hits = [m for m in markers if m in text]
        # MathJax's vendored data carry file:// URIs of its authors' machine; anything else must not.
        if "file://" in text and not rel.startswith("_static/mathjax/"):
            hits.append("file://")
        if hits:
            offenders.append(f"{rel}: {hits}")
    assert not offenders, "absolute local paths in the site:\n" + "\n".join(offenders[:20])


def test_internal_links_are_relative_and_resolve(build):
    problems = []
    for page in build.rglob("*.html"):
        rel = page.relative_to(build).as_posix()
        if rel.startswith("_static/"):
            continue  # the themes' Jinja macro files, not pages
        for tag, key, url in parse(page).links:
            if not url or url.startswith("#") or is_external(url):
                continue
            if url.startswith("/"):
                problems.append(f"{rel}: root-relative {key}={url!r} breaks under a sub-path")
            elif not resolve(page, url).exists():
                problems.append(f"{rel}: <{tag} {key}={url!r}> points to a missing file")
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("docname", [d for d in toc_pages() if is_notebook_page(d)])
def test_chapter_offers_its_notebook(build, docname):
    page = html_of(build, docname)
    links = [url for _, key, url in parse(page).links if key == "href" and url.split("?")[0].endswith(".ipynb")]
    local = [u for u in links if not is_external(u)]
    assert local, f"{docname}: no .ipynb download link (launch_buttons must be configured in _config.yml)"
    notebook = json.loads(resolve(page, local[0]).read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code and any(c.get("outputs") for c in code), f"{docname}: the downloadable notebook has no outputs"
    binder = [u for _, _, u in parse(page).links if "mybinder.org/v2/" in u]
    assert binder, f"{docname}: no Binder launch link"


def test_back_matter_pages(build):
    glossary = parse(html_of(build, "book/glossary"))
    assert len(glossary.with_class("glossary")) == 1 and len([t for t, _ in glossary.elements if t == "dt"]) >= 5
    bibliography = html_of(build, "book/bibliography").read_text(encoding="utf-8")
    assert "Cao" in bibliography and "Applied Economics Letters" in bibliography


def test_api_page_documents_every_public_module(build):
    page = parse(html_of(build, "book/api"))
    missing = [m for m in public_modules() if f"module-{m}" not in page.ids]
    assert not missing, f"API page lacks {missing}: rebuild the book (book/_ext/nqpf_api.py lists modules at build time)"
    functions = [a for a in page.with_class("function")]
    assert len(functions) >= 20, "the API page should document the package's functions"
    # each object is documented once, in the module that defines it (re-exports are excluded)
    assert "nqpf_helpers.sbm.panel.sbm" in page.ids and "nqpf_helpers.validate.validate_panel" in page.ids
    assert "nqpf_helpers.sbm.sbm" not in page.ids and "nqpf_helpers.pipeline.InputError" not in page.ids


@pytest.mark.parametrize("docname", FIGURE_CHAPTERS)
def test_figures_numbered_captioned_and_referenced(build, docname):
    path = html_of(build, docname)
    page = parse(path)
    figures = [a for t, a in page.elements if t == "figure" and a.get("id", "").startswith("fig-")]
    assert len(figures) >= 2, f"{docname}: expected numbered figures with a name (fig-...)"
    chapter = int(Path(docname).name[:2])
    numbers_ok = all(n.startswith(f"Fig. {chapter}.") for n in re.findall(r'<span class="caption-number">(Fig\. [\d.]+) </span>', path.read_text(encoding="utf-8")))
    assert numbers_ok, f"{docname}: figures should be numbered within chapter {chapter} (Fig. {chapter}.n)"
    text = path.read_text(encoding="utf-8")
    numbers = re.findall(r'<span class="caption-number">(Fig\. [\d.]+) </span>', text)
    assert len(numbers) == len(figures) and len(set(numbers)) == len(numbers), f"{docname}: {numbers}"
    referenced = {unquote(urlsplit(url).fragment) for _, key, url in page.links if key == "href" and "#fig-" in url}
    unreferenced = [f["id"] for f in figures if f["id"] not in referenced]
    assert not unreferenced, f"{docname}: figures never cited with {{numref}}: {unreferenced}"


@pytest.mark.parametrize("docname", EXERCISE_CHAPTERS)
def test_exercises_with_hidden_solutions(build, docname):
    page = parse(html_of(build, docname))
    exercises = page.with_class("exercise")
    solutions = page.with_class("solution")
    assert len(exercises) >= 2, f"{docname}: expected at least two exercises"
    assert len(solutions) == len(exercises), f"{docname}: every exercise needs a solution"
    folded = [s for s in solutions if "dropdown" in s.get("class", "").split()]
    assert folded == solutions, f"{docname}: solutions must be hidden (:class: dropdown)"


def test_api_page_generator_lists_modules_from_the_package():
    # The extension that fills book/api.md, checked without a build.
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import nqpf_api
    finally:
        sys.path.pop(0)
    modules = nqpf_api.public_modules()
    assert modules == public_modules()
    names = nqpf_api.top_level_names()
    page = nqpf_api.api_markdown(modules, names)
    for module in modules:
        assert f".. automodule:: {module}\n" in page and f"## `{module}`" in page
    assert page.count("```") % 2 == 0, "unbalanced code fences in the generated page"
    # the page opens with what nqpf_helpers.__all__ re-exports, each linked to where it is defined
    import nqpf_helpers

    listed = {name for name, _ in names}
    assert listed == {n for n in nqpf_helpers.__all__ if n not in nqpf_helpers.SUBMODULES and n != "__version__"}
    assert "| `coverage` | {py:obj}`nqpf_helpers.data.coverage` |" in page
    assert "| `NQPFError` | {py:obj}`nqpf_helpers.errors.NQPFError` |" in page


def test_no_bibliography_key_is_defined_twice():
    # sphinxcontrib-bibtex warns (and the strict build fails) on a key repeated across .bib files
    keys = []
    for bib in sorted((ROOT / "book").glob("*.bib")):
        keys += re.findall(r"^@\w+\{([^,\s]+),", bib.read_text(encoding="utf-8"), flags=re.M)
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    assert not repeated, f"bibliography keys defined more than once: {repeated}"


def test_no_glossary_term_is_defined_twice():
    # Sphinx warns (and the strict build fails) on a duplicate term description
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms = [line.strip() for line in body.splitlines() if line.strip() and not line[0].isspace()]
    repeated = sorted({t for t in terms if terms.count(t) > 1})
    assert not repeated, f"glossary terms defined more than once: {repeated}"
