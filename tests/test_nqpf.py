"""Tests for nqpf_helpers.nqpf: the ratio, seed ensembles and bands, comparisons with published values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nqpf_helpers import nqpf as q
from nqpf_helpers.errors import InputError
from nqpf_helpers.validate import PanelError


def seeds_table() -> pd.DataFrame:
    """Two regions x two years x three seeds with hand-picked predictions."""
    rows = []
    preds = {
        ("A", 2010): [1.0, 2.0, 4.0],  # actual 2 -> NQPF 2, 1, 0.5 (seeds disagree on > 1)
        ("A", 2011): [1.0, 1.0, 1.0],  # actual 3 -> NQPF 3 for every seed
        ("B", 2010): [0.5, 0.5, 0.5],
        ("B", 2011): [-0.5, 0.5, 1.0],  # one impossible negative prediction
    }
    actual = {("A", 2010): 2.0, ("A", 2011): 3.0, ("B", 2010): 1.0, ("B", 2011): 1.0}
    for (r, y), ps in preds.items():
        for s, p in enumerate(ps):
            rows.append({"region_code": r, "year": y, "seed": s, "split": "test", "actual": actual[r, y], "predicted": p})
    return pd.DataFrame(rows)


def test_nqpf_ratio_nan_with_reason_for_a_nonpositive_prediction() -> None:
    out = q.nqpf_ratio(seeds_table())
    ok = ~out.below_floor
    np.testing.assert_allclose(out.nqpf[ok], (out.actual / out.predicted)[ok])
    assert out.below_floor.sum() == 1
    bad = out[out.below_floor].iloc[0]
    assert np.isnan(bad.nqpf) and bad.reason == "non-positive prediction" and bad.predicted == -0.5
    assert (out.reason[ok] == "").all()
    with pytest.raises(PanelError, match="missing column"):
        q.nqpf_ratio(pd.DataFrame({"actual": [1.0]}))


def test_a_tiny_positive_prediction_is_below_the_floor_not_a_huge_ratio() -> None:
    t = pd.DataFrame({"actual": [0.8, 0.8, 0.8], "predicted": [0.8, 0.05, 0.03]})
    out = q.nqpf_ratio(t)  # floor 0.05 * 0.8 = 0.04
    assert out.nqpf.iloc[0] == pytest.approx(1.0) and out.nqpf.iloc[1] == pytest.approx(16.0)
    assert np.isnan(out.nqpf.iloc[2]) and out.reason.iloc[2] == "prediction 0.03 below floor 0.04 (0.05 x actual)"
    strict = q.nqpf_ratio(t, floor=0.1)  # floor 0.08
    assert strict.below_floor.tolist() == [False, True, True]
    for bad in (0, 1, -0.1, float("nan")):
        with pytest.raises(InputError, match="floor"):
            q.nqpf_ratio(t, floor=bad)


def test_ensemble_is_nan_with_reason_when_any_seed_is_below_the_floor() -> None:
    e = q.ensemble_nqpf(seeds_table()).set_index(["region_code", "year"])
    assert e.loc[("A", 2010), "predicted"] == pytest.approx(2.0)  # (1 * 2 * 4) ** (1/3)
    assert e.loc[("A", 2010), "nqpf"] == pytest.approx(1.0)
    b = e.loc[("B", 2011)]
    assert np.isnan(b.nqpf) and np.isnan(b.predicted) and b.n_below_floor == 1
    assert b.reason == "1 of 3 seeds predict GTFP <= 0"
    assert (e.n_seeds == 3).all() and (e.split == "test").all()
    assert (e.drop(index=[("B", 2011)]).reason == "").all()
    tiny = seeds_table().assign(predicted=lambda d: d.predicted.where(d.predicted > 0, 0.01))
    t = q.ensemble_nqpf(tiny).set_index(["region_code", "year"]).loc[("B", 2011)]
    assert np.isnan(t.nqpf) and t.reason == "1 of 3 seeds predict below floor 0.05 (0.05 x actual)"
    with pytest.raises(PanelError, match="duplicated"):
        q.ensemble_nqpf(pd.concat([seeds_table(), seeds_table()]))
    with pytest.raises(PanelError, match="without a region_code"):
        q.ensemble_nqpf(seeds_table().assign(region_code=lambda d: d.region_code.where(d.seed != 1)))


def test_ensemble_with_one_seed_equals_the_per_seed_ratio() -> None:
    one = seeds_table().query("seed == 0")
    e = q.ensemble_nqpf(one)
    r = q.nqpf_ratio(one).sort_values(["region_code", "year"])
    np.testing.assert_array_equal(e.nqpf.to_numpy(), r.nqpf.to_numpy())
    assert (e.reason == r.reason.to_numpy()).all()


def test_ensemble_handles_unequal_seed_counts() -> None:
    t = seeds_table()
    t = t[~((t.region_code == "A") & (t.year == 2010) & (t.seed == 2))]
    e = q.ensemble_nqpf(t).set_index(["region_code", "year"])
    assert e.loc[("A", 2010), "n_seeds"] == 2
    assert e.loc[("A", 2010), "predicted"] == pytest.approx(np.sqrt(2.0))


_pred = st.floats(min_value=-1.0, max_value=3.0, allow_nan=False)


@st.composite
def _panels(draw):
    n_units = draw(st.integers(1, 4))
    n_seeds = draw(st.integers(1, 4))
    years = [2010, 2011]
    rows = []
    for u in range(n_units):
        for y in years:
            actual = draw(st.floats(min_value=0.05, max_value=2.0))
            for s in range(n_seeds):
                rows.append({"region_code": f"U{u}", "year": y, "seed": s, "actual": actual, "predicted": draw(_pred)})
    return pd.DataFrame(rows)


@settings(max_examples=60, deadline=None)
@given(_panels(), st.randoms(use_true_random=False), st.floats(min_value=0.001, max_value=0.5))
def test_ensemble_rule_properties(panel, rnd, floor) -> None:
    e = q.ensemble_nqpf(panel, floor=floor)
    # invariant to the order of rows (seeds and units)
    order = list(range(len(panel)))
    rnd.shuffle(order)
    e2 = q.ensemble_nqpf(panel.iloc[order], floor=floor)
    pd.testing.assert_frame_equal(e, e2, check_exact=False, rtol=1e-12)
    # NaN exactly where some seed is below floor * actual, and a reason exactly there
    below = (panel.predicted < floor * panel.actual).groupby([panel.region_code, panel.year]).any()
    assert (e.nqpf.isna().to_numpy() == below.to_numpy()).all()
    assert ((e.reason != "").to_numpy() == below.to_numpy()).all()
    ok = ~below.to_numpy()
    gm = np.exp(np.log(panel.predicted.clip(lower=1e-300)).groupby([panel.region_code, panel.year]).mean())
    np.testing.assert_allclose(e.nqpf.to_numpy()[ok], (e.actual.to_numpy() / gm.to_numpy())[ok], rtol=1e-10)
    assert (e.nqpf.to_numpy()[ok] <= 1 / floor * (1 + 1e-12)).all()
    # a unit's result does not depend on the other units
    first = panel.region_code.iloc[0]
    alone = q.ensemble_nqpf(panel[panel.region_code == first], floor=floor)
    pd.testing.assert_frame_equal(alone, e[e.region_code == first].reset_index(drop=True))


def test_seed_band_and_summary() -> None:
    band = q.seed_band(seeds_table(), lower=0.0, upper=1.0).set_index(["region_code", "year"])
    a10 = band.loc[("A", 2010)]
    assert a10.nqpf_lo == pytest.approx(0.5) and a10.nqpf_hi == pytest.approx(2.0)
    assert a10.nqpf_sd == pytest.approx(np.std([2.0, 1.0, 0.5], ddof=1))
    assert a10.share_above_one == pytest.approx(1 / 3) and a10.seeds_disagree
    assert not band.loc[("A", 2011), "seeds_disagree"] and band.loc[("A", 2011), "nqpf_sd"] == 0
    s = q.seed_variability_summary(band.reset_index())
    assert s.n_seeds == 3 and s.region_years == 4
    # A-2010 and B-2011 have seeds on both sides of 1 (B-2011: NQPF 2 and 1; its negative prediction is left out)
    assert s.share_disagree_above_one == pytest.approx(0.5)
    assert band.loc[("B", 2011), "n_below_floor"] == 1 and band.loc[("A", 2010), "n_below_floor"] == 0


def published_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region_code": ["A", "A", "B", "B", "C", "C"],
            "year": [2010, 2011] * 3,
            "gtfp": [0.5] * 6,
            "nqpf": [1.2, 0.9, 1.5, 1.1, 0.8, 0.7],
        }
    )


def test_compare_identical_and_shifted() -> None:
    pub = published_table()
    same = q.compare_with_published(pub, pub)
    assert same.n == 6 and same.pearson == pytest.approx(1) and same.spearman == pytest.approx(1)
    assert same.mean_abs_diff == 0 and same.agree_above_one == 1
    shifted = pub.assign(nqpf=pub.nqpf - 0.25)  # same ranks; 1.2 and 1.1 cross to below 1
    c = q.compare_with_published(shifted, pub)
    assert c.spearman == pytest.approx(1) and c.mean_abs_diff == pytest.approx(0.25)
    assert c.agree_above_one == pytest.approx(4 / 6)
    years = q.per_year_agreement(shifted, pub)
    assert list(years.year) == [2010, 2011] and (years.n == 3).all()


def test_compare_rejects_unaggregated_or_disjoint_input() -> None:
    pub = published_table()
    with pytest.raises(PanelError, match="several rows per region-year"):
        q.compare_with_published(pd.concat([pub, pub]), pub)
    with pytest.raises(PanelError, match="no region-year in common"):
        q.compare_with_published(pub.assign(year=pub.year + 50), pub)


def test_band_coverage() -> None:
    pub = published_table()
    band = pub[["region_code", "year"]].assign(nqpf_lo=1.0, nqpf_hi=1.3)
    cov = q.band_coverage(band, pub)
    assert cov.inside.tolist() == [True, False, False, True, False, False]


def test_published_summary_counts_impossible_values() -> None:
    pub = published_table()
    pub.loc[0, "nqpf"] = -3.0
    pub.loc[3, "nqpf"] = 12.0
    pub.loc[4, "nqpf"] = 7.0
    s = q.published_summary({"county": pub}).iloc[0]
    assert s.n_negative == 1 and s.n_above_5 == 2 and s.units_with_negative_or_above_5 == 3
    assert s.share_implied_prediction_nonpositive == pytest.approx(1 / 6)
    assert s.nqpf_min == -3.0 and s.nqpf_max == 12.0


def test_reproduction_table_counts_undefined_ensembles_and_uses_the_floor() -> None:
    pred = seeds_table().assign(protocol="p", layout="l")
    pub = pd.DataFrame({"region_code": ["A", "A", "B", "B"], "year": [2010, 2011, 2010, 2011], "nqpf": [1.0, 3.0, 2.0, 1.5]})
    t = q.reproduction_table(pred, pub).iloc[0]
    assert t.n_undefined == 1 and t.n == 3  # B-2011 has a seed predicting <= 0: left out, counted
    assert t.mean_abs_diff == pytest.approx(0.0)  # A-2010 1.0, A-2011 3.0, B-2010 2.0 match exactly
    strict = q.reproduction_table(pred, pub, floor=0.45).iloc[0]  # A-2011: predictions 1.0 < 0.45 * 3.0
    assert strict.n_undefined == 2 and strict.n == 2


def test_missing_predictions_and_actuals_are_named() -> None:
    t = pd.DataFrame({"actual": [0.8, 0.0, np.nan, 0.8], "predicted": [np.nan, 0.5, 0.5, 0.8]})
    out = q.nqpf_ratio(t)
    assert out.reason.tolist() == ["missing prediction", "actual GTFP missing or <= 0", "actual GTFP missing or <= 0", ""]
    assert out.nqpf.isna().tolist() == [True, True, True, False]
