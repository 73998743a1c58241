"""Data layer: find, fetch, check and load every public data set the book uses.

Files are described in ``registry.toml``, package data of this module read with
``importlib.resources`` (public URL, sha256, citation).
:func:`fetch` resolves a registry name to a local path in this order:

1. the folder named by the environment variable ``NQPF_DATA_DIR`` (tests and CI
   point it at ``../shared/data``); a file found there must match its sha256;
2. the download cache (``NQPF_CACHE_DIR``, default: the user cache folder of
   ``pooch``), downloading from the public URL with :mod:`pooch` if needed.

Set ``NQPF_OFFLINE=1`` to forbid downloads: a file already in the download
cache is then still used when it matches its registered sha256 (see
:func:`fetch`).  When a file can be found nowhere,
:class:`~nqpf_helpers.errors.DataUnavailableError` names the file, where it comes from and how to
point the loader at a local copy.

The loaders return tidy :class:`pandas.DataFrame` objects with documented
columns and integer years.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DataIntegrityError, DataUnavailableError, InputError, UnknownDataFileError
from ..validate import validate_panel

__all__ = [
    "DataUnavailableError",
    "DataIntegrityError",
    "UnknownDataFileError",
    "RegistryEntry",
    "registry",
    "fetch",
    "load_gtfp_series",
    "load_published_nqpf",
    "load_pwt",
    "load_ceds",
    "load_world_panel",
    "world_panel_dropped",
    "balance_panel",
    "load_world_boundaries",
    "REGISTRY_RESOURCE",
    "file_sha256",
    "coverage",
    "WORLD_PANEL_COLUMNS",
    "CHINA_PANEL_COLUMNS",
    "CHINA_PANEL_UNITS",
    "YEARBOOK_TOTALS",
    "china_province_codes",
    "load_china_industrial_panel",
    "load_china_energy_panel",
    "load_bootstrap_coverage",
]

DATA_DIR_ENV = "NQPF_DATA_DIR"
CACHE_DIR_ENV = "NQPF_CACHE_DIR"
OFFLINE_ENV = "NQPF_OFFLINE"
REGISTRY_RESOURCE = "registry.toml"

Level = Literal["province", "city", "county"]
_NQPF_SHEETS: dict[str, str] = {"province": "First A.D.", "city": "Second A.D.", "county": "Third A.D."}
_CEDS_SPECIES = ("SO2", "NOx", "BC", "OC", "CO2")

#: Columns of :func:`load_world_panel`, in order.
WORLD_PANEL_COLUMNS = ["iso3", "country", "year", "labour", "capital", "gdp", "so2", "nox", "smoke"]


@dataclass(frozen=True)
class RegistryEntry:
    """One file of the download registry (``nqpf_helpers/data/registry.toml``)."""

    name: str
    url: str
    sha256: str
    description: str = ""
    url_sha256: str | None = None
    member: str | None = None
    sheet: str | None = None
    citation: str = ""

    @property
    def download_hash(self) -> str | None:
        """Hash pooch checks on the downloaded object (None when not pinned)."""
        if self.url_sha256 is None:
            return f"sha256:{self.sha256}"
        return f"sha256:{self.url_sha256}" if self.url_sha256 else None


@lru_cache(maxsize=1)
def registry() -> dict[str, RegistryEntry]:
    """Read the download registry.

    Returns
    -------
    dict
        Registry entries keyed by file name (the path inside ``NQPF_DATA_DIR``).
    """
    resource = resources.files(__name__).joinpath(REGISTRY_RESOURCE)
    try:
        raw = tomllib.loads(resource.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError as exc:  # pragma: no cover - only a broken install gets here
        raise DataUnavailableError(
            f"The download registry {REGISTRY_RESOURCE} is missing from the installed package "
            f"nqpf_helpers.data ({resource}). Reinstall nqpf_helpers; if you built the wheel yourself, "
            "check that package data is included."
        ) from exc
    return {
        name: RegistryEntry(
            name=name,
            url=spec["url"],
            sha256=spec["sha256"],
            description=spec.get("description", ""),
            url_sha256=spec.get("url_sha256"),
            member=spec.get("member"),
            sheet=spec.get("sheet"),
            citation=spec.get("citation", ""),
        )
        for name, spec in raw.items()
    }


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_dir() -> Path:
    from ..cache import cache_dir  # NQPF_CACHE_DIR, else the user cache folder of nqpf-book

    return cache_dir()


@lru_cache(maxsize=64)
def _verified(path: Path, mtime: float, expected: str) -> bool:
    # Keyed on mtime so a replaced file is hashed again, an unchanged one only once per session.
    return file_sha256(path) == expected


def _cache_path(name: str, entry: RegistryEntry) -> tuple[Path, str | None]:
    """Where :func:`fetch` leaves ``name`` in the download cache, and the sha256 that path must have."""
    folder = _cache_dir() / Path(name).parent
    if entry.member:  # pooch.Unzip extracts beside the archive, into a folder named after the file's stem
        return folder / Path(name).stem / entry.member, entry.sha256
    if entry.sheet:  # the workbook itself: only its own hash (url_sha256) can check it
        return folder / Path(entry.url).name, entry.url_sha256 or None
    # the downloaded file itself: the registry's sha256 unless the upstream object differs (url_sha256)
    return folder / Path(name).name, entry.sha256 if entry.url_sha256 is None else (entry.url_sha256 or None)


def _cached_copy(name: str, entry: RegistryEntry) -> Path | None:
    """The cached copy of ``name`` if there is one, checked against its hash (for offline use)."""
    path, expected = _cache_path(name, entry)
    if not path.is_file():
        return None
    if expected is not None and not _verified(path.resolve(), path.stat().st_mtime, expected):
        raise DataIntegrityError(
            f"The cached copy {path} of {name!r} does not match the registry's sha256 {expected}, and "
            f"{OFFLINE_ENV} forbids downloading it again. Delete the file and run once online, or set "
            f"{DATA_DIR_ENV} to a folder with a verified copy."
        )
    return path


def fetch(name: str) -> Path:
    """Return a local path for registry file ``name``, downloading it if needed.

    Parameters
    ----------
    name
        Registry name, e.g. ``"pwt/pwt91.csv"``.

    Returns
    -------
    pathlib.Path
        Path to a verified local copy.  For a file whose public source is an
        Excel workbook or a zip archive, this is the downloaded workbook or the
        extracted member.

    Raises
    ------
    UnknownDataFileError
        ``name`` is not in the registry (also a ``KeyError``).
    DataIntegrityError
        The local copy, or with ``NQPF_OFFLINE=1`` the cached copy, does not
        match the sha256 in the registry.
    DataUnavailableError
        The file is not in ``NQPF_DATA_DIR`` and cannot be downloaded.

    Notes
    -----
    With ``NQPF_OFFLINE=1`` a copy already in the download cache (from an
    earlier online run) is used when its sha256 matches the registry: the
    file itself for a plain download, the extracted member for an archive,
    and for a workbook or an upstream file that differs from the local copy
    its ``url_sha256``.  One whose hash is not pinned yet (``url_sha256 =
    ""``) is used as it is, exactly as an online run would use it.
    """
    entries = registry()
    if name not in entries:
        raise UnknownDataFileError(f"{name!r} is not in the data registry; known files: {sorted(entries)}")
    entry = entries[name]

    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        local = Path(data_dir).expanduser() / name
        if local.is_file():
            if not _verified(local.resolve(), local.stat().st_mtime, entry.sha256):
                raise DataIntegrityError(
                    f"{local} does not match the registry's sha256 {entry.sha256}. The file is corrupt or a "
                    f"different version; replace it with a fresh download from {entry.url}."
                )
            return local

    where = f"{DATA_DIR_ENV}={data_dir!r} has no {name!r}" if data_dir else f"{DATA_DIR_ENV} is not set"
    fix = (
        f"Either connect to the internet, or download it from {entry.url} by hand and set "
        f"{DATA_DIR_ENV} to the folder that contains {name!r} (e.g. `export {DATA_DIR_ENV}=../shared/data`)."
    )
    if os.environ.get(OFFLINE_ENV, "").lower() in {"1", "true", "yes"}:
        cached = _cached_copy(name, entry)
        if cached is not None:
            return cached
        raise DataUnavailableError(
            f"Data file {name!r} is not available: {where} and {OFFLINE_ENV} forbids downloads. {fix}"
        )

    import pooch

    cache = _cache_dir() / Path(name).parent
    processor = pooch.Unzip(members=[entry.member], extract_dir=Path(name).stem) if entry.member else None
    fname = Path(entry.url).name if (entry.member or entry.sheet) else Path(name).name
    try:
        result = pooch.retrieve(
            url=entry.url,
            known_hash=entry.download_hash,
            fname=fname,
            path=cache,
            processor=processor,
            progressbar=False,
        )
    except (OSError, ValueError) as err:  # requests' errors are OSErrors, pooch's hash mismatch a ValueError
        raise DataUnavailableError(
            f"Data file {name!r} is not available: {where}, and downloading {entry.url} failed "
            f"({type(err).__name__}: {err}). {fix}"
        ) from err
    path = Path(result[0] if isinstance(result, list) else result)
    if entry.member and file_sha256(path) != entry.sha256:
        # The archive's own hash is not pinned, so the member is checked against the registry instead.
        path.unlink()
        raise DataIntegrityError(
            f"{entry.member} extracted from {entry.url} does not match the registry's sha256 {entry.sha256}: "
            "the upstream release has changed. Download the registered version by hand and set "
            f"{DATA_DIR_ENV} to its folder."
        )
    return path


# --------------------------------------------------------------------------- China (authors' files)


def _region_code(series: pd.Series) -> pd.Series:
    from ..regions import normalize_codes  # the package's one code normaliser

    return normalize_codes(series)


def load_gtfp_series() -> pd.DataFrame:
    """Load the authors' provincial GTFP series (input of their LSTM stage).

    Returns
    -------
    pandas.DataFrame
        Columns ``region_code`` (str, 6-digit administrative code), ``year``
        (int) and ``gtfp`` (float): 31 provinces x 1990-2022, sorted.

    Notes
    -----
    Source: ``Test_Data.xlsx`` in the authors' repository {cite}`cao2025`.
    GTFP is from an SBM-DEA model with undesirable outputs under VRS.
    """
    raw = pd.read_excel(fetch("nqpf/Test_Data.xlsx"))
    df = pd.DataFrame(
        {
            "region_code": _region_code(raw["ID"]),
            "year": raw["years"].astype(int),
            "gtfp": raw["Variable"].astype(float),
        }
    )
    return validate_panel(
        df, unit="region_code", time="year", values=["gtfp"], positive=["gtfp"], name="Test_Data.xlsx"
    )


@lru_cache(maxsize=1)
def _nqpf_workbook() -> dict[str, pd.DataFrame]:
    return pd.read_excel(fetch("nqpf/NQPF_Data_China.xlsx"), sheet_name=None)


def load_published_nqpf(level: Level = "province") -> pd.DataFrame:
    """Load the authors' published GTFP and NQPF for one administrative level.

    Parameters
    ----------
    level
        ``"province"`` (31 units, 2010-2022), ``"city"`` (296, 2010-2021) or
        ``"county"`` (2,711, 2010-2021).

    Returns
    -------
    pandas.DataFrame
        Columns ``region_code`` (str), ``year`` (int), ``gtfp``, ``nqpf``
        (float), sorted by region and year.  Values are as published,
        including the negative and extreme NQPF values found at city and
        county level.
    """
    if level not in _NQPF_SHEETS:
        raise InputError(f"level must be one of {sorted(_NQPF_SHEETS)}, got {level!r}.")
    raw = _nqpf_workbook()[_NQPF_SHEETS[level]]
    df = pd.DataFrame(
        {
            "region_code": _region_code(raw["REGION CODE"]),
            "year": raw["YEAR"].astype(int),
            "gtfp": raw["GTFP"].astype(float),
            "nqpf": raw["NQPF"].astype(float),
        }
    )
    return validate_panel(
        df, unit="region_code", time="year", values=["gtfp", "nqpf"], name=f"published NQPF ({level})"
    )


# --------------------------------------------------------------------------- world panel (PWT + CEDS)


def load_pwt() -> pd.DataFrame:
    """Load Penn World Table 9.1 with all its columns.

    Returns
    -------
    pandas.DataFrame
        One row per country-year; ``isocode`` renamed ``iso3``, ``year`` int.
        Key columns: ``rgdpna`` (real GDP at constant 2011 national prices,
        mil. 2011 US$), ``rnna`` (capital stock at constant 2011 national
        prices, mil. 2011 US$), ``emp`` (persons engaged, millions).
    """
    path = fetch("pwt/pwt91.csv")
    if path.suffix.lower() in {".xlsx", ".xls"}:
        raw = pd.read_excel(path, sheet_name=registry()["pwt/pwt91.csv"].sheet)
    else:
        raw = pd.read_csv(path)
    raw = raw.rename(columns={"isocode": "iso3", "countrycode": "iso3"})
    raw["year"] = raw["year"].astype(int)
    return raw


def load_ceds(species: str) -> pd.DataFrame:
    """Load CEDS total anthropogenic emissions by country for one species.

    Parameters
    ----------
    species
        One of ``"SO2"``, ``"NOx"``, ``"BC"``, ``"OC"``, ``"CO2"``.

    Returns
    -------
    pandas.DataFrame
        Long format: ``iso3`` (upper case), ``year`` (int), ``value`` (kt).
        CEDS aggregates such as ``global`` (shipping, aviation) are dropped.
    """
    if species not in _CEDS_SPECIES:
        raise InputError(f"species must be one of {_CEDS_SPECIES}, got {species!r}.")
    raw = pd.read_csv(fetch(f"ceds/{species}_CEDS_emissions_by_country_2021_02_05.csv"))
    year_cols = [c for c in raw.columns if c.startswith("X") and c[1:].isdigit()]
    long = raw.melt(id_vars=["country"], value_vars=year_cols, var_name="year", value_name="value")
    long["year"] = long["year"].str[1:].astype(int)
    long = long[long["country"].str.len() == 3].copy()
    long["iso3"] = long["country"].str.upper()
    return long[["iso3", "year", "value"]].sort_values(["iso3", "year"]).reset_index(drop=True)


def balance_panel(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    values: Iterable[str],
    positive: Iterable[str] = (),
    start: int,
    end: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the units observed with valid values in every period ``start..end``.

    Parameters
    ----------
    df
        Long panel.
    unit, time
        Unit and period columns.
    values
        Columns that must be present (non-missing) in every kept row.
    positive
        Columns that must also be strictly positive.
    start, end
        Inclusive period range to keep.

    Returns
    -------
    (balanced, dropped)
        ``balanced`` holds the complete units; ``dropped`` has one row per
        removed unit with columns ``unit`` and ``reason`` saying which column
        failed in how many periods.
    """
    values, positive = list(values), list(positive)
    window = df[(df[time] >= start) & (df[time] <= end)]
    years = range(start, end + 1)
    reasons: dict[object, list[str]] = {}
    for u, g in window.groupby(unit, sort=True):
        problems = []
        missing_years = len(set(years) - set(g[time]))
        if missing_years:
            problems.append(f"not observed in {missing_years} of {len(years)} years")
        for col in values:
            n_na = int(g[col].isna().sum())
            if n_na:
                problems.append(f"{col} missing in {n_na} years")
        for col in positive:
            n_bad = int((g[col] <= 0).sum())
            if n_bad:
                problems.append(f"{col} <= 0 in {n_bad} years")
        if problems:
            reasons[u] = problems
    dropped = pd.DataFrame({"unit": list(reasons), "reason": ["; ".join(p) for p in reasons.values()]})
    kept = window[~window[unit].isin(reasons)].sort_values([unit, time]).reset_index(drop=True)
    return kept, dropped


