"""Many small linear programmes of one shape, solved together by a vectorised simplex method.

Private to :mod:`nqpf_helpers` (the names may change without notice).

The bootstrap scores thousands of points against one reference set: each
point is a linear programme with the same handful of rows (about ten) and
the same columns, differing only in a few coefficients.  Solving them one by
one costs a solver call each (a few hundred microseconds in HiGHS, mostly
set-up).  Here every programme keeps its own dense tableau, and one simplex
pivot is applied to all of them at once with numpy.

Nothing found here is trusted as such: :func:`certify` recomputes, from the
original data, the primal solution and the duals of each final basis and
accepts it only when it is primal feasible and every reduced cost is
non-negative (to ``tol``).  Then the basis is optimal and its objective
value is the optimum up to rounding.  Programmes that are not certified
(iteration limit, a singular basis, numerical trouble) are reported, and the
caller solves them another way.

Standard form, per programme ``p``: ``min c_p'x  s.t.  A_p x = b_p,  x >= 0``,
started from a feasible basis given by the caller (primal simplex,
Dantzig's rule, Bland's rule after ``bland_after`` pivots against cycling).
"""

from __future__ import annotations

import numpy as np

__all__ = ["certify", "primal_simplex"]

_PIVOT_TOL = 1e-9  # smallest column entry accepted as a pivot
_COST_TOL = 1e-11  # a reduced cost below -_COST_TOL lets a column enter


def _initial_tableau(A: np.ndarray, b: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``B^-1 [A | b]`` for every programme, and a mask of those whose basis matrix is regular."""
    P, R, N = A.shape
    B = np.take_along_axis(A, basis[:, None, :], axis=2)
    rhs = np.concatenate([A, b[:, :, None]], axis=2)
    Binv, regular = _inverse(B)
    return np.matmul(Binv, rhs), regular


def _inverse(B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses of a stack of square matrices, and a mask of the regular ones (the others: zeros)."""
    try:
        return np.linalg.inv(B), np.ones(len(B), dtype=bool)
    except np.linalg.LinAlgError:
        regular = np.abs(np.linalg.det(B)) > 1e-12
        Binv = np.zeros_like(B)
        if regular.any():
            Binv[regular] = np.linalg.inv(B[regular])
        return Binv, regular


def primal_simplex(A: np.ndarray, b: np.ndarray, c: np.ndarray, basis: np.ndarray, *, max_iter: int = 200,
                   bland_after: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Primal simplex on ``P`` programmes at once.

    Parameters
    ----------
    A, b, c
        ``(P, R, N)`` constraint matrices, ``(P, R)`` right-hand sides and
        ``(P, N)`` costs.
    basis
        ``(P, R)`` column indices of a primal feasible starting basis.
    max_iter, bland_after
        Pivot limit, and the pivot after which Bland's rule replaces
        Dantzig's (the most negative reduced cost enters).

    Returns
    -------
    (basis, stopped)
        Final bases and a mask of the programmes where no reduced cost is
        negative any more (candidates for :func:`certify`; the others hit
        the limit, an unbounded ray or a singular start).
    """
    P, R, N = A.shape
    basis = np.array(basis, dtype=np.intp, copy=True)
    stopped = np.zeros(P, dtype=bool)
    T, regular = _initial_tableau(A, b, basis)
    idx = np.flatnonzero(regular)
    T, bw = T[idx], basis[idx]
    cB = np.take_along_axis(c[idx], bw, axis=1)
    d = c[idx] - np.einsum("pr,prn->pn", cB, T[:, :, :N])
    for it in range(max_iter):
        neg = d < -_COST_TOL
        fin = ~neg.any(axis=1)
        if fin.any():
            basis[idx[fin]] = bw[fin]
            stopped[idx[fin]] = True
            keep = ~fin
            idx, T, bw, d, neg = idx[keep], T[keep], bw[keep], d[keep], neg[keep]
        if not idx.size:
            break
        ar = np.arange(idx.size)
        e = d.argmin(axis=1) if it < bland_after else neg.argmax(axis=1)
        col = T[ar, :, e]
        rhs = np.maximum(T[:, :, N], 0.0)
        pos = col > _PIVOT_TOL
        ratio = np.where(pos, rhs / np.where(pos, col, 1.0), np.inf)
        bounded = pos.any(axis=1)
        if not bounded.all():  # an unbounded ray: cannot happen in the SBM programmes; leave to the caller
            keep = bounded
            idx, T, bw, d, e, col, ratio = idx[keep], T[keep], bw[keep], d[keep], e[keep], col[keep], ratio[keep]
            ar = np.arange(idx.size)
            if not idx.size:
                break
        rmin = ratio.min(axis=1, keepdims=True)
        tie = ratio <= rmin + 1e-12 * (1.0 + rmin)
        r = np.where(tie, bw, np.iinfo(np.intp).max).argmin(axis=1)  # smallest basic index among ties
        prow = T[ar, r, :] / col[ar, r][:, None]
        T -= col[:, :, None] * prow[:, None, :]
        T[ar, r, :] = prow
        d -= d[ar, e][:, None] * prow[:, :N]
        bw[ar, r] = e
    return basis, stopped


def certify(A: np.ndarray, b: np.ndarray, c: np.ndarray, basis: np.ndarray, candidates: np.ndarray,
            tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Check that each basis is optimal for its programme; return ``(ok, value)``.

    For the programmes in ``candidates`` (a mask), ``x_B = B^-1 b`` and the
    duals ``y = B^-T c_B`` are recomputed from the data; the basis is
    accepted when ``x_B >= -tol``, the residual ``|B x_B - b|`` is at most
    ``tol`` and every reduced cost ``c_j - y'A_j >= -tol``.  ``value`` is
    ``c_B'x_B`` where accepted, NaN elsewhere.
    """
    P = A.shape[0]
    ok = np.zeros(P, dtype=bool)
    value = np.full(P, np.nan)
    idx = np.flatnonzero(candidates)
    if not idx.size:
        return ok, value
    Ai, bi, ci, bs = A[idx], b[idx], c[idx], basis[idx]
    B = np.take_along_axis(Ai, bs[:, None, :], axis=2)
    Binv, regular = _inverse(B)
    x = np.einsum("prk,pk->pr", Binv, bi)
    cB = np.take_along_axis(ci, bs, axis=1)
    y = np.einsum("pk,pkr->pr", cB, Binv)
    d = ci - np.einsum("pr,prn->pn", y, Ai)
    np.put_along_axis(d, bs, 0.0, axis=1)
    # residuals of both systems, so that an inaccurate inverse is never trusted
    resid = np.maximum(np.abs(np.einsum("prk,pk->pr", B, x) - bi).max(axis=1),
                       np.abs(np.einsum("pr,prk->pk", y, B) - cB).max(axis=1))
    good = regular & (x.min(axis=1) >= -tol) & (d.min(axis=1) >= -tol) & (resid <= tol)
    ok[idx[good]] = True
    value[idx[good]] = np.einsum("pr,pr->p", cB[good], x[good])
    return ok, value
