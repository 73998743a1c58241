"""LSTM growth paths for GTFP series, trained for all regions at once.

Cao & Dai (2025) predict each region's green TFP from its own past with a small
LSTM and call the ratio actual / predicted "New Quality Productive Forces".
The package is split by concern:

* :mod:`~nqpf_helpers.forecast.protocols` -- the named protocols
  (:data:`~nqpf_helpers.forecast.protocols.PROTOCOLS`,
  :class:`~nqpf_helpers.forecast.protocols.ProtocolSpec`),
  :class:`~nqpf_helpers.forecast.protocols.TrainConfig` and
  :func:`~nqpf_helpers.forecast.protocols.resolve_protocol`, the one place where a protocol name and overrides
  become a checked spec (used by the pipeline and the robustness grid too);
* :mod:`~nqpf_helpers.forecast.windows` -- windows, splits, min-max scaling;
* :mod:`~nqpf_helpers.forecast.seeding` -- initial weights that depend only on
  the seed and the unit identifier (:func:`~nqpf_helpers.forecast.seeding.init_weights`,
  :func:`~nqpf_helpers.forecast.seeding.network_seed`);
* :mod:`~nqpf_helpers.forecast.network` -- the stacked LSTM and its training
  (TensorFlow);
* :mod:`~nqpf_helpers.forecast.fused` -- the same training as one fused CPU
  kernel (Numba), the default engine of :func:`~nqpf_helpers.forecast.network.train_stacked`;
* :mod:`~nqpf_helpers.forecast.growth` -- :func:`~nqpf_helpers.forecast.growth.forecast_growth_path`, the
  entry point (TensorFlow);
* :mod:`~nqpf_helpers.forecast.baselines` -- naive and statistical baselines
  and :func:`~nqpf_helpers.forecast.baselines.forecast_errors` (no TensorFlow).

TensorFlow (and Numba) are imported only when a name from ``network``, ``fused`` or ``growth`` is first
used, so ``from nqpf_helpers.forecast import baseline_forecasts`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .baselines import BASELINES, baseline_forecasts, forecast_errors
from .protocols import ENGINES, LAGS, PLAIN_NAMES, PROTOCOLS, ProtocolSpec, TrainConfig, check_engine, resolve_protocol
from .seeding import check_seeds, init_weights, network_seed, unit_key
from .windows import (
    apply_minmax,
    fit_minmax,
    invert_minmax,
    make_windows,
    matlab_round,
    n_train_windows,
    network_inputs,
    series_matrix,
)

if TYPE_CHECKING:  # pragma: no cover
    from .fused import predict_fused, train_fused
    from .growth import forecast_growth_path, forecast_protocols
    from .network import StackedLSTM, predict_stacked, set_determinism, train_separate, train_stacked

_LAZY = {
    "StackedLSTM": "network",
    "predict_stacked": "network",
    "set_determinism": "network",
    "train_separate": "network",
    "train_stacked": "network",
    "predict_fused": "fused",
    "train_fused": "fused",
    "forecast_growth_path": "growth",
    "forecast_protocols": "growth",
}

__all__ = [
    "BASELINES",
    "ENGINES",
    "LAGS",
    "PLAIN_NAMES",
    "PROTOCOLS",
    "ProtocolSpec",
    "StackedLSTM",
    "TrainConfig",
    "apply_minmax",
    "baseline_forecasts",
    "check_engine",
    "check_seeds",
    "fit_minmax",
    "forecast_errors",
    "forecast_growth_path",
    "forecast_protocols",
    "init_weights",
    "invert_minmax",
    "make_windows",
    "matlab_round",
    "n_train_windows",
    "network_inputs",
    "network_seed",
    "predict_fused",
    "predict_stacked",
    "resolve_protocol",
    "series_matrix",
    "set_determinism",
    "train_fused",
    "train_separate",
    "train_stacked",
    "unit_key",
]


def __getattr__(name: str):
    """Import the TensorFlow parts on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
