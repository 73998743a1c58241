"""Sphinx extension: fill the API reference page with every public module of nqpf_helpers.

The module list is read from the installed package at build time, so a new module
(or subpackage, with its public submodules) appears on the page without anyone
editing it; the page opens with the names the package's ``__all__`` re-exports. The page (``book/api.md``) holds a
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
    """Dotted names of the package's public modules, sorted.

    Top-level modules and subpackages whose names do not start with ``_``, and inside
    each subpackage its public submodules (so a module split into a package, e.g.
    ``maps/``, keeps every public part on the page).
    """
    pkg = importlib.import_module(package)
    names = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        name = f"{package}.{info.name}"
        names.append(name)
        if info.ispkg:
            sub = importlib.import_module(name)
            names.extend(
                f"{name}.{s.name}" for s in pkgutil.iter_modules(sub.__path__) if not s.name.startswith("_")
            )
    return sorted(names)


def top_level_names(package: str = PACKAGE) -> list[tuple[str, str]]:
    """``(name, dotted origin)`` for every name in the package's ``__all__`` that is not a module."""
    pkg = importlib.import_module(package)
    modules = set(getattr(pkg, "SUBMODULES", []))
    return [
        (name, pkg.origin(name))
        for name in pkg.__all__
        if name not in modules and not name.startswith("__") and hasattr(pkg, "origin")
    ]


def reexported_names(module: str) -> list[str]:
    """Names in ``module.__all__`` that another module of the package defines.

    Each object is documented once, where it is defined (so cross-references have one
    target): a subpackage's ``__init__`` re-exports its submodules' names, and modules
    re-export the error classes of :mod:`nqpf_helpers.errors`.
    """
    mod = importlib.import_module(module)
    names = []
    submodules = []
    if hasattr(mod, "__path__"):
        submodules = [importlib.import_module(f"{module}.{s.name}") for s in pkgutil.iter_modules(mod.__path__)]
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name, None)
        home = getattr(obj, "__module__", None)
        if isinstance(home, str) and home.startswith(PACKAGE) and home != module and callable(obj):
            names.append(name)
        elif any(getattr(sub, name, None) is obj for sub in submodules if hasattr(sub, name)):
            names.append(name)
    return sorted(set(names))


def api_markdown(modules: list[str], names: list[tuple[str, str]] | None = None) -> str:
    """MyST markdown for the API page: the top-level names, a module table, then one section per module."""
    fence = "```"
    parts = []
    if names:
        rows = "\n".join(f"| `{name}` | {{py:obj}}`{target}` |" for name, target in names)
        parts.append(
            "## What `import nqpf_helpers` offers\n\n"
            "The package's `__all__`: its public modules (below) and these names, importable as "
            "`from nqpf_helpers import NAME` (loaded on first use, so importing the package stays cheap).\n\n"
            f"| name | defined in |\n|---|---|\n{rows}\n"
        )
    table = "\n".join(f"   {name}" for name in modules)
    parts.append(f"{fence}{{eval-rst}}\n.. autosummary::\n   :nosignatures:\n\n{table}\n{fence}\n")
    for name in modules:
        short = name.split(".", 1)[1].replace(".", "-")
        exclude = reexported_names(name)
        options = "   :members:\n   :show-inheritance:\n"
        if exclude:
            options += f"   :exclude-members: {', '.join(exclude)}\n"
        parts.append(
            f"(api-{short})=\n## `{name}`\n\n"
            f"{fence}{{eval-rst}}\n.. automodule:: {name}\n{options}{fence}\n"
        )
    return "\n".join(parts)


def _fill_api_page(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname != API_DOCNAME:
        return
    if MARKER not in source[0]:
        raise ExtensionError(f"{API_DOCNAME}.md must contain the line {MARKER!r} where the module reference goes")
    source[0] = source[0].replace(MARKER, api_markdown(public_modules(), top_level_names()))


def setup(app: Sphinx) -> dict:
    app.connect("source-read", _fill_api_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
