"""The stacked LSTM trained by one fused CPU kernel (Numba): forward pass, BPTT, clipping and Adam.

:func:`train_fused` computes the same training as the TensorFlow loop of
:func:`nqpf_helpers.forecast.network.train_stacked` -- ``LSTM(H) -> ReLU ->
Dense(1)`` per unit, loss ``0.5 * mean_b (yhat - y)**2 + l2/2 * ||weights||^2``
(kernels only), the gradient of every weight tensor clipped per unit to
``clip_norm``, Keras' form of Adam with the piecewise-constant learning rate --
with hand-written derivatives instead of automatic differentiation, and sigmoid/tanh
from a vectorised exp (``_exp_inplace``).  Both engines train the same networks to float32 rounding;
a few networks whose training is sensitive to rounding end in visibly different places under either engine
(see ``benchmarks/results/lstm_layouts.md``).

Layout: the *networks* are on the last, contiguous axis.  The stack is cut into
chunks of :data:`CHUNK` networks; every array of a chunk has shape ``(..., CHUNK)``,
so each elementary operation is one SIMD loop over the networks of the chunk,
and a chunk's working set (activations of all windows and steps, gradients,
Adam moments; about 2.5 MB for 64 networks) is allocated once and reused for all epochs.  Chunks are
trained in parallel (``prange``); every network's arithmetic is the same
sequence of IEEE operations whatever chunk or thread it lands in (no fast-math,
no reduction across networks), so the result is deterministic and a network
does not depend on the other networks of the stack.

Numba compiles the kernel on first use (about 20-40 s of CPU) and caches the machine
code in ``<cache>/numba`` (:func:`nqpf_helpers.cache.cache_dir`), never in the
source tree.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..cache import cache_dir
from ..errors import InputError
from .protocols import DEFAULT_CONFIG, TrainConfig

# Numba writes its cache next to the source by default: send it to the user cache before numba is imported.
os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))

from llvmlite import ir  # noqa: E402
from numba import config as numba_config  # noqa: E402
from numba import njit, prange  # noqa: E402
from numba.core import types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

if not numba_config.CACHE_DIR:  # numba was imported before this module, without NUMBA_CACHE_DIR
    numba_config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]

__all__ = ["CHUNK", "predict_fused", "train_fused"]

#: The number of networks in one chunk, which is the length of every innermost (SIMD) loop of the kernel.
CHUNK = 64

_WEIGHT_NAMES = ("kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias")


# --------------------------------------------------------------------------- #
# Scalar constants of the kernel, passed as one array of the working dtype (index names below), so that no
# float64 literal promotes float32 arithmetic.
_CLIP, _L2, _ONE_B1, _ONE_B2, _EPS, _INV_B, _ONE, _ZERO, _TWO, _LO, _HI, _LOG2E, _LN2_HI, _LN2_LO, _HALF = range(15)


@intrinsic
def _pow2(typingctx, k):
    """``2.0 ** k`` for a float ``k`` holding an integer in the normal exponent range, from its exponent bits.

    (int(k) + bias) << mantissa bits, reinterpreted as a float of the same width: one integer add, one
    shift and a bit cast, which vectorise (a libm ``ldexp`` call would not).
    """
    if k == types.float32:
        int_t, bias, shift = ir.IntType(32), 127, 23
    elif k == types.float64:
        int_t, bias, shift = ir.IntType(64), 1023, 52
    else:
        return None

    def codegen(context, builder, signature, args):
        i = builder.fptosi(args[0], int_t)
        i = builder.shl(builder.add(i, ir.Constant(int_t, bias)), ir.Constant(int_t, shift))
        return builder.bitcast(i, context.get_value_type(signature.return_type))

    return k(k), codegen


@njit(error_model="numpy", cache=True)
def _exp_inplace(v, ec, coef):
    """``v[:] = exp(v)`` for a contiguous 1-D array in one vectorisable loop (no libm call).

    exp(x) = 2**k * exp(r), k = round(x / ln 2), r = x - k ln 2 (two-part ln 2), exp(r) by its Taylor
    polynomial (``coef``: 14 coefficients, highest degree first; degree 7 in float32 -- the first six are
    zero -- and 13 in float64, truncation error below half an ulp on |r| <= ln2 / 2), 2**k from its
    exponent bits (:func:`_pow2`).  ``x`` is clamped to [``_LO``, ``_HI``] so that 2**k stays a normal
    number.
    """
    lo, hi, log2e, ln2_hi, ln2_lo, half = ec[_LO], ec[_HI], ec[_LOG2E], ec[_LN2_HI], ec[_LN2_LO], ec[_HALF]
    c13, c12, c11, c10, c9, c8, c7 = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5], coef[6]
    c6, c5, c4, c3, c2, c1, c0 = coef[7], coef[8], coef[9], coef[10], coef[11], coef[12], coef[13]
    for c in range(v.shape[0]):
        x = min(max(v[c], lo), hi)
        k = np.floor(x * log2e + half)
        r = x - k * ln2_hi - k * ln2_lo
        p = c13 * r + c12
        p = p * r + c11
        p = p * r + c10
        p = p * r + c9
        p = p * r + c8
        p = p * r + c7
        p = p * r + c6
        p = p * r + c5
        p = p * r + c4
        p = p * r + c3
        p = p * r + c2
        p = p * r + c1
        p = p * r + c0
        v[c] = p * _pow2(k)


@njit(error_model="numpy", cache=True)
def _forward_chunk(X, W, U, b, Wd, bd, A, Cs, Tc, Hs, pred, ec, coef):
    """Forward pass of one chunk (NC networks on the last axis).

    Stores what the backward pass needs: gate activations ``A`` (T, B, 4H, NC) in Keras' order i, f, g, o,
    cell states ``Cs``, ``tanh(cell)`` ``Tc`` and hidden states ``Hs`` (T, B, H, NC); predictions ``pred``
    (B, NC).  sigmoid(z) = 1 / (1 + exp(-z)), tanh(z) = 2 / (1 + exp(-2 z)) - 1.
    """
    B, T, F, NC = X.shape
    H = U.shape[0]
    G = 4 * H
    one, two, zero = ec[_ONE], ec[_TWO], ec[_ZERO]
    for t in range(T):
        At = A[t]
        for bb in range(B):
            for g in range(G):
                zg = At[bb, g]
                bg = b[g]
                for c in range(NC):
                    zg[c] = bg[c]
                for f in range(F):
                    xf = X[bb, t, f]
                    wf = W[f, g]
                    for c in range(NC):
                        zg[c] += xf[c] * wf[c]
                if t > 0:
                    hp = Hs[t - 1, bb]
                    for j in range(H):
                        hj = hp[j]
                        uj = U[j, g]
                        for c in range(NC):
                            zg[c] += hj[c] * uj[c]
                # exp argument: -z for the sigmoid gates, -2z for the candidate (tanh)
                if 2 * H <= g < 3 * H:
                    for c in range(NC):
                        zg[c] = -two * zg[c]
                else:
                    for c in range(NC):
                        zg[c] = -zg[c]
        flat = At.reshape(B * G * NC)
        _exp_inplace(flat, ec, coef)
        for c in range(B * G * NC):
            flat[c] = one / (one + flat[c])
        for bb in range(B):
            for g in range(2 * H, 3 * H):
                ag = At[bb, g]
                for c in range(NC):
                    ag[c] = two * ag[c] - one
        Ct = Cs[t]
        for bb in range(B):
            for j in range(H):
                ai, af, ag = At[bb, j], At[bb, H + j], At[bb, 2 * H + j]
                cc = Ct[bb, j]
                if t > 0:
                    cp = Cs[t - 1, bb, j]
                    for c in range(NC):
                        cc[c] = af[c] * cp[c] + ai[c] * ag[c]
                else:  # c0 = 0
                    for c in range(NC):
                        cc[c] = ai[c] * ag[c]
        Tt = Tc[t]
        tflat = Tt.reshape(B * H * NC)
        cflat = Ct.reshape(B * H * NC)
        for c in range(B * H * NC):
            tflat[c] = -two * cflat[c]
        _exp_inplace(tflat, ec, coef)
        for c in range(B * H * NC):
            tflat[c] = two / (one + tflat[c]) - one
        for bb in range(B):
            for j in range(H):
                ao, tc, hh = At[bb, 3 * H + j], Tt[bb, j], Hs[t, bb, j]
                for c in range(NC):
                    hh[c] = ao[c] * tc[c]
    for bb in range(B):
        p = pred[bb]
        for c in range(NC):
            p[c] = bd[c]
        hT = Hs[T - 1, bb]
        for j in range(H):
            hj = hT[j]
            wj = Wd[j]
            for c in range(NC):
                p[c] += max(hj[c], zero) * wj[c]


@njit(error_model="numpy", cache=True)
def _clip_adam(w, g, m, s, alpha, ec, tmp):
    """Clip a gradient ``g`` (rows, NC) per network to L2 norm ``clip``, then one Adam step on ``w``."""
    rows, NC = g.shape
    clip, one_b1, one_b2, eps, zero = ec[_CLIP], ec[_ONE_B1], ec[_ONE_B2], ec[_EPS], ec[_ZERO]
    for c in range(NC):
        tmp[c] = zero
    for r in range(rows):
        gr = g[r]
        for c in range(NC):
            tmp[c] += gr[c] * gr[c]
    for c in range(NC):
        tmp[c] = clip / max(np.sqrt(tmp[c]), clip)
    for r in range(rows):
        gr, mr, sr, wr = g[r], m[r], s[r], w[r]
        for c in range(NC):
            gc = gr[c] * tmp[c]
            mr[c] += (gc - mr[c]) * one_b1
            sr[c] += (gc * gc - sr[c]) * one_b2
            wr[c] -= alpha * mr[c] / (np.sqrt(sr[c]) + eps)


@njit(error_model="numpy", cache=True)
def _work_arrays(X, H):
    B, T, F, NC = X.shape
    dt = X.dtype
    A = np.empty((T, B, 4 * H, NC), dt)
    Cs = np.empty((T, B, H, NC), dt)
    Tc = np.empty((T, B, H, NC), dt)
    Hs = np.empty((T, B, H, NC), dt)
    pred = np.empty((B, NC), dt)
    return A, Cs, Tc, Hs, pred


@njit(error_model="numpy", cache=True)
def _train_chunk(X, y, W, U, b, Wd, bd, alphas, ec, coef):
    """All epochs of one chunk; the weights are updated in place.

    Shapes: X (B, T, F, NC), y (B, NC), W (F, 4H, NC), U (H, 4H, NC), b (4H, NC), Wd (H, NC), bd (1, NC);
    ``alphas`` holds Adam's step size of every epoch, ``ec`` the scalar constants.
    """
    B, T, F, NC = X.shape
    H = U.shape[0]
    G = 4 * H
    dt = X.dtype
    A, Cs, Tc, Hs, pred = _work_arrays(X, H)
    DZ = np.empty((B, G, NC), dt)
    dh = np.empty((B, H, NC), dt)
    dc = np.empty((B, H, NC), dt)
    gW = np.empty((F * G, NC), dt)
    gU = np.empty((H * G, NC), dt)
    gb = np.empty((G, NC), dt)
    gWd = np.empty((H, NC), dt)
    gbd = np.empty((1, NC), dt)
    W2 = W.reshape((F * G, NC))
    U2 = U.reshape((H * G, NC))
    mW, sW = np.zeros_like(W2), np.zeros_like(W2)
    mU, sU = np.zeros_like(U2), np.zeros_like(U2)
    mb, sb = np.zeros_like(b), np.zeros_like(b)
    mWd, sWd = np.zeros_like(Wd), np.zeros_like(Wd)
    mbd, sbd = np.zeros_like(bd), np.zeros_like(bd)
    tmp = np.empty(NC, dt)
    one, zero, l2, inv_b = ec[_ONE], ec[_ZERO], ec[_L2], ec[_INV_B]
    for epoch in range(alphas.shape[0]):
        _forward_chunk(X, W, U, b, Wd, bd[0], A, Cs, Tc, Hs, pred, ec, coef)
        gW[:] = zero
        gU[:] = zero
        gb[:] = zero
        gWd[:] = zero
        gbd[:] = zero
        # ---- head: d loss / d pred = (pred - y) / B; ReLU passes the gradient where h > 0
        for bb in range(B):
            e = pred[bb]
            yb = y[bb]
            for c in range(NC):
                e[c] = (e[c] - yb[c]) * inv_b
                gbd[0, c] += e[c]
            hT = Hs[T - 1, bb]
            for j in range(H):
                hj, wj, gj, dj = hT[j], Wd[j], gWd[j], dh[bb, j]
                for c in range(NC):
                    gj[c] += e[c] * max(hj[c], zero)
                    dj[c] = e[c] * wj[c] if hj[c] > zero else zero
        # ---- back-propagation through time
        for t in range(T - 1, -1, -1):
            last = t == T - 1
            for bb in range(B):
                a = A[t, bb]
                dz = DZ[bb]
                for j in range(H):
                    ai, af, ag, ao = a[j], a[H + j], a[2 * H + j], a[3 * H + j]
                    tc, dhj, dcj = Tc[t, bb, j], dh[bb, j], dc[bb, j]
                    dzi, dzf, dzg, dzo = dz[j], dz[H + j], dz[2 * H + j], dz[3 * H + j]
                    if last:
                        for c in range(NC):
                            dcj[c] = zero
                    if t > 0:
                        cp = Cs[t - 1, bb, j]
                        for c in range(NC):
                            dcv = dcj[c] + dhj[c] * ao[c] * (one - tc[c] * tc[c])
                            dzo[c] = dhj[c] * tc[c] * (ao[c] * (one - ao[c]))
                            dzi[c] = dcv * ag[c] * (ai[c] * (one - ai[c]))
                            dzg[c] = dcv * ai[c] * (one - ag[c] * ag[c])
                            dzf[c] = dcv * cp[c] * (af[c] * (one - af[c]))
                            dcj[c] = dcv * af[c]
                    else:  # c_prev = 0: the forget gate has no effect
                        for c in range(NC):
                            dcv = dcj[c] + dhj[c] * ao[c] * (one - tc[c] * tc[c])
                            dzo[c] = dhj[c] * tc[c] * (ao[c] * (one - ao[c]))
                            dzi[c] = dcv * ag[c] * (ai[c] * (one - ai[c]))
                            dzg[c] = dcv * ai[c] * (one - ag[c] * ag[c])
                            dzf[c] = zero
                # parameter gradients of step t
                for g in range(G):
                    dzg_ = dz[g]
                    gbg = gb[g]
                    for c in range(NC):
                        gbg[c] += dzg_[c]
                    for f in range(F):
                        xf = X[bb, t, f]
                        gwf = gW[f * G + g]
                        for c in range(NC):
                            gwf[c] += xf[c] * dzg_[c]
                if t > 0:  # recurrent kernel and the gradient flowing to h_{t-1}
                    hp = Hs[t - 1, bb]
                    for j in range(H):
                        hj = hp[j]
                        dhj = dh[bb, j]
                        for c in range(NC):
                            dhj[c] = zero
                        for g in range(G):
                            dzg_ = dz[g]
                            uj = U[j, g]
                            guj = gU[j * G + g]
                            for c in range(NC):
                                guj[c] += hj[c] * dzg_[c]
                                dhj[c] += uj[c] * dzg_[c]
        # ---- L2 penalty on the kernels, per-network clipping of each tensor, Adam
        for r in range(F * G):
            for c in range(NC):
                gW[r, c] += l2 * W2[r, c]
        for r in range(H * G):
            for c in range(NC):
                gU[r, c] += l2 * U2[r, c]
        for r in range(H):
            for c in range(NC):
                gWd[r, c] += l2 * Wd[r, c]
        alpha = alphas[epoch]
        _clip_adam(W2, gW, mW, sW, alpha, ec, tmp)
        _clip_adam(U2, gU, mU, sU, alpha, ec, tmp)
        _clip_adam(b, gb, mb, sb, alpha, ec, tmp)
        _clip_adam(Wd, gWd, mWd, sWd, alpha, ec, tmp)
        _clip_adam(bd, gbd, mbd, sbd, alpha, ec, tmp)


@njit(error_model="numpy", cache=True, parallel=True)
def _train_all(X, y, W, U, b, Wd, bd, alphas, ec, coef):
    for k in prange(X.shape[0]):
        _train_chunk(X[k], y[k], W[k], U[k], b[k], Wd[k], bd[k], alphas, ec, coef)


@njit(error_model="numpy", cache=True, parallel=True)
def _predict_all(X, W, U, b, Wd, bd, pred, ec, coef):
    H = U.shape[1]
    for k in prange(X.shape[0]):
        A, Cs, Tc, Hs, p = _work_arrays(X[k], H)
        _forward_chunk(X[k], W[k], U[k], b[k], Wd[k], bd[k, 0], A, Cs, Tc, Hs, p, ec, coef)
        pred[k] = p


def _constants(c: TrainConfig, dtype, n_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's scalar constants ``ec`` and the Taylor coefficients of exp."""
    single = np.dtype(dtype) == np.float32
    ln2_hi = 0.693359375  # 355/512: k * ln2_hi is exact for every k that occurs
    ln2_lo = -2.1219444005469058277e-4  # ln 2 - ln2_hi, to 20 digits (np.log(2) - ln2_hi loses ~1e-17)
    ec = np.zeros(15, dtype)
    ec[[_CLIP, _L2, _ONE_B1, _ONE_B2, _EPS]] = [c.clip_norm, c.l2, 1.0 - c.beta_1, 1.0 - c.beta_2, c.epsilon]
    ec[[_INV_B, _ONE, _ZERO, _TWO, _HALF]] = [1.0 / max(n_windows, 1), 1.0, 0.0, 2.0, 0.5]
    ec[[_LO, _HI]] = [-87.0, 88.0] if single else [-708.0, 709.0]
    ec[[_LOG2E, _LN2_HI, _LN2_LO]] = [1.0 / np.log(2.0), ln2_hi, ln2_lo]
    degree = 7 if single else 13
    coef = np.array([1.0 / math.factorial(d) if d <= degree else 0.0 for d in range(13, -1, -1)], dtype)
    return ec, coef


