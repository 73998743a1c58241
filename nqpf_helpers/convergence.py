"""Catch-up statistics for regional panels: beta and sigma convergence, leapfrogging, shares.

These are the standard tools of the growth-empirics literature
(Barro & Sala-i-Martin, 1992) applied to any positive, unit-by-year
indicator, here green TFP or NQPF:

- :func:`beta_convergence` -- do units that start lower grow faster?  OLS of
  the average log growth between two years on the initial log level;
- :func:`sigma_convergence` -- does the cross-section dispersion shrink over
  time?  Standard deviation of logs and coefficient of variation by year,
  with a linear trend test;
- :func:`leapfrogging` -- which units move from the bottom to the top
  quantile group, and the full quantile transition matrix;
- :func:`share_above` -- share of units above a threshold (e.g. NQPF > 1)
  by group and year;
- :func:`average_growth` -- average annual log growth of several columns
  between two years (e.g. inputs and outputs of the SBM model).

Beta convergence is necessary but not sufficient for sigma convergence
(regression to the mean produces a negative beta even when dispersion is
constant), which is why both are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError
from .validate import PanelError, format_list, require_columns, validate_panel

__all__ = [
    "average_growth",
    "BetaConvergence",
    "Leapfrogging",
    "SigmaConvergence",
    "beta_convergence",
    "beta_placebo",
    "leapfrogging",
    "newey_west_lags",
    "share_above",
    "sigma_convergence",
]


@dataclass(frozen=True)
class BetaConvergence:
    """Result of :func:`beta_convergence`.

    Attributes
    ----------
    beta, se, t, p
        Slope on the initial log level, its (HC1-robust) standard error,
        t statistic and two-sided p-value.
    speed
        Implied annual speed of convergence ``-log(1 + beta * T) / T``
        (NaN if ``1 + beta * T <= 0``, i.e. overshooting).
    half_life
        Years to close half the gap, ``log(2) / speed`` (NaN unless speed > 0).
    r2, n, years
        R squared, number of units and length ``T = end - start``.
    data
        One row per unit: ``log_initial``, ``growth`` (average annual log
        growth) and any controls.
    """

    beta: float
    se: float
    t: float
    p: float
    speed: float
    half_life: float
    r2: float
    n: int
    years: int
    data: pd.DataFrame

    @property
    def converging(self) -> bool:
        """Negative beta, significant at 5%."""
        return bool(self.beta < 0 and self.p < 0.05)

    def summary(self) -> pd.Series:
        """The scalar results as one Series (for tables)."""
        return pd.Series(
            {k: getattr(self, k) for k in ["beta", "se", "t", "p", "speed", "half_life", "r2", "n", "years"]}
        )


@dataclass(frozen=True)
class SigmaConvergence:
    """Result of :func:`sigma_convergence`.

    Attributes
    ----------
    table
        One row per year (and group, if any): ``n``, ``sd_log`` (standard
        deviation of log values, ddof=1) and ``cv`` (coefficient of variation).
    slope, se, p
        OLS trend of ``sd_log`` on year (pooled over groups, with group
        intercepts when ``by`` is given): a negative significant slope is
        sigma convergence.  ``se`` and ``p`` use the covariance named in
        ``cov_type``.
    cov_type, maxlags
        ``"HAC"`` (Newey-West, the default) or ``"HC1"``, and the number of
        lags of the HAC kernel (0 for HC1).
    """

    table: pd.DataFrame
    slope: float
    se: float
    p: float
    cov_type: str = "HAC"
    maxlags: int = 0

    @property
    def converging(self) -> bool:
        """Negative trend in dispersion, significant at 5%."""
        return bool(self.slope < 0 and self.p < 0.05)


@dataclass(frozen=True)
class Leapfrogging:
    """Result of :func:`leapfrogging`.

    Attributes
    ----------
    classes
        One row per unit: ``value_start``, ``value_end``, ``q_start``,
        ``q_end`` (1 = bottom group, ``q`` = top group) and ``leapfrog``.
    transitions
        ``q x q`` matrix of shares: row ``i`` is the distribution over end
        groups of units that started in group ``i`` (each row sums to 1).
    counts
        The same matrix in numbers of units.
    """

    classes: pd.DataFrame
    transitions: pd.DataFrame
    counts: pd.DataFrame

    @property
    def leapfroggers(self) -> pd.DataFrame:
        """Units that moved from the bottom to the top group."""
        return self.classes[self.classes["leapfrog"]]


def _window(period: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(period, (tuple, list)):
        if len(period) != 2 or int(period[0]) > int(period[1]):
            raise InputError(f"a period must be a year or a (first, last) pair with first <= last, got {period!r}.")
        return int(period[0]), int(period[1])
    return int(period), int(period)


def _values_in(
    df: pd.DataFrame, value: str, unit: str, time: str, period: int | tuple[int, int], what: str
) -> pd.Series:
    """Mean of ``value`` per unit over a year or window; every unit must cover the whole window."""
    first, last = _window(period)
    sub = df[(df[time] >= first) & (df[time] <= last)]
    if sub.empty:
        years = sorted(df[time].unique())
        raise InputError(
            f"{what}: no rows in {first}-{last}; the data cover {years[0]}-{years[-1]}. Choose years inside that range."
        )
    counts = sub.groupby(unit)[time].nunique()
    short = counts[counts < last - first + 1].index
    if len(short):
        raise PanelError(
            f"{what}: unit(s) {format_list(short)} miss years in {first}-{last}. Drop them or choose another window."
        )
    return sub.groupby(unit)[value].mean()


def _prepared(
    df: pd.DataFrame, value: str, unit: str, time: str, positive: bool, what: str, extra: Sequence[str] = ()
) -> pd.DataFrame:
    require_columns(df, [unit, time, value, *extra], what)
    return validate_panel(
        df[[unit, time, value, *extra]],
        unit=unit,
        time=time,
        values=[value],
        positive=[value] if positive else None,
        balanced=False,
        consecutive=False,
        name=what,
    )


def _ols(y: np.ndarray, X: np.ndarray, cov_type: str = "HC1", cov_kwds: dict | None = None):
    import statsmodels.api as sm

    return sm.OLS(y, X).fit(cov_type=cov_type, cov_kwds=cov_kwds)


def newey_west_lags(n: int) -> int:
    """The usual Newey-West rule of thumb for the HAC lag length, ``floor(4 (n/100)^(2/9))``.

    Parameters
    ----------
    n
        Number of time periods (at least 1).

    Returns
    -------
    int
        At least 1.
    """
    if int(n) < 1:
        raise InputError(f"newey_west_lags: n must be a positive number of periods, got {n!r}.")
    return max(1, int(np.floor(4 * (int(n) / 100) ** (2 / 9))))


def beta_convergence(
    df: pd.DataFrame,
    value: str,
    *,
    unit: str = "region_code",
    time: str = "year",
    start: int,
    end: int,
    controls: Sequence[str] | None = None,
) -> BetaConvergence:
    """Absolute (or, with controls, conditional) beta convergence between two years.

    Estimates ``g_i = a + beta * log y_i,start + gamma' z_i + e_i`` by OLS with
    heteroskedasticity-robust (HC1) standard errors, where
    ``g_i = (log y_i,end - log y_i,start) / (end - start)``.

    Parameters
    ----------
    df
        Long panel with columns ``unit``, ``time``, ``value`` (strictly
        positive) and any ``controls``.
    value
        The indicator, e.g. ``"gtfp"``.
    unit, time
        Column names.
    start, end
        First and last year; units must be observed in both.
    controls
        Columns of per-unit controls (e.g. a 0/1 regional dummy), taken at
        ``start``; dummies for a categorical are the caller's choice.

    Returns
    -------
    BetaConvergence

    Raises
    ------
    PanelError
        A column is missing.
    InputError
        ``end <= start``, fewer than ``3 + len(controls)`` units, a control
        that does not vary, or years outside the data.
    PanelError
        Duplicated unit-years, non-positive or missing values, or units
        missing ``start`` or ``end``.
    """
    controls = list(controls or [])
    what = "beta_convergence"
    require_columns(df, controls, what)
    if int(end) <= int(start):
        raise InputError(f"{what}: end ({end}) must be after start ({start}).")
    panel = _prepared(df, value, unit, time, positive=True, what=what)
    y0 = _values_in(panel, value, unit, time, start, what)
    y1 = _values_in(panel, value, unit, time, end, what)
    lost = y0.index.symmetric_difference(y1.index)
    if len(lost):
        raise PanelError(
            f"{what}: unit(s) {format_list(lost)} are observed in only one of {start} and {end}. "
            "Drop them or choose years every unit covers."
        )
    T = int(end) - int(start)
    out = pd.DataFrame({"log_initial": np.log(y0), "growth": (np.log(y1) - np.log(y0.reindex(y1.index))) / T})
    if controls:
        z = df[df[time] == int(start)].drop_duplicates(unit).set_index(unit)[controls]
        out = out.join(z.astype(float))
        if out[controls].isna().any().any():
            raise InputError(f"{what}: controls {controls} are missing for some units in {start}; fill or drop them.")
        flat = [c for c in controls if out[c].nunique() < 2]
        if flat:
            raise InputError(f"{what}: control(s) {flat} do not vary across units; drop them.")
    k = 2 + len(controls)
    if len(out) <= k:
        raise InputError(f"{what}: {len(out)} units cannot identify {k} coefficients; use more units.")
    if out["log_initial"].nunique() < 2:
        raise InputError(f"{what}: every unit starts at the same level, so beta is not identified.")
    X = np.column_stack([np.ones(len(out)), out["log_initial"].to_numpy(), out[controls].to_numpy(dtype=float)])
    fit = _ols(out["growth"].to_numpy(), X)
    beta, se = float(fit.params[1]), float(fit.bse[1])
    ratio = 1.0 + beta * T
    speed = float(-np.log(ratio) / T) if ratio > 0 else float("nan")
    half_life = float(np.log(2) / speed) if speed > 0 else float("nan")
    return BetaConvergence(
        beta=beta,
        se=se,
        t=float(fit.tvalues[1]),
        p=float(fit.pvalues[1]),
        speed=speed,
        half_life=half_life,
        r2=float(fit.rsquared),
        n=len(out),
        years=T,
        data=out.reset_index(),
    )


def beta_placebo(
    df: pd.DataFrame,
    value: str,
    *,
    unit: str = "region_code",
    time: str = "year",
    start: int,
    end: int,
    draws: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """Beta slopes of panels without convergence: each unit's years shuffled.

    For each draw, the values of every unit over ``start``-``end`` are put in
    a random order of years, and the beta of :func:`beta_convergence` (slope
    of average annual log growth on the initial log level) is computed on the
    shuffled panel. Shuffling keeps each unit's level and spread but removes
    any path, so these slopes are what regression to the mean alone produces:
    a noisy score gives a negative beta even when no unit catches up. The
    placebo's spread reflects only the shuffling, not the sampling error of
    the observed beta: compare the observed beta with the placebo median in
    units of the observed standard error. A beta several standard errors
    below the median is evidence of catch-up beyond noise.

    Parameters
    ----------
    df
        Long panel with columns ``unit``, ``time`` and ``value`` (strictly positive).
    value
        The indicator, e.g. ``"gtfp"``.
    unit, time
        Column names.
    start, end
        First and last year; only units observed in every year of the span
        enter (a shuffle needs the whole span).
    draws
        Number of shuffled panels.
    seed
        Seed of the random generator (the result is a deterministic function
        of the data and ``seed``).

    Returns
    -------
    numpy.ndarray
        ``draws`` placebo slopes.

    Raises
    ------
    InputError
        ``end <= start``, ``draws < 1``, or fewer than 3 units cover every year
        of the span.
    PanelError
        A column is missing, duplicated unit-years, or non-positive values.
    """
    what = "beta_placebo"
    if int(end) <= int(start):
        raise InputError(f"{what}: end ({end}) must be after start ({start}).")
    if int(draws) < 1:
        raise InputError(f"{what}: draws must be at least 1, got {draws}.")
    panel = _prepared(df, value, unit, time, positive=True, what=what)
    span = panel[panel[time].between(int(start), int(end))]
    wide = span.pivot(index=unit, columns=time, values=value).reindex(columns=range(int(start), int(end) + 1))
    wide = wide.dropna()
    if len(wide) < 3:
        raise InputError(
            f"{what}: only {len(wide)} unit(s) are observed in every year {start}-{end}; a placebo needs at least 3. "
            "Choose a span the units cover."
        )
    logs = np.log(wide.to_numpy(dtype=float))
    rng = np.random.default_rng(seed)
    T = int(end) - int(start)
    slopes = np.empty(int(draws))
    for d in range(int(draws)):
        order = np.argsort(rng.random(logs.shape), axis=1)  # a random order of years for each unit
        first = np.take_along_axis(logs, order[:, :1], axis=1)[:, 0]
        last = np.take_along_axis(logs, order[:, -1:], axis=1)[:, 0]
        x = first - first.mean()
        g = (last - first) / T
        slopes[d] = float((x * (g - g.mean())).sum() / (x * x).sum())
    return slopes


def sigma_convergence(
    df: pd.DataFrame,
    value: str,
    *,
    unit: str = "region_code",
    time: str = "year",
    by: str | None = None,
    cov_type: str = "HAC",
    maxlags: int | None = None,
) -> SigmaConvergence:
    """Cross-section dispersion by year and its linear trend.

    The yearly dispersion is a persistent time series, so plain OLS standard
    errors overstate the precision of its trend (they treat 30 autocorrelated
    values as 30 independent ones).  By default the trend's standard error is
    Newey-West HAC (Newey and West, 1987; per group, with ``by``).

    Parameters
    ----------
    df
        Long panel with columns ``unit``, ``time``, ``value`` (strictly
        positive) and ``by`` if given.
    value
        The indicator.
    unit, time
        Column names.
    by
        Optional grouping column (e.g. ``"group"``): dispersion is then
        computed within each group and year.
    cov_type
        ``"HAC"`` (Newey-West; panel HAC within groups when ``by`` is given)
        or ``"HC1"`` (heteroskedasticity-robust only, for comparison).
    maxlags
        HAC lag length; default :func:`newey_west_lags` of the number of years.

    Returns
    -------
    SigmaConvergence

    Raises
    ------
    PanelError, InputError
        Missing columns; duplicated, missing or non-positive values; fewer
        than three years or a year-group with fewer than two units.
    """
    what = "sigma_convergence"
    if cov_type not in ("HAC", "HC1"):
        raise InputError(f"{what}: cov_type must be 'HAC' or 'HC1', got {cov_type!r}.")
    if maxlags is not None and (int(maxlags) != maxlags or maxlags < 0):
        raise InputError(f"{what}: maxlags must be a non-negative integer, got {maxlags!r}.")
    panel = _prepared(df, value, unit, time, positive=True, what=what, extra=[by] if by else [])
    keys = [by, time] if by else [time]
    logs = np.log(panel[value])
    g_log = logs.groupby([panel[k] for k in keys], observed=True)
    g_val = panel.groupby(keys, observed=True)[value]
    table = pd.DataFrame({"n": g_val.size(), "sd_log": g_log.std(ddof=1), "cv": g_val.std(ddof=1) / g_val.mean()})
    table = table.reset_index()
    if (table["n"] < 2).any():
        thin = table[table["n"] < 2]
        raise InputError(
            f"{what}: dispersion needs at least two units per year; {format_list(thin[keys].itertuples(index=False))} "
            "have fewer. Drop those years or groups."
        )
    if table[time].nunique() < 3:
        raise InputError(f"{what}: a trend needs at least three years; got {table[time].nunique()}.")
    X = [np.ones(len(table)), table[time].to_numpy(dtype=float)]
    if by:
        dummies = pd.get_dummies(table[by], drop_first=True, dtype=float)
        X.extend(dummies[c].to_numpy() for c in dummies.columns)
    lags = 0
    if cov_type == "HAC":
        lags = int(maxlags) if maxlags is not None else newey_west_lags(table[time].nunique())
        if by:  # rows are sorted by group, then year: HAC within each group's time series
            codes = pd.factorize(table[by])[0]
            fit = _ols(table["sd_log"].to_numpy(), np.column_stack(X), "hac-panel", {"groups": codes, "maxlags": lags})
        else:
            fit = _ols(table["sd_log"].to_numpy(), np.column_stack(X), "HAC", {"maxlags": lags})
    else:
        fit = _ols(table["sd_log"].to_numpy(), np.column_stack(X))
    return SigmaConvergence(
        table=table, slope=float(fit.params[1]), se=float(fit.bse[1]), p=float(fit.pvalues[1]),
        cov_type=cov_type, maxlags=lags,
    )


def leapfrogging(
    df: pd.DataFrame,
    value: str,
    *,
    unit: str = "region_code",
    time: str = "year",
    start: int | tuple[int, int],
    end: int | tuple[int, int],
    q: int = 4,
) -> Leapfrogging:
    """Quantile groups at the start and end, the transition matrix and the bottom-to-top movers.

    Parameters
    ----------
    df
        Long panel with columns ``unit``, ``time`` and ``value``.
    value
        The indicator ranked (higher is better).
    unit, time
        Column names.
    start, end
        A year or a ``(first, last)`` window; with a window each unit's mean
        over it is ranked, which damps single-year noise.
    q
        Number of quantile groups (4: quartiles).

    Returns
    -------
    Leapfrogging

    Raises
    ------
    PanelError, InputError
        Missing columns, bad values, windows not covered by every unit, units
        observed in only one window, ``q < 2`` or fewer units than groups.
    """
    what = "leapfrogging"
    if int(q) != q or q < 2:
        raise InputError(f"{what}: q must be an integer >= 2, got {q!r}.")
    q = int(q)
    panel = _prepared(df, value, unit, time, positive=False, what=what)
    v0 = _values_in(panel, value, unit, time, start, what)
    v1 = _values_in(panel, value, unit, time, end, what)
    lost = v0.index.symmetric_difference(v1.index)
    if len(lost):
        raise PanelError(f"{what}: unit(s) {format_list(lost)} are observed in only one window; drop them.")
    if len(v0) < q:
        raise InputError(f"{what}: {len(v0)} units cannot fill {q} groups; lower q.")
    labels = list(range(1, q + 1))

    def groups(v: pd.Series) -> pd.Series:
        # Ranking first breaks ties by order, so equal values never leave a group empty.
        return pd.qcut(v.rank(method="first"), q, labels=labels).astype(int)

    classes = pd.DataFrame({"value_start": v0, "value_end": v1.reindex(v0.index)})
    classes["q_start"] = groups(classes["value_start"])
    classes["q_end"] = groups(classes["value_end"])
    classes["leapfrog"] = (classes["q_start"] == 1) & (classes["q_end"] == q)
    counts = pd.crosstab(classes["q_start"], classes["q_end"]).reindex(index=labels, columns=labels, fill_value=0)
    transitions = counts.div(counts.sum(axis=1), axis=0)
    return Leapfrogging(classes=classes.reset_index(), transitions=transitions, counts=counts)


def share_above(
    df: pd.DataFrame,
    value: str = "nqpf",
    *,
    threshold: float = 1.0,
    by: Sequence[str] = ("year",),
) -> pd.DataFrame:
    """Share of rows with ``value > threshold`` within each ``by`` cell.

    Parameters
    ----------
    df
        Any table with ``value`` and the ``by`` columns (e.g. region-years
        with ``group`` and ``year``).
    value
        The column compared with ``threshold``.
    threshold
        Strict lower bound; 1 for "NQPF above its path".
    by
        Grouping columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``by`` + ``n``, ``n_above`` and ``share``.

    Raises
    ------
    PanelError
        A column is missing.
    InputError
        ``value`` is not numeric or has missing values, or ``by`` is empty.
    """
    by = list(by)
    if not by:
        raise InputError("share_above: give at least one grouping column in `by`.")
    require_columns(df, [value, *by], "share_above")
    if not pd.api.types.is_numeric_dtype(df[value]) or df[value].isna().any():
        raise InputError(f"share_above: column {value!r} must be numeric without missing values; clean it first.")
    above = (df[value] > threshold).rename("above")
    g = above.groupby([df[c] for c in by], observed=True)
    out = pd.DataFrame({"n": g.size(), "n_above": g.sum().astype(int)})
    out["share"] = out["n_above"] / out["n"]
    return out.reset_index()


def average_growth(
    df: pd.DataFrame,
    values: Sequence[str],
    *,
    unit: str = "region_code",
    time: str = "year",
    start: int,
    end: int,
) -> pd.DataFrame:
    """Average annual log growth ``(log x_end - log x_start) / (end - start)`` per unit.

    Parameters
    ----------
    df
        Long panel with columns ``unit``, ``time`` and ``values`` (strictly
        positive in ``start`` and ``end``).
    values
        Columns to compute growth for.
    unit, time
        Column names.
    start, end
        First and last year; every unit must be observed in both.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``unit``, one column per value (log points per year;
        multiply by 100 for approximate percent).

    Raises
    ------
    PanelError, InputError
        Missing columns, ``end <= start``, units missing a year, or
        non-positive values in either year.
    """
    values = list(values)
    what = "average_growth"
    if not values:
        raise InputError(f"{what}: give at least one column in `values`.")
    if int(end) <= int(start):
        raise InputError(f"{what}: end ({end}) must be after start ({start}).")
    require_columns(df, [unit, time, *values], what)
    ends = validate_panel(
        df.loc[df[time].isin([int(start), int(end)]), [unit, time, *values]],
        unit=unit, time=time, values=values, positive=values, balanced=True, consecutive=False, name=what,
    )
    if ends[time].nunique() < 2:
        raise InputError(f"{what}: the data do not cover both {start} and {end}; choose years inside the panel.")
    wide = ends.set_index([unit, time])[values].astype(float)
    out = (np.log(wide.xs(int(end), level=time)) - np.log(wide.xs(int(start), level=time))) / (int(end) - int(start))
    # Input metadata (e.g. the world panel's list of dropped countries) describes the input, not
    # this table, and DataFrame attrs holding DataFrames break pd.concat of the results.
    out.attrs = {}
    return out
