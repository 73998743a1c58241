"""Tests for nqpf_helpers.nqpf: the ratio, seed ensembles and bands, comparisons with published values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import nqpf as q
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


def test_nqpf_ratio_and_nonpositive_flag() -> None:
    out = q.nqpf_ratio(seeds_table())
    np.testing.assert_allclose(out.nqpf, out.actual / out.predicted)
    assert out.predicted_nonpositive.sum() == 1
    assert out.loc[out.predicted_nonpositive, "nqpf"].iloc[0] == pytest.approx(-2.0)
    with pytest.raises(PanelError, match="missing column"):
        q.nqpf_ratio(pd.DataFrame({"actual": [1.0]}))


def test_ensemble_uses_geometric_mean_and_falls_back_when_a_seed_is_nonpositive() -> None:
    e = q.ensemble_nqpf(seeds_table()).set_index(["region_code", "year"])
    assert e.loc[("A", 2010), "predicted"] == pytest.approx(2.0)  # (1 * 2 * 4) ** (1/3)
    assert e.loc[("A", 2010), "nqpf"] == pytest.approx(1.0)
    assert bool(e.loc[("B", 2011), "predicted_nonpositive"])
    assert e.loc[("B", 2011), "predicted"] == pytest.approx(1.0 / 3.0)
    assert (e.n_seeds == 3).all() and (e.split == "test").all()


def test_seed_band_and_summary() -> None:
    band = q.seed_band(seeds_table(), lower=0.0, upper=1.0).set_index(["region_code", "year"])
    a10 = band.loc[("A", 2010)]
    assert a10.nqpf_lo == pytest.approx(0.5) and a10.nqpf_hi == pytest.approx(2.0)
    assert a10.nqpf_sd == pytest.approx(np.std([2.0, 1.0, 0.5], ddof=1))
    assert a10.share_above_one == pytest.approx(1 / 3) and a10.seeds_disagree
    assert not band.loc[("A", 2011), "seeds_disagree"] and band.loc[("A", 2011), "nqpf_sd"] == 0
    s = q.seed_variability_summary(band.reset_index())
    assert s.n_seeds == 3 and s.region_years == 4
    # A-2010 and B-2011 (NQPF -2, 2, 1) have seeds on both sides of 1
    assert s.share_disagree_above_one == pytest.approx(0.5)


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
