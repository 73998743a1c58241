"""Offline Leaflet assets of the interactive maps.

folium loads Leaflet, jQuery, Bootstrap, Font Awesome and more from CDNs by
default, which leaves the map blank without internet.  The maps here use
Leaflet only, served from the site itself: :func:`asset_files` lists the files
(taken from the ``XStatic-Leaflet`` package), the Sphinx extension
:mod:`nqpf_helpers.sphinx_maps` copies them to ``_static/nqpf-maps/`` of a
built book, and :func:`nqpf_helpers.maps.interactive.save_map` copies them next to a
standalone HTML file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .._files import replace_atomically
from ..errors import MissingDependencyError

__all__ = ["ASSET_DIRNAME", "DEFAULT_ASSET_BASE", "INLINE", "asset_files", "copy_assets"]

#: :mod:`nqpf_helpers.sphinx_maps`.  A map in a notebook is an ``<iframe
#: srcdoc=...>``, whose relative URLs resolve against the chapter's URL.
DEFAULT_ASSET_BASE = "../_static/nqpf-maps"
#: ``asset_base=INLINE`` writes Leaflet into the map's HTML itself (about
#: 150 kB more per map): for maps shown in a live notebook (Jupyter, Binder),
#: where no site serves the assets.
INLINE = "inline"
#: Folder created next to a file written by :func:`nqpf_helpers.maps.interactive.save_map`.
ASSET_DIRNAME = "nqpf-maps-assets"


def asset_files() -> dict[str, Path]:
    """Every JS/CSS/image file the interactive maps load, by relative URL path.

    Returns
    -------
    dict of str to pathlib.Path
        Keys are paths relative to the asset base (``"leaflet/leaflet.js"``,
        ``"leaflet/leaflet.css"``, ``"leaflet/images/layers.png"``, ...),
        values the files installed by the ``XStatic-Leaflet`` package.

    Raises
    ------
    MissingDependencyError
        If ``XStatic-Leaflet`` is not installed (``pip install XStatic-Leaflet``).
    """
    try:
        from xstatic.pkg import leaflet
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise MissingDependencyError(
            "The offline map assets come from the XStatic-Leaflet package; install it with "
            "`pip install XStatic-Leaflet` (it is a dependency of nqpf-helpers)."
        ) from exc
    base = Path(leaflet.BASE_DIR)
    files = {"leaflet/leaflet.js": base / "leaflet.js", "leaflet/leaflet.css": base / "leaflet.css"}
    # leaflet.css points at images/ for the layer switcher and default markers.
    for image in sorted((base / "images").glob("*.png")):
        files[f"leaflet/images/{image.name}"] = image
    return files


def copy_assets(dest: str | os.PathLike[str]) -> list[Path]:
    """Copy :func:`asset_files` into ``dest`` (created if needed), keeping their relative paths.

    Each file is written to a temporary name and renamed, so a reader never
    sees a half-copied file.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    dest = Path(dest)
    written = []
    for rel, src in asset_files().items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with replace_atomically(target) as tmp:
            shutil.copyfile(src, tmp)
        written.append(target)
    return written


def _inline_assets() -> str:
    import base64

    files = asset_files()
    css = files["leaflet/leaflet.css"].read_text(encoding="utf-8")
    for rel, path in files.items():
        if rel.startswith("leaflet/images/"):
            uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
            css = css.replace(rel.removeprefix("leaflet/"), uri)
    js = files["leaflet/leaflet.js"].read_text(encoding="utf-8")
    # "</script" inside the element would end it early; "<\/script" is the same in JS.
    js = js.replace("</script", "<\\/script")
    return f"<style>{css}</style>\n<script>{js}</script>"


def _asset_urls(asset_base: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    base = asset_base.rstrip("/")
    return [("leaflet", f"{base}/leaflet/leaflet.js")], [("leaflet_css", f"{base}/leaflet/leaflet.css")]
