"""The fast path: one patched HiGHS model per reference set, plus column generation.

The linear programme of every DMU of a reference set has the same constraint
matrix except for the column of the Charnes-Cooper scalar ``t`` and a few
objective and normalisation coefficients.  :class:`_FastSBM` therefore builds
one HiGHS model per reference set and per worker and only *patches* it from
one DMU to the next, starting the simplex method from the previous basis.

The model holds intensity columns ``Lambda_j`` only for a small set of
*candidate* peers.  After each solve, the reduced cost of every other DMU of
the reference set is computed from the row duals (*pricing*); DMUs with a
negative reduced cost are added as columns and the model is re-solved
(column generation; Lübbecke & Desrosiers 2005).  When no reduced cost is
below the threshold, the restricted optimum is provably within
:data:`_PRICE_TOL` of the optimum over the full reference set (see
:meth:`_FastSBM._lambda_bound`).

When a patched model cannot be trusted (a solver status other than optimal,
residuals too large relative to ``t``, no convergence within
:data:`_MAX_ROUNDS` pricing rounds), :func:`solve_one` re-solves the DMU in
its own units, then with the full programme in cvxpy, and raises
:class:`UnsolvedDMU` (a :class:`~nqpf_helpers.errors.SolverError`) if every
route fails.  A number is never returned without one of these checks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nqpf_helpers.errors import SolverError

from ._highs import SOLVER_FIX, new_highs, optimal_status
from .model import PEER_TOL, sbm_cvxpy

__all__ = ["UnsolvedDMU", "solve_block", "solve_one"]

# A DMU whose score is within this distance of 1 counts as SBM-efficient.
EFFICIENT_TOL = 1e-7
# Largest difference between the restricted optimum and the full one that
# pricing accepts: the threshold for a reduced cost is _PRICE_TOL divided by
# an upper bound on sum(Lambda) at the full optimum (see _lambda_bound), so
# that the guarantee holds under CRS and super-efficiency too.
_PRICE_TOL = 1e-9
# Reduced costs are computed from duals that are exact only to rounding:
# within this multiple of sum_i |a_ij y_i| a reduced cost is treated as zero.
_DUAL_NOISE = 1e-12
# A solution whose proven gap bound exceeds this is handed to the fallbacks.
_GAP_TOL = 1e-8
# Largest unscaled residual (relative to t for primal rows) accepted from HiGHS.
_RESIDUAL_TOL = 1e-9
# Pricing rounds before a DMU is handed to the fallbacks.
_MAX_ROUNDS = 500
# Columns added to the candidate set per pricing round.
_ADD_PER_ROUND = 16


class _NumericalTrouble(RuntimeError):
    """HiGHS could not solve a patched LP reliably (badly scaled for this DMU)."""


class UnsolvedDMU(SolverError):
    """No route gave a checked optimum for one DMU.

    ``row`` is the DMU's row (in the panel when known, otherwise in the
    reference set), ``reasons`` what went wrong on each route and
    ``super_efficiency`` which of the two programmes failed.
    """

    def __init__(self, row: int, reasons: str, super_efficiency: bool = False):
        super().__init__(row, reasons, super_efficiency)
        self.row = row
        self.reasons = reasons
        self.super_efficiency = super_efficiency

    def __str__(self) -> str:
        what = f"the {'super-efficiency ' if self.super_efficiency else ''}SBM programme of DMU row {self.row}"
        return f"HiGHS found no reliable optimum for {what} ({self.reasons}). {SOLVER_FIX}"


class _FastSBM:
    """One HiGHS model for one reference set, patched DMU by DMU.

    Columns: ``[t, S-_1..m, Sg_1..s1, Sb_1..s2, (self), Lambda_c for c in
    candidates]``.  Rows (ordinary SBM): normalisation, m input rows, s1 good
    rows, s2 bad rows and, under VRS, ``t - sum Lambda = 0``.  The
    super-efficiency model adds s1 rows ``t*yg_o - Sg >= 0`` and flips the sign
    pattern.

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
        self.q = self.m + self.s1 + self.s2
        self.vrs = rts == "vrs"
        self.sup = super_efficiency
        self.h = new_highs()
        self.inf = highspy.kHighsInf
        # smallest value of each input over the reference set: bounds sum(Lambda) under CRS
        self.x_min = X.min(axis=0)

        self._lay_out_rows()
        self._lambda_pattern()
        self._add_rows()
        self._add_t_and_slack_columns()
        self._add_self_column()
        self.first_lam = self.h.getNumCol()
        self._patch_indices()
        self.cand: list[int] = []  # reference rows that have a Lambda column
        self.col_of: dict[int, int] = {}
        self._add(self._seed_rows())
        self._add(seeds)

    # -- building the model ---------------------------------------------------
    def _lay_out_rows(self) -> None:
        """Row numbers: 0 normalisation, then inputs, good, bad, (super: bounds), (VRS)."""
        m, s1, s2 = self.m, self.s1, self.s2
        self.r_in = 1 + np.arange(m)
        self.r_g = 1 + m + np.arange(s1)
        self.r_b = 1 + m + s1 + np.arange(s2)
        nxt = 1 + self.q
        self.r_gb = np.arange(0)
        if self.sup:
            self.r_gb = nxt + np.arange(s1)  # t*yg_o - Sg >= 0
            nxt += s1
        self.r_v = nxt if self.vrs else None
        self.nrow = nxt + (1 if self.vrs else 0)
        self.data_rows = np.r_[self.r_in, self.r_g, self.r_b].astype(int)

    def _lambda_pattern(self) -> None:
        """``P[j]``: coefficients of ``Lambda_j`` in the rows ``price_rows``.

        The same pattern prices a DMU that has no column yet: its reduced
        cost is ``-P[j] @ duals[price_rows]`` (Lambda has cost 0).
        """
        m, s1, s2 = self.m, self.s1, self.s2
        good_sign = 1.0 if self.sup else -1.0
        sign = np.r_[-np.ones(m), np.full(s1, good_sign), -np.ones(s2)]
        P = self.Z * sign
        if self.vrs:
            P = np.hstack([P, -np.ones((self.n, 1))])
        self.P = P
        self.absP = np.abs(P)
        self.price_rows = np.r_[self.data_rows, [self.r_v] if self.vrs else []].astype(int)

    def _add_rows(self) -> None:
        """Equality rows (ordinary SBM) or ``>= 0`` rows (super), normalisation ``= 1``."""
        row_lo = np.zeros(self.nrow)
        row_hi = np.zeros(self.nrow)
        row_lo[0] = row_hi[0] = 1.0
        if self.sup:
            row_hi[1 : self.nrow] = self.inf  # dominance and bound rows are ">= 0"
            if self.vrs:
                row_hi[self.r_v] = 0.0
        self.h.addRows(self.nrow, row_lo, row_hi, 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))

    def _add_t_and_slack_columns(self) -> None:
        """Column 0 is ``t``, columns 1..q the slacks; DMU-specific entries are patched later."""
        m, s1, q = self.m, self.s1, self.q
        # t: normalisation 1, data rows (patched), super bound rows (patched), VRS row +1
        t_rows = [0, *self.data_rows, *self.r_gb] + ([self.r_v] if self.vrs else [])
        starts, idx, val = [0], list(t_rows), [1.0] * len(t_rows)
        # slack k: entry in its own data row and, for outputs, in the normalisation row
        slack_sign = np.ones(q) if self.sup else np.r_[-np.ones(m), np.ones(s1), -np.ones(self.s2)]
        for k in range(q):
            starts.append(len(idx))
            rows, vals = [int(self.data_rows[k])], [float(slack_sign[k])]
            if k >= m:
                rows.insert(0, 0)
                vals.insert(0, 1.0)  # patched per DMU
            if self.sup and m <= k < m + s1:
                rows.append(int(self.r_gb[k - m]))
                vals.append(-1.0)
            idx += rows
            val += vals
        ncol = 1 + q
        cost = np.zeros(ncol)
        cost[0] = 1.0
        self.h.addCols(ncol, cost, np.zeros(ncol), np.full(ncol, self.inf), len(idx), np.asarray(starts, np.int32),
                       np.asarray(idx, np.int32), np.asarray(val, dtype=float))

    def _add_self_column(self) -> None:
        """A Lambda column holding the evaluated DMU itself (ordinary SBM only).

        The ordinary SBM model always has the evaluated DMU as a feasible peer
        (lambda_o = 1); a dedicated column, re-patched with the data of each
        DMU, keeps the restricted LP feasible without adding every DMU to the
        candidate set.  The super-efficiency model excludes the DMU, so it
        has no such column.
        """
        self.self_col: int | None = None
        if self.sup:
            return
        nnz = len(self.price_rows)
        self.h.addCols(1, np.zeros(1), np.zeros(1), np.full(1, self.inf), nnz, np.zeros(1, np.int32),
                       self.price_rows.astype(np.int32), self.P[0].astype(float))
        self.self_col = 1 + self.q

    def _patch_indices(self) -> None:
        """Index arrays used by :meth:`_patch`, computed once."""
        m, s1, s2, q = self.m, self.s1, self.s2, self.q
        self._data_rows = [int(r) for r in self.data_rows]
        self._gb_rows = [int(r) for r in self.r_gb]
        self._t_sign = np.concatenate([np.ones(m), (-1.0 if self.sup else 1.0) * np.ones(s1), np.ones(s2)])
        self._in_cols = np.arange(1, m + 1, dtype=np.int32)
        self._out_cols = list(range(1 + m, 1 + q))
        self._sup_cost_idx = np.concatenate([np.arange(m), np.arange(m + s1, q)])
        self._sup_cost_cols = (1 + self._sup_cost_idx).astype(np.int32)
        self._sup_norm_w = np.concatenate([np.full(s1, -1.0 / max(s1, 1)), np.zeros(s2)])

    # -- candidate set --------------------------------------------------------
    def _seed_rows(self) -> list[int]:
        """A few DMUs that are certainly or very likely efficient."""
        seeds: set[int] = set()
        # best in each single dimension, and best output-per-input ratio
        for k in range(self.m):
            seeds.add(int(np.argmin(self.X[:, k])))
        for k in range(self.s1):
            seeds.add(int(np.argmax(self.Yg[:, k])))
            seeds.add(int(np.argmax(self.Yg[:, k] / self.X.sum(axis=1))))
        for k in range(self.s2):
            seeds.add(int(np.argmin(self.Yb[:, k])))
        return sorted(seeds)

    def _add(self, rows: Sequence[int]) -> None:
        """Give the reference rows ``rows`` a Lambda column (if they have none yet)."""
        rows = [int(r) for r in rows if int(r) not in self.col_of]
        if not rows:
            return
        nnz_per = len(self.price_rows)
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

    def _prepare(self, self_row: int) -> None:
        """Patch the model for DMU ``self_row`` (and exclude it under super-efficiency)."""
        self._patch(self.Z[self_row])
        if self.sup:
            if self_row in self.col_of:
                self.h.changeColBounds(self.col_of[self_row], 0.0, 0.0)
            if len(self.cand) - (self_row in self.col_of) == 0:
                # the restricted LP needs at least one other DMU to be feasible
                self._add([0 if self_row != 0 else 1])
        else:
            self._patch_self(self_row)

    def _release(self, self_row: int) -> None:
        """Undo the exclusion of :meth:`_prepare` (super-efficiency)."""
        if self.sup and self_row in self.col_of:
            self.h.changeColBounds(self.col_of[self_row], 0.0, self.inf)

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
        if status != optimal_status():
            return f"HiGHS status {h.modelStatusToString(status)!r}"
        info = h.getInfo()
        t = max(h.getSolution().col_value[0], 1e-12)
        if info.max_primal_infeasibility > _RESIDUAL_TOL * t or info.max_dual_infeasibility > _RESIDUAL_TOL:
            return (
                f"optimal only in HiGHS's scaled model (primal residual {info.max_primal_infeasibility:.1e}, "
                f"dual residual {info.max_dual_infeasibility:.1e}, t {t:.1e})"
            )
        return ""

    def _run_checked(self) -> None:
        """Solve; on an untrustworthy answer retry once from a slack basis, then give up."""
        h = self.h
        h.run()
        if self._trouble():
            # a fresh start copes with most failures of a warm start after heavy patching
            h.clearSolver()
            h.run()
            problem = self._trouble()
            if problem:
                raise _NumericalTrouble(problem)

    def _lambda_bound(self, self_row: int, value: float) -> float:
        """Upper bound on ``sum(Lambda)`` over the optimal solutions of the full LP.

        Lagrangian duality bounds the gap between the restricted optimum
        ``z_R`` and the full one ``z*``: ``z_R - z* <= max_j(-rc_j) *
        sum_j Lambda*_j``, the maximum over the DMUs without a column.  With
        ``x_min`` the smallest value of each input in the reference set and
        ``r = min_i x_io / x_min_i``:

        * ordinary SBM, VRS: ``sum Lambda = t <= 1``;
        * ordinary SBM, CRS: ``X Lambda <= t x_o`` and ``t <= 1`` give
          ``sum Lambda <= r``;
        * super-efficiency, VRS: ``sum Lambda = t <= delta* <= z_R``;
        * super-efficiency, CRS: the objective bounds every input slack,
          ``S-_i <= (m+s2) x_io (delta* - t)``, so ``X Lambda <= t x_o + S-``
          gives ``sum Lambda <= (m+s2) delta* r <= (m+s2) z_R r``.
        """
        if self.vrs:
            return max(value, 1.0) if self.sup else 1.0
        r = float(np.min(self.Z[self_row, : self.m] / self.x_min))
        if not self.sup:
            return max(r, 1.0)
        return max((self.m + self.s2) * value * r, 1.0)

    def _price(self, self_row: int, bound: float) -> tuple[np.ndarray, float]:
        """DMUs to add (most negative reduced cost first) and the proven gap bound.

        A DMU is added when its reduced cost is below ``-_PRICE_TOL / bound``
        and below the rounding noise of its own dot product with the duals.
        """
        y = np.asarray(self.h.getSolution().row_dual)[self.price_rows]
        rc = -(self.P @ y)
        rc[self_row] = np.inf  # excluded (super) or covered by the self column
        if self.cand:
            rc[self.cand] = np.inf
        viol = np.flatnonzero(rc < -_PRICE_TOL / bound)
        if viol.size:
            noise = _DUAL_NOISE * (self.absP[viol] @ np.abs(y))
            viol = viol[rc[viol] < -noise]
        if viol.size > _ADD_PER_ROUND:
            viol = viol[np.argpartition(rc[viol], _ADD_PER_ROUND)[:_ADD_PER_ROUND]]
        gap = bound * max(0.0, -float(rc.min())) if rc.size else 0.0
        return viol, gap

    def _result(self, self_row: int) -> dict[str, Any]:
        """Score, slacks (model units) and peers from the current optimal solution."""
        h = self.h
        rho = h.getInfo().objective_function_value
        if not self.sup:
            # rho <= 1 in exact arithmetic (lambda_o = 1 is feasible);
            # residuals within tolerance can push it a few 1e-8 above
            if rho > 1 + 1e-6:
                raise _NumericalTrouble(f"score {rho:.9f} above 1")
            rho = min(rho, 1.0)
        col = np.asarray(h.getSolution().col_value)
        t = col[0]
        lam_cols = col[self.first_lam :] / t
        who = np.asarray(self.cand, dtype=int)
        if not self.sup:
            lam_cols = np.concatenate([[col[self.self_col] / t], lam_cols])
            who = np.concatenate([[self_row], who])
        keep = lam_cols > PEER_TOL
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

    def solve(self, self_row: int) -> dict[str, Any]:
        """Score the DMU in row ``self_row`` of the reference set.

        Raises
        ------
        _NumericalTrouble
            The answer cannot be trusted: HiGHS failed, the residuals are too
            large, pricing did not converge within ``_MAX_ROUNDS`` rounds, or
            the proven gap to the full optimum exceeds ``_GAP_TOL``.
        """
        self._prepare(self_row)
        try:
            for _ in range(_MAX_ROUNDS):
                self._run_checked()
                bound = self._lambda_bound(self_row, self.h.getInfo().objective_function_value)
                viol, gap = self._price(self_row, bound)
                if viol.size == 0:
                    break
                self._add(viol)
            else:
                # each round adds columns, so this only happens when the duals
                # are too inaccurate to price with
                raise _NumericalTrouble(f"no convergence after {_MAX_ROUNDS} pricing rounds")
            if gap > _GAP_TOL:
                raise _NumericalTrouble(f"optimality not proven: the gap to the full programme may reach {gap:.1e}")
            return self._result(self_row)
        finally:
            self._release(self_row)


