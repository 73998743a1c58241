"""Sphinx extension: downloadable chapter notebooks keep their outputs on cached builds.

With ``execute_notebooks: cache``, myst-nb 1.4 takes the outputs of an unchanged
chapter from jupyter-cache but writes the notebook *without* them to
``jupyter_execute/``, and that file is what the theme offers as the page's
``.ipynb`` download. A clean build (``make book-strict``, CI) executes every
chapter and is not affected; a cached ``make book`` would offer empty notebooks.
This handler runs after the theme has copied the notebook to ``_sources/`` and
merges the cached outputs into the copy.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from sphinx.application import Sphinx

# The theme copies the notebook in a handler of priority 501; run after it.
_AFTER_LAUNCH_BUTTONS = 600


def _has_outputs(notebook: nbformat.NotebookNode) -> bool:
    return any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


def _restore_outputs(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    source = context.get("ipynb_source")
    if not source:
        return
    target = Path(app.outdir, "_sources", source)
    if not target.exists():
        return
    notebook = nbformat.read(target, as_version=4)
    if _has_outputs(notebook):
        return
    cache_path = Path(app.env.mystnb_config.execution_cache_path or Path(app.outdir).parent / ".jupyter_cache")
    if not cache_path.exists():
        return
    try:
        _, merged = get_cache(str(cache_path)).merge_match_into_notebook(notebook)
    except KeyError:
        return  # not in the cache: nothing to restore (tests/test_site.py reports an empty notebook)
    nbformat.write(merged, target)


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _restore_outputs, priority=_AFTER_LAUNCH_BUTTONS)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
