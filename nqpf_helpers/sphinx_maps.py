"""Sphinx extension: serve the interactive maps' Leaflet files from the built site.

Chapters embed folium maps whose scripts and styles point at
``../_static/nqpf-maps/`` (see :data:`nqpf_helpers.maps.DEFAULT_ASSET_BASE`).
This extension copies :func:`nqpf_helpers.maps.asset_files` there after an
HTML build, so the maps need no CDN.  Enable it in ``_config.yml``::

    sphinx:
      extra_extensions:
        - nqpf_helpers.sphinx_maps
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Folder of the assets inside the HTML output's ``_static``.
STATIC_SUBDIR = "nqpf-maps"


def copy_map_assets(app: Any, exception: BaseException | None) -> None:
    """``build-finished`` handler: copy the map assets into ``<outdir>/_static/nqpf-maps``."""
    if exception is not None or getattr(app.builder, "format", None) != "html":
        return
    from .maps import copy_assets

    copy_assets(Path(app.outdir) / "_static" / STATIC_SUBDIR)


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    app.connect("build-finished", copy_map_assets)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
