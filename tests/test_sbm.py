"""Tests for the SBM-DEA engine (nqpf_helpers.sbm).

Reference values come from hand calculation or from published examples; the
fast path is always checked against the readable cvxpy formulation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nqpf_helpers.errors import InputError, NQPFError, SolverError
from nqpf_helpers.sbm import fast, inefficiency_by_source, reference_periods, sbm, sbm_cvxpy
from nqpf_helpers.validate import PanelError

INPUTS, GOOD, BAD = ["x1", "x2"], ["y"], ["b1", "b2", "b3"]

# Tone (2001, EJOR 130, p. 505): two inputs, two outputs, five DMUs.
TONE2001 = pd.DataFrame(
    {
        "dmu": list("ABCDE"),
        "x1": [4.0, 6, 8, 8, 2],
        "x2": [3.0, 3, 1, 1, 4],
        "y1": [2.0, 2, 6, 6, 1],
        "y2": [3.0, 3, 2, 1, 4],
    }
)
TONE2001_CRS = [79 / 99, 25 / 44, 1.0, 2 / 3, 1.0]


def _scores(df: pd.DataFrame, **kw) -> np.ndarray:
    kw.setdefault("time", None)
    return sbm(df, unit="dmu", **kw)["rho"].to_numpy()


def _cvxpy_scores(df, inputs, good, bad, rts="vrs", super_efficiency=False):
    X = df[inputs].to_numpy(float)
    Yg = df[good].to_numpy(float)
    Yb = df[bad].to_numpy(float) if bad else None
    out = []
    for o in range(len(df)):
        rho = sbm_cvxpy(X, Yg, Yb, o, rts=rts)["rho"]
        if super_efficiency and rho >= 1 - 1e-7:
            rho = max(1.0, sbm_cvxpy(X, Yg, Yb, o, rts=rts, super_efficiency=True)["rho"])
        out.append(rho)
    return np.array(out)


def _random_panel(rng: np.random.Generator, n: int, periods: int = 1, decades: float = 6.0) -> pd.DataFrame:
    """Lognormal county-like data; each column spans about `decades` orders of magnitude."""
    sd = decades * math.log(10) / 6.0  # +-3 sd covers `decades` orders
    cols = INPUTS + GOOD + BAD
    data = np.exp(rng.normal(0.0, sd, size=(n * periods, len(cols))))
    data *= 10.0 ** rng.integers(-2, 5, size=len(cols))  # different units per column
    df = pd.DataFrame(data, columns=cols)
    df.insert(0, "dmu", np.repeat(np.arange(n), periods))
    df.insert(1, "year", np.tile(np.arange(2000, 2000 + periods), n))
    return df


def _size_panel(rng: np.random.Generator, n: int, size_decades: float = 4.0) -> pd.DataFrame:
    """DMUs of very different sizes (a factor shared by all columns, over `size_decades` orders).

    Under CRS a large DMU is then compared with many copies of a small one,
    so that sum(lambda) reaches the thousands; each column also has its own unit.
    """
    size = 10.0 ** rng.uniform(0.0, size_decades, size=(n, 1))
    data = size * np.exp(rng.normal(0.0, 0.3, size=(n, 6))) * 10.0 ** rng.integers(-2, 5, size=6)
    df = pd.DataFrame(data, columns=INPUTS + GOOD + BAD)
    df.insert(0, "dmu", np.arange(n))
    return df


def _lambda_sums(res: pd.DataFrame) -> np.ndarray:
    return res["peers"].map(lambda p: sum(lam for *_, lam in p)).to_numpy()


# --------------------------------------------------------------------------
# Published and hand-checkable examples
# --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["fast", "cvxpy"])
def test_tone2001_example_crs(path):
    if path == "fast":
        rho = _scores(TONE2001, inputs=["x1", "x2"], good=["y1", "y2"], rts="crs")
    else:
        rho = _cvxpy_scores(TONE2001, ["x1", "x2"], ["y1", "y2"], [], rts="crs")
    np.testing.assert_allclose(rho, TONE2001_CRS, atol=1e-9)


def test_tone2001_slacks_targets_and_decomposition():
    res = sbm(TONE2001, unit="dmu", time=None, inputs=["x1", "x2"], good=["y1", "y2"], rts="crs")
    d = res.set_index("dmu")
    # D is C with one unit less of output 2: its only slack is that unit.
    assert d.loc["D", "slack_y2"] == pytest.approx(1.0)
    assert d.loc["D", ["slack_x1", "slack_x2", "slack_y1"]].abs().max() < 1e-9
    assert d.loc["D", "target_y2"] == pytest.approx(2.0)
    assert [p[0] for p in d.loc["D", "peers"]] == ["C"]
    # the inefficiency shares add up to 1 - rho for everyone
    shares = res.filter(like="ineff_").sum(axis=1)
    np.testing.assert_allclose(shares, 1 - res["rho"], atol=1e-9)
    assert res["efficient"].tolist() == [False, False, True, False, True]


def test_hand_example_with_a_bad_output():
    # B uses twice A's input and emits twice A's pollution for the same output.
    # Projecting B on A: s- = 1 (of 2), sb = 1 (of 2):
    # rho = (1 - 1/2) / (1 + (1/2)(0 + 1/2)) = 0.4
    df = pd.DataFrame({"dmu": ["A", "B"], "x": [1.0, 2.0], "y": [1.0, 1.0], "b": [1.0, 2.0]})
    for rts in ("vrs", "crs"):
        rho = _scores(df, inputs=["x"], good=["y"], bad=["b"], rts=rts)
        np.testing.assert_allclose(rho, [1.0, 0.4], atol=1e-9)
        np.testing.assert_allclose(_cvxpy_scores(df, ["x"], ["y"], ["b"], rts=rts), [1.0, 0.4], atol=1e-9)
    res = sbm(df, unit="dmu", time=None, inputs=["x"], good=["y"], bad=["b"])
    b = res.iloc[1]
    assert b["slack_x"] == pytest.approx(1.0) and b["slack_b"] == pytest.approx(1.0)
    # 1 - rho = 0.6 = (1/2 + 1/4) / 1.25, split 0.4 input and 0.2 pollution
    assert b["ineff_x"] == pytest.approx(0.4) and b["ineff_b"] == pytest.approx(0.2)
    assert b["ineff_y"] == pytest.approx(0.0, abs=1e-12)


def test_result_has_no_side_channel():
    # the settings are the caller's arguments; nothing of the input's metadata is carried over
    df = pd.DataFrame({"dmu": ["A", "B"], "x": [1.0, 2.0], "y": [1.0, 1.0], "b": [1.0, 2.0]})
    df.attrs = {"source": "somewhere", "dropped": pd.DataFrame({"unit": ["C"]})}
    res = sbm(df, unit="dmu", time=None, inputs=["x"], good=["y"], bad=["b"], rts="crs")
    assert res.attrs == {}
    assert df.attrs["source"] == "somewhere"  # the caller's frame is left alone


def test_zero_bad_output_drops_its_term_but_keeps_the_count():
    # A and D emit nothing.  D = A with twice the input and half the output:
    # s- = 1 (of 2), sg = 0.5 (of 0.5), sb = 0 (term dropped, count s1+s2 = 2 kept)
    # rho = (1 - 1/2) / (1 + (1/2)(1 + 0)) = 1/3
    # B (x=2, y=1, b=1) against A or C: rho = (1/2) / (1 + 1/2) = 1/3 as well.
    df = pd.DataFrame(
        {
            "dmu": ["A", "B", "C", "D"],
            "x": [1.0, 2.0, 1.0, 2.0],
            "y": [1.0, 1.0, 2.0, 0.5],
            "b": [0.0, 1.0, 1.0, 0.0],
        }
    )
    res = sbm(df, unit="dmu", time=None, inputs=["x"], good=["y"], bad=["b"])
    np.testing.assert_allclose(res["rho"], [1.0, 1 / 3, 1.0, 1 / 3], atol=1e-9)
    np.testing.assert_allclose(_cvxpy_scores(df, ["x"], ["y"], ["b"]), [1.0, 1 / 3, 1.0, 1 / 3], atol=1e-9)
    d = res.set_index("dmu")
    # a zero emitter can only be compared with zero emitters
    assert [p[0] for p in d.loc["D", "peers"]] == ["A"]
    assert d.loc["D", "slack_b"] == 0.0 and d.loc["D", "ineff_b"] == 0.0


def test_single_dmu_duplicates_and_a_dominant_dmu():
    one = pd.DataFrame({"dmu": ["A"], "x": [3.0], "y": [2.0], "b": [5.0]})
    assert _scores(one, inputs=["x"], good=["y"], bad=["b"]).tolist() == [pytest.approx(1.0)]
    sup = sbm(one, unit="dmu", time=None, inputs=["x"], good=["y"], bad=["b"], super_efficiency=True)
    assert math.isnan(sup["rho"].iloc[0]) and sup["rho_sbm"].iloc[0] == pytest.approx(1.0)

    dup = pd.DataFrame({"dmu": ["A", "B", "C"], "x": [1.0, 1.0, 2.0], "y": [1.0, 1.0, 1.0], "b": [1.0, 1.0, 1.0]})
    res = sbm(dup, unit="dmu", time=None, inputs=["x"], good=["y"], bad=["b"], super_efficiency=True)
    # identical efficient twins: each is exactly matched by the other (super = 1);
    # C needs twice their input: rho = (1 - 1/2) / 1
    np.testing.assert_allclose(res["rho"], [1.0, 1.0, 0.5], atol=1e-9)

    rng = np.random.default_rng(3)
    df = _random_panel(rng, 30)
    best = pd.DataFrame(
        {"dmu": [999], "year": [2000]}
        | {c: [df[c].min() / 2] for c in INPUTS + BAD}
        | {c: [df[c].max() * 2] for c in GOOD}
    )
    res = sbm(pd.concat([df, best]), unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD)
    assert res["rho"].iloc[-1] == pytest.approx(1.0)
    assert res["efficient"].sum() == 1  # it dominates everyone strictly
    assert all(p[0][0] == 999 for p in res["peers"])
    sup = sbm(pd.concat([df, best]), unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD,
              super_efficiency=True)
    assert sup["rho"].iloc[-1] > 1.0


def test_super_efficiency_hand_example():
    # Without A, the only reference is B = (x 2, y 1, b 2).  Under VRS, A must
    # grow its input by 1 (of 1) and its pollution by 1 (of 1) to be dominated:
    # delta = (1 + (1/(m+s2)) (1 + 1)) / (1 - 0) = 2.  Under CRS every
    # lambda in [1/2, 1] trades input and pollution for output and gives 2 too.
    df = pd.DataFrame({"dmu": ["A", "B"], "x": [1.0, 2.0], "y": [1.0, 1.0], "b": [1.0, 2.0]})
    for rts in ("vrs", "crs"):
        res = sbm(df, unit="dmu", time=None, inputs=["x"], good=["y"], bad=["b"], rts=rts, super_efficiency=True)
        np.testing.assert_allclose(res["rho"], [2.0, 0.4], atol=1e-9)
        np.testing.assert_allclose(res["rho_sbm"], [1.0, 0.4], atol=1e-9)
        X, Y, B = df[["x"]].to_numpy(), df[["y"]].to_numpy(), df[["b"]].to_numpy()
        assert sbm_cvxpy(X, Y, B, 0, rts=rts, super_efficiency=True)["rho"] == pytest.approx(2.0)


def test_super_efficiency_tone2001_matches_cvxpy_and_ranks_efficient_dmus():
    res = sbm(TONE2001, unit="dmu", time=None, inputs=["x1", "x2"], good=["y1", "y2"], rts="crs",
              super_efficiency=True)
    ref = _cvxpy_scores(TONE2001, ["x1", "x2"], ["y1", "y2"], [], rts="crs", super_efficiency=True)
    np.testing.assert_allclose(res["rho"], ref, atol=1e-9)
    assert (res.loc[res["efficient"], "rho"] > 1).all()
    np.testing.assert_allclose(res.loc[~res["efficient"], "rho"], np.array(TONE2001_CRS)[[0, 1, 3]], atol=1e-9)


# --------------------------------------------------------------------------
# Fast path == cvxpy path on realistic, badly scaled data
# --------------------------------------------------------------------------


@pytest.mark.parametrize("rts", ["vrs", "crs"])
def test_fast_path_equals_cvxpy_on_a_panel_spanning_six_orders_of_magnitude(rts):
    rng = np.random.default_rng(42 if rts == "vrs" else 7)
    df = _random_panel(rng, 220)
    span = np.log10(df[INPUTS + GOOD + BAD].max().max() / df[INPUTS + GOOD + BAD].min().min())
    assert span > 6
    fast = sbm(df, unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD, rts=rts)["rho"].to_numpy()
    ref = _cvxpy_scores(df, INPUTS, GOOD, BAD, rts=rts)
    np.testing.assert_allclose(fast, ref, atol=1e-6, rtol=0)


def test_fast_super_efficiency_equals_cvxpy():
    rng = np.random.default_rng(11)
    df = _random_panel(rng, 120)
    fast = sbm(df, unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD, super_efficiency=True)
    ref = _cvxpy_scores(df, INPUTS, GOOD, BAD, super_efficiency=True)
    np.testing.assert_allclose(fast["rho"], ref, atol=1e-6, rtol=0)
    assert (fast.loc[fast["efficient"], "rho"] >= 1).all()


def test_parallel_and_progress_give_the_same_answer(capsys):
    rng = np.random.default_rng(5)
    df = _random_panel(rng, 150, periods=2)
    kw = dict(unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD)
    serial = sbm(df, **kw, progress=True)
    parallel = sbm(df, **kw, n_jobs=2, progress=True)
    np.testing.assert_allclose(serial["rho"], parallel["rho"], atol=1e-9)
    assert "SBM" in capsys.readouterr().err  # tqdm writes to stderr


# --------------------------------------------------------------------------
# Output consistency
# --------------------------------------------------------------------------


def test_targets_are_the_peer_combination_and_decomposition_adds_up():
    rng = np.random.default_rng(9)
    df = _random_panel(rng, 80)
    res = sbm(df, unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD)
    data = df.set_index(["dmu", "year"])[INPUTS + GOOD + BAD]
    for _, row in res.iterrows():
        combo = sum(lam * data.loc[(d, y)].to_numpy() for d, y, lam in row["peers"])
        target = row[[f"target_{c}" for c in INPUTS + GOOD + BAD]].to_numpy(float)
        np.testing.assert_allclose(combo, target, rtol=1e-6)
        assert row["n_peers"] == len(row["peers"])
        assert sum(lam for *_, lam in row["peers"]) == pytest.approx(1.0, abs=1e-7)  # VRS
    np.testing.assert_allclose(res.filter(like="ineff_").sum(axis=1), 1 - res["rho"], atol=1e-7)
    long = inefficiency_by_source(res)
    assert set(long["source"]) == set(INPUTS + GOOD + BAD)
    np.testing.assert_allclose(long.groupby(["dmu", "year"])["inefficiency"].sum().to_numpy(), 1 - res["rho"], atol=1e-7)


# --------------------------------------------------------------------------
# Frontier options
# --------------------------------------------------------------------------


def test_frontier_options_nest_as_they_should():
    rng = np.random.default_rng(21)
    df = _random_panel(rng, 40, periods=4)
    kw = dict(unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD)
    glob = sbm(df, **kw, frontier="global")["rho"].to_numpy()
    cont = sbm(df, **kw, frontier="contemporaneous")["rho"].to_numpy()
    seq = sbm(df, **kw, frontier="sequential")["rho"].to_numpy()
    win2 = sbm(df, **kw, frontier="window", window=2)["rho"].to_numpy()
    win1 = sbm(df, **kw, frontier="window", window=1)["rho"].to_numpy()
    year = df.sort_values(["dmu", "year"])["year"].to_numpy()
    # larger reference sets can only lower the score
    assert np.all(glob <= seq + 1e-9) and np.all(seq <= win2 + 1e-9) and np.all(win2 <= cont + 1e-9)
    np.testing.assert_allclose(win1, cont, atol=1e-9)
    first, last = year == 2000, year == 2003
    np.testing.assert_allclose(seq[first], cont[first], atol=1e-9)
    np.testing.assert_allclose(seq[last], glob[last], atol=1e-9)
    # contemporaneous == scoring each year on its own
    for y in range(2000, 2004):
        alone = sbm(df[df["year"] == y], **kw)["rho"].to_numpy()
        np.testing.assert_allclose(cont[year == y], alone, atol=1e-9)
    # the global frontier is not re-estimated per year: few years have an efficient DMU
    assert glob.max() == pytest.approx(1.0)


def test_reference_periods():
    ps = [2001, 2002, 2003, 2004]
    assert reference_periods(ps, "global")[2002] == ps
    assert reference_periods(ps, "contemporaneous")[2003] == [2003]
    assert reference_periods(ps, "sequential")[2003] == [2001, 2002, 2003]
    assert reference_periods(ps, "window", window=2)[2004] == [2003, 2004]
    assert reference_periods(ps, "window", window=3)[2001] == [2001]


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def test_negative_and_non_positive_data_are_rejected_with_a_clear_message():
    df = TONE2001.assign(b=[1.0, 2.0, 0.0, 1.0, 1.0])
    kw = dict(unit="dmu", time=None, inputs=["x1", "x2"], good=["y1", "y2"], bad=["b"])
    sbm(df, **kw)  # a zero bad output is fine
    with pytest.raises(PanelError, match=r"'b' must be >= 0"):
        sbm(df.assign(b=[1.0, -2.0, 0.0, 1.0, 1.0]), **kw)
    with pytest.raises(PanelError, match=r"'x1' must be strictly positive"):
        sbm(df.assign(x1=[0.0, 6, 8, 8, 2]), **kw)
    with pytest.raises(PanelError, match=r"'y2' must be strictly positive"):
        sbm(df.assign(y2=[3.0, -3, 2, 1, 4]), **kw)
    with pytest.raises(PanelError, match="missing"):
        sbm(df.assign(x2=[3.0, np.nan, 1, 1, 4]), **kw)
    with pytest.raises(PanelError, match="missing required column"):
        sbm(df, **(kw | {"bad": ["so2"]}))
    with pytest.raises(ValueError, match="rts must be one of"):
        sbm(df, **kw, rts="drs")
    with pytest.raises(ValueError, match="frontier must be one of"):
        sbm(df, **kw, frontier="rolling")
    with pytest.raises(ValueError, match="window must be a positive"):
        sbm(df, **kw, frontier="window", window=0)
    with pytest.raises(ValueError, match="more than once"):
        sbm(df, **(kw | {"good": ["y1", "x1"]}))
    X = TONE2001[["x1", "x2"]].to_numpy()
    with pytest.raises(ValueError, match="Yb .* must be >= 0"):
        sbm_cvxpy(X, TONE2001[["y1"]], -np.ones((5, 1)), 0)
    with pytest.raises(ValueError, match="X .* strictly positive"):
        sbm_cvxpy(-X, TONE2001[["y1"]], None, 0)
    with pytest.raises(ValueError, match="one row per DMU"):
        sbm_cvxpy(X, np.ones((4, 1)), None, 0)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

# log10 of the data on a grid of 0.01 over four orders of magnitude per
# column (the fixed-seed tests above cover panels spanning more than six).
# Values are either equal or at least 2% apart: a DMU that beats another by
# 1e-8 (relative) is efficient or not depending on solver tolerances, a tie
# no two LP solvers are obliged to break the same way.
_log10 = st.integers(-200, 200).map(lambda k: k / 100)
_log_data = st.integers(2, 14).flatmap(lambda n: hnp.arrays(np.float64, (n, 6), elements=_log10))


def _frame(logs: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame(10.0**logs, columns=INPUTS + GOOD + BAD)
    df.insert(0, "dmu", np.arange(len(df)))
    return df


@settings(max_examples=25, deadline=None)
@given(logs=_log_data, rts=st.sampled_from(["vrs", "crs"]))
def test_property_scores_in_unit_interval_with_an_efficient_dmu_and_equal_to_cvxpy(logs, rts):
    df = _frame(logs)
    rho = _scores(df, inputs=INPUTS, good=GOOD, bad=BAD, rts=rts)
    assert np.all(rho > 0) and np.all(rho <= 1 + 1e-9)
    assert rho.max() == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(rho, _cvxpy_scores(df, INPUTS, GOOD, BAD, rts=rts), atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    logs=_log_data,
    col=st.sampled_from(INPUTS + GOOD + BAD),
    factor=st.floats(1e-4, 1e4),
    rts=st.sampled_from(["vrs", "crs"]),
)
def test_property_units_invariance(logs, col, factor, rts):
    df = _frame(logs)
    rho = _scores(df, inputs=INPUTS, good=GOOD, bad=BAD, rts=rts)
    scaled = df.assign(**{col: df[col] * factor})
    np.testing.assert_allclose(_scores(scaled, inputs=INPUTS, good=GOOD, bad=BAD, rts=rts), rho, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    logs=_log_data,
    who=st.integers(0, 100),
    worse=hnp.arrays(np.float64, 6, elements=st.floats(0.0, 1.0)),
    rts=st.sampled_from(["vrs", "crs"]),
)
def test_property_adding_a_dominated_dmu_changes_nobody(logs, who, worse, rts):
    df = _frame(logs)
    rho = _scores(df, inputs=INPUTS, good=GOOD, bad=BAD, rts=rts)
    base = df.iloc[who % len(df)]
    # at least as much of every input and pollutant, at most as much output
    factor = 10.0 ** np.where(np.isin(INPUTS + GOOD + BAD, GOOD), -worse, worse)
    extra = pd.DataFrame([base[INPUTS + GOOD + BAD].to_numpy(float) * factor], columns=INPUTS + GOOD + BAD)
    extra.insert(0, "dmu", [10_000])
    rho2 = _scores(pd.concat([df, extra], ignore_index=True), inputs=INPUTS, good=GOOD, bad=BAD, rts=rts)
    np.testing.assert_allclose(rho2[:-1], rho, atol=1e-7)
    assert rho2[-1] <= rho[who % len(df)] + 1e-9


@settings(max_examples=15, deadline=None)
@given(logs=st.integers(4, 10).flatmap(
    lambda n: hnp.arrays(np.float64, (3 * n, 6), elements=_log10)))
def test_property_every_contemporaneous_frontier_has_an_efficient_dmu(logs):
    df = _frame(logs)
    n = len(df) // 3
    df["dmu"] = np.tile(np.arange(n), 3)
    df["year"] = np.repeat([2001, 2002, 2003], n)
    res = sbm(df, unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD, frontier="contemporaneous")
    assert (res.groupby("year")["rho"].max() > 1 - 1e-9).all()
    glob = sbm(df, unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD, frontier="global")
    assert glob["efficient"].any()


# --------------------------------------------------------------------------
# Zero bad outputs in the super-efficiency model (see nqpf_helpers.sbm)
# --------------------------------------------------------------------------

# A is the only DMU that emits nothing; C matches or beats it on everything else.
ZERO_EMITTER = pd.DataFrame(
    {"dmu": ["A", "B", "C"], "x": [1.0, 2.0, 1.0], "y": [1.0, 1.0, 2.0], "b": [0.0, 1.0, 1.0]}
)


@pytest.mark.parametrize(
    ("rts", "rho_sbm", "rho_super"),
    [
        # VRS. B: projected on A (s- 1 of 2, sb 1 of 1) or on a mix of A and C: (1/2)/(1 + 1/2) = 1/3.
        # C without itself: only mixes of A and B remain, all with y = 1: sg = 1 of 2, and
        # lambda_A = 1 needs no input increase: delta = 1 / (1 - 1/2) = 2.
        ("vrs", [1.0, 1 / 3, 1.0], [1.0, 1 / 3, 2.0]),
        # CRS. B: half of C (x 0.5, y 1, b 0.5): (1 - 1.5/2) / (1 + 0.5/2) = 0.2.
        # C: twice A (x 2, y 2, b 0) needs one more unit of input: delta = 1 + (1/2)(1/1) = 1.5.
        ("crs", [1.0, 0.2, 1.0], [1.0, 0.2, 1.5]),
    ],
)
def test_zero_emitter_is_sbm_efficient_and_its_super_efficiency_ignores_the_pollutant(rts, rho_sbm, rho_super):
    # A is the only zero emitter: in the SBM only zero emitters can be its peers, so A
    # is its own peer and rho = 1.  In the super-efficiency model A is excluded from its
    # own frontier and every remaining DMU emits: the pollution increase sb/0 would be
    # infinite; by the documented convention the term is dropped, and C (x 1, y 2) matches
    # A on input and output, so A's super-efficiency is exactly 1 (VRS: C itself; CRS:
    # half of C).  Emitting nothing secures rho = 1 but no further rank.
    kw = dict(unit="dmu", time=None, inputs=["x"], good=["y"], bad=["b"], rts=rts)
    res = sbm(ZERO_EMITTER, **kw, super_efficiency=True)
    np.testing.assert_allclose(res["rho_sbm"], rho_sbm, atol=1e-9)
    np.testing.assert_allclose(res["rho"], rho_super, atol=1e-9)
    assert res["efficient"].tolist() == [True, False, True]
    np.testing.assert_allclose(_cvxpy_scores(ZERO_EMITTER, ["x"], ["y"], ["b"], rts=rts, super_efficiency=True),
                               rho_super, atol=1e-9)
    X, Y, B = (ZERO_EMITTER[[c]].to_numpy() for c in "xyb")
    assert sbm_cvxpy(X, Y, B, 0, rts=rts)["lambdas"] == {0: pytest.approx(1.0)}
    sup_a = sbm_cvxpy(X, Y, B, 0, rts=rts, super_efficiency=True)
    assert sup_a["rho"] == pytest.approx(1.0, abs=1e-9)
    assert sup_a["slack_b"][0] > 0.4  # A would have to emit, but that costs nothing in the score


def test_a_tiny_positive_emission_counts_and_a_second_zero_emitter_is_a_free_peer():
    # The term is dropped only at exactly zero: with b_A = e > 0, A's super-efficiency
    # against C is 1 + (1/2)(1 - e)/e (VRS), which grows like 1/e -- why the limit is not
    # used as the zero emitter's score.
    e = 0.01
    tiny = ZERO_EMITTER.assign(b=[e, 1.0, 1.0])
    res = sbm(tiny, unit="dmu", time=None, inputs=["x"], good=["y"], bad=["b"], super_efficiency=True)
    assert res["rho"].iloc[0] == pytest.approx(1 + 0.5 * (1 - e) / e, rel=1e-9)
    assert _cvxpy_scores(tiny, ["x"], ["y"], ["b"], super_efficiency=True)[0] == pytest.approx(1 + 0.5 * (1 - e) / e)
    # D, a second zero emitter with twice A's input, is dominated by A (rho = 1/2);
    # A against {B, C, D}: C still matches it, delta = 1 with sb = 0 available via D too.
    two = pd.concat([ZERO_EMITTER, pd.DataFrame({"dmu": ["D"], "x": [2.0], "y": [1.0], "b": [0.0]})])
    res = sbm(two, unit="dmu", time=None, inputs=["x"], good=["y"], bad=["b"], super_efficiency=True)
    np.testing.assert_allclose(res["rho"], [1.0, 1 / 3, 2.0, 0.5], atol=1e-9)
    np.testing.assert_allclose(_cvxpy_scores(two, ["x"], ["y"], ["b"], super_efficiency=True), res["rho"], atol=1e-9)


@pytest.mark.parametrize("rts", ["vrs", "crs"])
def test_fast_equals_cvxpy_with_many_zero_emitters(rts):
    rng = np.random.default_rng(17 if rts == "vrs" else 18)
    df = _random_panel(rng, 90)
    zeros = rng.random((len(df), len(BAD))) < 0.25
    df[BAD] = np.where(zeros, 0.0, df[BAD].to_numpy())
    fast_res = sbm(df, unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD, rts=rts, super_efficiency=True)
    ref = _cvxpy_scores(df, INPUTS, GOOD, BAD, rts=rts, super_efficiency=True)
    np.testing.assert_allclose(fast_res["rho"], ref, atol=1e-6, rtol=0)
    # in the ordinary SBM a zero emitter's peers emit none of that pollutant either
    ordinary = sbm(df, unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD, rts=rts)
    emits = df.set_index("dmu")[BAD] > 0
    checked = 0
    for i, peers in enumerate(ordinary["peers"]):
        for k, col in enumerate(BAD):
            if zeros[i, k]:
                assert not emits.loc[[p[0] for p in peers], col].any()
                checked += 1
    assert checked > 40
    assert np.isfinite(fast_res["rho"]).all() and (fast_res.loc[fast_res["efficient"], "rho"] >= 1).all()


# --------------------------------------------------------------------------
# Column generation: tolerance under CRS and super-efficiency, round limit
# --------------------------------------------------------------------------


@pytest.mark.parametrize("rts", ["vrs", "crs"])
@pytest.mark.parametrize("super_efficiency", [False, True])
def test_fast_equals_cvxpy_when_lambda_sums_reach_thousands(rts, super_efficiency):
    df = _size_panel(np.random.default_rng(2), 100)
    assert np.log10(df[INPUTS + GOOD + BAD].max().max() / df[INPUTS + GOOD + BAD].min().min()) > 8
    res = sbm(df, unit="dmu", time=None, inputs=INPUTS, good=GOOD, bad=BAD, rts=rts,
              super_efficiency=super_efficiency)
    if rts == "crs":
        assert _lambda_sums(res).max() > 1e3  # the case a fixed pricing tolerance does not cover
    ref = _cvxpy_scores(df, INPUTS, GOOD, BAD, rts=rts, super_efficiency=super_efficiency)
    np.testing.assert_allclose(res["rho"], ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("rts", ["vrs", "crs"])
@pytest.mark.parametrize("super_efficiency", [False, True])
def test_lambda_bound_used_by_pricing_holds_at_the_optimum(rts, super_efficiency):
    # Pricing scales its tolerance by an upper bound on sum(t * lambda) at the full
    # optimum; check the bound against the optimal solutions of the cvxpy model.
    df = _size_panel(np.random.default_rng(4), 40)
    X, Yg, Yb = (df[c].to_numpy(float) for c in (INPUTS, GOOD, BAD))
    model = fast._FastSBM(X, Yg, Yb, rts, super_efficiency)
    for o in range(len(df)):
        sol = sbm_cvxpy(X, Yg, Yb, o, rts=rts, super_efficiency=super_efficiency)
        if super_efficiency:
            t = 1.0 / (1.0 - np.mean(sol["slack_g"] / Yg[o]))
        else:
            t = 1.0 / (1.0 + (np.sum(sol["slack_g"] / Yg[o]) + np.sum(sol["slack_b"] / Yb[o])) / (1 + len(BAD)))
        big_lambda = t * sum(sol["lambdas"].values())
        assert big_lambda <= model._lambda_bound(o, sol["rho"]) * (1 + 1e-7)


def test_a_loose_pricing_tolerance_is_caught_by_the_gap_check(monkeypatch):
    df = _size_panel(np.random.default_rng(1), 60)
    kw = dict(unit="dmu", time=None, inputs=INPUTS, good=GOOD, bad=BAD, rts="vrs")
    ref = _cvxpy_scores(df, INPUTS, GOOD, BAD, rts="vrs")
    monkeypatch.setattr(fast, "_PRICE_TOL", 1e-2)  # stops pricing far too early...
    np.testing.assert_allclose(sbm(df, **kw)["rho"], ref, atol=1e-6, rtol=0)  # ...but the gap check falls back
    monkeypatch.setattr(fast, "_GAP_TOL", np.inf)  # without the check the same run is wrong
    assert np.abs(sbm(df, **kw)["rho"].to_numpy() - ref).max() > 1e-4


@pytest.mark.parametrize("rounds", [0, 1])
@pytest.mark.parametrize("rts", ["vrs", "crs"])
def test_reaching_the_round_limit_falls_back_to_the_full_programme(monkeypatch, rounds, rts):
    df = _size_panel(np.random.default_rng(6), 40)
    kw = dict(unit="dmu", time=None, inputs=INPUTS, good=GOOD, bad=BAD, rts=rts, super_efficiency=True)
    ref = _cvxpy_scores(df, INPUTS, GOOD, BAD, rts=rts, super_efficiency=True)
    calls = []
    full = fast._solve_full_programme
    monkeypatch.setattr(fast, "_solve_full_programme", lambda *a: calls.append(a[3]) or full(*a))
    monkeypatch.setattr(fast, "_MAX_ROUNDS", rounds)
    res = sbm(df, **kw)
    np.testing.assert_allclose(res["rho"], ref, atol=1e-6, rtol=0)
    if rounds == 0:  # no pricing round at all: every ordinary and super score came from the full programme
        assert len(calls) == len(df) + int(res["efficient"].sum())
    else:
        assert res["efficient"].any()


# --------------------------------------------------------------------------
# A solve without an optimum raises SolverError naming the unit
# --------------------------------------------------------------------------


def _break_every_solver(monkeypatch):
    import cvxpy as cp

    monkeypatch.setattr(fast, "optimal_status", lambda: "never")  # HiGHS never reports an optimum

    def infeasible(self, *args, **kwargs):
        self._status = cp.INFEASIBLE

    monkeypatch.setattr(cp.Problem, "solve", infeasible)


def test_a_solve_without_optimum_raises_solver_error_naming_unit_and_year(monkeypatch):
    df = _random_panel(np.random.default_rng(8), 6, periods=2)
    _break_every_solver(monkeypatch)
    with pytest.raises(SolverError, match=r"dmu 0, year 2000") as info:
        sbm(df, unit="dmu", time="year", inputs=INPUTS, good=GOOD, bad=BAD)
    msg = str(info.value)
    assert "infeasible" in msg and "rescale the columns" in msg and "frontier" in msg
    assert isinstance(info.value, NQPFError) and isinstance(info.value, RuntimeError)
    with pytest.raises(SolverError, match=r"the SBM programme \(CRS\) of dmu 'A'(?!, year)"):  # no period to name
        sbm(TONE2001, unit="dmu", time=None, inputs=["x1", "x2"], good=["y1", "y2"], rts="crs", super_efficiency=True)
    X = TONE2001[["x1", "x2"]].to_numpy()
    with pytest.raises(SolverError, match=r"DMU row 2 .*status infeasible.*rescale"):
        sbm_cvxpy(X, TONE2001[["y1", "y2"]], None, 2)


def test_only_the_failing_super_efficiency_solve_is_reported(monkeypatch):
    # the ordinary SBM works; the super-efficiency model of the first efficient DMU fails
    monkeypatch.setattr(fast._FastSBM, "solve", _failing_for_super(fast._FastSBM.solve))
    monkeypatch.setattr(fast, "_solve_full_programme", _failing_for_super(fast._solve_full_programme, full=True))
    with pytest.raises(SolverError, match=r"super-efficiency SBM programme \(CRS\) of dmu 'C'") as info:
        sbm(TONE2001, unit="dmu", time=None, inputs=["x1", "x2"], good=["y1", "y2"], rts="crs",
            super_efficiency=True)
    assert "pricing rounds" in str(info.value)
    assert sbm(TONE2001, unit="dmu", time=None, inputs=["x1", "x2"], good=["y1", "y2"], rts="crs")["rho"].notna().all()


def _failing_for_super(func, full=False):
    def wrapper(*args):
        sup = args[-1] if full else args[0].sup
        if sup:
            if full:
                raise SolverError("HiGHS found no reliable optimum (status infeasible)")
            raise fast._NumericalTrouble(f"no convergence after {fast._MAX_ROUNDS} pricing rounds")
        return func(*args)

    return wrapper


def test_unsolved_dmu_survives_the_trip_from_a_worker_process():
    import pickle

    err = pickle.loads(pickle.dumps(fast.UnsolvedDMU(7, "status infeasible", True)))
    assert isinstance(err, SolverError) and err.row == 7 and err.reasons == "status infeasible"
    assert "super-efficiency SBM programme of DMU row 7" in str(err) and "rescale" in str(err)
    from joblib import Parallel, delayed

    def fail(i):
        raise fast.UnsolvedDMU(i, "status infeasible")

    with pytest.raises(fast.UnsolvedDMU) as info:  # what sbm(n_jobs=2) relies on to name the unit
        list(Parallel(n_jobs=2, return_as="generator")(delayed(fail)(i) for i in [3]))
    assert info.value.row == 3


def test_bad_options_raise_input_error():
    with pytest.raises(InputError, match="rts must be one of"):
        sbm(TONE2001, unit="dmu", time=None, inputs=["x1"], good=["y1"], rts="nirs")
    with pytest.raises(InputError, match="at least one input"):
        sbm(TONE2001, unit="dmu", time=None, inputs=[], good=["y1"])
