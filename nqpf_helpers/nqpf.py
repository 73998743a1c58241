"""NQPF = actual GTFP / predicted GTFP, seed bands and comparisons with published values.

The functions here are pure: they take the long prediction table of
:func:`nqpf_helpers.forecast.growth.forecast_growth_path` (one row per region, seed
and year) and/or the published table of
:func:`nqpf_helpers.data.load_published_nqpf`, and return new DataFrames.

The ratio rule
--------------
One rule, implemented once (:func:`ensemble_ratio`) and used by
:func:`nqpf_ratio` (one seed), :func:`ensemble_nqpf` (several seeds),
:func:`nqpf_helpers.robustness.run_variants` and
:func:`nqpf_helpers.robustness.seed_ensemble_agreement`:

* **Prediction floor.**  A prediction is usable only if it is at least
  ``floor`` times the actual GTFP of the same unit and year (default
  :data:`PREDICTION_FLOOR` = 0.05, i.e. NQPF at most 20).  A growth path that
  predicts less than a twentieth of what the unit achieved has collapsed (it
  says nothing about the unit outgrowing its path), and a ratio to a number
  near zero is unbounded.  The floor is relative, so it is the same for any
  scale of GTFP and needs no training years.  A non-positive prediction is
  always below the floor.
* **Ensemble.**  The ensemble prediction is the geometric mean of the seeds'
  predictions (the mean in log space, the natural average of positive
  growth paths) and NQPF = actual / that.  If *any* seed of a unit-year is
  below the floor, the ensemble NQPF is NaN: dropping those seeds would
  select seeds by their outcome and bias the ensemble upwards.
* **Reason.**  Every NaN comes with a ``reason`` (e.g. ``"2 of 5 seeds
  predict GTFP <= 0"``, ``"prediction 0.0123 below floor 0.0456 (0.05 x
  actual)"``); usable rows have an empty reason.

The rule depends only on each unit-year's own values, so it does not change
with the order of seeds or units or with the other units in the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from nqpf_helpers.errors import InputError, PanelError
from nqpf_helpers.ranking import spearman
from nqpf_helpers.validate import require_columns

__all__ = [
    "PREDICTION_FLOOR",
    "EnsembleRatio",
    "band_coverage",
    "compare_with_published",
    "ensemble_nqpf",
    "ensemble_ratio",
    "nqpf_ratio",
    "per_year_agreement",
    "published_summary",
    "reproduction_table",
    "seed_band",
    "seed_variability_summary",
]

PREDICTION_FLOOR = 0.05
"""A prediction below this share of the actual GTFP (NQPF above 20) gives NaN (the default floor)."""


def _check_floor(floor: float) -> float:
    f = float(floor)
    if not np.isfinite(f) or not 0 < f < 1:
        raise InputError(
            f"floor must be a share of the actual GTFP strictly between 0 and 1 (default {PREDICTION_FLOOR}), "
            f"got {floor!r}."
        )
    return f


@dataclass(frozen=True)
class EnsembleRatio:
    """The result of :func:`ensemble_ratio`: arrays of one shape (seeds reduced away).

    Attributes
    ----------
    predicted
        Geometric mean of the seeds' predictions (NaN if a seed predicts <= 0).
    nqpf
        ``actual / predicted``, NaN where any seed is below the floor.
    n_seeds
        Number of seeds combined.
    n_nonpositive, n_below_floor
        Seeds predicting GTFP <= 0, and seeds below the floor (including
        the non-positive ones).
    floor_level
        The floor in GTFP units (``floor * actual``).
    reason
        Why ``nqpf`` is NaN; ``""`` where it is not.
    """

    predicted: np.ndarray
    nqpf: np.ndarray
    n_seeds: np.ndarray
    n_nonpositive: np.ndarray
    n_below_floor: np.ndarray
    floor_level: np.ndarray
    reason: np.ndarray


def _fmt(x: np.ndarray) -> np.ndarray:
    return np.char.mod("%.3g", np.asarray(x, dtype=float)) if np.size(x) else np.asarray(x, dtype=str)


def ensemble_ratio(
    actual: np.ndarray,
    predicted: np.ndarray,
    *,
    floor: float = PREDICTION_FLOOR,
    axis: int = -1,
    mask: np.ndarray | None = None,
) -> EnsembleRatio:
    """The package's one NQPF rule on arrays (see the module notes), vectorised.

    Parameters
    ----------
    actual
        Actual GTFP, shaped like ``predicted`` without ``axis``.
    predicted
        Predictions of every seed along ``axis``.
    floor
        Share of the actual GTFP below which a prediction is unusable.
    axis
        The seed axis of ``predicted``.
    mask
        Optional boolean array shaped like ``predicted``: which entries are
        real seeds (for groups with unequal numbers of seeds); default all.

    Returns
    -------
    EnsembleRatio
        Arrays shaped like ``actual``.
    """
    f = _check_floor(floor)
    p = np.moveaxis(np.asarray(predicted, dtype=float), axis, -1)
    a = np.asarray(actual, dtype=float)
    if p.shape[:-1] != a.shape:
        raise InputError(f"ensemble_ratio: actual has shape {a.shape}, predicted {p.shape} without the seed axis.")
    m = np.ones(p.shape, dtype=bool) if mask is None else np.moveaxis(np.asarray(mask, dtype=bool), axis, -1)
    level = f * a
    n = m.sum(axis=-1)
    nonpos = ((p <= 0) & m).sum(axis=-1)
    below = ((~(p >= level[..., None])) & m).sum(axis=-1)  # NaN predictions count as below
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # masked by `ok` below
        logp = np.where(m & (p > 0), np.log(np.where(p > 0, p, 1.0)), 0.0)
        gm = np.where(nonpos == 0, np.exp(logp.sum(axis=-1) / n), np.nan)
        bad_actual = ~(a > 0)
        ok = (below == 0) & ~bad_actual & (n > 0)
        nq = np.where(ok, a / gm, np.nan)
    reason = np.full(a.shape, "", dtype=object)
    one = n == 1
    r_below = below > 0
    if r_below.any():
        idx = r_below & one & (nonpos == 0)
        pmin = np.where(m, p, np.inf).min(axis=-1)
        reason[idx] = (
            "prediction " + _fmt(pmin[idx]).astype(object) + " below floor " + _fmt(level[idx]).astype(object)
            + f" ({f:g} x actual)"
        )
        reason[r_below & one & (nonpos > 0)] = "non-positive prediction"
        many = r_below & ~one
        np_many = many & (nonpos > 0)
        reason[np_many] = (
            _fmt(nonpos[np_many]).astype(object) + " of " + _fmt(n[np_many]).astype(object)
            + " seeds predict GTFP <= 0"
        )
        fl_many = many & (nonpos == 0)
        reason[fl_many] = (
            _fmt(below[fl_many]).astype(object) + " of " + _fmt(n[fl_many]).astype(object)
            + " seeds predict below floor " + _fmt(level[fl_many]).astype(object) + f" ({f:g} x actual)"
        )
    n_missing = (np.isnan(p) & m).sum(axis=-1)
    missing = (n_missing > 0) & ~bad_actual
    reason[missing & one] = "missing prediction"
    reason[missing & ~one] = (
        _fmt(n_missing[missing & ~one]).astype(object) + " of " + _fmt(n[missing & ~one]).astype(object)
        + " seeds have no prediction"
    )
    reason[bad_actual] = "actual GTFP missing or <= 0"
    reason[(n == 0) & ~bad_actual] = "no prediction"
    return EnsembleRatio(
        predicted=gm, nqpf=nq, n_seeds=n, n_nonpositive=nonpos, n_below_floor=below, floor_level=level,
        reason=reason,
    )


def nqpf_ratio(
    pred: pd.DataFrame,
    *,
    actual: str = "actual",
    predicted: str = "predicted",
    floor: float = PREDICTION_FLOOR,
) -> pd.DataFrame:
    """Add ``nqpf = actual / predicted`` row by row, NaN with a reason below the floor.

    Parameters
    ----------
    pred
        Table with columns ``actual`` and ``predicted`` (e.g. one row per
        region, seed and year).
    actual, predicted
        Column names.
    floor
        A prediction below ``floor * actual`` (NQPF above ``1 / floor``) is
        unusable: NaN (see the module notes; default :data:`PREDICTION_FLOOR`).

    Returns
    -------
    pandas.DataFrame
        Copy of ``pred`` with columns ``nqpf``, ``below_floor`` (bool) and
        ``reason`` (``""`` where ``nqpf`` is usable).
    """
    require_columns(pred, [actual, predicted], "predictions")
    out = pred.copy()
    r = ensemble_ratio(out[actual].to_numpy(dtype=float), out[predicted].to_numpy(dtype=float)[:, None], floor=floor)
    out["nqpf"] = r.nqpf
    out["below_floor"] = r.n_below_floor > 0
    out["reason"] = r.reason
    return out


def ensemble_nqpf(
    pred: pd.DataFrame, *, unit: str = "region_code", time: str = "year", floor: float = PREDICTION_FLOOR
) -> pd.DataFrame:
    """Combine seeds: predicted GTFP = geometric mean over seeds, NQPF = actual / that.

    Any seed below the floor makes the unit-year's NQPF NaN, with a reason
    (see the module notes).  Vectorised: one groupby, no loop over units.

    Parameters
    ----------
    pred
        Long predictions with columns ``unit``, ``time``, ``seed``,
        ``actual``, ``predicted`` (and optionally ``split``).
    unit, time
        Column names.
    floor
        Share of the actual GTFP below which a prediction is unusable.

    Returns
    -------
    pandas.DataFrame
        One row per ``unit`` and ``time`` (sorted) with ``split`` (if given),
        ``actual``, ``predicted``, ``nqpf``, ``n_seeds``, ``n_below_floor``
        and ``reason``.

    Raises
    ------
    PanelError
        Missing columns, or a seed listed twice for one unit-year.
    """
    require_columns(pred, [unit, time, "seed", "actual", "predicted"], "predictions")
    keys = [unit, time]
    if pred[keys].isna().any().any():
        n_missing = int(pred[keys].isna().any(axis=1).sum())
        raise PanelError(f"predictions: {n_missing} row(s) without a {unit} or {time}; drop them first.")
    dup = pred.duplicated([*keys, "seed"])
    if dup.any():
        raise PanelError(
            f"predictions: {int(dup.sum())} duplicated ({unit}, {time}, seed) row(s); each seed predicts a "
            "unit-year once. Drop the duplicates (or keep one protocol at a time)."
        )
    g = pred.groupby(keys, sort=True)
    codes = g.ngroup().to_numpy()
    pos = g.cumcount().to_numpy()
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    width = int(pos.max()) + 1 if len(pos) else 1
    P = np.full((n_groups, width), np.nan)
    M = np.zeros((n_groups, width), dtype=bool)
    P[codes, pos] = pred["predicted"].to_numpy(dtype=float)
    M[codes, pos] = True
    first = g[["actual", "split"] if "split" in pred.columns else ["actual"]].first()
    r = ensemble_ratio(first["actual"].to_numpy(dtype=float), P, floor=floor, mask=M)
    out = first.reset_index()
    out["predicted"] = r.predicted
    out["nqpf"] = r.nqpf
    out["n_seeds"] = r.n_seeds
    out["n_below_floor"] = r.n_below_floor
    out["reason"] = r.reason
    return out


def seed_band(
    pred: pd.DataFrame,
    *,
    unit: str = "region_code",
    time: str = "year",
    lower: float = 0.05,
    upper: float = 0.95,
    floor: float = PREDICTION_FLOOR,
) -> pd.DataFrame:
    """Seed-to-seed spread of NQPF for every region-year.

    Parameters
    ----------
    pred
        Long predictions (several seeds per region-year), with or without an
        ``nqpf`` column (computed by :func:`nqpf_ratio` if absent).
    lower, upper
        Quantiles of the band across seeds.
    floor
        Passed to :func:`nqpf_ratio` when ``nqpf`` is computed here; seeds
        below the floor (NaN NQPF) are left out of the band and counted in
        ``n_below_floor``.

    Returns
    -------
    pandas.DataFrame
        One row per region-year: ``n_seeds``, ``n_below_floor``, ``nqpf_mean``, ``nqpf_median``,
        ``nqpf_sd`` (ddof=1), ``nqpf_lo``, ``nqpf_hi``, ``share_above_one``
        and ``seeds_disagree`` (some seeds put NQPF above 1 and some not).
    """
    if "nqpf" not in pred.columns:
        pred = nqpf_ratio(pred, floor=floor)
    require_columns(pred, [unit, time, "seed", "nqpf"], "predictions")
    g = pred.groupby([unit, time], sort=True)["nqpf"]
    out = pd.DataFrame(
        {
            "n_seeds": g.size(),
            "n_below_floor": g.size() - g.count(),
            "nqpf_mean": g.mean(),
            "nqpf_median": g.median(),
            "nqpf_sd": g.std(ddof=1),
            "nqpf_lo": g.quantile(lower),
            "nqpf_hi": g.quantile(upper),
            "share_above_one": (pred["nqpf"] > 1).groupby([pred[unit], pred[time]], sort=True).sum() / g.count(),
        }
    ).reset_index()
    out["seeds_disagree"] = (out["share_above_one"] > 0) & (out["share_above_one"] < 1)
    return out


def seed_variability_summary(band: pd.DataFrame) -> pd.Series:
    """Summarise a :func:`seed_band` table.

    Returns
    -------
    pandas.Series
        ``n_seeds``, ``region_years``, median / mean / max of the per
        region-year s.d. of NQPF, median band width, and
        ``share_disagree_above_one`` (region-years where seeds disagree on
        whether NQPF > 1).
    """
    require_columns(band, ["n_seeds", "nqpf_sd", "nqpf_lo", "nqpf_hi", "seeds_disagree"], "seed band")
    return pd.Series(
        {
            "n_seeds": int(band["n_seeds"].min()),
            "region_years": len(band),
            "sd_median": float(band["nqpf_sd"].median()),
            "sd_mean": float(band["nqpf_sd"].mean()),
            "sd_max": float(band["nqpf_sd"].max()),
            "band_width_median": float((band["nqpf_hi"] - band["nqpf_lo"]).median()),
            "share_disagree_above_one": float(band["seeds_disagree"].mean()),
        }
    )


def _joined(
    reproduced: pd.DataFrame, published: pd.DataFrame, unit: str, time: str, value: str
) -> pd.DataFrame:
    require_columns(reproduced, [unit, time, value], "reproduced NQPF")
    require_columns(published, [unit, time, "nqpf"], "published NQPF")
    if reproduced.duplicated([unit, time]).any():
        raise PanelError(
            "reproduced NQPF has several rows per region-year (one per seed?); "
            "combine seeds first with ensemble_nqpf or seed_band."
        )
    j = reproduced[[unit, time, value]].rename(columns={value: "reproduced"}).merge(
        published[[unit, time, "nqpf"]].rename(columns={"nqpf": "published"}), on=[unit, time], how="inner"
    )
    if j.empty:
        raise PanelError(
            "no region-year in common between reproduced and published NQPF; check region codes (6-digit "
            "strings) and years."
        )
    return j


def _metrics(j: pd.DataFrame) -> dict[str, float]:
    a, b = j["reproduced"].to_numpy(dtype=float), j["published"].to_numpy(dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    enough = len(a) >= 3 and np.std(a) > 0 and np.std(b) > 0
    return {
        "n": int(len(a)),
        "pearson": float(stats.pearsonr(a, b)[0]) if enough else np.nan,
        "spearman": spearman(a, b) if enough else np.nan,
        "mean_abs_diff": float(np.mean(np.abs(a - b))) if len(a) else np.nan,
        "agree_above_one": float(np.mean((a > 1) == (b > 1))) if len(a) else np.nan,
    }


def compare_with_published(
    reproduced: pd.DataFrame,
    published: pd.DataFrame,
    *,
    unit: str = "region_code",
    time: str = "year",
    value: str = "nqpf",
) -> pd.Series:
    """Pooled agreement between a reproduced and the published NQPF.

    Parameters
    ----------
    reproduced
        One row per region-year (e.g. from :func:`ensemble_nqpf`) with column ``value``.
    published
        From :func:`nqpf_helpers.data.load_published_nqpf`.

    Returns
    -------
    pandas.Series
        ``n`` (region-years in common), ``pearson``, ``spearman``,
        ``mean_abs_diff`` and ``agree_above_one`` (share of region-years on the
        same side of 1).
    """
    return pd.Series(_metrics(_joined(reproduced, published, unit, time, value)))


def per_year_agreement(
    reproduced: pd.DataFrame,
    published: pd.DataFrame,
    *,
    unit: str = "region_code",
    time: str = "year",
    value: str = "nqpf",
) -> pd.DataFrame:
    """The measures of :func:`compare_with_published`, year by year (cross-sections)."""
    j = _joined(reproduced, published, unit, time, value)
    rows = [{time: y, **_metrics(g)} for y, g in j.groupby(time, sort=True)]
    return pd.DataFrame(rows)


def band_coverage(
    band: pd.DataFrame, published: pd.DataFrame, *, unit: str = "region_code", time: str = "year"
) -> pd.DataFrame:
    """Whether each published NQPF lies inside the seed band ``[nqpf_lo, nqpf_hi]``.

    Returns
    -------
    pandas.DataFrame
        The band joined to the published value with a boolean ``inside``.
    """
    require_columns(band, [unit, time, "nqpf_lo", "nqpf_hi"], "seed band")
    require_columns(published, [unit, time, "nqpf"], "published NQPF")
    j = band.merge(published[[unit, time, "nqpf"]].rename(columns={"nqpf": "published"}), on=[unit, time])
    j["inside"] = (j["published"] >= j["nqpf_lo"]) & (j["published"] <= j["nqpf_hi"])
    return j


def published_summary(levels: Mapping[str, pd.DataFrame], *, unit: str = "region_code") -> pd.DataFrame:
    """How many published NQPF values are impossible or extreme, per administrative level.

    NQPF = GTFP / predicted GTFP with GTFP in (0, 1], so NQPF <= 0 means the
    growth path predicted a GTFP <= 0, and very large values mean it predicted
    a GTFP near zero.  The implied prediction is ``gtfp / nqpf``.

    Parameters
    ----------
    levels
        ``{"province": df, "city": df, "county": df}`` from
        :func:`nqpf_helpers.data.load_published_nqpf`.

    Returns
    -------
    pandas.DataFrame
        One row per level: units, region-years, NQPF min / median / max,
        counts and shares of NQPF < 0 and > 5, the number of units with at
        least one such value, and the share of implied predicted GTFP <= 0.
    """
    rows = []
    for level, df in levels.items():
        require_columns(df, [unit, "gtfp", "nqpf"], f"published NQPF ({level})")
        q = df["nqpf"].to_numpy(dtype=float)
        implied = df["gtfp"].to_numpy(dtype=float) / q
        neg, big = q < 0, q > 5
        rows.append(
            {
                "level": level,
                "units": df[unit].nunique(),
                "region_years": len(df),
                "nqpf_min": float(np.min(q)),
                "nqpf_median": float(np.median(q)),
                "nqpf_max": float(np.max(q)),
                "n_negative": int(neg.sum()),
                "share_negative": float(neg.mean()),
                "n_above_5": int(big.sum()),
                "share_above_5": float(big.mean()),
                "units_with_negative_or_above_5": int(df.loc[neg | big, unit].nunique()),
                "share_implied_prediction_nonpositive": float(np.mean(implied <= 0)),
            }
        )
    return pd.DataFrame(rows)


def reproduction_table(
    pred: pd.DataFrame,
    published: pd.DataFrame,
    *,
    by: tuple[str, ...] = ("protocol", "layout"),
    unit: str = "region_code",
    time: str = "year",
    lower: float = 0.05,
    upper: float = 0.95,
    floor: float = PREDICTION_FLOOR,
) -> pd.DataFrame:
    """One row per protocol (and layout): agreement of its seed-ensemble NQPF with the published one.

    Parameters
    ----------
    pred
        Long predictions of several seeds, e.g. from
        :func:`nqpf_helpers.forecast.growth.forecast_protocols`.
    published
        From :func:`nqpf_helpers.data.load_published_nqpf`.
    by
        Columns identifying a variant.
    lower, upper
        Seed-band quantiles for ``inside_band``.
    floor
        Prediction floor of the ratio rule (see the module notes).

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, then ``n``, ``pearson``, ``spearman``,
        ``mean_abs_diff``, ``agree_above_one`` (ensemble vs published),
        ``inside_band`` (share of published values inside the seed band),
        ``n_undefined`` (region-years whose ensemble NQPF is NaN because a
        seed fell below the prediction floor),
        ``n_seeds``, ``sd_median`` and ``share_disagree_above_one`` over the
        published years.
    """
    rows = []
    years = set(published[time])
    for key, g in pred.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        g = g[g[time].isin(years)]
        band = seed_band(g, unit=unit, time=time, lower=lower, upper=upper, floor=floor)
        ens = ensemble_nqpf(g, unit=unit, time=time, floor=floor)
        comp = compare_with_published(ens, published, unit=unit, time=time)
        var = seed_variability_summary(band)
        rows.append(
            {
                **dict(zip(by, key)),
                **comp.to_dict(),
                "inside_band": float(band_coverage(band, published, unit=unit, time=time)["inside"].mean()),
                "n_undefined": int(ens["nqpf"].isna().sum()),
                "n_seeds": int(var["n_seeds"]),
                "sd_median": var["sd_median"],
                "share_disagree_above_one": var["share_disagree_above_one"],
            }
        )
    out = pd.DataFrame(rows)
    out["n"] = out["n"].astype(int)
    return out
