"""Slacks-based measure (SBM) of efficiency with undesirable outputs.

This module computes green total factor productivity (GTFP) as the efficiency
score ``rho`` of the non-radial, non-oriented SBM model with undesirable
outputs (Tone 2004; Cooper, Seiford & Tone 2007, ch. 13).  For a decision
making unit (DMU) ``o`` with inputs ``x``, good outputs ``y^g`` and bad
outputs ``y^b``::

    rho* = min  [1 - (1/m) sum_i s-_i / x_io]
                / [1 + (1/(s1+s2)) (sum_r sg_r / yg_ro + sum_k sb_k / yb_ko)]
    s.t.  x_o  = X lambda + s-
          yg_o = Yg lambda - sg
          yb_o = Yb lambda + sb
          lambda, s-, sg, sb >= 0,   sum(lambda) = 1 under VRS.

The fractional programme is turned into a linear programme by the
Charnes-Cooper transformation (multiply every variable by ``t`` = the
reciprocal of the denominator).  With no bad outputs the model is Tone's
(2001) SBM.

Two solvers give the same answers:

* :func:`sbm_cvxpy` states the linear programme in cvxpy, one DMU at a time.
  It is meant to be read (the book shows it) and is used by the tests as the
  reference.  It always uses HiGHS and rescales columns so that the evaluated DMU is a
  vector of ones: Clarabel, cvxpy's default, returns wrong scores on data
  spanning several orders of magnitude, and even HiGHS can stop at an
  infeasible point when the evaluated DMU is tiny relative to column means.
* :func:`sbm` is the fast path for whole panels.  One HiGHS model per worker
  is kept in memory and only patched from one DMU to the next; it holds
  columns only for a small *candidate* reference set, which grows by column
  generation: after each solve the reduced cost of every DMU of the frontier
  is priced from the row duals, violating DMUs are added and the model is
  re-solved, so the result is optimal over the full reference set.

Conventions
-----------
* Inputs and good outputs must be strictly positive; bad outputs must be
  non-negative.  Negative, missing or non-numeric values are rejected.
* A **zero bad output** of the evaluated DMU drops its ratio term
  ``sb_k / yb_ko`` from the objective, while the count ``s1 + s2`` is kept.
  In the SBM model the term is zero anyway: ``0 = Yb lambda + sb`` forces
  ``sb_k = 0`` (emissions cannot fall below zero), so only peers that also
  emit nothing of that pollutant can be used.  In the super-efficiency model
  the term is dropped as well.
* Slacks, targets and peers are reported in the original units; they need
  not be unique (alternative optima), whereas ``rho`` is.

Super-efficiency
----------------
Efficient DMUs all score 1.  To rank them, the super-efficiency SBM of Tone
(2002) removes DMU ``o`` from the reference set and measures how far ``o``
must worsen, increasing inputs and bad outputs and decreasing good outputs,
before the remaining DMUs dominate it::

    delta* = min [1 + (1/(m+s2)) (sum_i s-_i/x_io + sum_k sb_k/yb_ko)]
                 / [1 - (1/s1) sum_r sg_r/yg_ro]
    s.t.  X lambda <= x_o + s-,  Yg lambda >= yg_o - sg,  Yb lambda <= yb_o + sb,
          sg <= yg_o,  lambda, s >= 0,  sum(lambda) = 1 under VRS,

with the sums over lambda taken over DMUs other than ``o``; ``delta* >= 1``.
Bad outputs join the inputs in the numerator.  The mirror image of the SBM
ratio, with the pollution increases in the denominator
``1 - (sum sg/yg + sum sb/yb)/(s1+s2)``, is not used: that denominator reaches
zero, and the programme becomes infeasible, precisely for the DMUs whose
emissions are far below everybody else's.  With no bad outputs both are
Tone's (2002) model.  Super-efficiency is solved only for DMUs with
``rho = 1``; the others keep their SBM score.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nqpf_helpers.validate import PanelError, validate_panel

__all__ = [
    "FRONTIERS",
    "RTS",
    "inefficiency_by_source",
    "reference_periods",
    "sbm",
    "sbm_cvxpy",
]

RTS = ("vrs", "crs")
FRONTIERS = ("global", "contemporaneous", "sequential", "window")

# A DMU whose score is within this distance of 1 counts as SBM-efficient.
_EFFICIENT_TOL = 1e-7
# Lambdas below this are numerical noise, not peers (under VRS they sum to 1).
_PEER_TOL = 1e-8
# When no reduced cost is below -_PRICE_TOL, the restricted optimum is within
# _PRICE_TOL * sum(Lambda) of the full one (sum(Lambda) = t <= 1 under VRS),
# far inside the 1e-6 accuracy promised for rho.
_PRICE_TOL = 1e-9
# Largest unscaled residual (relative to t for primal rows) accepted from HiGHS.
_RESIDUAL_TOL = 1e-9
# Pricing rounds before a DMU is handed to the fallbacks.
_MAX_ROUNDS = 500
# Columns added to the candidate set per pricing round.
_ADD_PER_ROUND = 16


# --------------------------------------------------------------------------
# Input checks shared by both solvers
# --------------------------------------------------------------------------


def _as_matrix(a: Any, n: int | None, what: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float) if a is not None else np.zeros((n or 0, 0))
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array with one row per DMU; got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise ValueError(
            f"{what} has {arr.shape[0]} rows but X has {n}: every matrix needs one row per DMU, in the same order."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains missing or infinite values; fill or drop those DMUs first.")
    return arr


def _check_matrices(X: Any, Yg: Any, Yb: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = _as_matrix(X, None, "X (inputs)")
    n = X.shape[0]
    Yg = _as_matrix(Yg, n, "Yg (good outputs)")
    Yb = _as_matrix(Yb, n, "Yb (bad outputs)")
    if n == 0:
        raise ValueError("X has no rows: at least one DMU is needed.")
    if X.shape[1] == 0 or Yg.shape[1] == 0:
        raise ValueError("SBM needs at least one input and one good output.")
    if np.any(X <= 0):
        raise ValueError(
            "X (inputs) must be strictly positive: the SBM objective divides by each input. "
            "Correct the data or drop DMUs with zero/negative inputs."
        )
    if np.any(Yg <= 0):
        raise ValueError(
            "Yg (good outputs) must be strictly positive: the SBM objective divides by each good output. "
            "Correct the data or drop DMUs with zero/negative good outputs."
        )
    if np.any(Yb < 0):
        raise ValueError(
            "Yb (bad outputs) must be >= 0: negative emissions are not meaningful. "
            "Correct the data (a zero bad output is allowed and drops its ratio term)."
        )
    return X, Yg, Yb


def _check_options(rts: str, frontier: str | None = None, window: int | None = None) -> None:
    if rts not in RTS:
        raise ValueError(f"rts must be one of {RTS}; got {rts!r}.")
    if frontier is not None and frontier not in FRONTIERS:
        raise ValueError(f"frontier must be one of {FRONTIERS}; got {frontier!r}.")
    if frontier == "window" and (window is None or int(window) != window or window < 1):
        raise ValueError(f"window must be a positive whole number of periods; got {window!r}.")


def _column_scale(*mats: np.ndarray) -> list[np.ndarray]:
    """Column means used to bring every variable to order one.

    rho and lambda do not depend on units, so dividing each column by a
    constant changes nothing but the conditioning of the linear programme.
    A column of zeros (a pollutant nobody emits) keeps the scale 1.
    """
    scales = []
    for M in mats:
        s = M.mean(axis=0) if M.shape[0] else np.ones(M.shape[1])
        scales.append(np.where(s > 0, s, 1.0))
    return scales


# --------------------------------------------------------------------------
# The readable cvxpy formulation
# --------------------------------------------------------------------------


def _solve_with_highs(prob: Any, t: Any, upper: float | None, what: str) -> None:
    """Solve a cvxpy problem with HiGHS and check the answer.

    HiGHS judges feasibility in its internally scaled model; on data spanning
    several orders of magnitude it can return "optimal" for a point whose
    residuals, in the Charnes-Cooper variables, are small in absolute terms
    but large relative to ``t``, and hence a wrong score.  The residuals are
    therefore checked against ``t`` here, and the problem is re-solved with
    tighter tolerances, or without presolve, when they are too large.
    """
    import cvxpy as cp

    _swallow_highs_banner()
    attempts = (
        {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
        {},
        {"presolve": "off"},
    )
    problems = []
    for opts in attempts:
        try:
            prob.solve(solver=cp.HIGHS, **opts)
        except (cp.error.SolverError, ValueError) as err:  # cvxpy raises ValueError on status UNKNOWN
            problems.append(str(err).split(":")[0])
            continue
        if prob.status != cp.OPTIMAL:
            problems.append(f"status {prob.status}")
            continue
        tv = float(t.value)
        residual = max(float(np.max(c.violation(), initial=0.0)) for c in prob.constraints)
        if residual > 1e-8 * tv:
            problems.append(f"residual {residual:.1e} with t = {tv:.1e}")
            continue
        if upper is not None and prob.value > upper + 1e-6:
            problems.append(f"score {prob.value:.9f} above {upper}")
            continue
        return
    raise RuntimeError(f"HiGHS did not solve {what} reliably ({'; '.join(problems)}).")



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
        Solve the super-efficiency SBM instead (Tone 2002; see the module
        notes for how bad outputs enter): ``o`` is removed from the reference
        set, inputs and bad outputs may only grow and good outputs only
        shrink.  Meaningful for SBM-efficient DMUs, whose score is then >= 1.
        If ``o`` is the only DMU, the score is NaN.

    Returns
    -------
    dict
        ``rho`` (score), ``slack_x``, ``slack_g``, ``slack_b`` (arrays in the
        original units; for super-efficiency the amounts by which ``o`` may
        worsen), ``lambdas`` ({reference row: lambda > 0}) and ``status``.

    Notes
    -----
    Before solving, each column is divided by DMU ``o``'s own value (the
    score is unit-invariant), and the problem is solved with HiGHS, never
    with cvxpy's default solver.
    """
    import cvxpy as cp

    _check_options(rts)
    X, Yg, Yb = _check_matrices(X, Yg, Yb)
    n, m = X.shape
    s1, s2 = Yg.shape[1], Yb.shape[1]
    if not 0 <= o < n:
        raise ValueError(f"o={o} is not a row of X (n={n}).")
    R = np.arange(n) if ref is None else np.asarray(ref, dtype=int)
    if super_efficiency:
        R = R[R != o]
    if len(R) == 0:
        if super_efficiency:
            return {"rho": math.nan, "slack_x": np.full(m, np.nan), "slack_g": np.full(s1, np.nan),
                    "slack_b": np.full(s2, np.nan), "lambdas": {}, "status": "no reference DMU"}
        raise ValueError("ref is empty: the frontier needs at least one DMU.")

    # Measure every variable in units of DMU o's own value, so that o is the
    # vector of ones.  rho does not depend on units, and this keeps every
    # coefficient near 1 even when a column spans many orders of magnitude
    # (dividing by column means is not enough there).  A zero bad output
    # has no such unit; its column is divided by its mean instead.
    mx, mg, mb = _column_scale(X[R], Yg[R], Yb[R])
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
    _solve_with_highs(prob, t, upper=None if super_efficiency else 1.0, what=f"DMU {o}")
    tv = float(t.value)
    lam_v = np.asarray(lam.value, dtype=float) / tv
    rho = float(prob.value) if super_efficiency else min(float(prob.value), 1.0)  # see _solve_with_highs
    return {
        "rho": rho,
        "slack_x": np.maximum(np.asarray(s_x.value) / tv, 0) * sx,
        "slack_g": np.maximum(np.asarray(s_g.value) / tv, 0) * sg,
        "slack_b": (np.maximum(np.asarray(s_b.value) / tv, 0) * sb) if s2 else np.zeros(0),
        "lambdas": {int(R[j]): float(v) for j, v in enumerate(lam_v) if v > _PEER_TOL},
        "status": prob.status,
    }


