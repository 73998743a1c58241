"""Tests for nqpf_helpers.regions: code rules, groups, cnmaps names, boundaries."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import regions
from nqpf_helpers.data import fetch
from nqpf_helpers.errors import PanelError
from nqpf_helpers.regions import (
    UnknownRegionError,
    UnmappedRegionWarning,
    add_region_info,
    check_codes,
    normalize_code,
    province_of,
    province_table,
    region_level,
    region_table,
)

# Written out independently of the module's table (NBS 2011 and the 2014
# Yangtze River Economic Belt guideline), so a typo there is caught here.
EXPECTED_GROUPS = {
    "East": {"11", "12", "13", "31", "32", "33", "35", "37", "44", "46"},
    "Central": {"14", "34", "36", "41", "42", "43"},
    "West": {"15", "45", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"},
    "Northeast": {"21", "22", "23"},
}
EXPECTED_YANGTZE = {"31", "32", "33", "34", "36", "42", "43", "50", "51", "52", "53"}


@pytest.fixture(scope="module")
def published_codes() -> dict[str, list[str]]:
    """The distinct codes of each sheet of the authors' published results."""
    # Read the raw sheets rather than load_published_nqpf, so these tests check regions alone.
    path = fetch("nqpf/NQPF_Data_China.xlsx")
    sheets = pd.read_excel(path, sheet_name=["First A.D.", "Second A.D.", "Third A.D."], usecols=["REGION CODE"])
    return {
        level: sorted(sheets[sheet]["REGION CODE"].astype(str).unique())
        for level, sheet in [("province", "First A.D."), ("city", "Second A.D."), ("county", "Third A.D.")]
    }


# ---------------------------------------------------------------------------
# code rules
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "level", "province"),
    [
        ("110000", "province", "110000"),
        (330000, "province", "330000"),
        ("330100", "city", "330000"),
        (330106, "county", "330000"),
        ("110101", "county", "110000"),  # municipality district: no city level between
        ("419001", "county", "410000"),  # county-level city governed by the province
        ("620200", "city", "620000"),  # Jiayuguan: a city without counties
        (" 371200 ", "city", "370000"),  # abolished (Laiwu): rules need no look-up
        (330106.0, "county", "330000"),
        (np.int64(650100), "city", "650000"),
    ],
)
def test_level_and_province_from_code(code, level, province):
    assert region_level(code) == level
    assert province_of(code) == province


@pytest.mark.parametrize("bad", ["990000", "12345", "abc", 1234567, "710000", "810000", 330100.5, None, True, ""])
def test_malformed_or_foreign_codes_raise(bad):
    with pytest.raises(UnknownRegionError) as info:
        normalize_code(bad)
    assert repr(bad) in str(info.value)
    with pytest.raises(UnknownRegionError):
        region_level(bad)


def test_unknown_region_error_is_a_value_error():
    assert issubclass(UnknownRegionError, ValueError)


# ---------------------------------------------------------------------------
# groups
# ---------------------------------------------------------------------------
def test_four_groups_have_10_6_12_3_provinces():
    provinces = province_table()
    assert len(provinces) == 31
    assert provinces["province_code"].is_unique
    counts = provinces["group"].value_counts().to_dict()
    assert counts == {"East": 10, "Central": 6, "West": 12, "Northeast": 3}
    for group, prefixes in EXPECTED_GROUPS.items():
        got = set(provinces.loc[provinces["group"] == group, "province_code"].str[:2])
        assert got == prefixes, group


def test_yangtze_belt_has_the_11_provinces():
    provinces = province_table()
    belt = set(provinces.loc[provinces["yangtze_belt"], "province_code"].str[:2])
    assert belt == EXPECTED_YANGTZE


def test_english_province_names_follow_official_spelling():
    names = province_table().set_index("province_code")["name_en"]
    assert names["610000"] == "Shaanxi"
    assert names["140000"] == "Shanxi"
    assert names["150000"] == "Inner Mongolia"
    assert names["540000"] == "Tibet"
    assert names.notna().all()


