"""Tests for nqpf_helpers.robustness: variant grids, rank agreement, top-k overlap, flips, seed ensembles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nqpf_helpers import forecast as fc
from nqpf_helpers import robustness as rb
from nqpf_helpers.errors import InputError
from nqpf_helpers.validate import PanelError

FAST = fc.TrainConfig(epochs=30, drop_after=20, jit_compile=False)


def scores_frame(a: np.ndarray, names: list[str] | None = None) -> pd.DataFrame:
    names = names or [f"v{j}" for j in range(a.shape[1])]
    return pd.DataFrame(a, index=[f"u{i:03d}" for i in range(a.shape[0])], columns=names)


def gtfp_panel(n_units: int = 4, start: int = 1990, end: int = 2017, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(start, end + 1)
    logs = np.log(0.4) + np.cumsum(rng.normal(0.01, 0.05, (n_units, len(years))), axis=1)
    return pd.DataFrame(
        {"region_code": np.repeat([f"r{i}" for i in range(n_units)], len(years)), "year": np.tile(years, n_units),
         "gtfp": np.exp(logs).ravel()}
    )


def raw_panel(n_units: int = 8, start: int = 1990, end: int = 2012, seed: int = 1) -> pd.DataFrame:
    """Small input/output panel for the SBM stage: 2 inputs, 1 good, 1 bad output, all positive."""
    rng = np.random.default_rng(seed)
    years = np.arange(start, end + 1)
    n, T = n_units, len(years)
    lab = rng.uniform(1, 10, n)[:, None] * np.exp(np.cumsum(rng.normal(0.01, 0.03, (n, T)), axis=1))
    cap = rng.uniform(1, 10, n)[:, None] * np.exp(np.cumsum(rng.normal(0.03, 0.03, (n, T)), axis=1))
    gdp = lab**0.5 * cap**0.5 * np.exp(np.cumsum(rng.normal(0.01, 0.05, (n, T)), axis=1))
    so2 = gdp * rng.uniform(0.1, 1, (n, T))
    return pd.DataFrame(
        {"iso3": np.repeat([f"C{i:02d}" for i in range(n)], T), "year": np.tile(years, n),
         "labour": lab.ravel(), "capital": cap.ravel(), "gdp": gdp.ravel(), "so2": so2.ravel()}
    )


matrices = hnp.arrays(
    float,
    st.tuples(st.integers(3, 25), st.integers(1, 5)),
    elements=st.floats(0.05, 5.0, allow_nan=False, allow_subnormal=False),
)


# --------------------------------------------------------------------------- rank agreement
@settings(max_examples=60, deadline=None)
@given(a=matrices)
def test_spearman_matrix_is_symmetric_bounded_with_unit_diagonal(a: np.ndarray) -> None:
    s = scores_frame(a)
    if (np.ptp(a, axis=0) == 0).any():
        with pytest.raises(PanelError, match="same score"):
            rb.rank_agreement(s)
        return
    m = rb.rank_agreement(s).to_numpy()
    np.testing.assert_allclose(m, m.T)
    np.testing.assert_allclose(np.diag(m), 1.0)
    assert np.all(m <= 1.0) and np.all(m >= -1.0)


@settings(max_examples=60, deadline=None)
@given(ints=st.lists(st.integers(1, 10_000), min_size=3, max_size=30, unique=True))
def test_identical_and_monotone_transformed_variants_agree_fully_reversed_disagree(ints: list[int]) -> None:
    x = np.asarray(ints, dtype=float) / 1000  # distinct, and far enough apart to stay distinct when transformed
    s = scores_frame(np.column_stack([x, x, np.exp(x) + 7, 1 / x]), ["a", "same", "monotone", "reversed"])
    m = rb.rank_agreement(s)
    assert m.loc["a", "same"] == pytest.approx(1.0)
    assert m.loc["a", "monotone"] == pytest.approx(1.0)
    assert m.loc["a", "reversed"] == pytest.approx(-1.0)
    top = rb.top_k_overlap(s, k=min(3, len(x) - 1))
    assert top.loc["a", "same"] == 1.0 and top.loc["a", "monotone"] == 1.0
    assert top.loc["a", "reversed"] < 1.0


def test_spearman_matches_scipy_and_handles_ties() -> None:
    from scipy import stats

    rng = np.random.default_rng(3)
    a = np.round(rng.normal(size=(40, 3)), 1)  # rounding creates ties
    m = rb.rank_agreement(scores_frame(a))
    for i in range(3):
        for j in range(3):
            assert m.iloc[i, j] == pytest.approx(stats.spearmanr(a[:, i], a[:, j]).statistic)


def test_rank_agreement_rejects_missing_values_and_too_few_units() -> None:
    a = np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, 0.5]])
    with pytest.raises(PanelError, match="missing or infinite"):
        rb.rank_agreement(scores_frame(a))
    with pytest.raises(PanelError, match="at least 2"):
        rb.rank_agreement(scores_frame(np.array([[1.0, 2.0]])))


# --------------------------------------------------------------------------- top-k and flips
def test_top_k_overlap_counts_shared_units() -> None:
    s = scores_frame(np.array([[5, 1], [4, 5], [3, 4], [2, 3], [1, 2.0]]), ["a", "b"])
    # a's top 2: u000, u001; b's top 2: u001, u002 -> one in common
    assert rb.top_k_overlap(s, 2).loc["a", "b"] == 0.5
    assert rb.top_k_overlap(s, 5).loc["a", "b"] == 1.0
    with pytest.raises(ValueError, match="between 1 and"):
        rb.top_k_overlap(s, 6)


@settings(max_examples=60, deadline=None)
@given(a=matrices, k=st.integers(1, 3))
def test_top_k_overlap_is_a_symmetric_share_with_unit_diagonal(a: np.ndarray, k: int) -> None:
    m = rb.top_k_overlap(scores_frame(a), k).to_numpy()
    np.testing.assert_array_equal(m, m.T)
    np.testing.assert_array_equal(np.diag(m), 1.0)
    assert np.all((m >= 0) & (m <= 1))
    np.testing.assert_allclose(m * k, np.round(m * k))  # a whole number of shared units


@settings(max_examples=60, deadline=None)
@given(a=matrices)
def test_flip_share_counts_units_changing_sides_of_one(a: np.ndarray) -> None:
    m = rb.flip_share(scores_frame(a)).to_numpy()
    np.testing.assert_array_equal(m, m.T)
    np.testing.assert_array_equal(np.diag(m), 0.0)
    i, j = 0, a.shape[1] - 1
    expected = np.mean([(a[u, i] > 1) != (a[u, j] > 1) for u in range(a.shape[0])])
    assert m[i, j] == pytest.approx(expected)


def test_baseline_comparison_ranks_the_least_agreeing_variant_first() -> None:
    x = np.linspace(0.6, 1.4, 20)
    s = scores_frame(np.column_stack([x, x * 1.01, x[::-1]]), ["base", "close", "reversed"])
    table = rb.baseline_comparison(s, "base", choices={"close": "lags", "reversed": "rts"}, k=5)
    assert list(table.variant) == ["reversed", "close"]
    assert list(table.choice) == ["rts", "lags"]
    r = table.set_index("variant")
    assert r.loc["close", "spearman"] == pytest.approx(1.0) and r.loc["reversed", "spearman"] == pytest.approx(-1.0)
    assert r.loc["reversed", "top_k_overlap"] == 0.0
    # scores 0.99..1.0 move above 1 under a 1% scaling: these are the flips
    assert r.loc["close", "flip_share"] == pytest.approx(np.mean((x > 1) != (x * 1.01 > 1)))
    assert r.loc["close", "median_abs_log_change"] == pytest.approx(np.log(1.01))
    with pytest.raises(ValueError, match="not a column"):
        rb.baseline_comparison(s, "nope")


# --------------------------------------------------------------------------- unit scores
def test_unit_scores_geometric_mean_over_chosen_years() -> None:
    t = pd.DataFrame(
        {"variant": ["a"] * 4 + ["b"] * 4, "region_code": ["x", "x", "y", "y"] * 2, "year": [2009, 2010] * 4,
         "nqpf": [9.0, 2.0, 9.0, 0.5, 1.0, 4.0, 1.0, 1.0]}
    )
    s = rb.unit_scores(t, years=(2010, 2010))
    assert list(s.columns) == ["a", "b"]
    assert s.loc["x", "a"] == 2.0 and s.loc["y", "b"] == 1.0
    s_all = rb.unit_scores(t)
    assert s_all.loc["x", "a"] == pytest.approx(np.sqrt(18.0))
    assert rb.unit_scores(t, summary="mean").loc["y", "a"] == pytest.approx(4.75)


def test_unit_scores_rejects_bad_tables_with_a_fix() -> None:
    t = pd.DataFrame({"variant": ["a", "a", "b"], "region_code": ["x", "y", "x"], "year": 2010, "nqpf": [1.0, 2.0, 1.0]})
    with pytest.raises(PanelError, match="lack some unit-years"):
        rb.unit_scores(t)
    with pytest.raises(PanelError, match="duplicated"):
        rb.unit_scores(pd.concat([t, t]))
    neg = t.assign(nqpf=[-1.0, 2.0, 1.0])
    with pytest.raises(PanelError, match="summary='median'"):
        rb.unit_scores(neg)
    with pytest.raises(PanelError, match="no rows in years"):
        rb.unit_scores(t, years=(1990, 1991))
    with pytest.raises(PanelError, match="missing column"):
        rb.unit_scores(t.drop(columns="nqpf"))


def test_unit_scores_with_undefined_values_raise_or_drop_the_unit_everywhere() -> None:
    from nqpf_helpers.errors import NQPFWarning

    t = pd.DataFrame(
        {"variant": ["a"] * 6 + ["b"] * 6, "region_code": ["x", "x", "y", "y", "z", "z"] * 2,
         "year": [2010, 2011] * 6,
         "nqpf": [1.0, 2.0, 1.5, 1.5, 0.5, 0.7, 1.1, np.nan, 1.2, 1.4, 0.6, 0.6],
         "reason": [""] * 7 + ["1 of 5 seeds predict below floor 0.02 (0.05 x actual)"] + [""] * 4}
    )
    with pytest.raises(PanelError, match="undefined='drop'"):
        rb.unit_scores(t)
    gone = rb.undefined_units(t)
    assert gone.to_dict("records") == [
        {"variant": "b", "region_code": "x", "n_years": 1, "first_year": 2011,
         "reason": "1 of 5 seeds predict below floor 0.02 (0.05 x actual)"}
    ]
    with pytest.warns(NQPFWarning, match=r"1 unit\(s\) dropped.*x \(b: 1 of 5 seeds"):
        s = rb.unit_scores(t, undefined="drop")
    assert list(s.index) == ["y", "z"] and list(s.columns) == ["a", "b"]  # x gone from both variants
    assert rb.undefined_units(t, years=(2010, 2010)).empty
    assert list(rb.unit_scores(t, years=(2010, 2010)).index) == ["x", "y", "z"]
    with pytest.raises(InputError, match="undefined must be"):
        rb.unit_scores(t, undefined="ignore")


# --------------------------------------------------------------------------- grids
def test_one_at_a_time_changes_one_choice_per_variant() -> None:
    base = rb.Variant("baseline", seeds=2)
    grid = rb.one_at_a_time(base, lags=[3, 7], rts=["crs", "vrs"], seeds=[1, 3], seed=[5])
    assert [v.name for v in grid] == ["baseline", "lags=3", "lags=7", "rts=crs", "seeds=1", "seeds=3", "seeds=5..6"]
    assert grid[-1].seed_values() == (5, 6) and grid[-2].seed_values() == (0, 1, 2)
    for v in grid[1:]:
        diff = [f for f in ("lags", "rts", "seeds", "seed") if getattr(v, f) != getattr(base, f)]
        assert diff == [v.choice]
    with pytest.raises(ValueError, match="unknown choice"):
        rb.one_at_a_time(base, epochs=[10])


def test_seeds_is_a_count_and_seed_a_base() -> None:
    from nqpf_helpers.errors import InputError

    assert rb.Variant("v", seeds=3, seed=7).seed_values() == (7, 8, 9)
    for bad in (dict(seeds=0), dict(seeds=(0, 1)), dict(seeds=2.0), dict(seed=-1), dict(seed=True)):
        with pytest.raises(InputError, match="seed"):
            rb.run_variants([rb.Variant("v", **bad)], gtfp=gtfp_panel(2))


def test_variant_spec_applies_overrides_and_rejects_meaningless_ones() -> None:
    spec = rb.Variant("v", lags=7, train_until=2005, layout="features").spec()
    assert (spec.lags, spec.train_until, spec.layout, spec.transform) == (7, 2005, "features", "log_growth")
    d = rb.Variant("v", seeds=2, seed=3).describe()
    assert (d["lags"], d["train_until"], d["layout"], d["seeds"]) == (fc.LAGS, 2009, "sequence", 2)
    assert rb.Variant("v", protocol="released_current").describe()["train_until"] is None
    # the DEA window is named apart from the LSTM's lags and shown only for a window frontier
    assert "window" not in d and d["frontier_window_years"] is None
    assert rb.Variant("v", frontier="window", window=4).describe()["frontier_window_years"] == 4
    with pytest.raises(ValueError, match="has no effect"):
        rb.Variant("v", protocol="released_current", train_until=2005).spec()
    with pytest.raises(ValueError, match="unknown protocol"):
        rb.Variant("v", protocol="nope").spec()


def test_run_variants_on_gtfp_identical_variants_give_identical_rankings(monkeypatch) -> None:
    calls = []
    real = fc.forecast_growth_path

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fc, "forecast_growth_path", counting)
    base = rb.Variant("baseline", seeds=2)
    grid = [base, rb.Variant("copy", choice="none", seeds=2), rb.Variant("lags=3", choice="lags", lags=3, seeds=2)]
    out = rb.run_variants(grid, gtfp=gtfp_panel(5), config=FAST)
    assert len(calls) == 2  # the copy reuses the baseline's paths
    assert {"variant", "choice", "region_code", "year", "nqpf", "n_seeds"} <= set(out.columns)
    assert (out.n_seeds == 2).all()
    assert out[out.variant == "lags=3"].year.min() == 1993 and out[out.variant == "baseline"].year.min() == 1995
    s = rb.unit_scores(out, years=(2010, 2017))
    m = rb.rank_agreement(s)
    assert m.loc["baseline", "copy"] == pytest.approx(1.0)
    assert rb.flip_share(s).loc["baseline", "copy"] == 0.0


def test_run_variants_sbm_options_need_a_raw_panel() -> None:
    grid = rb.one_at_a_time(rb.Variant("baseline", seeds=1), rts=["crs"])
    with pytest.raises(ValueError, match="pass the raw input panel"):
        rb.run_variants(grid, gtfp=gtfp_panel(3), config=FAST)
    with pytest.raises(ValueError, match="exactly one"):
        rb.run_variants(grid, config=FAST)
    with pytest.raises(ValueError, match="unique"):
        rb.run_variants([grid[0], grid[0]], gtfp=gtfp_panel(3), config=FAST)


def test_run_variants_on_a_raw_panel_varies_the_sbm_stage() -> None:
    panel = raw_panel()
    grid = rb.one_at_a_time(rb.Variant("baseline", seeds=1), rts=["crs"], frontier=["contemporaneous"])
    out = rb.run_variants(grid, panel=panel, inputs=["labour", "capital"], good=["gdp"], bad=["so2"], unit="iso3",
                          config=FAST)
    assert set(out.variant) == {"baseline", "rts=crs", "frontier=contemporaneous"}
    actual = out.pivot_table(index=["iso3", "year"], columns="variant", values="actual")
    # the GTFP itself differs between SBM variants, and CRS scores never exceed VRS scores
    assert (actual["rts=crs"] <= actual["baseline"] + 1e-9).all()
    assert (actual["rts=crs"] - actual["baseline"]).abs().max() > 1e-6
    assert (actual["frontier=contemporaneous"] - actual["baseline"]).abs().max() > 1e-6
    with pytest.raises(ValueError, match="name the SBM columns"):
        rb.run_variants(grid, panel=panel, unit="iso3", config=FAST)


# --------------------------------------------------------------------------- seed ensembles
def seed_predictions(n_units: int = 12, n_seeds: int = 8, noise: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Predictions = a unit-specific true path x seed noise, so that more seeds mean less noise."""
    rng = np.random.default_rng(seed)
    years = np.arange(2010, 2015)
    truth = np.exp(rng.normal(0, 0.3, n_units))
    rows = []
    for s in range(n_seeds):
        pred = np.exp(rng.normal(0, noise, (n_units, len(years))))
        for u in range(n_units):
            rows.append(pd.DataFrame({"region_code": f"r{u:02d}", "year": years, "seed": s,
                                      "actual": truth[u], "predicted": pred[u]}))
    return pd.concat(rows, ignore_index=True)


