"""How much do NQPF rankings depend on the modelling choices?

NQPF is a chain of choices: the SBM model behind GTFP (returns to scale,
which periods span the frontier) and the LSTM growth path (window length,
training cut-off, how a window is read, how many seeds are averaged).  This
module runs a grid of such variants and measures how far the resulting *unit
rankings* agree:

* :class:`Variant` names one set of choices; :func:`one_at_a_time` builds a
  baseline plus variants that each change a single choice;
* :func:`run_variants` computes GTFP (SBM, when a raw panel is given), the
  growth paths and the ensemble NQPF of every variant, reusing shared stages,
  and returns one tidy table;
* :func:`unit_scores` turns that table into one score per unit and variant
  (e.g. the geometric mean of NQPF over 2010-2017);
* :func:`rank_agreement` (Spearman matrix), :func:`top_k_overlap` and
  :func:`flip_share` (units whose NQPF > 1 verdict changes) compare variants;
  :func:`baseline_comparison` puts all three against the baseline in one table;
* :func:`seed_ensemble_agreement` asks how many seeds a stable ranking needs.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from numbers import Integral
from typing import Literal

import numpy as np
import pandas as pd

from nqpf_helpers import forecast as fc
from nqpf_helpers import sbm as sbm_mod
from nqpf_helpers.errors import InputError, NQPFWarning
from nqpf_helpers.nqpf import PREDICTION_FLOOR, ensemble_nqpf, ensemble_ratio
from nqpf_helpers.ranking import spearman, spearman_matrix
from nqpf_helpers.validate import PanelError, format_list, require_columns

__all__ = [
    "SBM_OPTIONS",
    "LSTM_OPTIONS",
    "Variant",
    "baseline_comparison",
    "flip_share",
    "one_at_a_time",
    "rank_agreement",
    "run_variants",
    "seed_ensemble_agreement",
    "top_k_overlap",
    "undefined_units",
    "unit_scores",
]

Summary = Literal["gmean", "mean", "median"]

SBM_OPTIONS = ("rts", "frontier", "window")
"""Variant fields that change the SBM stage (need a raw input panel)."""

LSTM_OPTIONS = ("protocol", "lags", "train_until", "layout", "seeds", "seed")
"""Variant fields that change the growth-path stage."""


@dataclass(frozen=True)
class Variant:
    """One set of modelling choices.

    Attributes
    ----------
    name
        Label used in tables and matrices; must be unique within a grid.
    choice
        Which choice this variant changes relative to the baseline
        (``"baseline"`` for the baseline itself); used to group results.
    rts, frontier, window
        SBM options (see :func:`nqpf_helpers.sbm.panel.sbm`); only used when
        :func:`run_variants` receives a raw input panel.
    protocol
        A key of :data:`nqpf_helpers.forecast.protocols.PROTOCOLS`.
    lags, train_until, layout
        Overrides of the protocol's window length, training cut-off year
        (protocols with an ``until_year`` split only) and input reading;
        ``None`` keeps the protocol's own.
    seeds
        Number of networks (initialisations) averaged into the ensemble
        growth path.
    seed
        Base seed: the ensemble's networks are seeds ``seed, seed + 1, ...,
        seed + seeds - 1``.  Varying ``seed`` with the same ``seeds`` draws
        an ensemble of *other* networks (a yardstick of seed noise).
    """

    name: str
    choice: str = "baseline"
    rts: str = "vrs"
    frontier: str = "global"
    window: int = 3
    protocol: str = "improved"
    lags: int | None = None
    train_until: int | None = None
    layout: str | None = None
    seeds: int = 5
    seed: int = 0

    def seed_values(self) -> tuple[int, ...]:
        """The seeds of the ensemble's networks: ``seed, ..., seed + seeds - 1``."""
        return tuple(range(self.seed, self.seed + self.seeds))

    def spec(self) -> fc.ProtocolSpec:
        """The :class:`~nqpf_helpers.forecast.protocols.ProtocolSpec` this variant trains with."""
        return fc.resolve_protocol(
            self.protocol, lags=self.lags, layout=self.layout, train_until=self.train_until,
            context=f"variant {self.name!r}: ",
        )

    def describe(self) -> dict[str, object]:
        """The choices as a flat dict for tables, with the protocol's own values filled in.

        The DEA window is reported as ``frontier_window_years`` and only for a
        moving-window frontier (``None`` otherwise), so that it cannot be read
        as the LSTM's input window (``lags``).
        """
        d = asdict(self)
        spec = self.spec()
        d.update(lags=spec.lags, layout=spec.layout)
        d["train_until"] = spec.train_until if spec.split == "until_year" else None
        window = d.pop("window")
        d["frontier_window_years"] = window if self.frontier == "window" else None
        return d


