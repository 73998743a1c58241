"""Quality checks for GTFP and NQPF series: breaks, frontier ties, in-sample years, seed bands.

A ratio such as NQPF is only as informative as the two numbers it divides.
This module collects the checks the book runs before it reads NQPF as a
finding:

- :func:`chow_test`, :func:`chow_by_unit` and :func:`break_scan` -- is there a
  structural break in a series (e.g. around China's 2016 change of the
  environmental statistics survey)?  A Chow test at a known date
  (Chow, 1960) on a linear trend, per unit or on an aggregate, and the
  sup-F scan over candidate dates (Andrews, 1993) that locates the most
  likely single break;
- :func:`at_frontier` and :func:`frontier_counts` -- region-years with
  GTFP = 1 sit on the frontier, where GTFP cannot rise further and NQPF is
  one divided by the prediction;
- :data:`PUBLISHED_IN_SAMPLE`, :func:`fitted_looking_years`,
  :func:`published_in_sample` and :func:`training_years` -- which years of a
  published or re-estimated NQPF series are training (in-sample) years, where
  NQPF near 1 is a fitted value and not a finding;
- :func:`expected_band_coverage` -- how often a value that is "just one more
  seed" falls inside the empirical band of ``n`` seeds, the benchmark for
  the coverage of published values by a seed band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError
from .validate import format_list, require_columns

__all__ = [
    "PUBLISHED_IN_SAMPLE",
    "ChowTest",
    "at_frontier",
    "break_scan",
    "chow_by_unit",
    "chow_test",
    "expected_band_coverage",
    "fitted_looking_years",
    "frontier_counts",
    "published_in_sample",
    "training_years",
]

PUBLISHED_IN_SAMPLE: dict[str, tuple[int, ...]] = {"province": (), "city": (), "county": (2010, 2011)}
"""Years of the authors' published NQPF that are training (in-sample) years, by level.

