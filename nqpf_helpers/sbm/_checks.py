"""Input checks shared by the cvxpy model, the fast path and the panel front end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nqpf_helpers.errors import InputError

RTS = ("vrs", "crs")
FRONTIERS = ("global", "contemporaneous", "sequential", "window")


def as_matrix(a: Any, n: int | None, what: str) -> np.ndarray:
    """``a`` as a finite 2-D float array with ``n`` rows (``None``: an ``(n, 0)`` array)."""
    arr = np.asarray(a, dtype=float) if a is not None else np.zeros((n or 0, 0))
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise InputError(f"{what} must be a 2-D array with one row per DMU; got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise InputError(
            f"{what} has {arr.shape[0]} rows but X has {n}: every matrix needs one row per DMU, in the same order."
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} contains missing or infinite values; fill or drop those DMUs first.")
    return arr


def check_matrices(X: Any, Yg: Any, Yb: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate inputs ``X`` (> 0), good outputs ``Yg`` (> 0) and bad outputs ``Yb`` (>= 0)."""
    X = as_matrix(X, None, "X (inputs)")
    n = X.shape[0]
    Yg = as_matrix(Yg, n, "Yg (good outputs)")
    Yb = as_matrix(Yb, n, "Yb (bad outputs)")
    if n == 0:
        raise InputError("X has no rows: at least one DMU is needed.")
    if X.shape[1] == 0 or Yg.shape[1] == 0:
        raise InputError("SBM needs at least one input and one good output.")
    if np.any(X <= 0):
        raise InputError(
            "X (inputs) must be strictly positive: the SBM objective divides by each input. "
            "Correct the data or drop DMUs with zero/negative inputs."
        )
    if np.any(Yg <= 0):
        raise InputError(
            "Yg (good outputs) must be strictly positive: the SBM objective divides by each good output. "
            "Correct the data or drop DMUs with zero/negative good outputs."
        )
    if np.any(Yb < 0):
        raise InputError(
            "Yb (bad outputs) must be >= 0: negative emissions are not meaningful. "
            "Correct the data (a zero bad output is allowed and drops its ratio term)."
        )
    return X, Yg, Yb


def check_options(rts: str, frontier: str | None = None, window: int | None = None) -> None:
    """Reject unknown returns to scale, frontier types and window widths."""
    if rts not in RTS:
        raise InputError(f"rts must be one of {RTS}; got {rts!r}.")
    if frontier is not None and frontier not in FRONTIERS:
        raise InputError(f"frontier must be one of {FRONTIERS}; got {frontier!r}.")
    if frontier == "window" and (window is None or int(window) != window or window < 1):
        raise InputError(f"window must be a positive whole number of periods; got {window!r}.")


def check_column_roles(
    inputs: Sequence[str], good: Sequence[str], bad: Sequence[str] = (), *, caller: str
) -> tuple[list[str], list[str], list[str]]:
    """Check the column roles of a DEA model; return them as lists.

    Shared by every function that takes a panel and column lists
    (:func:`nqpf_helpers.sbm.panel.sbm`, :func:`nqpf_helpers.indices.distances`,
    :func:`nqpf_helpers.indices.productivity_index`,
    :func:`nqpf_helpers.bootstrap.sbm_bootstrap`).

    Parameters
    ----------
    inputs, good, bad
        Column names of the inputs, good outputs and bad outputs.
    caller
        Name of the public function, put at the start of every message.

    Returns
    -------
    (inputs, good, bad)
        The three lists.

    Raises
    ------
    InputError
        A role given as one string instead of a list of names, no input or
        no good-output column, or a column listed more than once (in one
        role or in two).
    """
    roles = {"inputs": inputs, "good": good, "bad": bad}
    for name, cols in roles.items():
        if isinstance(cols, str):
            raise InputError(
                f"{caller}(): {name}= must be a list of column names; got the string {cols!r}. "
                f"Write {name}=[{cols!r}]."
            )
    inputs, good, bad = list(inputs), list(good), list(bad)
    if not inputs or not good:
        raise InputError(
            f"{caller}() needs at least one input column (inputs=) and one good-output column (good=); "
            f"got inputs={inputs}, good={good}."
        )
    cols = inputs + good + bad
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InputError(
            f"{caller}(): column(s) {dup} are listed more than once among inputs/good/bad; "
            "give each column one role, once."
        )
    return inputs, good, bad
