"""The book build's execution cache as the one source of truth for chapter execution.

``jupyter-book build`` (myst-nb, ``execute_notebooks: cache``) stores each chapter's
executed notebook in ``_build/.jupyter_cache`` (jupyter-cache), keyed by a hash of the
notebook's code cells and kernelspec.  :func:`cache_status` finds the entry for a
chapter's *current* source and says whether it can stand for a fresh run:

- ``"cached"``: an execution of exactly this source with the current ``nqpf_helpers``
  (the cache key does not cover the package, so an entry made with another version of
  the library is not trusted).  ``.ci/build-book`` (``make book``) notes the package's
  content hash (:func:`nqpf_helpers.cache.package_fingerprint`) for every execution it
  caches (:func:`record_fingerprints`), and that hash is compared with the current
  one; for an execution without a note (e.g. a plain ``jupyter-book build``) the
  execution must be newer than every file of the package;
- ``"stale"``: an execution of this source exists, but the package changed since;
- ``"failed"``: the last execution of this file recorded a traceback and no
  successful execution of the current source exists;
- ``"not cached"``: nothing usable.

Used by tests/test_chapters.py (re-run only what is not ``"cached"``) and by
.ci/chapter-times (the per-chapter timings after ``make book``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml


def _toc_files(node) -> list[str]:
    files = []
    if isinstance(node, dict):
        if "file" in node:
            files.append(node["file"])
        if "root" in node:
            files.append(node["root"])
        for value in node.values():
            if isinstance(value, (list, dict)):
                files.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            files.extend(_toc_files(item))
    return files


def notebook_pages(root: Path) -> list[Path]:
    """The pages of ``_toc.yml`` that are notebooks (MyST markdown with a kernelspec)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages = []
    for name in _toc_files(toc):
        path = root / f"{name}.md"
        assert path.exists(), f"_toc.yml lists {name} but {path} does not exist"
        text = path.read_text(encoding="utf-8")
        if text.startswith("---") and "kernelspec:" in text.split("---", 2)[1]:
            pages.append(path)
    return pages


def package_mtime(root: Path) -> float:
    """Newest modification time of any file of the package (its code and package data)."""
    files = [p for p in (root / "nqpf_helpers").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return max(p.stat().st_mtime for p in files)


FINGERPRINTS = "package-fingerprints.json"  # in the execution cache folder: {record id: package hash}


def current_fingerprint(root: Path) -> str:
    """Content hash of the project's ``nqpf_helpers`` folder (the package the chapters import)."""
    from nqpf_helpers.cache import package_fingerprint

    return package_fingerprint(root / "nqpf_helpers")


def recorded_fingerprints(cache_path: Path) -> dict[int, str]:
    """The package hash noted for each cached execution, by jupyter-cache record id."""
    try:
        return {int(pk): str(fp) for pk, fp in json.loads((cache_path / FINGERPRINTS).read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def record_fingerprints(cache_path: Path, fingerprint: str, since: datetime) -> int:
    """Note ``fingerprint`` as the package of every execution cached at or after ``since`` (UTC).

    Called by ``.ci/build-book`` after a build during which the package did not change.
    Notes of records no longer in the cache are dropped.  Returns the number of executions
    noted.
    """
    from jupyter_cache import get_cache

    if not (cache_path / "global.db").is_file():
        return 0
    since = since.astimezone(UTC).replace(tzinfo=None)  # jupyter-cache stores naive UTC
    records = get_cache(cache_path).list_cache_records()
    present = {r.pk for r in records}
    notes = {pk: fp for pk, fp in recorded_fingerprints(cache_path).items() if pk in present}
    new = [r.pk for r in records if r.created >= since]
    notes.update({pk: fingerprint for pk in new})
    tmp = cache_path / f".{FINGERPRINTS}.{os.getpid()}"
    tmp.write_text(json.dumps({str(pk): fp for pk, fp in sorted(notes.items())}, indent=1))
    tmp.replace(cache_path / FINGERPRINTS)
    return len(new)


@dataclass(frozen=True)
class CacheStatus:
    """What the execution cache holds for one chapter."""

    state: str  # "cached", "stale", "failed" or "not cached"
    seconds: float | None = None
    created: datetime | None = None
    notebook: object | None = None  # the executed nbformat notebook when state == "cached"
    traceback: str | None = None


def read_as_myst_nb(page: Path):
    """Read a chapter the way myst-nb does, so its hash is the one the book build cached it under."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(page.read_text(encoding="utf-8"), path=page)


def cache_status(
    page: Path, cache_path: Path, *, newer_than: float | None = None, fingerprint: str | None = None
) -> CacheStatus:
    """Look up the cached execution of ``page``'s current source in ``cache_path``.

    An execution with a noted package hash (:func:`record_fingerprints`) is trusted when
    that hash equals ``fingerprint`` (default: :func:`current_fingerprint` of the project
    that holds ``page``); one without a note when it postdates ``newer_than`` (a POSIX
    time, default: :func:`package_mtime` of that project).
    """
    if not (cache_path / "global.db").is_file():
        return CacheStatus("not cached")
    try:
        from jupyter_cache import get_cache
    except ImportError:  # pragma: no cover - jupyter-cache comes with jupyter-book
        return CacheStatus("not cached")
    cache = get_cache(cache_path)
    notebook = read_as_myst_nb(page)
    try:
        record = cache.match_cache_notebook(notebook)
    except KeyError:
        failed = [r for r in cache.list_project_records() if Path(r.uri) == page.resolve() and r.traceback]
        if failed:
            return CacheStatus("failed", traceback=failed[-1].traceback)
        return CacheStatus("not cached")
    created = record.created.replace(tzinfo=UTC)  # jupyter-cache stores naive UTC
    seconds = (record.data or {}).get("execution_seconds")
    project = page.resolve().parent.parent
    noted = recorded_fingerprints(cache_path).get(record.pk)
    if noted is not None:
        trusted = noted == (fingerprint if fingerprint is not None else current_fingerprint(project))
    else:
        trusted = created.timestamp() >= (newer_than if newer_than is not None else package_mtime(project))
    if not trusted:
        return CacheStatus("stale", seconds=seconds, created=created)
    executed = cache.get_cache_bundle(record.pk).nb
    return CacheStatus("cached", seconds=seconds, created=created, notebook=executed)


def error_outputs(notebook) -> list[str]:
    """``"ename: evalue"`` of every error output in an executed notebook."""
    return [
        f"{out.get('ename')}: {out.get('evalue')}"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


def unexecuted_cells(notebook) -> int:
    """Number of code cells without an execution count (never run)."""
    return sum(
        1 for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip() and cell.execution_count is None
    )