def one_at_a_time(baseline: Variant, **alternatives: Sequence[object]) -> list[Variant]:
    """A baseline plus variants that each change exactly one of its choices.

    Parameters
    ----------
    baseline
        The reference set of choices (its ``choice`` is set to ``"baseline"``).
    **alternatives
        Field name -> alternative values, e.g. ``lags=[3, 7]``.  Values equal
        to the baseline's are skipped.

    Returns
    -------
    list of Variant
        ``[baseline, ...]``; variant names read ``"<field>=<value>"``, except
        for ``seed``, where they name the networks: ``"seeds=<first>..<last>"``;
        their ``choice`` is the field name.

    Examples
    --------
    >>> grid = one_at_a_time(Variant("baseline", seeds=5), lags=[3, 7], rts=["crs"], seed=[5])
    >>> [v.name for v in grid]
    ['baseline', 'lags=3', 'lags=7', 'rts=crs', 'seeds=5..9']
    """
    known = {f.name for f in fields(Variant)} - {"name", "choice"}
    unknown = sorted(set(alternatives) - known)
    if unknown:
        raise InputError(f"unknown choice(s) {unknown}; vary any of {sorted(known)}.")
    out = [replace(baseline, choice="baseline")]
    for field, values in alternatives.items():
        for value in values:
            if value == getattr(baseline, field):
                continue
            v = replace(baseline, name=f"{field}={value}", choice=field, **{field: value})
            if field == "seed":
                first, last = v.seed_values()[0], v.seed_values()[-1]
                v = replace(v, name=f"seeds={first}" if first == last else f"seeds={first}..{last}")
            out.append(v)
    return out


def _check_grid(variants: Sequence[Variant]) -> list[Variant]:
    variants = list(variants)
    if not variants:
        raise InputError("no variants given; pass at least one Variant (see one_at_a_time).")
    names = [v.name for v in variants]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"variant names must be unique; repeated: {format_list(dup)}. Rename them.")
    for v in variants:
        v.spec()  # fail early on bad LSTM options
        if isinstance(v.seeds, bool) or not isinstance(v.seeds, Integral) or v.seeds < 1:
            raise InputError(
                f"variant {v.name!r}: seeds is the number of networks in the ensemble, a positive integer; "
                f"got {v.seeds!r}. Pass e.g. seeds=5 (and seed=0 for the base seed)."
            )
        if isinstance(v.seed, bool) or not isinstance(v.seed, Integral) or v.seed < 0:
            raise InputError(f"variant {v.name!r}: seed is the base seed, an integer >= 0; got {v.seed!r}.")
    return variants


