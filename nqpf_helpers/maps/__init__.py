"""Choropleth maps of NQPF that work offline: interactive (folium) and static (matplotlib).

The package has one module per concern: :mod:`~nqpf_helpers.maps.assets`
(the offline Leaflet files), :mod:`~nqpf_helpers.maps.colour` (the shared
colour scale), :mod:`~nqpf_helpers.maps.join` (checking a frame and joining
it to boundaries), :mod:`~nqpf_helpers.maps.interactive` (folium) and
:mod:`~nqpf_helpers.maps.static` (matplotlib); every public name is
available from ``nqpf_helpers.maps`` itself.

Interactive maps are folium/Leaflet maps with one GeoJSON layer.  Each
feature carries its values and fill colours for every year, and a small
Leaflet control (a slider) restyles that single layer when the reader picks a
year, so geometry is written once however many years there are.

folium loads Leaflet, jQuery, Bootstrap, Font Awesome and more from CDNs by
default, which leaves the map blank without internet.  These maps use
Leaflet only, served from the site itself: :func:`~nqpf_helpers.maps.assets.asset_files` lists the files
(taken from the ``XStatic-Leaflet`` package), the Sphinx extension
:mod:`nqpf_helpers.sphinx_maps` copies them to ``_static/nqpf-maps/`` of a
built book, and :func:`~nqpf_helpers.maps.interactive.save_map` copies them next to a standalone HTML file.
There is no tile layer unless one is asked for, and the legend is inline SVG
(branca's colormap legend would fetch d3 from a CDN).

Colours use one scale for all years of a map (so colours compare over time),
diverging and centred on 1 for NQPF, where above or below 1 is the point.
The scale's ends are robust quantiles of the data (the published city and
county NQPF include negative and extreme values), and the legend says when
values beyond the ends are clipped.

Codes without a boundary (e.g. Laiwu 371200, merged into Jinan in 2019) are
never dropped silently: every map result (:class:`~nqpf_helpers.maps.interactive.MapResult`,
:class:`~nqpf_helpers.maps.static.StaticMapResult`) carries ``unmatched``, a table of the codes it
could not draw and why; :func:`~nqpf_helpers.maps.join.unmatched_codes` computes the same
table without drawing.
"""

from __future__ import annotations

from ..errors import MapInputError
from .assets import ASSET_DIRNAME, DEFAULT_ASSET_BASE, INLINE, asset_files, copy_assets
from .colour import ColourScale, colour_scale
from .interactive import (
    FRONTIER_LABEL,
    MapResult,
    china_choropleth,
    feature_colours,
    map_iframe,
    save_map,
    world_choropleth,
)
from .join import DEFAULT_SIMPLIFY, map_levels, unmatched_codes
from .static import StaticMapResult, static_map, static_small_multiples

__all__ = [
    "ASSET_DIRNAME",
    "FRONTIER_LABEL",
    "DEFAULT_ASSET_BASE",
    "INLINE",
    "DEFAULT_SIMPLIFY",
    "MapInputError",
    "ColourScale",
    "MapResult",
    "StaticMapResult",
    "asset_files",
    "china_choropleth",
    "colour_scale",
    "copy_assets",
    "feature_colours",
    "map_iframe",
    "map_levels",
    "save_map",
    "static_map",
    "static_small_multiples",
    "unmatched_codes",
    "world_choropleth",
]
