"""A small synthetic panel with SBM inputs and outputs, for trying the method and for tests.

Nothing in it is real data: :func:`example_panel` draws labour, capital, GDP
and three emissions from simple growth processes with a seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["example_panel"]


_EXAMPLE_ISO3 = ("CHN", "IND", "JPN", "KOR", "VNM", "THA", "IDN", "MYS", "PHL", "PAK", "BGD", "LKA")


def example_panel(
    n_units: int = 8, start: int = 1995, end: int = 2017, *, codes: str = "china", seed: int = 0
) -> pd.DataFrame:
    """A small synthetic panel with SBM inputs and outputs, for trying the pipeline.

    Each unit has labour and capital growing at its own rates, GDP from a
    Cobb-Douglas technology whose productivity follows a random walk with
    drift, and three emissions (``so2``, ``nox``, ``smoke``) proportional to
    GDP with intensities that fall at unit-specific rates.  Nothing in it is
    real data.

    Parameters
    ----------
    n_units
        Number of units (at most 31 for ``codes="china"``, 12 for ``"iso3"``).
    start, end
        First and last year (inclusive).
    codes
        ``"china"``: 6-digit province codes in column ``region_code``;
        ``"iso3"``: country codes in column ``iso3``; ``"names"``: labels
        ``unit01``, ... in column ``unit``.
    seed
        Random seed.

    Returns
    -------
    pandas.DataFrame
        Columns unit, ``year``, ``labour``, ``capital``, ``gdp``, ``so2``,
        ``nox``, ``smoke``: a balanced panel, all values > 0.
    """
    if codes == "china":
        from nqpf_helpers.regions import province_table

        pool, col = list(province_table()["province_code"]), "region_code"
    elif codes == "iso3":
        pool, col = list(_EXAMPLE_ISO3), "iso3"
    elif codes == "names":
        pool, col = [f"unit{i + 1:02d}" for i in range(max(n_units, 1))], "unit"
    else:
        raise InputError(f"codes must be 'china', 'iso3' or 'names', got {codes!r}.")
    if not 1 <= n_units <= len(pool):
        raise InputError(f"n_units must be between 1 and {len(pool)} for codes={codes!r}, got {n_units}.")
    if end < start:
        raise InputError(f"end ({end}) is before start ({start}).")
    rng = np.random.default_rng(seed)
    years = np.arange(start, end + 1)
    t = years - start
    frames = []
    for u in pool[:n_units]:
        labour = rng.uniform(5, 60) * np.exp(rng.uniform(-0.005, 0.02) * t + rng.normal(0, 0.01, t.size))
        capital = rng.uniform(20, 400) * np.exp(rng.uniform(0.04, 0.11) * t + rng.normal(0, 0.02, t.size))
        tfp = np.exp(np.cumsum(rng.normal(rng.uniform(-0.005, 0.02), 0.03, t.size)))
        gdp = rng.uniform(0.5, 2.0) * tfp * capital**0.4 * labour**0.6
        frame = {col: u, "year": years, "labour": labour, "capital": capital, "gdp": gdp}
        for gas in ("so2", "nox", "smoke"):
            intensity = rng.uniform(0.5, 3.0) * np.exp(-rng.uniform(0.0, 0.08) * t)
            frame[gas] = gdp * intensity * np.exp(rng.normal(0, 0.05, t.size))
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)
