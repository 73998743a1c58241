"""Tests for nqpf_helpers.indices: distance functions and the Malmquist-Luenberger family.

The fast path is compared with the readable cvxpy model and, for the
directional distance function, with an independent scipy.optimize.linprog
formulation; toy cases are checked against hand calculations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from nqpf_helpers.errors import InputError
from nqpf_helpers.indices import cumulate, ddf_cvxpy, distances, productivity_index

COLS = dict(inputs=["x1", "x2"], good=["y"], bad=["b"])


def _panel(rng: np.random.Generator, units: int, periods: int, spread: float = 1.0) -> pd.DataFrame:
    n = units * periods
    data = np.exp(rng.normal(0, spread, size=(n, 4))) * np.array([1.0, 100.0, 10.0, 0.5])
    return pd.DataFrame({"u": np.tile(np.arange(units), periods), "t": np.repeat(2000 + np.arange(periods), units),
                         "x1": data[:, 0], "x2": data[:, 1], "y": data[:, 2], "b": data[:, 3]})


def _linprog_ddf(point, X, Y, B, rts):
    """Independent DDF: variables [lam (n), beta], maximise beta."""
    xo, yo, bo = point
    n = X.shape[0]
    c = np.r_[np.zeros(n), -1.0]
    A_ub = np.vstack([np.c_[X.T, np.zeros(X.shape[1])], np.c_[-Y.T, yo]])
    b_ub = np.r_[xo, -yo]
    A_eq = np.c_[B.T, bo]
    b_eq = bo.copy()
    if rts == "vrs":
        A_eq = np.vstack([A_eq, np.r_[np.ones(n), 0.0]])
        b_eq = np.r_[b_eq, 1.0]
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq,
                  bounds=[(0, None)] * n + [(None, None)], method="highs")
    return -res.fun if res.status == 0 else np.nan


def _arrays(df):
    return df[["x1", "x2"]].to_numpy(), df[["y"]].to_numpy(), df[["b"]].to_numpy()


# --------------------------------------------------------------------------- hand-checked toys


def test_ddf_toy_by_hand():
    # reference R = (x=1, y=2, b=1); point o = (1, 1, 1)
    X, Y, B = np.array([[1.0]]), np.array([[2.0]]), np.array([[1.0]])
    o = (np.array([1.0]), np.array([1.0]), np.array([1.0]))
    # CRS: lam <= 1, 2 lam >= 1 + beta, lam = 1 - beta  ->  beta = 1/3
    assert ddf_cvxpy(o, X, Y, B, rts="crs")["value"] == pytest.approx(1 / 3, abs=1e-9)
    # VRS: lam = 1 forces b: 1 = 1 - beta  ->  beta = 0
    assert ddf_cvxpy(o, X, Y, B, rts="vrs")["value"] == pytest.approx(0.0, abs=1e-9)
    # SBM-DDF, CRS: objective 1/2 [ (1 - lam) + 1/2 ((2 lam - 1) + (1 - lam)) ], lam in [1/2, 1] -> 3/8
    assert ddf_cvxpy(o, X, Y, B, rts="crs", model="sbm")["value"] == pytest.approx(3 / 8, abs=1e-9)


def test_fast_path_toy_by_hand():
    df = pd.DataFrame({"u": ["R", "o"], "t": [1, 1], "x": [1.0, 1.0], "y": [2.0, 1.0], "b": [1.0, 1.0]})
    d = distances(df, unit="u", time="t", inputs=["x"], good=["y"], bad=["b"], rts="crs")
    assert d.set_index("u").loc["o", "distance"] == pytest.approx(1 / 3, abs=1e-9)
    assert d.set_index("u").loc["R", "distance"] == pytest.approx(0.0, abs=1e-9)
    s = distances(df, unit="u", time="t", inputs=["x"], good=["y"], bad=["b"], rts="crs", model="sbm")
    assert s.set_index("u").loc["o", "distance"] == pytest.approx(3 / 8, abs=1e-9)


def test_ml_toy_frontier_shift_by_hand():
    # one frontier unit F and one unit o; between periods F's output doubles,
    # o stays put.  CRS, 1 input, 1 good, 1 bad (all 1 except outputs).
    df = pd.DataFrame({"u": ["F", "o", "F", "o"], "t": [1, 1, 2, 2], "x": [1.0] * 4,
                       "y": [2.0, 1.0, 4.0, 1.0], "b": [1.0] * 4})
    r = productivity_index(df, unit="u", time="t", inputs=["x"], good=["y"], bad=["b"], index="ml", rts="crs")
    o = r.set_index("u").loc["o"]
    # D^1(o) = 1/3 (see above); D^2(o): 4 lam >= 1 + beta, lam = 1 - beta -> beta = 3/5
    assert o["d_t_t"] == pytest.approx(1 / 3) and o["d_t1_t1"] == pytest.approx(3 / 5)
    assert o["ec"] == pytest.approx((4 / 3) / (8 / 5))
    # o's data did not move, so D^1(2) = D^1(1) and D^2(1) = D^2(2): the frontier
    # shift (TC = (8/5)/(4/3)) exactly offsets the lost efficiency, ML = 1
    assert o["tc"] == pytest.approx((8 / 5) / (4 / 3))
    assert o["ml"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- fast = cvxpy = linprog


@pytest.mark.parametrize("rts", ["vrs", "crs"])
@pytest.mark.parametrize("model", ["ddf", "sbm"])
def test_fast_global_matches_cvxpy_and_linprog(rts, model):
    df = _panel(np.random.default_rng(3), 20, 3, spread=1.2)
    d = distances(df, unit="u", time="t", **COLS, model=model, rts=rts)
    panel = df.sort_values(["u", "t"]).reset_index(drop=True)
    X, Y, B = _arrays(panel)
    for i in range(len(panel)):
        point = (X[i], Y[i], B[i])
        ref = ddf_cvxpy(point, X, Y, B, rts=rts, model=model)["value"]
        assert d["distance"].iloc[i] == pytest.approx(ref, abs=1e-6)
        if model == "ddf":
            assert d["distance"].iloc[i] == pytest.approx(_linprog_ddf(point, X, Y, B, rts), abs=1e-6)


def test_column_generation_matches_full_model():
    # 300 units x 2 periods: the global reference set (600) is solved by column generation
    df = _panel(np.random.default_rng(5), 300, 2, spread=0.8)
    d = distances(df, unit="u", time="t", **COLS)
    panel = df.sort_values(["u", "t"]).reset_index(drop=True)
    X, Y, B = _arrays(panel)
    for i in np.random.default_rng(0).choice(len(panel), 25, replace=False):
        assert d["distance"].iloc[i] == pytest.approx(_linprog_ddf((X[i], Y[i], B[i]), X, Y, B, "vrs"), abs=1e-6)


@pytest.mark.parametrize("index", ["ml", "luenberger"])
def test_mixed_period_distances_match_linprog(index):
    df = _panel(np.random.default_rng(11), 25, 3, spread=0.6)
    r = productivity_index(df, unit="u", time="t", **COLS, index=index)
    for _, row in r.iterrows():
        a = df[(df.t == row["base"])]
        b = df[(df.t == row["t"])]
        o_a = a[a.u == row["u"]]
        o_b = b[b.u == row["u"]]
        pa = tuple(v[0] for v in _arrays(o_a))
        pb = tuple(v[0] for v in _arrays(o_b))
        ref_ab = _linprog_ddf(pb, *_arrays(a), "vrs")
        ref_ba = _linprog_ddf(pa, *_arrays(b), "vrs")
        np.testing.assert_allclose(row["d_t_t1"], ref_ab, atol=1e-6, equal_nan=True)
        np.testing.assert_allclose(row["d_t1_t"], ref_ba, atol=1e-6, equal_nan=True)
        assert (row["reason"] == "") == (np.isfinite(ref_ab) and np.isfinite(ref_ba)
                                         and (index == "luenberger" or min(ref_ab, ref_ba) > -1))


def test_world_panel_subset_matches_cvxpy(data_dir):
    from nqpf_helpers.data import load_world_panel

    world = load_world_panel(2005, 2007)
    keep = sorted(world["iso3"].unique())[::6]  # ~28 countries
    df = world[world["iso3"].isin(keep)]
    cols = dict(inputs=["labour", "capital"], good=["gdp"], bad=["so2", "nox", "smoke"])
    r = productivity_index(df, unit="iso3", time="year", **cols, index="gml")
    assert len(r) == 2 * len(keep) and (r["reason"] == "").all()
    pooled = df.sort_values(["iso3", "year"])
    X, Y, B = (pooled[c].to_numpy(float) for c in (cols["inputs"], cols["good"], cols["bad"]))
    rows = {(u, t): i for i, (u, t) in enumerate(zip(pooled["iso3"], pooled["year"]))}
    for _, row in r.sample(12, random_state=1).iterrows():
        i = rows[(row["iso3"], row["year"])]
        ref = ddf_cvxpy((X[i], Y[i], B[i]), X, Y, B)["value"]
        assert row["d_g_t1"] == pytest.approx(ref, abs=1e-6)
        assert row["d_g_t1"] == pytest.approx(_linprog_ddf((X[i], Y[i], B[i]), X, Y, B, "vrs"), abs=1e-6)
    s = productivity_index(df, unit="iso3", time="year", **cols, index="sbm-gml")
    for _, row in s.sample(8, random_state=2).iterrows():
        i = rows[(row["iso3"], row["year"])]
        ref = ddf_cvxpy((X[i], Y[i], B[i]), X, Y, B, model="sbm")["value"]
        assert row["d_g_t1"] == pytest.approx(ref, abs=1e-6)


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("index", ["gml", "sbm-gml"])
def test_global_index_is_ec_times_bpc_and_chains(index):
    df = _panel(np.random.default_rng(7), 15, 5)
    r = productivity_index(df, unit="u", time="t", **COLS, index=index)
    name = index.replace("-", "_")
    np.testing.assert_allclose(r[name], r["ec"] * r["bpc"], rtol=1e-12)
    assert (r["reason"] == "").all() and r[name].notna().all()
    cum = cumulate(r, unit="u", time="t")
    g = distances(df, unit="u", time="t", **COLS, model="sbm" if index == "sbm-gml" else "ddf")
    for u in range(15):
        dg = g[g.u == u].set_index("t")["distance"]
        last = cum[cum.u == u].set_index("t")["cumulative"]
        # telescoping: the chained global index is (1 + D^G(first)) / (1 + D^G(last))
        assert last.iloc[-1] == pytest.approx((1 + dg.iloc[0]) / (1 + dg.iloc[-1]), rel=1e-9)
        assert last.iloc[0] == 1.0


def test_ml_and_luenberger_decompose():
    df = _panel(np.random.default_rng(8), 20, 3, spread=0.5)
    ml = productivity_index(df, unit="u", time="t", **COLS, index="ml")
    ok = ml["reason"] == ""
    assert ok.sum() > 10
    np.testing.assert_allclose(ml.loc[ok, "ml"], ml.loc[ok, "ec"] * ml.loc[ok, "tc"], rtol=1e-12)
    lu = productivity_index(df, unit="u", time="t", **COLS, index="luenberger")
    okl = lu["reason"] == ""
    np.testing.assert_allclose(lu.loc[okl, "luenberger"], lu.loc[okl, "ec"] + lu.loc[okl, "tc"], atol=1e-12)
    # NaN exactly where a reason is given
    assert (ml["ml"].isna() == ~ok).all() and (lu["luenberger"].isna() == ~okl).all()


@pytest.mark.parametrize("index", ["ml", "gml", "luenberger", "sbm-gml"])
def test_unchanged_data_gives_no_change(index):
    one = _panel(np.random.default_rng(9), 12, 1)
    df = pd.concat([one, one.assign(t=2001), one.assign(t=2002)], ignore_index=True)
    r = productivity_index(df, unit="u", time="t", **COLS, index=index)
    neutral = 0.0 if index == "luenberger" else 1.0
    name = index.replace("-", "_")
    np.testing.assert_allclose(r[name], neutral, atol=1e-9)
    np.testing.assert_allclose(r["ec"], neutral, atol=1e-9)


def test_infeasible_mixed_period_is_nan_with_reason():
    # VRS: in period 2 unit 'z' uses less input than anyone in period 1 -> D^1(2) infeasible
    df = pd.DataFrame({"u": ["a", "b", "z"] * 2, "t": [1, 1, 1, 2, 2, 2],
                       "x": [2.0, 3.0, 4.0, 2.0, 3.0, 0.5], "y": [1.0, 2.0, 2.5, 1.0, 2.0, 1.0],
                       "b": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]})
    r = productivity_index(df, unit="u", time="t", inputs=["x"], good=["y"], bad=["b"], index="ml")
    z = r.set_index("u").loc["z"]
    assert np.isnan(z["ml"]) and np.isnan(z["tc"]) and np.isnan(z["d_t_t1"])
    assert "infeasible" in z["reason"] and "outside" in z["reason"]
    assert np.isfinite(z["ec"])  # own-period distances are always defined
    g = productivity_index(df, unit="u", time="t", inputs=["x"], good=["y"], bad=["b"], index="gml")
    assert g["gml"].notna().all()  # the global frontier contains every observation


def test_cumulate_breaks_chain_at_nan():
    r = pd.DataFrame({"u": ["a"] * 3, "t": [2, 3, 4], "base": [1, 2, 3], "ml": [1.1, np.nan, 1.2]})
    c = cumulate(r, unit="u", time="t")
    assert c["t"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(c["cumulative"], [1.0, 1.1, np.nan, np.nan])
    lu = cumulate(r.rename(columns={"ml": "luenberger"}).fillna(0.0), unit="u", time="t")
    np.testing.assert_allclose(lu["cumulative"], [0.0, 1.1, 1.1, 2.3])  # the Luenberger indicator adds up
    with pytest.raises(InputError, match="exactly one index column"):
        cumulate(r.assign(gml=1.0), unit="u", time="t")
    with pytest.raises(InputError, match=r"missing column\(s\) \['region_code', 'year'\]"):
        cumulate(r)


def test_backends_give_identical_numbers():
    df = _panel(np.random.default_rng(12), 30, 3)
    a = productivity_index(df, unit="u", time="t", **COLS, index="ml", backend="sequential")
    b = productivity_index(df, unit="u", time="t", **COLS, index="ml", backend="loky", n_jobs=2)
    pd.testing.assert_frame_equal(a, b)


def test_bad_input_is_named():
    df = _panel(np.random.default_rng(1), 5, 2)
    with pytest.raises(InputError, match="index must be one of"):
        productivity_index(df, unit="u", time="t", **COLS, index="malmquist")
    with pytest.raises(InputError, match="rts must be one of"):
        productivity_index(df, unit="u", time="t", **COLS, rts="nirs")
    with pytest.raises(InputError, match="at least two periods"):
        productivity_index(df[df.t == 2000], unit="u", time="t", **COLS)
    with pytest.raises(InputError, match="backend must be one of"):
        productivity_index(df, unit="u", time="t", **COLS, backend="spark")
    with pytest.raises(InputError):
        productivity_index(df.assign(x1=-df.x1), unit="u", time="t", **COLS)


def test_strong_disposability_relaxes_the_bad_output_equality() -> None:
    """Free disposal of bads is a relaxation: the distance never falls, and rises where the equality binds."""
    rng = np.random.default_rng(5)
    X, Y, B = rng.uniform(1, 10, (25, 2)), rng.uniform(1, 10, (25, 1)), rng.uniform(1, 10, (25, 2))
    weak = np.array([ddf_cvxpy((X[i], Y[i], B[i]), X, Y, B)["value"] for i in range(25)])
    strong = np.array([ddf_cvxpy((X[i], Y[i], B[i]), X, Y, B, disposability="strong")["value"] for i in range(25)])
    assert np.all(strong >= weak - 1e-9)
    assert np.any(strong > weak + 1e-3)


def test_unknown_disposability_is_named() -> None:
    X = np.ones((2, 1))
    with pytest.raises(InputError, match="disposability must be 'weak'"):
        ddf_cvxpy((X[0], X[0], X[0]), X, X, X, disposability="free")
