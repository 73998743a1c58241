"""Tests for nqpf_helpers.bootstrap: the machinery of the m-out-of-n bootstrap.

Coverage itself is a Monte Carlo question (benchmarks/bootstrap_coverage.py);
these tests check the scores against the cvxpy SBM model, the interval
formula against a direct computation, the determinism across backends and
the variance split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers.bootstrap import (
    BootstrapResult,
    bootstrap_panels,
    convergence_rate,
    nqpf_intervals,
    sbm_bootstrap,
    subsample_scores,
    subsample_size,
)
from nqpf_helpers.errors import InputError
from nqpf_helpers.sbm import sbm_cvxpy


def _data(rng, n):
    X = rng.uniform(1, 10, (n, 2))
    B = rng.uniform(1, 10, (n, 1))
    Y = (X[:, :1] ** 0.3 * X[:, 1:] ** 0.3 * B**0.2) * np.exp(-np.abs(rng.normal(0, 0.3, (n, 1))))
    return X, Y, B


def _reference_score(X, Y, B, S, o):
    """SBM of unit o against S plus o, or super-efficiency against S when o is undominated."""
    in_s = o in set(S)
    R = np.array(S if in_s else [*S, o])
    k = list(R).index(o)
    rho = sbm_cvxpy(X[R], Y[R], B[R], k)["rho"]
    if rho >= 1 - 1e-9 and not in_s:
        rho = sbm_cvxpy(X[R], Y[R], B[R], k, super_efficiency=True)["rho"]
    return rho


def test_rules():
    assert subsample_size(1000, 0.7) == round(1000**0.7)
    assert subsample_size(1000) == round(1000**0.6)
    assert subsample_size(10, 0.99) == 9  # never the whole sample
    assert convergence_rate(2, 2, "vrs") == pytest.approx(2 / 5)
    assert convergence_rate(2, 2, "crs") == pytest.approx(2 / 4)
    with pytest.raises(InputError, match="kappa"):
        subsample_size(100, 1.2)


def test_scores_match_cvxpy_full_and_subsample():
    rng = np.random.default_rng(0)
    X, Y, B = _data(rng, 40)
    rho_hat, rho_star, m = subsample_scores(X, Y, B, n_boot=2, kappa=0.8, seed=3, backend="sequential")
    full = [sbm_cvxpy(X, Y, B, o)["rho"] for o in range(40)]
    np.testing.assert_allclose(rho_hat, full, atol=1e-6)
    S = np.random.default_rng(3).choice(40, size=m, replace=False)  # the first subsample drawn
    ref = [_reference_score(X, Y, B, list(S), o) for o in range(40)]
    np.testing.assert_allclose(rho_star[:, 0], ref, atol=1e-6)
    assert (rho_star[:, 0] > 1).any()  # some units lie outside the subsample's frontier
    assert (rho_star >= rho_hat[:, None] - 1e-9).all()  # a smaller reference set never lowers a score


def test_interval_formula_and_bias_correction():
    rng = np.random.default_rng(1)
    X, Y, B = _data(rng, 60)
    df = pd.DataFrame({"u": range(60), "x1": X[:, 0], "x2": X[:, 1], "y": Y[:, 0], "b": B[:, 0]})
    out, D = sbm_bootstrap(df, unit="u", time=None, inputs=["x1", "x2"], good=["y"], bad=["b"], n_boot=30,
                           seed=5, backend="sequential", draws=True)
    rho_hat, rho_star, m = subsample_scores(X, Y, B, n_boot=30, seed=5, backend="sequential")
    assert (out["m"] == m).all() and m == round(60**0.6)
    a = (m / 60) ** (2 / 5)
    c = rho_star / rho_hat[:, None] - 1
    np.testing.assert_allclose(out["lower"], np.clip(rho_hat / (1 + a * np.quantile(c, 0.95, axis=1)), 0, 1))
    np.testing.assert_allclose(out["upper"], np.clip(rho_hat / (1 + a * np.quantile(c, 0.05, axis=1)), 0, 1))
    assert (out["lower"] <= out["rho"] + 1e-12).all()
    assert (out["rho_bc"] <= out["rho"] + 1e-12).all()  # the correction removes the upward bias
    assert D.shape == (60, 30) and out.attrs == {}
    pd.testing.assert_frame_equal(out, sbm_bootstrap(df, unit="u", time=None, inputs=["x1", "x2"], good=["y"],
                                                     bad=["b"], n_boot=30, seed=5, backend="sequential"))
    np.testing.assert_allclose(D, np.minimum(rho_hat[:, None] / (1 + a * c), 1.0))


def test_backends_give_identical_numbers():
    rng = np.random.default_rng(2)
    X, Y, B = _data(rng, 30)
    df = pd.DataFrame({"u": np.tile(range(15), 2), "year": np.repeat([1, 2], 15), "x1": X[:, 0], "x2": X[:, 1],
                       "y": Y[:, 0], "b": B[:, 0]})
    kw = dict(unit="u", inputs=["x1", "x2"], good=["y"], bad=["b"], n_boot=8, seed=1)
    a = sbm_bootstrap(df, backend="sequential", **kw)
    b = sbm_bootstrap(df, backend="loky", n_jobs=2, **kw)
    pd.testing.assert_frame_equal(a, b)
    res = sbm_bootstrap(df, backend="sequential", draws=True, **kw)
    assert isinstance(res, BootstrapResult) and res.table.equals(res[0])
    p = bootstrap_panels(*res, unit="u", time="year")
    assert len(p) == 8 * 30 and set(p["draw"]) == set(range(8))
    assert ((p["gtfp"] > 0) & (p["gtfp"] <= 1)).all()


def test_nqpf_variance_split_adds_up():
    rng = np.random.default_rng(4)
    rows = []
    for d in range(20):
        shift = rng.normal(0, 0.2)
        for s in range(5):
            rows.append({"unit": "A", "year": 2000, "draw": d, "seed": s, "nqpf": 1 + shift + rng.normal(0, 0.05)})
    out = nqpf_intervals(pd.DataFrame(rows), unit="unit")
    r = out.iloc[0]
    assert r["var_total"] == pytest.approx(r["var_gtfp"] + r["var_seed"], rel=1e-12)
    assert r["dominant"] == "gtfp" and r["lower"] < r["mean"] < r["upper"]


def test_bad_input_is_named():
    df = pd.DataFrame({"u": range(5), "x": [1.0, 2, 3, 4, 5], "y": [1.0, 2, 2, 3, 1]})
    with pytest.raises(InputError, match="alpha"):
        sbm_bootstrap(df, unit="u", time=None, inputs=["x"], good=["y"], alpha=2)
    with pytest.raises(InputError, match="frontier"):
        sbm_bootstrap(df, unit="u", time=None, inputs=["x"], good=["y"], frontier="window")
    with pytest.raises(InputError, match=r"one row per row of the table \(5\).*draws=True"):
        bootstrap_panels(df, np.zeros((4, 3)), unit="u", time="year")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['year'\]"):
        bootstrap_panels(df, np.zeros((5, 3)), unit="u", time="year")


def test_nqpf_intervals_undefined_values_are_not_dropped():
    rows = [{"unit": u, "year": 2000, "draw": d, "seed": s, "nqpf": 1.0 + 0.1 * d + 0.01 * s}
            for u in ("A", "B") for d in range(4) for s in range(3)]
    df = pd.DataFrame(rows)
    df.loc[(df["unit"] == "B") & (df["draw"] == 2) & (df["seed"] == 1), "nqpf"] = np.nan
    out = nqpf_intervals(df, unit="unit").set_index("unit")
    assert out.loc["A", "n_undefined"] == 0 and out.loc["A", "dominant"] == "gtfp"
    assert np.isfinite(out.loc["A", ["mean", "lower", "upper", "share_gtfp"]].astype(float)).all()
    assert out.loc["B", "n_undefined"] == 1 and out.loc["B", "dominant"] == ""
    assert out.loc["B", ["mean", "lower", "upper", "var_gtfp", "var_seed", "share_gtfp"]].isna().all()


@pytest.mark.parametrize("rts", ["vrs", "crs"])
def test_reused_bases_give_the_scores_of_solved_programmes(monkeypatch, rts):
    import nqpf_helpers.bootstrap as bs

    rng = np.random.default_rng(7)
    X, Y, B = _data(rng, 300)
    B = np.hstack([B, rng.uniform(1, 10, (300, 1))])
    Z = np.hstack([X, Y, B])
    samples = np.stack([rng.choice(300, size=40, replace=False) for _ in range(3)])
    monkeypatch.setattr(bs, "BATCH_SIMPLEX", False)  # the one-point-at-a-time HiGHS path
    monkeypatch.setattr(bs, "REUSE_BASES", False)
    solved = bs._scores_task(Z, Z, (2, 1, 2), rts, samples)
    calls = []
    original = bs._SBMPoint.score_ordinary
    monkeypatch.setattr(bs._SBMPoint, "score_ordinary", lambda self, z: calls.append(1) or original(self, z))
    monkeypatch.setattr(bs, "REUSE_BASES", True)
    reused = bs._scores_task(Z, Z, (2, 1, 2), rts, samples)
    np.testing.assert_allclose(reused, solved, rtol=0, atol=1e-9)
    assert (reused > 1).any() and (reused < 1).any()
    assert len(calls) < 0.8 * Z.shape[0] * len(samples)  # some programmes were not solved


# --------------------------------------------------------------------------
# The vectorised simplex (all points of a subsample at once)
# --------------------------------------------------------------------------


def _panel_with_outliers(rng, n, n_bad=2):
    """Random panel with a few units far beyond everyone (super-efficient) and some zero bad outputs."""
    X = rng.uniform(1, 10, (n, 2))
    B = rng.uniform(1, 10, (n, n_bad))
    Y = (X[:, :1] ** 0.3 * X[:, 1:] ** 0.3 * B[:, :1] ** 0.2) * np.exp(-np.abs(rng.normal(0, 0.3, (n, 1))))
    Y[:3] *= 3.0  # three units well above the frontier of any subsample
    B[3:6, -1] = 0.0  # a zero bad output drops its ratio term
    return X, Y, B


@pytest.mark.parametrize("rts", ["vrs", "crs"])
def test_batch_scores_match_cvxpy_on_random_subsamples(rts):
    import nqpf_helpers.bootstrap as bs

    rng = np.random.default_rng(11)
    n = 40
    X, Y, B = _panel_with_outliers(rng, n)
    Z = np.hstack([X, Y, B])
    samples = np.stack([rng.choice(n, size=14, replace=False) for _ in range(2)])
    got = bs._scores_task(Z, Z, (2, 1, 2), rts, samples)
    for b, S in enumerate(samples):
        ref = np.array([_reference_score_rts(X, Y, B, list(S), o, rts) for o in range(n)])
        np.testing.assert_allclose(got[:, b], ref, rtol=0, atol=1e-7)
    assert (got > 1.05).any() and (got < 0.9).any()  # points beyond and inside the subsample frontiers
    assert np.isclose(got[samples[0], 0], [_reference_score_rts(X, Y, B, list(samples[0]), o, rts)
                                          for o in samples[0]]).all()


def _reference_score_rts(X, Y, B, S, o, rts):
    in_s = o in set(S)
    R = np.array(S if in_s else [*S, o])
    k = list(R).index(o)
    rho = sbm_cvxpy(X[R], Y[R], B[R], k, rts=rts)["rho"]
    if rho >= 1 - 1e-9 and not in_s:
        rho = sbm_cvxpy(X[R], Y[R], B[R], k, rts=rts, super_efficiency=True)["rho"]
    return rho


@pytest.mark.parametrize("rts", ["vrs", "crs"])
def test_batch_and_highs_paths_agree(monkeypatch, rts):
    import nqpf_helpers.bootstrap as bs

    rng = np.random.default_rng(12)
    X, Y, B = _panel_with_outliers(rng, 400, n_bad=3)
    Z = np.hstack([X, Y, B])
    samples = np.stack([rng.choice(400, size=36, replace=False) for _ in range(4)])
    batch = bs._scores_task(Z, Z, (2, 1, 3), rts, samples)
    full_batch = bs._scores_task(Z, Z, (2, 1, 3), rts, None)
    monkeypatch.setattr(bs, "BATCH_SIMPLEX", False)
    highs = bs._scores_task(Z, Z, (2, 1, 3), rts, samples)
    full_highs = bs._scores_task(Z, Z, (2, 1, 3), rts, None)
    np.testing.assert_allclose(batch, highs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(full_batch, full_highs, rtol=0, atol=1e-9)
    assert (batch > 1 + 1e-6).mean() > 0.05  # many super-efficiency programmes were solved


def test_uncertified_programmes_fall_back_to_highs(monkeypatch):
    """With no pivot allowed nothing is certified (the start is not optimal): HiGHS scores every point."""
    import nqpf_helpers.bootstrap as bs
    import nqpf_helpers.sbm._batch as batch

    rng = np.random.default_rng(13)
    X, Y, B = _panel_with_outliers(rng, 120)
    Z = np.hstack([X, Y, B])
    samples = np.stack([rng.choice(120, size=20, replace=False) for _ in range(2)])
    expected = bs._scores_task(Z, Z, (2, 1, 2), "vrs", samples)
    real = batch.primal_simplex
    monkeypatch.setattr(bs, "primal_simplex", lambda *a, **k: real(*a, **(k | {"max_iter": 0})))
    calls = []
    original = bs._SBMPoint.score_super
    monkeypatch.setattr(bs._SBMPoint, "score_super", lambda self, z: calls.append(1) or original(self, z))
    got = bs._scores_task(Z, Z, (2, 1, 2), "vrs", samples)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    # every super-efficiency score came from HiGHS (a few points on the boundary score exactly 1)
    assert len(calls) >= int((expected > 1 + 1e-9).sum()) > 0


def test_primal_simplex_and_certify_against_scipy():
    from scipy.optimize import linprog

    from nqpf_helpers.sbm._batch import certify, primal_simplex

    rng = np.random.default_rng(14)
    P, R, n = 200, 5, 9
    M = rng.uniform(0, 1, (P, R, n))
    A = np.concatenate([M, np.repeat(np.eye(R)[None], P, axis=0)], axis=2)  # M x + s = b, s >= 0
    b = rng.uniform(1, 2, (P, R))
    c = np.concatenate([-rng.uniform(0, 1, (P, n)), np.zeros((P, R))], axis=1)
    start = np.tile(np.arange(n, n + R), (P, 1))  # the slacks: feasible since b >= 0
    basis, stopped = primal_simplex(A, b, c, start)
    ok, value = certify(A, b, c, basis, stopped, 1e-10)
    assert ok.all()
    ref = [linprog(c[p], A_eq=A[p], b_eq=b[p], bounds=(0, None), method="highs").fun for p in range(P)]
    np.testing.assert_allclose(value, ref, rtol=0, atol=1e-9)
    # the starting bases are feasible but not optimal: certify must reject them
    bad, _ = certify(A, b, c, start, np.ones(P, dtype=bool), 1e-10)
    assert not bad.any()
