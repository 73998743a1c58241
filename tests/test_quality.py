from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import quality as q
from nqpf_helpers.errors import InputError, PanelError


def trend(years, slope, level=0.0, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.asarray(years, dtype=float)
    return level + slope * (t - t[0]) + noise * rng.normal(size=len(t))


def test_chow_finds_a_break_in_slope_and_not_in_a_straight_line():
    years = np.arange(1990, 2023)
    kinked = np.where(years < 2016, trend(years, 0.01), trend(years, 0.01)[years == 2015] + 0.08 * (years - 2015))
    noisy = pd.Series(kinked + 0.005 * np.random.default_rng(1).normal(size=len(years)), index=years)
    res = q.chow_test(noisy, 2016)
    assert res.significant and res.f > 20
    assert res.slope_before == pytest.approx(0.01, abs=0.003) and res.slope_after == pytest.approx(0.08, abs=0.01)
    assert (res.n_before, res.n_after, res.df_num, res.df_den) == (26, 7, 2, 29)
    straight = pd.Series(trend(years, 0.02, noise=0.01, seed=2), index=years)
    assert not q.chow_test(straight, 2016).significant


def test_chow_f_matches_the_textbook_formula():
    years = np.arange(2000, 2012)
    y = pd.Series(np.random.default_rng(3).normal(size=12), index=years)
    res = q.chow_test(y, 2006)

    def ssr(t, v):
        X = np.column_stack([np.ones(len(t)), t])
        b = np.linalg.lstsq(X, v, rcond=None)[0]
        return float(((v - X @ b) ** 2).sum())

    t, v = years.astype(float), y.to_numpy()
    s_all, s1, s2 = ssr(t, v), ssr(t[:6], v[:6]), ssr(t[6:], v[6:])
    assert res.f == pytest.approx(((s_all - s1 - s2) / 2) / ((s1 + s2) / 8))


def test_break_scan_locates_the_break_year():
    years = np.arange(1990, 2023)
    y = np.where(years < 2010, 0.0, 0.05 * (years - 2009)) + 0.003 * np.random.default_rng(4).normal(size=len(years))
    scan = q.break_scan(pd.Series(y, index=years))
    assert scan["best"].sum() == 1 and scan.attrs == {}
    best = scan.loc[scan["best"]].iloc[0]
    assert best["break_year"] in (2009, 2010, 2011) and best["f"] == scan["f"].max()
    assert scan["break_year"].min() >= 1993 and scan["break_year"].max() <= 2020


def test_chow_by_unit_runs_per_unit_on_logs():
    years = np.arange(2000, 2020)
    rows = [pd.DataFrame({"region_code": "a", "year": years, "gtfp": np.exp(trend(years, 0.02, -1))}),
            pd.DataFrame({"region_code": "b", "year": years,
                          "gtfp": np.exp(np.where(years < 2012, -1.0, -1 + 0.1 * (years - 2011)))})]
    out = q.chow_by_unit(pd.concat(rows), "gtfp", 2012).set_index("region_code")
    assert out.loc["b", "slope_after"] == pytest.approx(0.1) and out.loc["b", "slope_before"] == pytest.approx(0.0, abs=1e-12)
    assert out.loc["a", "slope_after"] == pytest.approx(0.02)


def test_break_inputs_are_checked():
    years = np.arange(2000, 2010)
    with pytest.raises(InputError, match="each side needs"):
        q.chow_test(pd.Series(np.arange(10.0), index=years), 2008)
    with pytest.raises(InputError, match="expected a pandas Series"):
        q.chow_test(np.arange(10.0), 2005)
    with pytest.raises(InputError, match="missing"):
        q.chow_test(pd.Series([1.0, np.nan] * 5, index=years), 2005)
    with pytest.raises(InputError, match="non-positive"):
        q.chow_by_unit(pd.DataFrame({"region_code": "a", "year": years, "gtfp": 0.0}), "gtfp", 2005)
    with pytest.raises(InputError, match="trim"):
        q.break_scan(pd.Series(np.arange(10.0), index=years), trim=0.6)


def test_frontier_counts():
    df = pd.DataFrame({"year": [1, 1, 2, 2], "gtfp": [1.0, 0.5, 0.9999999, 0.3]})
    assert q.at_frontier(df).tolist() == [True, False, True, False]
    assert q.at_frontier(df, tol=0).tolist() == [True, False, False, False]
    counts = q.frontier_counts(df)
    assert counts["n_at_frontier"].tolist() == [1, 1] and counts["share"].tolist() == [0.5, 0.5]
    with pytest.raises(PanelError, match=r"at_frontier: missing column\(s\) \['rho'\]"):
        q.at_frontier(df, "rho")


def test_fitted_looking_years_separates_fitted_from_forecast_years():
    rng = np.random.default_rng(5)
    fitted = pd.DataFrame({"year": 2010, "nqpf": 1 + 0.01 * rng.normal(size=500)})
    forecast = pd.DataFrame({"year": 2011, "nqpf": np.exp(0.2 * rng.normal(size=500))})
    assert q.fitted_looking_years(pd.concat([fitted, forecast])) == [2010]
    with pytest.raises(InputError):
        q.fitted_looking_years(fitted, tol=0)


def test_published_in_sample_and_training_years():
    df = pd.DataFrame({"year": [2010, 2011, 2012]})
    assert q.published_in_sample(df, "county").tolist() == [True, True, False]
    assert not q.published_in_sample(df, "province").any()
    with pytest.raises(InputError, match="level"):
        q.published_in_sample(df, "town")
    preds = pd.DataFrame({"year": [2008, 2009, 2010], "split": ["train", "train", "test"]})
    assert q.training_years(preds) == [2008, 2009]


@pytest.mark.parametrize("n,dist", [(5, "uniform"), (20, "uniform"), (50, "uniform"), (20, "normal"), (50, "normal")])
def test_expected_band_coverage_matches_simulation(n, dist):
    # Exact for uniform draws; for other distributions only the interpolation inside the
    # two extreme gaps differs, which matters little once n is 20 or more.
    rng = np.random.default_rng(n)
    draws = getattr(rng, dist)(size=(20000, n + 1))
    band = np.quantile(draws[:, :n], [0.05, 0.95], axis=1)
    simulated = float(((draws[:, n] >= band[0]) & (draws[:, n] <= band[1])).mean())
    assert q.expected_band_coverage(n) == pytest.approx(simulated, abs=0.01)
    assert q.expected_band_coverage(n) < 0.9


def test_expected_band_coverage_for_twenty_seeds_and_bad_input():
    assert q.expected_band_coverage(20) == pytest.approx(0.9 * 19 / 21)
    with pytest.raises(InputError):
        q.expected_band_coverage(1)
    with pytest.raises(InputError):
        q.expected_band_coverage(10, 0.9, 0.1)
