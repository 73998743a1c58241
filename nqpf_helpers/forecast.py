"""LSTM growth paths for GTFP series, trained for all regions at once.

Cao & Dai (2025) predict each region's green TFP from its own past with a small
LSTM and call the ratio actual / predicted "New Quality Productive Forces".
This module implements

* the data plumbing of the authors' MATLAB code: 5-lag windows
  (:func:`make_windows`), MATLAB ``mapminmax`` scaling fitted on training
  windows only (:func:`fit_minmax`), the training/test splits of each
  protocol (:func:`n_train_windows`);
* the network ``LSTM(10) -> ReLU -> Dense(1)`` for *N independent units in one
  Keras layer* (:class:`StackedLSTM`): every weight tensor has a leading unit
  axis, each unit has its own loss term, L2 penalty and gradient clipping, and
  Adam is elementwise, so training the stack equals N separate fits
  (:func:`train_stacked`, checked against :func:`train_separate`, a plain
  ``keras.Sequential`` per unit);
* the named protocols (:data:`PROTOCOLS`) behind one entry point,
  :func:`forecast_growth_path`;
* naive and statistical baselines fitted on the same training years
  (:func:`baseline_forecasts`) and out-of-sample errors (:func:`forecast_errors`).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from nqpf_helpers.validate import PanelError, validate_panel

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow >= 2.16 logs a oneDNN notice to stderr at import whatever the log level, and the
# strict book build treats notebook stderr as an error; the oneDNN kernels are not needed for
# these tiny networks, and without them reductions are also reproducible bit for bit.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402



class _DropRetracingWarning(logging.Filter):
    """Hide TensorFlow's 'excessive retracing' warning for the training loop.

    Each input shape needs its own trace of the training loop (shapes are
    static under XLA); :func:`_compiled_loop` caches one function per shape, but
    TensorFlow counts traces per Python function and warns after five, which
    here is expected and harmless.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not ("triggered tf.function retracing" in msg and "_train_loop" in msg)


tf.get_logger().addFilter(_DropRetracingWarning())

if keras.backend.backend() != "tensorflow":  # the stacked trainer uses TensorFlow ops directly
    raise ImportError(
        f"nqpf_helpers.forecast needs the TensorFlow backend of Keras, but Keras runs on "
        f"{keras.backend.backend()!r}. Set the environment variable KERAS_BACKEND=tensorflow before importing keras."
    )

__all__ = [
    "BASELINES",
    "LAGS",
    "PROTOCOLS",
    "apply_minmax",
    "baseline_forecasts",
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
    "predict_stacked",
    "ProtocolSpec",
    "series_matrix",
    "set_determinism",
    "StackedLSTM",
    "train_separate",
    "train_stacked",
    "TrainConfig",
]

LAGS = 5
"""Window length of the released code (``kim = 5``)."""

Layout = Literal["features", "sequence"]
Split = Literal["share_of_windows", "share_of_series", "until_year"]
Transform = Literal["minmax_level", "log_growth"]
Horizon = Literal["one_step", "recursive"]


# --------------------------------------------------------------------------- #
# Windows, splits and scaling
# --------------------------------------------------------------------------- #
def matlab_round(x: float) -> int:
    """Round half away from zero, as MATLAB's ``round`` does.

    Python's built-in ``round`` rounds halves to even, which would shift the
    training/test boundary whenever ``share * n`` ends in .5.
    """
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def make_windows(values: np.ndarray, lags: int = LAGS) -> tuple[np.ndarray, np.ndarray]:
    """Cut series into ``lags``-long input windows and one-step-ahead targets.

    Parameters
    ----------
    values
        Array of shape ``(T,)`` or ``(N, T)``: one or N series of equal length.
    lags
        Number of past values that predict the next one.

    Returns
    -------
    X, y
        ``X`` has shape ``(..., T - lags, lags)`` with ``X[..., j, :] =
        values[..., j:j + lags]``; ``y`` has shape ``(..., T - lags)`` with
        ``y[..., j] = values[..., j + lags]``.

    Raises
    ------
    PanelError
        If the series is not longer than ``lags``.
    """
    values = np.asarray(values, dtype=float)
    T = values.shape[-1]
    if lags < 1:
        raise PanelError(f"lags must be >= 1, got {lags}.")
    if T <= lags:
        raise PanelError(
            f"series too short: {T} observation(s) cannot make a single {lags}-lag window "
            f"(need at least {lags + 1}). Use longer series or fewer lags."
        )
    idx = np.arange(T - lags)[:, None] + np.arange(lags)[None, :]
    return values[..., idx], values[..., lags:]