# ---------------------------------------------------------------------------
# region_table
# ---------------------------------------------------------------------------
def test_full_table_lists_cnmaps_codes_of_the_31_provinces():
    table = region_table()
    assert list(table.columns) == [
        "region_code", "level", "province_code", "province_name_en",
        "name_zh", "name_en", "group", "yangtze_belt", "in_cnmaps",
    ]
    assert table["region_code"].is_unique
    assert table["region_code"].str.fullmatch(r"\d{6}").all()
    assert table["in_cnmaps"].all()
    assert table["name_zh"].notna().all()
    assert (table["level"] == "province").sum() == 31
    assert (table["level"] == "city").sum() > 300
    assert (table["level"] == "county").sum() > 2800
    assert set(table["group"].astype(str)) == set(EXPECTED_GROUPS)
    # Hong Kong, Macao and Taiwan have no group, so they are left out.
    assert not table["region_code"].str[:2].isin(["71", "81", "82"]).any()


@pytest.mark.parametrize(
    ("code", "name_zh"),
    [
        (330100, "杭州市"),
        ("110000", "北京市"),
        ("330106", "西湖区"),
        ("500000", "重庆市"),
        ("419001", "济源市"),
        ("654000", "伊犁哈萨克自治州"),
    ],
)
def test_known_chinese_names(code, name_zh):
    assert region_table([code])["name_zh"].iloc[0] == name_zh


def test_rows_carry_group_belt_and_province():
    table = region_table(["330106", 420100, "620200"]).set_index("region_code")
    assert table.loc["330106", "province_name_en"] == "Zhejiang"
    assert table.loc["330106", "group"] == "East"
    assert bool(table.loc["420100", "yangtze_belt"])
    assert table.loc["420100", "group"] == "Central"
    assert table.loc["620200", "group"] == "West"
    assert not table.loc["620200", "yangtze_belt"]


def test_unknown_codes_raise_naming_them_and_only_them():
    with pytest.raises(UnknownRegionError) as info:
        region_table(["990000", "12345", 110000, "abc"])
    message = str(info.value)
    for bad in ("990000", "12345", "abc"):
        assert bad in message
    assert "110000" not in message
    assert "3 code(s)" in message


def test_non_strict_keeps_unknown_codes_as_rows():
    with pytest.warns(UnmappedRegionWarning, match="990000"):
        table = region_table(["990000", "110000"], strict=False)
    assert table["region_code"].tolist() == ["110000", "990000"]
    row = table.set_index("region_code").loc["990000"]
    assert pd.isna(row["level"]) and pd.isna(row["group"]) and not row["in_cnmaps"]


def test_codes_missing_from_cnmaps_are_kept_and_reported():
    with pytest.warns(UnmappedRegionWarning, match="371200"):
        table = region_table([371200, "330100"])
    laiwu = table.set_index("region_code").loc["371200"]
    assert laiwu["level"] == "city"
    assert laiwu["province_code"] == "370000"
    assert laiwu["group"] == "East"
    assert not laiwu["in_cnmaps"]
    assert pd.isna(laiwu["name_zh"]) and pd.isna(laiwu["name_en"])
    assert table.loc[~table["in_cnmaps"], "region_code"].tolist() == ["371200"] and table.attrs == {}


def test_check_codes_normalises_and_can_refuse_unmapped():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_codes([330100, " 110000", 330100.0]) == ["330100", "110000", "330100"]
    with pytest.warns(UnmappedRegionWarning):
        check_codes(["371200"])
    with pytest.raises(UnknownRegionError, match="371200"):
        check_codes(["371200", "330100"], allow_unmapped=False)
    with pytest.raises(UnknownRegionError, match="'abc'"):
        check_codes(["abc"])


# ---------------------------------------------------------------------------
# the authors' published codes
# ---------------------------------------------------------------------------
def test_published_sheets_have_31_296_2711_codes(published_codes):
    assert {k: len(v) for k, v in published_codes.items()} == {"province": 31, "city": 296, "county": 2711}


