"""China's provinces from yearbook inputs: the industrial-sector panel.

Two public research repositories compile provincial panels from the *China
Statistical Yearbook* and the *China Statistical Yearbook on Environment*
({cite}`yumanlou2025`, {cite}`wangmeng2025`).  This module turns them into one
tidy panel keyed by the 6-digit provincial code, with English column names and
units, and checks it on load against national totals published in the
yearbooks.

Three things about the source files matter to every user:

* the column of ``GTMP.csv`` labelled "industrial solid waste discharged"
  (工业固体废弃物排放量) holds industrial **soot and dust** (烟（粉）尘): its
  national sums equal the yearbook's soot and dust totals, not solid waste.
  It is called ``soot_dust_10k_t`` here;
* money values (value added, net fixed assets) are at **current prices**;
* the series have statistical **breaks**: the "above designated size"
  threshold for industrial enterprises rose from 5 to 20 million yuan of
  annual revenue in 2011, and the environmental statistics survey was
  redesigned in 2016 (soot, dust and SO2 totals drop).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ..errors import DataIntegrityError, UnknownRegionError
from ..regions import _to_pinyin, province_table
from ..validate import validate_panel

__all__ = [
    "CHINA_PANEL_COLUMNS",
    "CHINA_PANEL_UNITS",
    "YEARBOOK_TOTALS",
    "china_province_codes",
    "load_china_energy_panel",
    "load_china_industrial_panel",
]

#: Columns of :func:`load_china_industrial_panel`, in order, with their meaning and unit.
CHINA_PANEL_UNITS: dict[str, str] = {
    "region_code": "6-digit provincial administrative code (str)",
    "name_en": "English province name",
    "year": "calendar year (int)",
    "zone": "the source's three-zone split: East, Central or West (not the NBS four groups)",
    "employment_10k": "average employment of industrial enterprises above designated size, 10,000 persons",
    "net_fixed_assets_100m_yuan": (
        "net fixed assets of industrial enterprises above designated size, 100 million yuan, current prices"
    ),
    "energy_10k_tce": "energy input, 10,000 tonnes of standard coal equivalent",
    "industrial_value_added_100m_yuan": "industrial value added, 100 million yuan, current prices",
    "wastewater_10k_t": "industrial wastewater discharged, 10,000 tonnes",
    "soot_dust_10k_t": "industrial soot and dust emitted, 10,000 tonnes (labelled solid waste in the source)",
    "so2_10k_t": "industrial SO2 emitted, 10,000 tonnes",
    "gml_index": "the source repository's own GML productivity index (model undocumented), 2000 = 1",
    "gml_cumulative": "cumulative product of gml_index within each province, 2000 = 1",
}
#: The columns of :func:`load_china_industrial_panel`, in order.
CHINA_PANEL_COLUMNS = list(CHINA_PANEL_UNITS)

#: National totals of the yearbooks (10,000 t) that the panel must reproduce,
#: as ``{column: {year: total}}``.  Sums over the 30 provinces of the panel
#: (Tibet is not in it) are compared to one decimal.
YEARBOOK_TOTALS: dict[str, dict[int, float]] = {
    "soot_dust_10k_t": {2005: 1859.8, 2011: 1100.4, 2015: 1231.5},
    "so2_10k_t": {2005: 2168.2, 2015: 1556.6, 2019: 395.1},
}
_TOTAL_TOL = 0.051  # the totals are published to one decimal

_GTMP_COLUMNS = {
    "地区": "name_zh",
    "所属地域": "zone",
    "年份": "year",
    "规模以上工业企业平均用工人数（万人）": "employment_10k",
    "规模以上工业企业固定资产净值（亿元）": "net_fixed_assets_100m_yuan",
    "能源投入（万吨标准煤）": "energy_10k_tce",
    "工业增加值(亿元)": "industrial_value_added_100m_yuan",
    "工业废水排放量（万吨）": "wastewater_10k_t",
    "工业固体废弃物排放量（万吨）": "soot_dust_10k_t",
    "GML指数": "gml_index",
    "工业绿色全要素生产率": "gml_cumulative_source",
}
_ZONES = {"东部": "East", "中部": "Central", "西部": "West"}
_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")

_INPUT_COLUMNS = ["employment_10k", "net_fixed_assets_100m_yuan", "energy_10k_tce"]
_VALUE_COLUMNS = [c for c in CHINA_PANEL_COLUMNS if c not in {"region_code", "name_en", "year", "zone"}]


def _short_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalpha())


@lru_cache(maxsize=1)
def _name_lookup() -> dict[str, str]:
    """Map full and short Chinese names, English names and plain pinyin to codes."""
    table = province_table()
    lookup: dict[str, str] = {}
    pinyin: dict[str, list[str]] = {}
    for code, zh, en in table[["province_code", "name_zh", "name_en"]].itertuples(index=False):
        lookup[zh] = code
        lookup[_short_name(zh)] = code
        lookup[_squash(en)] = code
        py = _to_pinyin(_short_name(zh))
        if isinstance(py, str):
            pinyin.setdefault(_squash(py), []).append(code)
    # Plain pinyin is ambiguous for 山西/陕西 (both "Shanxi"): the official English
    # spelling (Shanxi / Shaanxi) wins, so ambiguous pinyin is never added.
    for key, codes in pinyin.items():
        if len(codes) == 1:
            lookup.setdefault(key, codes[0])
    return lookup


def china_province_codes(names: pd.Series | list[str]) -> pd.Series:
    """Map province names (Chinese, English or pinyin) to 6-digit codes.

    Parameters
    ----------
    names
        Names such as ``"内蒙古"``, ``"内蒙古自治区"``, ``"Inner Mongolia"``,
        ``"Neimenggu"``, ``"Shaanxi"``.  Plain pinyin ``"Shanxi"`` is 山西
        (140000); 陕西 must be written ``"Shaanxi"`` or in Chinese.

    Returns
    -------
    pandas.Series
        Codes as strings, aligned with ``names``.

    Raises
    ------
    UnknownRegionError
        Some names match no province; the message lists them.
    """
    s = pd.Series(names)
    lookup = _name_lookup()

    def one(name: object) -> str | None:
        if not isinstance(name, str):
            return None
        text = name.strip()
        return lookup.get(text) or lookup.get(_short_name(text)) or lookup.get(_squash(text))

    codes = s.map(one)
    bad = sorted(set(s[codes.isna()].astype(str)))
    if bad:
        raise UnknownRegionError(
            f"{len(bad)} province name(s) match none of the 31 mainland provinces: {bad[:10]}. "
            "Use the Chinese name (e.g. 内蒙古), the English name (Inner Mongolia) or pinyin (Neimenggu)."
        )
    return codes.astype(str)


def _read_csv(name: str) -> pd.DataFrame:
    from . import fetch

    return pd.read_csv(fetch(name), encoding="utf-8-sig")


def _check_totals(panel: pd.DataFrame) -> None:
    sums = panel.groupby("year")[list(YEARBOOK_TOTALS)].sum()
    problems = [
        f"{col} {year}: panel {sums.loc[year, col]:.1f} vs yearbook {total:.1f}"
        for col, by_year in YEARBOOK_TOTALS.items()
        for year, total in by_year.items()
        if year not in sums.index or abs(sums.loc[year, col] - total) > _TOTAL_TOL
    ]
    if problems:
        raise DataIntegrityError(
            "The China industrial panel does not reproduce the national totals of the yearbooks "
            f"({'; '.join(problems)}). The source files have changed or were read wrongly; "
            "fetch the registered versions (nqpf_helpers.data.fetch) again."
        )


def load_china_industrial_panel() -> pd.DataFrame:
    """Load the industrial-sector panel of 30 provinces x 2000-2023.

    Inputs, good output and bad outputs of an SBM model for the industry of
    each province (Tibet is not covered):

    * inputs: ``employment_10k``, ``net_fixed_assets_100m_yuan``,
      ``energy_10k_tce``;
    * good output: ``industrial_value_added_100m_yuan``;
    * bad outputs: ``so2_10k_t``, ``soot_dust_10k_t``, ``wastewater_10k_t``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHINA_PANEL_COLUMNS` (meaning and unit of each in
        :data:`CHINA_PANEL_UNITS`), sorted by ``region_code`` and ``year``;
        balanced, no missing cells.  Money values are nominal (current
        prices).

    Raises
    ------
    DataIntegrityError
        A cell is missing, a province or year is missing, the repository's
        cumulative GML does not equal the product of its indices, or a
        national total differs from :data:`YEARBOOK_TOTALS`.
    DataUnavailableError
        The source files are neither in ``NQPF_DATA_DIR`` nor downloadable.

    Notes
    -----
    Sources: ``GTMP.csv`` (all columns but SO2) and
    ``final_data.1.3.4_did.csv`` (``industrial_so2``, pinyin province
    names) from {cite}`yumanlou2025`.  The column labelled solid waste in
    ``GTMP.csv`` is soot and dust (see the module docstring).
    """
    gtmp = _read_csv("china/GTMP.csv")
    missing_cols = sorted(set(_GTMP_COLUMNS) - set(gtmp.columns))
    if missing_cols:
        raise DataIntegrityError(
            f"china/GTMP.csv lacks the columns {missing_cols}; the file is not the registered version."
        )
    df = gtmp[list(_GTMP_COLUMNS)].rename(columns=_GTMP_COLUMNS)
    df["region_code"] = china_province_codes(df["name_zh"]).to_numpy()
    df["zone"] = df["zone"].map(_ZONES)
    df["year"] = df["year"].astype(int)

    final = _read_csv("china/final_data.1.3.4_did.csv")
    so2 = pd.DataFrame(
        {
            "region_code": china_province_codes(final["province"]).to_numpy(),
            "year": final["year"].astype(int),
            "so2_10k_t": pd.to_numeric(final["industrial_so2"], errors="coerce"),
        }
    )
    if so2.duplicated(["region_code", "year"]).any():
        raise DataIntegrityError("china/final_data.1.3.4_did.csv has duplicated province-years.")
    df = df.merge(so2, on=["region_code", "year"], how="left", validate="one_to_one")

    names = province_table().set_index("province_code")["name_en"]
    df["name_en"] = df["region_code"].map(names)
    df = df.sort_values(["region_code", "year"]).reset_index(drop=True)
    df["gml_cumulative"] = df.groupby("region_code")["gml_index"].cumprod()

    holes = df[_VALUE_COLUMNS + ["zone"]].isna().sum()
    holes = holes[holes > 0]
    if len(holes):
        raise DataIntegrityError(
            f"The China industrial panel has missing cells ({holes.to_dict()}); none are expected. "
            "Check that the registered source files are in NQPF_DATA_DIR."
        )
    drift = float(np.max(np.abs(df["gml_cumulative"] - df["gml_cumulative_source"])))
    if drift > 1e-6:
        raise DataIntegrityError(
            f"The source's cumulative GTFP differs from the product of its GML indices by up to {drift:.2g}."
        )
    if df["region_code"].nunique() != 30 or sorted(df["year"].unique()) != list(range(2000, 2024)):
        raise DataIntegrityError(
            f"Expected 30 provinces x 2000-2023, found {df['region_code'].nunique()} provinces and years "
            f"{df['year'].min()}-{df['year'].max()}."
        )
    _check_totals(df)

    out = validate_panel(
        df[CHINA_PANEL_COLUMNS],
        unit="region_code",
        time="year",
        values=_VALUE_COLUMNS,
        positive=[*_INPUT_COLUMNS, "industrial_value_added_100m_yuan", "gml_index"],
        nonnegative=["wastewater_10k_t", "soot_dust_10k_t", "so2_10k_t"],
        name="China industrial panel",
    )
    return out


_ENERGY_COLUMNS = {
    "Year": "year",
    "Regional GDP": "gdp_100m_yuan",
    "Industrial value added from Long": "industrial_value_added_100m_yuan",
    "Population": "population_10k",
    "Total energy consumption": "energy_10k_tce",
    "SO2 emissions": "so2_total_10k_t",
    "Total electricity generation": "electricity_100m_kwh",
}


def load_china_energy_panel() -> pd.DataFrame:
    """Load the whole-economy provincial panel of {cite}`wangmeng2025`.

    Returns
    -------
    pandas.DataFrame
        ``region_code``, ``year`` and ``gdp_100m_yuan`` (nominal regional
        GDP), ``industrial_value_added_100m_yuan`` (nominal),
        ``population_10k``, ``energy_10k_tce`` (total energy consumption,
        10,000 t standard coal), ``so2_total_10k_t`` (total, not only
        industrial, SO2) and ``electricity_100m_kwh`` (power generation):
        31 provinces x 1990-2025 with missing cells where the source has
        none (see ``china/wangmeng_variable_dictionary.csv``).
    """
    raw = _read_csv("china/raw_data.csv")
    missing_cols = sorted((set(_ENERGY_COLUMNS) | {"Province"}) - set(raw.columns))
    if missing_cols:
        raise DataIntegrityError(
            f"china/raw_data.csv lacks the columns {missing_cols}; the file is not the registered version."
        )
    df = raw[["Province", *_ENERGY_COLUMNS]].rename(columns=_ENERGY_COLUMNS)
    df.insert(0, "region_code", china_province_codes(df.pop("Province")).to_numpy())
    df["year"] = df["year"].astype(int)
    return validate_panel(
        df,
        unit="region_code",
        time="year",
        values=[],
        name="china/raw_data.csv",
    )