def load_world_panel(start: int = 1990, end: int = 2017) -> pd.DataFrame:
    """Build the balanced world panel of SBM inputs and outputs.

    PWT 9.1 gives labour (``emp``), capital (``rnna``) and GDP (``rgdpna``);
    CEDS gives SO2, NOx and smoke (black + organic carbon, the closest public
    stand-in for "smoke and dust").  Countries are kept only if every variable
    is present in every year ``start..end`` and the PWT variables are positive.

    Parameters
    ----------
    start, end
        Inclusive year range (PWT 9.1 ends in 2017).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`WORLD_PANEL_COLUMNS`: ``iso3``, ``country``, ``year``,
        ``labour`` (persons engaged, millions), ``capital`` and ``gdp``
        (mil. 2011 US$ at constant national prices), ``so2``, ``nox``,
        ``smoke`` (kt).  :func:`world_panel_dropped` lists the countries left
        out and why.
    """
    return _world_panel(start, end)[0]


def world_panel_dropped(start: int = 1990, end: int = 2017) -> pd.DataFrame:
    """The countries that :func:`load_world_panel` leaves out, with the reason.

    Parameters
    ----------
    start, end
        Inclusive year range, as given to :func:`load_world_panel`.

    Returns
    -------
    pandas.DataFrame
        One row per dropped country: ``iso3``, ``country`` (PWT's name) and
        ``reason`` (e.g. ``"no CEDS emissions for this code"`` or the
        variables missing or not positive in some year).

    Examples
    --------
    >>> dropped = world_panel_dropped(1990, 2017)  # doctest: +SKIP
    >>> list(dropped.columns)  # doctest: +SKIP
    ['iso3', 'country', 'reason']
    """
    return _world_panel(start, end)[1]


