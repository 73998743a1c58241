"""Named forecast protocols, training options and the one function that resolves them.

A *protocol* (:class:`ProtocolSpec`) says how a growth path is fitted and
predicted: the training/test split, the transform of the series, the
prediction horizon, how a window is fed to the network and its length.
:func:`resolve_protocol` turns a protocol name (or spec) plus the overrides a
caller allows (``layout``, ``horizon``, ``lags``, ``train_until``) into a
checked :class:`ProtocolSpec`; the growth paths, the baselines, the pipeline
and the robustness grid all call it, so every entry point accepts and rejects
the same things with the same messages.

This module imports neither TensorFlow nor statsmodels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from nqpf_helpers.errors import InputError

__all__ = [
    "DEFAULT_CONFIG",
    "ENGINES",
    "Engine",
    "Horizon",
    "LAGS",
    "Layout",
    "PLAIN_NAMES",
    "PROTOCOLS",
    "ProtocolSpec",
    "Split",
    "TrainConfig",
    "Transform",
    "check_engine",
    "resolve_protocol",
]

#: Default input window: the number of past years each network sees (the released code's 5).
LAGS = 5
"""Window length of the released code (``kim = 5``)."""

Layout = Literal["features", "sequence"]
Split = Literal["share_of_windows", "share_of_series", "until_year"]
Transform = Literal["minmax_level", "log_growth"]
Horizon = Literal["one_step", "recursive"]
Engine = Literal["numba", "tensorflow"]

_LAYOUTS = ("features", "sequence")
_HORIZONS = ("one_step", "recursive")
#: The training engines of :class:`TrainConfig` (``engine=``).
ENGINES = ("numba", "tensorflow")


def check_engine(engine: str) -> str:
    """Return ``engine`` if it is one of :data:`ENGINES`.

    Raises
    ------
    InputError
        Any other value, naming the valid ones.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown training engine {engine!r}; use one of {', '.join(map(repr, ENGINES))}.")
    return engine


@dataclass(frozen=True)
class ProtocolSpec:
    """How a growth path is fitted and predicted.

    Attributes
    ----------
    name
        Key in :data:`PROTOCOLS`.
    description
        One line for tables.
    split, share, train_until
        Training/test split rule, see :func:`nqpf_helpers.forecast.windows.n_train_windows`.
    transform
        ``"minmax_level"``: GTFP levels min-max scaled per lag position and for
        the target, fitted on training windows (released code).
        ``"log_growth"``: inputs are log GTFP relative to the last lag, the
        target is the next log change, both divided by the training s.d. of
        log changes; predicted GTFP = last GTFP x exp(predicted change) > 0.
    horizon
        ``"one_step"``: every year is predicted from the ``lags`` *actual*
        preceding values.  ``"recursive"``: after the training period the
        network's own predictions replace actual values in its input (a
        counterfactual path that never sees post-training data).
    layout
        ``"features"`` (MATLAB: ``lags`` features x 1 time step) or
        ``"sequence"`` (1 feature x ``lags`` time steps).
    lags
        Window length: how many past values predict the next one (released
        code: :data:`LAGS` = 5).
    """

    name: str
    description: str
    split: Split
    share: float = 0.7
    train_until: int = 2009
    transform: Transform = "minmax_level"
    horizon: Horizon = "one_step"
    layout: Layout = "features"
    lags: int = LAGS


#: The named protocols, by key (see :class:`ProtocolSpec` for what each field means).
PROTOCOLS: dict[str, ProtocolSpec] = {
    p.name: p
    for p in [
        ProtocolSpec(
            "released_current",
            "released code (current): first 70% of windows train, one step ahead",
            "share_of_windows",
            share=0.7,
        ),
        ProtocolSpec(
            "released_first",
            "released code (first upload): first round(0.3 x years) windows train, one step ahead",
            "share_of_series",
            share=0.3,
        ),
        ProtocolSpec(
            "paper_one_step",
            "paper text: train on targets up to 2009, one step ahead from actual lags",
            "until_year",
        ),
        ProtocolSpec(
            "paper_recursive",
            "paper text: train on targets up to 2009, recursive path from 2010",
            "until_year",
            horizon="recursive",
        ),
        ProtocolSpec(
            "improved",
            "improved: log growth, linear scaling, sequence input, seed ensemble; train to 2009, recursive path",
            "until_year",
            transform="log_growth",
            horizon="recursive",
            layout="sequence",
        ),
    ]
}
"""The named protocols of :func:`nqpf_helpers.forecast.growth.forecast_growth_path`."""