Province: none.  The published provincial NQPF is reproduced by the first
upload of the released code, trained on targets 1995-2004, so 2010-2022 are
all out of sample (chapter "Reproducing the published NQPF").
County: 2010 and 2011.  In those years the cross-section of county NQPF lies
within about 2% of 1 (5-95% range 0.975-1.021), as fitted values do, and
from 2012 it spreads out like the other levels; under the first upload's
rule (train on the first ``round(0.3 x years)`` windows) a county series
starting around 2000 would be trained up to 2011.
City: none detectable (the 2010 cross-section is as spread as later years);
the city series before 2010 are not public, so this cannot be checked
further.  :func:`fitted_looking_years` recomputes the evidence from the data.
"""


# --------------------------------------------------------------------------- #
# Structural breaks
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class ChowTest:
    """Result of :func:`chow_test`.

    Attributes
    ----------
    break_year
        First year of the second regime.
    f, p
        Chow F statistic and its p-value under F(df_num, df_den).
    df_num, df_den
        Degrees of freedom: number of coefficients allowed to change, and
        observations minus twice that number.
    n_before, n_after
        Observations in each regime.
    slope_before, slope_after
        Trend slope (per year) fitted separately in each regime.
    """

    break_year: int
    f: float
    p: float
    df_num: int
    df_den: int
    n_before: int
    n_after: int
    slope_before: float
    slope_after: float

    @property
    def significant(self) -> bool:
        """Break significant at 5%."""
        return bool(self.p < 0.05)


def _as_series(y: pd.Series, what: str) -> pd.Series:
    if not isinstance(y, pd.Series):
        raise InputError(f"{what}: expected a pandas Series indexed by year, got {type(y).__name__}.")
    s = y.astype(float).sort_index()
    if s.isna().any() or not np.isfinite(s.to_numpy()).all():
        bad = format_list(s.index[~np.isfinite(s)])
        raise InputError(f"{what}: the series has missing or infinite values in {bad}; drop them.")
    if s.index.has_duplicates:
        twice = format_list(s.index[s.index.duplicated()].unique())
        raise InputError(f"{what}: years {twice} appear twice; aggregate first.")
    return s


def _ssr_and_slope(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    X = np.column_stack([np.ones_like(t), t])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    return float(resid @ resid), float(coef[1])


def chow_test(y: pd.Series, break_year: int, *, min_size: int = 3) -> ChowTest:
    """Chow test for a break in the intercept and slope of a linear trend at a known year.

    Fits ``y_t = a + b t + e_t`` on all years and separately on
    ``t < break_year`` and ``t >= break_year``; the F statistic compares the
    pooled residual sum of squares with the sum of the two separate ones
    (Chow, 1960).  The F distribution assumes independent errors; with
    positively autocorrelated errors the test rejects too often, so read a
    small p-value together with the size of the change in slope.

    Parameters
    ----------
    y
        One value per year, indexed by year (e.g. the median of log GTFP).
    break_year
        First year of the second regime.
    min_size
        Least number of years in each regime (at least 3: a trend plus one
        degree of freedom).

    Returns
    -------
    ChowTest

    Raises
    ------
    InputError
        ``y`` is not a Series; missing values, duplicated years, or fewer than ``min_size`` years on
        either side of the break.
    """
    from scipy import stats

    what = "chow_test"
    s = _as_series(y, what)
    if int(min_size) < 3:
        raise InputError(f"{what}: min_size must be at least 3, got {min_size!r}.")
    t = s.index.to_numpy(dtype=float)
    v = s.to_numpy()
    before = t < int(break_year)
    n1, n2 = int(before.sum()), int((~before).sum())
    if min(n1, n2) < int(min_size):
        raise InputError(
            f"{what}: {n1} year(s) before {break_year} and {n2} from it; each side needs at least {min_size}. "
            "Choose a break year inside the series."
        )
    k = 2
    ssr_pooled, _ = _ssr_and_slope(t, v)
    ssr1, b1 = _ssr_and_slope(t[before], v[before])
    ssr2, b2 = _ssr_and_slope(t[~before], v[~before])
    df_den = n1 + n2 - 2 * k
    ssr_split = ssr1 + ssr2
    if ssr_split <= 0:
        f = float("inf") if ssr_pooled > 0 else 0.0
    else:
        f = ((ssr_pooled - ssr_split) / k) / (ssr_split / df_den)
    p = float(stats.f.sf(f, k, df_den)) if np.isfinite(f) else 0.0
    return ChowTest(
        break_year=int(break_year), f=float(f), p=p, df_num=k, df_den=df_den,
        n_before=n1, n_after=n2, slope_before=b1, slope_after=b2,
    )


def chow_by_unit(
    df: pd.DataFrame,
    value: str,
    break_year: int,
    *,
    unit: str = "region_code",
    time: str = "year",
    log: bool = True,
) -> pd.DataFrame:
    """:func:`chow_test` on every unit's own series.

    Parameters
    ----------
    df
        Long panel with columns ``unit``, ``time`` and ``value``.
    value
        Column tested (e.g. ``"gtfp"``).
    break_year
        First year of the second regime.
    unit, time
        Column names.
    log
        Test the log of the value (a trend in log GTFP is a growth rate).

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``f``, ``p``, ``slope_before``, ``slope_after``
        (per year; log points when ``log``) and ``significant`` (p < 0.05).

    Raises
    ------
    PanelError
        A column is missing.
    InputError
        Non-positive values with ``log=True``, or a unit too short for the test.
    """
    require_columns(df, [unit, time, value], "chow_by_unit")
    df = df.reset_index(drop=True)
    v = df[value].astype(float)
    if log:
        if (v <= 0).any():
            bad = df.loc[v <= 0, unit].unique()
            raise InputError(
                f"chow_by_unit: non-positive {value!r} for {format_list(bad)}; use log=False or clean the data."
            )
        v = np.log(v)
    rows = []
    for code, idx in df.groupby(unit, sort=True).groups.items():
        series = pd.Series(v.loc[idx].to_numpy(), index=df.loc[idx, time].to_numpy())
        try:
            r = chow_test(series, break_year)
        except InputError as exc:
            raise InputError(f"chow_by_unit: unit {code}: {exc}") from None
        rows.append({unit: code, "f": r.f, "p": r.p, "slope_before": r.slope_before, "slope_after": r.slope_after})
    out = pd.DataFrame(rows)
    out["significant"] = out["p"] < 0.05
    return out


def break_scan(y: pd.Series, *, trim: float = 0.15) -> pd.DataFrame:
    """Chow F statistic for every candidate break year (the sup-F scan of Andrews, 1993).

    The year with the largest F is the least-squares estimate of a single
    break date.  Its p-value is *not* the Chow p-value of that year (the date
    was chosen to maximise F); compare the maximum with Andrews' critical
    values, about 8.9 at 5% for two coefficients and 15% trimming.

    Parameters
    ----------
    y
        One value per year, indexed by year.
    trim
        Share of years excluded at each end as candidate dates (0 < trim < 0.5);
        each regime keeps at least 3 years.

    Returns
    -------
    pandas.DataFrame
        One row per candidate year: ``break_year``, ``f``, ``slope_before``,
        ``slope_after`` and ``best`` (True in the one row with the largest F,
        the sup-F break date), sorted by year.

    Raises
    ------
    InputError
        ``trim`` out of range or a series too short to leave any candidate.
    """
    what = "break_scan"
    if not 0 < float(trim) < 0.5:
        raise InputError(f"{what}: trim must lie strictly between 0 and 0.5, got {trim!r}.")
    s = _as_series(y, what)
    n = len(s)
    lo = max(3, int(np.ceil(trim * n)))
    candidates = s.index[lo : n - lo + 1]
    if len(candidates) == 0:
        raise InputError(f"{what}: {n} years leave no candidate break with trim={trim}; use a longer series.")
    rows = []
    for year in candidates:
        r = chow_test(s, int(year))
        rows.append({"break_year": int(year), "f": r.f, "slope_before": r.slope_before, "slope_after": r.slope_after})
    out = pd.DataFrame(rows)
    out["best"] = out.index == out["f"].idxmax()
    return out


# --------------------------------------------------------------------------- #
# Units on the frontier
# --------------------------------------------------------------------------- #


def at_frontier(df: pd.DataFrame, value: str = "gtfp", *, tol: float = 1e-6) -> pd.Series:
    """Flag rows whose efficiency score is 1 (on the frontier), up to ``tol``.

    On the frontier GTFP cannot rise any further, so NQPF = 1 / predicted
    GTFP says something about the prediction and nothing about the region.

    Parameters
    ----------
    df
        Any table with the score column.
    value
        Column holding scores in (0, 1].
    tol
        Scores at or above ``1 - tol`` count as 1.

    Returns
    -------
    pandas.Series
        Boolean, aligned with ``df``, named ``"at_frontier"``.

    Raises
    ------
    PanelError
        ``value`` missing.
    InputError
        ``tol`` outside [0, 0.1).
    """
    require_columns(df, [value], "at_frontier")
    if not 0 <= float(tol) < 0.1:
        raise InputError(f"at_frontier: tol must lie in [0, 0.1), got {tol!r}.")
    return (df[value].astype(float) >= 1 - float(tol)).rename("at_frontier")


def frontier_counts(
    df: pd.DataFrame, value: str = "gtfp", *, by: Sequence[str] = ("year",), tol: float = 1e-6
) -> pd.DataFrame:
    """Number and share of rows at the frontier (score 1) per ``by`` cell.

    Returns
    -------
    pandas.DataFrame
        Columns ``by`` + ``n``, ``n_at_frontier`` and ``share``.
    """
    by = list(by)
    if not by:
        raise InputError("frontier_counts: give at least one grouping column in `by`.")
    require_columns(df, by, "frontier_counts")
    flag = at_frontier(df, value, tol=tol)
    g = flag.groupby([df[c] for c in by], observed=True)
    out = pd.DataFrame({"n": g.size(), "n_at_frontier": g.sum().astype(int)})
    out["share"] = out["n_at_frontier"] / out["n"]
    return out.reset_index()


# --------------------------------------------------------------------------- #
# In-sample years
# --------------------------------------------------------------------------- #


def fitted_looking_years(
    df: pd.DataFrame,
    value: str = "nqpf",
    *,
    time: str = "year",
    tol: float = 0.05,
    lower: float = 0.05,
    upper: float = 0.95,
) -> list[int]:
    """Years in which the cross-section of NQPF looks like fitted values.

    A growth path fitted on a year reproduces it closely for every unit, so
    in a training year the ratio actual / predicted is close to 1 across the
    whole cross-section.  A year is flagged when the ``lower`` and ``upper``
    quantiles of ``value`` across units both lie within ``1 +- tol``.  Out of
    sample the cross-section spreads out (a 5-95% range of 0.7-1.4 is typical
    of the published files), so the test separates the two cleanly.

    Parameters
    ----------
    df
        Long table with ``time`` and ``value``.
    value
        The NQPF column.
    time
        The year column.
    tol
        Half-width around 1 (0.05: within 5%).
    lower, upper
        Quantiles compared with ``1 +- tol``.

    Returns
    -------
    list of int
        Flagged years, sorted.

    Raises
    ------
    PanelError
        A column is missing.
    InputError
        Bad ``tol`` or quantiles.
    """
    require_columns(df, [time, value], "fitted_looking_years")
    if not 0 < float(tol) < 1:
        raise InputError(f"fitted_looking_years: tol must lie in (0, 1), got {tol!r}.")
    if not 0 <= float(lower) < float(upper) <= 1:
        raise InputError(f"fitted_looking_years: need 0 <= lower < upper <= 1, got {lower!r}, {upper!r}.")
    q = df.groupby(time)[value].quantile([float(lower), float(upper)]).unstack()
    inside = (q[float(lower)] >= 1 - tol) & (q[float(upper)] <= 1 + tol)
    return sorted(int(y) for y in q.index[inside])


def published_in_sample(df: pd.DataFrame, level: str, *, time: str = "year") -> pd.Series:
    """Flag the rows of a published NQPF table that fall in its training years.

    Parameters
    ----------
    df
        A table of the authors' results for one level.
    level
        ``"province"``, ``"city"`` or ``"county"`` (see :data:`PUBLISHED_IN_SAMPLE`).
    time
        The year column.

    Returns
    -------
    pandas.Series
        Boolean, aligned with ``df``, named ``"in_sample"``.

    Raises
    ------
    InputError
        Unknown level.
    PanelError
        ``time`` missing.
    """
    if level not in PUBLISHED_IN_SAMPLE:
        raise InputError(f"published_in_sample: level must be one of {list(PUBLISHED_IN_SAMPLE)}, got {level!r}.")
    require_columns(df, [time], "published_in_sample")
    return df[time].isin(PUBLISHED_IN_SAMPLE[level]).rename("in_sample")


def training_years(preds: pd.DataFrame, *, time: str = "year", split: str = "split") -> list[int]:
    """Years that are training (in-sample) targets in a growth-path table.

    Parameters
    ----------
    preds
        Output of :func:`nqpf_helpers.forecast.growth.forecast_growth_path` (one or
        several protocols; then the union of their training years is returned,
        so filter first to get one protocol's).
    time, split
        Column names; ``split`` holds ``"train"`` or ``"test"``.

    Returns
    -------
    list of int
        Sorted years with at least one training row.
    """
    require_columns(preds, [time, split], "training_years")
    return sorted(int(y) for y in preds.loc[preds[split] == "train", time].unique())


# --------------------------------------------------------------------------- #
# Seed bands
# --------------------------------------------------------------------------- #


def expected_band_coverage(n_seeds: int, lower: float = 0.05, upper: float = 0.95) -> float:
    """Probability that one more draw falls inside the empirical band of ``n_seeds`` draws.

    If a published value were simply another seed of the same protocol, it
    and the ``n`` seeds would be exchangeable, so its rank among the ``n + 1``
    values is uniform.  The band runs from the ``lower`` to the ``upper``
    sample quantile of the ``n`` seeds, computed as pandas and numpy do by
    default (linear interpolation between order statistics at position
    ``q (n - 1)``).  The new draw falls in each of the ``n + 1`` gaps between
    order statistics with probability ``1 / (n + 1)``, and, for uniform draws,
    uniformly within a gap, which gives the exact coverage

    ``(h_upper - h_lower) / (n + 1)`` with ``h_q = q (n - 1)``.

    For 20 seeds and a 5-95% band that is 17.1 / 21 = 81.4%, not 90%: a
    coverage near 81% is what "the published run is one more seed" predicts.

    Parameters
    ----------
    n_seeds
        Number of seeds in the band (at least 2).
    lower, upper
        Quantiles of the band, ``0 <= lower < upper <= 1``.

    Returns
    -------
    float
    """
    if int(n_seeds) != n_seeds or n_seeds < 2:
        raise InputError(f"expected_band_coverage: n_seeds must be an integer >= 2, got {n_seeds!r}.")
    if not 0 <= float(lower) < float(upper) <= 1:
        raise InputError(f"expected_band_coverage: need 0 <= lower < upper <= 1, got {lower!r}, {upper!r}.")
    n = int(n_seeds)
    return float((float(upper) - float(lower)) * (n - 1) / (n + 1))