def n_train_windows(
    split: Split,
    years: np.ndarray,
    *,
    lags: int = LAGS,
    share: float = 0.7,
    train_until: int = 2009,
) -> int:
    """Number of leading windows used for training under a split rule.

    Parameters
    ----------
    split
        ``"share_of_windows"``: ``round(share * n_windows)`` (released code,
        current version); ``"share_of_series"``: ``round(share * T)`` with T the
        series length (first upload, which multiplied the number of *years*);
        ``"until_year"``: every window whose target year is ``<= train_until``
        (the paper's "data from 1990 to 2009").
    years
        The (consecutive) years of the series.
    lags, share, train_until
        See ``split``.

    Returns
    -------
    int
        Between 1 and ``n_windows - 1`` so that train and test are both non-empty.
    """
    years = np.asarray(years)
    T = len(years)
    n_windows = T - lags
    if n_windows < 2:
        raise PanelError(
            f"series too short: {T} years give {max(n_windows, 0)} window(s) of {lags} lags; "
            f"need at least {lags + 2} years so that training and test windows both exist."
        )
    if split == "share_of_windows":
        n = matlab_round(share * n_windows)
    elif split == "share_of_series":
        n = matlab_round(share * T)
    elif split == "until_year":
        n = int(np.sum(years[lags:] <= train_until))
    else:
        raise ValueError(f"unknown split rule {split!r}; use 'share_of_windows', 'share_of_series' or 'until_year'.")
    if not 1 <= n <= n_windows - 1:
        raise PanelError(
            f"split {split!r} leaves {n} training window(s) out of {n_windows} (years {years[0]}-{years[-1]}); "
            "both training and test windows must exist. Change the share / cut-off year or use longer series."
        )
    return n


