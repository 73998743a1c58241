"""The stacked LSTM trained by one fused CPU kernel (Numba): forward pass, BPTT, clipping and Adam.

:func:`train_fused` computes the same training as the TensorFlow loop of
:func:`nqpf_helpers.forecast.network.train_stacked` -- ``LSTM(H) -> ReLU ->
Dense(1)`` per unit, loss ``0.5 * mean_b (yhat - y)**2 + l2/2 * ||weights||^2``
(kernels only), the gradient of every weight tensor clipped per unit to
``clip_norm``, Keras' form of Adam with the piecewise-constant learning rate --
with hand-written derivatives instead of automatic differentiation, and sigmoid/tanh
from an exp that vectorises (range reduction, Taylor polynomial, ``2**k`` from exponent bits).
Both engines train the same networks to float32 rounding; a few networks whose training is
sensitive to rounding end in visibly different places under either engine (see ``benchmarks/results/lstm_layouts.md``).

Layout: the *networks* are on the last, contiguous axis.  The stack is cut into
chunks of :data:`CHUNK` networks; every array of a chunk has shape ``(..., CHUNK)``,
so each elementary operation is one SIMD loop over the networks of the chunk.
Chunks are trained in parallel (``prange``), all epochs of a chunk in one call.

Structure of an epoch of a chunk: the windows are processed one at a time -- forward
pass through the T steps, head, back-propagation through time -- since the loss is a mean
over windows and ``d loss / d prediction`` of a window needs only that window.  The buffers of
one window (gates and their gradients ``(T, 4H, CHUNK)`` each, cell, tanh(cell) and hidden state
``(T, H, CHUNK)`` each: 280 KB for H = 10, T = 5 and 128 networks in float32) are reused for every window
and stay in the L2 cache with the weights and gradients, and the parameter
gradients are summed over windows, then clipped and applied by Adam once per epoch.  The
loops keep running sums in registers: a gate's pre-activation takes the bias, the input and
five recurrent terms per pass (the last pass also applies sigmoid/tanh, so ``H`` a multiple of
five and one input feature take two passes per gate); the backward pass computes
``d loss / d h[t-1]`` for two hidden units and four gates per pass and the recurrent-kernel
gradient after the window, four time steps per pass.  Loops index arrays element-wise (a slice
is an object whose reference count is updated atomically), and the hot kernels are compiled
with Numba's ``noalias`` flag, so that LLVM vectorises them without run-time overlap checks.

Every network's arithmetic is the same sequence of IEEE operations whatever chunk, lane or
thread it lands in (no fast-math, no reduction across networks), so the result is
deterministic and a network does not depend on the other networks of the stack.

Numba compiles the kernel on first use (about 15-30 s of CPU) and caches the machine
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
from numba.core.compiler import Flags  # noqa: E402
from numba.core.cpu import CPUTargetOptions  # noqa: E402
from numba.core.options import TargetOptions  # noqa: E402
from numba.extending import intrinsic, overload  # noqa: E402

# Numba's ``noalias`` compilation flag (C's ``restrict`` on every array argument) is used by its parfors but
# not offered as a decorator option: register it.  The kernels that use it never receive two views of one
# array, so the promise holds; it spares LLVM the run-time overlap checks it otherwise inserts before every
# vectorised loop, which cost about as much as the short (one chunk) loops themselves.
_NOALIAS: dict[str, bool] = {}
if hasattr(Flags, "noalias"):
    if not hasattr(CPUTargetOptions, "noalias"):
        CPUTargetOptions.noalias = TargetOptions.Mapping("noalias")
    _NOALIAS = {"noalias": True}

if not numba_config.CACHE_DIR:  # numba was imported before this module, without NUMBA_CACHE_DIR
    numba_config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]

__all__ = ["CHUNK", "predict_fused", "train_fused"]

#: The number of networks in one chunk, which is the length of every innermost (SIMD) loop of the kernel.
CHUNK = 128

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


def _poly(r, cf):
    """Taylor polynomial of exp(r), coefficients ``cf`` highest degree first, by Horner's rule.

    This plain Python version is the reference; compiled code uses the implementation for the type
    of ``r`` below (float32 skips the leading zero coefficients, which gives the same value).
    """
    p = cf[0]
    for c in cf[1:]:
        p = p * r + c
    return p


@overload(_poly, jit_options={"error_model": "numpy"})
def _poly_impl(r, cf):
    if r == types.float32:  # degree 7: the six leading coefficients are zero in float32, skip them

        def impl(r, cf):
            p = cf[6] * r + cf[7]
            p = p * r + cf[8]
            p = p * r + cf[9]
            p = p * r + cf[10]
            p = p * r + cf[11]
            p = p * r + cf[12]
            return p * r + cf[13]

        return impl

    def impl(r, cf):
        p = cf[0] * r + cf[1]
        p = p * r + cf[2]
        p = p * r + cf[3]
        p = p * r + cf[4]
        p = p * r + cf[5]
        p = p * r + cf[6]
        p = p * r + cf[7]
        p = p * r + cf[8]
        p = p * r + cf[9]
        p = p * r + cf[10]
        p = p * r + cf[11]
        p = p * r + cf[12]
        return p * r + cf[13]

    return impl


@njit(error_model="numpy", cache=True, inline="always")
def _exp1(x, lo, hi, log2e, ln2_hi, ln2_lo, half, cf):
    """exp(x) of one value by range reduction and a Taylor polynomial; inlined into vectorised loops."""
    x = min(max(x, lo), hi)
    k = np.floor(x * log2e + half)
    r = x - k * ln2_hi - k * ln2_lo
    return _poly(r, cf) * _pow2(k)


@njit(error_model="numpy", cache=True)
def _coef_tuple(coef):
    """The 14 Taylor coefficients as a tuple (compile-time indexing, kept in registers)."""
    c = coef
    return (c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13])


@njit(error_model="numpy", cache=True)
def _exp_inplace(v, ec, coef):
    """``v[:] = exp(v)`` for a contiguous 1-D array in one vectorisable loop (no libm call).

    exp(x) = 2**k * exp(r), k = round(x / ln 2), r = x - k ln 2 (two-part ln 2), exp(r) by its Taylor
    polynomial (``coef``: 14 coefficients, highest degree first; degree 7 in float32 -- the first six are
    zero and skipped -- and 13 in float64, truncation error below half an ulp on |r| <= ln2 / 2), 2**k from
    its exponent bits (:func:`_pow2`).  ``x`` is clamped to [``_LO``, ``_HI``] so that 2**k stays a normal
    number.
    """
    lo, hi, log2e, ln2_hi, ln2_lo, half = ec[_LO], ec[_HI], ec[_LOG2E], ec[_LN2_HI], ec[_LN2_LO], ec[_HALF]
    cf = _coef_tuple(coef)
    for c in range(v.shape[0]):
        v[c] = _exp1(v[c], lo, hi, log2e, ln2_hi, ln2_lo, half, cf)


@njit(error_model="numpy", cache=True, **_NOALIAS)
def _forward_window(X, bb, W, U, b, Wd, bd, A, Cs, Tc, Hs, p, ec, cf):
    """Forward pass of window ``bb`` of one chunk (NC networks on the last axis).

    ``X`` (B, T, F, NC).  Stores what the backward pass needs: gate activations ``A`` (T, 4H, NC) in Keras'
    order i, f, g, o, cell states ``Cs``, ``tanh(cell)`` ``Tc`` and hidden states ``Hs`` (T, H, NC); the
    prediction ``p`` (NC,).  sigmoid(z) = 1 / (1 + exp(-z)), tanh(z) = 2 / (1 + exp(-2 z)) - 1.  The gate
    pre-activations are summed in the order bias, inputs, h_0 ... h_{H-1} (up to five recurrent terms per
    pass over the networks, the running sum kept in a register).  Arrays are indexed element-wise, never
    sliced, in the loops: a slice is an array object whose reference count is updated atomically.
    """
    B, T, F, NC = X.shape
    H = U.shape[0]
    G = 4 * H
    one, two, zero = ec[_ONE], ec[_TWO], ec[_ZERO]
    lo, hi, log2e, ln2_hi, ln2_lo, half = ec[_LO], ec[_HI], ec[_LOG2E], ec[_LN2_HI], ec[_LN2_LO], ec[_HALF]
    nb = H // 5 if H % 5 == 0 and F == 1 else 0  # fused passes: H in blocks of five, one input feature
    for t in range(T):
        if t > 0 and nb >= 2:
            for g in range(G):
                # pass 1: bias, input and h_0 ... h_4
                for c in range(NC):
                    s = b[g, c] + X[bb, t, 0, c] * W[0, g, c]
                    s += Hs[t - 1, 0, c] * U[0, g, c]
                    s += Hs[t - 1, 1, c] * U[1, g, c]
                    s += Hs[t - 1, 2, c] * U[2, g, c]
                    s += Hs[t - 1, 3, c] * U[3, g, c]
                    s += Hs[t - 1, 4, c] * U[4, g, c]
                    A[t, g, c] = s
                for j in range(5, H - 5, 5):
                    for c in range(NC):
                        s = A[t, g, c]
                        s += Hs[t - 1, j, c] * U[j, g, c]
                        s += Hs[t - 1, j + 1, c] * U[j + 1, g, c]
                        s += Hs[t - 1, j + 2, c] * U[j + 2, g, c]
                        s += Hs[t - 1, j + 3, c] * U[j + 3, g, c]
                        s += Hs[t - 1, j + 4, c] * U[j + 4, g, c]
                        A[t, g, c] = s
                # last pass: h_{H-5} ... h_{H-1} and the activation
                j = H - 5
                if 2 * H <= g < 3 * H:  # candidate: tanh(z) = 2 sigmoid(2z) - 1
                    for c in range(NC):
                        s = A[t, g, c]
                        s += Hs[t - 1, j, c] * U[j, g, c]
                        s += Hs[t - 1, j + 1, c] * U[j + 1, g, c]
                        s += Hs[t - 1, j + 2, c] * U[j + 2, g, c]
                        s += Hs[t - 1, j + 3, c] * U[j + 3, g, c]
                        s += Hs[t - 1, j + 4, c] * U[j + 4, g, c]
                        e = _exp1(-two * s, lo, hi, log2e, ln2_hi, ln2_lo, half, cf)
                        A[t, g, c] = two * (one / (one + e)) - one
                else:
                    for c in range(NC):
                        s = A[t, g, c]
                        s += Hs[t - 1, j, c] * U[j, g, c]
                        s += Hs[t - 1, j + 1, c] * U[j + 1, g, c]
                        s += Hs[t - 1, j + 2, c] * U[j + 2, g, c]
                        s += Hs[t - 1, j + 3, c] * U[j + 3, g, c]
                        s += Hs[t - 1, j + 4, c] * U[j + 4, g, c]
                        e = _exp1(-s, lo, hi, log2e, ln2_hi, ln2_lo, half, cf)
                        A[t, g, c] = one / (one + e)
        else:
            for g in range(G):
                for c in range(NC):
                    A[t, g, c] = b[g, c] + X[bb, t, 0, c] * W[0, g, c]
                for f in range(1, F):
                    for c in range(NC):
                        A[t, g, c] += X[bb, t, f, c] * W[f, g, c]
                if t > 0:
                    j = 0
                    while H - j >= 5:
                        for c in range(NC):
                            s = A[t, g, c]
                            s += Hs[t - 1, j, c] * U[j, g, c]
                            s += Hs[t - 1, j + 1, c] * U[j + 1, g, c]
                            s += Hs[t - 1, j + 2, c] * U[j + 2, g, c]
                            s += Hs[t - 1, j + 3, c] * U[j + 3, g, c]
                            s += Hs[t - 1, j + 4, c] * U[j + 4, g, c]
                            A[t, g, c] = s
                        j += 5
                    while j < H:
                        for c in range(NC):
                            A[t, g, c] += Hs[t - 1, j, c] * U[j, g, c]
                        j += 1
                if 2 * H <= g < 3 * H:  # candidate: tanh(z) = 2 sigmoid(2z) - 1
                    for c in range(NC):
                        e = _exp1(-two * A[t, g, c], lo, hi, log2e, ln2_hi, ln2_lo, half, cf)
                        A[t, g, c] = two * (one / (one + e)) - one
                else:
                    for c in range(NC):
                        e = _exp1(-A[t, g, c], lo, hi, log2e, ln2_hi, ln2_lo, half, cf)
                        A[t, g, c] = one / (one + e)
        for j in range(H):
            if t > 0:
                for c in range(NC):
                    v = A[t, H + j, c] * Cs[t - 1, j, c] + A[t, j, c] * A[t, 2 * H + j, c]
                    Cs[t, j, c] = v
                    e = _exp1(-two * v, lo, hi, log2e, ln2_hi, ln2_lo, half, cf)
                    tv = two / (one + e) - one
                    Tc[t, j, c] = tv
                    Hs[t, j, c] = A[t, 3 * H + j, c] * tv
            else:  # c0 = 0
                for c in range(NC):
                    v = A[t, j, c] * A[t, 2 * H + j, c]
                    Cs[t, j, c] = v
                    e = _exp1(-two * v, lo, hi, log2e, ln2_hi, ln2_lo, half, cf)
                    tv = two / (one + e) - one
                    Tc[t, j, c] = tv
                    Hs[t, j, c] = A[t, 3 * H + j, c] * tv
    for c in range(NC):
        p[c] = bd[0, c]
    for j in range(H):
        for c in range(NC):
            p[c] += max(Hs[T - 1, j, c], zero) * Wd[j, c]


@njit(error_model="numpy", cache=True, **_NOALIAS)
def _backward_window(X, bb, U, A, Cs, Tc, Hs, DZ, dh, dc, gW, gU, gb, ec):
    """Back-propagation through time of window ``bb``: adds its gradients to ``gW``, ``gU``, ``gb``.

    On entry ``dh`` holds d loss / d h_T of the window and ``dc`` zeros; ``A``, ``Cs``, ``Tc``, ``Hs`` are
    the activations stored by the forward pass of the same window.
    """
    B, T, F, NC = X.shape
    H = U.shape[0]
    G = 4 * H
    one, zero = ec[_ONE], ec[_ZERO]
    # ---- back-propagation through time
    for t in range(T - 1, -1, -1):
        for j in range(H):
            i_, f_, g_, o_ = j, H + j, 2 * H + j, 3 * H + j
            if t > 0:
                for c in range(NC):
                    ai, af, ag, ao = A[t, i_, c], A[t, f_, c], A[t, g_, c], A[t, o_, c]
                    tc, dhv = Tc[t, j, c], dh[j, c]
                    dh[j, c] = zero  # d loss / d h_{t-1} is summed below
                    dcv = dc[j, c] + dhv * ao * (one - tc * tc)
                    vo = dhv * tc * (ao * (one - ao))
                    vi = dcv * ag * (ai * (one - ai))
                    vg = dcv * ai * (one - ag * ag)
                    vf = dcv * Cs[t - 1, j, c] * (af * (one - af))
                    DZ[t, o_, c] = vo
                    DZ[t, i_, c] = vi
                    DZ[t, g_, c] = vg
                    DZ[t, f_, c] = vf
                    gb[o_, c] += vo
                    gb[i_, c] += vi
                    gb[g_, c] += vg
                    gb[f_, c] += vf
                    xv = X[bb, t, 0, c]
                    gW[0, o_, c] += xv * vo
                    gW[0, i_, c] += xv * vi
                    gW[0, g_, c] += xv * vg
                    gW[0, f_, c] += xv * vf
                    dc[j, c] = dcv * af
            else:  # c_prev = 0: the forget gate has no effect
                for c in range(NC):
                    ai, ag, ao = A[t, i_, c], A[t, g_, c], A[t, o_, c]
                    tc, dhv = Tc[t, j, c], dh[j, c]
                    dh[j, c] = zero  # d loss / d h_{t-1} is summed below
                    dcv = dc[j, c] + dhv * ao * (one - tc * tc)
                    vo = dhv * tc * (ao * (one - ao))
                    vi = dcv * ag * (ai * (one - ai))
                    vg = dcv * ai * (one - ag * ag)
                    DZ[t, o_, c] = vo
                    DZ[t, i_, c] = vi
                    DZ[t, g_, c] = vg
                    DZ[t, f_, c] = zero
                    gb[o_, c] += vo
                    gb[i_, c] += vi
                    gb[g_, c] += vg
                    xv = X[bb, t, 0, c]
                    gW[0, o_, c] += xv * vo
                    gW[0, i_, c] += xv * vi
                    gW[0, g_, c] += xv * vg
        for f in range(1, F):  # the first input feature is done with dz above
            for g in range(G):
                for c in range(NC):
                    gW[f, g, c] += X[bb, t, f, c] * DZ[t, g, c]
        if t > 0:  # d loss / d h_{t-1}: two hidden units x four gates per pass
            for j in range(0, H - 1, 2):
                for g in range(0, G, 4):
                    for c in range(NC):
                        x0, x1, x2, x3 = DZ[t, g, c], DZ[t, g + 1, c], DZ[t, g + 2, c], DZ[t, g + 3, c]
                        sa = dh[j, c]
                        sa += U[j, g, c] * x0
                        sa += U[j, g + 1, c] * x1
                        sa += U[j, g + 2, c] * x2
                        sa += U[j, g + 3, c] * x3
                        dh[j, c] = sa
                        sb = dh[j + 1, c]
                        sb += U[j + 1, g, c] * x0
                        sb += U[j + 1, g + 1, c] * x1
                        sb += U[j + 1, g + 2, c] * x2
                        sb += U[j + 1, g + 3, c] * x3
                        dh[j + 1, c] = sb
            if H % 2 == 1:  # the last of an odd number of hidden units
                j = H - 1
                for g in range(0, G, 4):
                    for c in range(NC):
                        x0, x1, x2, x3 = DZ[t, g, c], DZ[t, g + 1, c], DZ[t, g + 2, c], DZ[t, g + 3, c]
                        sa = dh[j, c]
                        sa += U[j, g, c] * x0
                        sa += U[j, g + 1, c] * x1
                        sa += U[j, g + 2, c] * x2
                        sa += U[j, g + 3, c] * x3
                        dh[j, c] = sa
    # recurrent kernel: gU[j, g] += sum over t >= 1 of h_{t-1}[j] dz_t[g], summed from the last step back,
    # four steps per pass over the networks (the running sum in a register)
    for j in range(H):
        for g in range(G):
            t = T - 1
            while t >= 4:
                for c in range(NC):
                    s = gU[j, g, c]
                    s += Hs[t - 1, j, c] * DZ[t, g, c]
                    s += Hs[t - 2, j, c] * DZ[t - 1, g, c]
                    s += Hs[t - 3, j, c] * DZ[t - 2, g, c]
                    s += Hs[t - 4, j, c] * DZ[t - 3, g, c]
                    gU[j, g, c] = s
                t -= 4
            while t >= 1:
                for c in range(NC):
                    gU[j, g, c] += Hs[t - 1, j, c] * DZ[t, g, c]
                t -= 1


@njit(error_model="numpy", cache=True, **_NOALIAS)
def _clip_adam(w, g, m, s, alpha, ec, tmp):
    """Clip a gradient ``g`` (rows, NC) per network to L2 norm ``clip``, then one Adam step on ``w``."""
    rows, NC = g.shape
    clip, one_b1, one_b2, eps, zero = ec[_CLIP], ec[_ONE_B1], ec[_ONE_B2], ec[_EPS], ec[_ZERO]
    for c in range(NC):
        tmp[c] = zero
    for r in range(rows):
        for c in range(NC):
            tmp[c] += g[r, c] * g[r, c]
    for c in range(NC):
        tmp[c] = clip / max(np.sqrt(tmp[c]), clip)
    for r in range(rows):
        for c in range(NC):
            gc = g[r, c] * tmp[c]
            m[r, c] += (gc - m[r, c]) * one_b1
            s[r, c] += (gc * gc - s[r, c]) * one_b2
            w[r, c] -= alpha * m[r, c] / (np.sqrt(s[r, c]) + eps)


@njit(error_model="numpy", cache=True)
def _work_arrays(T, H, NC, dt):
    """Activation buffers of one window: gates (T, 4H, NC), cell, tanh(cell), hidden (T, H, NC), prediction."""
    A = np.empty((T, 4 * H, NC), dt)
    Cs = np.empty((T, H, NC), dt)
    Tc = np.empty((T, H, NC), dt)
    Hs = np.empty((T, H, NC), dt)
    p = np.empty(NC, dt)
    return A, Cs, Tc, Hs, p


@njit(error_model="numpy", cache=True)
def _train_chunk(X, y, W, U, b, Wd, bd, alphas, ec, coef):
    """All epochs of one chunk; the weights are updated in place.

    Shapes: X (B, T, F, NC), y (B, NC), W (F, 4H, NC), U (H, 4H, NC), b (4H, NC), Wd (H, NC), bd (1, NC);
    ``alphas`` holds Adam's step size of every epoch, ``ec`` the scalar constants.  Every epoch runs the
    forward pass, the head and the backward pass through time window by window (the loss is a mean over
    windows), reusing one window's activation buffers and summing the parameter gradients over windows.
    """
    B, T, F, NC = X.shape
    H = U.shape[0]
    G = 4 * H
    dt = X.dtype
    cf = _coef_tuple(coef)
    A, Cs, Tc, Hs, p = _work_arrays(T, H, NC, dt)
    DZ = np.empty((T, G, NC), dt)
    dh = np.empty((H, NC), dt)
    dc = np.empty((H, NC), dt)
    e = np.empty(NC, dt)
    gW = np.empty((F, G, NC), dt)
    gU = np.empty((H, G, NC), dt)
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
    zero, l2, inv_b = ec[_ZERO], ec[_L2], ec[_INV_B]
    for epoch in range(alphas.shape[0]):
        gW[:] = zero
        gU[:] = zero
        gb[:] = zero
        gWd[:] = zero
        gbd[:] = zero
        for bb in range(B):
            _forward_window(X, bb, W, U, b, Wd, bd, A, Cs, Tc, Hs, p, ec, cf)
            # ---- head: d loss / d pred = (pred - y) / B; ReLU passes the gradient where h > 0
            for c in range(NC):
                ev = (p[c] - y[bb, c]) * inv_b
                e[c] = ev
                gbd[0, c] += ev
            for j in range(H):
                for c in range(NC):
                    hv = Hs[T - 1, j, c]
                    gWd[j, c] += e[c] * max(hv, zero)
                    dh[j, c] = e[c] * Wd[j, c] if hv > zero else zero
                    dc[j, c] = zero
            _backward_window(X, bb, U, A, Cs, Tc, Hs, DZ, dh, dc, gW, gU, gb, ec)
        # ---- L2 penalty on the kernels, per-network clipping of each tensor, Adam
        for f in range(F):
            for g in range(G):
                for c in range(NC):
                    gW[f, g, c] += l2 * W[f, g, c]
        for j in range(H):
            for g in range(G):
                for c in range(NC):
                    gU[j, g, c] += l2 * U[j, g, c]
        for r in range(H):
            for c in range(NC):
                gWd[r, c] += l2 * Wd[r, c]
        alpha = alphas[epoch]
        _clip_adam(W2, gW.reshape((F * G, NC)), mW, sW, alpha, ec, tmp)
        _clip_adam(U2, gU.reshape((H * G, NC)), mU, sU, alpha, ec, tmp)
        _clip_adam(b, gb, mb, sb, alpha, ec, tmp)
        _clip_adam(Wd, gWd, mWd, sWd, alpha, ec, tmp)
        _clip_adam(bd, gbd, mbd, sbd, alpha, ec, tmp)


@njit(error_model="numpy", cache=True, parallel=True)
def _train_all(X, y, W, U, b, Wd, bd, alphas, ec, coef):
    for k in prange(X.shape[0]):
        _train_chunk(X[k], y[k], W[k], U[k], b[k], Wd[k], bd[k], alphas, ec, coef)


@njit(error_model="numpy", cache=True, parallel=True)
def _predict_all(X, W, U, b, Wd, bd, pred, ec, coef):
    K, B, T, F, NC = X.shape
    H = U.shape[1]
    cf = _coef_tuple(coef)
    for k in prange(K):
        A, Cs, Tc, Hs, p = _work_arrays(T, H, NC, X.dtype)
        for bb in range(B):
            _forward_window(X[k], bb, W[k], U[k], b[k], Wd[k], bd[k], A, Cs, Tc, Hs, p, ec, cf)
            pred[k, bb] = p


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