# --------------------------------------------------------------------------
# One DMU with fallbacks, and a block of DMUs
# --------------------------------------------------------------------------


_OWN_UNITS_RETRIES = (
    {"presolve": "off"},
    {"presolve": "on"},
    {"presolve": "on", "simplex_strategy": 4, "primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9},
)


def _solve_in_own_units(
    solver: _FastSBM, X: np.ndarray, Yg: np.ndarray, Yb: np.ndarray, r: int, rts: str, sup: bool, problems: list[str]
) -> dict[str, Any] | None:
    """Re-solve DMU ``r`` with every column in units of its own values.

    The DMU is then a vector of ones.  HiGHS can end with status "unknown" on
    very degenerate programmes (many identical DMUs); presolve, or the primal
    simplex with the default tolerances, usually gets through.  Every answer
    is still checked.  Returns ``None`` (and appends to ``problems``) if no
    setting works.
    """
    ux, ug = X[r], Yg[r]
    ub = np.where(Yb[r] > 0, Yb[r], 1.0)
    failures = []
    for opts in _OWN_UNITS_RETRIES:
        fresh = _FastSBM(X / ux, Yg / ug, Yb / ub, rts, sup, seeds=solver.cand)
        for key, value in opts.items():
            fresh.h.setOptionValue(key, value)
        try:
            res = fresh.solve(r)
        except _NumericalTrouble as err:
            failures.append(str(err))
            continue
        res["slacks"] = res["slacks"] * np.concatenate([ux, ug, ub])
        return res
    problems.append(f"in its own units with {len(_OWN_UNITS_RETRIES)} settings: {'; '.join(dict.fromkeys(failures))}")
    return None


def _solve_full_programme(
    X: np.ndarray, Yg: np.ndarray, Yb: np.ndarray, r: int, rts: str, sup: bool
) -> dict[str, Any]:
    """Solve DMU ``r`` with every DMU of the reference set as a column, in cvxpy."""
    ref = sbm_cvxpy(X, Yg, Yb, r, rts=rts, super_efficiency=sup)
    peers = np.array(sorted(ref["lambdas"]), dtype=int)
    return {
        "rho": ref["rho"],
        "slacks": np.concatenate([ref["slack_x"], ref["slack_g"], ref["slack_b"]]),
        "peers": peers,
        "lambdas": np.array([ref["lambdas"][j] for j in peers], dtype=float),
        "status": "optimal (full programme)",
    }


def solve_one(
    solver: _FastSBM, X: np.ndarray, Yg: np.ndarray, Yb: np.ndarray, r: int, rts: str, sup: bool
) -> dict[str, Any]:
    """Solve DMU ``r`` with the patched model, or by the fallbacks if that fails.

    The patched model measures every column in units of its mean.  For a DMU
    whose values are many orders of magnitude below or above those means, in
    heavily degenerate data (many identical DMUs), or when pricing does not
    converge, the answer is not trusted.  The programme is then rebuilt in the
    DMU's own units (:func:`_solve_in_own_units`), seeded with the current
    candidate peers, and as a last resort solved in full, every DMU a column,
    through the checked cvxpy route (the reference the tests compare with).

    Raises
    ------
    UnsolvedDMU
        Every route failed; the message lists why.
    """
    try:
        return solver.solve(r)
    except _NumericalTrouble as err:
        problems = [f"patched model: {err}"]
    res = _solve_in_own_units(solver, X, Yg, Yb, r, rts, sup, problems)
    if res is not None:
        return res
    try:
        return _solve_full_programme(X, Yg, Yb, r, rts, sup)
    except SolverError as err:
        problems.append(f"full programme in cvxpy: {getattr(err, 'reasons', err)}")
        raise UnsolvedDMU(r, "; ".join(problems), sup) from err


def solve_block(
    X: np.ndarray,
    Yg: np.ndarray,
    Yb: np.ndarray,
    eval_rows: np.ndarray,
    rts: str,
    super_efficiency: bool,
    *,
    panel_rows: np.ndarray | None = None,
    progress: bool = False,
    desc: str = "SBM",
) -> list[dict[str, Any]]:
    """Score the reference-set rows ``eval_rows`` against the reference set ``(X, Yg, Yb)``.

    The data should be scaled to order one (e.g. by :func:`~nqpf_helpers.sbm._highs.column_scale`);
    slacks are returned in the same units.  Each result has ``rho``,
    ``rho_sbm`` (the ordinary score), ``slacks``, ``peers`` (reference rows)
    and ``lambdas``.  Super-efficiency is solved only for SBM-efficient DMUs.

    Raises
    ------
    UnsolvedDMU
        For the first DMU that no route solves; its ``row`` is the DMU's
        entry of ``panel_rows`` when given (the caller's row numbers).
    """
    ordinary = _FastSBM(X, Yg, Yb, rts, super_efficiency=False)
    models: dict[str, _FastSBM] = {}  # the super-efficiency model, built on first use

    def score(r: int) -> dict[str, Any]:
        res = solve_one(ordinary, X, Yg, Yb, r, rts, False)
        res["rho_sbm"] = res["rho"]
        if super_efficiency and res["rho"] >= 1 - EFFICIENT_TOL:
            if X.shape[0] == 1:
                res["rho"] = math.nan  # nobody left to compare with
            else:
                if "super" not in models:
                    models["super"] = _FastSBM(X, Yg, Yb, rts, super_efficiency=True)
                sres = solve_one(models["super"], X, Yg, Yb, r, rts, True)
                # an efficient DMU scores at least 1 by construction; clip the
                # solver's last-digit noise so that it never reads 0.9999999
                res["rho"] = max(sres["rho"], 1.0)
        return res

    it = eval_rows
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(eval_rows, desc=desc, leave=False)
    out = []
    for r in it:
        try:
            out.append(score(int(r)))
        except UnsolvedDMU as err:
            if panel_rows is None:
                raise
            raise UnsolvedDMU(int(panel_rows[int(r)]), err.reasons, err.super_efficiency) from err
    return out
