"""Result tables of the project's own benchmarks, shipped as package data.

Some chapters read tables that take too long to compute during a book build
(a Monte Carlo of bootstrap coverage runs for half an hour on two cores).  The
documented benchmark command writes such a table into this folder, so it ships
with the package (read with ``importlib.resources``) and a reader who
installed ``nqpf-helpers`` from a wheel loads the same table as a developer in a
clone.

The tables:

* ``bootstrap_coverage.csv``, read by :func:`load_bootstrap_coverage`, is written by
  ``python benchmarks/bootstrap_coverage.py --out nqpf_helpers/data/bootstrap_coverage.csv``
  (see that script for the design).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from ..errors import DataIntegrityError

__all__ = ["BOOTSTRAP_COVERAGE_RESOURCE", "BOOTSTRAP_COVERAGE_COLUMNS", "load_bootstrap_coverage"]

#: File name of the bootstrap coverage table inside :mod:`nqpf_helpers.data`.
BOOTSTRAP_COVERAGE_RESOURCE = "bootstrap_coverage.csv"

#: Columns every coverage table has (the per-point ``cov_p*`` columns vary with the design).
BOOTSTRAP_COVERAGE_COLUMNS = ["n", "kappa", "m", "reps", "boot", "coverage", "mean_width", "seconds"]


def load_bootstrap_coverage() -> pd.DataFrame:
    """The Monte Carlo coverage of the m-out-of-n bootstrap intervals, as shipped with the package.

    Returns
    -------
    pandas.DataFrame
        One row per sample size ``n`` and subsample exponent ``kappa``: the
        subsample size ``m``, the numbers of replications ``reps`` and of
        subsamples ``boot``, the share of nominal 90 % intervals that contain
        the true SBM score (``coverage``, averaged over the fixed evaluation
        points; ``cov_p1``, ``cov_p2``, ... per point), the mean interval width
        and the run time in seconds.

    Raises
    ------
    DataIntegrityError
        The shipped table lacks a column listed in
        :data:`BOOTSTRAP_COVERAGE_COLUMNS` or has a coverage outside [0, 1];
        rerun ``benchmarks/bootstrap_coverage.py --out nqpf_helpers/data/bootstrap_coverage.csv``.

    Examples
    --------
    >>> table = load_bootstrap_coverage()
    >>> sorted(table["kappa"].unique().tolist())
    [0.5, 0.6, 0.7]
    """
    fix = ("Rerun `python benchmarks/bootstrap_coverage.py --out nqpf_helpers/data/bootstrap_coverage.csv` "
           "from the project root to rewrite it.")
    with resources.files(__package__).joinpath(BOOTSTRAP_COVERAGE_RESOURCE).open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh)
    missing = [c for c in BOOTSTRAP_COVERAGE_COLUMNS if c not in table.columns]
    if missing:
        raise DataIntegrityError(f"the packaged {BOOTSTRAP_COVERAGE_RESOURCE} lacks columns {missing}. {fix}")
    cov = table.filter(regex=r"^cov(erage|_p\d+)$")
    if not ((cov >= 0) & (cov <= 1)).all().all():
        raise DataIntegrityError(
            f"the packaged {BOOTSTRAP_COVERAGE_RESOURCE} has coverage shares outside [0, 1]. {fix}"
        )
    return table
