"""Tests for nqpf_helpers.plots: the figures draw exactly the numbers of their tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # this module only: figures are inspected, never shown

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from nqpf_helpers import plots, regions
from nqpf_helpers.errors import InputError
from nqpf_helpers.validate import PanelError

YEARS = list(range(2010, 2016))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def provinces() -> pd.DataFrame:
    """31 provinces x 6 years of random NQPF, with region information."""
    rng = np.random.default_rng(7)
    table = regions.province_table()
    rows = [
        {"region_code": c, "year": y, "nqpf": float(rng.lognormal(0.05 * (y - 2010), 0.2))}
        for c in table["province_code"]
        for y in YEARS
    ]
    return regions.add_region_info(pd.DataFrame(rows))


@pytest.fixture
def seeded(provinces: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frames = [provinces.assign(seed=s, nqpf=provinces["nqpf"] * rng.lognormal(0, 0.1, len(provinces))) for s in range(5)]
    return pd.concat(frames, ignore_index=True)


def _line(ax, label: str):
    matches = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(matches) == 1, [ln.get_label() for ln in ax.get_lines()]
    return matches[0]


def _bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


# --------------------------------------------------------------------------- regions cover everything


def test_every_province_has_a_group_and_belt_flag(provinces):
    per_province = provinces.drop_duplicates("region_code")
    assert len(per_province) == 31
    assert per_province["group"].notna().all()
    assert set(per_province["group"]) == set(regions.GROUPS)
    assert per_province["yangtze_belt"].isin([True, False]).all()
    # the belt is 11 provinces (2014 guideline)
    assert per_province["yangtze_belt"].sum() == 11


# --------------------------------------------------------------------------- group_trend_table


def test_group_trend_table_matches_independent_means(provinces):
    table = plots.group_trend_table(provinces, by="group", stat="mean", lower=0.1, upper=0.9)
    for row in table.itertuples(index=False):
        vals = provinces.loc[(provinces.group == row.group) & (provinces.year == row.year), "nqpf"]
        assert row.centre == pytest.approx(vals.mean())
        assert row.lo == pytest.approx(np.quantile(vals, 0.1))
        assert row.hi == pytest.approx(np.quantile(vals, 0.9))
        assert row.n_units == len(vals)
    assert len(table) == len(regions.GROUPS) * len(YEARS)
    assert set(table["band"]) == {"units"}


def test_group_trend_table_median_and_missing_values(provinces):
    masked = provinces.copy()
    masked.loc[masked.index[:3], "nqpf"] = np.nan
    table = plots.group_trend_table(masked, stat="median")
    assert table["n_missing"].sum() == 3
    assert table["n_units"].sum() == len(provinces) - 3
    first = table[table.year == 2010].iloc[0]
    assert first.centre == pytest.approx(masked.loc[masked.year == 2010, "nqpf"].median())


def test_group_trend_table_band_across_seeds(seeded):
    table = plots.group_trend_table(seeded, by="yangtze_belt", replicate="seed", lower=0.0, upper=1.0)
    assert set(table["band"]) == {"seeds"} and (table["n_seeds"] == 5).all()
    row = table[(table.yangtze_belt) & (table.year == 2012)].iloc[0]
    per_seed = seeded[(seeded.yangtze_belt) & (seeded.year == 2012)].groupby("seed")["nqpf"].mean()
    assert row.centre == pytest.approx(per_seed.mean())
    assert row.lo == pytest.approx(per_seed.min()) and row.hi == pytest.approx(per_seed.max())
    assert row.n_units == 11


def test_group_trend_table_refuses_unflagged_seeds(seeded):
    with pytest.raises(PanelError, match="replicate='seed'"):
        plots.group_trend_table(seeded)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"by": "nope"}, PanelError, "missing column"),
        ({"stat": "max"}, ValueError, "stat must be"),
        ({"lower": 0.8, "upper": 0.2}, ValueError, "lower < upper"),
    ],
)
def test_group_trend_table_bad_input(provinces, kwargs, error, match):
    with pytest.raises(error, match=match):
        plots.group_trend_table(provinces, **kwargs)


def test_missing_region_columns_point_to_add_region_info():
    df = pd.DataFrame({"region_code": ["110000"], "year": [2010], "nqpf": [1.0]})
    with pytest.raises(PanelError, match="add_region_info"):
        plots.group_trend_table(df, by="group")


# --------------------------------------------------------------------------- trend figures


def test_trend_by_level_one_panel_per_level(provinces):
    city = provinces.assign(nqpf=provinces["nqpf"] * 0.5)
    fig = plots.trend_by_level({"province": provinces, "city": city}, stat="median")
    assert [ax.get_title() for ax in fig.axes] == ["province", "city"]
    for ax, df in zip(fig.axes, [provinces, city]):
        line = _line(ax, "median")
        expected = df.groupby("year")["nqpf"].median()
        np.testing.assert_allclose(line.get_xdata(), expected.index)
        np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())
        assert len(_bands(ax)) == 1
        assert ax.get_xlabel() == "year" and ax.get_ylabel() == "NQPF (median)"
        ticks = ax.get_xticks()
        np.testing.assert_array_equal(ticks, np.round(ticks))  # years, not 2012.5


def test_trend_by_level_without_band(provinces):
    fig = plots.trend_by_level({"province": provinces}, band=False)
    assert len(fig.axes) == 1 and not _bands(fig.axes[0])


@pytest.mark.parametrize("bad", [{}, "province", None])
def test_trend_by_level_needs_a_mapping(bad, provinces):
    with pytest.raises(InputError, match="mapping"):
        plots.trend_by_level(bad)
    with pytest.raises(InputError, match="mapping"):
        plots.trend_by_level(provinces)


def test_trend_by_group_lines_are_group_means(provinces):
    fig = plots.trend_by_group(provinces, group="group")
    (ax,) = fig.axes
    assert len(ax.get_lines()) == len(regions.GROUPS) + 1  # + the reference line at 1
    assert len(_bands(ax)) == len(regions.GROUPS)
    for group in regions.GROUPS:
        expected = provinces[provinces.group == group].groupby("year")["nqpf"].mean()
        np.testing.assert_allclose(_line(ax, group).get_ydata(), expected.to_numpy())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(regions.GROUPS)


def test_trend_by_group_yangtze_labels_and_panels(provinces, seeded):
    labels = {True: "Yangtze belt", False: "rest"}
    fig = plots.trend_by_group(seeded, group="yangtze_belt", labels=labels, order=[True, False], replicate="seed")
    (ax,) = fig.axes
    belt = seeded[seeded.yangtze_belt].groupby(["year", "seed"])["nqpf"].mean().groupby("year").mean()
    np.testing.assert_allclose(_line(ax, "Yangtze belt").get_ydata(), belt.to_numpy())
    assert "seeds" in ax.get_ylabel()
    fig2 = plots.trend_by_group({"a": provinces, "b": provinces}, group="yangtze_belt", labels=labels)
    assert [a.get_title() for a in fig2.axes] == ["a", "b"]
    assert {ln.get_label() for ln in fig2.axes[1].get_lines()} >= {"Yangtze belt", "rest"}


# --------------------------------------------------------------------------- seed bands


def test_seed_band_plot_draws_band_median_and_published(seeded, provinces):
    from nqpf_helpers.nqpf import seed_band

    band = seed_band(seeded)
    codes = ["330000", "440000", "110000"]
    names = {"330000": "Zhejiang", "440000": "Guangdong", "110000": "Beijing"}
    fig = plots.seed_band_plot(band, published=provinces, units=codes, names=names, ncols=2)
    assert [ax.get_title() for ax in fig.axes] == ["Zhejiang", "Guangdong", "Beijing"]  # empty 4th cell removed
    for ax, code in zip(fig.axes, codes):
        b = band[band.region_code == code]
        np.testing.assert_allclose(_line(ax, "seed median").get_ydata(), b["nqpf_median"].to_numpy())
        np.testing.assert_allclose(
            _line(ax, "published").get_ydata(), provinces.loc[provinces.region_code == code, "nqpf"].to_numpy()
        )
        (poly,) = _bands(ax)
        ys = poly.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(b["nqpf_lo"].min()) and ys.max() == pytest.approx(b["nqpf_hi"].max())


def test_seed_band_plot_bad_units(seeded):
    from nqpf_helpers.nqpf import seed_band

    with pytest.raises(ValueError, match="not in the seed band"):
        plots.seed_band_plot(seed_band(seeded), units=[330000])
    with pytest.raises(PanelError, match="nqpf_lo"):
        plots.seed_band_plot(seeded)


# --------------------------------------------------------------------------- rankings


def test_ranking_table_ranks_descending_with_ties():
    df = pd.DataFrame({"region_code": list("abcd"), "year": 2010, "nqpf": [1.0, 3.0, 3.0, 2.0]})
    ranks = plots.ranking_table(df).set_index("region_code")["rank"]
    assert ranks.to_dict() == {"b": 1, "c": 1, "d": 3, "a": 4}


def test_rank_change_table_against_independent_ranks(provinces):
    table = plots.rank_change_table(provinces, label="name_en")
    assert len(table) == 31 and table.attrs == {}  # no side channel: the years are the caller's (default first/last)
    first = provinces[provinces.year == 2010].set_index("name_en")["nqpf"]
    assert (table.set_index("name_en")["value_start"] == first.reindex(table["name_en"])).all()
    for year, col in [(2010, "rank_start"), (2015, "rank_end")]:
        y = provinces[provinces.year == year].set_index("name_en")["nqpf"]
        expected = y.rank(ascending=False).astype(int)
        assert (table.set_index("name_en")[col] == expected.reindex(table["name_en"])).all()
    assert (table["rank_gain"] == table["rank_start"] - table["rank_end"]).all()
    assert table["rank_end"].is_monotonic_increasing


def test_rank_change_table_bad_years(provinces):
    with pytest.raises(ValueError, match="not in the data"):
        plots.rank_change_table(provinces, start=2000)
    with pytest.raises(ValueError, match="before"):
        plots.rank_change_table(provinces, start=2015, end=2010)


def test_ranking_plot_highlights(provinces):
    highlight = ["Zhejiang", "Guangdong", "Beijing"]
    fig = plots.ranking_plot(provinces, highlight=highlight, label="name_en")
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 31
    assert ax.yaxis_inverted()
    ranks = plots.ranking_table(provinces)
    for name in highlight:
        expected = ranks[ranks.name_en == name].sort_values("year")["rank"].to_numpy()
        np.testing.assert_array_equal(_line(ax, name).get_ydata(), expected)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == highlight


def _tie_frame() -> pd.DataFrame:
    # four units over three years; b sits on the frontier in 2011 and 2012, d in 2012
    df = pd.DataFrame({
        "region_code": list("abcd") * 3,
        "year": np.repeat([2010, 2011, 2012], 4),
        "nqpf": [1.0, 1.2, 0.9, 0.8, 1.1, 1.5, 0.9, 0.7, 1.0, 1.6, 0.8, 1.3],
        "gtfp": [0.5, 0.9, 0.4, 0.3, 0.6, 1.0, 0.4, 0.3, 0.5, 1.0, 0.4, 1.0],
    })
    from nqpf_helpers import quality

    df["at_frontier"] = quality.at_frontier(df)
    return df


def test_ranking_plot_rings_frontier_ties():
    df = _tie_frame()
    fig = plots.ranking_plot(df, flag="at_frontier", flag_label="GTFP = 1")
    try:
        (ax,) = fig.axes
        (rings,) = ax.collections
        ranks = plots.ranking_table(df)
        expected = ranks[ranks.at_frontier][["year", "rank"]].to_numpy(dtype=float)
        got = np.asarray(rings.get_offsets(), dtype=float)
        assert sorted(map(tuple, got)) == sorted(map(tuple, expected)) and len(got) == 3
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["GTFP = 1 (3)"]
    finally:
        plt.close(fig)
    fig = plots.ranking_plot(df)
    try:
        assert not fig.axes[0].collections and fig.axes[0].get_legend() is None
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="frontier_flag"):
        plots.ranking_plot(df, flag="frontier_flag")


def test_rank_change_table_carries_the_frontier_flag():
    table = plots.rank_change_table(_tie_frame(), flag="at_frontier").set_index("region_code")
    assert table["at_frontier_start"].tolist() == [False] * 4
    assert table["at_frontier_end"].to_dict() == {"a": False, "b": True, "c": False, "d": True}
    assert list(table.columns[-2:]) == ["at_frontier_start", "at_frontier_end"]


def test_rank_change_plot_slopes(provinces):
    fig = plots.rank_change_plot(provinces, start=2011, end=2014, highlight=["Zhejiang"], label="name_en")
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 31
    table = plots.rank_change_table(provinces, start=2011, end=2014, label="name_en").set_index("name_en")
    line = _line(ax, "Zhejiang")
    np.testing.assert_array_equal(line.get_xdata(), [2011, 2014])
    np.testing.assert_array_equal(line.get_ydata(), table.loc["Zhejiang", ["rank_start", "rank_end"]].to_numpy())


def test_ranking_plot_unknown_highlight(provinces):
    with pytest.raises(ValueError, match="Zhejiang province"):
        plots.ranking_plot(provinces, highlight=["Zhejiang province"], label="name_en")
    with pytest.raises(PanelError, match="several rows"):
        plots.ranking_table(pd.concat([provinces, provinces]))


# --------------------------------------------------------------------------- anomalies and dispersion


def test_mask_implausible_flags_and_keeps_raw():
    df = pd.DataFrame({"nqpf": [-0.5, 0.0, 0.9, 5.0, 5.1, 80.0]})
    out = plots.mask_implausible(df)
    assert out["implausible"].tolist() == [True, True, False, False, True, True]
    assert out["nqpf"].isna().sum() == 4
    np.testing.assert_array_equal(out["nqpf_raw"], df["nqpf"])
    assert df["nqpf"].notna().all()  # input untouched
    with pytest.raises(ValueError, match="lower < upper"):
        plots.mask_implausible(df, lower=5, upper=1)


def test_dispersion_table_measures(provinces):
    table = plots.dispersion_table(provinces)
    row = table[table.year == 2013].iloc[0]
    x = provinces.loc[provinces.year == 2013, "nqpf"].to_numpy()
    q1, q3 = np.quantile(x, [0.25, 0.75])
    assert row.n == 31 and row.n_missing == 0
    assert row.cv == pytest.approx(x.std(ddof=1) / x.mean())
    assert row.iqr == pytest.approx(q3 - q1)
    assert row.qcd == pytest.approx((q3 - q1) / (q3 + q1))
    r = x / x.mean()
    assert row.theil == pytest.approx(np.mean(r * np.log(r)))
    assert row.share_above_one == pytest.approx(np.mean(x > 1))


def test_dispersion_table_theil_undefined_for_nonpositive_and_by_group(provinces):
    df = provinces.copy()
    df.loc[df.index[0], "nqpf"] = -1.0  # 2010 of the first province
    table = plots.dispersion_table(df, by="group")
    assert len(table) == len(regions.GROUPS) * len(YEARS)
    assert table["theil"].isna().sum() == 1
    masked = plots.dispersion_table(plots.mask_implausible(df), by="group")
    assert masked["theil"].notna().all() and masked["n_missing"].sum() == 1
    # a constant cross-section has no dispersion
    flat = pd.DataFrame({"region_code": list("abc"), "year": 2010, "nqpf": 1.2})
    assert plots.dispersion_table(flat).iloc[0][["cv", "iqr", "theil"]].tolist() == pytest.approx([0, 0, 0])


def test_dispersion_plot_lines_equal_table(provinces):
    city = provinces.assign(nqpf=provinces["nqpf"] ** 2)
    levels = {"province": provinces, "city": city}
    fig = plots.dispersion_plot(levels, measures=["cv", "share_above_one"])
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title() == plots.DISPERSION_MEASURES["cv"]
    for level, df in levels.items():
        t = plots.dispersion_table(df)
        np.testing.assert_allclose(_line(fig.axes[0], level).get_ydata(), t["cv"])
        np.testing.assert_allclose(_line(fig.axes[1], level).get_ydata(), t["share_above_one"])
    with pytest.raises(ValueError, match="unknown measure"):
        plots.dispersion_plot(levels, measures=["gini"])
