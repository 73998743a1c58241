"""Catch-up statistics for regional panels: beta and sigma convergence, leapfrogging, shares.

These are the standard tools of the growth-empirics literature
(Barro & Sala-i-Martin, 1992) applied to any positive, unit-by-year
indicator, here green TFP or NQPF:

- :func:`beta_convergence` -- do units that start lower grow faster?  OLS of
  the average log growth between two years on the initial log level;
- :func:`sigma_convergence` -- does the cross-section dispersion shrink over
  time?  Standard deviation of logs and coefficient of variation by year,
  with a linear trend test (Newey-West, or a fixed-b test that holds its size
  with few years; :func:`trend_test_size` and :func:`noise_panel_size`
  measure the size of both);
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
from functools import lru_cache

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
    "trend_test_size",
    "noise_panel",
    "noise_panel_size",
    "FIXED_B_DRAWS",
    "AR_BOUND_QUANTILE",
]

#: Simulated null draws per grid value of the AR(1) coefficient behind a ``cov_type="fixed-b"``
#: p-value (Monte Carlo standard error about 0.002 at p = 0.05; the smallest p it can report is
#: ``1 / (FIXED_B_DRAWS + 1)``).
FIXED_B_DRAWS = 10_000
#: The AR(1) coefficient of the fixed-b null is the value at which the residuals' estimated
#: coefficient would be this quantile of its sampling distribution (an upper confidence bound):
#: 0.5 would be Andrews' (1993) median-unbiased estimate, which still over-rejects with 12 years.
AR_BOUND_QUANTILE = 0.2
_PHI_GRID = np.round(np.r_[np.arange(0.0, 0.951, 0.05), 0.99], 3)
_FIXED_B_SEED = 19_980_501  # fixed, so a fixed-b p-value is a deterministic function of the data


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
        ``"HAC"`` (Newey-West, the default), ``"fixed-b"`` or ``"HC1"``, and
        the number of lags of the Bartlett kernel (0 for HC1; the number of
        years minus one for fixed-b).
    phi
        For ``"fixed-b"`` only (NaN otherwise): the AR(1) coefficient of the
        simulated null distribution behind ``p`` (see :func:`sigma_convergence`).
    """

    table: pd.DataFrame
    slope: float
    se: float
    p: float
    cov_type: str = "HAC"
    maxlags: int = 0
    phi: float = float("nan")

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