def test_identical_seeds_give_perfectly_stable_rankings() -> None:
    p = seed_predictions(noise=0.0)
    out = rb.seed_ensemble_agreement(p, (1, 2, 4), n_draws=3)
    assert set(out["size"]) == {1, 2, 4} and len(out) == 9
    np.testing.assert_allclose(out.spearman_between, 1.0)
    np.testing.assert_allclose(out.spearman_vs_reference, 1.0)
    assert (out.flip_between == 0).all() and (out.n_reference == 4).all()


def test_larger_ensembles_agree_more_when_seeds_are_noisy() -> None:
    p = seed_predictions(n_units=40, n_seeds=20, noise=0.6, seed=2)
    out = rb.seed_ensemble_agreement(p, (1, 10), n_draws=10).groupby("size").mean()
    assert out.loc[10, "spearman_between"] > out.loc[1, "spearman_between"]
    assert out.loc[10, "spearman_vs_reference"] > out.loc[1, "spearman_vs_reference"]


def test_seed_ensemble_needs_enough_seeds() -> None:
    p = seed_predictions(n_seeds=8)
    with pytest.raises(ValueError, match="train at least 10"):
        rb.seed_ensemble_agreement(p, (1, 5))
    with pytest.raises(ValueError, match="positive integers"):
        rb.seed_ensemble_agreement(p, (0, 2))
    with pytest.raises(PanelError, match="missing column"):
        rb.seed_ensemble_agreement(p.drop(columns="seed"), (1,))
    with pytest.raises(PanelError, match="exactly once"):
        rb.seed_ensemble_agreement(p.iloc[1:], (1,))


