"""Seaborn figures of NQPF over time, by level and group, with their summary tables.

Every figure here is drawn from a tidy summary table that a public function
also returns, so that the numbers a figure shows can be checked (and quoted)
without reading pixels:

========================  ==========================================
figure                    table
========================  ==========================================
:func:`trend_by_level`    :func:`group_trend_table` (per level)
:func:`trend_by_group`    :func:`group_trend_table`
:func:`seed_band_plot`    :func:`nqpf_helpers.nqpf.seed_band`
:func:`ranking_plot`      :func:`ranking_table`
:func:`rank_change_plot`  :func:`rank_change_table`
:func:`dispersion_plot`   :func:`dispersion_table`
========================  ==========================================

Uncertainty is drawn where it exists.  For published levels, a single table
of values, the band is the spread *between units* (by default the
inter-quartile range).  For the book's own reproduction, which has one value
per seed, :func:`group_trend_table` with ``replicate="seed"`` computes the statistic
within each seed and the band is the spread *between seeds*.

The published county file holds NQPF values that are negative or far above
any plausible value (predicted GTFP near or below zero, see the
reproduction chapter).  :func:`mask_implausible` sets them to NaN
and flags them, so that means, variation coefficients and Theil indices are
not driven by a handful of artefacts; every table here counts what it skipped.

All functions take long DataFrames with explicit column names and return a
:class:`matplotlib.figure.Figure` or a DataFrame; none of them shows or saves
anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .errors import InputError
from .fonts import use_chinese_fonts
from .validate import PanelError, format_list, require_columns

use_chinese_fonts()  # Chinese names and labels render with the packaged fallback font

__all__ = [
    "DISPERSION_MEASURES",
    "dispersion_plot",
    "dispersion_table",
    "group_trend_table",
    "mask_implausible",
    "rank_change_plot",
    "rank_change_table",
    "ranking_plot",
    "ranking_table",
    "seed_band_plot",
    "trend_by_group",
    "trend_by_level",
    "trend_figure",
]

_STATS = ("mean", "median")
DISPERSION_MEASURES: dict[str, str] = {
    "sd": "standard deviation",
    "cv": "coefficient of variation (sd / mean)",
    "iqr": "inter-quartile range",
    "qcd": "quartile coefficient of dispersion (IQR / (Q1 + Q3))",
    "theil": "Theil T index",
    "share_above_one": "share of units with NQPF > 1",
}
"""Measures of :func:`dispersion_table`, with the label used on plots."""


# --------------------------------------------------------------------------- checks


_REGION_COLUMNS = ("group", "yangtze_belt", "name_en", "level")


def _require(df: object, cols: Sequence[str | None], name: str) -> pd.DataFrame:
    region = isinstance(df, pd.DataFrame) and any(c in _REGION_COLUMNS and c not in df.columns for c in cols)
    hint = "Region columns come from nqpf_helpers.regions.add_region_info(df)." if region else ""
    require_columns(df, cols, name, hint=hint)
    if df.empty:
        raise PanelError(f"{name}: the table has no rows; check the filters applied before plotting.")
    return df


def _check_stat(stat: str) -> None:
    if stat not in _STATS:
        raise InputError(f"stat must be one of {list(_STATS)}, got {stat!r}.")


def _check_quantiles(lower: float, upper: float) -> None:
    if not 0 <= lower < upper <= 1:
        raise InputError(f"need 0 <= lower < upper <= 1 for the band quantiles, got lower={lower}, upper={upper}.")


def _check_levels(levels: object) -> Mapping[str, pd.DataFrame]:
    if isinstance(levels, pd.DataFrame) or not isinstance(levels, Mapping) or not levels:
        raise InputError(
            "levels must be a non-empty mapping such as {'province': df, 'city': df, 'county': df}; "
            f"got {type(levels).__name__}."
        )
    return levels


# --------------------------------------------------------------------------- anomalies


def mask_implausible(
    df: pd.DataFrame, *, value: str = "nqpf", lower: float = 0.0, upper: float = 5.0
) -> pd.DataFrame:
    """Set values outside ``(lower, upper]`` to NaN and flag them.

    NQPF is a ratio of two GTFP values in ``(0, 1]``: a value ``<= 0`` means a
    predicted GTFP ``<= 0`` and a very large one a prediction near zero.
    Neither says anything about productivity, and a mean over units is
    dominated by them, so summaries skip them (and count them) instead.

    Parameters
    ----------
    df
        Table with column ``value``.
    value
        Column to check.
    lower, upper
        Values ``<= lower`` or ``> upper`` are implausible.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` with implausible values of ``value`` set to NaN, the
        original kept in ``f"{value}_raw"`` and a boolean column ``implausible``.
    """
    _require(df, [value], "mask_implausible")
    if not lower < upper:
        raise InputError(f"need lower < upper, got lower={lower}, upper={upper}.")
    out = df.copy()
    raw = out[value].to_numpy(dtype=float)
    bad = (raw <= lower) | (raw > upper)
    out[f"{value}_raw"] = raw
    out["implausible"] = bad
    out[value] = np.where(bad, np.nan, raw)
    return out


# --------------------------------------------------------------------------- trends


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def group_trend_table(
    df: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    value: str = "nqpf",
    time: str = "year",
    unit: str = "region_code",
    stat: str = "mean",
    lower: float = 0.25,
    upper: float = 0.75,
    replicate: str | None = None,
) -> pd.DataFrame:
    """Centre and band of ``value`` per group and year: the numbers trend plots draw.

    Parameters
    ----------
    df
        Long table, one row per unit and year (and replicate, e.g. seed, if
        ``replicate`` is given).
    by
        Grouping column(s), e.g. ``"group"`` or ``"yangtze_belt"`` (from
        :func:`nqpf_helpers.regions.add_region_info`); ``None`` for all units.
    value, time, unit
        Column names.  Missing values of ``value`` (e.g. masked by
        :func:`mask_implausible`) are skipped and counted in ``n_missing``.
    stat
        ``"mean"`` or ``"median"`` over units.
    lower, upper
        Quantiles of the band.
    replicate
        Column of replicate runs (e.g. ``"seed"``).  Without it, ``centre`` is ``stat`` over
        units and the band the ``lower``/``upper`` quantiles *of the units*.
        With it, ``stat`` over units is computed within each seed, ``centre``
        is the mean of that over seeds and the band its quantiles *across
        seeds*.

    Returns
    -------
    pandas.DataFrame
        Columns ``by...``, ``time``, ``centre``, ``lo``, ``hi``, ``n_units``,
        ``n_missing``, ``n_seeds`` and ``band`` (``"units"`` or ``"seeds"``),
        sorted by group and year.
    """
    keys = _as_list(by)
    _require(df, [*keys, time, unit, value, replicate], "group_trend_table")
    _check_stat(stat)
    _check_quantiles(lower, upper)
    if replicate is None and df.duplicated([unit, time]).any():
        raise PanelError(
            "group_trend_table: several rows per unit and year; if they are seeds, pass replicate='seed' "
            "so that the band is computed across seeds."
        )
    d = df.copy()
    d[value] = pd.to_numeric(d[value], errors="raise").astype(float)
    per = [*keys, time]
    if replicate is None:
        g = d.groupby(per, sort=True, observed=True)[value]
        out = pd.DataFrame(
            {
                "centre": g.mean() if stat == "mean" else g.median(),
                "lo": g.quantile(lower),
                "hi": g.quantile(upper),
                "n_units": g.count(),
                "n_missing": g.size() - g.count(),
            }
        ).reset_index()
        out["n_seeds"] = 1
        out["band"] = "units"
    else:
        g = d.groupby([*per, replicate], sort=True, observed=True)[value]
        within = pd.DataFrame(
            {
                "s": g.mean() if stat == "mean" else g.median(),
                "n_units": g.count(),
                "n_missing": g.size() - g.count(),
            }
        ).reset_index()
        h = within.groupby(per, sort=True, observed=True)
        out = pd.DataFrame(
            {
                "centre": h["s"].mean(),
                "lo": h["s"].quantile(lower),
                "hi": h["s"].quantile(upper),
                "n_units": h["n_units"].max(),
                "n_missing": h["n_missing"].max(),
                "n_seeds": h["s"].size(),
            }
        ).reset_index()
        out["band"] = "seeds"
    return out[[*per, "centre", "lo", "hi", "n_units", "n_missing", "n_seeds", "band"]]


def _value_label(value: str) -> str:
    return "NQPF" if value.lower() == "nqpf" else value


def _year_axis(ax) -> None:
    # years are integers; the default locator puts ticks at 2012.5
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))


def _draw_trend(ax, table: pd.DataFrame, *, time: str, label: str | None, color, band: bool) -> None:
    ax.plot(table[time], table["centre"], marker="o", ms=3, lw=1.5, color=color, label=label)
    if band:
        ax.fill_between(table[time], table["lo"], table["hi"], color=color, alpha=0.2, lw=0)
    _year_axis(ax)


def trend_by_level(
    levels: Mapping[str, pd.DataFrame],
    *,
    value: str = "nqpf",
    time: str = "year",
    unit: str = "region_code",
    stat: str = "mean",
    lower: float = 0.25,
    upper: float = 0.75,
    band: bool = True,
    reference: float | None = 1.0,
    sharey: bool = False,
    height: float = 3.2,
) -> Figure:
    """NQPF over time, one panel per administrative level (the paper's Figure 5).

    Parameters
    ----------
    levels
        ``{"province": df, "city": df, "county": df}``, each a long table.
    value, time, unit, stat, lower, upper
        As in :func:`group_trend_table` (without grouping).
    band
        Shade the ``lower``-``upper`` spread between units.
    reference
        Draw a dotted horizontal line here (NQPF = 1: on the growth path);
        ``None`` for none.
    sharey
        Share the y axis between panels.
    height
        Panel height in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per level, titled with the level, in the order of ``levels``.
    """
    levels = _check_levels(levels)
    tables = {
        k: group_trend_table(d, value=value, time=time, unit=unit, stat=stat, lower=lower, upper=upper)
        for k, d in levels.items()
    }
    n = len(tables)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, height), sharey=sharey, squeeze=False)
    for ax, (level, table), color in zip(axes[0], tables.items(), sns.color_palette(n_colors=n)):
        _draw_trend(ax, table, time=time, label=f"{stat}", color=color, band=band)
        if reference is not None:
            ax.axhline(reference, color="0.3", ls=":", lw=1)
        ax.set(title=level, xlabel=time, ylabel=f"{_value_label(value)} ({stat})")
    fig.tight_layout()
    return fig


def trend_by_group(
    data: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    group: str = "group",
    value: str = "nqpf",
    time: str = "year",
    unit: str = "region_code",
    stat: str = "mean",
    lower: float = 0.25,
    upper: float = 0.75,
    replicate: str | None = None,
    band: bool = True,
    labels: Mapping[object, str] | None = None,
    order: Sequence[object] | None = None,
    reference: float | None = 1.0,
    sharey: bool = False,
    height: float = 3.2,
) -> Figure:
    """NQPF over time, one line (and band) per group; one panel per level if given several.

    Parameters
    ----------
    data
        A long table, or ``{"province": df, "city": df, ...}`` for one panel each.
    group
        Grouping column, e.g. ``"group"`` (East/Central/West/Northeast) or
        ``"yangtze_belt"`` from :func:`nqpf_helpers.regions.add_region_info`.
    value, time, unit, stat, lower, upper, replicate
        As in :func:`group_trend_table`.
    band
        Shade the band of :func:`group_trend_table`.
    labels
        Legend text per group value, e.g. ``{True: "Yangtze belt", False: "rest"}``.
    order
        Group values in drawing order; default: categorical order, else sorted.
    reference, sharey, height
        As in :func:`trend_by_level`.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per table, one line per group (its label the group's legend
        text), the legend on the first axes.
    """
    panels = {"": data} if isinstance(data, pd.DataFrame) else dict(_check_levels(data))
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(3.8 * n if n > 1 else 6.0, height), sharey=sharey, squeeze=False)
    labels = dict(labels or {})
    for ax, (title, df) in zip(axes[0], panels.items()):
        table = group_trend_table(
            df, by=group, value=value, time=time, unit=unit, stat=stat, lower=lower, upper=upper, replicate=replicate
        )
        present = list(table[group].drop_duplicates())
        if order is not None:
            groups = [g for g in order if g in present]
        elif isinstance(df[group].dtype, pd.CategoricalDtype):
            groups = [g for g in df[group].cat.categories if g in present]
        else:
            groups = sorted(present)
        for g, color in zip(groups, sns.color_palette(n_colors=len(groups))):
            _draw_trend(ax, table[table[group] == g], time=time, label=labels.get(g, str(g)), color=color, band=band)
        if reference is not None:
            ax.axhline(reference, color="0.3", ls=":", lw=1)
        spread = "seeds" if replicate is not None else "units"
        ylabel = f"{_value_label(value)} ({stat})"
        band_note = f"\nband: {lower:.0%}-{upper:.0%} across {spread}" if band else ""
        ax.set(title=title, xlabel=time, ylabel=ylabel + band_note)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def seed_band_plot(
    band: pd.DataFrame,
    *,
    published: pd.DataFrame | None = None,
    units: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    unit: str = "region_code",
    time: str = "year",
    value: str = "nqpf",
    ncols: int = 4,
    height: float = 2.6,
) -> Figure:
    """Seed band (and median) of NQPF per unit, optionally with the published values.

    Parameters
    ----------
    band
        From :func:`nqpf_helpers.nqpf.seed_band`: columns ``unit``, ``time``,
        ``nqpf_lo``, ``nqpf_hi``, ``nqpf_median``.
    published
        Optional table with ``unit``, ``time`` and ``value``, drawn as points.
    units
        Units to show, in order; default all units of ``band``.
    names
        Panel titles per unit code (default: the code).
    ncols
        Panels per row.
    height
        Panel height in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per unit (unused grid cells removed), titled with its name,
        each with the band as a filled area, the median as a line and the
        published values as markers.
    """
    _require(band, [unit, time, "nqpf_lo", "nqpf_hi", "nqpf_median"], "seed band")
    if published is not None:
        _require(published, [unit, time, value], "published")
    available = list(dict.fromkeys(band[unit]))
    units = available if units is None else list(units)
    unknown = [u for u in units if u not in set(available)]
    if unknown or not units:
        raise InputError(
            f"units {format_list(unknown) or '(none given)'} are not in the seed band; "
            f"it has {format_list(available)}. Pass codes in the same form (6-digit strings)."
        )
    if ncols < 1:
        raise InputError(f"ncols must be >= 1, got {ncols}.")
    names = dict(names or {})
    ncols = min(ncols, len(units))
    nrows = -(-len(units) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, height * nrows), sharex=True, squeeze=False)
    for ax, u in zip(axes.flat, units):
        b = band[band[unit] == u].sort_values(time)
        ax.fill_between(b[time], b["nqpf_lo"], b["nqpf_hi"], color="C0", alpha=0.3, lw=0, label="seed band")
        ax.plot(b[time], b["nqpf_median"], color="C0", lw=1.2, label="seed median")
        if published is not None:
            p = published[published[unit] == u].sort_values(time)
            p = p[p[time].isin(set(b[time]))]
            ax.plot(p[time], p[value], "ko", ms=3, label="published")
        ax.axhline(1.0, color="0.3", ls=":", lw=1)
        ax.set_title(names.get(u, str(u)), fontsize=10)
        _year_axis(ax)
    for ax in axes.flat[len(units):]:
        fig.delaxes(ax)
    axes.flat[0].legend(fontsize=7)
    fig.supylabel(_value_label(value))
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- rankings


def ranking_table(
    df: pd.DataFrame,
    *,
    value: str = "nqpf",
    time: str = "year",
    unit: str = "region_code",
) -> pd.DataFrame:
    """Rank of every unit in every year, 1 = highest ``value``.

    Ties share the lowest rank (``method="min"``); missing values get no rank.

    Returns
    -------
    pandas.DataFrame
        ``df`` (sorted by time and rank) with an integer column ``rank`` and
        ``n_ranked`` (units ranked that year).
    """
    _require(df, [unit, time, value], "ranking_table")
    if df.duplicated([unit, time]).any():
        raise PanelError(
            "ranking_table: several rows per unit and year; rank one value per unit-year (combine seeds first)."
        )
    out = df.dropna(subset=[value]).copy()
    out["rank"] = out.groupby(time)[value].rank(ascending=False, method="min").astype(int)
    out["n_ranked"] = out.groupby(time)[value].transform("size").astype(int)
    return out.sort_values([time, "rank"]).reset_index(drop=True)


def _pick_years(df: pd.DataFrame, time: str, start: int | None, end: int | None) -> tuple[int, int]:
    years = sorted(set(df[time].astype(int)))
    start = years[0] if start is None else int(start)
    end = years[-1] if end is None else int(end)
    missing = [y for y in (start, end) if y not in years]
    if missing:
        raise InputError(f"year(s) {missing} not in the data; available {years[0]}-{years[-1]}.")
    if start >= end:
        raise InputError(f"start ({start}) must be before end ({end}).")
    return start, end


def rank_change_table(
    df: pd.DataFrame,
    *,
    start: int | None = None,
    end: int | None = None,
    value: str = "nqpf",
    time: str = "year",
    unit: str = "region_code",
    label: str | None = None,
    flag: str | None = None,
) -> pd.DataFrame:
    """Ranks in two years and the change between them (positive = moved up).

    Parameters
    ----------
    df
        Long table, one row per unit and year.
    start, end
        Years to compare; default the first and last year of ``df``.
    value, time, unit
        Column names.
    label
        Optional column with display names, carried over.
    flag
        Optional boolean column (e.g. ``"at_frontier"`` from
        :func:`nqpf_helpers.quality.at_frontier`) carried over for both years
        as ``<flag>_start`` and ``<flag>_end``, so a rank that only reflects a
        frontier tie (GTFP = 1, NQPF = 1 / prediction) is visible.

    Returns
    -------
    pandas.DataFrame
        One row per unit ranked in both years: ``unit``, ``label`` (if
        given), ``value_start``, ``value_end``, ``rank_start``, ``rank_end``
        and ``rank_gain = rank_start - rank_end`` (then the two flag columns,
        if ``flag`` is given), sorted by ``rank_end``.
    """
    _require(df, [unit, time, value, label, flag], "rank_change_table")
    start, end = _pick_years(df, time, start, end)
    ranks = ranking_table(df[df[time].isin([start, end])], value=value, time=time, unit=unit)
    cols = [unit] + ([label] if label else [])
    a = ranks[ranks[time] == start].set_index(unit)
    b = ranks[ranks[time] == end].set_index(unit)
    common = a.index.intersection(b.index)
    out = pd.DataFrame({
        "value_start": a.loc[common, value],
        "value_end": b.loc[common, value],
        "rank_start": a.loc[common, "rank"],
        "rank_end": b.loc[common, "rank"],
    })
    if label:
        out.insert(0, label, b.loc[common, label])
    out["rank_gain"] = out["rank_start"] - out["rank_end"]
    flag_cols = []
    if flag:
        flag_cols = [f"{flag}_start", f"{flag}_end"]
        out[flag_cols[0]] = a.loc[common, flag].astype(bool)
        out[flag_cols[1]] = b.loc[common, flag].astype(bool)
    out = out.reset_index().rename(columns={"index": unit})
    return out[cols + ["value_start", "value_end", "rank_start", "rank_end", "rank_gain", *flag_cols]].sort_values(
        "rank_end"
    ).reset_index(drop=True)


def _highlight_colors(highlight: Sequence[str]) -> dict[str, tuple]:
    return dict(zip(highlight, sns.color_palette("deep", n_colors=max(len(highlight), 1))))


def _check_highlight(highlight: Sequence[str], present: set, key: str) -> list[str]:
    highlight = list(highlight)
    unknown = [h for h in highlight if h not in present]
    if unknown:
        raise InputError(
            f"highlighted unit(s) {format_list(unknown)} not found in column {key!r}; "
            f"examples of its values: {format_list(sorted(map(str, present))[:5])}."
        )
    return highlight


def ranking_plot(
    df: pd.DataFrame,
    *,
    highlight: Sequence[str] = (),
    value: str = "nqpf",
    time: str = "year",
    unit: str = "region_code",
    label: str | None = None,
    height: float = 5.5,
    flag: str | None = None,
    flag_label: str = "at the frontier (GTFP = 1)",
) -> Figure:
    """Bump chart: every unit's rank over time, highlighted units in colour.

    Parameters
    ----------
    df
        Long table, one row per unit and year.
    highlight
        Units to colour and label at the right end (values of ``label`` if
        given, else of ``unit``).
    value, time, unit
        Column names.
    label
        Column with display names (e.g. ``"name_en"``).
    height
        Figure height in inches.
    flag
        Optional boolean column (e.g. ``"at_frontier"``): every flagged
        unit-year, highlighted or not, gets a black ring, so ranks that only
        reflect a frontier tie stand out.
    flag_label
        Legend text of the ring.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with one line per unit (rank 1 at the top); highlighted
        lines carry their name as label, the others none; with ``flag`` one
        more legend entry, ``flag_label`` with the number of flagged unit-years.
    """
    _require(df, [unit, time, value, label, flag], "ranking_plot")
    ranks = ranking_table(df, value=value, time=time, unit=unit)
    key = label or unit
    highlight = _check_highlight(highlight, set(ranks[key]), key)
    colors = _highlight_colors(highlight)
    fig, ax = plt.subplots(figsize=(8, height))
    for name, r in ranks.groupby(key, sort=True):
        r = r.sort_values(time)
        if name in colors:
            continue
        ax.plot(r[time], r["rank"], color="0.8", lw=0.8, zorder=1)
    for name in highlight:
        r = ranks[ranks[key] == name].sort_values(time)
        ax.plot(r[time], r["rank"], color=colors[name], lw=2.2, marker="o", ms=4, label=str(name), zorder=3)
        ax.annotate(str(name), (r[time].iloc[-1], r["rank"].iloc[-1]), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=8, color=colors[name])
    if flag:
        marked = ranks[ranks[flag].fillna(False).astype(bool)]
        ax.scatter(marked[time], marked["rank"], s=40, facecolors="none", edgecolors="black", linewidths=1.1,
                   zorder=4, label=f"{flag_label} ({len(marked)})")
    ax.invert_yaxis()
    _year_axis(ax)
    ax.set(xlabel=time, ylabel=f"rank of {_value_label(value)} (1 = highest)")
    if highlight or flag:
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def rank_change_plot(
    df: pd.DataFrame,
    *,
    start: int | None = None,
    end: int | None = None,
    highlight: Sequence[str] = (),
    value: str = "nqpf",
    time: str = "year",
    unit: str = "region_code",
    label: str | None = None,
    height: float = 6.5,
) -> Figure:
    """Slope chart of ranks between two years, every unit named, highlighted ones in colour.

    Parameters
    ----------
    df, start, end, value, time, unit, label
        As in :func:`rank_change_table`.
    highlight
        Units to colour (values of ``label`` if given, else of ``unit``).
    height
        Figure height in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with one two-point line per unit, from ``(start,
        rank_start)`` to ``(end, rank_end)``; highlighted lines carry their
        name as label.
    """
    _require(df, [unit, time, value, label], "rank_change_plot")
    start, end = _pick_years(df, time, start, end)
    table = rank_change_table(df, start=start, end=end, value=value, time=time, unit=unit, label=label)
    key = label or unit
    highlight = _check_highlight(highlight, set(table[key]), key)
    colors = _highlight_colors(highlight)
    fig, ax = plt.subplots(figsize=(6, height))
    for row in table.itertuples(index=False):
        name = getattr(row, key)
        color = colors.get(name, "0.65")
        strong = name in colors
        ax.plot([start, end], [row.rank_start, row.rank_end], color=color, lw=2.2 if strong else 0.9, marker="o",
                ms=3, label=str(name) if strong else None, zorder=3 if strong else 1)
        kw = dict(fontsize=7, va="center", color=color if strong else "0.35", fontweight="bold" if strong else None)
        ax.text(start - 0.04 * (end - start), row.rank_start, f"{name} {row.rank_start}", ha="right", **kw)
        ax.text(end + 0.04 * (end - start), row.rank_end, f"{row.rank_end} {name}", ha="left", **kw)
    ax.invert_yaxis()
    ax.set_xlim(start - 0.45 * (end - start), end + 0.45 * (end - start))
    ax.set_xticks([start, end])
    ax.set_yticks([])
    ax.set(ylabel=f"rank of {_value_label(value)} (1 = highest)", title=f"Ranks {start} and {end}")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- dispersion


def _theil(x: np.ndarray) -> float:
    # Theil T is defined for positive values only; masked data should have no others.
    if len(x) == 0 or np.any(x <= 0):
        return np.nan
    r = x / x.mean()
    return float(np.mean(r * np.log(r)))


def dispersion_table(
    df: pd.DataFrame,
    *,
    value: str = "nqpf",
    time: str = "year",
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Dispersion of ``value`` between units, year by year.

    Parameters
    ----------
    df
        Long table, one row per unit and year.  Missing values are skipped
        and counted.
    value, time
        Column names.
    by
        Optional grouping column(s), e.g. ``"level"`` after concatenating levels.

    Returns
    -------
    pandas.DataFrame
        One row per group and year: ``n``, ``n_missing``, ``mean``,
        ``median``, and the measures of :data:`DISPERSION_MEASURES` (``sd``
        with ddof=1, ``cv``, ``iqr``, ``qcd``, ``theil``, which is NaN if any
        value is <= 0, and ``share_above_one``).
    """
    keys = _as_list(by)
    _require(df, [*keys, time, value], "dispersion_table")
    rows = []
    for key, g in df.groupby([*keys, time], sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        raw = pd.to_numeric(g[value], errors="raise").to_numpy(dtype=float)
        x = raw[np.isfinite(raw)]
        q1, q3 = (np.quantile(x, [0.25, 0.75]) if len(x) else (np.nan, np.nan))
        mean = float(x.mean()) if len(x) else np.nan
        sd = float(x.std(ddof=1)) if len(x) > 1 else np.nan
        rows.append(
            {
                **dict(zip([*keys, time], key)),
                "n": int(len(x)),
                "n_missing": int(len(raw) - len(x)),
                "mean": mean,
                "median": float(np.median(x)) if len(x) else np.nan,
                "sd": sd,
                "cv": sd / mean if len(x) > 1 and mean != 0 else np.nan,
                "iqr": float(q3 - q1),
                "qcd": float((q3 - q1) / (q3 + q1)) if (q3 + q1) != 0 else np.nan,
                "theil": _theil(x),
                "share_above_one": float(np.mean(x > 1)) if len(x) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def dispersion_plot(
    levels: Mapping[str, pd.DataFrame],
    *,
    measures: Sequence[str] = ("cv", "qcd", "theil", "share_above_one"),
    value: str = "nqpf",
    time: str = "year",
    height: float = 3.0,
) -> Figure:
    """Dispersion measures over time, one panel per measure, one line per level.

    Parameters
    ----------
    levels
        ``{"province": df, "city": df, "county": df}``.
    measures
        Keys of :data:`DISPERSION_MEASURES`.
    value, time
        Column names.
    height
        Panel height in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per measure (titled with its description), one line per
        level labelled with the level's key; the y data are the columns of
        :func:`dispersion_table`.
    """
    levels = _check_levels(levels)
    unknown = [m for m in measures if m not in DISPERSION_MEASURES]
    if unknown or not measures:
        raise InputError(f"unknown measure(s) {unknown or '(none given)'}; choose from {list(DISPERSION_MEASURES)}.")
    tables = {k: dispersion_table(d, value=value, time=time) for k, d in levels.items()}
    n = len(measures)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, height), squeeze=False)
    colors = sns.color_palette(n_colors=len(tables))
    for ax, m in zip(axes[0], measures):
        for (level, t), color in zip(tables.items(), colors):
            ax.plot(t[time], t[m], marker="o", ms=3, color=color, label=level)
        ax.set_title(DISPERSION_MEASURES[m], fontsize=9)
        ax.set(xlabel=time)
        _year_axis(ax)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- the report's figure
def trend_figure(result: object, *, lang: str = "en") -> Figure:
    """The trend figure of the ``nqpf run`` report: GTFP with its growth path, and NQPF by year.

    Parameters
    ----------
    result
        A :class:`nqpf_helpers.pipeline.PipelineResult` (anything with its
        attributes ``gtfp``, ``nqpf``, ``unit``, ``time`` and ``settings``).
    lang
        Language of the titles and legends, a key of
        :data:`nqpf_helpers.i18n.TEXT` (``"en"`` or ``"zh"``).  The x-axis is
        labelled with the data's own time column name.

    Returns
    -------
    matplotlib.figure.Figure
        Left: every unit's GTFP (grey), the mean over units and the mean
        growth path, with the end of the training years marked.  Right: the
        median and 10th-90th percentiles of NQPF over units after the
        training years.
    """
    from .i18n import text

    words = text(lang)
    use_chinese_fonts()  # again, in case a theme reset the font list since import
    t, u = result.time, result.unit  # type: ignore[attr-defined]
    gtfp, n = result.gtfp, result.nqpf  # type: ignore[attr-defined]
    # A Figure object rather than pyplot: no global state, no GUI backend needed.
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for _, g in gtfp.groupby(u):
        ax1.plot(g[t], g["gtfp"], color="0.75", lw=0.8)
    mean_act = n.groupby(t)[["actual", "predicted"]].mean()
    ax1.plot(gtfp.groupby(t)["gtfp"].mean(), color="C0", lw=2, label=words["fig_actual"])
    ax1.plot(mean_act.index, mean_act["predicted"], color="C1", lw=2, ls="--", label=words["fig_path"])
    ax1.set_title(words["fig_left"])
    ax1.set_xlabel(t)
    ax1.legend(fontsize=8)
    test = n[n["split"] == "test"]
    q = test.groupby(t)["nqpf"].quantile([0.1, 0.5, 0.9]).unstack()
    ax2.fill_between(q.index, q[0.1], q[0.9], color="C2", alpha=0.25, label=words["fig_band"])
    ax2.plot(q.index, q[0.5], color="C2", lw=2, label=words["fig_median"])
    ax2.axhline(1.0, color="k", lw=0.8)
    cut = result.settings.get("train_until")  # type: ignore[attr-defined]
    if cut is not None:
        ax1.axvline(cut + 0.5, color="0.4", lw=0.8, ls=":")
        ax1.annotate(words["fig_training_ends"], (cut + 0.5, 1), xycoords=("data", "axes fraction"), fontsize=8,
                     ha="right", va="top", rotation=90)
    ax2.set_title(words["fig_right"])
    ax2.set_xlabel(t)
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):  # years are whole numbers, however few there are
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig
