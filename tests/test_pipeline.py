"""The Python API behind ``nqpf gtfp/forecast/run``: reading, checks, computing, the results folder."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import io as nio
from nqpf_helpers import pipeline as pl
from nqpf_helpers import plots, report
from nqpf_helpers.synthetic import example_panel
from nqpf_helpers.validate import PanelError

SBM = dict(inputs=["labour", "capital"], good=["gdp"], bad=["so2", "nox", "smoke"])
QUICK = dict(seeds=2, epochs=15)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return example_panel(5, 1998, 2015, codes="china", seed=3)


@pytest.fixture(scope="module")
def result(panel) -> pl.PipelineResult:
    return pl.run_pipeline(panel, unit="region_code", **SBM, **QUICK)


# --------------------------------------------------------------------------- example panel
@pytest.mark.parametrize("codes, col", [("china", "region_code"), ("iso3", "iso3"), ("names", "unit")])
def test_example_panel_is_balanced_and_positive(codes, col):
    df = example_panel(4, 2000, 2010, codes=codes, seed=1)
    assert col in df.columns
    assert df.groupby(col)["year"].apply(list).map(len).eq(11).all()
    assert (df[["labour", "capital", "gdp", "so2", "nox", "smoke"]] > 0).all().all()
    assert report.unit_kind(df[col].unique()) == {"china": "china", "iso3": "iso3", "names": "other"}[codes]


def test_example_panel_depends_on_seed_only():
    a, b = example_panel(3, seed=5), example_panel(3, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["gdp"], example_panel(3, seed=6)["gdp"])


def test_example_panel_rejects_too_many_units():
    with pytest.raises(ValueError, match="n_units"):
        example_panel(13, codes="iso3")


# --------------------------------------------------------------------------- checks
def test_check_run_panel_accepts_a_good_panel(panel):
    out = pl.check_run_panel(panel.sample(frac=1, random_state=0), unit="region_code", time="year", **SBM)
    assert out["region_code"].is_monotonic_increasing


def test_check_run_panel_all_zero_bad_output(panel):
    with pytest.raises(PanelError, match="'so2' is zero for every unit"):
        pl.check_run_panel(panel.assign(so2=0.0), unit="region_code", time="year", **SBM)


def test_check_run_panel_training_cutoff_outside_years(panel):
    with pytest.raises(PanelError, match="--train-until between 2003 and 2014"):
        pl.check_run_panel(panel, unit="region_code", time="year", **SBM, train_until=2016)


# --------------------------------------------------------------------------- computing
def test_compute_gtfp_scores(panel):
    g = pl.compute_gtfp(panel, unit="region_code", time="year", **SBM)
    assert len(g) == len(panel)
    assert ((g["gtfp"] > 0) & (g["gtfp"] <= 1 + 1e-9)).all()
    assert g.loc[g["efficient"], "gtfp"].sub(1).abs().max() < 1e-6
    # inefficiency by source adds up to 1 - score
    ineff = g.filter(like="ineff_").sum(axis=1)
    np.testing.assert_allclose(ineff, 1 - g["gtfp"], atol=1e-6)


def test_compute_nqpf_chunks_do_not_change_the_model(panel):
    g = pl.compute_gtfp(panel, unit="region_code", time="year", **SBM)
    one = pl.compute_nqpf(g, unit="region_code", time="year", seeds=3, epochs=15, chunk=3)
    split = pl.compute_nqpf(g, unit="region_code", time="year", seeds=3, epochs=15, chunk=2)
    np.testing.assert_allclose(one["predicted"], split["predicted"], rtol=1e-4)
    assert (one["n_seeds"] == 3).all()
    np.testing.assert_allclose(one["nqpf"], one["actual"] / one["predicted"])


def test_compute_nqpf_train_until_moves_the_split(panel):
    g = pl.compute_gtfp(panel, unit="region_code", time="year", **SBM)
    out = pl.compute_nqpf(g, unit="region_code", time="year", train_until=2011, **QUICK)
    assert out.loc[out["split"] == "train", "year"].max() == 2011
    assert out.loc[out["split"] == "test", "year"].min() == 2012


def test_compute_nqpf_lags_set_the_first_predicted_year(panel):
    g = pl.compute_gtfp(panel, unit="region_code", time="year", **SBM)
    first = int(g["year"].min())
    for lags in (3, 7):
        out = pl.compute_nqpf(g, unit="region_code", time="year", lags=lags, **QUICK)
        assert out["year"].min() == first + lags  # the first `lags` years are inputs only


def test_lags_are_checked_before_computing(panel):
    short = panel[panel["year"] < panel["year"].min() + 8]
    g = pl.compute_gtfp(short, unit="region_code", time="year", **SBM)
    with pytest.raises(PanelError, match=r"windows of 7 years.*--lags 6"):
        pl.compute_nqpf(g, unit="region_code", time="year", lags=7, protocol="released_current", **QUICK)
    with pytest.raises(ValueError, match="lags must be a positive integer"):
        pl.compute_nqpf(g, unit="region_code", time="year", lags=0, **QUICK)


def test_compute_nqpf_rejects_cutoff_for_share_protocols(panel):
    g = pl.compute_gtfp(panel, unit="region_code", time="year", **SBM)
    with pytest.raises(ValueError, match="splits training and test years by share"):
        pl.compute_nqpf(g, unit="region_code", time="year", protocol="released_current", train_until=2010)


def test_run_pipeline_results_and_settings(result, panel):
    r = result.results
    assert len(r) == len(panel)
    predicted = r.dropna(subset=["nqpf"])
    assert predicted["year"].min() == 1998 + 5  # the first five years are inputs only
    np.testing.assert_allclose(predicted["nqpf"], predicted["gtfp"] / predicted["predicted"])
    s = result.settings
    assert s["seeds"] == [0, 1] and s["epochs"] == 15 and s["train_until"] == 2009
    assert s["bad"] == ["so2", "nox", "smoke"] and s["n_units"] == 5


def test_run_pipeline_from_a_given_gtfp_column(panel):
    given = panel[["region_code", "year"]].assign(score=np.linspace(0.5, 0.9, len(panel)))
    res = pl.run_pipeline(given, unit="region_code", gtfp="score", **QUICK)
    assert res.settings["gtfp_source"].startswith("given column")
    np.testing.assert_allclose(res.gtfp["gtfp"], given.sort_values(["region_code", "year"])["score"])


# --------------------------------------------------------------------------- writing
def test_write_report_folder(tmp_path, result):
    out = report.write_report(result, tmp_path / "res")
    names = {p.name for p in out.iterdir()}
    assert {"results.csv", "settings.json", "report.html", "map.html"} <= names
    settings = json.loads((out / "settings.json").read_text())
    assert settings["map"] == "map.html" and settings["protocol"] == "improved"
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and 'src="map.html"' in page
    assert "https://" not in (out / "map.html").read_text().split("<body")[0]  # assets are local
    assert [p.name for p in tmp_path.iterdir()] == ["res"]  # no temporary folders left


def test_write_report_refuses_existing_folder_unless_overwrite(tmp_path, result):
    out = tmp_path / "res"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(nio.OutputError, match="--overwrite"):
        report.write_report(result, out, map=False)
    report.write_report(result, out, map=False, overwrite=True)
    assert not (out / "old.txt").exists() and (out / "results.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_write_report_leaves_nothing_on_failure(tmp_path, result, monkeypatch, exc):
    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(report, "_trend_png", boom)  # fails after results.csv and the map are written
    with pytest.raises(type(exc)):
        report.write_report(result, tmp_path / "res")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_previous_folder(tmp_path, result, monkeypatch):
    out = report.write_report(result, tmp_path / "res", map=False)
    before = (out / "results.csv").read_text()
    monkeypatch.setattr(report, "_trend_png", lambda r, lang: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        report.write_report(result, out, map=False, overwrite=True)
    assert (out / "results.csv").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_write_csv_atomically(tmp_path, panel):
    out = nio.write_csv_atomically(panel, tmp_path / "a" / "b.csv")
    assert len(pd.read_csv(out)) == len(panel)
    assert [p.name for p in out.parent.iterdir()] == ["b.csv"]


def test_trend_figure_plots_the_nqpf_median(result):
    fig = plots.trend_figure(result)
    left, right = fig.axes
    assert len(left.lines) >= result.gtfp["region_code"].nunique() + 2
    median = right.lines[0]
    test = result.nqpf[result.nqpf["split"] == "test"]
    expected = test.groupby("year")["nqpf"].median()
    np.testing.assert_allclose(median.get_xdata(), expected.index)
    np.testing.assert_allclose(median.get_ydata(), expected.to_numpy())


# --------------------------------------------------------------------------- unit slips and names
GTMP_SBM = dict(
    inputs=["规模以上工业企业平均用工人数（万人）", "规模以上工业企业固定资产净值（亿元）", "能源投入（万吨标准煤）"],
    good=["工业增加值(亿元)"], bad=["工业废水排放量（万吨）", "工业固体废弃物排放量（万吨）"],
)


def test_find_unit_slips_names_the_cell_and_the_slip(panel):
    from nqpf_helpers.validate import find_unit_slips

    cols = SBM["inputs"] + SBM["good"] + SBM["bad"]
    assert find_unit_slips(panel, unit="region_code", time="year", columns=cols).empty
    bad = panel.copy()
    row = bad.index[(bad["region_code"] == "120000") & (bad["year"] == 2005)][0]
    bad.loc[row, "gdp"] *= 1e8  # yuan instead of 1e8 yuan
    bad.loc[bad.index[-1], "so2"] = 1e300
    bad.loc[bad.index[3], "labour"] /= 1e4
    found = find_unit_slips(bad, unit="region_code", time="year", columns=cols)
    assert len(found) == 3
    gdp = found[found["column"] == "gdp"].iloc[0]
    assert (gdp["unit"], gdp["time"]) == ("120000", 2005) and 0.7e8 < gdp["ratio"] < 1.4e8
    assert "'gdp' of '120000' in 2005" in gdp["message"] and "1e8 yuan (亿元)" in gdp["message"]
    assert "not a plausible value" in found[found["column"] == "so2"].iloc[0]["message"]
    assert "reverse slip" in found[found["column"] == "labour"].iloc[0]["message"]


def test_no_slips_flagged_in_the_real_yearbook_panel():
    from nqpf_helpers.data import fetch
    from nqpf_helpers.validate import find_unit_slips

    gtmp = pd.read_csv(fetch("china/GTMP.csv"), encoding="utf-8-sig")
    cols = GTMP_SBM["inputs"] + GTMP_SBM["good"] + GTMP_SBM["bad"]
    assert find_unit_slips(gtmp, unit="地区", time="年份", columns=cols).empty


def test_run_pipeline_on_named_provinces_with_a_slip(panel):
    from nqpf_helpers.errors import UnitSlipWarning
    from nqpf_helpers.regions import province_table

    names = province_table().set_index("province_code")["name_zh"].str.replace("省", "")
    named = panel.assign(region_code=panel["region_code"].map(names)).rename(columns={"region_code": "省份"})
    row = named.index[(named["省份"] == "天津市") & (named["year"] == 2005)][0]
    named.loc[row, "gdp"] *= 1e8
    with pytest.warns(UnitSlipWarning, match=r"'gdp' of '天津市' in 2005"):
        res = pl.run_pipeline(named, unit="省份", **SBM, seeds=1, epochs=5)
    assert res.results["省份"].unique().tolist() == sorted(names[panel["region_code"].unique()])
    assert res.results.columns[:3].tolist() == ["省份", "region_code", "year"]
    assert set(res.results["region_code"]) == set(panel["region_code"])
    assert res.settings["region_codes"] == "matched from province names"
    assert len(res.settings["data_warnings"]) == 1 and "天津市" in res.settings["data_warnings"][0]