def _trend_t(Y: np.ndarray, X: np.ndarray, groups: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Slope on column 1 of ``X`` and its Bartlett-kernel HAC standard error, for each column of ``Y``.

    ``Y`` is ``(n, R)``; rows are sorted by group, then time, and only pairs within a group enter
    the kernel sum (``statsmodels``' ``"HAC"`` / ``"hac-panel"`` without small-sample correction:
    weights ``1 - j / (lags + 1)``).  By Frisch-Waugh-Lovell the slope's influence function is the
    trend residualised on the other columns, so the variance is a scalar kernel sum.
    """
    others = np.delete(X, 1, axis=1)
    x = X[:, 1] - others @ np.linalg.lstsq(others, X[:, 1], rcond=None)[0]
    sxx = float(x @ x)
    coef = np.linalg.pinv(X) @ Y
    v = x[:, None] * (Y - X @ coef)
    S = np.einsum("ij,ij->j", v, v)
    for j in range(1, lags + 1):
        same = groups[j:] == groups[:-j]
        if same.any():
            S = S + 2 * (1 - j / (lags + 1)) * np.einsum("ij,ij->j", v[j:][same], v[:-j][same])
    return coef[1], np.sqrt(np.maximum(S, 0.0)) / sxx


def _ar1_phi(R: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Least-squares AR(1) coefficient of residual columns, pooled over groups (lag pairs within a group)."""
    same = groups[1:] == groups[:-1]
    num = np.einsum("ij,ij->j", R[1:][same], R[:-1][same])
    return num / np.maximum(np.einsum("ij,ij->j", R, R), 1e-300)


def _ar1_errors(groups: np.ndarray, phi: float, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Stationary Gaussian AR(1) series with unit innovations, restarted at each group's first row."""
    E = rng.standard_normal((len(groups), draws))
    U = np.empty_like(E)
    for i in range(len(groups)):
        if i and groups[i] == groups[i - 1]:
            U[i] = phi * U[i - 1] + E[i]
        else:
            U[i] = E[i] / np.sqrt(1.0 - phi**2)
    return U


@lru_cache(maxsize=32)
def _fixed_b_tables(
    X_bytes: bytes, shape: tuple[int, int], groups_bytes: bytes, lags: int, draws: int, quantile: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each AR(1) coefficient on ``_PHI_GRID``: sorted null ``|t|`` and the residual-phi quantile.

    Under Gaussian AR(1) errors the trend's t statistic does not depend on the intercept, slope
    or error scale, so these tables depend only on the design, computed once per design.
    """
    X = np.frombuffer(X_bytes, dtype=float).reshape(shape)
    groups = np.frombuffer(groups_bytes, dtype=np.int64)
    M = np.eye(shape[0]) - X @ np.linalg.pinv(X)
    nulls, bounds = [], []
    for phi in _PHI_GRID:
        rng = np.random.default_rng(_FIXED_B_SEED)  # common random numbers across the grid: smooth in phi
        ts, phis = [], []
        for start in range(0, draws, 5000):  # chunks keep memory small for long panels
            U = _ar1_errors(groups, float(phi), min(5000, draws - start), rng)
            b, se = _trend_t(U, X, groups, lags)
            ts.append(np.abs(b / se))
            phis.append(_ar1_phi(M @ U, groups))
        nulls.append(np.sort(np.concatenate(ts)))
        bounds.append(np.quantile(np.concatenate(phis), quantile))
    return np.array(nulls), np.maximum.accumulate(np.array(bounds))


def _fixed_b_p(
    t: np.ndarray, resid: np.ndarray, X: np.ndarray, groups: np.ndarray, lags: int, draws: int = FIXED_B_DRAWS
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values of fixed-b trend t statistics ``t`` (one per residual column) and the null's phi."""
    X = np.ascontiguousarray(X, dtype=float)
    groups = np.ascontiguousarray(groups, dtype=np.int64)
    nulls, bounds = _fixed_b_tables(
        X.tobytes(), X.shape, groups.tobytes(), int(lags), int(draws), float(AR_BOUND_QUANTILE)
    )
    phi = np.interp(_ar1_phi(resid, groups), bounds, _PHI_GRID, left=0.0, right=_PHI_GRID[-1])
    exceed = nulls.shape[1] - np.stack([np.searchsorted(n, np.abs(t), side="left") for n in nulls])
    p_grid = (exceed + 1) / (nulls.shape[1] + 1)  # (grid, columns)
    p = np.array([np.interp(phi[j], _PHI_GRID, p_grid[:, j]) for j in range(len(phi))])
    return p, phi


def _trend_p(
    Y: np.ndarray, X: np.ndarray, groups: np.ndarray, cov_type: str, lags: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Slope, standard error, two-sided p-value and null AR(1) coefficient for each column of ``Y``."""
    b, se = _trend_t(Y, X, groups, lags)
    # a series on an exact straight line (up to rounding) has no noise to weigh the slope against
    tiny = 1e-10 * np.maximum(np.abs(Y).max(axis=0), 1e-300)
    exact = se <= tiny
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(exact, np.where(np.abs(b) * (len(Y) - 1) <= tiny, 0.0, np.inf), b / se)
    if cov_type == "fixed-b":
        resid = Y - X @ (np.linalg.pinv(X) @ Y)
        p, phi = _fixed_b_p(t, resid, X, groups, lags)
    else:
        from scipy import stats

        p, phi = 2 * stats.norm.sf(np.abs(t)), np.full(len(b), np.nan)
    return b, se, p, phi


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
        slopes[d] = _beta_slope(first, last, T)
    return slopes


def _beta_slope(first_log: np.ndarray, last_log: np.ndarray, years: int) -> float:
    """The OLS slope of :func:`beta_convergence` without controls, in closed form.

    Average annual log growth ``(last - first) / years`` regressed on ``first`` with an
    intercept: cov(first, growth) / var(first).  The placebo computes it hundreds of times.
    """
    x = first_log - first_log.mean()
    g = (last_log - first_log) / years
    return float((x * (g - g.mean())).sum() / (x * x).sum())


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
    Newey-West HAC (Newey and West, 1987; per group, with ``by``) with normal
    p-values.  With 12 to 33 yearly values that test is itself oversized: on
    trendless noise it rejects at the 5% level far more often than 5% of the
    time (:func:`trend_test_size` measures it).  ``cov_type="fixed-b"`` is the
    test that holds its size:

    - the statistic is the trend's t ratio with a Bartlett-kernel HAC
      variance whose bandwidth is the whole sample (``maxlags`` = years - 1),
      the Kiefer, Vogelsang and Bunzel (2000) statistic, whose null
      distribution under fixed-b asymptotics (Kiefer and Vogelsang, 2005) is
      not normal but has much fatter tails;
    - its p-value is not read from an asymptotic table but from that
      statistic's exact distribution, simulated (:data:`FIXED_B_DRAWS` draws,
      fixed seed) for this design under Gaussian AR(1) errors -- a parametric
      bootstrap under an AR(1) null, in which the t ratio does not depend on
      the intercept, slope or error scale;
    - the AR(1) coefficient of that null is not the least-squares estimate
      from the detrended series, which is badly biased towards zero with a
      dozen values, but an upper confidence bound: the coefficient at which
      the estimate would be the :data:`AR_BOUND_QUANTILE` quantile of its own
      sampling distribution, in the spirit of Andrews' (1993) median-unbiased
      estimator (the median would still over-reject with 12 years).
      Coefficients are capped to ``[0, 0.99]``: a near-unit-root dispersion
      series gets the null at 0.99.

    On AR(1) noise with coefficient 0 to 0.8 and 12 or 33 years its
    rejection rate at 5% stayed between about 3% and 6.5% in 2,000
    replications per cell (7.5% at coefficient 0.9 with 12 years), where
    Newey-West rejected 13% to 53% of the time; the price is power, which is
    low with 12 years unless the trend is large relative to the noise.

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
        ``"HAC"`` (Newey-West; panel HAC within groups when ``by`` is given),
        ``"fixed-b"`` (the size-holding test above; with ``by``, kernel sums and
        AR(1) errors within each group) or ``"HC1"`` (heteroskedasticity-robust
        only, for comparison).
    maxlags
        Bartlett kernel lag length; default :func:`newey_west_lags` of the
        number of years for ``"HAC"`` and the number of years minus one
        (bandwidth = sample size, b = 1) for ``"fixed-b"``, whose simulated
        p-value is valid for any other choice too.

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
    if cov_type not in ("HAC", "HC1", "fixed-b"):
        raise InputError(f"{what}: cov_type must be 'fixed-b', 'HAC' or 'HC1', got {cov_type!r}.")
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
    return _sigma_trend(table, time, by, cov_type, maxlags)


def _sigma_trend(
    table: pd.DataFrame, time: str, by: str | None, cov_type: str, maxlags: int | None
) -> SigmaConvergence:
    """The trend test of :func:`sigma_convergence` on its checked per-year (and group) table."""
    X = [np.ones(len(table)), table[time].to_numpy(dtype=float)]
    if by:
        dummies = pd.get_dummies(table[by], drop_first=True, dtype=float)
        X.extend(dummies[c].to_numpy() for c in dummies.columns)
    lags = 0
    y, X = table["sd_log"].to_numpy(dtype=float), np.column_stack(X)
    # rows are sorted by group, then year: HAC sums run within each group's time series
    codes = pd.factorize(table[by])[0] if by else np.zeros(len(table), dtype=np.int64)
    if cov_type == "fixed-b":
        longest = int(table.groupby(by, observed=True)[time].nunique().max()) if by else table[time].nunique()
        lags = int(maxlags) if maxlags is not None else longest - 1
        b, se, p, phi = _trend_p(y[:, None], X, codes, cov_type, lags)
        return SigmaConvergence(
            table=table, slope=float(b[0]), se=float(se[0]), p=float(p[0]), cov_type=cov_type, maxlags=lags,
            phi=float(phi[0]),
        )
    if cov_type == "HAC":
        lags = int(maxlags) if maxlags is not None else newey_west_lags(table[time].nunique())
        if by:
            fit = _ols(y, X, "hac-panel", {"groups": codes, "maxlags": lags})
        else:
            fit = _ols(y, X, "HAC", {"maxlags": lags})
    else:
        fit = _ols(y, X)
    return SigmaConvergence(
        table=table, slope=float(fit.params[1]), se=float(fit.bse[1]), p=float(fit.pvalues[1]),
        cov_type=cov_type, maxlags=lags,
    )


def trend_test_size(
    lengths: Sequence[int] = (12, 33),
    phis: Sequence[float] = (0.0, 0.6),
    *,
    reps: int = 500,
    seed: int = 0,
    level: float = 0.05,
    cov_types: Sequence[str] = ("HAC", "fixed-b"),
) -> pd.DataFrame:
    """Monte Carlo size of the trend test of :func:`sigma_convergence` on trendless AR(1) series.

    Each replication draws a stationary Gaussian AR(1) series ``u_t = phi u_{t-1} + e_t`` of the
    given length (a dispersion series without a trend) and tests its linear trend exactly as
    :func:`sigma_convergence` does for one group; the share of p-values below ``level`` is the
    size, which a well-behaved test keeps close to ``level``.

    Parameters
    ----------
    lengths
        Numbers of yearly values (e.g. 12 for 2010-2021, 33 for 1990-2022), each at least 3.
    phis
        AR(1) coefficients of the noise, each in ``[0, 1)``.
    reps
        Replications per cell (the size's Monte Carlo standard error is about
        ``sqrt(level (1 - level) / reps)``: 0.01 for 500).
    seed
        Base seed of the simulated series (the cells use independent streams).
    level
        Nominal level of the test.
    cov_types
        Tests to compare: ``"HAC"`` (Newey-West with :func:`newey_west_lags`, normal p-values)
        and/or ``"fixed-b"``.

    Returns
    -------
    pandas.DataFrame
        One row per length, phi and test: ``years``, ``phi``, ``cov_type``, ``size`` (rejection
        rate) and ``mc_se`` (its Monte Carlo standard error).

    Raises
    ------
    InputError
        A length below 3, a phi outside ``[0, 1)``, ``reps < 1``, a level outside ``(0, 1)`` or an
        unknown test.
    """
    what = "trend_test_size"
    bad = [c for c in cov_types if c not in ("HAC", "fixed-b")]
    if bad or not list(cov_types):
        raise InputError(f"{what}: cov_types must be among 'HAC' and 'fixed-b', got {list(cov_types)!r}.")
    if any(int(n) != n or n < 3 for n in lengths) or not list(lengths):
        raise InputError(f"{what}: lengths must be integers >= 3 (years in the series), got {list(lengths)!r}.")
    if any(not 0 <= f < 1 for f in phis) or not list(phis):
        raise InputError(f"{what}: phis must lie in [0, 1) (stationary, non-negative AR(1)), got {list(phis)!r}.")
    if int(reps) != reps or reps < 1:
        raise InputError(f"{what}: reps must be a positive integer, got {reps!r}.")
    if not 0 < level < 1:
        raise InputError(f"{what}: level must lie in (0, 1), got {level!r}.")
    streams = np.random.SeedSequence(int(seed)).spawn(len(lengths) * len(phis))
    rows = []
    for k, (n, phi) in enumerate((int(n), float(f)) for n in lengths for f in phis):
        groups = np.zeros(n, dtype=np.int64)
        Y = _ar1_errors(groups, phi, int(reps), np.random.default_rng(streams[k]))
        X = np.column_stack([np.ones(n), np.arange(n, dtype=float)])
        for cov in cov_types:
            lags = n - 1 if cov == "fixed-b" else newey_west_lags(n)
            p = _trend_p(Y, X, groups, cov, lags)[2]
            size = float(np.mean(p < level))
            rows.append({"years": n, "phi": phi, "cov_type": cov, "size": size,
                         "mc_se": float(np.sqrt(level * (1 - level) / int(reps)))})
    return pd.DataFrame(rows)


def noise_panel(
    units: int = 31, years: Sequence[int] = range(1990, 2023), *, noise: float = 0.25, seed: int = 0
) -> pd.DataFrame:
    """A panel in which nothing converges: fixed unit levels observed with independent log-normal noise.

    Unit ``i`` has a true level drawn once from U(0.3, 0.6) and is observed each year as
    ``level_i * exp(e_it)`` with ``e_it ~ N(0, noise^2)`` independent over units and years, so the
    cross-section spread of logs has no trend (and no autocorrelation) by construction.

    Parameters
    ----------
    units
        Number of units (at least 2), coded ``R00``, ``R01``, ...
    years
        The years observed (at least three).
    noise
        Standard deviation of the log measurement noise (0.25: about 25%).
    seed
        Seed of the draw.

    Returns
    -------
    pandas.DataFrame
        Columns ``region_code``, ``year`` and ``gtfp``.

    Raises
    ------
    InputError
        Fewer than two units or three years, or a negative noise.
    """
    years = [int(y) for y in years]
    if int(units) != units or units < 2 or len(set(years)) < 3 or len(set(years)) != len(years):
        raise InputError(f"noise_panel: need >= 2 units and >= 3 distinct years, got {units!r} and {years!r}.")
    if not noise >= 0:
        raise InputError(f"noise_panel: noise must be a non-negative standard deviation, got {noise!r}.")
    rng = np.random.default_rng(int(seed))
    level = rng.uniform(0.3, 0.6, size=int(units))
    values = level[:, None] * np.exp(rng.normal(0.0, noise, size=(int(units), len(years))))
    return pd.DataFrame({
        "region_code": np.repeat([f"R{i:02d}" for i in range(int(units))], len(years)),
        "year": np.tile(years, int(units)),
        "gtfp": values.ravel(),
    })


def noise_panel_size(
    units: int = 31,
    years: Sequence[int] = range(1990, 2023),
    *,
    noise: float = 0.25,
    reps: int = 200,
    seed: int = 0,
    level: float = 0.05,
    cov_types: Sequence[str] = ("HAC", "fixed-b"),
) -> pd.DataFrame:
    """Monte Carlo size of :func:`sigma_convergence` on :func:`noise_panel` draws (no trend by construction).

    Parameters
    ----------
    units, years, noise
        The design of each :func:`noise_panel`.
    reps
        Number of panels (replication ``r`` uses seed ``seed + r``).
    seed
        Base seed.
    level
        Nominal level of the test.
    cov_types
        Values of ``cov_type`` passed to :func:`sigma_convergence`.

    Returns
    -------
    pandas.DataFrame
        One row per test: ``years`` (number of years), ``cov_type``, ``size`` (share of panels
        with p < ``level``) and ``mc_se``.

    Raises
    ------
    InputError
        ``reps < 1``, a level outside ``(0, 1)``, or a bad design or test (as in the functions
        called).
    """
    if int(reps) != reps or reps < 1:
        raise InputError(f"noise_panel_size: reps must be a positive integer, got {reps!r}.")
    if not 0 < level < 1:
        raise InputError(f"noise_panel_size: level must lie in (0, 1), got {level!r}.")
    years = list(years)
    cov_types = list(cov_types)
    if not cov_types:
        raise InputError("noise_panel_size: give at least one cov_type.")
    rejections = {c: 0 for c in cov_types}
    for r in range(int(reps)):
        panel = noise_panel(units, years, noise=noise, seed=int(seed) + r)
        first = sigma_convergence(panel, "gtfp", cov_type=cov_types[0])
        rejections[cov_types[0]] += first.p < level
        for c in cov_types[1:]:  # the same checked table, tested the other way(s)
            rejections[c] += _sigma_trend(first.table, "year", None, c, None).p < level
    se = float(np.sqrt(level * (1 - level) / int(reps)))
    return pd.DataFrame(
        [{"years": len(years), "cov_type": c, "size": k / int(reps), "mc_se": se} for c, k in rejections.items()]
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