def test_every_published_code_gets_level_province_and_group(published_codes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmappedRegionWarning)
        tables = {sheet: region_table(codes) for sheet, codes in published_codes.items()}
    for sheet, table in tables.items():
        assert len(table) == len(published_codes[sheet]), sheet
        for col in ("level", "province_code", "group", "yangtze_belt"):
            assert table[col].notna().all(), (sheet, col)
    assert (tables["province"]["level"] == "province").all()
    # The authors key the four municipalities by their province codes in the
    # city sheet, and three cities without counties by city codes in the
    # county sheet; everything else is at the sheet's own level.
    city = tables["city"]
    assert set(city.loc[city["level"] != "city", "region_code"]) == set(regions.MUNICIPALITIES)
    county = tables["county"]
    assert set(county.loc[county["level"] != "county", "region_code"]) == {"460300", "460400", "620200"}


def test_match_counts_with_cnmaps(published_codes):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnmappedRegionWarning)
        matched = {sheet: region_table(codes) for sheet, codes in published_codes.items()}
    assert int(matched["province"]["in_cnmaps"].sum()) == 31
    assert int(matched["city"]["in_cnmaps"].sum()) == 295
    city = matched["city"]
    assert city.loc[~city["in_cnmaps"], "region_code"].tolist() == ["371200"]  # Laiwu, merged into Jinan in 2019
    assert int(matched["county"]["in_cnmaps"].sum()) >= 2600
    # The abolished codes are reported, not dropped.
    assert any("371200" in str(w.message) for w in caught)
    unmapped = matched["county"].loc[~matched["county"]["in_cnmaps"]]
    assert unmapped["name_zh"].isna().all()
    assert unmapped["province_code"].notna().all()


# ---------------------------------------------------------------------------
# add_region_info
# ---------------------------------------------------------------------------
def test_add_region_info_merges_onto_a_panel_keeping_rows():
    panel = pd.DataFrame({"region_code": [330100, 110000, 330100, 420100], "year": [2010, 2010, 2011, 2010]})
    out = add_region_info(panel)
    assert len(out) == len(panel)
    assert out["year"].tolist() == panel["year"].tolist()
    assert out["region_code"].tolist() == ["330100", "110000", "330100", "420100"]
    assert out["name_zh"].tolist() == ["杭州市", "北京市", "杭州市", "武汉市"]
    assert out["group"].astype(str).tolist() == ["East", "East", "East", "Central"]
    assert out["yangtze_belt"].tolist() == [True, False, True, True]
    assert panel["region_code"].tolist()[0] == 330100  # input untouched


def test_add_region_info_other_code_column_and_errors():
    panel = pd.DataFrame({"code": ["610100"], "v": [1.0]})
    assert add_region_info(panel, unit="code")["province_name_en"].iloc[0] == "Shaanxi"
    with pytest.raises(PanelError, match=r"missing column\(s\) \['region_code'\].*unit="):
        add_region_info(panel)
    with pytest.raises(PanelError, match="group"):
        add_region_info(panel.assign(group="x"), unit="code")
    with pytest.raises(TypeError):
        add_region_info(panel, "code")  # the column is named by keyword: unit=
    with pytest.raises(UnknownRegionError, match="990000"):
        add_region_info(pd.DataFrame({"region_code": ["990000"]}))


# ---------------------------------------------------------------------------
# names in pinyin
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "proper"),
    [
        ("杭州市", "杭州"),
        ("白沙黎族自治县", "白沙"),
        ("双江拉祜族佤族布朗族傣族自治县", "双江"),
        ("伊犁哈萨克自治州", "伊犁"),
        ("鄂伦春自治旗", "鄂伦春"),
        ("金林区", "金林"),  # not 金 + 林区
        ("歙县", "歙县"),  # one-character names keep the generic part
        ("浦东新区", "浦东"),
        ("阿克苏地区", "阿克苏"),
    ],
)
def test_proper_name(name, proper):
    assert regions._proper_name(name) == proper


