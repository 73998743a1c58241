"""Windows, training/test splits and scaling of GTFP series (numpy only).

The data plumbing of the authors' MATLAB code: ``lags``-long input windows
(:func:`make_windows`), MATLAB ``mapminmax`` scaling fitted on training
windows only (:func:`fit_minmax`), the training/test split of each protocol
(:func:`n_train_windows`), the two readings of a window as network input
(:func:`network_inputs`) and the panel check that turns a long table into a
matrix of series (:func:`series_matrix`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nqpf_helpers.errors import InputError, PanelError
from nqpf_helpers.validate import validate_panel

from .protocols import LAGS, Layout, Split, Transform

__all__ = [
    "apply_minmax",
    "fit_minmax",
    "invert_minmax",
    "make_windows",
    "matlab_round",
    "n_train_windows",
    "network_inputs",
    "series_matrix",
]


def matlab_round(x: float) -> int:
    """Round half away from zero, as MATLAB's ``round`` does.

    Python's built-in ``round`` rounds halves to even, which would shift the
    training/test boundary whenever ``share * n`` ends in .5.
    """
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def make_windows(values: np.ndarray, lags: int = LAGS) -> tuple[np.ndarray, np.ndarray]:
    """Cut series into ``lags``-long input windows and one-step-ahead targets.

    Parameters
    ----------
    values
        Array of shape ``(T,)`` or ``(N, T)``: one or N series of equal length.
    lags
        Number of past values that predict the next one.

    Returns
    -------
    X, y
        ``X`` has shape ``(..., T - lags, lags)`` with ``X[..., j, :] =
        values[..., j:j + lags]``; ``y`` has shape ``(..., T - lags)`` with
        ``y[..., j] = values[..., j + lags]``.

    Raises
    ------
    PanelError
        If the series is not longer than ``lags``.
    """
    values = np.asarray(values, dtype=float)
    T = values.shape[-1]
    if lags < 1:
        raise PanelError(f"lags must be >= 1, got {lags}.")
    if T <= lags:
        raise PanelError(
            f"series too short: {T} observation(s) cannot make a single {lags}-lag window "
            f"(need at least {lags + 1}). Use longer series or fewer lags."
        )
    idx = np.arange(T - lags)[:, None] + np.arange(lags)[None, :]
    return values[..., idx], values[..., lags:]


def n_train_windows(
    split: Split,
    years: np.ndarray,
    *,
    lags: int = LAGS,
    share: float = 0.7,
    train_until: int = 2009,
) -> int:
    """Number of leading windows used for training under a split rule.

    Parameters
    ----------
    split
        ``"share_of_windows"``: ``round(share * n_windows)`` (released code,
        current version); ``"share_of_series"``: ``round(share * T)`` with T the
        series length (first upload, which multiplied the number of *years*);
        ``"until_year"``: every window whose target year is ``<= train_until``
        (the paper's "data from 1990 to 2009").
    years
        The (consecutive) years of the series.
    lags, share, train_until
        See ``split``.

    Returns
    -------
    int
        Between 1 and ``n_windows - 1`` so that train and test are both non-empty.
    """
    years = np.asarray(years)
    T = len(years)
    n_windows = T - lags
    if n_windows < 2:
        raise PanelError(
            f"series too short: {T} years give {max(n_windows, 0)} window(s) of {lags} lags; "
            f"need at least {lags + 2} years so that training and test windows both exist."
        )
    if split == "share_of_windows":
        n = matlab_round(share * n_windows)
    elif split == "share_of_series":
        n = matlab_round(share * T)
    elif split == "until_year":
        n = int(np.sum(years[lags:] <= train_until))
    else:
        raise InputError(
            f"unknown split rule {split!r}; use 'share_of_windows', 'share_of_series' or 'until_year'."
        )
    if not 1 <= n <= n_windows - 1:
        raise PanelError(
            f"split {split!r} leaves {n} training window(s) out of {n_windows} (years {years[0]}-{years[-1]}); "
            "both training and test windows must exist. Change the share / cut-off year or use longer series."
        )
    return n


def fit_minmax(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum over the window axis, as MATLAB ``mapminmax`` fits them.

    Parameters
    ----------
    a
        Training windows: inputs ``(..., n_windows, lags)`` reduced over
        ``axis=-2`` (one min/max per lag position) or targets
        ``(..., n_windows)`` reduced over ``axis=-1``.
    axis
        The window axis.

    Returns
    -------
    lo, hi
        Arrays without the window axis.  Where ``hi == lo`` (a constant
        column) ``hi`` is set to ``lo + 1``, so the map is a shift rather than
        a division by zero.
    """
    a = np.asarray(a, dtype=float)
    lo = np.min(a, axis=axis)
    hi = np.max(a, axis=axis)
    hi = np.where(hi > lo, hi, lo + 1.0)
    return lo, hi


def apply_minmax(a: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Map ``a`` linearly so that ``lo -> 0`` and ``hi -> 1`` (no clipping)."""
    return (np.asarray(a, dtype=float) - lo) / (hi - lo)


def invert_minmax(a: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Undo :func:`apply_minmax`."""
    return np.asarray(a, dtype=float) * (hi - lo) + lo


def network_inputs(X: np.ndarray, layout: Layout) -> np.ndarray:
    """Reshape ``(N, B, L)`` windows into ``(N, B, T, F)`` network inputs.

    ``"features"`` is MATLAB's reading: each window is one column vector fed to
    ``sequenceInputLayer(L)``, i.e. L features at a single time step, so the
    LSTM never recurs.  ``"sequence"`` reads the window as L time steps of one
    feature, which is what an LSTM is meant for.
    """
    if layout == "features":
        return X[:, :, None, :]
    if layout == "sequence":
        return X[:, :, :, None]
    raise InputError(f"unknown input layout {layout!r}; use 'features' (MATLAB) or 'sequence'.")


def series_matrix(
    df: pd.DataFrame, *, unit: str = "region_code", time: str = "year", value: str = "gtfp", lags: int = LAGS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a balanced, gap-free, positive panel and return it as a matrix.

    ``lags`` is the window length the series will be cut into; it sets the
    minimum series length.

    Returns
    -------
    units, years, values
        ``(N,)`` unit labels, ``(T,)`` years and ``(N, T)`` values.

    Raises
    ------
    PanelError
        Missing/duplicated/non-positive values, gaps, unbalanced panel (from
        :func:`nqpf_helpers.validate.validate_panel`), or a series too short
        for even one training and one test window.
    """
    clean = validate_panel(df, unit=unit, time=time, values=[value], positive=[value], name="GTFP series")
    wide = clean.pivot(index=unit, columns=time, values=value)
    years = wide.columns.to_numpy(dtype=int)
    if len(years) < lags + 2:
        raise PanelError(
            f"GTFP series: series too short, {len(years)} year(s) ({years[0]}-{years[-1]}); the {lags}-lag LSTM "
            f"needs at least {lags + 2} consecutive years (one training and one test window). "
            "Use a longer panel."
        )
    return wide.index.to_numpy(), years, wide.to_numpy(dtype=float)


class Scaler:
    """Per-unit transform between GTFP windows and network space for one protocol.

    Fitted on the training windows ``Xtr (N, B, L)`` and targets ``ytr (N, B)``
    of each unit separately; see :class:`~nqpf_helpers.forecast.protocols.ProtocolSpec`
    for the two transforms.
    """

    def __init__(self, transform: Transform, Xtr: np.ndarray, ytr: np.ndarray) -> None:
        self.transform = transform
        if transform == "minmax_level":
            self.lo, self.hi = fit_minmax(Xtr, axis=-2)
            self.tlo, self.thi = fit_minmax(ytr, axis=-1)
        elif transform == "log_growth":
            growth = np.log(ytr) - np.log(Xtr[..., -1])
            sd = growth.std(axis=-1)
            # a flat training history has no scale; 1 keeps the map finite
            self.sd = np.where(sd > 0, sd, 1.0)
        else:
            raise InputError(f"unknown transform {transform!r}; use 'minmax_level' or 'log_growth'.")

    def inputs(self, X: np.ndarray) -> np.ndarray:
        """Scaled network inputs for windows ``X (N, B, L)``."""
        if self.transform == "minmax_level":
            return apply_minmax(X, self.lo[:, None, :], self.hi[:, None, :])
        logX = np.log(X)
        return (logX - logX[..., -1:]) / self.sd[:, None, None]

    def targets(self, y: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Scaled targets for next values ``y (N, B)`` of windows ``X``."""
        if self.transform == "minmax_level":
            return apply_minmax(y, self.tlo[:, None], self.thi[:, None])
        return (np.log(y) - np.log(X[..., -1])) / self.sd[:, None]

    def invert(self, out: np.ndarray, X: np.ndarray) -> np.ndarray:
        """GTFP predicted by network outputs ``out (N, B)`` for windows ``X``."""
        if self.transform == "minmax_level":
            return invert_minmax(out, self.tlo[:, None], self.thi[:, None])
        return X[..., -1] * np.exp(out * self.sd[:, None])
