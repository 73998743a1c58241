"""The SBM model with undesirable outputs, stated in cvxpy one DMU at a time.

This is the readable version of the model (the book shows it) and the
reference the tests compare the fast path of :mod:`nqpf_helpers.sbm.fast`
with.  See :mod:`nqpf_helpers.sbm` for the formulas and conventions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nqpf_helpers.errors import InputError

from ._checks import check_matrices, check_options
from ._highs import column_scale, solve_with_highs

__all__ = ["sbm_cvxpy"]

# Lambdas below this are numerical noise, not peers (under VRS they sum to 1).
PEER_TOL = 1e-8


def sbm_cvxpy(
    X: Any,
    Yg: Any,
    Yb: Any,
    o: int,
    rts: str = "vrs",
    ref: Sequence[int] | None = None,
    super_efficiency: bool = False,
) -> dict[str, Any]:
    """Score one DMU with the SBM model with undesirable outputs, in cvxpy.

    Parameters
    ----------
    X, Yg, Yb
        Inputs ``(n, m)``, good outputs ``(n, s1)`` and bad outputs
        ``(n, s2)``, one row per DMU.  ``Yb`` may be ``None`` (Tone's 2001
        SBM without bad outputs).
    o
        Row index of the DMU to score.
    rts
        ``"vrs"`` (variable returns to scale, ``sum(lambda) = 1``) or
        ``"crs"``.
    ref
        Row indices of the DMUs spanning the frontier (default: all).  The
        DMU ``o`` is evaluated against these; for an ordinary SBM score it
        should belong to them.
    super_efficiency
        Solve the super-efficiency SBM instead (Tone 2002; see
        :mod:`nqpf_helpers.sbm` for how bad outputs and zero emissions
        enter): ``o`` is removed from the reference
        set, inputs and bad outputs may only grow and good outputs only
        shrink.  Meaningful for SBM-efficient DMUs, whose score is then >= 1.
        If ``o`` is the only DMU, the score is NaN.

    Returns
    -------
    dict
        ``rho`` (score), ``slack_x``, ``slack_g``, ``slack_b`` (arrays in the
        original units; for super-efficiency the amounts by which ``o`` may
        worsen), ``lambdas`` ({reference row: lambda > 0}) and ``status``.

    Raises
    ------
    ~nqpf_helpers.errors.InputError
        Bad data (non-positive inputs or good outputs, negative bad outputs,
        missing values, mismatched rows) or options.
    ~nqpf_helpers.errors.SolverError
        HiGHS ended without a checked optimum, even after re-solving with
        other settings; the message names the row and suggests fixes.

    Notes
    -----
    Before solving, each column is divided by DMU ``o``'s own value (the
    score is unit-invariant), and the problem is solved with HiGHS, never
    with cvxpy's default solver.
    """
    import cvxpy as cp

    check_options(rts)
    X, Yg, Yb = check_matrices(X, Yg, Yb)
    n, m = X.shape
    s1, s2 = Yg.shape[1], Yb.shape[1]
    if not 0 <= o < n:
        raise InputError(f"o={o} is not a row of X (n={n}).")
    R = np.arange(n) if ref is None else np.asarray(ref, dtype=int)
    if super_efficiency:
        R = R[R != o]
    if len(R) == 0:
        if super_efficiency:
            return {"rho": math.nan, "slack_x": np.full(m, np.nan), "slack_g": np.full(s1, np.nan),
                    "slack_b": np.full(s2, np.nan), "lambdas": {}, "status": "no reference DMU"}
        raise InputError("ref is empty: the frontier needs at least one DMU.")

    # Measure every variable in units of DMU o's own value, so that o is the
    # vector of ones.  rho does not depend on units, and this keeps every
    # coefficient near 1 even when a column spans many orders of magnitude
    # (dividing by column means is not enough there).  A zero bad output
    # has no such unit; its column is divided by its mean instead.
    mb = column_scale(Yb[R])[0]
    sx, sg = X[o], Yg[o]
    sb = np.where(Yb[o] > 0, Yb[o], mb)
    Xs, Ygs, Ybs = X / sx, Yg / sg, Yb / sb
    xo, ygo, ybo = Xs[o], Ygs[o], Ybs[o]
    # 1/yb_ko with the zero-bad-output convention: the term is dropped.
    inv_ybo = np.divide(1.0, ybo, out=np.zeros(s2), where=ybo > 0)
    S = s1 + s2

    t = cp.Variable()  # Charnes-Cooper scalar: 1 / denominator
    lam = cp.Variable(len(R), nonneg=True)  # t * lambda
    s_x = cp.Variable(m, nonneg=True)  # t * input slacks
    s_g = cp.Variable(s1, nonneg=True)  # t * good-output slacks
    out_terms = s_g @ (1 / ygo)
    if s2:
        s_b = cp.Variable(s2, nonneg=True)  # t * bad-output slacks
        out_terms = out_terms + s_b @ inv_ybo

    if not super_efficiency:
        # min t - (1/m) sum S-/x_o  s.t.  t + (1/S)(sum Sg/yg_o + sum Sb/yb_o) = 1
        objective = cp.Minimize(t - s_x @ (1 / xo) / m)
        cons = [
            t + out_terms / S == 1,
            Xs[R].T @ lam + s_x == t * xo,
            Ygs[R].T @ lam - s_g == t * ygo,
        ]
        if s2:
            cons.append(Ybs[R].T @ lam + s_b == t * ybo)
    else:
        # Bad outputs are treated like inputs here: the DMU may increase
        # inputs and pollution (numerator) and decrease good outputs
        # (denominator) until the other DMUs dominate it.
        #   min t + (sum S-/x_o + sum Sb/yb_o)/(m+s2)  s.t.  t - (1/s1) sum Sg/yg_o = 1
        in_terms = s_x @ (1 / xo)
        if s2:
            in_terms = in_terms + s_b @ inv_ybo
        objective = cp.Minimize(t + in_terms / (m + s2))
        cons = [
            t - (s_g @ (1 / ygo)) / s1 == 1,
            Xs[R].T @ lam <= t * xo + s_x,
            Ygs[R].T @ lam >= t * ygo - s_g,
            s_g <= t * ygo,  # good outputs cannot fall below zero
        ]
        if s2:
            cons.append(Ybs[R].T @ lam <= t * ybo + s_b)
    if rts == "vrs":
        cons.append(cp.sum(lam) == t)

    prob = cp.Problem(objective, cons)
    solve_with_highs(prob, f"the SBM programme of DMU row {o}", t=t, upper=None if super_efficiency else 1.0)
    tv = float(t.value)
    lam_v = np.asarray(lam.value, dtype=float) / tv
    # solve_with_highs checked that an SBM score is at most 1 + 1e-6; clip the last digits
    rho = float(prob.value) if super_efficiency else min(float(prob.value), 1.0)
    return {
        "rho": rho,
        "slack_x": np.maximum(np.asarray(s_x.value) / tv, 0) * sx,
        "slack_g": np.maximum(np.asarray(s_g.value) / tv, 0) * sg,
        "slack_b": (np.maximum(np.asarray(s_b.value) / tv, 0) * sb) if s2 else np.zeros(0),
        "lambdas": {int(R[j]): float(v) for j, v in enumerate(lam_v) if v > PEER_TOL},
        "status": prob.status,
    }
