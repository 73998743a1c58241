"""NQPF = actual GTFP / predicted GTFP, seed bands and comparisons with published values.

The functions here are pure: they take the long prediction table of
:func:`nqpf_helpers.forecast.forecast_growth_path` (one row per region, seed
and year) and/or the published table of
:func:`nqpf_helpers.data.load_published_nqpf`, and return new DataFrames.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from nqpf_helpers.validate import PanelError

__all__ = [
    "band_coverage",
    "compare_with_published",
    "ensemble_nqpf",
    "nqpf_ratio",
    "per_year_agreement",
    "published_summary",
    "reproduction_table",
    "seed_band",
    "seed_variability_summary",
]


def _require(df: pd.DataFrame, cols: list[str], name: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise PanelError(f"{name}: missing column(s) {missing}; found {list(df.columns)}.")


def nqpf_ratio(pred: pd.DataFrame, *, actual: str = "actual", predicted: str = "predicted") -> pd.DataFrame:
    """Add ``nqpf = actual / predicted`` and a flag for non-positive predictions.

    A growth path that predicts GTFP <= 0 makes the ratio meaningless (negative
    or unbounded); such rows are kept, so that they can be counted, but flagged
    in ``predicted_nonpositive``.

    Parameters
    ----------
    pred
        Table with columns ``actual`` and ``predicted``.
    actual, predicted
        Column names.

    Returns
    -------
    pandas.DataFrame
        Copy of ``pred`` with columns ``nqpf`` and ``predicted_nonpositive``.
    """
    _require(pred, [actual, predicted], "predictions")
    out = pred.copy()
    p = out[predicted].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["nqpf"] = out[actual].to_numpy(dtype=float) / p
    out["predicted_nonpositive"] = p <= 0
    return out


def ensemble_nqpf(pred: pd.DataFrame, *, unit: str = "region_code", time: str = "year") -> pd.DataFrame:
    """Combine seeds: predicted GTFP = geometric mean over seeds, NQPF = actual / that.

    The geometric mean is the mean in log space, the natural average of
    positive growth paths; if any seed predicts GTFP <= 0 for a region-year the
    arithmetic mean is used there instead (and ``predicted_nonpositive`` says so).

    Returns
    -------
    pandas.DataFrame
        One row per ``unit`` and ``time`` with ``split``, ``actual``,
        ``predicted``, ``nqpf``, ``predicted_nonpositive`` and ``n_seeds``.
    """
    _require(pred, [unit, time, "seed", "actual", "predicted"], "predictions")
    keys = [unit, time]

    def _combine(g: pd.DataFrame) -> pd.Series:
        p = g["predicted"].to_numpy(dtype=float)
        pos = bool(np.all(p > 0))
        return pd.Series(
            {
                "actual": g["actual"].iloc[0],
                "predicted": float(np.exp(np.mean(np.log(p)))) if pos else float(np.mean(p)),
                "predicted_nonpositive": not pos,
                "n_seeds": len(p),
            }
        )

    cols = ["actual", "predicted"]
    agg = pred.groupby(keys, sort=True)[cols].apply(_combine).reset_index()
    if "split" in pred.columns:
        agg = agg.merge(pred[keys + ["split"]].drop_duplicates(keys), on=keys, how="left")
    agg["nqpf"] = agg["actual"] / agg["predicted"]
    return agg


def seed_band(
    pred: pd.DataFrame, *, unit: str = "region_code", time: str = "year", lower: float = 0.05, upper: float = 0.95
) -> pd.DataFrame:
    """Seed-to-seed spread of NQPF for every region-year.

    Parameters
    ----------
    pred
        Long predictions (several seeds per region-year), with or without an
        ``nqpf`` column (computed by :func:`nqpf_ratio` if absent).
    lower, upper
        Quantiles of the band across seeds.

    Returns
    -------
    pandas.DataFrame
        One row per region-year: ``n_seeds``, ``nqpf_mean``, ``nqpf_median``,
        ``nqpf_sd`` (ddof=1), ``nqpf_lo``, ``nqpf_hi``, ``share_above_one``
        and ``seeds_disagree`` (some seeds put NQPF above 1 and some not).
    """
    if "nqpf" not in pred.columns:
        pred = nqpf_ratio(pred)
    _require(pred, [unit, time, "seed", "nqpf"], "predictions")
    g = pred.groupby([unit, time], sort=True)["nqpf"]
    out = pd.DataFrame(
        {
            "n_seeds": g.size(),
            "nqpf_mean": g.mean(),
            "nqpf_median": g.median(),
            "nqpf_sd": g.std(ddof=1),
            "nqpf_lo": g.quantile(lower),
            "nqpf_hi": g.quantile(upper),
            "share_above_one": g.apply(lambda s: float(np.mean(s > 1))),
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
    _require(band, ["n_seeds", "nqpf_sd", "nqpf_lo", "nqpf_hi", "seeds_disagree"], "seed band")
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
    _require(reproduced, [unit, time, value], "reproduced NQPF")
    _require(published, [unit, time, "nqpf"], "published NQPF")
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
        "spearman": float(stats.spearmanr(a, b)[0]) if enough else np.nan,
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
    _require(band, [unit, time, "nqpf_lo", "nqpf_hi"], "seed band")
    _require(published, [unit, time, "nqpf"], "published NQPF")
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
        _require(df, [unit, "gtfp", "nqpf"], f"published NQPF ({level})")
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
) -> pd.DataFrame:
    """One row per protocol (and layout): agreement of its seed-ensemble NQPF with the published one.

    Parameters
    ----------
    pred
        Long predictions of several seeds, e.g. from
        :func:`nqpf_helpers.forecast.forecast_protocols`.
    published
        From :func:`nqpf_helpers.data.load_published_nqpf`.
    by
        Columns identifying a variant.
    lower, upper
        Seed-band quantiles for ``inside_band``.

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, then ``n``, ``pearson``, ``spearman``,
        ``mean_abs_diff``, ``agree_above_one`` (ensemble vs published),
        ``inside_band`` (share of published values inside the seed band),
        ``n_seeds``, ``sd_median`` and ``share_disagree_above_one`` over the
        published years.
    """
    rows = []
    years = set(published[time])
    for key, g in pred.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        g = g[g[time].isin(years)]
        band = seed_band(g, unit=unit, time=time, lower=lower, upper=upper)
        comp = compare_with_published(ensemble_nqpf(g, unit=unit, time=time), published, unit=unit, time=time)
        var = seed_variability_summary(band)
        rows.append(
            {
                **dict(zip(by, key)),
                **comp.to_dict(),
                "inside_band": float(band_coverage(band, published, unit=unit, time=time)["inside"].mean()),
                "n_seeds": int(var["n_seeds"]),
                "sd_median": var["sd_median"],
                "share_disagree_above_one": var["share_disagree_above_one"],
            }
        )
    out = pd.DataFrame(rows)
    out["n"] = out["n"].astype(int)
    return out