def run_variants(
    variants: Sequence[Variant],
    *,
    gtfp: pd.DataFrame | None = None,
    panel: pd.DataFrame | None = None,
    inputs: Sequence[str] = (),
    good: Sequence[str] = (),
    bad: Sequence[str] = (),
    unit: str = "region_code",
    time: str = "year",
    value: str = "gtfp",
    config: fc.TrainConfig = fc.TrainConfig(),
    floor: float = PREDICTION_FLOOR,
) -> pd.DataFrame:
    """Ensemble NQPF of every variant, as one tidy table.

    Exactly one of ``gtfp`` and ``panel`` is given.  With ``gtfp`` (e.g. the
    authors' provincial series) only the growth-path choices can vary, and
    every variant must keep the SBM options of the first.  With ``panel`` (raw
    inputs and outputs, e.g. the world panel) GTFP is the SBM score ``rho`` of
    each variant's SBM options.  Stages shared by several variants (the same
    SBM options; the same GTFP and LSTM options) are computed once.

    Parameters
    ----------
    variants
        The grid, e.g. from :func:`one_at_a_time`.
    gtfp
        Long GTFP panel with columns ``unit``, ``time``, ``value``.
    panel
        Raw panel with columns ``unit``, ``time``, ``inputs``, ``good``, ``bad``.
    inputs, good, bad
        SBM columns of ``panel``.
    unit, time, value
        Column names.
    config
        LSTM training options.
    floor
        Prediction floor of the ensemble rule (see :mod:`nqpf_helpers.nqpf`).

    Returns
    -------
    pandas.DataFrame
        One row per variant, unit and predicted year: ``variant``, ``choice``,
        ``unit``, ``time``, ``split``, ``actual``, ``predicted`` (geometric
        mean over seeds), ``nqpf`` (NaN below the floor), ``n_seeds``,
        ``n_below_floor``, ``reason``, as from
        :func:`nqpf_helpers.nqpf.ensemble_nqpf`.

    Raises
    ------
    InputError
        Both or neither of ``gtfp``/``panel``, SBM options that vary without a
        raw panel, duplicate variant names or bad LSTM options.
    PanelError
        Bad panels (from the SBM and forecasting stages).
    """
    variants = _check_grid(variants)
    if (gtfp is None) == (panel is None):
        raise InputError(
            "pass exactly one of gtfp= (a GTFP series: LSTM choices only) or panel= (raw inputs: SBM choices too)."
        )
    def sbm_key(v: Variant) -> tuple:
        return tuple(getattr(v, o) for o in SBM_OPTIONS)

    varied = [v.name for v in variants if sbm_key(v) != sbm_key(variants[0])]
    if gtfp is not None and varied:
        raise InputError(
            f"variants {format_list(varied)} change SBM options, but only a GTFP series was given; "
            "pass the raw input panel as panel= (with inputs=, good=, bad=) to vary the SBM stage."
        )
    if panel is not None and (not inputs or not good):
        raise InputError("with panel= name the SBM columns: inputs=[...], good=[...] (and bad=[...]).")

    gtfp_cache: dict[tuple, pd.DataFrame] = {}
    nqpf_cache: dict[tuple, pd.DataFrame] = {}
    parts = []
    for v in variants:
        skey = sbm_key(v) if panel is not None else ("given",)
        if skey not in gtfp_cache:
            if panel is None:
                gtfp_cache[skey] = gtfp
            else:
                scores = sbm_mod.sbm(
                    panel, unit=unit, time=time, inputs=inputs, good=good, bad=bad,
                    rts=v.rts, frontier=v.frontier, window=v.window,
                )
                gtfp_cache[skey] = scores[[unit, time, "rho"]].rename(columns={"rho": value})
        spec = v.spec()
        lkey = (skey, spec, v.seed_values())
        if lkey not in nqpf_cache:
            paths = fc.forecast_growth_path(
                gtfp_cache[skey], spec, seeds=v.seeds, seed=v.seed, config=config, unit=unit, time=time, value=value
            )
            nqpf_cache[lkey] = ensemble_nqpf(paths, unit=unit, time=time, floor=floor)
        parts.append(nqpf_cache[lkey].assign(variant=v.name, choice=v.choice))
    out = pd.concat(parts, ignore_index=True)
    first = ["variant", "choice", unit, time]
    return out[first + [c for c in out.columns if c not in first]]


# --------------------------------------------------------------------------- #
# From NQPF to rankings
# --------------------------------------------------------------------------- #
def _summarise(values: np.ndarray, summary: Summary, axis: int) -> np.ndarray:
    if summary == "gmean":
        return np.exp(np.mean(np.log(values), axis=axis))
    if summary == "mean":
        return np.mean(values, axis=axis)
    if summary == "median":
        return np.median(values, axis=axis)
    raise InputError(f"unknown summary {summary!r}; use 'gmean', 'mean' or 'median'.")


