"""SBM scores for a whole panel: frontier choice, parallel blocks and the result table."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nqpf_helpers.errors import InputError, SolverError
from nqpf_helpers.validate import validate_panel

from ._checks import check_column_roles, check_options
from ._highs import SOLVER_FIX, column_scale
from .fast import EFFICIENT_TOL, UnsolvedDMU, solve_block

__all__ = ["inefficiency_by_source", "reference_periods", "sbm"]


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
    check_options("vrs", frontier, window)
    ps = sorted({int(p) for p in periods})
    if frontier == "global":
        return {p: ps for p in ps}
    if frontier == "contemporaneous":
        return {p: [p] for p in ps}
    if frontier == "sequential":
        return {p: [q for q in ps if q <= p] for p in ps}
    return {p: [q for q in ps if p - window < q <= p] for p in ps}


@dataclass(frozen=True)
class _Problem:
    """The validated panel as arrays: raw and scaled to column means."""

    panel: pd.DataFrame
    unit: str
    time: str  # a placeholder column when the caller gave time=None
    cols: list[str]  # inputs + good + bad
    m: int
    s1: int
    s2: int
    raw: np.ndarray  # (n, m + s1 + s2), original units
    scale: np.ndarray  # column means
    periods: np.ndarray

    def scaled(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        z = self.raw[rows] / self.scale
        m, s1 = self.m, self.s1
        return z[:, :m], z[:, m : m + s1], z[:, m + s1 :]


_NO_TIME = "__period__"


def _prepare(
    df: pd.DataFrame, unit: str, time: str | None, inputs: Sequence[str], good: Sequence[str], bad: Sequence[str]
) -> _Problem:
    """Check the column lists and the panel; return it as arrays."""
    inputs, good, bad = check_column_roles(inputs, good, bad, caller="sbm")
    cols = inputs + good + bad
    data, ptime = df, time
    if time is None:
        ptime = _NO_TIME
        data = df.assign(**{ptime: 0})
    panel = validate_panel(
        data,
        unit=unit,
        time=ptime,
        values=cols,
        positive=inputs + good,
        nonnegative=bad,
        balanced=False,
        consecutive=False,
        name="SBM panel",
    )
    raw = panel[cols].to_numpy(float)
    m, s1 = len(inputs), len(good)
    scale = np.concatenate(column_scale(raw[:, :m], raw[:, m : m + s1], raw[:, m + s1 :]))
    return _Problem(panel, unit, ptime, cols, m, s1, len(bad), raw, scale, panel[ptime].to_numpy(int))


def _blocks(periods: np.ndarray, frontier: str, window: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(reference rows, rows to score)`` for each frontier of the panel."""
    if frontier == "global":
        allr = np.arange(len(periods))
        return [(allr, allr)]
    refs = reference_periods(periods, frontier, window)
    return [(np.flatnonzero(np.isin(periods, rp)), np.flatnonzero(periods == p)) for p, rp in refs.items()]


def _workers(n_jobs: int) -> int:
    """joblib's convention: -1 is all cores, -2 all but one, ..."""
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return max(1, int(n_jobs))


