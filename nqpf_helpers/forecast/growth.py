"""Growth paths of every unit under a named protocol (trains with TensorFlow).

:func:`forecast_growth_path` is the entry point: it checks the panel, cuts and
scales windows, trains one network per unit and ensemble member as a single
stacked model and predicts the training and test years.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .network import predict_stacked, train_stacked
from .protocols import DEFAULT_CONFIG, PROTOCOLS, Horizon, Layout, ProtocolSpec, TrainConfig, resolve_protocol
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
    model (:func:`~nqpf_helpers.forecast.network.train_stacked`), each on its own
    series only.  Member ``k`` of unit ``u`` starts from weights drawn from
    ``(seed + k, u)`` alone (:func:`~nqpf_helpers.forecast.seeding.init_weights`), so a
    unit's growth path does not depend on which other units are in ``df`` or
    in which order.

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
    layer = train_stacked(Xin, scaler.targets(y[:, :n_tr], X[:, :n_tr]), init, config)

    if spec.horizon == "one_step":
        pred = scaler.invert(predict_stacked(layer, network_inputs(scaler.inputs(X), spec.layout)), X)
    else:  # recursive
        pred = np.empty_like(y)
        pred[:, :n_tr] = scaler.invert(
            predict_stacked(layer, network_inputs(scaler.inputs(X[:, :n_tr]), spec.layout)), X[:, :n_tr]
        )
        path = Vs.copy()
        for j in range(n_tr, n_w):
            w = path[:, j : j + L][:, None, :]
            step = scaler.invert(predict_stacked(layer, network_inputs(scaler.inputs(w), spec.layout)), w)[
                :, 0
            ]
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
) -> pd.DataFrame:
    """:func:`forecast_growth_path` for several protocols and input layouts, stacked in one table.

    ``layouts=(None,)`` uses each protocol's own layout; ``("features",
    "sequence")`` fits both readings of the window.  ``seeds`` and ``seed`` as
    in :func:`forecast_growth_path`.  Returns the concatenated long tables
    (columns ``protocol``, ``layout`` and ``horizon`` tell them apart).
    """
    parts = [
        forecast_growth_path(
            df, p, seeds=seeds, seed=seed, layout=lay, config=config, unit=unit, time=time, value=value
        )
        for p in protocols
        for lay in layouts
    ]
    return pd.concat(parts, ignore_index=True)
