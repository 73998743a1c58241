"""Sphinx extension: serve the interactive maps' Leaflet files from the built site.

Chapters embed folium maps whose scripts and styles point at
``../_static/nqpf-maps/`` (see :data:`nqpf_helpers.maps.assets.DEFAULT_ASSET_BASE`).
This extension copies :func:`nqpf_helpers.maps.assets.asset_files` there after an
HTML build, so the maps need no CDN.  It also removes the notice that folium
(through branca) writes above every map asking Jupyter users to trust the
notebook: on a web page the map loads without it, and the notice only
confuses readers.  Enable it in ``_config.yml``::

    sphinx:
      extra_extensions:
        - nqpf_helpers.sphinx_maps
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: Folder of the assets inside the HTML output's ``_static``.
STATIC_SUBDIR = "nqpf-maps"


#: The notice branca puts above each map in a notebook (``->`` may arrive HTML-escaped).
_TRUST_NOTICE = re.compile(
    r'<span style="color:\s*#565656;?">\s*Make this Notebook Trusted to load map:'
    r"\s*File\s*(?:->|-&gt;)\s*Trust Notebook\s*</span>"
)


def strip_trust_notice(html: str) -> str:
    """Remove folium's notebook-trust notices (the grey span above each map) from a page's HTML.

    Parameters
    ----------
    html
        HTML of a page or of one output.

    Returns
    -------
    str
        The same HTML without the notices; everything else, the maps included, is unchanged.
    """
    return _TRUST_NOTICE.sub("", html)


def remove_trust_notice(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """``html-page-context`` handler: strip the notebook-trust notice from the page body."""
    body = context.get("body")
    if isinstance(body, str) and "Trust Notebook" in body:
        context["body"] = strip_trust_notice(body)


def copy_map_assets(app: Any, exception: BaseException | None) -> None:
    """``build-finished`` handler: copy the map assets into ``<outdir>/_static/nqpf-maps``."""
    if exception is not None or getattr(app.builder, "format", None) != "html":
        return
    from .maps import copy_assets

    copy_assets(Path(app.outdir) / "_static" / STATIC_SUBDIR)


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    app.connect("build-finished", copy_map_assets)
    app.connect("html-page-context", remove_trust_notice)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
