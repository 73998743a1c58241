"""Productivity-change indices with undesirable outputs: the Malmquist-Luenberger family.

An SBM score (:mod:`nqpf_helpers.sbm`) is a *level*: how far a unit is from
the best practice of its reference set.  The indices here measure *change*
between two consecutive periods ``t`` and ``t+1``, and split it into a
catching-up part (efficiency change, EC) and a frontier-shift part
(technical change, TC, or best-practice gap change, BPC).

Distance functions
------------------
For a point ``(x_o, y_o, b_o)`` (inputs, good outputs, bad outputs) and a
reference set with data matrices ``X, Y, B`` (one row per reference unit):

* **Directional distance function** with weak disposability of bad outputs
  and direction ``g = (y_o, -b_o)`` (Chung, Färe & Grosskopf 1997)::

      D(x_o, y_o, b_o) = max beta
          s.t.  X' lam <= x_o,  Y' lam >= (1 + beta) y_o,
                B' lam  = (1 - beta) b_o,  lam >= 0   (+ sum lam = 1 under VRS).

  ``D >= 0`` for a point of the reference set; a point outside the
  reference technology (a mixed-period problem) can have ``D < 0``, or no
  feasible ``beta`` at all.
* **SBM directional distance function** (Fukuyama & Weber 2009; with
  undesirable outputs as in Färe & Grosskopf 2010), direction = the
  observation itself::

      S(x_o, y_o, b_o) = max  1/2 [ (1/m) sum_i sx_i / x_oi
                                   + 1/(s1+s2) (sum_r sy_r / y_or + sum_k sb_k / b_ok) ]
          s.t.  X' lam + sx = x_o,  Y' lam - sy = y_o,  B' lam + sb = b_o,
                lam, sx, sy, sb >= 0   (+ sum lam = 1 under VRS).

  A zero bad output ``b_ok = 0`` drops its term (as in :mod:`nqpf_helpers.sbm`).

Write ``D^s(r)`` for the distance of the period-``r`` observation from the
period-``s`` frontier and ``D^G`` for the global frontier (all periods pooled).

Indices (``t`` to ``t+1``)
--------------------------
* **Malmquist-Luenberger** (Chung, Färe & Grosskopf 1997), contemporaneous
  frontiers, geometric mean of the two references::

      ML = sqrt( (1 + D^t(t)) / (1 + D^t(t+1)) * (1 + D^t+1(t)) / (1 + D^t+1(t+1)) )
      EC = (1 + D^t(t)) / (1 + D^t+1(t+1))
      TC = sqrt( (1 + D^t+1(t)) / (1 + D^t(t)) * (1 + D^t+1(t+1)) / (1 + D^t(t+1)) )
      ML = EC * TC.

  The mixed-period terms ``D^t(t+1)`` and ``D^t+1(t)`` can be infeasible
  under VRS (Färe, Grosskopf & Pasurka 2001 discuss it); ML and TC are then
  NaN with a ``reason``, EC is still reported.
* **Global Malmquist-Luenberger** (Oh 2010), one frontier for all periods::

      GML = (1 + D^G(t)) / (1 + D^G(t+1)) = EC * BPC,
      BPC = [(1 + D^G(t)) / (1 + D^t(t))] / [(1 + D^G(t+1)) / (1 + D^t+1(t+1))].

  Every observation belongs to the global reference set, so ``D^G`` is
  always feasible, and the index is transitive: chained GML values
  multiply to ``(1 + D^G(first)) / (1 + D^G(last))``.
* **Luenberger productivity indicator** (Chambers, Färe & Grosskopf 1996),
  additive, in the same distances::

      L  = 1/2 [ (D^t+1(t) - D^t+1(t+1)) + (D^t(t) - D^t(t+1)) ]
      LEC = D^t(t) - D^t+1(t+1)
      LTC = 1/2 [ (D^t+1(t) - D^t(t)) + (D^t+1(t+1) - D^t(t+1)) ]
      L = LEC + LTC.

* **SBM-GML**: the GML formulas with the SBM directional distance ``S`` in
  place of ``D`` (the usual "SBM-GML" of the Chinese GTFP literature).

Values above 1 (above 0 for the Luenberger indicator) mean productivity
growth.  Use :func:`cumulate` to chain them into a level path for plotting.

Solvers
-------
:func:`ddf_cvxpy` states one programme in cvxpy (readable, used by the
tests and the book).  :func:`distances` and :func:`productivity_index` use
a fast path: one HiGHS model per reference set, patched from one evaluated
point to the next (row bounds and the few coefficients that depend on the
point), with lambda columns generated on demand for large reference sets
(reduced costs are priced from the row duals, as in :mod:`nqpf_helpers.sbm`).
Both are checked against each other and against ``scipy.optimize.linprog``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nqpf_helpers.errors import InputError, SolverError
from nqpf_helpers.parallel import run_tasks
from nqpf_helpers.sbm._checks import check_column_roles
from nqpf_helpers.validate import require_columns, validate_panel

__all__ = [
    "INDICES",
    "MODELS",
    "cumulate",
    "ddf_cvxpy",
    "distances",
    "productivity_index",
]

RTS = ("vrs", "crs")
MODELS = ("ddf", "sbm")
INDICES = ("gml", "ml", "luenberger", "sbm-gml")
# Reference sets larger than this are solved with column generation.
_GENERATE_ABOVE = 250
_PRICE_TOL = 1e-9
_ADD_PER_ROUND = 16
_MAX_ROUNDS = 400
_RESIDUAL_TOL = 1e-8


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _matrix(a: Any, n: int | None, what: str) -> np.ndarray:
    arr = np.zeros((n or 0, 0)) if a is None else np.asarray(a, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1) if n is None or arr.shape[0] == n else arr.reshape(1, -1)
    if arr.ndim != 2:
        raise InputError(f"{what} must be a 2-D array with one row per unit; got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise InputError(f"{what} has {arr.shape[0]} rows but the inputs have {n}: give one row per unit in each.")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} contains missing or infinite values; fill or drop those units first.")
    return arr


def _check_data(X: Any, Y: Any, B: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = _matrix(X, None, "X (inputs)")
    Y = _matrix(Y, X.shape[0], "Y (good outputs)")
    B = _matrix(B, X.shape[0], "B (bad outputs)")
    if X.shape[1] == 0 or Y.shape[1] == 0:
        raise InputError("a distance function needs at least one input and one good output.")
    if np.any(X <= 0) or np.any(Y <= 0):
        raise InputError("inputs and good outputs must be strictly positive; drop or correct units with zeros.")
    if np.any(B < 0):
        raise InputError("bad outputs must be >= 0: negative emissions are not meaningful.")
    return X, Y, B


def _check_options(rts: str, model: str) -> None:
    if rts not in RTS:
        raise InputError(f"rts must be one of {RTS}; got {rts!r}.")
    if model not in MODELS:
        raise InputError(
            f"model must be one of {MODELS} ('ddf': Chung et al. 1997, 'sbm': Fukuyama & Weber 2009); got {model!r}."
        )


# --------------------------------------------------------------------------
# The readable cvxpy model
# --------------------------------------------------------------------------


def ddf_cvxpy(
    point: Sequence[Sequence[float]],
    X: Any,
    Y: Any,
    B: Any = None,
    *,
    rts: str = "vrs",
    model: str = "ddf",
    disposability: str = "weak",
) -> dict[str, Any]:
    """Distance of one point from the frontier spanned by ``X, Y, B``, in cvxpy.

    Parameters
    ----------
    point
        ``(x_o, y_o, b_o)``: the evaluated unit's inputs, good and bad outputs.
        It need not belong to the reference set (mixed-period problems).
    X, Y, B
        Reference inputs ``(n, m)``, good outputs ``(n, s1)`` and bad outputs
        ``(n, s2)`` (``B=None``: no bad outputs).
    rts
        ``"vrs"`` (``sum lam = 1``) or ``"crs"``.
    model
        ``"ddf"``: directional distance with weak disposability of bad
        outputs, direction ``(y_o, -b_o)`` (Chung, Färe & Grosskopf 1997);
        ``"sbm"``: SBM directional distance (Fukuyama & Weber 2009).  The
        programmes are written out in the module docstring.
    disposability
        Bad outputs in the ``"ddf"`` model: ``"weak"`` (default; the equality
        ``B lam = (1 - beta) b_o``: pollution is shed only together with good
        output) or ``"strong"`` (``B lam <= (1 - beta) b_o``: free disposal,
        as the SBM treats bad outputs).  Comparing the two shows whether a
        unit sits on the frontier because of the equality.

    Returns
    -------
    dict
        ``value`` (the distance; NaN when infeasible), ``status``
        (``"optimal"`` or ``"infeasible"``) and ``lambdas`` ({row: lambda}).
    """
    import cvxpy as cp

    _check_options(rts, model)
    if disposability not in ("weak", "strong"):
        raise InputError(
            f"disposability must be 'weak' (B lam = (1 - beta) b_o) or 'strong' (B lam <= (1 - beta) b_o); "
            f"got {disposability!r}."
        )
    X, Y, B = _check_data(X, Y, B)
    xo, yo, bo = (np.asarray(v, dtype=float).ravel() for v in point)
    if xo.shape != (X.shape[1],) or yo.shape != (Y.shape[1],) or bo.shape != (B.shape[1],):
        raise InputError("point must be (x_o, y_o, b_o) with as many entries as X, Y and B have columns.")
    # unit-free: divide every column by the reference mean
    sx, sy = X.mean(0), Y.mean(0)
    sb = np.where(B.mean(0) > 0, B.mean(0), 1.0) if B.shape[1] else np.ones(0)
    X, Y, B, xo, yo, bo = X / sx, Y / sy, B / sb, xo / sx, yo / sy, bo / sb
    n = X.shape[0]
    lam = cp.Variable(n, nonneg=True)
    cons = []
    if model == "ddf":
        beta = cp.Variable()
        objective = cp.Maximize(beta)
        cons += [X.T @ lam <= xo, Y.T @ lam >= (1 + beta) * yo]
        if B.shape[1]:
            cons.append(B.T @ lam == (1 - beta) * bo if disposability == "weak" else B.T @ lam <= (1 - beta) * bo)
    else:
        m, s1, s2 = X.shape[1], Y.shape[1], B.shape[1]
        s_x = cp.Variable(m, nonneg=True)
        s_y = cp.Variable(s1, nonneg=True)
        out = s_y @ (1 / yo)
        cons += [X.T @ lam + s_x == xo, Y.T @ lam - s_y == yo]
        if s2:
            s_b = cp.Variable(s2, nonneg=True)
            inv_b = np.divide(1.0, bo, out=np.zeros(s2), where=bo > 0)
            out = out + s_b @ inv_b
            cons.append(B.T @ lam + s_b == bo)
        objective = cp.Maximize(0.5 * (s_x @ (1 / xo) / m + out / (s1 + s2)))
    if rts == "vrs":
        cons.append(cp.sum(lam) == 1)
    prob = cp.Problem(objective, cons)
    _quiet_highs()
    prob.solve(solver=cp.HIGHS)
    if prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        return {"value": math.nan, "status": "infeasible", "lambdas": {}}
    if prob.status != cp.OPTIMAL:
        raise SolverError(f"HiGHS (through cvxpy) ended with status {prob.status!r}.")
    lv = np.asarray(lam.value, dtype=float)
    return {"value": float(prob.value), "status": "optimal",
            "lambdas": {int(j): float(v) for j, v in enumerate(lv) if v > 1e-9}}


# --------------------------------------------------------------------------
# The fast path: one patched HiGHS model per reference set
# --------------------------------------------------------------------------


def _quiet_highs() -> None:
    """Swallow the licence banner HiGHS prints to fd 1 when the first solver of a process is created."""
    from nqpf_helpers.sbm._highs import swallow_highs_banner  # the one import from sbm

    swallow_highs_banner()


def _new_highs():
    import highspy

    _quiet_highs()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    return h


class _PatchedLP:
    """``min c'z`` over ``z = [extra columns, lambda columns]`` with patchable rows.

    ``P[j]`` holds the coefficients of reference unit ``j``'s lambda column
    in every row (cost 0, bounds ``[0, inf)``).  The ``extra`` columns (beta,
    slacks, ``t``, ...) have coefficients, costs and bounds set per point.
    With ``generate`` only candidate lambda columns are in the model; after
    each solve the rest are priced (reduced cost ``-P[j] @ y`` with the row
    duals ``y``; HiGHS reports duals with ``col_dual = c - A' y``) and the
    most negative are added until none is below ``-1e-9``.
    """

    def __init__(self, P: np.ndarray, extra_A: np.ndarray, extra_cost: np.ndarray, extra_lo: np.ndarray,
                 extra_hi: np.ndarray, generate: bool | None = None):
        import highspy

        self.P = np.ascontiguousarray(P, dtype=float)
        self.n, self.R = self.P.shape
        self.k = extra_A.shape[1]
        self.inf = highspy.kHighsInf
        self.h = _new_highs()
        self.h.addRows(self.R, np.zeros(self.R), np.zeros(self.R), 0, np.zeros(0, np.int32), np.zeros(0, np.int32),
                       np.zeros(0))
        lo = np.where(np.isfinite(extra_lo), extra_lo, -self.inf)
        hi = np.where(np.isfinite(extra_hi), extra_hi, self.inf)
        rows = np.tile(np.arange(self.R, dtype=np.int32), self.k)
        self.h.addCols(self.k, np.asarray(extra_cost, float), lo, hi, self.R * self.k,
                       (np.arange(self.k) * self.R).astype(np.int32), rows, np.asarray(extra_A, float).T.ravel())
        self._A = np.asarray(extra_A, float).copy()
        self.generate = self.n > _GENERATE_ABOVE if generate is None else generate
        self.col_of: dict[int, int] = {}
        self.full = False
        if self.generate:
            seeds = set(np.argmin(self.P, axis=0).tolist()) | set(np.argmax(self.P, axis=0).tolist())
            self.add(sorted(seeds))
        else:
            self.add(range(self.n))

    def add(self, rows: Any) -> None:
        rows = [int(r) for r in rows if int(r) not in self.col_of]
        if not rows:
            return
        k = len(rows)
        first = self.h.getNumCol()
        self.h.addCols(k, np.zeros(k), np.zeros(k), np.full(k, self.inf), k * self.R,
                       (np.arange(k) * self.R).astype(np.int32), np.tile(np.arange(self.R, dtype=np.int32), k),
                       self.P[rows].ravel())
        for j, r in enumerate(rows):
            self.col_of[r] = first + j
        if len(self.col_of) == self.n:
            self.full = True

    def patch(self, row_lo: np.ndarray, row_hi: np.ndarray, extra_A: np.ndarray | None = None,
              extra_cost: np.ndarray | None = None) -> None:
        lo = np.where(np.isfinite(row_lo), row_lo, -self.inf)
        hi = np.where(np.isfinite(row_hi), row_hi, self.inf)
        self.h.changeRowsBounds(self.R, np.arange(self.R, dtype=np.int32), lo, hi)
        if extra_A is not None:
            changed = np.argwhere(extra_A != self._A)
            for r, c in changed:
                self.h.changeCoeff(int(r), int(c), float(extra_A[r, c]))
            self._A = extra_A.copy()
        if extra_cost is not None:
            self.h.changeColsCost(self.k, np.arange(self.k, dtype=np.int32), np.asarray(extra_cost, float))

    def solve(self, seeds: Sequence[int] = ()) -> tuple[str, float, np.ndarray, dict[int, float]]:
        """Solve; return (status, objective, extra column values, {reference row: lambda})."""
        import highspy

        h = self.h
        self.add(seeds)
        for _ in range(_MAX_ROUNDS):
            h.run()
            status = h.getModelStatus()
            if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
                if self.full:
                    return "infeasible", math.nan, np.full(self.k, np.nan), {}
                self.add(range(self.n))  # infeasible with the candidates: try every column
                continue
            if status != highspy.HighsModelStatus.kOptimal or h.getInfo().max_primal_infeasibility > _RESIDUAL_TOL:
                h.clearSolver()
                h.run()
                if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    return f"solver: {h.modelStatusToString(h.getModelStatus())}", math.nan, np.full(self.k, np.nan), {}
            sol = h.getSolution()
            if self.full:
                break
            y = np.asarray(sol.row_dual)
            rc = -(self.P @ y)
            rc[list(self.col_of)] = np.inf
            viol = np.flatnonzero(rc < -_PRICE_TOL)
            if viol.size == 0:
                break
            if viol.size > _ADD_PER_ROUND:
                viol = viol[np.argpartition(rc[viol], _ADD_PER_ROUND)[:_ADD_PER_ROUND]]
            self.add(viol)
        else:
            return "solver: no convergence of column generation", math.nan, np.full(self.k, np.nan), {}
        col = np.asarray(sol.col_value)
        lam = {r: float(col[c]) for r, c in self.col_of.items() if col[c] > 1e-9}
        return "optimal", float(h.getInfo().objective_function_value), col[: self.k].copy(), lam


class _DistanceModel:
    """DDF or SBM-DDF against one reference set, on data divided by column means."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, B: np.ndarray, rts: str, model: str, scale: np.ndarray):
        self.m, self.s1, self.s2 = X.shape[1], Y.shape[1], B.shape[1]
        self.q = self.m + self.s1 + self.s2
        self.vrs = rts == "vrs"
        self.model = model
        self.scale = scale
        Z = np.hstack([X, Y, B]) / scale
        P = np.hstack([Z, np.ones((Z.shape[0], 1))]) if self.vrs else Z
        self.R = P.shape[1]
        m, s1, q = self.m, self.s1, self.q
        if model == "ddf":
            A = np.zeros((self.R, 1))  # beta column, patched per point
            self.lp = _PatchedLP(P, A, np.array([-1.0]), np.array([-np.inf]), np.array([np.inf]))
        else:
            A = np.zeros((self.R, q))
            sign = np.r_[np.ones(m), -np.ones(s1), np.ones(self.s2)]
            A[np.arange(q), np.arange(q)] = sign
            self.lp = _PatchedLP(P, A, np.zeros(q), np.zeros(q), np.full(q, np.inf))

    def solve(self, z: np.ndarray, seeds: Sequence[int] = ()) -> tuple[float, str]:
        z = z / self.scale
        m, s1, s2, q = self.m, self.s1, self.s2, self.q
        lo = np.empty(self.R)
        hi = np.empty(self.R)
        if self.model == "ddf":
            lo[:m], hi[:m] = -np.inf, z[:m]
            lo[m : m + s1], hi[m : m + s1] = z[m : m + s1], np.inf
            lo[m + s1 : q] = hi[m + s1 : q] = z[m + s1 : q]
            A = np.zeros((self.R, 1))
            A[m : m + s1, 0] = -z[m : m + s1]
            A[m + s1 : q, 0] = z[m + s1 : q]
            cost = None
        else:
            lo[:q] = hi[:q] = z
            A = None
            inv = np.divide(1.0, z, out=np.zeros(q), where=z > 0)
            cost = -0.5 * inv * np.r_[np.full(m, 1.0 / m), np.full(s1 + s2, 1.0 / (s1 + s2))]
        if self.vrs:
            lo[-1] = hi[-1] = 1.0
        self.lp.patch(lo, hi, A, cost)
        status, obj, _, _ = self.lp.solve(seeds)
        return (-obj if status == "optimal" else math.nan), status


def _distance_task(Z_ref: np.ndarray, Z_eval: np.ndarray, self_rows: np.ndarray, dims: tuple[int, int, int],
                   rts: str, model: str) -> tuple[np.ndarray, list[str]]:
    """Distances of the rows of ``Z_eval`` from the frontier of ``Z_ref`` (a joblib task)."""
    m, s1, s2 = dims
    scale = Z_ref.mean(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    dm = _DistanceModel(Z_ref[:, :m], Z_ref[:, m : m + s1], Z_ref[:, m + s1 :], rts, model, scale)
    vals = np.empty(len(Z_eval))
    status = []
    for i, z in enumerate(Z_eval):
        seeds = [int(self_rows[i])] if self_rows[i] >= 0 else []
        vals[i], st = dm.solve(z, seeds)
        status.append(st)
    return vals, status


# --------------------------------------------------------------------------
# Panels
# --------------------------------------------------------------------------


def _prepare(df, unit, time, inputs, good, bad, rts, model, caller):
    _check_options(rts, model)
    inputs, good, bad = check_column_roles(inputs, good, bad, caller=caller)
    cols = inputs + good + bad
    panel = validate_panel(df, unit=unit, time=time, values=cols, positive=inputs + good, nonnegative=bad,
                           balanced=False, consecutive=False, name="productivity panel")
    Z = panel[cols].to_numpy(float)
    return panel, Z, (len(inputs), len(good), len(bad))


def _evaluate(Z, per, jobs, dims, rts, model, backend, n_jobs, scheduler):
    """jobs: list of (ref_rows, eval_rows); returns list of (values, status)."""
    tasks = []
    for ref_rows, ev_rows in jobs:
        pos = {int(r): i for i, r in enumerate(ref_rows)}
        self_rows = np.array([pos.get(int(r), -1) for r in ev_rows])
        tasks.append((Z[ref_rows], Z[ev_rows], self_rows, dims, rts, model))
    return run_tasks(_distance_task, tasks, backend=backend, n_jobs=n_jobs, scheduler=scheduler)


def _chunks(rows: np.ndarray, n_jobs: int) -> list[np.ndarray]:
    k = max(1, min(len(rows) // 200 + 1, 4 * max(n_jobs, 1)))
    return [c for c in np.array_split(rows, k) if c.size]


def distances(
    df: pd.DataFrame,
    *,
    unit: str = "region_code",
    time: str = "year",
    inputs: Sequence[str],
    good: Sequence[str],
    bad: Sequence[str] = (),
    model: str = "ddf",
    rts: str = "vrs",
    frontier: str = "global",
    backend: str = "loky",
    n_jobs: int = 1,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Directional distance of every unit-period from a global or contemporaneous frontier.

    Parameters
    ----------
    df
        Long panel, one row per unit and period.
    unit, time
        Unit-identifier and (integer) period columns.
    inputs, good, bad
        Input, good-output and bad-output columns (inputs, good outputs > 0;
        bad outputs >= 0).
    model
        ``"ddf"`` (Chung, Färe & Grosskopf 1997) or ``"sbm"`` (Fukuyama &
        Weber 2009); see the module docstring for the programmes.
    rts
        ``"vrs"`` or ``"crs"``.
    frontier
        ``"global"`` (all periods pooled; Oh 2010) or ``"contemporaneous"``.
    backend, n_jobs, scheduler
        Where the linear programmes run (see :func:`nqpf_helpers.parallel.run_tasks`):
        ``"loky"`` processes, ``"dask"`` (a ``dask.distributed`` scheduler at
        ``scheduler``) or ``"sequential"``.  The numbers do not depend on it.

    Returns
    -------
    pandas.DataFrame
        ``unit``, ``time``, ``distance`` (``D >= 0``; 0 on the frontier) and
        ``status``.
    """
    if frontier not in ("global", "contemporaneous"):
        raise InputError(f"frontier must be 'global' or 'contemporaneous'; got {frontier!r}.")
    panel, Z, dims = _prepare(df, unit, time, inputs, good, bad, rts, model, "distances")
    per = panel[time].to_numpy(int)
    jobs = []
    if frontier == "global":
        allr = np.arange(len(panel))
        jobs = [(allr, c) for c in _chunks(allr, n_jobs)]
    else:
        for p in np.unique(per):
            rows = np.flatnonzero(per == p)
            jobs.append((rows, rows))
    res = _evaluate(Z, per, jobs, dims, rts, model, backend, n_jobs, scheduler)
    val = np.full(len(panel), np.nan)
    st = np.empty(len(panel), dtype=object)
    for (_, ev), (v, s) in zip(jobs, res):
        val[ev] = v
        st[ev] = s
    out = panel[[unit, time]].copy().reset_index(drop=True)
    out["distance"] = val
    out["status"] = st
    out.attrs = {}  # a new table; the settings are the caller's arguments
    return out


def productivity_index(
    df: pd.DataFrame,
    *,
    unit: str = "region_code",
    time: str = "year",
    inputs: Sequence[str],
    good: Sequence[str],
    bad: Sequence[str] = (),
    index: str = "gml",
    rts: str = "vrs",
    backend: str = "loky",
    n_jobs: int = 1,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Productivity change from each period to the next, with its decomposition.

    Parameters
    ----------
    df, unit, time, inputs, good, bad, rts
        As in :func:`distances`.
    index
        ``"gml"`` global Malmquist-Luenberger (Oh 2010), ``"ml"``
        Malmquist-Luenberger (Chung, Färe & Grosskopf 1997), ``"luenberger"``
        Luenberger indicator (Chambers, Färe & Grosskopf 1996), or
        ``"sbm-gml"`` (GML with the SBM directional distance of Fukuyama &
        Weber 2009).  Formulas in the module docstring.
    backend, n_jobs, scheduler
        See :func:`distances`.

    Returns
    -------
    pandas.DataFrame
        One row per unit and pair of consecutive panel periods in which the
        unit is observed: ``unit``, ``time`` (the later period), ``base``
        (the earlier one), the index (column named after it: ``gml``,
        ``ml``, ``luenberger`` or ``sbm_gml``), its parts (``ec`` and
        ``bpc`` for the global indices; ``ec`` and ``tc`` for ML and
        Luenberger), the distances used (``d_t_t`` = D^t(t), ``d_t1_t1``,
        ``d_t_t1`` = D^t(t+1), ``d_t1_t``, ``d_g_t``, ``d_g_t1``) and
        ``reason``: empty when every number is defined, otherwise why a
        value is NaN (e.g. an infeasible mixed-period programme).
    """
    if index not in INDICES:
        raise InputError(f"index must be one of {INDICES}; got {index!r}.")
    model = "sbm" if index == "sbm-gml" else "ddf"
    panel, Z, dims = _prepare(df, unit, time, inputs, good, bad, rts, model, "productivity_index")
    per = panel[time].to_numpy(int)
    periods = np.unique(per)
    if len(periods) < 2:
        raise InputError(f"a productivity index needs at least two periods in {time!r}; got {len(periods)}.")
    ids = panel[unit].to_numpy()
    row_of = {(u, int(p)): i for i, (u, p) in enumerate(zip(ids, per))}
    pairs = []  # (row at t, row at t+1, t, t+1)
    for a, b in zip(periods[:-1], periods[1:]):
        for u in ids[per == a]:
            if (u, int(b)) in row_of:
                pairs.append((row_of[(u, int(a))], row_of[(u, int(b))], int(a), int(b)))
    if not pairs:
        raise InputError("no unit is observed in two consecutive periods, so no index can be computed.")
    ra = np.array([p[0] for p in pairs])
    rb = np.array([p[1] for p in pairs])

    # distance jobs: own-period contemporaneous for every row; mixed for ML/L;
    # global for GML
    jobs: list[tuple[np.ndarray, np.ndarray]] = []
    keys: list[str] = []
    for p in periods:
        rows = np.flatnonzero(per == p)
        jobs.append((rows, rows))
        keys.append(f"c{p}")
    mixed = index in ("ml", "luenberger")
    if mixed:
        for a, b in zip(periods[:-1], periods[1:]):
            sel = np.array([q[2] == a for q in pairs])
            ref_a, ref_b = np.flatnonzero(per == a), np.flatnonzero(per == b)
            jobs.append((ref_a, rb[sel]))  # D^t(t+1)
            keys.append(f"ab{a}")
            jobs.append((ref_b, ra[sel]))  # D^t+1(t)
            keys.append(f"ba{a}")
    else:
        allr = np.arange(len(panel))
        for c in _chunks(allr, n_jobs):
            jobs.append((allr, c))
            keys.append("g")
    res = _evaluate(Z, per, jobs, dims, rts, model, backend, n_jobs, scheduler)

    own = np.full(len(panel), np.nan)
    own_st = np.empty(len(panel), dtype=object)
    glob = np.full(len(panel), np.nan)
    glob_st = np.empty(len(panel), dtype=object)
    mixed_val: dict[tuple[int, int], tuple[float, str]] = {}  # (eval row, ref period) -> value
    for key, (ref, ev), (v, s) in zip(keys, jobs, res):
        if key.startswith("c"):
            own[ev], own_st[ev] = v, s
        elif key == "g":
            glob[ev], glob_st[ev] = v, s
        else:
            refp = int(per[ref[0]])
            for r, vv, ss in zip(ev, v, s):
                mixed_val[(int(r), refp)] = (vv, ss)

    d_t_t, d_t1_t1 = own[ra], own[rb]
    reasons = []
    out = pd.DataFrame({unit: ids[rb], time: per[rb], "base": per[ra]})
    ec_ratio = (1 + d_t_t) / (1 + d_t1_t1)
    name = index.replace("-", "_")
    if mixed:
        d_t_t1 = np.array([mixed_val[(int(b), int(per[a]))][0] for a, b in zip(ra, rb)])
        d_t1_t = np.array([mixed_val[(int(a), int(per[b]))][0] for a, b in zip(ra, rb)])
        st_t_t1 = [mixed_val[(int(b), int(per[a]))][1] for a, b in zip(ra, rb)]
        st_t1_t = [mixed_val[(int(a), int(per[b]))][1] for a, b in zip(ra, rb)]
        if index == "ml":
            # a ratio of (1 + D) terms needs 1 + D > 0; a mixed-period D <= -1
            # (the unit far outside the other period's technology) has no ML
            bad_mix = (1 + d_t_t1 <= 0) | (1 + d_t1_t <= 0)
            with np.errstate(invalid="ignore"):
                ml = np.sqrt((1 + d_t_t) / (1 + d_t_t1) * (1 + d_t1_t) / (1 + d_t1_t1))
                tc = np.sqrt((1 + d_t1_t) / (1 + d_t_t) * (1 + d_t1_t1) / (1 + d_t_t1))
            out["ml"] = np.where(bad_mix, np.nan, ml)
            out["ec"] = ec_ratio
            out["tc"] = np.where(bad_mix, np.nan, tc)
        else:
            out["luenberger"] = 0.5 * ((d_t1_t - d_t1_t1) + (d_t_t - d_t_t1))
            out["ec"] = d_t_t - d_t1_t1
            out["tc"] = 0.5 * ((d_t1_t - d_t_t) + (d_t1_t1 - d_t_t1))
        out["d_t_t"], out["d_t1_t1"], out["d_t_t1"], out["d_t1_t"] = d_t_t, d_t1_t1, d_t_t1, d_t1_t
        for i in range(len(pairs)):
            why = []
            for label, s in ((f"D^{per[ra[i]]}({per[ra[i]]})", own_st[ra[i]]),
                             (f"D^{per[rb[i]]}({per[rb[i]]})", own_st[rb[i]]),
                             (f"D^{per[ra[i]]}({per[rb[i]]})", st_t_t1[i]),
                             (f"D^{per[rb[i]]}({per[ra[i]]})", st_t1_t[i])):
                if s != "optimal":
                    why.append(f"{label} {s}" + (" (the unit lies outside that period's technology)"
                                                 if s == "infeasible" else ""))
            if index == "ml" and bad_mix[i]:
                why.append("a mixed-period distance is <= -1, so 1 + D is not a valid ratio term")
            reasons.append("; ".join(why))
    else:
        d_g_t, d_g_t1 = glob[ra], glob[rb]
        out[name] = (1 + d_g_t) / (1 + d_g_t1)
        out["ec"] = ec_ratio
        out["bpc"] = ((1 + d_g_t) / (1 + d_t_t)) / ((1 + d_g_t1) / (1 + d_t1_t1))
        out["d_t_t"], out["d_t1_t1"], out["d_g_t"], out["d_g_t1"] = d_t_t, d_t1_t1, d_g_t, d_g_t1
        for i in range(len(pairs)):
            why = [f"{lab} {s}" for lab, s in (("D^t(t)", own_st[ra[i]]), ("D^t+1(t+1)", own_st[rb[i]]),
                                               ("D^G(t)", glob_st[ra[i]]), ("D^G(t+1)", glob_st[rb[i]]))
                   if s != "optimal"]
            reasons.append("; ".join(why))
    out["reason"] = reasons
    out = out.sort_values([unit, time], kind="stable").reset_index(drop=True)
    out.attrs = {}  # a new table; the settings are the caller's arguments
    return out


def cumulate(
    result: pd.DataFrame, column: str | None = None, *, unit: str = "region_code", time: str = "year"
) -> pd.DataFrame:
    """Chain an index into a cumulative path per unit, for plotting.

    Ratio indices (GML, ML, EC, TC, BPC) are multiplied, the Luenberger
    indicator and its parts are added.  The first period of each unit gets
    the neutral value (1, or 0 for Luenberger); a NaN stays NaN for the rest
    of that unit's path (the chain is broken there, not silently bridged).

    Parameters
    ----------
    result
        Output of :func:`productivity_index`; the index is the one of its
        columns ``gml``, ``ml``, ``luenberger``, ``sbm_gml``.
    column
        Column to chain (default: the index itself).
    unit, time
        The unit and time columns, as given to :func:`productivity_index`.

    Returns
    -------
    pandas.DataFrame
        ``unit``, ``time`` and ``cumulative``.
    """
    require_columns(result, [unit, time, "base"], "cumulate",
                    hint="Pass the result of productivity_index with the same unit= and time=.")
    found = [ix for ix in INDICES if ix.replace("-", "_") in result.columns]
    if len(found) != 1:
        raise InputError(
            f"cumulate: the result must hold exactly one index column of {[ix.replace('-', '_') for ix in INDICES]}, "
            f"found {found or 'none'}; pass the result of productivity_index."
        )
    index = found[0]
    column = column or index.replace("-", "_")
    if column not in result.columns:
        raise InputError(f"column {column!r} is not in the result; choose one of {list(result.columns)}.")
    additive = index == "luenberger"
    rows = []
    for u, g in result.sort_values([unit, time]).groupby(unit, sort=False):
        v = g[column].to_numpy(float)
        path = np.cumsum(v) if additive else np.cumprod(v)
        path = np.where(np.isnan(np.maximum.accumulate(np.isnan(v).astype(float))) | (np.cumsum(np.isnan(v)) > 0),
                        np.nan, path)
        rows.append(pd.DataFrame({unit: u, time: np.r_[g["base"].iloc[0], g[time].to_numpy()],
                                  "cumulative": np.r_[0.0 if additive else 1.0, path]}))
    return pd.concat(rows, ignore_index=True)