@pytest.mark.parametrize(
    ("code", "name_en"),
    [("330100", "Hangzhou"), ("610100", "Xi'an"), ("430100", "Changsha"), ("510100", "Chengdu"),
     ("469025", "Baisha"), ("140400", "Changzhi"), ("340100", "Hefei")],
)
def test_pinyin_names(code, name_en):
    assert region_table([code])["name_en"].iloc[0] == name_en


# ---------------------------------------------------------------------------
# boundaries
# ---------------------------------------------------------------------------
def test_gcj02_conversion_matches_cnmaps():
    from cnmaps import geo
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(73, 135, 200), rng.uniform(18, 54, 200)])
    expected = np.array([geo.gcj02_to_wgs84(lon, lat) for lon, lat in points])
    np.testing.assert_allclose(regions._gcj02_to_wgs84(points), expected, rtol=0, atol=1e-9)


def test_province_boundaries_in_wgs84():
    gdf = regions.boundaries("province")
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.columns) == ["region_code", "name_zh", "geometry"]
    assert sorted(gdf["region_code"]) == sorted(province_table()["province_code"])
    assert (gdf.geom_type == "MultiPolygon").all() and gdf.is_valid.all()
    minx, miny, maxx, maxy = gdf.total_bounds
    assert 73 < minx < 74 and 3 < miny < 19 and 134 < maxx < 136 and 53 < maxy < 54
    # Hangzhou (GCJ-02 and WGS84 differ by ~500 m there) lies in Zhejiang.
    import shapely

    zhejiang = gdf.set_index("region_code").geometry["330000"]
    assert zhejiang.contains(shapely.Point(120.15, 30.27))


def test_city_boundaries_follow_the_authors_codes(published_codes):
    gdf = regions.boundaries("city", simplify=0.01)
    assert gdf["region_code"].is_unique
    assert set(regions.MUNICIPALITIES) <= set(gdf["region_code"])
    assert not gdf["region_code"].isin(["110100", "120100", "310100"]).any()
    assert (gdf.geom_type == "MultiPolygon").all()
    assert len(set(published_codes["city"]) - set(gdf["region_code"])) == 1  # Laiwu 371200


def test_boundaries_rejects_unknown_level():
    with pytest.raises(ValueError, match="district"):
        regions.boundaries("district")


def test_coastal_flag_covers_the_11_coastal_provinces_and_their_units():
    names = province_table().set_index("province_code")["name_en"]
    coastal = {names[c] for c in regions.COASTAL_PROVINCES}
    assert coastal == {
        "Tianjin", "Hebei", "Liaoning", "Shanghai", "Jiangsu", "Zhejiang",
        "Fujian", "Shandong", "Guangdong", "Guangxi", "Hainan",
    }
    # the flag is the province's, whatever the level or type of the code
    assert regions.is_coastal(330106) and regions.is_coastal("450100")
    assert not regions.is_coastal("110000") and not regions.is_coastal(610100)
    with pytest.raises(regions.UnknownRegionError):
        regions.is_coastal("990000")


def test_normalize_codes_is_the_vectorised_normaliser() -> None:
    from nqpf_helpers.regions import normalize_codes

    s = pd.Series([330100, 330100.0, " 110000 ", "440000.0"], index=[5, 6, 7, 8], name="code")
    out = normalize_codes(s)
    assert out.tolist() == ["330100", "330100", "110000", "440000"]
    assert out.index.tolist() == [5, 6, 7, 8] and out.name == "code"
    assert normalize_codes([110000]).tolist() == ["110000"]
    with pytest.raises(UnknownRegionError, match=r"2 code\(s\).*12345.*990000"):
        normalize_codes(pd.Series([110000, 12345, 990000, 12345]))


def test_unit_labels_keeps_labels_and_turns_whole_numbers_into_digits() -> None:
    from nqpf_helpers.regions import unit_labels

    assert unit_labels(pd.Series([330100.0, 110000.0])).tolist() == ["330100", "110000"]
    assert unit_labels(pd.Series([" CHN", "USA "])).tolist() == ["CHN", "USA"]
    assert unit_labels(pd.Series([1.5, 2.0])).tolist() == ["1.5", "2.0"]
    assert unit_labels(pd.Series(["CHN", None])).tolist() == ["CHN", None]


