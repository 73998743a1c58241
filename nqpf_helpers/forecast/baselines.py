"""Naive and statistical baselines and out-of-sample errors (no TensorFlow).

:func:`baseline_forecasts` fits each baseline per unit on the same years the
LSTM trains on under a protocol and predicts the protocol's test years;
:func:`forecast_errors` scores any predictions out of sample.  statsmodels is
imported only when an ETS or ARIMA baseline is fitted.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from nqpf_helpers.errors import InputError, PanelError

from .protocols import Horizon, ProtocolSpec, resolve_protocol
from .windows import n_train_windows, series_matrix

__all__ = ["BASELINES", "baseline_forecasts", "forecast_errors"]

BASELINES = ("random_walk", "rw_drift", "linear_trend", "ets", "arima")
"""Baselines of :func:`baseline_forecasts`."""


def _state_space_paths(
    model: str, train_log: np.ndarray, full_log: np.ndarray, n_test: int, horizon: Horizon
) -> np.ndarray:
    """One-step (fixed parameters, actual history) or multi-step log forecasts of ETS / ARIMA."""
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    with warnings.catch_warnings():
        # short series: optimiser and frequency warnings are expected and not actionable here
        warnings.simplefilter("ignore")
        if model == "ets":
            res = ExponentialSmoothing(train_log, trend=True, damped_trend=True).fit(disp=False)
        else:
            res = ARIMA(train_log, order=(1, 1, 0), trend="t").fit()
        if horizon == "recursive":
            return np.asarray(res.forecast(n_test))
        # re-run the filter over the whole series with the training-period parameters:
        # its one-step-ahead predictions use actual history only
        applied = res.apply(full_log)
        return np.asarray(applied.fittedvalues)[-n_test:]


def baseline_forecasts(
    df: pd.DataFrame,
    protocol: str | ProtocolSpec = "released_current",
    *,
    models: Sequence[str] = BASELINES,
    horizon: Horizon | None = None,
    unit: str = "region_code",
    time: str = "year",
    value: str = "gtfp",
) -> pd.DataFrame:
    """Naive and statistical forecasts for the test years of a protocol.

    Every model is fitted per region on the same years the LSTM trains on
    (every year up to the last training target) and predicts the protocol's
    test years, one step ahead from actual values or recursively.

    Models
    ------
    ``random_walk``
        Last observed value.
    ``rw_drift``
        Last value plus the mean annual change of the training years.
    ``linear_trend``
        OLS of GTFP on the year over the training years.
    ``ets``
        Damped additive-trend exponential smoothing (state space) of log GTFP.
    ``arima``
        ARIMA(1,1,0) with drift of log GTFP.

    Returns
    -------
    pandas.DataFrame
        Columns ``unit``, ``time``, ``split`` (always ``"test"``), ``actual``,
        ``predicted``, ``protocol``, ``horizon``, ``model``.
    """
    spec = resolve_protocol(protocol, horizon=horizon)
    unknown = sorted(set(models) - set(BASELINES))
    if unknown:
        raise InputError(f"unknown baseline(s) {unknown}; choose from {list(BASELINES)}.")
    units, years, V = series_matrix(df, unit=unit, time=time, value=value, lags=spec.lags)
    n_tr = n_train_windows(spec.split, years, lags=spec.lags, share=spec.share, train_until=spec.train_until)
    cut = n_tr + spec.lags  # first test index in the series
    n_test = len(years) - cut
    test_years = years[cut:]
    rows = []
    for n, u in enumerate(units):
        v = V[n]
        train = v[:cut]
        drift = float(np.mean(np.diff(train)))
        slope, intercept = np.polyfit(years[:cut], train, 1)
        h = np.arange(1, n_test + 1)
        for m in models:
            if m == "random_walk":
                p = v[cut - 1 : -1] if spec.horizon == "one_step" else np.full(n_test, train[-1])
            elif m == "rw_drift":
                p = v[cut - 1 : -1] + drift if spec.horizon == "one_step" else train[-1] + drift * h
            elif m == "linear_trend":
                p = intercept + slope * test_years
            else:
                p = np.exp(_state_space_paths(m, np.log(train), np.log(v), n_test, spec.horizon))
            rows.append(
                pd.DataFrame(
                    {
                        unit: u,
                        time: test_years,
                        "split": "test",
                        "actual": v[cut:],
                        "predicted": p,
                        "model": m,
                    }
                )
            )
    out = pd.concat(rows, ignore_index=True)
    out["protocol"] = spec.name
    out["horizon"] = spec.horizon
    return out


def forecast_errors(
    pred: pd.DataFrame, *, by: Sequence[str] = ("protocol", "model"), split: str = "test"
) -> pd.DataFrame:
    """Out-of-sample RMSE and MAPE of GTFP predictions.

    Parameters
    ----------
    pred
        Rows with ``actual``, ``predicted``, ``split`` and the ``by`` columns.
    by
        Grouping columns.
    split
        Which rows to score (``"test"``: out of sample).

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``n``, ``rmse`` (GTFP units) and ``mape`` (percent).
    """
    missing = [c for c in [*by, "actual", "predicted", "split"] if c not in pred.columns]
    if missing:
        raise PanelError(f"predictions: missing column(s) {missing}.")
    d = pred[pred["split"] == split]
    err = d["predicted"] - d["actual"]
    d = d.assign(sq=err**2, ape=100 * np.abs(err) / np.abs(d["actual"]))
    g = d.groupby(list(by), sort=False)
    return pd.DataFrame(
        {"n": g.size(), "rmse": np.sqrt(g["sq"].mean()), "mape": g["ape"].mean()}
    ).reset_index()
