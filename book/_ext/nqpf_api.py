"""Sphinx extension: fill the API reference page with every public module of nqpf_helpers.

The module list is read from the installed package at build time, so a new module
appears on the page without anyone editing it. The page (``book/api.md``) holds a
marker line that this extension replaces, before parsing, with an autosummary table
and one ``automodule`` section per module.
"""

from __future__ import annotations

import importlib
import pkgutil

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

PACKAGE = "nqpf_helpers"
API_DOCNAME = "book/api"
MARKER = "<!-- nqpf-api-modules -->"


def public_modules(package: str = PACKAGE) -> list[str]:
    """Dotted names of the package's public modules (not starting with ``_``), sorted."""
    pkg = importlib.import_module(package)
    return sorted(
        f"{package}.{info.name}" for info in pkgutil.iter_modules(pkg.__path__) if not info.name.startswith("_")
    )


def api_markdown(modules: list[str]) -> str:
    """MyST markdown for the API page: a summary table, then one section per module."""
    fence = "```"
    table = "\n".join(f"   {name}" for name in modules)
    parts = [f"{fence}{{eval-rst}}\n.. autosummary::\n   :nosignatures:\n\n{table}\n{fence}\n"]
    for name in modules:
        short = name.rsplit(".", 1)[1]
        parts.append(
            f"(api-{short})=\n## `{name}`\n\n"
            f"{fence}{{eval-rst}}\n.. automodule:: {name}\n   :members:\n   :show-inheritance:\n{fence}\n"
        )
    return "\n".join(parts)


def _fill_api_page(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname != API_DOCNAME:
        return
    if MARKER not in source[0]:
        raise ExtensionError(f"{API_DOCNAME}.md must contain the line {MARKER!r} where the module reference goes")
    source[0] = source[0].replace(MARKER, api_markdown(public_modules()))


def setup(app: Sphinx) -> dict:
    app.connect("source-read", _fill_api_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