def test_seed_ensembles_follow_the_package_rule_for_collapsed_seeds() -> None:
    """A unit one of whose seeds collapses below the floor drops out of an ensemble holding that seed,
    exactly as nqpf.ensemble_nqpf would make its NQPF NaN (no switch to an arithmetic mean)."""
    from nqpf_helpers import nqpf as q

    p = seed_predictions(n_units=12, n_seeds=4, noise=0.2, seed=3)
    hit = (p.region_code == "r00") & (p.seed == 0)
    p.loc[hit, "predicted"] = -0.2  # seed 0 collapses for unit r00
    e = q.ensemble_nqpf(p)
    assert e[e.region_code == "r00"].nqpf.isna().all() and e[e.region_code != "r00"].nqpf.notna().all()
    out = rb.seed_ensemble_agreement(p, (2,), n_draws=6)
    # A = the first 2 of a shuffle: it holds seed 0 in half the draws on average; then r00 is unscored
    assert set(out.n_units) <= {11, 12} and (out.n_units == 11).any()
    assert out.spearman_between.notna().all()


def test_rank_agreement_matches_scipy_spearman() -> None:
    from scipy import stats

    a = np.random.default_rng(5).normal(size=(30, 3))
    a[:5, 1] = a[0, 1]  # ties
    rho = rb.rank_agreement(scores_frame(a)).to_numpy()
    np.testing.assert_allclose(rho, stats.spearmanr(a).statistic, atol=1e-12)