def fit_minmax(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum over the window axis, as MATLAB ``mapminmax`` fits them.

    Parameters
    ----------
    a
        Training windows: inputs ``(..., n_windows, lags)`` reduced over
        ``axis=-2`` (one min/max per lag position) or targets
        ``(..., n_windows)`` reduced over ``axis=-1``.
    axis
        The window axis.

    Returns
    -------
    lo, hi
        Arrays without the window axis.  Where ``hi == lo`` (a constant
        column) ``hi`` is set to ``lo + 1``, so the map is a shift rather than
        a division by zero.
    """
    a = np.asarray(a, dtype=float)
    lo = np.min(a, axis=axis)
    hi = np.max(a, axis=axis)
    hi = np.where(hi > lo, hi, lo + 1.0)
    return lo, hi


def apply_minmax(a: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Map ``a`` linearly so that ``lo -> 0`` and ``hi -> 1`` (no clipping)."""
    return (np.asarray(a, dtype=float) - lo) / (hi - lo)


def invert_minmax(a: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Undo :func:`apply_minmax`."""
    return np.asarray(a, dtype=float) * (hi - lo) + lo


# --------------------------------------------------------------------------- #
# The stacked (vectorised) network
# --------------------------------------------------------------------------- #
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
        Compile the whole training loop with XLA.
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


_WEIGHT_NAMES = ("kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias")
_PENALISED = ("kernel", "recurrent_kernel", "dense_kernel")


def init_weights(
    n_units: int, n_features: int, hidden: int = 10, *, seeds: Sequence[int] | np.ndarray
) -> dict[str, np.ndarray]:
    """Initial weights for N units, each drawn from its own seed.

    Uses the initialisers shared by MATLAB's ``lstmLayer`` and Keras' ``LSTM``:
    Glorot-uniform input kernel, orthogonal recurrent kernel, zero bias with
    the forget-gate bias at one, Glorot-uniform dense kernel, zero dense bias.
    Each unit's draw depends only on its own entry of ``seeds``, so a region's
    initial network does not depend on which other regions share the stack.

    Parameters
    ----------
    n_units, n_features, hidden
        Stack size, input features per time step, LSTM width.
    seeds
        ``n_units`` integer seeds (e.g. ``seed * 100003 + region_position``).

    Returns
    -------
    dict
        ``kernel (N, F, 4H)``, ``recurrent_kernel (N, H, 4H)``, ``bias (N, 4H)``,
        ``dense_kernel (N, H, 1)``, ``dense_bias (N, 1)``; gate order i, f, c, o
        as in Keras.
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    if seeds.shape != (n_units,):
        raise ValueError(f"need one seed per unit: got {seeds.shape[0] if seeds.ndim else 0} for {n_units} units.")
    H, F = hidden, n_features
    k_lim = math.sqrt(6.0 / (F + 4 * H))
    d_lim = math.sqrt(6.0 / (H + 1))
    out = {
        "kernel": np.empty((n_units, F, 4 * H)),
        "recurrent_kernel": np.empty((n_units, H, 4 * H)),
        "bias": np.zeros((n_units, 4 * H)),
        "dense_kernel": np.empty((n_units, H, 1)),
        "dense_bias": np.zeros((n_units, 1)),
    }
    out["bias"][:, H : 2 * H] = 1.0
    for n, s in enumerate(seeds):
        rng = np.random.default_rng(np.random.SeedSequence([int(s) & 0xFFFFFFFF, int(s) >> 32]))
        out["kernel"][n] = rng.uniform(-k_lim, k_lim, size=(F, 4 * H))
        # orthogonal rows, made unique by fixing the signs of R's diagonal
        q, r = np.linalg.qr(rng.standard_normal((4 * H, H)))
        q = q * np.sign(np.diag(r))
        out["recurrent_kernel"][n] = q.T
        out["dense_kernel"][n] = rng.uniform(-d_lim, d_lim, size=(H, 1))
    return out


class StackedLSTM(keras.layers.Layer):
    """N independent ``LSTM(H) -> ReLU -> Dense(1)`` networks in one Keras layer.

    Every weight has a leading unit axis of length N and unit ``n`` only ever
    sees ``inputs[n]``; the computation is a batched (einsum) LSTM cell, so the
    units share nothing but the kernels that run them.

    Parameters
    ----------
    n_units, n_steps, n_features, hidden
        Stack size N, time steps T, features per step F, LSTM width H.

    Call
    ----
    inputs
        ``(N, B, T, F)`` windows; returns ``(N, B)`` predictions.
    """

    def __init__(self, n_units: int, n_steps: int, n_features: int, hidden: int = 10, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_units, self.n_steps, self.n_features, self.hidden = n_units, n_steps, n_features, hidden
        N, F, H = n_units, n_features, hidden
        shapes = {
            "kernel": (N, F, 4 * H),
            "recurrent_kernel": (N, H, 4 * H),
            "bias": (N, 4 * H),
            "dense_kernel": (N, H, 1),
            "dense_bias": (N, 1),
        }
        self.w = {k: self.add_weight(name=k, shape=s, initializer="zeros", dtype=self.dtype) for k, s in shapes.items()}

    def set_stacked_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Assign weights from a dict as returned by :func:`init_weights`."""
        for k in _WEIGHT_NAMES:
            self.w[k].assign(np.asarray(weights[k], dtype=self.dtype))

    def get_stacked_weights(self) -> dict[str, np.ndarray]:
        """Current weights as numpy arrays."""
        return {k: np.asarray(self.w[k].numpy()) for k in _WEIGHT_NAMES}

    def call(self, inputs):
        return _stacked_forward([self.w[k] for k in _WEIGHT_NAMES], inputs)


def _stacked_forward(weights: list, inputs):
    """Forward pass of N stacked LSTM(H) -> ReLU -> Dense(1) networks; ``inputs`` is (N, B, T, F)."""
    W, U, b, Wd, bd = weights
    H = U.shape[1]
    h = c = None
    for t in range(inputs.shape[2]):
        z = tf.einsum("nbf,nfg->nbg", inputs[:, :, t, :], W) + b[:, None, :]
        if h is not None:  # h0 = 0: the first step has no recurrent term
            z = z + tf.matmul(h, U)
        i = tf.sigmoid(z[..., :H])
        f = tf.sigmoid(z[..., H : 2 * H])
        g = tf.tanh(z[..., 2 * H : 3 * H])
        o = tf.sigmoid(z[..., 3 * H :])
        c = i * g if c is None else f * c + i * g
        h = o * tf.tanh(c)
    out = tf.matmul(tf.nn.relu(h), Wd) + bd[:, None, :]
    return out[..., 0]


def _train_loop(variables: list, m: list, s: list, X, y, c: "TrainConfig") -> None:
    """All epochs of full-batch training; traced once per shape and config (the config is hashable)."""
    dt = X.dtype
    penalised = [k in _PENALISED for k in _WEIGHT_NAMES]
    for step in tf.range(c.epochs):
        with tf.GradientTape() as tape:
            pred = _stacked_forward(variables, X)
            # sum over units of each unit's own loss: unit n's gradient depends on unit n only
            loss = 0.5 * tf.reduce_sum(tf.reduce_mean(tf.square(pred - y), axis=1))
            for v, pen in zip(variables, penalised):
                if pen:
                    loss += 0.5 * c.l2 * tf.reduce_sum(tf.square(v))
        grads = tape.gradient(loss, variables)
        t = tf.cast(step + 1, dt)
        lr = tf.where(
            step < c.drop_after, tf.constant(c.learning_rate, dt), tf.constant(c.learning_rate * c.drop_factor, dt)
        )
        # Keras' Adam: bias corrections folded into the step size
        alpha = lr * tf.sqrt(1.0 - tf.pow(tf.constant(c.beta_2, dt), t)) / (1.0 - tf.pow(tf.constant(c.beta_1, dt), t))
        for v, g, mi, si in zip(variables, grads, m, s):
            # one norm per unit: reduce over every axis but the leading one
            axes = list(range(1, len(v.shape)))
            norm = tf.sqrt(tf.reduce_sum(tf.square(g), axis=axes, keepdims=True))
            g = g * (c.clip_norm / tf.maximum(norm, c.clip_norm))
            mi.assign_add((g - mi) * (1.0 - c.beta_1))
            si.assign_add((tf.square(g) - si) * (1.0 - c.beta_2))
            v.assign_sub(alpha * mi / (tf.sqrt(si) + c.epsilon))


@functools.lru_cache(maxsize=64)
def _compiled_loop(shapes: tuple, config: "TrainConfig"):
    """One traced (and, by default, XLA-compiled) training loop per input shape and config.

    XLA fuses the small per-unit kernels of all epochs into one compiled loop
    (5-10x faster on CPU).  Caching one function per shape avoids TensorFlow's
    retracing of a single function for every new shape.
    """
    del shapes  # part of the cache key only
    return tf.function(_train_loop, jit_compile=config.jit_compile)


def set_determinism(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow and ask TensorFlow for deterministic kernels.

    Initial weights come from :func:`init_weights` and do not use these
    generators; this guards against nondeterministic parallel reductions.
    """
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def network_inputs(X: np.ndarray, layout: Layout) -> np.ndarray:
    """Reshape ``(N, B, L)`` windows into ``(N, B, T, F)`` network inputs.

    ``"features"`` is MATLAB's reading: each window is one column vector fed to
    ``sequenceInputLayer(L)``, i.e. L features at a single time step, so the
    LSTM never recurs.  ``"sequence"`` reads the window as L time steps of one
    feature, which is what an LSTM is meant for.
    """
    if layout == "features":
        return X[:, :, None, :]
    if layout == "sequence":
        return X[:, :, :, None]
    raise ValueError(f"unknown input layout {layout!r}; use 'features' (MATLAB) or 'sequence'.")


def train_stacked(
    X: np.ndarray,
    y: np.ndarray,
    init: dict[str, np.ndarray],
    config: TrainConfig = TrainConfig(),
) -> StackedLSTM:
    """Train N independent networks as one stacked Keras layer.

    The loss is ``sum_n [ 0.5 * mean_b (yhat[n, b] - y[n, b])**2 + l2/2 *
    ||weights_n||^2 ]``; unit n's gradient depends only on unit n.  Each
    gradient tensor is clipped per unit to ``clip_norm`` and Adam (elementwise,
    Keras' update formula) moves all units together, so the result equals N
    separate fits up to floating-point rounding.

    Parameters
    ----------
    X
        ``(N, B, T, F)`` scaled training inputs.
    y
        ``(N, B)`` scaled training targets.
    init
        Initial weights from :func:`init_weights`.
    config
        Optimisation options.

    Returns
    -------
    StackedLSTM
        The trained layer.
    """
    X = np.asarray(X)
    N, B, T, F = X.shape
    if y.shape != (N, B):
        raise ValueError(f"targets have shape {y.shape}, expected {(N, B)}.")
    dt = config.dtype
    layer = StackedLSTM(N, T, F, config.hidden, dtype=dt)
    layer.build((N, B, T, F))
    layer.set_stacked_weights(init)
    # plain tf.Variables for the compiled loop (shared traces across calls); copied into the layer after
    variables = [tf.Variable(np.asarray(init[k]), dtype=dt) for k in _WEIGHT_NAMES]
    m = [tf.Variable(tf.zeros_like(v)) for v in variables]
    s = [tf.Variable(tf.zeros_like(v)) for v in variables]
    loop = _compiled_loop((X.shape, y.shape), config)
    loop(variables, m, s, tf.constant(X, dtype=dt), tf.constant(y, dtype=dt), config)
    layer.set_stacked_weights({k: v.numpy() for k, v in zip(_WEIGHT_NAMES, variables)})
    return layer


def predict_stacked(layer: StackedLSTM, X: np.ndarray) -> np.ndarray:
    """Predictions ``(N, B)`` of a stacked layer for inputs ``(N, B, T, F)``."""
    return np.asarray(layer(tf.constant(np.asarray(X), dtype=layer.dtype)).numpy(), dtype=float)


def _half_mse(y_true, y_pred):
    return 0.5 * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


def train_separate(
    X: np.ndarray,
    y: np.ndarray,
    init: dict[str, np.ndarray],
    config: TrainConfig = TrainConfig(),
    X_predict: np.ndarray | None = None,
) -> np.ndarray:
    """Reference implementation: one plain ``keras.Sequential`` per unit, in a loop.

    Each unit gets ``Input -> LSTM(H) -> ReLU -> Dense(1)`` with Keras' own
    LSTM, L2 regularisers, ``Adam(clipnorm=...)`` and ``model.fit``.  It is
    slow (seconds per unit) and exists to check :func:`train_stacked`.

    Parameters
    ----------
    X, y, init, config
        As for :func:`train_stacked`.
    X_predict
        ``(N, B', T, F)`` inputs to predict after training (default ``X``).

    Returns
    -------
    numpy.ndarray
        ``(N, B')`` predictions.
    """
    X = np.asarray(X)
    N, B, T, F = X.shape
    Xp = X if X_predict is None else np.asarray(X_predict)
    out = np.empty(Xp.shape[:2])
    c = config
    reg = keras.regularizers.L2(c.l2 / 2.0)  # Keras adds l2 * sum(w^2); MATLAB adds l2/2 * sum(w^2)
    for n in range(N):
        model = keras.Sequential(
            [
                keras.Input((T, F), dtype=c.dtype),
                keras.layers.LSTM(c.hidden, kernel_regularizer=reg, recurrent_regularizer=reg, dtype=c.dtype),
                keras.layers.ReLU(dtype=c.dtype),
                keras.layers.Dense(1, kernel_regularizer=reg, dtype=c.dtype),
            ]
        )
        lstm, _, dense = model.layers
        lstm.set_weights([init["kernel"][n], init["recurrent_kernel"][n], init["bias"][n]])
        dense.set_weights([init["dense_kernel"][n], init["dense_bias"][n]])
        # Keras evaluates the schedule at the 0-based step count: steps 0..drop_after-1 use the first rate
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
            [c.drop_after - 1], [c.learning_rate, c.learning_rate * c.drop_factor]
        )
        opt = keras.optimizers.Adam(
            schedule, beta_1=c.beta_1, beta_2=c.beta_2, epsilon=c.epsilon, clipnorm=c.clip_norm
        )
        model.compile(optimizer=opt, loss=_half_mse, jit_compile=False)
        model.fit(X[n], y[n][:, None], batch_size=B, epochs=c.epochs, shuffle=False, verbose=0)
        out[n] = model.predict(Xp[n], batch_size=Xp.shape[1], verbose=0)[:, 0]
    return out


# --------------------------------------------------------------------------- #
# Protocols
# --------------------------------------------------------------------------- #
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
        Training/test split rule, see :func:`n_train_windows`.
    transform
        ``"minmax_level"``: GTFP levels min-max scaled per lag position and for
        the target, fitted on training windows (released code).
        ``"log_growth"``: inputs are log GTFP relative to the last lag, the
        target is the next log change, both divided by the training s.d. of
        log changes; predicted GTFP = last GTFP x exp(predicted change) > 0.
    horizon
        ``"one_step"``: every year is predicted from the 5 *actual* preceding
        values.  ``"recursive"``: after the training period the network's
        own predictions replace actual values in its input (a counterfactual
        path that never sees post-training data).
    layout
        ``"features"`` (MATLAB: 5 features x 1 time step) or ``"sequence"``
        (1 feature x 5 time steps).
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
"""The named protocols of :func:`forecast_growth_path`."""


def series_matrix(
    df: pd.DataFrame, *, unit: str = "region_code", time: str = "year", value: str = "gtfp", lags: int = LAGS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a balanced, gap-free, positive panel and return it as a matrix.

    ``lags`` is the window length the series will be cut into; it sets the
    minimum series length.

    Returns
    -------
    units, years, values
        ``(N,)`` unit labels, ``(T,)`` years and ``(N, T)`` values.

    Raises
    ------
    PanelError
        Missing/duplicated/non-positive values, gaps, unbalanced panel (from
        :func:`nqpf_helpers.validate.validate_panel`), or a series too short
        for even one training and one test window.
    """
    clean = validate_panel(df, unit=unit, time=time, values=[value], positive=[value], name="GTFP series")
    wide = clean.pivot(index=unit, columns=time, values=value)
    years = wide.columns.to_numpy(dtype=int)
    if len(years) < lags + 2:
        raise PanelError(
            f"GTFP series: series too short, {len(years)} year(s) ({years[0]}-{years[-1]}); the {lags}-lag LSTM "
            f"needs at least {lags + 2} consecutive years (one training and one test window). "
            "Use a longer panel."
        )
    return wide.index.to_numpy(), years, wide.to_numpy(dtype=float)


def _resolve(
    protocol: str | ProtocolSpec, layout: Layout | None, horizon: Horizon | None, lags: int | None = None
) -> ProtocolSpec:
    if isinstance(protocol, str):
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}.")
        protocol = PROTOCOLS[protocol]
    changes: dict[str, object] = {}
    if layout is not None:
        changes["layout"] = layout
    if horizon is not None:
        changes["horizon"] = horizon
    if lags is not None:
        changes["lags"] = lags
    spec = replace(protocol, **changes) if changes else protocol
    if isinstance(spec.lags, bool) or not isinstance(spec.lags, (int, np.integer)) or spec.lags < 1:
        raise ValueError(f"lags must be a positive integer (the window length), got {spec.lags!r}.")
    return spec


class _Scaler:
    """Per-unit transform between GTFP windows and network space for one protocol."""

    def __init__(self, transform: Transform, Xtr: np.ndarray, ytr: np.ndarray) -> None:
        self.transform = transform
        if transform == "minmax_level":
            self.lo, self.hi = fit_minmax(Xtr, axis=-2)
            self.tlo, self.thi = fit_minmax(ytr, axis=-1)
        elif transform == "log_growth":
            growth = np.log(ytr) - np.log(Xtr[..., -1])
            sd = growth.std(axis=-1)
            # a flat training history has no scale; 1 keeps the map finite
            self.sd = np.where(sd > 0, sd, 1.0)
        else:
            raise ValueError(f"unknown transform {transform!r}.")

    def inputs(self, X: np.ndarray) -> np.ndarray:
        if self.transform == "minmax_level":
            return apply_minmax(X, self.lo[:, None, :], self.hi[:, None, :])
        logX = np.log(X)
        return (logX - logX[..., -1:]) / self.sd[:, None, None]

    def targets(self, y: np.ndarray, X: np.ndarray) -> np.ndarray:
        if self.transform == "minmax_level":
            return apply_minmax(y, self.tlo[:, None], self.thi[:, None])
        return (np.log(y) - np.log(X[..., -1])) / self.sd[:, None]

    def invert(self, out: np.ndarray, X: np.ndarray) -> np.ndarray:
        if self.transform == "minmax_level":
            return invert_minmax(out, self.tlo[:, None], self.thi[:, None])
        return X[..., -1] * np.exp(out * self.sd[:, None])


def forecast_growth_path(
    df: pd.DataFrame,
    protocol: str | ProtocolSpec = "released_current",
    *,
    seeds: Sequence[int] = (0,),
    layout: Layout | None = None,
    horizon: Horizon | None = None,
    lags: int | None = None,
    config: TrainConfig = TrainConfig(),
    unit: str = "region_code",
    time: str = "year",
    value: str = "gtfp",
) -> pd.DataFrame:
    """Fit every region's LSTM growth path under a named protocol.

    All regions and seeds are trained together as one stacked model
    (:func:`train_stacked`), each on its own series only.

    Parameters
    ----------
    df
        Long panel with columns ``unit``, ``time`` and ``value`` (strictly
        positive GTFP), balanced and without gaps.
    protocol
        A key of :data:`PROTOCOLS` (``"released_current"``,
        ``"released_first"``, ``"paper_one_step"``, ``"paper_recursive"``,
        ``"improved"``) or a :class:`ProtocolSpec`.
    seeds
        Initialisation seeds; each (region, seed) is an independent network.
    layout, horizon, lags
        Override the protocol's input layout / prediction horizon / window
        length.
    config
        Optimisation options (defaults: the released code's).
    unit, time, value
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per region, seed and predicted year with columns ``unit``,
        ``seed``, ``time``, ``split`` (``"train"`` or ``"test"``),
        ``actual``, ``predicted``, ``protocol``, ``layout``, ``horizon``,
        ``lags``.  The first ``lags`` years of each series are inputs only and
        have no row.

    Raises
    ------
    PanelError
        Bad panel (gaps, duplicates, missing or non-positive values), series
        too short, or a split that leaves no training or no test window.
    """
    spec = _resolve(protocol, layout, horizon, lags)
    L = int(spec.lags)
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds}.")
    units, years, V = series_matrix(df, unit=unit, time=time, value=value, lags=L)
    n_tr = n_train_windows(spec.split, years, lags=L, share=spec.share, train_until=spec.train_until)
    N, S = len(units), len(seeds)
    # seed-major stacking: stacked unit k = (seed k // N, region k % N)
    Vs = np.tile(V, (S, 1))
    X, y = make_windows(Vs, L)
    n_w = X.shape[1]
    scaler = _Scaler(spec.transform, X[:, :n_tr], y[:, :n_tr])
    init_seeds = np.array([s * 1_000_003 + n for s in seeds for n in range(N)], dtype=np.int64)
    Xin = network_inputs(scaler.inputs(X[:, :n_tr]), spec.layout)
    init = init_weights(N * S, Xin.shape[-1], config.hidden, seeds=init_seeds)
    layer = train_stacked(Xin, scaler.targets(y[:, :n_tr], X[:, :n_tr]), init, config)

    if spec.horizon == "one_step":
        pred = scaler.invert(predict_stacked(layer, network_inputs(scaler.inputs(X), spec.layout)), X)
    elif spec.horizon == "recursive":
        pred = np.empty_like(y)
        pred[:, :n_tr] = scaler.invert(
            predict_stacked(layer, network_inputs(scaler.inputs(X[:, :n_tr]), spec.layout)), X[:, :n_tr]
        )
        path = Vs.copy()
        for j in range(n_tr, n_w):
            w = path[:, j : j + L][:, None, :]
            step = scaler.invert(predict_stacked(layer, network_inputs(scaler.inputs(w), spec.layout)), w)[:, 0]
            path[:, j + L] = step
            pred[:, j] = step
    else:
        raise ValueError(f"unknown horizon {spec.horizon!r}; use 'one_step' or 'recursive'.")

    split = np.where(np.arange(n_w) < n_tr, "train", "test")
    return pd.DataFrame(
        {
            unit: np.tile(np.repeat(units, n_w), S),
            "seed": np.repeat(seeds, N * n_w),
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


# --------------------------------------------------------------------------- #
# Baselines and errors
# --------------------------------------------------------------------------- #
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
    spec = _resolve(protocol, None, horizon)
    unknown = sorted(set(models) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; choose from {list(BASELINES)}.")
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
                    {unit: u, time: test_years, "split": "test", "actual": v[cut:], "predicted": p, "model": m}
                )
            )
    out = pd.concat(rows, ignore_index=True)
    out["protocol"] = spec.name
    out["horizon"] = spec.horizon
    return out


def forecast_errors(pred: pd.DataFrame, *, by: Sequence[str] = ("protocol", "model"), split: str = "test") -> pd.DataFrame:
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
    return pd.DataFrame({"n": g.size(), "rmse": np.sqrt(g["sq"].mean()), "mape": g["ape"].mean()}).reset_index()


def forecast_protocols(
    df: pd.DataFrame,
    protocols: Sequence[str | ProtocolSpec] = tuple(PROTOCOLS),
    *,
    seeds: Sequence[int] = tuple(range(20)),
    layouts: Sequence[Layout | None] = (None,),
    config: TrainConfig = TrainConfig(),
    unit: str = "region_code",
    time: str = "year",
    value: str = "gtfp",
) -> pd.DataFrame:
    """:func:`forecast_growth_path` for several protocols and input layouts, stacked in one table.

    ``layouts=(None,)`` uses each protocol's own layout; ``("features",
    "sequence")`` fits both readings of the window.  Returns the concatenated
    long tables (columns ``protocol``, ``layout`` and ``horizon`` tell them apart).
    """
    parts = [
        forecast_growth_path(df, p, seeds=seeds, layout=lay, config=config, unit=unit, time=time, value=value)
        for p in protocols
        for lay in layouts
    ]
    return pd.concat(parts, ignore_index=True)