def undefined_units(
    table: pd.DataFrame,
    *,
    unit: str = "region_code",
    time: str = "year",
    value: str = "nqpf",
    by: str = "variant",
    years: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Units whose ``value`` is missing in some year of some variant, and why.

    NQPF is NaN where a growth path fell below the prediction floor (see
    :mod:`nqpf_helpers.nqpf`); such a unit has no score for that variant.

    Parameters
    ----------
    table
        Long table with columns ``by``, ``unit``, ``time``, ``value`` and
        optionally ``reason`` (e.g. from :func:`run_variants`).
    unit, time, value, by
        Column names.
    years
        Inclusive ``(first, last)`` years; ``None`` uses all.

    Returns
    -------
    pandas.DataFrame
        One row per variant and unit with a missing value: ``by``, ``unit``,
        ``n_years`` (years missing), ``first_year`` and ``reason`` (of the
        first missing year, ``""`` if the table has no reason column).
    """
    require_columns(table, [by, unit, time, value], "NQPF table")
    d = table if years is None else table[table[time].between(*years)]
    bad = d[~np.isfinite(d[value].to_numpy(dtype=float))].sort_values([by, unit, time], kind="stable")
    reason = bad["reason"] if "reason" in bad.columns else pd.Series("", index=bad.index)
    g = bad.assign(reason=reason).groupby([by, unit], sort=False)
    out = g.agg(n_years=(time, "size"), first_year=(time, "min"), reason=("reason", "first")).reset_index()
    return out


def unit_scores(
    table: pd.DataFrame,
    *,
    unit: str = "region_code",
    time: str = "year",
    value: str = "nqpf",
    by: str = "variant",
    years: tuple[int, int] | None = None,
    summary: Summary = "gmean",
    undefined: Literal["raise", "drop"] = "raise",
) -> pd.DataFrame:
    """One score per unit and variant: NQPF summarised over a range of years.

    Parameters
    ----------
    table
        Long table with columns ``by``, ``unit``, ``time``, ``value`` (e.g.
        from :func:`run_variants`).
    unit, time, value, by
        Column names.
    years
        Inclusive ``(first, last)`` years; ``None`` uses all.
    summary
        ``"gmean"`` (geometric mean, the natural average of ratios; needs
        positive values), ``"mean"`` or ``"median"``.
    undefined
        What to do with units whose value is missing (NaN below the
        prediction floor) in some year of some variant: ``"raise"`` a
        :class:`~nqpf_helpers.errors.PanelError`, or ``"drop"`` them from *every* variant, so that
        all variants rank the same units, with an
        :class:`~nqpf_helpers.errors.NQPFWarning` naming them
        (:func:`undefined_units` lists them with the reason).

    Returns
    -------
    pandas.DataFrame
        Units as rows, the values of ``by`` as columns (in order of first
        appearance).

    Raises
    ------
    PanelError
        Missing columns, no rows in ``years``, duplicated unit-years within a
        variant, variants that cover different units or years, missing
        values (with ``undefined="raise"``), or non-positive values with
        ``summary="gmean"``.
    """
    require_columns(table, [by, unit, time, value], "NQPF table")
    if undefined not in ("raise", "drop"):
        raise InputError(f"undefined must be 'raise' or 'drop', got {undefined!r}.")
    d = table
    if years is not None:
        d = d[d[time].between(*years)]
        if d.empty:
            raise PanelError(f"NQPF table: no rows in years {years[0]}-{years[1]}; choose years the table covers.")
    if undefined == "drop":
        gone = undefined_units(d, unit=unit, time=time, value=value, by=by)
        if len(gone):
            units = list(dict.fromkeys(gone[unit]))
            first = gone[[unit, by, "reason"]].drop_duplicates(unit).itertuples(index=False, name=None)
            warnings.warn(
                f"{len(units)} unit(s) dropped from every variant because their {value!r} is undefined in some "
                f"year of some variant (a growth path below the prediction floor): "
                f"{format_list(f'{u} ({v}: {r})' for u, v, r in first)}. "
                "List them with robustness.undefined_units.",
                NQPFWarning,
                stacklevel=2,
            )
            d = d[~d[unit].isin(units)]
    dup = d.duplicated([by, unit, time])
    if dup.any():
        raise PanelError(
            f"NQPF table: {int(dup.sum())} duplicated ({by}, {unit}, {time}) row(s), e.g. "
            f"{format_list(map(tuple, d.loc[dup, [by, unit, time]].head(3).to_numpy()))}; "
            "pass one row per variant, unit and year (combine seeds first, e.g. with ensemble_nqpf)."
        )
    vals = d[value].to_numpy(dtype=float)
    if not np.all(np.isfinite(vals)):
        bad = d.loc[~np.isfinite(vals), [by, unit, time]].head(3).to_numpy()
        raise PanelError(
            f"NQPF table: {int((~np.isfinite(vals)).sum())} missing or infinite {value!r} value(s), e.g. "
            f"{format_list(map(tuple, bad))} (NaN where a growth path fell below the prediction floor: see the "
            "'reason' column and robustness.undefined_units). Pass undefined='drop' to rank the other units, "
            "or restrict years= to where every variant is defined."
        )
    if summary == "gmean" and np.any(vals <= 0):
        raise PanelError(
            f"NQPF table: {int((vals <= 0).sum())} non-positive {value!r} value(s) (a growth path predicted "
            "GTFP <= 0); a geometric mean is undefined. Use summary='median' or a protocol with positive paths."
        )
    order = list(dict.fromkeys(d[by]))
    cube = d.pivot_table(index=unit, columns=[by, time], values=value, aggfunc="first")
    if cube.isna().any().any():
        gaps = cube.columns[cube.isna().any()].get_level_values(0).unique()
        raise PanelError(
            f"NQPF table: variant(s) {format_list(gaps)} lack some unit-years that others have; "
            "compare variants on the same units and years (restrict with years=)."
        )
    out = pd.DataFrame(
        {b: _summarise(cube[b].to_numpy(dtype=float), summary, axis=1) for b in order}, index=cube.index
    )
    out.columns.name = by
    return out


def _check_scores(scores: pd.DataFrame) -> np.ndarray:
    if not isinstance(scores, pd.DataFrame) or scores.shape[1] < 1:
        raise PanelError("scores: expected a DataFrame with units as rows and variants as columns (see unit_scores).")
    if scores.shape[0] < 2:
        raise PanelError(f"scores: {scores.shape[0]} unit(s); rankings need at least 2.")
    a = scores.to_numpy(dtype=float)
    if not np.all(np.isfinite(a)):
        bad = scores.columns[~np.isfinite(a).all(axis=0)]
        raise PanelError(f"scores: missing or infinite values in {format_list(bad)}; drop or fill those units first.")
    return a


def rank_agreement(scores: pd.DataFrame) -> pd.DataFrame:
    """Spearman rank correlation between every pair of variants' unit rankings.

    Parameters
    ----------
    scores
        Units as rows, variants as columns (from :func:`unit_scores`).

    Returns
    -------
    pandas.DataFrame
        Symmetric variants x variants matrix with ones on the diagonal; ties
        get average ranks.

    Raises
    ------
    PanelError
        Fewer than two units, missing values, or a variant that gives every
        unit the same score (its ranking, and so Spearman, is undefined).
    """
    a = _check_scores(scores)
    flat = np.ptp(a, axis=0) == 0
    if flat.any():
        raise PanelError(
            f"scores: variant(s) {format_list(scores.columns[flat])} give every unit the same score, "
            "so their ranking is undefined; drop them."
        )
    rho = spearman_matrix(a)
    return pd.DataFrame(rho, index=scores.columns, columns=scores.columns)


def top_k_overlap(scores: pd.DataFrame, k: int) -> pd.DataFrame:
    """Share of the ``k`` highest-scoring units that two variants have in common.

    Ties at the cut are broken by the unit label, so the result is
    deterministic.

    Returns
    -------
    pandas.DataFrame
        Symmetric variants x variants matrix in [0, 1] with ones on the diagonal.
    """
    a = _check_scores(scores)
    n = a.shape[0]
    if not 1 <= k <= n:
        raise InputError(f"k must be between 1 and the number of units ({n}), got {k}.")
    labels = np.asarray(scores.index.astype(str))
    tops = []
    for j in range(a.shape[1]):
        order = np.lexsort((labels, -a[:, j]))  # by score descending, then label
        tops.append(set(order[:k]))
    m = np.array([[len(t & u) / k for u in tops] for t in tops])
    return pd.DataFrame(m, index=scores.columns, columns=scores.columns)


def flip_share(scores: pd.DataFrame, threshold: float = 1.0) -> pd.DataFrame:
    """Share of units that two variants put on different sides of ``threshold``.

    With NQPF scores and ``threshold=1`` this is the share of units whose
    verdict "above its own growth path" changes between the two variants.

    Returns
    -------
    pandas.DataFrame
        Symmetric variants x variants matrix in [0, 1] with zeros on the diagonal.
    """
    a = _check_scores(scores)
    above = a > threshold
    m = (above[:, :, None] != above[:, None, :]).mean(axis=0)
    return pd.DataFrame(m, index=scores.columns, columns=scores.columns)


def baseline_comparison(
    scores: pd.DataFrame,
    baseline: str,
    *,
    choices: Mapping[str, str] | None = None,
    k: int = 10,
    threshold: float = 1.0,
) -> pd.DataFrame:
    """Every variant against the baseline: Spearman, top-k overlap, flip share.

    Parameters
    ----------
    scores
        Units x variants (from :func:`unit_scores`).
    baseline
        Column of ``scores`` to compare against.
    choices
        Variant -> the choice it changes (e.g. from :func:`run_variants`'s
        ``choice`` column); adds a ``choice`` column.
    k, threshold
        See :func:`top_k_overlap` and :func:`flip_share`.

    Returns
    -------
    pandas.DataFrame
        One row per non-baseline variant with ``variant``, (``choice``),
        ``spearman``, ``top_k_overlap``, ``flip_share`` and
        ``median_abs_log_change`` (median over units of the absolute log
        ratio of the variant's score to the baseline's: how much the
        level, not the rank, moves), sorted by Spearman (least agreement
        first).
    """
    if baseline not in scores.columns:
        raise InputError(f"baseline {baseline!r} is not a column of scores; columns: {format_list(scores.columns)}.")
    rho = rank_agreement(scores)[baseline]
    top = top_k_overlap(scores, k)[baseline]
    flip = flip_share(scores, threshold)[baseline]
    others = [c for c in scores.columns if c != baseline]
    with np.errstate(divide="ignore", invalid="ignore"):
        logchg = np.abs(np.log(scores[others].to_numpy(float) / scores[[baseline]].to_numpy(float)))
    out = pd.DataFrame(
        {
            "variant": others,
            "spearman": rho[others].to_numpy(),
            "top_k_overlap": top[others].to_numpy(),
            "flip_share": flip[others].to_numpy(),
            "median_abs_log_change": np.median(logchg, axis=0),
        }
    )
    if choices is not None:
        out.insert(1, "choice", [choices.get(v, "") for v in others])
    return out.sort_values("spearman", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- #
# Seed ensembles
# --------------------------------------------------------------------------- #
def _spearman_finite(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return spearman(a[ok], b[ok]) if ok.sum() >= 2 else float("nan")


def seed_ensemble_agreement(
    pred: pd.DataFrame,
    sizes: Sequence[int] = (1, 5, 10, 20),
    *,
    n_draws: int = 20,
    unit: str = "region_code",
    time: str = "year",
    years: tuple[int, int] | None = None,
    summary: Summary = "gmean",
    threshold: float = 1.0,
    seed: int = 0,
    floor: float = PREDICTION_FLOOR,
) -> pd.DataFrame:
    """How stable are unit rankings from ensembles of a given number of seeds?

    For each draw the seeds are shuffled; for each size ``k`` ensemble A is
    the first ``k`` seeds, ensemble B the next ``k`` (disjoint from A), and
    the reference the last ``S - max(sizes)`` seeds (disjoint from A).  Each
    ensemble's NQPF follows the package's one rule
    (:func:`nqpf_helpers.nqpf.ensemble_ratio`, as in
    :func:`~nqpf_helpers.nqpf.ensemble_nqpf`: actual / geometric-mean
    prediction, NaN where a seed is below the floor), and each unit's score
    is NQPF summarised over ``years`` (NaN if any year is NaN).  Rank
    correlations and flip shares use the units scored by both ensembles.

    Parameters
    ----------
    pred
        Per-seed predictions (from :func:`~nqpf_helpers.forecast.growth.forecast_growth_path`)
        with columns ``unit``, ``time``, ``seed``, ``actual``, ``predicted``.
    sizes
        Ensemble sizes; ``2 * max(sizes)`` must not exceed the number of seeds
        (A and B disjoint) and at least one seed must be left for the reference.
    n_draws
        Random reshufflings of the seeds.
    years, summary
        As in :func:`unit_scores`.
    threshold
        For the flip share (see :func:`flip_share`).
    seed
        Seed of the shuffles.
    floor
        Prediction floor (see :mod:`nqpf_helpers.nqpf`).

    Returns
    -------
    pandas.DataFrame
        One row per draw and size: ``draw``, ``size``, ``spearman_between``
        (A vs B: two independent ensembles of that size), ``spearman_vs_reference``
        (A vs the reference ensemble), ``flip_between`` (share of units A and B
        put on different sides of ``threshold``), ``n_reference``,
        ``n_units`` (units scored by both A and B).
    """
    require_columns(pred, [unit, time, "seed", "actual", "predicted"], "predictions")
    sizes = sorted({int(s) for s in sizes})
    if not sizes or sizes[0] < 1:
        raise InputError(f"sizes must be positive integers, got {sizes}.")
    d = pred if years is None else pred[pred[time].between(*years)]
    if d.empty:
        raise PanelError("predictions: no rows in the chosen years.")
    seeds = np.sort(d["seed"].unique())
    S = len(seeds)
    n_ref = S - sizes[-1]
    if 2 * sizes[-1] > S or n_ref < 1:
        raise InputError(
            f"{S} seed(s) cannot give two disjoint ensembles of {sizes[-1]} and a separate reference; "
            f"train at least {2 * sizes[-1]} seeds (and more than {sizes[-1]}), or use smaller sizes."
        )
    cube = d.pivot_table(index=unit, columns=["seed", time], values="predicted", aggfunc="first")
    units = cube.index
    yrs = np.sort(d[time].unique())
    full = pd.MultiIndex.from_product([seeds, yrs], names=["seed", time])
    cube = cube.reindex(columns=full)
    if cube.isna().any().any() or d.duplicated([unit, time, "seed"]).any():
        raise PanelError("predictions: every seed must predict every unit-year exactly once.")
    P = cube.to_numpy(dtype=float).reshape(len(units), S, len(yrs))  # unit x seed x year
    actual = d.pivot_table(index=unit, columns=time, values="actual", aggfunc="first").reindex(index=units, columns=yrs)
    A = actual.to_numpy(dtype=float)

    def score(idx: np.ndarray) -> np.ndarray:
        nq = ensemble_ratio(A, P[:, idx, :], floor=floor, axis=1).nqpf  # finite values are > 0
        return _summarise(nq, summary, axis=1)

    rng = np.random.default_rng(seed)
    rows = []
    for draw in range(n_draws):
        perm = rng.permutation(S)
        ref = score(perm[S - n_ref :])
        for k in sizes:
            a, b = score(perm[:k]), score(perm[k : 2 * k])
            both = np.isfinite(a) & np.isfinite(b)
            rows.append(
                {
                    "draw": draw,
                    "size": k,
                    "spearman_between": _spearman_finite(a, b),
                    "spearman_vs_reference": _spearman_finite(a, ref),
                    "flip_between": float(np.mean((a[both] > threshold) != (b[both] > threshold)))
                    if both.any() else float("nan"),
                    "n_reference": n_ref,
                    "n_units": int(both.sum()),
                }
            )
    return pd.DataFrame(rows)
