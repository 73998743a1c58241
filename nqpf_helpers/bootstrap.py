"""Confidence intervals for SBM scores by the m-out-of-n (subsampling) bootstrap.

Why a special bootstrap
-----------------------
A DEA/SBM score is an estimate: the frontier is spanned by the sample, so it
lies on or inside the true frontier and every unit looks at least as
efficient as it really is (``rho_hat >= rho``).  The naive bootstrap
(resample ``n`` units, re-estimate) is inconsistent for such boundary
estimators.  Simar & Wilson (2011) show that drawing subsamples of size
``m < n`` with ``m -> inf`` and ``m/n -> 0`` is consistent; Kneip, Simar &
Wilson (2008) give the theory for the DEA estimator.  The idea, in our own
words: the estimation error shrinks at a known rate ``n^-r``; on a subsample
of size ``m`` it is larger by the factor ``(n/m)^r``.  The spread of the
subsample estimates around the full-sample estimate therefore shows the
*shape* of the error distribution, and rescaling by ``(m/n)^r`` gives its
*size* at the full sample.

What is computed
----------------
For each unit ``o`` and each of ``n_boot`` subsamples ``S_b`` of size ``m``
(default drawn without replacement):

* ``rho*_b(o)``: the SBM score of ``o`` against ``S_b`` plus ``o`` itself;
  when that is 1 (``o`` is not dominated by ``S_b``), the super-efficiency
  SBM of ``o`` against ``S_b`` (Tone 2002; >= 1, and exactly 1 when ``o`` is
  in ``S_b``).  The point ``o`` is fixed; only the reference set is
  resampled, as in Simar & Wilson (2011).
* ``c_b = rho*_b / rho_hat - 1``.  The distribution of
  ``n^r (rho_hat/rho - 1)`` is approximated by that of ``m^r c_b``, so with
  ``a = (m/n)^r`` and the ``alpha/2`` and ``1 - alpha/2`` quantiles ``c_lo``,
  ``c_hi`` of ``c_b``::

      lower = rho_hat / (1 + a c_hi),    upper = rho_hat / (1 + a c_lo),
      rho_bc = rho_hat / (1 + a mean(c_b))           (bias-corrected score).

  The interval is clipped to ``(0, 1]``, the range of an SBM score.

The rate ``r`` is the convergence rate of the DEA estimator: ``2/(p+q+1)``
under VRS (Kneip, Park & Simar 1998) and ``2/(p+q)`` under CRS (Park,
Jeong & Simar 2010), with ``p`` inputs and ``q`` outputs (good plus bad).

Subsample size rule
-------------------
``m = round(n ** kappa)`` (:func:`subsample_size`), ``kappa = 0.6`` by
default.  Simar & Wilson (2011) note that coverage depends on ``m`` and
propose choosing it from the data; here the default comes from a Monte
Carlo (``benchmarks/bootstrap_coverage.py``, results in
``benchmarks/results/bootstrap_coverage.md``): on a Cobb-Douglas design with
2 inputs, 1 good and 1 bad output, nominal 90 % intervals with
``kappa = 0.6`` cover 85-95 % of the true scores for n = 100-400, while
``kappa = 0.7`` undercovers (73-83 %) and ``kappa = 0.5`` is wider and
overcovers at n = 400 (97.5 %).

Reference sets are reduced to their non-dominated members before solving
(a dominated unit can be replaced by its dominator in any feasible SBM
solution without lowering the objective), which keeps each LP small.

Against one subsample, the programmes of different points have the same
rows and columns and differ only in a few coefficients.  All of them are
therefore solved together (``BATCH_SIMPLEX``): each keeps a small dense
tableau and one primal simplex pivot is applied to all at once in numpy
(``nqpf_helpers.sbm._batch``).  The ordinary programme starts from the
point itself (``t = L_self = 1``), the super-efficiency programme from the
best single reference unit.  No number is taken from the tableaux: the final
basis of each programme is accepted only after its primal solution and duals
are recomputed from the data and found feasible and optimal (to 1e-10, the
tolerance of the HiGHS models), and its value is then the optimum up to
rounding.  A programme that is not certified (none on the county-scale
benchmark), and every CRS super-efficiency programme, is solved by HiGHS
(``_SBMPoint``).  The values agree with solving each programme in HiGHS
to about 1e-11, and the county-scale benchmark (2,843 units, 200 subsamples)
takes about a tenth of the CPU time of solving them one by one.

The one-by-one HiGHS path (``BATCH_SIMPLEX = False``) remains, and reuses
optimal bases: each basis HiGHS returns is checked for the next points at
once and, where it is optimal, the score is read off it without solving
(``REUSE_BASES``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, overload

import numpy as np
import pandas as pd

from nqpf_helpers.errors import InputError, SolverError
from nqpf_helpers.indices import _check_data, _PatchedLP
from nqpf_helpers.parallel import run_tasks
from nqpf_helpers.sbm._batch import certify, primal_simplex
from nqpf_helpers.sbm._checks import check_column_roles
from nqpf_helpers.validate import validate_panel

__all__ = [
    "KAPPA",
    "BootstrapResult",
    "bootstrap_panels",
    "convergence_rate",
    "nqpf_intervals",
    "sbm_bootstrap",
    "subsample_scores",
    "subsample_size",
]

KAPPA = 0.6
_EFF_TOL = 1e-9
_BASIS_TOL = 1e-10  # primal and dual feasibility of a reused basis (the HiGHS models' tolerances)
REUSE_BASES = True  # score points by checking optimal bases of neighbours before solving an LP
_BASIS_WINDOW = 256  # points ahead in the visiting order on which a new optimal basis is tried
BATCH_SIMPLEX = True  # solve all points' programmes together (vectorised simplex, certified bases)


def subsample_size(n: int, kappa: float = KAPPA) -> int:
    """Subsample size ``m = round(n ** kappa)``, at least 2 and below ``n``.

    Parameters
    ----------
    n
        Number of units in the sample (the reference set).
    kappa
        Exponent in (0, 1).  Larger values give larger subsamples (less
        noise, more bias in the approximation).

    Returns
    -------
    int
    """
    if not 0 < kappa < 1:
        raise InputError(f"kappa must be in (0, 1); got {kappa!r}.")
    if n < 3:
        raise InputError(f"the m-out-of-n bootstrap needs at least 3 units; got {n}.")
    return int(min(n - 1, max(2, round(n**kappa))))


def convergence_rate(p: int, q: int, rts: str = "vrs") -> float:
    """Rate ``r`` of the DEA estimator: ``2/(p+q+1)`` (VRS) or ``2/(p+q)`` (CRS)."""
    if rts not in ("vrs", "crs"):
        raise InputError(f"rts must be 'vrs' or 'crs'; got {rts!r}.")
    return 2.0 / (p + q + 1) if rts == "vrs" else 2.0 / (p + q)


# --------------------------------------------------------------------------
# SBM score of a fixed point against a reference set (patched HiGHS models)
# --------------------------------------------------------------------------


def _nondominated(Z: np.ndarray, m: int, s1: int) -> np.ndarray:
    """Rows of ``Z = [x, y, b]`` not weakly dominated by another row (duplicates: first kept)."""
    # orient so that smaller is better in every column
    W = np.hstack([Z[:, :m], -Z[:, m : m + s1], Z[:, m + s1 :]])
    n = len(W)
    keep = np.ones(n, dtype=bool)
    order = np.argsort(W.sum(axis=1), kind="stable")
    kept: list[int] = []
    for i in order:
        if kept:
            K = W[kept]
            if np.any(np.all(K <= W[i], axis=1)):
                keep[i] = False
                continue
        kept.append(int(i))
    return np.flatnonzero(keep)


class _SBMPoint:
    """Tone's SBM (Charnes-Cooper form) of an outside point, and its super-efficiency.

    Ordinary model, variables ``[t, S-, Sg, Sb, L_self, L_ref]``::

        min  t - (1/m) sum S-_i / x_oi
        s.t. t + (1/(s1+s2)) (sum Sg_r / y_or + sum Sb_k / b_ok) = 1
             X L + x_o L_self + S- - t x_o = 0
             Y L + y_o L_self - Sg - t y_o = 0
             B L + b_o L_self + Sb - t b_o = 0
             sum L + L_self - t = 0   (VRS)

    Super-efficiency (Tone 2002, bad outputs with the inputs), point excluded::

        min  t + (sum S-_i/x_oi + sum Sb_k/b_ok) / (m + s2)
        s.t. t - (1/s1) sum Sg_r / y_or = 1
             X L - S- - t x_o <= 0,  Y L + Sg - t y_o >= 0,  Sg - t y_o <= 0,
             B L - Sb - t b_o <= 0,  sum L - t = 0  (VRS).
    """

    def __init__(self, Zref: np.ndarray, dims: tuple[int, int, int], rts: str):
        m, s1, s2 = dims
        q = m + s1 + s2
        self.dims, self.q, self.vrs = dims, q, rts == "vrs"
        self.ref = Zref
        n = len(Zref)
        v = [np.ones((n, 1))] if self.vrs else []
        # ordinary: rows [norm, data (q), vrs]
        P = np.hstack([np.zeros((n, 1)), Zref, *v])
        R = P.shape[1]
        A = np.zeros((R, 2 + q))  # columns: t, slacks (q), L_self
        A[0, 0] = 1.0
        sign = np.r_[np.ones(m), -np.ones(s1), np.ones(s2)]
        A[1 + np.arange(q), 1 + np.arange(q)] = sign
        if self.vrs:
            A[-1, 0] = -1.0
            A[-1, -1] = 1.0
        self.R = R
        self.ord = _PatchedLP(P, A, np.zeros(2 + q), np.zeros(2 + q), np.full(2 + q, np.inf), generate=False)
        self.A = A
        # super: rows [norm, in (m), good (s1), gb (s1), bad (s2), vrs]
        Ps = np.hstack([np.zeros((n, 1)), Zref[:, :m], Zref[:, m : m + s1], np.zeros((n, s1)), Zref[:, m + s1 :], *v])
        Rs = Ps.shape[1]
        As = np.zeros((Rs, 1 + q))  # t, S- (m), Sg (s1), Sb (s2)
        As[0, 0] = 1.0
        As[1 + np.arange(m), 1 + np.arange(m)] = -1.0
        As[1 + m + np.arange(s1), 1 + m + np.arange(s1)] = 1.0
        As[1 + m + s1 + np.arange(s1), 1 + m + np.arange(s1)] = 1.0
        As[1 + m + 2 * s1 + np.arange(s2), 1 + m + s1 + np.arange(s2)] = -1.0
        if self.vrs:
            As[-1, 0] = -1.0
        self.Rs = Rs
        self.As = As
        self.sup: _PatchedLP | None = None
        self._Ps = Ps
        self._setup()

    def _setup(self) -> None:
        """Fixed row bounds and the (row, column) positions patched per point."""
        import highspy

        m, s1, s2 = self.dims
        q = self.q
        self._optimal = highspy.HighsModelStatus.kOptimal
        lo = np.zeros(self.R)
        lo[0] = 1.0
        cost = np.zeros(2 + q)
        cost[0] = 1.0  # min t - (1/m) sum S-/x_o: only the slack costs change per point
        self.ord.patch(lo, lo.copy(), extra_cost=cost)
        rows = list(range(1, 1 + q))
        self._ord_rc = ([(r, 0) for r in rows] + [(r, 1 + q) for r in rows]
                        + [(0, c) for c in range(1 + m, 1 + q)])
        self._ord_cost_cols = np.arange(1, 1 + m, dtype=np.int32)

    def _setup_super(self) -> None:
        m, s1, s2 = self.dims
        q = self.q
        self.sup = _PatchedLP(self._Ps, self.As, np.zeros(1 + q), np.zeros(1 + q), np.full(1 + q, np.inf),
                              generate=False)
        Rs = self.Rs
        lo = np.full(Rs, -np.inf)
        hi = np.full(Rs, np.inf)
        lo[0] = hi[0] = 1.0
        hi[1 : 1 + m] = 0.0  # X L - S- - t x_o <= 0
        lo[1 + m : 1 + m + s1] = 0.0  # Y L + Sg - t y_o >= 0
        hi[1 + m + s1 : 1 + m + 2 * s1] = 0.0  # Sg - t y_o <= 0
        hi[1 + m + 2 * s1 : 1 + m + 2 * s1 + s2] = 0.0  # B L - Sb - t b_o <= 0
        if self.vrs:
            lo[-1] = hi[-1] = 0.0
        self.sup.patch(lo, hi)
        t_rows = list(range(1, 1 + m + 2 * s1 + s2))
        self._sup_rc = [(r, 0) for r in t_rows] + [(0, c) for c in range(1 + m, 1 + m + s1)]
        self._sup_cost_cols = np.arange(1 + q, dtype=np.int32)

    def _run(self, lp: _PatchedLP, rc: list[tuple[int, int]], vals: np.ndarray, cost_cols: np.ndarray,
             cost: np.ndarray) -> float:
        h = lp.h
        for (r, c), v in zip(rc, vals.tolist()):
            h.changeCoeff(r, c, v)
        h.changeColsCost(len(cost_cols), cost_cols, cost)
        h.run()
        if h.getModelStatus() == self._optimal:
            info = h.getInfo()
            if info.max_primal_infeasibility <= 1e-8:
                return float(info.objective_function_value)
        h.clearSolver()  # a cold start copes with most failures of a warm start
        h.run()
        if h.getModelStatus() != self._optimal:
            raise SolverError(f"HiGHS could not solve an SBM programme ({h.modelStatusToString(h.getModelStatus())}).")
        return float(h.getInfo().objective_function_value)

    def score_ordinary(self, z: np.ndarray) -> float:
        """Ordinary SBM score of ``z`` against the reference set plus ``z`` (<= 1)."""
        m, s1, s2 = self.dims
        inv = np.divide(1.0, z, out=np.zeros(self.q), where=z > 0)
        vals = np.concatenate([-z, z, inv[m:] / (s1 + s2)])
        return self._run(self.ord, self._ord_rc, vals, self._ord_cost_cols, -inv[:m] / m)

    def ordinary_basis(self) -> np.ndarray | None:
        """Basic columns of the last ordinary solve (structural ``< n_cols``, row logicals ``n_cols + i``)."""
        import highspy

        basis = self.ord.h.getBasis()
        if not basis.valid:
            return None
        kb = highspy.HighsBasisStatus.kBasic
        cols = [j for j, st in enumerate(basis.col_status) if st == kb]
        rows = [self.ord.h.getNumCol() + i for i, st in enumerate(basis.row_status) if st == kb]
        idx = np.array(cols + rows, dtype=int)
        return idx if len(idx) == self.R else None

    def ordinary_by_basis(self, Zp: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ordinary SBM scores of the points ``Zp`` for which ``basis`` is optimal.

        The ordinary programme of a point differs from another point's only in
        the columns of ``t`` and ``L_self``, the normalisation row and the
        slack costs.  A basis that is optimal for one point is often optimal
        for its neighbours: it is checked for all points at once (primal
        feasibility of ``x_B = B^-1 e_0``, non-negative reduced costs, with
        the tolerance the HiGHS models use), and where it holds the optimal
        value ``c_B x_B`` is exact up to rounding -- no LP is solved.

        Returns
        -------
        (ok, value)
            Boolean mask of the points the basis solves, and their values
            (NaN elsewhere).
        """
        m, s1, s2 = self.dims
        q, R = self.q, self.R
        k = len(self.ref)
        n_cols = 2 + q + k
        npt = len(Zp)
        inv = np.divide(1.0, Zp, out=np.zeros_like(Zp), where=Zp > 0)
        # shared part of [A | I]: slack signs, lambda columns, fixed entries of t and L_self, logicals
        A0 = np.zeros((R, n_cols + R))
        A0[:, 1 : 1 + q] = self.A[:, 1 : 1 + q]
        A0[:, 2 + q : n_cols] = self.ord.P.T
        A0[0, 0] = 1.0
        if self.vrs:
            A0[-1, 0], A0[-1, 1 + q] = -1.0, 1.0
        A0[np.arange(R), n_cols + np.arange(R)] = 1.0
        Bm = np.repeat(A0[None, :, basis], npt, axis=0)
        cB = np.zeros((npt, R))
        for pos, col in enumerate(basis.tolist()):
            if col == 0:
                Bm[:, 1 : 1 + q, pos] = -Zp
                cB[:, pos] = 1.0
            elif col == 1 + q:
                Bm[:, 1 : 1 + q, pos] = Zp
            elif 1 + m <= col <= q:
                Bm[:, 0, pos] = inv[:, col - 1] / (s1 + s2)
            elif 1 <= col <= m:
                cB[:, pos] = -inv[:, col - 1] / m
        ok = np.zeros(npt, dtype=bool)
        value = np.full(npt, np.nan)
        try:
            Binv = np.linalg.inv(Bm)
        except np.linalg.LinAlgError:  # a singular basis for some point: check only the regular ones
            regular = np.abs(np.linalg.det(Bm)) > 1e-12
            if not regular.any():
                return ok, value
            sub_ok, sub_val = self.ordinary_by_basis(Zp[regular], basis)
            ok[regular], value[regular] = sub_ok, sub_val
            return ok, value
        xB = Binv[:, :, 0]  # right-hand side e_0
        structural = basis < n_cols
        feas = (np.all(xB[:, structural] >= -_BASIS_TOL, axis=1)
                & np.all(np.abs(xB[:, ~structural]) <= _BASIS_TOL, axis=1))
        y = np.einsum("pi,pij->pj", cB, Binv)  # duals y' = c_B' B^-1
        # reduced costs d_j = c_j - y' A_j of the structural columns
        d = np.empty((npt, n_cols))
        yv = y[:, -1] if self.vrs else 0.0
        yd = y[:, 1 : 1 + q]
        d[:, 0] = 1.0 - (y[:, 0] - np.einsum("pi,pi->p", yd, Zp) - yv)
        d[:, 1 + q] = -(np.einsum("pi,pi->p", yd, Zp) + yv)
        sign = self.A[1 + np.arange(q), 1 + np.arange(q)]
        d[:, 1 : 1 + q] = -(yd * sign)
        d[:, 1 : 1 + m] += -inv[:, :m] / m
        d[:, 1 + m : 1 + q] -= y[:, :1] * inv[:, m:] / (s1 + s2)
        d[:, 2 + q :] = -(y @ self.ord.P.T)
        d[:, basis[structural]] = 0.0
        good = feas & np.all(d >= -_BASIS_TOL, axis=1)
        ok[good] = True
        value[good] = np.einsum("pi,pi->p", cB[good], xB[good])
        return ok, value

    def score_super(self, z: np.ndarray) -> float:
        """Super-efficiency SBM of ``z`` against the reference set (>= 1; exactly 1 if ``z`` is dominated)."""
        m, s1, s2 = self.dims
        if self.sup is None:
            self._setup_super()
        inv = np.divide(1.0, z, out=np.zeros(self.q), where=z > 0)
        x, y, b = z[:m], z[m : m + s1], z[m + s1 :]
        vals = np.concatenate([-x, -y, -y, -b, -inv[m : m + s1] / s1])
        cost = np.concatenate([[1.0], inv[:m] / (m + s2), np.zeros(s1), inv[m + s1 :] / (m + s2)])
        return max(self._run(self.sup, self._sup_rc, vals, self._sup_cost_cols, cost), 1.0)

    def score(self, z: np.ndarray, maybe_outside: bool = False) -> tuple[float, str]:
        """SBM score of ``z`` against reference plus ``z``; super-efficiency against the reference if that is 1.

        The super-efficiency score exceeds 1 exactly when no combination of
        the reference set weakly dominates ``z``, and then the ordinary score
        is 1.  For a point that may lie outside (``maybe_outside``: no single
        reference unit dominates it) the super-efficiency programme is
        therefore solved first, and the ordinary one only if it returns 1.
        """
        if maybe_outside:
            delta = self.score_super(z)
            if delta > 1 + _EFF_TOL:
                return delta, "optimal"
        rho = self.score_ordinary(z)
        if rho < 1 - _EFF_TOL:
            return max(rho, 0.0), "optimal"
        return (1.0 if maybe_outside else self.score_super(z)), "optimal"