# --------------------------------------------------------------------------- names -> codes
@pytest.mark.parametrize(
    "names, codes",
    [
        (["北京", "内蒙古", "广西"], ["110000", "150000", "450000"]),
        (["北京市", "内蒙古自治区", "广西壮族自治区"], ["110000", "150000", "450000"]),
        (["宁夏回族自治区", "新疆维吾尔自治区", "西藏自治区"], ["640000", "650000", "540000"]),
        (["Beijing", "Nei Mongol", "Guangxi Zhuang Autonomous Region"], ["110000", "150000", "450000"]),
        (["Inner Mongolia", "Tibet", " heilongjiang "], ["150000", "540000", "230000"]),
        (["Shanxi", "Shaanxi"], ["140000", "610000"]),  # two provinces, never mixed up
        (["Shanxi Province", "Shaanxi Sheng"], ["140000", "610000"]),
    ],
)
def test_province_names_in_chinese_pinyin_and_english(names, codes):
    assert regions.codes_from_names(names) == dict(zip(names, codes))


def test_every_province_of_the_real_panel_is_matched():
    from nqpf_helpers.data import fetch

    panel = pd.read_csv(fetch("china/GTMP.csv"), encoding="utf-8-sig")
    codes = regions.codes_from_names(panel["地区"])
    assert len(codes) == 30 and len(set(codes.values())) == 30
    assert "540000" not in codes.values()  # no Tibet in this panel
    assert set(codes.values()) == set(regions.province_table()["province_code"]) - {"540000"}


def test_city_names_resolve_at_city_level_and_municipalities_keep_their_code():
    assert regions.codes_from_names(["杭州", "西安市", "北京"]) == {"杭州": "330100", "西安市": "610100", "北京": "110000"}
    assert regions.codes_from_names(["Xi'an", "Harbin"], level="city") == {
        "Xi'an": "610100", "Harbin": "230100"}
    with pytest.raises(UnknownRegionError, match=r"'Harbn' \(closest: 哈尔滨市"):
        regions.codes_from_names(["Harbn", "Hangzhou"])
    assert regions.codes_from_names(["Hangzhou", "Chengdu"]) == {"Hangzhou": "330100", "Chengdu": "510100"}
    # 吉林 is a province among provinces and the city among cities
    assert regions.codes_from_names(["吉林", "辽宁"]) == {"吉林": "220000", "辽宁": "210000"}
    assert regions.codes_from_names(["吉林", "长春"]) == {"吉林": "220200", "长春": "220100"}


def test_ambiguous_unknown_and_duplicate_names_are_listed_not_guessed():
    with pytest.raises(UnknownRegionError, match=r"'Suzhou' \(could be 苏州市.*320500.* or 宿州市.*341300"):
        regions.codes_from_names(["Suzhou", "Hangzhou"])
    with pytest.raises(UnknownRegionError, match=r"'Shanxii' \(closest: 山西省 Shanxi \(140000\); 陕西省 Shaanxi"):
        regions.codes_from_names(["Shanxii", "Beijing"])
    with pytest.raises(UnknownRegionError, match="name the same unit"):
        regions.codes_from_names(["北京", "北京市", "天津"])
    with pytest.raises(UnknownRegionError, match=r"1 of 2 .*'Atlantis'"):
        regions.codes_from_names(["Atlantis", "Beijing"])
    with pytest.raises(ValueError, match="level"):
        regions.codes_from_names(["北京"], level="county")


def test_match_region_names_never_raises():
    level, found, problems = regions.match_region_names(["north", "south"])
    assert level is None and found == {} and set(problems) == {"north", "south"}
    level, found, problems = regions.match_region_names(["北京", "Atlantis"])
    assert level == "province" and found == {"北京": "110000"} and list(problems) == ["Atlantis"]