# --------------------------------------------------------------------------
# The fast path: one patched HiGHS model plus column generation
# --------------------------------------------------------------------------


_BANNER_SHOWN = False


def _swallow_highs_banner() -> None:
    """Create a first HiGHS instance with the process's stdout pointed at /dev/null.

    HiGHS prints a licence banner from C++, straight to file descriptor 1, the
    first time a solver is created in a process; it would otherwise appear in
    the output of every notebook cell and log that scores DMUs.  Later
    instances print nothing, so this is done once.
    """
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return
    import highspy

    _BANNER_SHOWN = True
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no usable fd 1: let it print
        highspy.Highs()
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _new_highs():
    import highspy

    _swallow_highs_banner()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    # Presolve costs more than it saves on LPs this small and would hide the
    # basis we want to reuse from one DMU to the next.
    h.setOptionValue("presolve", "off")
    h.setOptionValue("solver", "simplex")
    return h


class _FastSBM:
    """One HiGHS model for one reference set, patched DMU by DMU.

    Columns: ``[t, S-_1..m, Sg_1..s1, Sb_1..s2, Lambda_c for c in candidates]``.
    Rows (ordinary SBM): normalisation, m input rows, s1 good rows, s2 bad
    rows and, under VRS, ``t - sum Lambda = 0``.  The super-efficiency model
    adds s1 rows ``t*yg_o - Sg >= 0`` and flips the sign pattern.

    Only the ``t`` column, the input-slack costs and the output-slack
    coefficients of the normalisation row depend on the DMU, so moving to the
    next DMU means patching ``2(m + s1 + s2)`` numbers.  Lambda columns exist
    only for candidate peers; the rest of the frontier is priced with the row
    duals and added when its reduced cost is negative.
    """

    def __init__(
        self,
        X: np.ndarray,
        Yg: np.ndarray,
        Yb: np.ndarray,
        rts: str,
        super_efficiency: bool,
        seeds: Sequence[int] = (),
    ):
        import highspy

        self.X, self.Yg, self.Yb = X, Yg, Yb
        self.Z = np.hstack([X, Yg, Yb])
        self.n, self.m = X.shape
        self.s1, self.s2 = Yg.shape[1], Yb.shape[1]
        self.vrs = rts == "vrs"
        self.sup = super_efficiency
        m, s1, s2 = self.m, self.s1, self.s2
        self.q = m + s1 + s2
        self.h = _new_highs()
        self.inf = highspy.kHighsInf
        inf = self.inf

        # Row layout
        self.r_in = 1 + np.arange(m)
        self.r_g = 1 + m + np.arange(s1)
        self.r_b = 1 + m + s1 + np.arange(s2)
        nxt = 1 + self.q
        if self.sup:
            self.r_gb = nxt + np.arange(s1)
            nxt += s1
        self.r_v = nxt if self.vrs else None
        self.nrow = nxt + (1 if self.vrs else 0)

        # Lambda-column pattern: coefficient of Lambda_j in each row equals
        # sign * (data of DMU j); pricing uses the same pattern.
        if not self.sup:
            sign = np.r_[-np.ones(m), -np.ones(s1), -np.ones(s2)]
        else:
            sign = np.r_[-np.ones(m), np.ones(s1), -np.ones(s2)]
        self.sign = sign
        # P[j] @ duals[rows] gives a_j^T y for the Lambda column of DMU j.
        self.P = np.hstack([X, Yg, Yb]) * sign
        if self.vrs:
            self.P = np.hstack([self.P, -np.ones((self.n, 1))])
        self.price_rows = np.r_[self.r_in, self.r_g, self.r_b, [self.r_v] if self.vrs else []].astype(int)

        row_lo = np.zeros(self.nrow)
        row_hi = np.zeros(self.nrow)
        row_lo[0] = row_hi[0] = 1.0
        if self.sup:
            row_hi[1 : self.nrow] = inf  # dominance and bound rows are ">= 0"
            if self.vrs:
                row_hi[self.r_v] = 0.0
        self.h.addRows(self.nrow, row_lo, row_hi, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))

        # t column and slack columns (DMU-specific numbers filled in per DMU)
        starts, idx, val = [], [], []
        # t: normalisation 1, data rows patched later, VRS row +1
        t_rows = [0, *self.r_in, *self.r_g, *self.r_b]
        t_vals = [1.0] + [1.0] * self.q
        if self.sup:
            t_rows += list(self.r_gb)
            t_vals += [1.0] * s1
        if self.vrs:
            t_rows.append(self.r_v)
            t_vals.append(1.0)
        starts.append(0)
        idx += t_rows
        val += t_vals
        # slack columns: entry in own data row and in the normalisation row
        if not self.sup:
            slack_sign = np.r_[-np.ones(m), np.ones(s1), -np.ones(s2)]
        else:
            slack_sign = np.r_[np.ones(m), np.ones(s1), np.ones(s2)]
        data_rows = np.r_[self.r_in, self.r_g, self.r_b].astype(int)
        for k in range(self.q):
            starts.append(len(idx))
            rows = [int(data_rows[k])]
            vals = [float(slack_sign[k])]
            if k >= m:
                rows.insert(0, 0)
                vals.insert(0, 1.0)  # patched per DMU
            if self.sup and m <= k < m + s1:
                rows.append(int(self.r_gb[k - m]))
                vals.append(-1.0)
            idx += rows
            val += vals
        ncol = 1 + self.q
        cost = np.zeros(ncol)
        cost[0] = 1.0
        lo = np.zeros(ncol)
        hi = np.full(ncol, inf)
        lo[0] = 0.0
        self.h.addCols(ncol, cost, lo, hi, len(idx), np.asarray(starts, np.int32), np.asarray(idx, np.int32),
                       np.asarray(val, dtype=float))
        # The ordinary SBM model always has the evaluated DMU itself as a
        # feasible peer (lambda_o = 1); a dedicated column, re-patched with
        # the data of each DMU, keeps the restricted LP feasible without
        # adding every DMU to the candidate set.  The super-efficiency model
        # excludes the DMU, so it has no such column.
        self.self_col: int | None = None
        if not self.sup:
            nnz = len(self.price_rows)
            self.h.addCols(1, np.zeros(1), np.zeros(1), np.full(1, inf), nnz, np.zeros(1, np.int32),
                           self.price_rows.astype(np.int32), self.P[0].astype(float))
            self.self_col = 1 + self.q
        self.first_lam = self.h.getNumCol()
        # index arrays used when patching, computed once
        self._data_rows = [int(r) for r in np.concatenate([self.r_in, self.r_g, self.r_b])]
        self._gb_rows = [int(r) for r in self.r_gb] if self.sup else []
        self._t_sign = np.concatenate([np.ones(m), (-1.0 if self.sup else 1.0) * np.ones(s1), np.ones(s2)])
        self._in_cols = np.arange(1, m + 1, dtype=np.int32)
        self._out_cols = list(range(1 + m, 1 + self.q))
        self._sup_cost_idx = np.concatenate([np.arange(m), np.arange(m + s1, self.q)])
        self._sup_cost_cols = (1 + self._sup_cost_idx).astype(np.int32)
        self._sup_norm_w = np.concatenate([np.full(s1, -1.0 / max(s1, 1)), np.zeros(s2)])
        self.cand: list[int] = []  # reference rows that have a Lambda column
        self.col_of: dict[int, int] = {}
        self._seed()
        self._add(seeds)

    # -- candidate set --------------------------------------------------------
    def _seed(self) -> None:
        """Start from a few DMUs that are certainly or very likely efficient."""
        seeds: set[int] = set()
        # best in each single dimension, and best output-per-input ratio
        for k in range(self.m):
            seeds.add(int(np.argmin(self.X[:, k])))
        for k in range(self.s1):
            seeds.add(int(np.argmax(self.Yg[:, k])))
            seeds.add(int(np.argmax(self.Yg[:, k] / self.X.sum(axis=1))))
        for k in range(self.s2):
            seeds.add(int(np.argmin(self.Yb[:, k])))
        self._add(sorted(seeds))

    def _add(self, rows: Sequence[int]) -> None:
        rows = [int(r) for r in rows if int(r) not in self.col_of]
        if not rows:
            return
        nnz_per = self.q + (1 if self.vrs else 0)
        k = len(rows)
        idx = np.tile(self.price_rows, k).astype(np.int32)
        val = self.P[rows].ravel().astype(float)
        starts = (np.arange(k) * nnz_per).astype(np.int32)
        first = self.h.getNumCol()
        self.h.addCols(k, np.zeros(k), np.zeros(k), np.full(k, self.inf), len(idx), starts, idx, val)
        for j, r in enumerate(rows):
            self.col_of[r] = first + j
            self.cand.append(r)

    # -- one DMU ----------------------------------------------------------------
    def _patch(self, zo: np.ndarray) -> None:
        """Write DMU ``zo = [x_o, yg_o, yb_o]`` into the model."""
        h, m, s1, S, q = self.h, self.m, self.s1, self.s1 + self.s2, self.q
        # ordinary: t*x_o = X L + S-,  t*yg_o = Yg L - Sg,  t*yb_o = Yb L + Sb
        # super:    t*x_o - X L + S- >= 0,  -t*yg_o + Yg L + Sg >= 0, ...
        t_data = zo * self._t_sign
        for r, v in zip(self._data_rows, t_data.tolist()):
            h.changeCoeff(r, 0, v)
        if self.sup:
            for r, v in zip(self._gb_rows, zo[m : m + s1].tolist()):
                h.changeCoeff(r, 0, v)
        inv = np.divide(1.0, zo, out=np.zeros(q), where=zo > 0)  # zero bad output: term dropped
        if not self.sup:
            # min t - (1/m) sum S-/x_o;  t + (1/S)(sum Sg/yg_o + sum Sb/yb_o) = 1
            h.changeColsCost(m, self._in_cols, inv[:m] * (-1.0 / m))
            w = inv[m:] / S
        else:
            # min t + (sum S-/x_o + sum Sb/yb_o)/(m+s2);  t - (1/s1) sum Sg/yg_o = 1
            cost = inv[self._sup_cost_idx] / (m + self.s2)
            h.changeColsCost(len(self._sup_cost_cols), self._sup_cost_cols, cost)
            w = inv[m:] * self._sup_norm_w
        for c, v in zip(self._out_cols, w.tolist()):
            h.changeCoeff(0, c, v)

    def _patch_self(self, row: int) -> None:
        for r, v in zip(self.price_rows[: self.q], self.P[row, : self.q]):
            self.h.changeCoeff(int(r), self.self_col, float(v))

    def _trouble(self) -> str:
        """Why the last solution cannot be trusted ('' if it can).

        HiGHS judges feasibility in its internally scaled model and can call
        a point optimal whose unscaled residuals exceed the tolerance.  In
        the Charnes-Cooper variables a residual is a slack times ``t``, so it
        is compared with ``t``: a residual of 1e-8 when ``t`` = 0.002 is a
        slack error of 5e-6, enough to turn a score of 1 into 0.002.
        """
        h = self.h
        status = h.getModelStatus()
        if status != _optimal():
            return h.modelStatusToString(status)
        info = h.getInfo()
        t = max(h.getSolution().col_value[0], 1e-12)
        if info.max_primal_infeasibility > _RESIDUAL_TOL * t or info.max_dual_infeasibility > _RESIDUAL_TOL:
            return (
                f"optimal only in HiGHS's scaled model (primal residual {info.max_primal_infeasibility:.1e}, "
                f"dual residual {info.max_dual_infeasibility:.1e}, t {t:.1e})"
            )
        return ""

    def solve(self, self_row: int) -> dict[str, Any]:
        """Score the DMU in row ``self_row`` of the reference set."""
        h = self.h
        self._patch(self.Z[self_row])
        if self.sup:
            if self_row in self.col_of:
                h.changeColBounds(self.col_of[self_row], 0.0, 0.0)
            if len(self.cand) - (self_row in self.col_of) == 0:
                others = [j for j in range(min(self.n, 2)) if j != self_row]
                self._add(others[:1])
        if not self.sup:
            self._patch_self(self_row)
        try:
            for _ in range(_MAX_ROUNDS):
                h.run()
                problem = self._trouble()
                if problem:
                    # a fresh start from a slack basis copes with most
                    # failures of a warm start after heavy patching
                    h.clearSolver()
                    h.run()
                    problem = self._trouble()
                    if problem:
                        raise _NumericalTrouble(problem)
                sol = h.getSolution()
                y = np.asarray(sol.row_dual)[self.price_rows]
                rc = -(self.P @ y)
                rc[self_row] = np.inf  # excluded (super) or covered by the self column
                if self.cand:
                    rc[self.cand] = np.inf
                viol = np.flatnonzero(rc < -_PRICE_TOL)
                if viol.size == 0:
                    break
                if viol.size > _ADD_PER_ROUND:
                    viol = viol[np.argpartition(rc[viol], _ADD_PER_ROUND)[:_ADD_PER_ROUND]]
                self._add(viol)
            else:
                # each round adds columns, so this only happens when HiGHS's
                # duals are too inaccurate to price with
                raise _NumericalTrouble(f"no convergence after {_MAX_ROUNDS} pricing rounds")
            rho = h.getInfo().objective_function_value
            if not self.sup:
                # rho <= 1 in exact arithmetic (lambda_o = 1 is feasible);
                # residuals within tolerance can push it a few 1e-8 above
                if rho > 1 + 1e-6:
                    raise _NumericalTrouble(f"score {rho:.9f} above 1")
                rho = min(rho, 1.0)
            col = np.asarray(sol.col_value)
            t = col[0]
            lam_cols = col[self.first_lam :] / t
            who = np.asarray(self.cand, dtype=int)
            if not self.sup:
                lam_cols = np.concatenate([[col[self.self_col] / t], lam_cols])
                who = np.concatenate([[self_row], who])
            keep = lam_cols > _PEER_TOL
            # the DMU may be both the self column and a candidate column
            peers, inv = np.unique(who[keep], return_inverse=True)
            lams = np.bincount(inv, weights=lam_cols[keep], minlength=len(peers))
            return {
                "rho": rho,
                "slacks": np.maximum(col[1 : 1 + self.q] / t, 0.0),
                "peers": peers,
                "lambdas": lams,
                "status": "optimal",
            }
        finally:
            if self.sup and self_row in self.col_of:
                h.changeColBounds(self.col_of[self_row], 0.0, self.inf)


