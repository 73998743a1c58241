"""The stacked LSTM: N independent networks trained as one TensorFlow computation.

The network of Cao & Dai (2025) is ``LSTM(10) -> ReLU -> Dense(1)``, one per
region.  :class:`StackedLSTM` holds N such networks in one Keras layer: every
weight tensor has a leading unit axis, each unit has its own loss term, L2
penalty and gradient clipping, and Adam is elementwise, so training the stack
(:func:`train_stacked`) equals N separate fits, which :func:`train_separate`
(a plain ``keras.Sequential`` per unit) checks.

Importing this module imports TensorFlow and Keras.
"""

from __future__ import annotations

import functools
import logging
import os

import numpy as np

from ..errors import InputError, MissingDependencyError
from .protocols import DEFAULT_CONFIG, TrainConfig, check_engine

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
    raise MissingDependencyError(
        f"nqpf_helpers.forecast needs the TensorFlow backend of Keras, but Keras runs on "
        f"{keras.backend.backend()!r}. Set the environment variable KERAS_BACKEND=tensorflow before importing keras."
    )

__all__ = [
    "StackedLSTM",
    "predict_stacked",
    "set_determinism",
    "train_separate",
    "train_stacked",
]

_WEIGHT_NAMES = ("kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias")
_PENALISED = ("kernel", "recurrent_kernel", "dense_kernel")


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
        self.w = {
            k: self.add_weight(name=k, shape=s, initializer="zeros", dtype=self.dtype)
            for k, s in shapes.items()
        }

    def set_stacked_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Assign weights from a dict as returned by :func:`~nqpf_helpers.forecast.seeding.init_weights`."""
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


def _train_loop(variables: list, m: list, s: list, X, y, c: TrainConfig) -> None:
    """All epochs of full-batch training; traced once per shape and config (the config is hashable)."""
    dt = X.dtype
    penalised = [k in _PENALISED for k in _WEIGHT_NAMES]
    for step in tf.range(c.epochs):
        with tf.GradientTape() as tape:
            pred = _stacked_forward(variables, X)
            # sum over units of each unit's own loss: unit n's gradient depends on unit n only
            loss = 0.5 * tf.reduce_sum(tf.reduce_mean(tf.square(pred - y), axis=1))
            for v, pen in zip(variables, penalised, strict=True):
                if pen:
                    loss += 0.5 * c.l2 * tf.reduce_sum(tf.square(v))
        grads = tape.gradient(loss, variables)
        t = tf.cast(step + 1, dt)
        lr = tf.where(
            step < c.drop_after,
            tf.constant(c.learning_rate, dt),
            tf.constant(c.learning_rate * c.drop_factor, dt),
        )
        # Keras' Adam: bias corrections folded into the step size
        alpha = (
            lr
            * tf.sqrt(1.0 - tf.pow(tf.constant(c.beta_2, dt), t))
            / (1.0 - tf.pow(tf.constant(c.beta_1, dt), t))
        )
        for v, g, mi, si in zip(variables, grads, m, s, strict=True):
            # one norm per unit: reduce over every axis but the leading one
            axes = list(range(1, len(v.shape)))
            norm = tf.sqrt(tf.reduce_sum(tf.square(g), axis=axes, keepdims=True))
            g = g * (c.clip_norm / tf.maximum(norm, c.clip_norm))
            mi.assign_add((g - mi) * (1.0 - c.beta_1))
            si.assign_add((tf.square(g) - si) * (1.0 - c.beta_2))
            v.assign_sub(alpha * mi / (tf.sqrt(si) + c.epsilon))


@functools.lru_cache(maxsize=64)
def _compiled_loop(shapes: tuple, config: TrainConfig):  # config.engine is "tensorflow" here
    """One traced (and, by default, XLA-compiled) training loop per input shape and config.

    XLA fuses the small per-unit kernels of all epochs into one compiled loop
    (5-10x faster on CPU).  Caching one function per shape avoids TensorFlow's
    retracing of a single function for every new shape.
    """
    del shapes  # part of the cache key only
    return tf.function(_train_loop, jit_compile=config.jit_compile)


def set_determinism(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow and ask TensorFlow for deterministic kernels.

    Initial weights come from :func:`~nqpf_helpers.forecast.seeding.init_weights` and do not use these
    generators; this guards against nondeterministic parallel reductions.
    """
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def train_stacked(
    X: np.ndarray,
    y: np.ndarray,
    init: dict[str, np.ndarray],
    config: TrainConfig = DEFAULT_CONFIG,
) -> StackedLSTM:
    """Train N independent networks as one stacked model; returns them as a Keras layer.

    The loss is ``sum_n [ 0.5 * mean_b (yhat[n, b] - y[n, b])**2 + l2/2 *
    ||weights_n||^2 ]``; unit n's gradient depends only on unit n.  Each
    gradient tensor is clipped per unit to ``clip_norm`` and Adam (elementwise,
    Keras' update formula) moves all units together, so the result equals N
    separate fits up to floating-point rounding.

    ``config.engine`` chooses the computation: ``"numba"`` (default) runs the fused CPU kernel
    :func:`~nqpf_helpers.forecast.fused.train_fused`, ``"tensorflow"`` the TensorFlow loop below
    (XLA-compiled if ``config.jit_compile``); both train the same networks to float32 rounding.

    Parameters
    ----------
    X
        ``(N, B, T, F)`` scaled training inputs.
    y
        ``(N, B)`` scaled training targets.
    init
        Initial weights from :func:`~nqpf_helpers.forecast.seeding.init_weights`.
    config
        Optimisation options.

    Returns
    -------
    StackedLSTM
        The trained layer.

    Raises
    ------
    InputError
        Targets of the wrong shape, or an unknown ``config.engine``.
    """
    X = np.asarray(X)
    N, B, T, F = X.shape
    if np.shape(y) != (N, B):
        raise InputError(f"targets have shape {np.shape(y)}, expected {(N, B)} (units x windows).")
    check_engine(config.engine)
    dt = config.dtype
    layer = StackedLSTM(N, T, F, config.hidden, dtype=dt)
    layer.build((N, B, T, F))
    if config.engine == "numba":
        from .fused import train_fused

        layer.set_stacked_weights(train_fused(X, y, init, config))
        return layer
    layer.set_stacked_weights(init)
    # plain tf.Variables for the compiled loop (shared traces across calls); copied into the layer after
    variables = [tf.Variable(np.asarray(init[k]), dtype=dt) for k in _WEIGHT_NAMES]
    m = [tf.Variable(tf.zeros_like(v)) for v in variables]
    s = [tf.Variable(tf.zeros_like(v)) for v in variables]
    loop = _compiled_loop((X.shape, y.shape), config)
    loop(variables, m, s, tf.constant(X, dtype=dt), tf.constant(y, dtype=dt), config)
    layer.set_stacked_weights({k: v.numpy() for k, v in zip(_WEIGHT_NAMES, variables, strict=True)})
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
    config: TrainConfig = DEFAULT_CONFIG,
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
        if c.epochs > 0:
            # Full-batch training: each epoch is one step on all windows.  The same steps as
            # fit(X, y, batch_size=B, epochs=c.epochs) (results identical bit for bit), but as one epoch of
            # c.epochs repeats of the batch, which spares Keras' per-epoch overhead (about 5x faster).
            batches = tf.data.Dataset.from_tensors((X[n].astype(c.dtype), y[n][:, None].astype(c.dtype)))
            model.fit(batches.repeat(c.epochs), epochs=1, shuffle=False, verbose=0)
        out[n] = model.predict(Xp[n], batch_size=Xp.shape[1], verbose=0)[:, 0]
    return out


# --------------------------------------------------------------------------- #
# Protocols