def _world_panel(start: int, end: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The balanced world panel and the table of dropped countries."""
    if start > end:
        raise InputError(f"start ({start}) must not be after end ({end}).")
    pwt = load_pwt()
    if end > pwt["year"].max() or start < pwt["year"].min():
        raise InputError(
            f"PWT 9.1 covers {pwt['year'].min()}-{pwt['year'].max()}; requested {start}-{end}. "
            "Choose years inside that range."
        )
    econ = pwt[["iso3", "country", "year", "emp", "rnna", "rgdpna"]].rename(
        columns={"emp": "labour", "rnna": "capital", "rgdpna": "gdp"}
    )
    emissions = None
    for species, column in [("SO2", "so2"), ("NOx", "nox"), ("BC", "bc"), ("OC", "oc")]:
        part = load_ceds(species).rename(columns={"value": column})
        emissions = part if emissions is None else emissions.merge(part, on=["iso3", "year"], how="outer")
    assert emissions is not None
    emissions["smoke"] = emissions["bc"] + emissions["oc"]
    panel = econ.merge(emissions[["iso3", "year", "so2", "nox", "smoke"]], on=["iso3", "year"], how="left")

    not_in_ceds = sorted(set(econ["iso3"]) - set(emissions["iso3"]))
    value_cols = ["labour", "capital", "gdp", "so2", "nox", "smoke"]
    balanced, dropped = balance_panel(
        panel, unit="iso3", time="year", values=value_cols, positive=["labour", "capital", "gdp"], start=start, end=end
    )
    dropped = dropped.rename(columns={"unit": "iso3"})
    dropped.loc[dropped["iso3"].isin(not_in_ceds), "reason"] = "no CEDS emissions for this code"
    names = econ.drop_duplicates("iso3").set_index("iso3")["country"]
    dropped.insert(1, "country", dropped["iso3"].map(names))
    balanced = validate_panel(
        balanced[WORLD_PANEL_COLUMNS],
        unit="iso3",
        time="year",
        values=value_cols,
        positive=["labour", "capital", "gdp"],
        nonnegative=["so2", "nox", "smoke"],
        name="world panel",
    )
    return balanced, dropped.reset_index(drop=True)


# --------------------------------------------------------------------------- boundaries

# Natural Earth sets ISO_A3 to -99 for a few countries (upstream, ADM0_A3 holds a code);
# the trimmed copy lacks ADM0_A3, so the codes the world panel needs are filled by name.
_ISO3_FALLBACK = {"France": "FRA", "Norway": "NOR", "Kosovo": "XKX"}


def load_world_boundaries():
    """Load Natural Earth 1:110m country boundaries.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``iso3``, ``name``, ``continent``, ``geometry`` (EPSG:4326).
        ``iso3`` is ``None`` for the few territories without an ISO code
        (e.g. Northern Cyprus, Somaliland).
    """
    import geopandas as gpd

    gdf = gpd.read_file(fetch("naturalearth/ne_110m_admin_0_countries.geojson"))
    iso = gdf["ISO_A3"].astype(str)
    if "ADM0_A3" in gdf.columns:
        iso = iso.where(iso != "-99", gdf["ADM0_A3"].astype(str))
    iso = iso.where(iso != "-99", gdf["NAME"].map(_ISO3_FALLBACK))
    out = gpd.GeoDataFrame(
        {"iso3": iso.where(iso.notna() & (iso != "-99"), None), "name": gdf["NAME"], "continent": gdf["CONTINENT"]},
        geometry=gdf.geometry,
        crs=gdf.crs or "EPSG:4326",
    )
    return out.to_crs("EPSG:4326")


def coverage(df: pd.DataFrame, unit: str, time: str = "year") -> dict[str, object]:
    """Summarise a panel's coverage: number of units, years and rows."""
    years = df[time]
    return {
        "units": int(df[unit].nunique()),
        "first_year": int(years.min()),
        "last_year": int(years.max()),
        "years": int(years.nunique()),
        "rows": int(len(df)),
        "missing_values": int(np.sum(df.isna().to_numpy())),
    }


# Result tables of the project's benchmarks, shipped as package data (.benchmarks), and China's
# provinces from yearbook inputs (defined in .china, which imports fetch from here).
from .benchmarks import load_bootstrap_coverage  # noqa: E402
from .china import (  # noqa: E402
    CHINA_PANEL_COLUMNS,
    CHINA_PANEL_UNITS,
    YEARBOOK_TOTALS,
    china_province_codes,
    load_china_energy_panel,
    load_china_industrial_panel,
)
