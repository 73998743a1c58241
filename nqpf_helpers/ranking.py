"""Rank statistics shared by the comparison and robustness modules.

:func:`spearman_matrix` is the package's one Spearman implementation:
:mod:`nqpf_helpers.nqpf` (agreement with published values) and
:mod:`nqpf_helpers.robustness` (agreement between variants and seed
ensembles) both call it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["spearman", "spearman_matrix"]


def spearman_matrix(values: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between every pair of columns of a 2-D array.

    The one Spearman implementation of the package: Pearson correlation of
    average ranks (ties share their mean rank).  A column with a single
    distinct value has no ranking, so its correlations are NaN (1 on the
    diagonal stays 1 only for columns that have a ranking).

    Parameters
    ----------
    values
        Observations as rows, variables as columns; must be finite.

    Returns
    -------
    numpy.ndarray
        Symmetric ``k x k`` matrix in [-1, 1].
    """
    a = np.asarray(values, dtype=float)
    if a.ndim != 2:
        raise InputError(f"spearman_matrix: expected a 2-D array, got {a.ndim} dimension(s).")
    ranks = pd.DataFrame(a).rank(method="average").to_numpy()
    flat = np.ptp(ranks, axis=0) == 0 if len(ranks) else np.ones(a.shape[1], dtype=bool)
    k = a.shape[1]
    rho = np.full((k, k), np.nan)
    ok = np.flatnonzero(~flat)
    if len(ranks) >= 2 and len(ok):
        sub = np.atleast_2d(np.corrcoef(ranks[:, ok], rowvar=False))
        sub = np.clip((sub + sub.T) / 2, -1.0, 1.0)
        np.fill_diagonal(sub, 1.0)
        rho[np.ix_(ok, ok)] = sub
    return rho


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two equally long vectors (NaN if either is constant).

    Examples
    --------
    >>> spearman(np.array([1.0, 2.0, 3.0]), np.array([10.0, 30.0, 20.0]))
    0.5
    """
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise InputError(f"spearman: vectors of different lengths ({len(a)} and {len(b)}).")
    return float(spearman_matrix(np.column_stack([a, b]))[0, 1])
