"""HiGHS plumbing shared by the DEA models of the package.

Private to :mod:`nqpf_helpers` (the names may change without notice), but
meant to be reused by every linear-programming DEA model in it:

* :func:`column_scale`: column means that bring every variable to order one;
* :func:`swallow_highs_banner`: create the first HiGHS instance of the process
  with its licence banner sent to ``/dev/null``;
* :func:`new_highs`: a silent ``highspy.Highs`` set up for many small, patched
  LPs (simplex, no presolve, tight tolerances);
* :func:`optimal_status`: HiGHS's "optimal" model status;
* :func:`solve_with_highs`: solve a cvxpy problem with HiGHS and check the
  answer, raising :class:`NoOptimum` (a
  :class:`~nqpf_helpers.errors.SolverError`) when no attempt gives a
  trustworthy optimum;
* :data:`SOLVER_FIX`: the advice every SBM solver error ends with.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from nqpf_helpers.errors import SolverError

__all__ = [
    "SOLVER_FIX",
    "NoOptimum",
    "column_scale",
    "new_highs",
    "optimal_status",
    "solve_with_highs",
    "swallow_highs_banner",
]

SOLVER_FIX = (
    "Possible fixes: rescale the columns (change units so that each spans fewer orders of magnitude), "
    "check this unit's data for near-zero inputs or outputs and unit errors, "
    "or switch the frontier (e.g. frontier='global') or the returns to scale (rts='vrs')."
)


class NoOptimum(SolverError):
    """HiGHS ended without a checked optimum for ``what``; ``reasons`` says why, per attempt."""

    def __init__(self, what: str, reasons: str):
        super().__init__(what, reasons)
        self.what = what
        self.reasons = reasons

    def __str__(self) -> str:
        return f"HiGHS found no reliable optimum for {self.what} ({self.reasons}). {SOLVER_FIX}"


def column_scale(*mats: np.ndarray) -> list[np.ndarray]:
    """Column means used to bring every variable to order one.

    Efficiency scores and intensity weights do not depend on units, so
    dividing each column by a constant changes nothing but the conditioning of
    the linear programme.  A column of zeros (a pollutant nobody emits) keeps
    the scale 1.
    """
    scales = []
    for M in mats:
        s = M.mean(axis=0) if M.shape[0] else np.ones(M.shape[1])
        scales.append(np.where(s > 0, s, 1.0))
    return scales


_BANNER_SHOWN = False


def swallow_highs_banner() -> None:
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


def new_highs() -> Any:
    """A silent HiGHS instance for many small LPs patched one after another."""
    import highspy

    swallow_highs_banner()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    # Presolve costs more than it saves on LPs this small and would hide the
    # basis we want to reuse from one DMU to the next.
    h.setOptionValue("presolve", "off")
    h.setOptionValue("solver", "simplex")
    return h


def optimal_status() -> Any:
    """HiGHS's model status for a solved LP (``HighsModelStatus.kOptimal``)."""
    import highspy

    return highspy.HighsModelStatus.kOptimal


def solve_with_highs(prob: Any, what: str, *, t: Any = None, upper: float | None = None) -> None:
    """Solve a cvxpy problem with HiGHS and check the answer.

    HiGHS judges feasibility in its internally scaled model; on data spanning
    several orders of magnitude it can return "optimal" for a point whose
    residuals, in the Charnes-Cooper variables, are small in absolute terms
    but large relative to ``t``, and hence a wrong score.  The residuals are
    therefore checked against ``t`` (1 when ``t`` is ``None``), and the
    problem is re-solved with tighter tolerances, or without presolve, when
    they are too large.

    Parameters
    ----------
    prob
        The cvxpy problem.
    what
        What is being solved, for the error message (e.g. ``"DMU row 3"``).
    t
        The Charnes-Cooper scalar variable, if any: residuals are measured
        relative to its value.
    upper
        An upper bound the optimal value cannot exceed in exact arithmetic
        (1 for an SBM score); a larger value is treated as a failure.

    Raises
    ------
    NoOptimum
        (a :class:`~nqpf_helpers.errors.SolverError`) No attempt ended at a
        checked optimum (infeasible, unbounded, solver failure, residuals too
        large or a value above ``upper``).
    """
    import cvxpy as cp

    swallow_highs_banner()
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
        scale = 1.0 if t is None else float(t.value)
        residual = max(float(np.max(c.violation(), initial=0.0)) for c in prob.constraints)
        if residual > 1e-8 * scale:
            problems.append(f"residual {residual:.1e}" + ("" if t is None else f" with t = {scale:.1e}"))
            continue
        if upper is not None and prob.value > upper + 1e-6:
            problems.append(f"value {prob.value:.9f} above {upper}")
            continue
        return
    raise NoOptimum(what, "; ".join(dict.fromkeys(problems)))
