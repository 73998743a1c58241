"""Checking a frame for mapping and joining it to boundaries (shared by interactive and static maps).

Codes without a boundary (e.g. Laiwu 371200, merged into Jinan in 2019) are
never dropped silently: :func:`unmatched_codes` lists them with the reason,
and every map result carries the same table.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import regions
from ..errors import MapInputError
from ..validate import format_list, require_columns

if TYPE_CHECKING:  # heavy import, only needed when a map is drawn
    import geopandas

__all__ = ["DEFAULT_SIMPLIFY", "map_levels", "unmatched_codes"]

#: Simplification tolerance in degrees for each level, coarser where units are
#: many: about 2 km for the 31 provinces and ~370 cities, 3 km for the ~2,800
#: counties.  That is hardly visible at the national zoom the maps open at,
#: and a book page with a province, a city and a county map stays well under
#: 1.5 MB (at 1 km and three decimals a county map alone took 2.5 MB).
DEFAULT_SIMPLIFY: dict[str, float | None] = {"province": 0.02, "city": 0.02, "county": 0.03, "world": None}
# Coordinates are rounded too: 2 decimals is about 1 km, below every tolerance above.
_DECIMALS = {"province": 2, "city": 2, "county": 2, "world": 2}
_WEIGHT = {"province": 0.8, "city": 0.5, "county": 0.25, "world": 0.5}
_LEVELS = (*regions.LEVELS, "world")


def map_levels() -> tuple[str, ...]:
    """Levels the map functions accept: ``province``, ``city``, ``county`` and ``world``."""
    return _LEVELS


def _check_frame(df: pd.DataFrame, *, value: str, unit: str, time: str | None) -> None:
    hint = "Pass value=..., unit=... or time=... naming your columns."
    if isinstance(df, pd.DataFrame) and time is not None and time not in df.columns:
        hint += " Pass time=None for a single cross-section."
    require_columns(df, [unit, value, time], "map data", error=MapInputError, hint=hint)
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
    keys = [unit] + ([time] if time else [])
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        rows = df.loc[dup, keys].drop_duplicates().itertuples(index=False)
        shown = format_list("/".join(str(v) for v in row) for row in rows)
        raise MapInputError(
            f"{int(dup.sum())} rows share a {'/'.join(keys)} with another row ({shown}); a map shows one value "
            f"per region{' and year' if time else ''}. Aggregate or filter the frame first"
            + ("" if time else ", or pass time=... to add a year selector")
            + "."
        )


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
def _china_features(level: str, simplify: float | None) -> geopandas.GeoDataFrame:
    frame = regions.boundaries(level, simplify=simplify)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", regions.UnmappedRegionWarning)
        info = regions.region_table(frame["region_code"].tolist()).set_index("region_code")
    frame = frame.copy()
    name_en = info["name_en"].reindex(frame["region_code"]).to_numpy()
    frame["name"] = [f"{zh} {en}" if isinstance(en, str) else str(zh) for zh, en in zip(frame["name_zh"], name_en)]
    return frame.rename(columns={"region_code": "key"})[["key", "name", "geometry"]]


@lru_cache(maxsize=2)
def _world_features(simplify: float | None) -> geopandas.GeoDataFrame:
    from ..data import load_world_boundaries

    frame = load_world_boundaries()
    frame = frame[frame["iso3"].notna()].drop_duplicates("iso3").copy()
    if simplify:
        frame["geometry"] = frame.geometry.simplify(simplify, preserve_topology=True)
    frame = frame.rename(columns={"iso3": "key"})
    return frame[["key", "name", "geometry"]].reset_index(drop=True)


@dataclass(frozen=True)
class _Prepared:
    level: str
    features: Any  # GeoDataFrame with key, name, geometry
    wide: pd.DataFrame  # index key (matched only), one column per year
    years: list
    unmatched: pd.DataFrame
    flags: pd.DataFrame | None = None  # same shape as wide, True where flagged (e.g. at the frontier)


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
    df: pd.DataFrame, *, value: str, unit: str, time: str | None, level: str | None, simplify: float | None | str,
    names: str | None = None, flag: str | None = None,
) -> _Prepared:
    _check_level(level)
    _check_frame(df, value=value, unit=unit, time=time)
    if flag is not None:
        _check_flag(df, flag)
    frame = df[[c for c in dict.fromkeys([unit, value, time, names, flag]) if c is not None]].copy()
    if level == "world":
        frame[unit] = frame[unit].astype(str).str.strip().str.upper()
    else:
        frame[unit] = regions.normalize_codes(frame[unit])
        if level is None:
            level = _infer_level(frame[unit].unique().tolist())
    tol = DEFAULT_SIMPLIFY[level] if simplify == "default" else simplify
    features = _world_features(tol) if level == "world" else _china_features(level, tol)
    if time is None:
        frame["__year"] = "value"
        time_col = "__year"
    else:
        time_col = time
    wide = frame.pivot(index=unit, columns=time_col, values=value).astype(float)
    wide = wide.reindex(sorted(wide.columns), axis=1)
    known = set(features["key"])
    missing = [k for k in wide.index if k not in known]
    if level == "world":
        country = frame.drop_duplicates(unit).set_index(unit)[names] if names else None
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
    flags = None
    if flag is not None:
        flags = (
            frame.assign(**{flag: frame[flag].fillna(False).astype(bool)})
            .pivot(index=unit, columns=time_col, values=flag)
            .reindex(index=wide.index, columns=wide.columns)
            .fillna(False)
            .astype(bool)
        )
    return _Prepared(
        level=level, features=features, wide=wide, years=list(wide.columns), unmatched=unmatched, flags=flags
    )


def _check_flag(df: pd.DataFrame, flag: str) -> None:
    require_columns(
        df, [flag], "map data", error=MapInputError,
        hint="flag= names a boolean column, e.g. df['at_frontier'] = quality.at_frontier(df).",
    )
    col = df[flag]
    if not pd.api.types.is_bool_dtype(col):
        values = set(col.dropna().unique().tolist())
        if not values <= {0, 1}:
            raise MapInputError(
                f"flag column {flag!r} must be boolean (True where a region-year is flagged), got dtype "
                f"{col.dtype} with values such as {format_list(sorted(map(repr, values))[:5])}. "
                "Build it with e.g. quality.at_frontier(df)."
            )


def unmatched_codes(
    df: pd.DataFrame,
    level: str | None = None,
    *,
    unit: str = "region_code",
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
        None) or ``"world"`` (``unit`` then names the ISO3 column).
    unit, value, time
        Column names, as in :func:`nqpf_helpers.maps.interactive.china_choropleth`.

    Returns
    -------
    pandas.DataFrame
        China: columns ``region_code``, ``name_zh``, ``name_en`` (NaN when
        unknown) and ``reason``; world: ``iso3``, ``name``, ``reason``.  Empty
        when every code has a boundary.
    """
    # Unsimplified boundaries: the join needs only their keys, and simplifying
    # a county layer costs more than reading it.
    return _prepare(df, value=value, unit=unit, time=time, level=level, simplify=None).unmatched