def _tasks(blocks: list[tuple[np.ndarray, np.ndarray]], n_workers: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(reference rows, positions in the reference set to score)`` per unit of work.

    Large blocks are split across workers; small ones stay whole so that each
    worker's candidate set is reused as much as possible.
    """
    tasks = []
    n_chunks = n_workers if (n_workers > 1 and len(blocks) < n_workers) else 1
    for ref_rows, ev_rows in blocks:
        pos = np.searchsorted(ref_rows, ev_rows)
        for chunk in np.array_split(pos, n_chunks):
            if chunk.size:
                tasks.append((ref_rows, chunk))
    return tasks


def _run(
    prob: _Problem, tasks: list[tuple[np.ndarray, np.ndarray]], rts: str, sup: bool, n_workers: int, progress: bool
) -> list[list[dict[str, Any]]]:
    """Solve every task, in this process or with joblib; label a failing DMU."""

    def args(ref_rows: np.ndarray, chunk: np.ndarray) -> tuple:
        return (*prob.scaled(ref_rows), chunk, rts, sup)

    try:
        if n_workers == 1:
            return [solve_block(*args(r, c), panel_rows=r, progress=progress) for r, c in tasks]
        from joblib import Parallel, delayed

        gen = Parallel(n_jobs=n_workers, return_as="generator")(
            delayed(solve_block)(*args(r, c), panel_rows=r) for r, c in tasks
        )
        if progress:
            from tqdm.auto import tqdm

            gen = tqdm(gen, total=len(tasks), desc="SBM blocks")
        return list(gen)
    except UnsolvedDMU as err:
        label = prob.panel[prob.unit].iloc[err.row]
        who = f"{prob.unit} {getattr(label, 'item', lambda: label)()!r}"
        if prob.time != _NO_TIME:
            who += f", {prob.time} {int(prob.periods[err.row])}"
        model = "super-efficiency SBM" if err.super_efficiency else "SBM"
        raise SolverError(
            f"No reliable optimum for the {model} programme ({rts.upper()}) of {who}: {err.reasons}. {SOLVER_FIX}"
        ) from err


def _assemble(
    prob: _Problem, tasks: list[tuple[np.ndarray, np.ndarray]], results: list[list[dict[str, Any]]], with_time: bool
) -> dict[str, Any]:
    """Per-row arrays (scores, slacks in original units, peers) from the block results."""
    n, q = len(prob.panel), prob.raw.shape[1]
    rho, rho_sbm = np.empty(n), np.empty(n)
    slacks = np.empty((n, q))
    n_peers = np.empty(n, dtype=int)
    peers: list[Any] = [None] * n
    labels = prob.panel[prob.unit].to_numpy()
    for (ref_rows, chunk), res in zip(tasks, results):
        for r, rr in zip(ref_rows[chunk], res):
            rho[r], rho_sbm[r] = rr["rho"], rr["rho_sbm"]
            slacks[r] = rr["slacks"] * prob.scale
            prow = ref_rows[rr["peers"]]
            order = np.argsort(-rr["lambdas"], kind="stable")
            if with_time:
                peers[r] = tuple(
                    (labels[prow[i]], int(prob.periods[prow[i]]), float(rr["lambdas"][i])) for i in order
                )
            else:
                peers[r] = tuple((labels[prow[i]], float(rr["lambdas"][i])) for i in order)
            n_peers[r] = len(prow)
    return {"rho": rho, "rho_sbm": rho_sbm, "slacks": slacks, "n_peers": n_peers, "peers": peers}


def _table(prob: _Problem, parts: dict[str, Any], time: str | None, sup: bool) -> pd.DataFrame:
    """The result table: scores, slacks, targets, inefficiency by source, peers."""
    m, s12 = prob.m, prob.s1 + prob.s2
    slacks, vals = parts["slacks"], prob.raw
    out = prob.panel[[prob.unit] if time is None else [prob.unit, time]].copy()
    out["rho"] = parts["rho"]
    if sup:
        out["rho_sbm"] = parts["rho_sbm"]
    out["efficient"] = parts["rho_sbm"] >= 1 - EFFICIENT_TOL
    for k, c in enumerate(prob.cols):
        out[f"slack_{c}"] = slacks[:, k]
    # projections: inputs and bad outputs shrink, good outputs grow
    direction = np.r_[-np.ones(m), np.ones(prob.s1), -np.ones(prob.s2)]
    for k, c in enumerate(prob.cols):
        out[f"target_{c}"] = vals[:, k] + direction[k] * slacks[:, k]
    ratio = np.divide(slacks, vals, out=np.zeros_like(slacks), where=vals > 0)
    terms = ratio * np.r_[np.full(m, 1.0 / m), np.full(s12, 1.0 / max(s12, 1))]
    denom = 1.0 + terms[:, m:].sum(axis=1)
    for k, c in enumerate(prob.cols):
        out[f"ineff_{c}"] = terms[:, k] / denom
    out["n_peers"] = parts["n_peers"]
    out["peers"] = parts["peers"]
    return out.reset_index(drop=True)


def sbm(
    df: pd.DataFrame,
    *,
    unit: str = "region_code",
    time: str | None = "year",
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
    """SBM efficiency with undesirable outputs for every unit-period of a panel.

    Parameters
    ----------
    df
        Long-format panel, one row per unit (DMU) and period.
    unit, time
        Identifier and (integer) time columns.  ``time=None`` treats ``df``
        as a single cross-section.
    inputs, good, bad
        Input, good-output and bad-output columns.  Inputs and good outputs
        must be > 0, bad outputs >= 0 (a zero drops its ratio term; see
        :mod:`nqpf_helpers.sbm`).  ``bad=()`` gives Tone's (2001) SBM.
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
        bad outputs are treated like inputs there, and a zero emitter's
        pollution term is dropped, see :mod:`nqpf_helpers.sbm`) so that they
        can be ranked (their ``rho`` becomes >= 1); the ordinary score stays
        in ``rho_sbm``.  With a single DMU in the frontier the
        super-efficiency score is undefined (NaN).
    n_jobs
        Worker processes (joblib).  ``-1`` uses all cores.  One process is
        usually fastest below a few thousand DMUs per frontier.
    progress
        Show a tqdm progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per DMU-period, sorted like the validated panel (by unit and
        time), with the ``unit`` and ``time`` columns and:

        * ``rho``: the SBM score in (0, 1] (>= 1 for efficient DMUs when
          ``super_efficiency``), and ``rho_sbm`` when ``super_efficiency``;
        * ``efficient``: ``rho_sbm`` equals 1 (to 1e-7);
        * ``slack_<col>``: optimal slacks in original units (input and
          bad-output excesses, good-output shortfalls);
        * ``target_<col>``: the projection on the frontier;
        * ``ineff_<col>``: inefficiency by source, adding up to ``1 - rho_sbm``
          (see Notes);
        * ``n_peers`` and ``peers``: a tuple of ``(unit, time, lambda)``
          (``(unit, lambda)`` when ``time=None``), largest lambda first.

    Raises
    ------
    ~nqpf_helpers.errors.PanelError
        Missing columns or cells, duplicated unit-periods, non-positive
        inputs or good outputs, negative bad outputs.
    ~nqpf_helpers.errors.InputError
        Unknown ``rts`` or ``frontier``, a bad ``window``, empty or repeated
        column lists.
    ~nqpf_helpers.errors.SolverError
        No route gave a checked optimum for some DMU (see
        ``nqpf_helpers.sbm.fast``); the message names its unit and time
        and suggests fixes.

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
    on demand (see ``nqpf_helpers.sbm.fast``).
    """
    check_options(rts, frontier, window)
    prob = _prepare(df, unit, time, inputs, good, bad)
    n_workers = _workers(n_jobs)
    tasks = _tasks(_blocks(prob.periods, frontier, window), n_workers)
    results = _run(prob, tasks, rts, super_efficiency, n_workers, progress)
    out = _table(prob, _assemble(prob, tasks, results, with_time=time is not None), time, super_efficiency)
    # A new table: carry no metadata of the input panel over.  The model settings are the
    # caller's own arguments, so they are not echoed in a side channel either.
    out.attrs = {}
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
        raise InputError("result has no ineff_<col> columns: pass the DataFrame returned by nqpf_helpers.sbm.sbm.")
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