def _efficient_members(ref: np.ndarray, dims: tuple[int, int, int], rts: str) -> np.ndarray:
    """The SBM-efficient rows of ``ref``: the only ones an optimal solution needs.

    An inefficient row is dominated by a combination of efficient rows (its
    projection), which can replace it in any feasible solution of the
    ordinary or the super-efficiency programme without lowering the objective.
    """
    if len(ref) <= 8:
        return ref
    if BATCH_SIMPLEX:
        rho, ok = _batch_scores(ref, ref, dims, rts, False)
        if ok.all():
            return ref[rho >= 1 - _EFF_TOL]
    model = _SBMPoint(ref, dims, rts)
    keep = [i for i in range(len(ref)) if model.score_ordinary(ref[i]) >= 1 - _EFF_TOL]
    return ref[keep]


def _scores_task(Zref: np.ndarray, Zeval: np.ndarray, dims: tuple[int, int, int], rts: str,
                 samples: np.ndarray | None) -> np.ndarray:
    """Scores of every row of ``Zeval`` against ``Zref`` (or each subsample of its rows)."""
    scale = Zref.mean(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    Zr, Ze = Zref / scale, Zeval / scale
    m, s1, _ = dims
    subsets = [np.arange(len(Zr))] if samples is None else list(samples)
    out = np.empty((len(Ze), len(subsets)))
    # visit points in an order where neighbours are alike: warm starts stay good
    order = np.argsort(Ze[:, m] / Ze[:, :m].sum(axis=1), kind="stable")
    for b, rows in enumerate(subsets):
        ref = Zr[np.unique(rows)]
        ref = ref[_nondominated(ref, m, s1)]
        # points that no single reference unit weakly dominates may lie outside the frontier
        W = np.hstack([ref[:, :m], -ref[:, m : m + s1], ref[:, m + s1 :]])
        P = np.hstack([Ze[:, :m], -Ze[:, m : m + s1], Ze[:, m + s1 :]])
        outside = np.ones(len(Ze), dtype=bool)
        for lo in range(0, len(Ze), 512):
            blk = P[lo : lo + 512]
            outside[lo : lo + 512] = ~np.any(np.all(W[None, :, :] <= blk[:, None, :], axis=2), axis=1)
        if len(Ze) > 2 * len(ref):  # worth m extra LPs only when many points are scored
            ref = _efficient_members(ref, dims, rts)
        if BATCH_SIMPLEX:
            out[:, b] = _score_batch(ref, Ze, dims, rts, outside)
            continue
        model = _SBMPoint(ref, dims, rts)
        if REUSE_BASES:
            out[:, b] = _score_with_bases(model, Ze, order, outside)
            continue
        for i in order:
            val, status = model.score(Ze[i], bool(outside[i]))
            if not np.isfinite(val):
                raise SolverError(f"HiGHS could not score point {i} against subsample {b}: {status}.")
            out[i, b] = val
    return out


def _score_with_bases(model: _SBMPoint, Ze: np.ndarray, order: np.ndarray, outside: np.ndarray) -> np.ndarray:
    """Scores of every row of ``Ze`` against one reference set, reusing optimal bases.

    The ordinary programme (always feasible: the point is part of its own
    reference set) is solved by HiGHS for one point, and the optimal basis
    found is checked (:meth:`_SBMPoint.ordinary_by_basis`) on the next
    points in ``order`` not yet scored; the points it solves need no LP.
    A point whose ordinary score is 1 then gets its super-efficiency score
    (at least 1), as in :meth:`_SBMPoint.score`.  ``outside`` (no single
    reference unit dominates the point) only tells which points can be
    beyond the frontier; the others cannot, and never need the
    super-efficiency programme.
    """
    n = len(Ze)
    rho = np.full(n, np.nan)
    done = np.zeros(n, dtype=bool)
    todo = [int(i) for i in order]
    for pos, i in enumerate(todo):
        if done[i]:
            continue
        rho[i] = model.score_ordinary(Ze[i])
        done[i] = True
        basis = model.ordinary_basis()
        if basis is None:
            continue
        ahead = np.array([j for j in todo[pos + 1 : pos + 1 + _BASIS_WINDOW] if not done[j]], dtype=int)
        if ahead.size:
            ok, val = model.ordinary_by_basis(Ze[ahead], basis)
            rho[ahead[ok]] = val[ok]
            done[ahead[ok]] = True
    if not np.isfinite(rho).all():
        raise SolverError(f"HiGHS could not score point {int(np.flatnonzero(~np.isfinite(rho))[0])}.")
    out = np.maximum(rho, 0.0)
    for i in np.flatnonzero(rho >= 1 - _EFF_TOL):
        out[i] = model.score_super(Ze[i]) if outside[i] else 1.0
    return out


def subsample_scores(
    X: Any,
    Y: Any,
    B: Any = None,
    *,
    points: tuple[Any, Any, Any] | None = None,
    m: int | None = None,
    kappa: float = KAPPA,
    n_boot: int = 200,
    seed: int = 0,
    replace: bool = False,
    rts: str = "vrs",
    backend: str = "loky",
    n_jobs: int = 1,
    scheduler: str | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Full-sample and subsample SBM scores of fixed points.

    Parameters
    ----------
    X, Y, B
        The sample: inputs, good outputs, bad outputs (one row per unit).
    points
        ``(Xp, Yp, Bp)`` points to score (default: the sample's own units).
    m, kappa
        Subsample size; default ``subsample_size(n, kappa)``.
    n_boot
        Number of subsamples.
    seed
        Base seed; subsamples are drawn up front with
        ``numpy.random.default_rng(seed)``, so results do not depend on the
        backend or the number of workers.
    replace
        Draw subsamples with replacement (the m-out-of-n bootstrap proper)
        instead of without (subsampling).
    rts, backend, n_jobs, scheduler
        Returns to scale; where the LPs run (:func:`nqpf_helpers.parallel.run_tasks`).

    Returns
    -------
    (rho_hat, rho_star, m)
        ``rho_hat`` (n_points,) full-sample scores, ``rho_star``
        (n_points, n_boot) subsample scores and the subsample size.
    """
    X, Y, B = _check_data(X, Y, B)
    dims = (X.shape[1], Y.shape[1], B.shape[1])
    Z = np.hstack([X, Y, B])
    if points is None:
        Zp = Z
    else:
        Xp, Yp, Bp = _check_data(*points)
        Zp = np.hstack([Xp, Yp, Bp])
        if Zp.shape[1] != Z.shape[1]:
            raise InputError("points must have the same columns as the sample.")
    n = len(Z)
    m = subsample_size(n, kappa) if m is None else int(m)
    if not 2 <= m < n + (1 if replace else 0):
        raise InputError(f"subsample size m={m} must be between 2 and n-1={n - 1}.")
    if int(n_boot) != n_boot or n_boot < 1:
        raise InputError(f"n_boot must be a positive whole number; got {n_boot!r}.")
    rng = np.random.default_rng(int(seed))
    samples = np.stack([rng.choice(n, size=m, replace=replace) for _ in range(int(n_boot))])
    n_blocks = max(1, min(int(n_boot), 4 * (n_jobs if n_jobs > 0 else 2))) if backend != "sequential" else 1
    blocks = [b for b in np.array_split(np.arange(int(n_boot)), n_blocks) if b.size]
    tasks = [(Z, Zp, dims, rts, None)] + [(Z, Zp, dims, rts, samples[b]) for b in blocks]
    res = run_tasks(_scores_task, tasks, backend=backend, n_jobs=n_jobs, scheduler=scheduler)
    return res[0][:, 0], np.hstack(res[1:]), m


def _intervals(rho_hat: np.ndarray, rho_star: np.ndarray, a: float, alpha: float) -> dict[str, np.ndarray]:
    c = rho_star / rho_hat[:, None] - 1.0
    c_lo = np.quantile(c, alpha / 2, axis=1)
    c_hi = np.quantile(c, 1 - alpha / 2, axis=1)
    lower = rho_hat / (1 + a * c_hi)
    upper = rho_hat / (1 + a * c_lo)
    bc = rho_hat / (1 + a * c.mean(axis=1))
    return {"lower": np.clip(lower, 0, 1), "upper": np.clip(upper, 0, 1), "rho_bc": np.minimum(bc, 1.0),
            "bias": rho_hat - bc}


class BootstrapResult(NamedTuple):
    """What :func:`sbm_bootstrap` returns with ``draws=True``: the table and the bootstrap draws.

    Unpack it as ``table, draws = sbm_bootstrap(..., draws=True)``.
    """

    #: The table :func:`sbm_bootstrap` returns without draws (one row per unit(-period)).
    table: pd.DataFrame
    #: ``(len(table), n_boot)`` array: row ``i``, column ``b`` is the rescaled bootstrap draw of
    #: the true score of row ``i`` of ``table`` from subsample ``b``,
    #: ``rho_hat / (1 + (m/n)^r c_b)`` capped at 1. Each column is one plausible GTFP panel
    #: (:func:`bootstrap_panels`).
    draws: np.ndarray


@overload
def sbm_bootstrap(df: pd.DataFrame, *, unit: str = ..., time: str | None = ..., inputs: Sequence[str],
                  good: Sequence[str], bad: Sequence[str] = ..., rts: str = ..., frontier: str = ...,
                  n_boot: int = ..., kappa: float = ..., alpha: float = ..., seed: int = ..., replace: bool = ...,
                  draws: Literal[False] = ..., backend: str = ..., n_jobs: int = ...,
                  scheduler: str | None = ...) -> pd.DataFrame: ...


@overload
def sbm_bootstrap(df: pd.DataFrame, *, unit: str = ..., time: str | None = ..., inputs: Sequence[str],
                  good: Sequence[str], bad: Sequence[str] = ..., rts: str = ..., frontier: str = ...,
                  n_boot: int = ..., kappa: float = ..., alpha: float = ..., seed: int = ..., replace: bool = ...,
                  draws: Literal[True], backend: str = ..., n_jobs: int = ...,
                  scheduler: str | None = ...) -> BootstrapResult: ...


def sbm_bootstrap(
    df: pd.DataFrame,
    *,
    unit: str = "region_code",
    time: str | None = "year",
    inputs: Sequence[str],
    good: Sequence[str],
    bad: Sequence[str] = (),
    rts: str = "vrs",
    frontier: str = "global",
    n_boot: int = 200,
    kappa: float = KAPPA,
    alpha: float = 0.1,
    seed: int = 0,
    replace: bool = False,
    draws: bool = False,
    backend: str = "loky",
    n_jobs: int = 1,
    scheduler: str | None = None,
) -> pd.DataFrame | BootstrapResult:
    """SBM scores with m-out-of-n bootstrap confidence intervals for every unit(-period).

    Parameters
    ----------
    df, unit, time, inputs, good, bad, rts
        As in :func:`nqpf_helpers.sbm.panel.sbm` (``time=None``: one cross-section).
    frontier
        ``"global"`` (all periods pooled into one sample) or
        ``"contemporaneous"`` (each period is its own sample).
    n_boot, kappa, seed, replace
        Number of subsamples, subsample-size exponent (``m = n**kappa``),
        base seed and drawing scheme; see :func:`subsample_scores`.
    alpha
        ``1 - alpha`` is the nominal coverage (default 90 %).
    draws
        Also return the rescaled bootstrap draws of the true score,
        ``rho_hat / (1 + (m/n)^r c_b)`` (an array ``(rows, n_boot)``), for
        carrying the uncertainty into later stages (:func:`bootstrap_panels`):
        the result is then a :class:`BootstrapResult` ``(table, draws)``.
    backend, n_jobs, scheduler
        Where the LPs run; results do not depend on it.

    Returns
    -------
    pandas.DataFrame or BootstrapResult
        The table: ``unit``, ``time``, ``rho`` (full-sample score),
        ``rho_bc`` (bias-corrected), ``bias``, ``lower``, ``upper``, and
        ``n``, ``m``; with ``draws=True`` a :class:`BootstrapResult` of the
        table and the draws.  The settings are the caller's arguments (the
        rate is :func:`convergence_rate`); ``attrs`` is empty.
    """
    if frontier not in ("global", "contemporaneous"):
        raise InputError(f"frontier must be 'global' or 'contemporaneous'; got {frontier!r}.")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1); got {alpha!r}.")
    inputs, good, bad = check_column_roles(inputs, good, bad, caller="sbm_bootstrap")
    tcol = time or "__time__"
    data = df if time else df.assign(**{tcol: 0})
    panel = validate_panel(data, unit=unit, time=tcol, values=inputs + good + bad, positive=inputs + good,
                           nonnegative=bad, balanced=False, consecutive=False, name="bootstrap panel")
    per = panel[tcol].to_numpy(int)
    groups = [np.arange(len(panel))] if frontier == "global" else [np.flatnonzero(per == p) for p in np.unique(per)]
    rate = convergence_rate(len(inputs), len(good) + len(bad), rts)
    cols = {k: np.full(len(panel), np.nan) for k in ("rho", "rho_bc", "bias", "lower", "upper")}
    n_col = np.zeros(len(panel), dtype=int)
    m_col = np.zeros(len(panel), dtype=int)
    all_draws = np.full((len(panel), int(n_boot)), np.nan) if draws else None
    for g in groups:
        sub = panel.iloc[g]
        rho_hat, rho_star, m = subsample_scores(
            sub[inputs].to_numpy(float), sub[good].to_numpy(float), sub[bad].to_numpy(float) if bad else None,
            kappa=kappa, n_boot=n_boot, seed=seed, replace=replace, rts=rts, backend=backend, n_jobs=n_jobs,
            scheduler=scheduler)
        a = (m / len(g)) ** rate
        iv = _intervals(rho_hat, rho_star, a, alpha)
        cols["rho"][g] = rho_hat
        for k in ("rho_bc", "bias", "lower", "upper"):
            cols[k][g] = iv[k]
        n_col[g], m_col[g] = len(g), m
        if draws:
            c = rho_star / rho_hat[:, None] - 1.0
            all_draws[g] = np.minimum(rho_hat[:, None] / (1 + a * c), 1.0)
    out = panel[[unit] + ([time] if time else [])].copy().reset_index(drop=True)
    for k, v in cols.items():
        out[k] = v
    out["n"], out["m"] = n_col, m_col
    out.attrs = {}
    if draws:
        return BootstrapResult(out, all_draws)
    return out


def bootstrap_panels(boot: pd.DataFrame, draws: np.ndarray, *, unit: str = "region_code", time: str = "year",
                     value: str = "gtfp") -> pd.DataFrame:
    """Long table of bootstrap GTFP panels from ``table, draws = sbm_bootstrap(..., draws=True)``.

    Parameters
    ----------
    boot, draws
        The two parts of the :class:`BootstrapResult` (``bootstrap_panels(*result)`` works too).
    unit, time
        Columns of ``boot`` identifying a row.
    value
        Name of the value column of the result.

    Returns
    -------
    pandas.DataFrame
        ``draw`` (0..n_boot-1), ``unit``, ``time`` and ``value``: each draw is
        one plausible GTFP panel (a rescaled subsample score for every row).
    """
    D = np.asarray(draws, dtype=float)
    if D.ndim != 2 or D.shape[0] != len(boot):
        raise InputError(f"draws must be an array with one row per row of the table ({len(boot)}) and one column "
                         f"per subsample; got shape {D.shape}. Pass both parts of "
                         "table, draws = sbm_bootstrap(..., draws=True).")
    missing = [c for c in (unit, time) if c not in boot.columns]
    if missing:
        raise InputError(f"the bootstrap table lacks column(s) {missing}; pass unit= and time= as given to "
                         "sbm_bootstrap.")
    n_boot = D.shape[1]
    return pd.DataFrame({
        "draw": np.repeat(np.arange(n_boot), len(boot)),
        unit: np.tile(boot[unit].to_numpy(), n_boot),
        time: np.tile(boot[time].to_numpy(), n_boot),
        value: D.T.ravel(),
    })


def nqpf_intervals(nqpf: pd.DataFrame, *, unit: str = "region_code", time: str = "year", draw: str = "draw",
                   seed_col: str = "seed", value: str = "nqpf", alpha: float = 0.1) -> pd.DataFrame:
    """NQPF intervals from a table of NQPF for each bootstrap GTFP draw and network seed.

    The total variance of NQPF over (draw, seed) splits exactly into
    ``var_gtfp`` = variance over draws of the seed-averaged NQPF and
    ``var_seed`` = mean over draws of the variance over seeds (law of total
    variance, population variances).

    Parameters
    ----------
    nqpf
        Long table with ``unit``, ``time``, ``draw``, ``seed`` and ``value``.
    alpha
        ``1 - alpha`` is the interval's nominal level (percentile interval).

    Returns
    -------
    pandas.DataFrame
        Per unit and time: ``mean``, ``lower``, ``upper``, ``var_total``,
        ``var_gtfp``, ``var_seed``, ``share_gtfp``, ``dominant``
        (``"gtfp"`` or ``"seed"``) and ``n_undefined``, the number of
        (draw, seed) values that are NaN (NQPF undefined, e.g. a prediction
        below the floor).  Where ``n_undefined > 0`` every statistic is NaN
        and ``dominant`` is empty: dropping the undefined values would bias
        the interval towards the draws where NQPF is defined.
    """
    need = [unit, time, draw, seed_col, value]
    missing = [c for c in need if c not in nqpf.columns]
    if missing:
        raise InputError(f"nqpf table lacks column(s) {missing}; it needs {need}.")

    def one(g: pd.DataFrame) -> pd.Series:
        v = g[value].to_numpy(float)
        n_nan = int(np.isnan(v).sum())
        if n_nan:
            return pd.Series({k: np.nan for k in ("mean", "lower", "upper", "var_total", "var_gtfp", "var_seed",
                                                  "share_gtfp")} | {"n_undefined": n_nan})
        by_draw = g.groupby(draw)[value]
        var_gtfp = float(np.var(by_draw.mean().to_numpy()))
        var_seed = float(by_draw.var(ddof=0).mean())
        total = float(np.var(v))
        return pd.Series({"mean": v.mean(), "lower": np.quantile(v, alpha / 2), "upper": np.quantile(v, 1 - alpha / 2),
                          "var_total": total, "var_gtfp": var_gtfp, "var_seed": var_seed,
                          "share_gtfp": var_gtfp / total if total > 0 else np.nan, "n_undefined": 0})

    out = nqpf.groupby([unit, time], sort=True)[[draw, seed_col, value]].apply(one).reset_index()
    out["n_undefined"] = out["n_undefined"].astype(int)
    out["dominant"] = np.where(out["n_undefined"] > 0, "",
                               np.where(out["var_gtfp"] >= out["var_seed"], "gtfp", "seed"))
    return out


# --------------------------------------------------------------------------
# All points against one reference set at once (vectorised simplex)
# --------------------------------------------------------------------------

_BATCH_FLOATS = 4_000_000  # numbers per batch of tableaux (points x rows x columns): about 32 MB


def _ordinary_programmes(ref: np.ndarray, Zp: np.ndarray, dims: tuple[int, int, int],
                         vrs: bool) -> tuple[np.ndarray, ...]:
    """The ordinary programmes of :class:`_SBMPoint` in standard form, with a feasible starting basis.

    Columns ``[t, S- (m), Sg (s1), Sb (s2), L_self, L_ref (k)]``, rows
    ``[normalisation, inputs, good, bad, (VRS)]``, all equalities.  The start
    is the point itself (``t = L_self = 1``, slacks 0); under CRS the first
    input slack is left out of it (the basis would otherwise have one column
    too many).
    """
    m, s1, s2 = dims
    q = m + s1 + s2
    k, P = len(ref), len(Zp)
    R, N = 1 + q + int(vrs), 2 + q + k
    base = np.zeros((R, N))
    base[0, 0] = 1.0
    base[1 + np.arange(q), 1 + np.arange(q)] = np.r_[np.ones(m), -np.ones(s1), np.ones(s2)]
    base[1 : 1 + q, 2 + q :] = ref.T
    if vrs:
        base[-1, 0], base[-1, 1 + q], base[-1, 2 + q :] = -1.0, 1.0, 1.0
    A = np.repeat(base[None], P, axis=0)
    inv = np.divide(1.0, Zp, out=np.zeros_like(Zp), where=Zp > 0)
    A[:, 1 : 1 + q, 0] = -Zp
    A[:, 1 : 1 + q, 1 + q] = Zp
    A[:, 0, 1 + m : 1 + q] = inv[:, m:] / (s1 + s2)
    b = np.zeros((P, R))
    b[:, 0] = 1.0
    c = np.zeros((P, N))
    c[:, 0] = 1.0
    c[:, 1 : 1 + m] = -inv[:, :m] / m
    start = [0, *range(1, 1 + q), 1 + q] if vrs else [0, *range(2, 1 + q), 1 + q]
    return A, b, c, np.tile(np.array(start, dtype=np.intp), (P, 1))


def _super_programmes(ref: np.ndarray, Zp: np.ndarray, dims: tuple[int, int, int]) -> tuple[np.ndarray, ...]:
    """The VRS super-efficiency programmes of :class:`_SBMPoint` in standard form, with a feasible start.

    Columns ``[t, S- (m), Sg (s1), Sb (s2), L (k), U (m + 2 s1 + s2)]``, the
    ``U`` turning the inequality rows ``[inputs, good, good bound, bad]``
    into equalities; rows ``[normalisation, those, VRS]``.  The start puts
    all weight on the single reference unit ``j`` that gives the lowest
    objective: ``L_j = t``, each slack the excess of ``j`` over the point in
    its variable (``S- = t max(x_j - x_o, 0)`` and so on), and
    ``t = 1 / (1 - mean_r max(1 - y_jr / y_or, 0))`` from the normalisation.
    """
    m, s1, s2 = dims
    q = m + s1 + s2
    k, P = len(ref), len(Zp)
    nU = m + 2 * s1 + s2
    R, N = 2 + nU, 1 + q + k + nU
    r_in, r_g = 1 + np.arange(m), 1 + m + np.arange(s1)
    r_gb, r_b = 1 + m + s1 + np.arange(s1), 1 + m + 2 * s1 + np.arange(s2)
    c_in, c_g, c_b = 1 + np.arange(m), 1 + m + np.arange(s1), 1 + m + s1 + np.arange(s2)
    c_L, c_U = 1 + q + np.arange(k), 1 + q + k + np.arange(nU)  # U for row r is c_U[r - 1]
    base = np.zeros((R, N))
    base[0, 0] = 1.0
    base[r_in, c_in] = -1.0
    base[np.ix_(r_in, c_L)] = ref[:, :m].T
    base[r_g, c_g] = 1.0
    base[np.ix_(r_g, c_L)] = ref[:, m : m + s1].T
    base[r_gb, c_g] = 1.0
    base[r_b, c_b] = -1.0
    base[np.ix_(r_b, c_L)] = ref[:, m + s1 :].T
    base[1 + np.arange(nU), c_U] = 1.0
    base[r_g, c_U[r_g - 1]] = -1.0  # the good rows are ">= 0": surplus, not slack
    base[-1, 0], base[-1, c_L] = -1.0, 1.0
    A = np.repeat(base[None], P, axis=0)
    inv = np.divide(1.0, Zp, out=np.zeros_like(Zp), where=Zp > 0)
    x, y, bb = Zp[:, :m], Zp[:, m : m + s1], Zp[:, m + s1 :]
    A[:, 1 : 1 + nU, 0] = -np.hstack([x, y, y, bb])
    A[:, 0, c_g] = -inv[:, m : m + s1] / s1
    b = np.zeros((P, R))
    b[:, 0] = 1.0
    c = np.zeros((P, N))
    c[:, 0] = 1.0
    c[:, c_in] = inv[:, :m] / (m + s2)
    c[:, c_b] = inv[:, m + s1 :] / (m + s2)
    # starting vertex: the best single reference unit (points x units x variables)
    short = np.maximum(1.0 - ref[None, :, m : m + s1] / y[:, None, :], 0.0).mean(axis=2)
    t = 1.0 / (1.0 - short)
    excess = (np.maximum(ref[None, :, :m] / x[:, None, :] - 1.0, 0.0).sum(axis=2)
              + (np.maximum(ref[None, :, m + s1 :] - bb[:, None, :], 0.0) * inv[:, None, m + s1 :]).sum(axis=2))
    j = np.argmin(t * (1.0 + excess / (m + s2)), axis=1)
    zj = ref[j]
    need = np.hstack([zj[:, :m] > x, zj[:, m : m + s1] < y, zj[:, m + s1 :] > bb])  # the slack is positive
    var_cols = np.r_[c_in, c_g, c_b]
    var_rows = np.r_[r_in, r_g, r_b]
    basis = np.empty((P, R), dtype=np.intp)
    basis[:, 0] = 0
    basis[:, 1] = c_L[j]
    basis[:, 2 : 2 + q] = np.where(need, var_cols[None, :], c_U[var_rows - 1][None, :])
    basis[:, 2 + q :] = c_U[r_gb - 1][None, :]
    return A, b, c, basis


def _batch_scores(ref: np.ndarray, Zp: np.ndarray, dims: tuple[int, int, int], rts: str,
                  super_efficiency: bool) -> tuple[np.ndarray, np.ndarray]:
    """Optimal values of the ordinary (or VRS super-efficiency) programmes of the points ``Zp``.

    Returns ``(value, ok)``: ``ok`` marks the programmes whose optimal basis
    :func:`~nqpf_helpers.sbm._batch.certify` accepted; the others are NaN
    and must be solved another way.
    """
    value = np.full(len(Zp), np.nan)
    ok = np.zeros(len(Zp), dtype=bool)
    q = sum(dims)
    per_point = (3 + 2 * q) * (2 + 2 * q + len(ref))  # rows x columns, at least those of either programme
    chunk = max(16, _BATCH_FLOATS // per_point)
    for lo in range(0, len(Zp), chunk):
        blk = Zp[lo : lo + chunk]
        if super_efficiency:
            A, b, c, start = _super_programmes(ref, blk, dims)
        else:
            A, b, c, start = _ordinary_programmes(ref, blk, dims, rts == "vrs")
        basis, stopped = primal_simplex(A, b, c, start)
        ok[lo : lo + len(blk)], value[lo : lo + len(blk)] = certify(A, b, c, basis, stopped, _BASIS_TOL)
    return value, ok


def _score_batch(ref: np.ndarray, Ze: np.ndarray, dims: tuple[int, int, int], rts: str,
                 outside: np.ndarray) -> np.ndarray:
    """Scores of every row of ``Ze`` against ``ref``, as :meth:`_SBMPoint.score`, all points at once.

    The ordinary programme of every point and the super-efficiency programme
    of each point that is SBM-efficient and may lie outside the frontier
    (``outside``) are solved by :func:`~nqpf_helpers.sbm._batch.primal_simplex`;
    a programme whose basis is not certified optimal is solved by HiGHS
    (:class:`_SBMPoint`).  CRS super-efficiency always goes to HiGHS.
    """
    model: _SBMPoint | None = None
    rho, ok = _batch_scores(ref, Ze, dims, rts, False)
    if not ok.all():
        model = _SBMPoint(ref, dims, rts)
        for i in np.flatnonzero(~ok):
            rho[i] = model.score_ordinary(Ze[i])
    if not np.isfinite(rho).all():
        raise SolverError(f"HiGHS could not score point {int(np.flatnonzero(~np.isfinite(rho))[0])}.")
    out = np.maximum(rho, 0.0)
    eff = rho >= 1 - _EFF_TOL
    out[eff] = 1.0
    sup = np.flatnonzero(eff & outside)
    if sup.size:
        if rts == "vrs":
            delta, ok = _batch_scores(ref, Ze[sup], dims, rts, True)
        else:
            delta, ok = np.full(sup.size, np.nan), np.zeros(sup.size, dtype=bool)
        if not ok.all():
            model = model or _SBMPoint(ref, dims, rts)
            for pos in np.flatnonzero(~ok):
                delta[pos] = model.score_super(Ze[sup[pos]])
        out[sup] = np.maximum(delta, 1.0)
    return out
