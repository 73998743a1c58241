"""Smoke test: every notebook page listed in _toc.yml executes without error.

Each chapter is read from its MyST markdown source with jupytext and run with
nbclient in a scratch folder, so a chapter that tries to write into the source
tree is caught as well.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import jupytext
import pytest
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


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


def notebook_pages() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = []
    for name in _toc_files(toc):
        path = ROOT / f"{name}.md"
        assert path.exists(), f"_toc.yml lists {name} but {path} does not exist"
        text = path.read_text(encoding="utf-8")
        if text.startswith("---") and "kernelspec:" in text.split("---", 2)[1]:
            pages.append(path)
    return pages


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


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: p.stem)
def test_chapter_executes(page: Path, tmp_path: Path):
    notebook = jupytext.read(page)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", "chapter needs the jupytext kernelspec header"
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
