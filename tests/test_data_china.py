"""Tests of nqpf_helpers.data.china against the offline copies in NQPF_DATA_DIR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import cli, data, regions
from nqpf_helpers.data import china
from nqpf_helpers.errors import DataIntegrityError, UnknownRegionError

INPUTS = ["employment_10k", "net_fixed_assets_100m_yuan", "energy_10k_tce"]
GOOD = ["industrial_value_added_100m_yuan"]
BAD = ["so2_10k_t", "soot_dust_10k_t", "wastewater_10k_t"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return data.load_china_industrial_panel()


def test_panel_shape_columns_and_keys(panel):
    assert list(panel.columns) == data.CHINA_PANEL_COLUMNS
    assert len(panel) == 30 * 24
    assert panel["region_code"].nunique() == 30
    assert sorted(panel["year"].unique()) == list(range(2000, 2024))
    assert not panel.isna().any().any()
    assert not panel.duplicated(["region_code", "year"]).any()
    provinces = set(regions.province_table()["province_code"])
    assert set(panel["region_code"]) == provinces - {"540000"}  # every province but Tibet
    assert set(panel["zone"]) == {"East", "Central", "West"}
    assert data.CHINA_PANEL_UNITS["soot_dust_10k_t"].startswith("industrial soot and dust")
    assert panel.attrs == {}  # units are documented in CHINA_PANEL_UNITS, not a side channel


# The yearbook figures, typed here from the China Statistical Yearbook on Environment
# (10,000 t), not read from the module, so a change of either side is caught.
@pytest.mark.parametrize(
    ("column", "year", "total"),
    [
        ("soot_dust_10k_t", 2005, 1859.8),
        ("soot_dust_10k_t", 2011, 1100.4),
        ("soot_dust_10k_t", 2015, 1231.5),
        ("so2_10k_t", 2005, 2168.2),
        ("so2_10k_t", 2015, 1556.6),
        ("so2_10k_t", 2019, 395.1),
    ],
)
def test_national_totals_match_the_yearbooks(panel, column, year, total):
    assert panel.loc[panel["year"] == year, column].sum() == pytest.approx(total, abs=0.051)


def test_columns_come_from_the_right_source_columns(panel):
    gtmp = pd.read_csv(data.fetch("china/GTMP.csv"), encoding="utf-8-sig")
    bj = gtmp[gtmp["地区"] == "北京"].sort_values("年份")
    ours = panel[panel["region_code"] == "110000"].sort_values("year")
    np.testing.assert_allclose(ours["soot_dust_10k_t"], bj["工业固体废弃物排放量（万吨）"])
    np.testing.assert_allclose(ours["industrial_value_added_100m_yuan"], bj["工业增加值(亿元)"])
    final = pd.read_csv(data.fetch("china/final_data.1.3.4_did.csv"), encoding="utf-8-sig")
    # 陕西 (Shaanxi, 610000) and 山西 (Shanxi, 140000) must not be swapped.
    for pinyin, code in [("Shaanxi", "610000"), ("Shanxi", "140000"), ("Neimenggu", "150000")]:
        src = final[final["province"] == pinyin].sort_values("year")["industrial_so2"].to_numpy()
        np.testing.assert_allclose(panel.loc[panel["region_code"] == code, "so2_10k_t"], src)


def test_gml_cumulative_is_the_product_of_the_index(panel):
    for _, g in panel.groupby("region_code"):
        np.testing.assert_allclose(g["gml_cumulative"], np.cumprod(g["gml_index"]))
    assert (panel.loc[panel["year"] == 2000, "gml_cumulative"] == 1).all()


def test_province_names_in_every_spelling():
    codes = data.china_province_codes(
        ["北京", "内蒙古", "内蒙古自治区", "Inner Mongolia", "Neimenggu", "Shanxi", "Shaanxi", "陕西省", "Xizang", "广西壮族自治区"]
    )
    assert codes.tolist() == [
        "110000", "150000", "150000", "150000", "150000", "140000", "610000", "610000", "540000", "450000",
    ]


def test_unknown_province_name_is_named():
    with pytest.raises(UnknownRegionError, match="Atlantis"):
        data.china_province_codes(["北京", "Atlantis"])


def _patched_reader(monkeypatch, change):
    original = china._read_csv

    def reader(name):
        df = original(name)
        return change(name, df)

    monkeypatch.setattr(china, "_read_csv", reader)


def test_a_wrong_national_total_is_refused(monkeypatch):
    def change(name, df):
        if name == "china/GTMP.csv":
            df.loc[(df["地区"] == "河北") & (df["年份"] == 2011), "工业固体废弃物排放量（万吨）"] += 10
        return df

    _patched_reader(monkeypatch, change)
    with pytest.raises(DataIntegrityError, match=r"soot_dust_10k_t 2011: panel 1110\.4 vs yearbook 1100\.4"):
        data.load_china_industrial_panel()


def test_a_missing_cell_is_refused(monkeypatch):
    def change(name, df):
        if name == "china/final_data.1.3.4_did.csv":
            df.loc[(df["province"] == "Hebei") & (df["year"] == 2003), "industrial_so2"] = np.nan
        return df

    _patched_reader(monkeypatch, change)
    with pytest.raises(DataIntegrityError, match="missing cells.*so2_10k_t"):
        data.load_china_industrial_panel()


def test_energy_panel():
    energy = data.load_china_energy_panel()
    assert energy["region_code"].nunique() == 31
    assert (energy["year"].min(), energy["year"].max()) == (1990, 2025)
    assert energy["gdp_100m_yuan"].notna().all()
    # total SO2 (all sources) is at least the industrial SO2 of the industrial panel
    ind = data.load_china_industrial_panel()[["region_code", "year", "so2_10k_t"]]
    both = ind.merge(energy[["region_code", "year", "so2_total_10k_t"]]).dropna()
    assert len(both) > 600
    assert (both["so2_total_10k_t"] >= both["so2_10k_t"] - 0.5).mean() > 0.95


def test_common_deflator_moves_global_but_not_contemporaneous_scores(panel):
    from nqpf_helpers.sbm import sbm

    deflator = 1.03 ** (panel["year"] - 2000)
    real = panel.assign(
        net_fixed_assets_100m_yuan=panel["net_fixed_assets_100m_yuan"] / deflator,
        industrial_value_added_100m_yuan=panel["industrial_value_added_100m_yuan"] / deflator,
    )
    args = {"unit": "region_code", "time": "year", "inputs": INPUTS, "good": GOOD, "bad": BAD, "rts": "vrs"}
    for frontier, moves in [("contemporaneous", False), ("global", True)]:
        a = sbm(panel, frontier=frontier, **args)["rho"].to_numpy()
        b = sbm(real, frontier=frontier, **args)["rho"].to_numpy()
        assert bool(np.abs(a - b).max() > 1e-3) is moves, frontier


def test_cli_export_then_run(tmp_path):
    out = tmp_path / "china.csv"
    assert cli.main(["export", "china-industry", str(out)]) == 0
    back = pd.read_csv(out, dtype={"region_code": str})
    assert back.shape == (720, len(data.CHINA_PANEL_COLUMNS))
    assert back["region_code"].str.fullmatch(r"\d{6}").all()
    res = tmp_path / "res"
    code = cli.main(
        [
            "run", str(out), "--unit", "region_code", "--inputs", ",".join(INPUTS), "--good", GOOD[0],
            "--bad", ",".join(BAD), "--train-until", "2009", "--lags", "3", "--seeds", "1", "--epochs", "6",
            "--no-map", "-o", str(res),
        ]
    )
    assert code == 0
    results = pd.read_csv(res / "results.csv", dtype={"region_code": str})
    assert results["region_code"].nunique() == 30
    assert results["gtfp"].between(0, 1 + 1e-9).all()