# --------------------------------------------------------------------------- #
# layout conversion: leading network axis (N, ...) <-> chunks (K, ..., CHUNK)
def _to_chunks(a: np.ndarray, dtype) -> np.ndarray:
    """``(N, ...)`` -> ``(K, ..., CHUNK)``, zero-padded to a whole number of chunks, C-contiguous."""
    a = np.asarray(a, dtype=dtype)
    N = a.shape[0]
    K = -(-N // CHUNK)
    pad = np.zeros((K * CHUNK, *a.shape[1:]), dtype=dtype)
    pad[:N] = a
    pad = pad.reshape(K, CHUNK, *a.shape[1:])
    return np.ascontiguousarray(np.moveaxis(pad, 1, -1))


def _from_chunks(a: np.ndarray, N: int) -> np.ndarray:
    """Inverse of :func:`_to_chunks`."""
    a = np.moveaxis(a, -1, 1)
    return np.ascontiguousarray(a.reshape(-1, *a.shape[2:])[:N])


def _chunk_weights(weights: dict[str, np.ndarray], dtype) -> list[np.ndarray]:
    N = np.asarray(weights["kernel"]).shape[0]
    return [
        _to_chunks(weights["kernel"], dtype),
        _to_chunks(weights["recurrent_kernel"], dtype),
        _to_chunks(weights["bias"], dtype),
        _to_chunks(np.asarray(weights["dense_kernel"]).reshape(N, -1), dtype),
        _to_chunks(np.asarray(weights["dense_bias"]).reshape(N, 1), dtype),
    ]


def _step_sizes(c: TrainConfig, dtype) -> np.ndarray:
    """Adam's step size of every epoch: the learning-rate schedule with the bias corrections folded in."""
    step = np.arange(c.epochs)
    t = (step + 1).astype(dtype)
    lr = np.where(step < c.drop_after, dtype(c.learning_rate), dtype(c.learning_rate * c.drop_factor)).astype(dtype)
    b1, b2 = dtype(c.beta_1), dtype(c.beta_2)
    return (lr * np.sqrt(dtype(1.0) - b2**t) / (dtype(1.0) - b1**t)).astype(dtype)


def _check_shapes(X: np.ndarray, weights: dict[str, np.ndarray]) -> tuple[int, int, int, int, int]:
    if X.ndim != 4:
        raise InputError(f"inputs have shape {X.shape}; expected (units, windows, steps, features).")
    N, B, T, F = X.shape
    H = np.asarray(weights["recurrent_kernel"]).shape[1]
    expected = {
        "kernel": (N, F, 4 * H),
        "recurrent_kernel": (N, H, 4 * H),
        "bias": (N, 4 * H),
        "dense_kernel": (N, H, 1),
        "dense_bias": (N, 1),
    }
    for k, shape in expected.items():
        got = np.shape(weights[k])
        if got != shape:
            raise InputError(
                f"weight {k!r} has shape {got}, expected {shape} for inputs of shape {X.shape}; "
                "build the weights with nqpf_helpers.forecast.init_weights for the same units and features."
            )
    return N, B, T, F, H


def train_fused(
    X: np.ndarray,
    y: np.ndarray,
    init: dict[str, np.ndarray],
    config: TrainConfig = DEFAULT_CONFIG,
) -> dict[str, np.ndarray]:
    """Train N independent ``LSTM(H) -> ReLU -> Dense(1)`` networks with the fused Numba kernel.

    Same loss, penalty, clipping, optimiser and schedule as
    :func:`~nqpf_helpers.forecast.network.train_stacked` (see the module docstring); the trained
    networks agree with it and with Keras' own ``LSTM`` to float32 rounding.

    Parameters
    ----------
    X
        ``(N, B, T, F)`` scaled training inputs.
    y
        ``(N, B)`` scaled training targets.
    init
        Initial weights from :func:`~nqpf_helpers.forecast.seeding.init_weights`.
    config
        Optimisation options; ``config.dtype`` sets the floating-point type.

    Returns
    -------
    dict of numpy.ndarray
        Trained weights with the keys and shapes of ``init``, in ``config.dtype``.

    Raises
    ------
    InputError
        Inputs, targets and weights of inconsistent shapes.
    """
    X = np.asarray(X)
    N, B, T, F, H = _check_shapes(X, init)
    y = np.asarray(y)
    if y.shape != (N, B):
        raise InputError(f"targets have shape {y.shape}, expected {(N, B)} (units x windows).")
    dtype = np.dtype(config.dtype).type
    Xc = _to_chunks(X, dtype)
    yc = _to_chunks(y, dtype)
    W, U, b, Wd, bd = _chunk_weights(init, dtype)
    if config.epochs > 0 and N > 0:
        _train_all(Xc, yc, W, U, b, Wd, bd, _step_sizes(config, dtype), *_constants(config, dtype, B))
    return {
        "kernel": _from_chunks(W, N),
        "recurrent_kernel": _from_chunks(U, N),
        "bias": _from_chunks(b, N),
        "dense_kernel": _from_chunks(Wd, N)[:, :, None],
        "dense_bias": _from_chunks(bd, N),
    }


def predict_fused(weights: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Predictions ``(N, B)`` (float64) of N networks with ``weights`` for inputs ``(N, B, T, F)``.

    The arithmetic is done in the dtype of ``weights["kernel"]``.
    """
    X = np.asarray(X)
    N, B, T, F, H = _check_shapes(X, weights)
    dtype = np.asarray(weights["kernel"]).dtype.type
    if dtype not in (np.float32, np.float64):
        dtype = np.float64
    Xc = _to_chunks(X, dtype)
    W, U, b, Wd, bd = _chunk_weights(weights, dtype)
    pred = np.empty((Xc.shape[0], B, CHUNK), dtype)
    if N > 0:
        _predict_all(Xc, W, U, b, Wd, bd, pred, *_constants(DEFAULT_CONFIG, dtype, B))
    return _from_chunks(pred, N).astype(float)
