"""Transforms that keep a forecast of an efficiency score inside (0, 1].

A VRS SBM score lies in (0, 1].  A growth path fitted to log GTFP (the
book's improved protocol) keeps the prediction positive but not below 1, so
when actual GTFP sits near the frontier the path can overshoot 1 and, far
from it, NQPF = actual / predicted has no upper bound.  Modelling the
*distance* from the frontier instead respects the bound:

- ``"loglog"``: ``d = -log(g)``, so that the improved protocol's log changes
  are changes of ``log(-log g)`` (the complementary log-log scale);
- ``"logodds"``: ``d = (1 - g) / g``, the odds of inefficiency, whose log is
  ``-logit(g)``.

Both map (0, 1) one-to-one onto (0, inf), so any positive forecast ``d_hat``
maps back into (0, 1): ``g_hat = exp(-d_hat)`` or ``1 / (1 + d_hat)``.  A score
of exactly 1 has distance 0, where a log is undefined; it is capped at
``1 - eps`` first (``eps = 1e-3`` by default), the same small perturbation for
every unit.

Use :func:`to_distance` on the GTFP panel, fit any positive-series forecaster
to the result (e.g. ``forecast_growth_path(..., "improved")``), and map the
forecast table back with :func:`from_distance`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from .errors import InputError
from .validate import require_columns

__all__ = ["KINDS", "distance", "from_distance", "score_from_distance", "to_distance"]

Kind = Literal["loglog", "logodds"]
KINDS: tuple[str, ...] = ("loglog", "logodds")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InputError(f"unknown transform {kind!r}; use one of {list(KINDS)}.")


def distance(g: np.ndarray | pd.Series, kind: Kind = "loglog", *, eps: float = 1e-3):
    """Distance from the frontier of scores in (0, 1]: ``-log g`` or ``(1 - g) / g``.

    Parameters
    ----------
    g
        Scores; must lie in (0, 1].  Values above ``1 - eps`` are capped there.
    kind
        ``"loglog"`` or ``"logodds"``.
    eps
        Cap for scores at 1 (0 < eps < 0.5).

    Returns
    -------
    Same type as ``g``; strictly positive.

    Raises
    ------
    InputError
        Unknown kind, bad ``eps``, or scores outside (0, 1] (with a tolerance of
        1e-9 above 1 for rounding).
    """
    _check_kind(kind)
    if not 0 < float(eps) < 0.5:
        raise InputError(f"eps must lie in (0, 0.5), got {eps!r}.")
    arr = np.asarray(g, dtype=float)
    bad = ~np.isfinite(arr) | (arr <= 0) | (arr > 1 + 1e-9)
    if bad.any():
        raise InputError(
            f"scores must lie in (0, 1]; {int(bad.sum())} value(s) do not (e.g. {arr[bad][:3].tolist()}). "
            "These transforms are for efficiency scores such as a VRS SBM GTFP."
        )
    capped = np.minimum(arr, 1 - float(eps))
    d = -np.log(capped) if kind == "loglog" else (1 - capped) / capped
    return pd.Series(d, index=g.index, name=g.name) if isinstance(g, pd.Series) else d


def score_from_distance(d: np.ndarray | pd.Series, kind: Kind = "loglog"):
    """Inverse of :func:`distance`: ``exp(-d)`` or ``1 / (1 + d)``, in (0, 1) for ``d > 0``.

    Raises
    ------
    InputError
        Unknown kind or negative / non-finite distances.
    """
    _check_kind(kind)
    arr = np.asarray(d, dtype=float)
    if (~np.isfinite(arr) | (arr < 0)).any():
        raise InputError("distances must be finite and non-negative; a positive-series forecaster never gives others.")
    g = np.exp(-arr) if kind == "loglog" else 1 / (1 + arr)
    return pd.Series(g, index=d.index, name=d.name) if isinstance(d, pd.Series) else g


def to_distance(df: pd.DataFrame, kind: Kind = "loglog", *, value: str = "gtfp", eps: float = 1e-3) -> pd.DataFrame:
    """Copy of a GTFP panel with ``value`` replaced by its distance from the frontier.

    Parameters
    ----------
    df
        Long panel with a ``value`` column of scores in (0, 1].
    kind, eps
        See :func:`distance`.
    value
        Column transformed (kept under the same name, so a forecaster reads it
        unchanged); the original is kept as ``value + "_score"``.

    Returns
    -------
    pandas.DataFrame
    """
    require_columns(df, [value], "to_distance")
    out = df.copy()
    out[f"{value}_score"] = out[value]
    out[value] = distance(out[value], kind, eps=eps)
    return out


def from_distance(
    preds: pd.DataFrame,
    kind: Kind = "loglog",
    *,
    original: pd.DataFrame | None = None,
    unit: str = "region_code",
    time: str = "year",
    value: str = "gtfp",
) -> pd.DataFrame:
    """Map a forecast of distances back to scores.

    Parameters
    ----------
    preds
        Forecast table with ``actual`` and ``predicted`` distances (the output
        of :func:`nqpf_helpers.forecast.growth.forecast_growth_path` on
        :func:`to_distance` data).
    kind
        The transform used.
    original
        The untransformed panel; when given, ``actual`` is taken from it (so a
        score of exactly 1 stays 1 instead of ``1 - eps``).
    unit, time, value
        Column names of ``original``.

    Returns
    -------
    pandas.DataFrame
        ``preds`` with ``actual`` and ``predicted`` on the score scale and a
        ``transform`` column.
    """
    require_columns(preds, ["actual", "predicted"], "from_distance")
    out = preds.copy()
    out["predicted"] = score_from_distance(out["predicted"], kind)
    if original is not None:
        key = original.set_index([unit, time])[value]
        idx = pd.MultiIndex.from_frame(out[[unit, time]])
        actual = key.reindex(idx)
        if actual.isna().any():
            raise InputError(
                "from_distance: some forecast rows have no match in `original`; pass the panel that was transformed."
            )
        out["actual"] = actual.to_numpy()
    else:
        out["actual"] = score_from_distance(out["actual"], kind)
    out["transform"] = kind
    return out