class _NumericalTrouble(RuntimeError):
    """HiGHS could not solve a patched LP (badly scaled for this DMU)."""


def _solve_one(
    solver: _FastSBM, X: np.ndarray, Yg: np.ndarray, Yb: np.ndarray, r: int, rts: str, sup: bool
) -> dict[str, Any]:
    """Solve DMU ``r`` with the patched model, or in its own units if that fails.

    The patched model measures every column in units of its mean.  For a DMU
    whose values are many orders of magnitude below or above those means, or
    in heavily degenerate data (many identical DMUs), the simplex method can
    fail or stop at a point that is optimal only up to its internal scaling.
    The programme is then rebuilt with each column in units of the DMU's own
    values (where the DMU is a vector of ones), seeded with the current
    candidate peers, and solved with a few different HiGHS settings.
    """
    try:
        return solver.solve(r)
    except _NumericalTrouble as err:
        problems = [f"patched model: {err}"]
    ux, ug = X[r], Yg[r]
    ub = np.where(Yb[r] > 0, Yb[r], 1.0)
    # HiGHS can end with status "unknown" on very degenerate programmes (many
    # identical DMUs); presolve, or the primal simplex with the default
    # tolerances, usually gets through.  Every answer is still checked.
    retries = (
        {"presolve": "off"},
        {"presolve": "on"},
        {"presolve": "on", "simplex_strategy": 4,
         "primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9},
    )
    for opts in retries:
        fresh = _FastSBM(X / ux, Yg / ug, Yb / ub, rts, sup, seeds=solver.cand)
        for key, value in opts.items():
            fresh.h.setOptionValue(key, value)
        try:
            res = fresh.solve(r)
        except _NumericalTrouble as err:
            problems.append(f"own units, {opts}: {err}")
            continue
        res["slacks"] = res["slacks"] * np.concatenate([ux, ug, ub])
        return res
    # Last resort: the full programme, all DMUs as columns, through the
    # checked cvxpy route (the reference the tests compare with).
    try:
        ref = sbm_cvxpy(X, Yg, Yb, r, rts=rts, super_efficiency=sup)
    except RuntimeError as err:
        problems.append(f"full programme in cvxpy: {err}")
        raise RuntimeError(
            f"HiGHS could not solve the SBM programme of DMU row {r} ({'; '.join(problems)}). "
            "Check the data of this DMU for extreme values or unit errors."
        ) from err
    peers = np.array(sorted(ref["lambdas"]), dtype=int)
    return {
        "rho": ref["rho"],
        "slacks": np.concatenate([ref["slack_x"], ref["slack_g"], ref["slack_b"]]),
        "peers": peers,
        "lambdas": np.array([ref["lambdas"][j] for j in peers], dtype=float),
        "status": "optimal (full programme)",
    }


def _optimal():
    import highspy

    return highspy.HighsModelStatus.kOptimal




def _solve_block(
    X: np.ndarray,
    Yg: np.ndarray,
    Yb: np.ndarray,
    eval_rows: np.ndarray,
    rts: str,
    super_efficiency: bool,
    progress: bool = False,
    desc: str = "SBM",
) -> list[dict[str, Any]]:
    """Score the reference-set rows ``eval_rows`` against the reference set (scaled data)."""
    solver = _FastSBM(X, Yg, Yb, rts, super_efficiency=False)
    sup_solver: _FastSBM | None = None
    it = eval_rows
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(eval_rows, desc=desc, leave=False)
    out = []
    for r in it:
        r = int(r)
        res = _solve_one(solver, X, Yg, Yb, r, rts, False)
        res["rho_sbm"] = res["rho"]
        if super_efficiency and res["rho"] >= 1 - _EFFICIENT_TOL:
            if X.shape[0] == 1:
                res["rho"] = math.nan
            else:
                if sup_solver is None:
                    sup_solver = _FastSBM(X, Yg, Yb, rts, super_efficiency=True)
                sres = _solve_one(sup_solver, X, Yg, Yb, r, rts, True)
                # an efficient DMU scores at least 1 by construction; clip the
                # solver's last-digit noise so that it never reads 0.9999999
                res["rho"] = max(sres["rho"], 1.0) if np.isfinite(sres["rho"]) else math.nan
        out.append(res)
    return out


def reference_periods(periods: Sequence[int], frontier: str, window: int = 3) -> dict[int, list[int]]:
    """Periods whose DMUs span the frontier used to score each period.

    Parameters
    ----------
    periods
        The periods present in the panel.
    frontier
        ``"global"`` (all periods pooled), ``"contemporaneous"`` (own period
        only), ``"sequential"`` (all periods up to and including the own one)
        or ``"window"`` (the own period and the ``window - 1`` before it).
    window
        Width of the moving window, in periods (``frontier="window"`` only).

    Returns
    -------
    dict
        ``{period: sorted list of reference periods}``.
    """
    _check_options("vrs", frontier, window)
    ps = sorted({int(p) for p in periods})
    if frontier == "global":
        return {p: ps for p in ps}
    if frontier == "contemporaneous":
        return {p: [p] for p in ps}
    if frontier == "sequential":
        return {p: [q for q in ps if q <= p] for p in ps}
    return {p: [q for q in ps if p - window < q <= p] for p in ps}


def sbm(
    df: pd.DataFrame,
    *,
    dmu: str,
    period: str | None,
    inputs: Sequence[str],
    good: Sequence[str],
    bad: Sequence[str] = (),
    rts: str = "vrs",
    frontier: str = "global",
    window: int = 3,
    super_efficiency: bool = False,
    n_jobs: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """SBM efficiency with undesirable outputs for every DMU-period of a panel.

    Parameters
    ----------
    df
        Long-format panel, one row per DMU and period.
    dmu, period
        Identifier and (integer) period columns.  ``period=None`` treats
        ``df`` as a single cross-section.
    inputs, good, bad
        Input, good-output and bad-output columns.  Inputs and good outputs
        must be > 0, bad outputs >= 0 (a zero drops its ratio term; see the
        module notes).  ``bad=()`` gives Tone's (2001) SBM.
    rts
        ``"vrs"`` (default, ``sum(lambda) = 1``) or ``"crs"``.
    frontier
        Which DMUs span the frontier a DMU-period is scored against:
        ``"global"`` (all periods pooled, default), ``"contemporaneous"``
        (same period), ``"sequential"`` (all periods up to the own one) or
        ``"window"`` (the own period and the ``window - 1`` before it).  See
        :func:`reference_periods`.
    window
        Window width in periods, for ``frontier="window"``.
    super_efficiency
        Score SBM-efficient DMUs with the super-efficiency SBM (Tone 2002;
        bad outputs are treated like inputs there, see the module notes) so
        that they can be ranked (their ``rho`` becomes >= 1); the ordinary
        score stays in ``rho_sbm``.  With a single DMU in the frontier the
        super-efficiency score is undefined (NaN).
    n_jobs
        Worker processes (joblib).  ``-1`` uses all cores.  One process is
        usually fastest below a few thousand DMUs per frontier.
    progress
        Show a tqdm progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per DMU-period, sorted like the validated panel, with
        ``dmu``/``period`` columns and:

        * ``rho``: the SBM score in (0, 1] (>= 1 for efficient DMUs when
          ``super_efficiency``), and ``rho_sbm`` when ``super_efficiency``;
        * ``efficient``: ``rho_sbm`` equals 1 (to 1e-7);
        * ``slack_<col>``: optimal slacks in original units (input and
          bad-output excesses, good-output shortfalls);
        * ``target_<col>``: the projection on the frontier;
        * ``ineff_<col>``: inefficiency by source, adding up to ``1 - rho_sbm``
          (see Notes);
        * ``n_peers`` and ``peers``: a tuple of ``(dmu, period, lambda)``
          (``(dmu, lambda)`` without periods), largest lambda first.

    Notes
    -----
    With ``a_i = s-_i / (m x_io)``, ``b_r = sg_r / ((s1+s2) yg_ro)`` and
    ``c_k = sb_k / ((s1+s2) yb_ko)``, the score is
    ``rho = (1 - sum a) / (1 + sum b + sum c)`` and therefore
    ``1 - rho = (sum a + sum b + sum c) / (1 + sum b + sum c)``; each term of
    this sum is reported as the inefficiency due to its variable.  Slacks
    (and thus the split, not its total) may differ between alternative
    optimal solutions.

    The LPs are solved by HiGHS on data divided by column means; each worker
    keeps one model and patches it per DMU, with Lambda columns generated
    on demand (see the module docstring).
    """
    _check_options(rts, frontier, window)
    inputs, good, bad = list(inputs), list(good), list(bad)
    if not inputs or not good:
        raise ValueError("SBM needs at least one input column and one good-output column.")
    overlap = {c for c in inputs + good + bad if (inputs + good + bad).count(c) > 1}
    if overlap:
        raise ValueError(f"columns {sorted(overlap)} are listed more than once among inputs/good/bad.")
    data = df
    ptime = period
    if period is None:
        ptime = "__period__"
        data = df.assign(**{ptime: 0})
    panel = validate_panel(
        data,
        unit=dmu,
        time=ptime,
        values=inputs + good + bad,
        positive=inputs + good,
        nonnegative=bad,
        balanced=False,
        consecutive=False,
        name="SBM panel",
    )
    X = panel[inputs].to_numpy(float)
    Yg = panel[good].to_numpy(float)
    Yb = panel[bad].to_numpy(float) if bad else np.zeros((len(panel), 0))
    sx, sg, sb = _column_scale(X, Yg, Yb)
    Xs, Ygs, Ybs = X / sx, Yg / sg, Yb / sb
    per = panel[ptime].to_numpy(int)
    refs = reference_periods(per, frontier, window)

    # blocks: (reference rows, rows to score)
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    if frontier == "global":
        allr = np.arange(len(panel))
        blocks.append((allr, allr))
    else:
        for p, rp in refs.items():
            blocks.append((np.flatnonzero(np.isin(per, rp)), np.flatnonzero(per == p)))

    # joblib's convention: -1 is all cores, -2 all but one, ...
    n_workers = max(1, (os.cpu_count() or 1) + 1 + int(n_jobs)) if n_jobs < 0 else max(1, int(n_jobs))
    tasks = []
    for ref_rows, ev_rows in blocks:
        pos = np.searchsorted(ref_rows, ev_rows)  # rows to score, as positions in ref
        # split large blocks across workers; small ones stay whole so that
        # each worker's candidate set is reused as much as possible
        n_chunks = n_workers if (n_workers > 1 and len(blocks) < n_workers) else 1
        for chunk in np.array_split(pos, n_chunks):
            if chunk.size:
                tasks.append((ref_rows, chunk))

    def run_task(task, show):
        ref_rows, chunk = task
        return _solve_block(
            Xs[ref_rows], Ygs[ref_rows], Ybs[ref_rows], chunk, rts, super_efficiency, progress=show
        )

    if n_workers == 1:
        results = [run_task(t, progress) for t in tasks]
    else:
        from joblib import Parallel, delayed

        gen = Parallel(n_jobs=n_workers, return_as="generator")(
            delayed(_solve_block)(Xs[r], Ygs[r], Ybs[r], c, rts, super_efficiency) for r, c in tasks
        )
        if progress:
            from tqdm.auto import tqdm

            gen = tqdm(gen, total=len(tasks), desc="SBM blocks")
        results = list(gen)

    # assemble
    n = len(panel)
    m, s1, s2 = len(inputs), len(good), len(bad)
    q = m + s1 + s2
    rho = np.empty(n)
    rho_sbm = np.empty(n)
    slacks = np.empty((n, q))
    n_peers = np.empty(n, dtype=int)
    peers: list[Any] = [None] * n
    labels_dmu = panel[dmu].to_numpy()
    unit = np.concatenate([sx, sg, sb])
    for (ref_rows, chunk), res in zip(tasks, results):
        rows = ref_rows[chunk]
        for r, rr in zip(rows, res):
            rho[r] = rr["rho"]
            rho_sbm[r] = rr["rho_sbm"]
            slacks[r] = rr["slacks"] * unit
            prow = ref_rows[rr["peers"]]
            order = np.argsort(-rr["lambdas"], kind="stable")
            if period is None:
                peers[r] = tuple((labels_dmu[prow[i]], float(rr["lambdas"][i])) for i in order)
            else:
                peers[r] = tuple(
                    (labels_dmu[prow[i]], int(per[prow[i]]), float(rr["lambdas"][i])) for i in order
                )
            n_peers[r] = len(prow)

    out = panel[[dmu] if period is None else [dmu, period]].copy()
    out["rho"] = rho
    if super_efficiency:
        out["rho_sbm"] = rho_sbm
    out["efficient"] = rho_sbm >= 1 - _EFFICIENT_TOL
    vals = np.hstack([X, Yg, Yb])
    cols = inputs + good + bad
    for k, c in enumerate(cols):
        out[f"slack_{c}"] = slacks[:, k]
    # projections: inputs and bad outputs shrink, good outputs grow
    direction = np.r_[-np.ones(m), np.ones(s1), -np.ones(s2)]
    for k, c in enumerate(cols):
        out[f"target_{c}"] = vals[:, k] + direction[k] * slacks[:, k]
    ratio = np.divide(slacks, vals, out=np.zeros_like(slacks), where=vals > 0)
    terms = ratio * np.r_[np.full(m, 1.0 / m), np.full(s1 + s2, 1.0 / (s1 + s2))]
    denom = 1.0 + terms[:, m:].sum(axis=1)
    for k, c in enumerate(cols):
        out[f"ineff_{c}"] = terms[:, k] / denom
    out["n_peers"] = n_peers
    out["peers"] = peers
    out = out.reset_index(drop=True)
    # a new table: do not carry over metadata of the input panel, record the model instead
    out.attrs = {"model": "SBM with undesirable outputs", "rts": rts, "frontier": frontier,
                 "window": window if frontier == "window" else None, "super_efficiency": super_efficiency}
    return out


def inefficiency_by_source(result: pd.DataFrame, *, id_vars: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table of the ``ineff_<col>`` columns of an :func:`sbm` result.

    Parameters
    ----------
    result
        Output of :func:`sbm`.
    id_vars
        Columns identifying a row (default: every column that is not a
        score, slack, target, inefficiency or peer column).

    Returns
    -------
    pandas.DataFrame
        ``id_vars`` plus ``source`` (the variable) and ``inefficiency``.
    """
    ineff = [c for c in result.columns if c.startswith("ineff_")]
    if not ineff:
        raise ValueError("result has no ineff_<col> columns: pass the DataFrame returned by nqpf_helpers.sbm.sbm.")
    if id_vars is None:
        skip = ("slack_", "target_", "ineff_")
        id_vars = [
            c
            for c in result.columns
            if not c.startswith(skip) and c not in {"rho", "rho_sbm", "efficient", "n_peers", "peers"}
        ]
    long = result.melt(id_vars=list(id_vars), value_vars=ineff, var_name="source", value_name="inefficiency")
    long["source"] = long["source"].str.removeprefix("ineff_")
    return long
