"""Tests for nqpf_helpers.maps: offline assets, joins, the year selector, saving, static maps."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")  # tests draw figures without a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import data, maps, regions
from nqpf_helpers.errors import OutputError
from nqpf_helpers.maps import MapInputError

# Asset references: script src, link href, CSS url() and @import.
_ASSET_REFS = [
    re.compile(r"<script[^>]*\bsrc\s*=\s*[\"']([^\"']+)", re.I),
    re.compile(r"<link[^>]*\bhref\s*=\s*[\"']([^\"']+)", re.I),
    re.compile(r"url\(\s*[\"']?([^\"')]+)", re.I),
    re.compile(r"@import\s+(?:url\()?\s*[\"']([^\"']+)", re.I),
]
_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)


def asset_refs(html: str) -> list[str]:
    return [ref for pattern in _ASSET_REFS for ref in pattern.findall(html)]


def embedded_geojson(html: str) -> dict:
    match = re.search(r"/\*nqpf-geojson\*/(.*?)/\*end-nqpf-geojson\*/", html, re.S)
    assert match, "the map's GeoJSON literal is not in the HTML"
    return json.loads(match.group(1))


def decoded_geometry(feature: dict, scale: int):
    """Rebuild a shapely geometry from a feature's integer-delta rings (as the page's JS does)."""
    import shapely

    polys = []
    for poly in feature["q"]:
        rings = [np.cumsum(np.asarray(r, dtype=float).reshape(-1, 2), axis=0) / scale for r in poly]
        polys.append(shapely.Polygon(rings[0], rings[1:]))
    return shapely.MultiPolygon(polys)


def embedded_years(html: str) -> list:
    match = re.search(r"var years = (\[.*?\]);", html)
    assert match
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def province() -> pd.DataFrame:
    return data.load_published_nqpf("province")


@pytest.fixture(scope="module")
def province_map(province):
    m = maps.china_choropleth(province)
    return m, m.map.get_root().render()


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    panel = data.load_world_panel(2010, 2017)
    # Any per-country, per-year number exercises the join; labour productivity will do.
    return panel.assign(productivity=panel["gdp"] / panel["labour"])


# ---------------------------------------------------------------------------
# offline assets
# ---------------------------------------------------------------------------
def test_default_map_loads_no_external_asset(province_map):
    m, html = province_map
    refs = asset_refs(html)
    assert refs, "expected at least Leaflet's script and stylesheet"
    external = [r for r in refs if _EXTERNAL.match(r)]
    assert external == []
    # No link to an outside host at all (attribution is off without tiles).
    assert not re.search(r"href\s*=\s*[\"'](?:https?:)?//", html, re.I)
    # Only Leaflet is loaded, from the asset base, and each file exists in the package.
    scripts = re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']([^\"']+)", html)
    assert scripts == [f"{maps.DEFAULT_ASSET_BASE}/leaflet/leaflet.js"]
    files = maps.asset_files()
    for ref in refs:
        if ref.startswith("#"):
            continue
        rel = ref.removeprefix(maps.DEFAULT_ASSET_BASE + "/")
        assert rel in files, ref
    assert "jquery" not in html.lower() and "bootstrap" not in html.lower()


def test_asset_files_exist_and_css_images_are_included():
    files = maps.asset_files()
    assert {"leaflet/leaflet.js", "leaflet/leaflet.css"} <= set(files)
    assert all(p.is_file() and p.stat().st_size > 0 for p in files.values())
    css = files["leaflet/leaflet.css"].read_text()
    for image in re.findall(r"url\(\s*[\"']?(images/[^\"')]+)", css):
        assert f"leaflet/{image}" in files, image


def test_tiles_only_when_asked(province):
    m = maps.china_choropleth(province[province["year"] == 2020], tiles="OpenStreetMap")
    html = m.map.get_root().render()
    assert "tile.openstreetmap.org" in html
    # the optional tile layer is the only external reference; the assets stay local
    assert not [r for r in asset_refs(html) if _EXTERNAL.match(r)]


def test_inline_assets_for_live_notebooks(province, tmp_path):
    m = maps.china_choropleth(province[province["year"] >= 2020], asset_base=maps.INLINE)
    html = m.map.get_root().render()
    assert re.findall(r"<script[^>]*\bsrc=", html) == [] and re.findall(r"<link[^>]*stylesheet", html) == []
    assert not [r for r in asset_refs(html) if _EXTERNAL.match(r)]
    assert "url(images/" not in html  # Leaflet's CSS images are data: URIs
    assert "L.geoJSON" in html and len(html) > len(maps.asset_files()["leaflet/leaflet.js"].read_text())
    # saving needs no asset folder
    maps.save_map(m, tmp_path / "inline.html")
    assert [p.name for p in tmp_path.iterdir()] == ["inline.html"]


def test_sphinx_extension_copies_assets(tmp_path):
    from nqpf_helpers import sphinx_maps

    registered = []
    app = SimpleNamespace(connect=lambda event, fn: registered.append((event, fn)))
    meta = sphinx_maps.setup(app)
    assert meta["parallel_read_safe"] and registered[0][0] == "build-finished"
    handler = registered[0][1]
    handler(SimpleNamespace(builder=SimpleNamespace(format="latex"), outdir=str(tmp_path)), None)
    assert not (tmp_path / "_static").exists()
    handler(SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path)), None)
    for rel in maps.asset_files():
        assert (tmp_path / "_static" / "nqpf-maps" / rel).is_file()


# ---------------------------------------------------------------------------
# joins: every code matched or listed
# ---------------------------------------------------------------------------
def _check_partition(codes: set[str], matched: set[str], unmatched: set[str]) -> None:
    assert matched | unmatched == codes
    assert matched & unmatched == set()


@pytest.mark.parametrize("level", ["province", "city"])
def test_published_codes_matched_or_listed(level):
    df = data.load_published_nqpf(level)
    m = maps.china_choropleth(df)
    assert m.level == level
    geo = embedded_geojson(m.map.get_root().render())
    drawn_with_values = {f["properties"]["id"] for f in geo["features"] if "v" in f["properties"]}
    unmatched = set(m.unmatched["region_code"])
    _check_partition(set(df["region_code"]), drawn_with_values, unmatched)
    assert set(m.matched) == drawn_with_values
    # independent check against the boundary layer itself
    keys = set(regions.boundaries(level)["region_code"])
    assert unmatched == set(df["region_code"]) - keys
    assert m.unmatched["reason"].str.len().gt(0).all()
    if level == "city":
        row = m.unmatched.set_index("region_code").loc["371200"]
        assert "abolished or merged" in row["reason"]
        assert "Not drawn, no boundary: 371200" in m.map.get_root().render()  # said on the map too


def test_county_codes_matched_or_listed():
    df = data.load_published_nqpf("county")
    unmatched = maps.unmatched_codes(df)
    keys = set(regions.boundaries("county")["region_code"])
    codes = set(df["region_code"])
    matched = codes & keys
    _check_partition(codes, matched, set(unmatched["region_code"]))
    # the data README counts about 2,662 of 2,711 counties with a boundary
    assert len(matched) >= 2600


def test_world_countries_matched_or_listed(world):
    m = maps.world_choropleth(world, value="productivity")
    geo = embedded_geojson(m.map.get_root().render())
    drawn = {f["properties"]["id"] for f in geo["features"] if "v" in f["properties"]}
    codes = set(world["iso3"])
    _check_partition(codes, drawn, set(m.unmatched["iso3"]))
    assert {"CHN", "USA", "FRA", "NOR"} <= drawn  # FRA and NOR have ISO_A3 -99 upstream
    assert m.unmatched["name"].notna().all()  # named from the panel's country column
    assert not m.scale.center  # not an NQPF column: sequential scale


# ---------------------------------------------------------------------------
# year selector
# ---------------------------------------------------------------------------
def test_year_selector_carries_each_years_values(province, province_map):
    m, html = province_map
    years = embedded_years(html)
    assert years == sorted(province["year"].unique().tolist())
    assert 'type="range"' in html
    geo = embedded_geojson(html)
    features = {f["properties"]["id"]: f for f in geo["features"]}
    lookup = province.set_index(["region_code", "year"])["nqpf"]
    rng = np.random.default_rng(0)
    for code in rng.choice(sorted(features), size=6, replace=False):
        props = features[code]["properties"]
        assert len(props["v"]) == len(years) == len(props["c"])
        for i, year in enumerate(years):
            assert props["v"][i] == pytest.approx(lookup[(code, year)], rel=1e-3)
        # colours travel as indices into one palette
        assert all(isinstance(k, int) for k in props["c"])
        assert maps.feature_colours(geo, features[code]) == m.scale.colours([lookup[(code, y)] for y in years])
    assert len(geo["palette"]) == len(set(geo["palette"])) and all(c.startswith("#") for c in geo["palette"])
    # Colours change over time somewhere, or the selector would show nothing.
    assert any(len(set(f["properties"]["c"])) > 1 for f in features.values())


def test_geometry_is_written_once_and_decodes_to_the_boundaries(province_map):
    _, html = province_map
    geo = embedded_geojson(html)
    assert len(geo["features"]) == 31 and geo["scale"] == 100
    assert html.count('"type":"FeatureCollection"') == 1
    assert all(isinstance(x, int) for x in geo["features"][0]["q"][0][0])
    reference = regions.boundaries("province", simplify=maps.DEFAULT_SIMPLIFY["province"]).set_index("region_code")
    for feature in geo["features"]:
        code = feature["properties"]["id"]
        shape, truth = decoded_geometry(feature, geo["scale"]), reference.geometry[code]
        assert shape.is_valid or shape.buffer(0).area > 0
        # rounding to 1/scale degree moves each vertex by at most 0.71/scale degree, so the shapes
        # differ by at most a strip that wide along the boundary
        strip = truth.length * 0.71 / geo["scale"]
        assert shape.buffer(0).symmetric_difference(truth).area < strip, code
        assert shape.centroid.distance(truth.centroid) < 1 / geo["scale"]


def test_single_cross_section_has_no_selector(province):
    one = province[province["year"] == 2015].drop(columns="year")
    html = maps.china_choropleth(one, time=None).map.get_root().render()
    assert embedded_years(html) == ["value"]
    assert len(embedded_geojson(html)["features"]) == 31


def test_integer_codes_join_like_strings(province):
    as_int = province[province["year"] == 2020].assign(region_code=lambda d: d["region_code"].astype(int))
    m = maps.china_choropleth(as_int)
    assert sorted(m.matched) == sorted(province["region_code"].unique()) and m.unmatched.empty


def test_missing_years_are_no_data_not_dropped(province):
    df = province[~((province["region_code"] == "540000") & (province["year"] == 2022))]
    m = maps.china_choropleth(df)
    props = {f["properties"]["id"]: f["properties"] for f in embedded_geojson(m.map.get_root().render())["features"]}
    assert props["540000"]["v"][-1] is None and props["540000"]["c"][-1] is None
    assert props["540000"]["v"][0] is not None


# ---------------------------------------------------------------------------
# colour scale
# ---------------------------------------------------------------------------
def test_nqpf_scale_diverges_at_one(province_map):
    m, _ = province_map
    scale = m.scale
    assert scale.center == 1.0 and scale.vmin < 1 < scale.vmax
    assert float(scale.norm(1.0)) == pytest.approx(0.5)
    below, above = scale.colours([scale.vmin, scale.vmax])
    rgb = lambda h: tuple(int(h[i : i + 2], 16) for i in (1, 3, 5))  # noqa: E731
    assert rgb(below)[0] > rgb(below)[2]  # red below 1
    assert rgb(above)[2] > rgb(above)[0]  # blue above 1


def test_colour_scale_clips_and_reports_extremes():
    values = np.r_[np.linspace(0.8, 1.2, 200), -50.0, 80.0]
    scale = maps.colour_scale(values, center=1.0)
    assert scale.clipped_low and scale.clipped_high
    assert -50 < scale.vmin < 0.85 and 1.15 < scale.vmax < 80
    assert scale.colours([-50.0])[0] == scale.colours([scale.vmin])[0]
    assert scale.colours([np.nan]) == [None]
    legend = scale.legend_html("NQPF")
    assert "≤" in legend and "≥" in legend and "<svg" in legend
    with pytest.raises(MapInputError, match="No finite value"):
        maps.colour_scale([np.nan, np.inf])


# ---------------------------------------------------------------------------
# save_map
# ---------------------------------------------------------------------------
def test_save_map_bundles_assets_and_works_offline(province_map, tmp_path):
    m, _ = province_map
    out = maps.save_map(m, tmp_path / "map.html")
    html = out.read_text(encoding="utf-8")
    refs = [r for r in asset_refs(html) if not r.startswith("#")]
    assert refs and not [r for r in refs if _EXTERNAL.match(r)]
    for ref in refs:
        assert ref.startswith(maps.ASSET_DIRNAME + "/")
        assert (tmp_path / ref).is_file(), ref
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["map.html", maps.ASSET_DIRNAME])
    # the map object itself still points at the book's asset base
    assert f"{maps.DEFAULT_ASSET_BASE}/leaflet/leaflet.js" in m.map.get_root().render()
    # saving a second map next to the first reuses the folder
    maps.save_map(m, tmp_path / "again.html")
    assert (tmp_path / "again.html").is_file()


def test_save_map_without_bundle_keeps_asset_base(province_map, tmp_path):
    m, _ = province_map
    html = maps.save_map(m, tmp_path / "page.html", bundle_assets=False).read_text(encoding="utf-8")
    assert f"{maps.DEFAULT_ASSET_BASE}/leaflet/leaflet.css" in html
    assert not (tmp_path / maps.ASSET_DIRNAME).exists()


def test_save_map_failure_leaves_nothing(province_map, tmp_path, monkeypatch):
    m, _ = province_map

    def broken(dest):
        Path(dest, "leaflet").mkdir(parents=True, exist_ok=True)
        Path(dest, "leaflet", "partial.js").write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(maps.assets, "copy_assets", broken)
    with pytest.raises(OSError, match="disk full"):
        maps.save_map(m, tmp_path / "map.html")
    assert list(tmp_path.iterdir()) == []


def test_save_map_leaves_other_folium_maps_as_they_are(tmp_path):
    import folium

    m = folium.Map(tiles=None)
    folium.Marker([30.0, 120.0]).add_to(m)
    html = maps.save_map(m, tmp_path / "plain.html").read_text(encoding="utf-8")
    assert "leaflet.awesome-markers" in html  # its plugins are kept, not replaced by Leaflet alone
    assert not (tmp_path / maps.ASSET_DIRNAME).exists()


def test_legend_is_deterministic(province_map):
    m, _ = province_map
    assert m.scale.legend_html("NQPF") == m.scale.legend_html("NQPF")
    assert m.scale.legend_html("NQPF") != m.scale.legend_html("GTFP")


def test_save_map_needs_existing_folder(province_map, tmp_path):
    m, _ = province_map
    with pytest.raises(OutputError, match="does not exist"):
        maps.save_map(m, tmp_path / "missing" / "map.html")


# ---------------------------------------------------------------------------
# static maps
# ---------------------------------------------------------------------------
def test_static_map_has_one_polygon_per_boundary_with_the_scale_colours(province, province_map):
    m, _ = province_map
    res = maps.static_map(province, year=2015)
    fig = res.figure
    try:
        map_ax, bar_ax = fig.axes
        assert map_ax.get_title() == "2015"
        (collection,) = map_ax.collections
        faces = collection.get_facecolors()
        assert len(faces) == 31
        # same colour scale as the interactive map
        values = province[province["year"] == 2015].set_index("region_code")["nqpf"]
        keys = regions.boundaries("province")["region_code"]
        expected = m.scale.colours(values.reindex(keys).to_numpy())
        got = ["#{:02x}{:02x}{:02x}".format(*np.rint(f[:3] * 255).astype(int)) for f in faces]
        assert sorted(got) == sorted(expected)
        assert res.unmatched.empty and res.years == (2015,) and res.level == "province"
        # colour-bar labels carry the legend's three significant digits, not matplotlib's long floats
        labels = [t.get_text() for t in bar_ax.get_xticklabels()]
        assert labels == [f"{v:.3g}" for _, v in m.scale.ticks()]
    finally:
        plt.close(fig)


def test_static_map_into_given_axes_without_colourbar(province):
    fig, ax = plt.subplots()
    try:
        out = maps.static_map(province, ax=ax, colourbar=False)
        assert out.figure is fig and fig.axes == [ax] and ax.get_title() == "2022"
    finally:
        plt.close(fig)


def test_static_world_map(world):
    res = maps.static_map(world, value="productivity", unit="iso3", level="world", year=2017)
    fig = res.figure
    try:
        assert len(fig.axes) == 2
        n_features = len(data.load_world_boundaries().dropna(subset=["iso3"]).drop_duplicates("iso3"))
        assert len(fig.axes[0].collections[0].get_facecolors()) == n_features
        assert set(res.unmatched["iso3"]) <= set(world["iso3"])
    finally:
        plt.close(fig)


def test_static_world_map_has_no_band_across_the_antimeridian(world):
    # Fiji and Chukotka touch longitude 180; wrapped vertices would stretch a polygon across the map.
    fig = maps.static_map(world, value="productivity", unit="iso3", level="world", year=2017).figure
    try:
        ax = fig.axes[0]
        map_width = ax.get_xlim()[1] - ax.get_xlim()[0]
        wide = []
        for path in ax.collections[0].get_paths():
            for poly in path.to_polygons():
                if np.ptp(poly[:, 0]) > 0.5 * map_width and poly[:, 1].max() > -6.0e6:  # Antarctica spans by nature
                    wide.append(poly[:, 1].mean())
        assert not wide, f"polygons stretched across the map at y={wide}"
    finally:
        plt.close(fig)


def test_small_multiples_share_one_scale(province):
    res = maps.static_small_multiples(province, years=[2010, 2016, 2022])
    fig = res.figure
    try:
        assert res.years == (2010, 2016, 2022) and res.scale.center == 1.0
        titles = [ax.get_title() for ax in fig.axes]
        assert titles[:3] == ["2010", "2016", "2022"] and len(fig.axes) == 4
    finally:
        plt.close(fig)
    with pytest.raises(MapInputError, match="1999"):
        maps.static_small_multiples(province, years=[1999])


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
def test_unknown_level(province):
    with pytest.raises(MapInputError, match="level must be one of"):
        maps.china_choropleth(province, level="township")
    with pytest.raises(MapInputError, match="world_choropleth"):
        maps.china_choropleth(province, level="world")


def test_missing_value_column(province):
    with pytest.raises(MapInputError, match=r"missing column\(s\) \['gdp'\]"):
        maps.china_choropleth(province, value="gdp")
    with pytest.raises(MapInputError, match="time=None"):
        maps.china_choropleth(province.drop(columns="year"))


def test_non_numeric_values(province):
    bad = province.assign(nqpf=province["nqpf"].astype(str).where(province["year"] != 2012, "n/a"))
    with pytest.raises(MapInputError, match=r"must be numeric.*'n/a'.*pd.to_numeric"):
        maps.china_choropleth(bad)


def test_duplicate_rows_and_bad_codes(province):
    with pytest.raises(MapInputError, match="share a region_code/year"):
        maps.china_choropleth(pd.concat([province, province.head(2)]))
    with pytest.raises(regions.UnknownRegionError, match="12345"):
        maps.china_choropleth(province.assign(region_code=province["region_code"].replace("110000", "12345")))


def test_nothing_drawable_is_an_error():
    df = pd.DataFrame({"region_code": ["371200"], "year": [2015], "nqpf": [1.1]})
    with pytest.raises(MapInputError, match="nothing to draw"):
        maps.china_choropleth(df)
    listed = maps.unmatched_codes(df)
    assert listed["region_code"].tolist() == ["371200"]


# ---------------------------------------------------------------------------
# results are objects, not attributes on folium maps or figures
# ---------------------------------------------------------------------------
def test_map_result_is_a_frozen_record_that_displays_as_the_map(province_map):
    import dataclasses

    import folium

    m, html = province_map
    assert isinstance(m, maps.MapResult) and isinstance(m.map, folium.Map)
    assert not hasattr(m.map, "unmatched") and not hasattr(m.map, "nqpf_scale")
    assert m.years == tuple(sorted(set(m.years))) and m.level == "province" and len(m.matched) == 31
    assert m.asset_base == maps.DEFAULT_ASSET_BASE
    assert m._repr_html_() == maps.map_iframe(m.map)
    assert repr(m).startswith("MapResult(level='province', years=") and "unmatched=0" in repr(m)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.level = "city"


def test_static_result_sets_no_attribute_on_the_figure(province):
    res = maps.static_map(province[province["year"] == 2015], year=2015)
    try:
        assert isinstance(res, maps.StaticMapResult) and not hasattr(res.figure, "unmatched")
        assert repr(res) == f"StaticMapResult(level='province', years=[2015], unmatched=0, scale={res.scale.vmin:.3g}..{res.scale.vmax:.3g})"
    finally:
        plt.close(res.figure)


def test_old_column_keywords_are_gone(province):
    with pytest.raises(TypeError):
        maps.china_choropleth(province, code="region_code")
    with pytest.raises(TypeError):
        maps.static_map(province, colorbar=False)


def test_subpackage_modules_and_public_names():
    from nqpf_helpers.maps import assets, colour, interactive, join, static

    assert maps.ColourScale is colour.ColourScale and maps.china_choropleth is interactive.china_choropleth
    assert maps.static_map is static.static_map and maps.unmatched_codes is join.unmatched_codes
    assert maps.copy_assets is assets.copy_assets
    assert all(hasattr(maps, name) for name in maps.__all__)


# ---------------------------------------------------------------------------
# page weight: a book page carries several maps and must stay under 1.5 MB
# ---------------------------------------------------------------------------
# Twelve years (2010-2021) of the published files (chapter 5's county map shows
# four).  Measured: province 0.10, city 0.27, county 0.88 MB; with folium's
# escaping, hex colours and 1 km boundaries they took 0.24, 0.67 and 2.5 MB.
_MAP_BUDGET_MB = {"province": 0.15, "city": 0.35, "county": 1.0}


@pytest.mark.parametrize("level", ["province", "city", "county"])
def test_map_html_size_per_level(level):
    df = data.load_published_nqpf(level).query("2010 <= year <= 2021")
    m = maps.china_choropleth(df, level=level)
    html = m._repr_html_()
    assert len(html.encode("utf-8")) / 1e6 < _MAP_BUDGET_MB[level], f"{level} map: {len(html) / 1e6:.2f} MB"
    # the lightness comes from the encoding, not from dropping regions or years
    geo = embedded_geojson(m.map.get_root().render())
    drawn = {f["properties"]["id"] for f in geo["features"] if "v" in f["properties"]}
    assert drawn == set(m.matched) and len(m.years) == 12
    assert len(geo["features"]) == len(regions.boundaries(level)) if level != "county" else len(geo["features"]) > 2800


def test_notebook_display_drops_folium_trust_line_and_survives_quotes(province_map):
    m, html = province_map
    shown = m._repr_html_()
    assert "Trust Notebook" not in shown and shown.count("<iframe") == 1
    # the document sits in a single-quoted srcdoc: no raw single quote may end it early
    doc = shown.split("srcdoc='", 1)[1].split("' title=", 1)[0]
    assert "'" not in doc
    import html as html_module

    assert html_module.unescape(doc) == html
    # and lighter than folium's own escaping (which turns every '"' into '&quot;')
    assert len(shown) < len(m.map._repr_html_()) - 5 * html.count('"')


# ---------------------------------------------------------------------------
# frontier ties (GTFP = 1) flagged on the maps
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flagged_province(province) -> pd.DataFrame:
    from nqpf_helpers import quality

    df = province.copy()
    df["at_frontier"] = quality.at_frontier(df)
    assert df["at_frontier"].any() and not df["at_frontier"].all()
    return df


def test_interactive_map_outlines_frontier_ties(flagged_province):
    df = flagged_province
    m = maps.china_choropleth(df, flag="at_frontier")
    html = m.map.get_root().render()
    geo = embedded_geojson(html)
    years = embedded_years(html)
    expected = {
        (code, year) for code, year in df.loc[df["at_frontier"], ["region_code", "year"]].itertuples(index=False)
    }
    got = {(f["properties"]["id"], years[i]) for f in geo["features"] for i in f["properties"].get("f", [])}
    assert got == expected and m.flagged == len(expected)
    assert maps.FRONTIER_LABEL in html and f"({len(expected)} region-years)" in html
    assert 'dashArray = "3 2"' in html
    # without flag= nothing is marked and the legend says nothing about the frontier
    plain = maps.china_choropleth(df).map.get_root().render()
    assert all("f" not in f["properties"] for f in embedded_geojson(plain)["features"])
    assert maps.FRONTIER_LABEL not in plain


def test_flag_label_and_bad_flag_column(flagged_province):
    df = flagged_province.rename(columns={"at_frontier": "tie"})
    html = maps.china_choropleth(df, flag="tie", flag_label="GTFP at 1").map.get_root().render()
    assert "GTFP at 1" in html
    with pytest.raises(MapInputError, match="missing"):
        maps.china_choropleth(df, flag="at_frontier")
    with pytest.raises(MapInputError, match="must be boolean"):
        maps.china_choropleth(df.assign(tie=df["nqpf"]), flag="tie")


def test_static_maps_hatch_frontier_ties(flagged_province):
    df = flagged_province
    year = int(df.loc[df["at_frontier"], "year"].value_counts().idxmax())
    n_year = int(df.loc[df["year"] == year, "at_frontier"].sum())
    res = maps.static_map(df, year=year, flag="at_frontier")
    try:
        map_ax = res.figure.axes[0]
        hatched = [c for c in map_ax.collections if c.get_hatch()]
        assert len(hatched) == 1 and len(hatched[0].get_paths()) == n_year and res.flagged == n_year
        texts = [t.get_text() for leg in res.figure.legends for t in leg.get_texts()]
        assert texts == [f"{maps.FRONTIER_LABEL} ({n_year})"]
    finally:
        plt.close(res.figure)
    years = [2010, 2015, 2021]
    res = maps.static_small_multiples(df, years, flag="at_frontier")
    try:
        assert res.flagged == int(df.loc[df["year"].isin(years), "at_frontier"].sum())
    finally:
        plt.close(res.figure)
    plain = maps.static_map(df, year=year)
    try:
        assert not any(c.get_hatch() for c in plain.figure.axes[0].collections) and plain.flagged == 0
    finally:
        plt.close(plain.figure)


def test_frontier_outlines_follow_the_year_slider_in_a_browser(flagged_province, tmp_path):
    """The page's script dashes exactly the flagged regions of the selected year (and undashes the rest)."""
    import os
    import shutil

    chromium = os.environ.get("NQPF_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if not chromium:
        if os.environ.get("NQPF_REQUIRE_BUILD") == "1":
            pytest.fail("Chromium and playwright are needed (NQPF_REQUIRE_BUILD=1)")
        pytest.skip("no Chromium or playwright")
    df = flagged_province
    path = maps.save_map(maps.china_choropleth(df, flag="at_frontier"), tmp_path / "map.html")
    years = sorted(df["year"].unique())
    expected = [int(df.loc[df["year"] == y, "at_frontier"].sum()) for y in years]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_selector("path.leaflet-interactive", state="attached")
            dashed = []
            for i in range(len(years)):
                page.evaluate(
                    "i => { const s = document.querySelector('input.nqpf-year-input'); s.value = i;"
                    " s.dispatchEvent(new Event('input')); }", i,
                )
                dashed.append(page.evaluate(
                    "() => document.querySelectorAll('path.leaflet-interactive[stroke-dasharray]').length"
                ))
        finally:
            browser.close()
    assert errors == [] and dashed == expected and sum(expected) > 0
