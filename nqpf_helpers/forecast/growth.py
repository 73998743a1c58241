"""Growth paths of every unit under a named protocol.

:func:`forecast_growth_path` is the entry point: it checks the panel, cuts and
scales windows, trains one network per unit and ensemble member as a single
stacked model and predicts the training and test years.  With the default
engine (``TrainConfig(engine="numba")``) training and prediction both run in the
fused kernel of :mod:`~nqpf_helpers.forecast.fused` and TensorFlow is not
imported; ``engine="tensorflow"`` trains and predicts with
:mod:`~nqpf_helpers.forecast.network`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from .protocols import (
    DEFAULT_CONFIG,
    PROTOCOLS,
    Horizon,
    Layout,
    ProtocolSpec,
    TrainConfig,
    check_engine,
    resolve_protocol,
)
from .seeding import check_seeds, init_weights, stack_weights
from .windows import Scaler, make_windows, n_train_windows, network_inputs, series_matrix

__all__ = ["forecast_growth_path", "forecast_protocols"]


def forecast_growth_path(
    df: pd.DataFrame,
    protocol: str | ProtocolSpec = "released_current",
    *,
    seeds: int = 1,
    seed: int = 0,
    layout: Layout | None = None,
    horizon: Horizon | None = None,
    lags: int | None = None,
    train_until: int | None = None,
    config: TrainConfig = DEFAULT_CONFIG,
    unit: str = "region_code",
    time: str = "year",
    value: str = "gtfp",
) -> pd.DataFrame:
    """Fit every region's LSTM growth path under a named protocol.

    All regions and ensemble members are trained together as one stacked
    model (:func:`~nqpf_helpers.forecast.fused.train_fused` by default, or
    :func:`~nqpf_helpers.forecast.network.train_stacked` with
    ``config.engine="tensorflow"``), each on its own series only.  Member ``k``
    of unit ``u`` starts from weights drawn from ``(seed + k, u)`` alone
    (:func:`~nqpf_helpers.forecast.seeding.init_weights`), so a unit's growth
    path does not depend on which other units are in ``df`` or in which order.

    Parameters
    ----------
    df
        Long panel with columns ``unit``, ``time`` and ``value`` (strictly
        positive GTFP), balanced and without gaps.
    protocol
        A key of :data:`~nqpf_helpers.forecast.protocols.PROTOCOLS`
        (``"released_current"``, ``"released_first"``, ``"paper_one_step"``,
        ``"paper_recursive"``, ``"improved"``) or a
        :class:`~nqpf_helpers.forecast.protocols.ProtocolSpec`.
    seeds
        Number of networks per unit (ensemble members), >= 1.
    seed
        Base seed >= 0: the members use seeds ``seed, seed + 1, ...,
        seed + seeds - 1``.
    layout, horizon, lags, train_until
        Override the protocol's input layout / prediction horizon / window
        length / training cut-off year (see
        :func:`~nqpf_helpers.forecast.protocols.resolve_protocol`).
    config
        Optimisation options (defaults: the released code's).
    unit, time, value
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per region, member and predicted year with columns ``unit``,
        ``seed`` (the member's seed), ``time``, ``split`` (``"train"`` or
        ``"test"``), ``actual``, ``predicted``, ``protocol``, ``layout``,
        ``horizon``, ``lags``.  The first ``lags`` years of each series are
        inputs only and have no row.

    Raises
    ------
    PanelError
        Bad panel (gaps, duplicates, missing or non-positive values), series
        too short, or a split that leaves no training or no test window.
    InputError
        Unknown protocol, bad override, or ``seeds`` / ``seed`` not
        non-negative integers (``seeds`` >= 1).
    """
    spec = resolve_protocol(protocol, layout=layout, horizon=horizon, lags=lags, train_until=train_until)
    seeds, seed = check_seeds(seeds, seed)
    L = spec.lags
    units, years, V = series_matrix(df, unit=unit, time=time, value=value, lags=L)
    n_tr = n_train_windows(spec.split, years, lags=L, share=spec.share, train_until=spec.train_until)
    N, S = len(units), seeds
    member_seeds = list(range(seed, seed + S))
    # member-major stacking: stacked network k = (member k // N, unit k % N)
    Vs = np.tile(V, (S, 1))
    X, y = make_windows(Vs, L)
    n_w = X.shape[1]
    scaler = Scaler(spec.transform, X[:, :n_tr], y[:, :n_tr])
    Xin = network_inputs(scaler.inputs(X[:, :n_tr]), spec.layout)
    init = stack_weights([init_weights(units, Xin.shape[-1], config.hidden, seed=s) for s in member_seeds])
    predict = _train(Xin, scaler.targets(y[:, :n_tr], X[:, :n_tr]), init, config)

    if spec.horizon == "one_step":
        pred = scaler.invert(predict(network_inputs(scaler.inputs(X), spec.layout)), X)
    else:  # recursive
        pred = np.empty_like(y)
        pred[:, :n_tr] = scaler.invert(
            predict(network_inputs(scaler.inputs(X[:, :n_tr]), spec.layout)), X[:, :n_tr]
        )
        path = Vs.copy()
        for j in range(n_tr, n_w):
            w = path[:, j : j + L][:, None, :]
            step = scaler.invert(predict(network_inputs(scaler.inputs(w), spec.layout)), w)[:, 0]
            path[:, j + L] = step
            pred[:, j] = step

    split = np.where(np.arange(n_w) < n_tr, "train", "test")
    return pd.DataFrame(
        {
            unit: np.tile(np.repeat(units, n_w), S),
            "seed": np.repeat(member_seeds, N * n_w),
            time: np.tile(years[L:], N * S),
            "split": np.tile(split, N * S),
            "actual": y.ravel(),
            "predicted": pred.ravel(),
            "protocol": spec.name,
            "layout": spec.layout,
            "horizon": spec.horizon,
            "lags": L,
        }
    )


def _train(
    X: np.ndarray, y: np.ndarray, init: dict[str, np.ndarray], config: TrainConfig
) -> Callable[[np.ndarray], np.ndarray]:
    """Train the stacked networks with ``config.engine``; return their predictions ``(N, B, T, F) -> (N, B)``."""
    if check_engine(config.engine) == "numba":  # TensorFlow is never imported on this path
        from .fused import predict_fused, train_fused

        weights = train_fused(X, y, init, config)
        return lambda inputs: predict_fused(weights, inputs)
    from .network import predict_stacked, train_stacked

    layer = train_stacked(X, y, init, config)
    return lambda inputs: predict_stacked(layer, inputs)


def forecast_protocols(
    df: pd.DataFrame,
    protocols: Sequence[str | ProtocolSpec] = tuple(PROTOCOLS),
    *,
    seeds: int = 20,
    seed: int = 0,
    layouts: Sequence[Layout | None] = (None,),
    config: TrainConfig = DEFAULT_CONFIG,
    unit: str = "region_code",
    time: str = "year",
    value: str = "gtfp",
    fit: Callable[..., pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """:func:`forecast_growth_path` for several protocols and input layouts, stacked in one table.

    ``layouts=(None,)`` uses each protocol's own layout; ``("features",
    "sequence")`` fits both readings of the window.  ``seeds`` and ``seed`` as
    in :func:`forecast_growth_path`.

    ``fit`` replaces :func:`forecast_growth_path` for every fit, for example
    ``fit=cache.cached(forecast_growth_path)`` to store and reuse each fit on its own
    (:func:`nqpf_helpers.cache.cached`).  A layout equal to the protocol's own is passed
    as ``layout=None``, so that fit is the same call as ``forecast_growth_path(df,
    protocol, seeds=..., ...)`` and shares its stored result.

    Returns
    -------
    pandas.DataFrame
        The concatenated long tables of :func:`forecast_growth_path` (columns
        ``protocol``, ``layout`` and ``horizon`` tell them apart).
    """
    fit = forecast_growth_path if fit is None else fit
    if not callable(fit):
        raise InputError(f"fit must be a function like forecast_growth_path, got {type(fit).__name__}.")
    parts = []
    for protocol in protocols:
        own = resolve_protocol(protocol).layout
        for layout in layouts:
            parts.append(
                fit(
                    df, protocol, seeds=seeds, seed=seed, layout=None if layout == own else layout,
                    config=config, unit=unit, time=time, value=value,
                )
            )
    return pd.concat(parts, ignore_index=True)
