"""Slacks-based measure (SBM) of efficiency with undesirable outputs.

This package computes green total factor productivity (GTFP) as the efficiency
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

* :func:`~nqpf_helpers.sbm.model.sbm_cvxpy` (``nqpf_helpers.sbm.model``) states the linear
  programme in cvxpy, one DMU at a time.  It is meant to be read (the book
  shows it) and is used by the tests as the reference.  It always uses HiGHS
  and rescales columns so that the evaluated DMU is a vector of ones:
  Clarabel, cvxpy's default, returns wrong scores on data spanning several
  orders of magnitude, and even HiGHS can stop at an infeasible point when
  the evaluated DMU is tiny relative to column means.
* :func:`~nqpf_helpers.sbm.panel.sbm` (``nqpf_helpers.sbm.panel``) is the fast path for whole
  panels (the solver itself is in ``nqpf_helpers.sbm.fast``).  One HiGHS
  model per worker is kept in memory and only patched from one DMU to the next; it holds
  columns only for a small *candidate* reference set, which grows by column
  generation: after each solve the reduced cost of every DMU of the frontier
  is priced from the row duals, violating DMUs are added and the model is
  re-solved, so the result is optimal over the full reference set (see
  *Accuracy of the fast path* below).

Conventions
-----------
* Inputs and good outputs must be strictly positive; bad outputs must be
  non-negative.  Negative, missing or non-numeric values are rejected.
* Slacks, targets and peers are reported in the original units; they need
  not be unique (alternative optima), whereas ``rho`` is.
* A zero bad output drops its ratio term (see *Zero bad outputs* below).

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

Zero bad outputs
----------------
Every ratio term of both models, ``s_k / y_ko``, measures a change relative
to the evaluated DMU's own level, and no relative change of a zero level is
defined.  Tone (2001) deletes the term of a zero input from the objective;
bad outputs behave like inputs (less is better, and in the super-efficiency
model they sit with the inputs), so the same rule is applied to them: a zero
bad output ``yb_ko = 0`` of the evaluated DMU drops the term
``sb_k / yb_ko``, while the count of terms (``s1 + s2`` in the SBM,
``m + s2`` in the super-efficiency SBM) and the constraint on that pollutant
are kept.  The three cases:

* **SBM.**  ``0 = Yb_k lambda + sb_k`` forces ``sb_k = 0`` (emissions cannot
  fall below zero) and leaves only peers that emit none of pollutant ``k``
  either: the dropped term is ``0/0``.  In particular a DMU that is the only
  zero emitter of a pollutant in its frontier is its own sole peer and scores
  ``rho = 1``.
* **Super-efficiency, other zero emitters in the frontier.**  They can match
  ``o`` on pollutant ``k`` with ``sb_k = 0``; the term is again ``0/0``.
* **Super-efficiency, ``o`` is the only zero emitter** (it is removed from
  its own frontier, so every remaining DMU emits some): to be dominated, ``o``
  must raise its emission from 0 to ``sb_k = Yb_k lambda > 0``, a relative
  increase ``sb_k / 0`` that is infinite.  Keeping the term would give every
  such DMU an infinite super-efficiency, which cannot be ranked or averaged,
  and the limit of a tiny positive emission ``e`` grows like ``1/e``, i.e.
  depends on an arbitrary rounding of the data.  With the term dropped the
  increase is free: ``delta`` measures how far ``o`` must worsen its inputs,
  its other pollutants and its good outputs, is finite and ``>= 1``, and is
  exactly 1 when a polluter matches ``o`` on every other variable.  Emitting
  nothing thus secures ``rho = 1`` but earns no further credit in the
  super-efficiency ranking: read a zero emitter's super-efficiency as its
  rank on the other variables.

Accuracy of the fast path
-------------------------
Column generation stops when no DMU outside the candidate set has a reduced
cost below ``-1e-9 / L``, where ``L`` is an upper bound on ``sum(Lambda)``
at the full optimum, derived from the data of the evaluated DMU: 1 for the
SBM under VRS, ``min_i x_io / min_j x_ij`` under CRS, and the corresponding
bounds for the super-efficiency model, where ``sum(Lambda)`` is not bounded
by 1 (see ``nqpf_helpers.sbm.fast._FastSBM._lambda_bound``).  By
Lagrangian duality the restricted optimum is then within 1e-9 of the full
one, under CRS and super-efficiency as under VRS.  When this cannot be
certified (HiGHS ends without an optimum or with residuals too large
relative to ``t``, pricing does not converge within its round limit, or the
proven gap exceeds 1e-8), the DMU is re-solved in its own units and, as a
last resort, as the full programme in cvxpy; if that fails too,
:class:`~nqpf_helpers.errors.SolverError` is raised, naming the unit and
period and suggesting a fix.  A number is never returned unchecked.

Modules
-------
``nqpf_helpers.sbm.model`` (the cvxpy model),
``nqpf_helpers.sbm.fast`` (the patched HiGHS model, pricing and
fallbacks), ``nqpf_helpers.sbm.panel`` (:func:`~nqpf_helpers.sbm.panel.sbm` over a panel,
:func:`~nqpf_helpers.sbm.panel.reference_periods`, :func:`~nqpf_helpers.sbm.panel.inefficiency_by_source`); the private
``_highs`` module holds the HiGHS plumbing other DEA models reuse
(``nqpf_helpers.sbm._highs.column_scale``,
``nqpf_helpers.sbm._highs.new_highs``,
``nqpf_helpers.sbm._highs.swallow_highs_banner``,
``nqpf_helpers.sbm._highs.solve_with_highs``).
"""

from __future__ import annotations

from ._checks import FRONTIERS, RTS
from .model import sbm_cvxpy
from .panel import inefficiency_by_source, reference_periods, sbm

__all__ = [
    "FRONTIERS",
    "RTS",
    "inefficiency_by_source",
    "reference_periods",
    "sbm",
    "sbm_cvxpy",
]
