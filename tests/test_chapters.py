"""Smoke test: every notebook page listed in _toc.yml executes without error.

One source of truth: where the book build (``make book``) left a cached execution of a
chapter's current source in ``_build/.jupyter_cache``, newer than every file of the
package, that execution is checked (every code cell ran, no error output) instead of
running the chapter again (see tests/chapter_cache.py).  Otherwise the chapter is read
from its MyST markdown source with jupytext and run with nbclient in a scratch folder,
so a chapter that tries to write into the source tree is caught as well.  Set
``NQPF_FRESH_CHAPTERS=1`` to run every chapter afresh.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import chapter_cache
import jupytext
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
BUILD_CACHE = ROOT / "_build" / ".jupyter_cache"


def notebook_pages() -> list[Path]:
    return chapter_cache.notebook_pages(ROOT)


def _untracked_files() -> set[str]:
    # New untracked files are what a chapter saving outputs beside itself leaves behind.
    listing = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(listing.splitlines())


def test_toc_lists_every_chapter():
    listed = {p.relative_to(ROOT).as_posix() for p in notebook_pages()}
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "chapters").glob("*.md")}
    assert on_disk <= listed, f"chapters not in _toc.yml: {sorted(on_disk - listed)}"


def _fresh_only() -> bool:
    return os.environ.get("NQPF_FRESH_CHAPTERS", "").lower() in {"1", "true", "yes"}


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: p.stem)
def test_chapter_executes(page: Path, tmp_path: Path):
    notebook = jupytext.read(page)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", "chapter needs the jupytext kernelspec header"
    if not _fresh_only():
        status = chapter_cache.cache_status(page, BUILD_CACHE)
        if status.state == "cached":
            errors = chapter_cache.error_outputs(status.notebook)
            assert not errors, f"the book build's execution of {page.name} recorded errors: {errors}"
            missing = chapter_cache.unexecuted_cells(status.notebook)
            assert not missing, f"the book build's execution of {page.name} left {missing} code cell(s) unexecuted"
            return
        # stale, failed or not cached: run it afresh (a chapter that still fails fails here)
    before = _untracked_files()
    client = NotebookClient(
        notebook,
        timeout=1200,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    created = _untracked_files() - before
    assert not created, f"{page.name} wrote into the source tree: {sorted(created)}"


# --------------------------------------------------------------------------- the cache lookup itself

_TOY = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Toy

```{code-cell} ipython3
x = VALUE
x * 2
```
"""


def _toy_cache(tmp_path: Path, value: int, *, error: bool = False) -> tuple[Path, Path]:
    """A chapter and a jupyter-cache holding its execution, as myst-nb would leave them."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    page = tmp_path / "chapters" / "toy.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(_TOY.replace("VALUE", str(value)), encoding="utf-8")
    executed = chapter_cache.read_as_myst_nb(page)
    cell = executed.cells[-1]
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": str(2 * value)}, execution_count=1)]
    if error:
        cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="boom", traceback=[])]
    cache_path = tmp_path / "_build" / ".jupyter_cache"
    cache = get_cache(cache_path)
    record = cache.add_nb_to_project(str(page))
    cache.cache_notebook_bundle(CacheBundleIn(executed, record.uri, data={"execution_seconds": 1.5}),
                                check_validity=False, overwrite=True)
    return page, cache_path


def test_cache_lookup_uses_the_execution_of_the_current_source(tmp_path):
    page, cache_path = _toy_cache(tmp_path, 21)
    status = chapter_cache.cache_status(page, cache_path, newer_than=0)
    assert status.state == "cached" and status.seconds == 1.5
    assert chapter_cache.error_outputs(status.notebook) == []
    assert chapter_cache.unexecuted_cells(status.notebook) == 0
    # edited source: a new hash, no cached execution
    page.write_text(_TOY.replace("VALUE", str(22)), encoding="utf-8")
    assert chapter_cache.cache_status(page, cache_path, newer_than=0).state == "not cached"
    # prose-only edits keep the hash (the key is the code), so the execution still stands
    page.write_text(_TOY.replace("VALUE", str(21)).replace("# Toy", "# Toy, retitled"), encoding="utf-8")
    assert chapter_cache.cache_status(page, cache_path, newer_than=0).state == "cached"


def test_cache_lookup_distrusts_executions_older_than_the_package(tmp_path):
    import time

    page, cache_path = _toy_cache(tmp_path, 21)
    assert chapter_cache.cache_status(page, cache_path, newer_than=time.time() + 60).state == "stale"


def test_cached_error_outputs_are_reported(tmp_path):
    page, cache_path = _toy_cache(tmp_path, 21, error=True)
    status = chapter_cache.cache_status(page, cache_path, newer_than=0)
    assert status.state == "cached"
    assert chapter_cache.error_outputs(status.notebook) == ["ZeroDivisionError: boom"]


def test_a_recorded_failure_is_not_taken_as_success(tmp_path):
    from jupyter_cache import get_cache
    from jupyter_cache.cache.db import NbProjectRecord

    page, cache_path = _toy_cache(tmp_path, 21)
    page.write_text(_TOY.replace("VALUE", "1 / 0"), encoding="utf-8")
    cache = get_cache(cache_path)
    NbProjectRecord.set_traceback(str(page), "ZeroDivisionError: division by zero", cache.db)
    status = chapter_cache.cache_status(page, cache_path, newer_than=0)
    assert status.state == "failed" and "ZeroDivisionError" in status.traceback


def test_no_build_means_no_cache(tmp_path):
    page, _ = _toy_cache(tmp_path, 21)
    assert chapter_cache.cache_status(page, tmp_path / "nowhere", newer_than=0).state == "not cached"
    assert not (tmp_path / "nowhere").exists()


def test_a_noted_package_hash_decides_over_the_file_times(tmp_path):
    """Executions noted by .ci/build-book are trusted exactly when the package hash is unchanged."""
    import time
    from datetime import UTC, datetime, timedelta

    page, cache_path = _toy_cache(tmp_path, 21)
    assert chapter_cache.record_fingerprints(cache_path, "abc", datetime.now(UTC) + timedelta(hours=1)) == 0
    assert chapter_cache.recorded_fingerprints(cache_path) == {}
    assert chapter_cache.record_fingerprints(cache_path, "abc", datetime.now(UTC) - timedelta(hours=1)) == 1
    # same package: trusted even though every file looks newer (e.g. after a checkout)
    status = chapter_cache.cache_status(page, cache_path, newer_than=time.time() + 60, fingerprint="abc")
    assert status.state == "cached"
    # another package: not trusted even though the execution is newer than every file
    assert chapter_cache.cache_status(page, cache_path, newer_than=0, fingerprint="abd").state == "stale"
    # a damaged note file counts as no note: the file times decide again
    (cache_path / chapter_cache.FINGERPRINTS).write_text("not json")
    assert chapter_cache.cache_status(page, cache_path, newer_than=0, fingerprint="abd").state == "cached"