#: Plain names of the protocols for figure titles, legends and prose (the book's glossary uses the same).
PLAIN_NAMES: dict[str, str] = {
    "released_current": "current release (70% training)",
    "released_first": "first release (30% training)",
    "paper_one_step": "paper text, one step",
    "paper_recursive": "paper text, recursive",
    "improved": "improved",
}
"""Plain name of each protocol in :data:`PROTOCOLS`, keyed by the same code.

Use it to label figures and tables for readers, e.g. ``ax.set_title(PLAIN_NAMES[p])``
or ``df.rename(columns=PLAIN_NAMES)``; the codes stay the keys in code and in data.
"""


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def resolve_protocol(
    protocol: str | ProtocolSpec,
    *,
    layout: Layout | None = None,
    horizon: Horizon | None = None,
    lags: int | None = None,
    train_until: int | None = None,
    context: str = "",
) -> ProtocolSpec:
    """The checked :class:`ProtocolSpec` for a protocol name or spec and optional overrides.

    Parameters
    ----------
    protocol
        A key of :data:`PROTOCOLS` or a :class:`ProtocolSpec`.
    layout, horizon, lags, train_until
        Replace the protocol's input layout, prediction horizon, window length
        or training cut-off year; ``None`` keeps the protocol's own.  A cut-off
        year only applies to protocols with an ``"until_year"`` split.
    context
        Prefix for error messages (e.g. ``"variant 'lags=3': "``).

    Returns
    -------
    ProtocolSpec

    Raises
    ------
    InputError
        Unknown protocol, layout or horizon; ``lags`` not a positive integer;
        ``train_until`` not an integer or given for a protocol that splits by
        share.

    Examples
    --------
    >>> resolve_protocol("improved", lags=3).lags
    3
    """
    if isinstance(protocol, str):
        if protocol not in PROTOCOLS:
            raise InputError(f"{context}unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}.")
        spec = PROTOCOLS[protocol]
    elif isinstance(protocol, ProtocolSpec):
        spec = protocol
    else:
        raise InputError(
            f"{context}protocol must be a name in {sorted(PROTOCOLS)} or a ProtocolSpec, got {type(protocol).__name__}."
        )
    changes: dict[str, object] = {}
    if layout is not None:
        changes["layout"] = layout
    if horizon is not None:
        changes["horizon"] = horizon
    if lags is not None:
        changes["lags"] = lags
    if train_until is not None:
        if not _is_int(train_until):
            raise InputError(f"{context}train_until must be a year (an integer), got {train_until!r}.")
        if spec.split != "until_year":
            by_year = sorted(k for k, v in PROTOCOLS.items() if v.split == "until_year")
            raise InputError(
                f"{context}protocol {spec.name!r} splits training and test years by share, so a training cut-off "
                f"year has no effect. Drop --train-until (train_until=), or use one of {by_year}."
            )
        changes["train_until"] = int(train_until)
    spec = replace(spec, **changes) if changes else spec
    if not _is_int(spec.lags) or spec.lags < 1:
        raise InputError(
            f"{context}lags must be a positive integer (the window length in years), got {spec.lags!r}."
        )
    if spec.layout not in _LAYOUTS:
        raise InputError(
            f"{context}unknown input layout {spec.layout!r}; use 'features' (MATLAB) or 'sequence'."
        )
    if spec.horizon not in _HORIZONS:
        raise InputError(f"{context}unknown horizon {spec.horizon!r}; use 'one_step' or 'recursive'.")
    return replace(spec, lags=int(spec.lags)) if not isinstance(spec.lags, int) else spec


@dataclass(frozen=True)
class TrainConfig:
    """Training options; the defaults are those of the released MATLAB code.

    Attributes
    ----------
    hidden
        LSTM hidden units (``lstmLayer(10)``).
    epochs
        Full-batch epochs (``MaxEpochs 300``; the training set is smaller
        than MATLAB's default mini-batch of 128, so one epoch is one step).
    learning_rate, drop_after, drop_factor
        Piecewise schedule: ``learning_rate`` for the first ``drop_after``
        epochs, then multiplied by ``drop_factor``.
    clip_norm
        Per-unit, per-weight-tensor gradient L2-norm threshold (MATLAB's
        default ``GradientThresholdMethod 'l2norm'`` clips each learnable
        separately; Keras ``clipnorm`` does the same).
    l2
        MATLAB ``L2Regularization``: adds ``l2 / 2 * ||w||^2`` per weight
        matrix (not biases) to the loss.
    beta_1, beta_2, epsilon
        Adam constants (MATLAB defaults).  The update is Keras' form of Adam,
        which folds the bias corrections into the step size; it differs from
        MATLAB's only in where ``epsilon`` enters, a negligible difference at
        ``1e-8``.
    dtype
        Floating point type of the computation.
    jit_compile
        Compile the whole TensorFlow training loop with XLA (``engine="tensorflow"`` only).
    engine
        ``"numba"``: the fused CPU kernel of :mod:`nqpf_helpers.forecast.fused` (the default: several
        times faster, same networks to float32 rounding); ``"tensorflow"``: the stacked TensorFlow loop
        of :mod:`nqpf_helpers.forecast.network` (XLA-compiled unless ``jit_compile=False``).
    """

    hidden: int = 10
    epochs: int = 300
    learning_rate: float = 5e-3
    drop_after: int = 250
    drop_factor: float = 0.1
    clip_norm: float = 1.0
    l2: float = 1e-4
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    dtype: str = "float32"
    jit_compile: bool = True
    engine: Engine = "numba"


DEFAULT_CONFIG = TrainConfig()
"""The released code's training options, the default of every training function."""
