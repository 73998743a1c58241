"""The nqpf command line: happy paths (errors are catalogued in test_cli_errors.py)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import cli, data
from nqpf_helpers import pipeline as pl
from nqpf_helpers.data import fetch, file_sha256
from nqpf_helpers.synthetic import example_panel

QUICK = ["--seeds", "2", "--epochs", "15", "--no-progress"]
SBM = ["--inputs", "labour,capital", "--good", "gdp", "--bad", "so2,nox,smoke"]


@pytest.fixture(scope="module")
def panel_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("in") / "panel.csv"
    example_panel(4, 1998, 2014, codes="iso3", seed=2).to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- data commands
def test_fetch_reports_every_file(capsys):
    assert cli.main(["fetch"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok ") == len(data.registry())


def test_fetch_fails_cleanly_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NQPF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NQPF_OFFLINE", "1")
    assert cli.main(["fetch"]) == 1
    assert "NQPF_DATA_DIR" in capsys.readouterr().err


def test_export_published(tmp_path):
    out = tmp_path / "sub" / "county.csv"
    assert cli.main(["export", "published", "--level", "county", str(out)]) == 0
    df = pd.read_csv(out, dtype={"region_code": str})
    assert df["region_code"].nunique() == 2711
    assert list(df.columns) == ["region_code", "year", "gtfp", "nqpf"]


def test_export_leaves_nothing_on_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NQPF_DATA_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("NQPF_OFFLINE", "1")
    assert cli.main(["export", "world-panel", str(tmp_path / "w.csv")]) == 1
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr().err.startswith("nqpf: error:")


# --------------------------------------------------------------------------- help
def test_protocol_choices_match_the_package():
    from nqpf_helpers.forecast import PROTOCOLS

    assert sorted(cli.PROTOCOL_NAMES) == sorted(PROTOCOLS)


@pytest.mark.parametrize("command", ["gtfp", "forecast", "run"])
def test_help_has_examples_and_exit_codes(command, capsys):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"nqpf {command} " in out.split("examples:")[1]
    assert "exit codes:" in out and "130" in out


def test_top_level_help_lists_commands_and_examples(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ["gtfp", "forecast", "run", "fetch", "export"]:
        assert f"nqpf {command}" in out
    assert "``" not in out  # plain text, not reStructuredText


def test_progress_bars_only_when_asked(tmp_path, panel_csv, capsys):
    assert cli.main(["gtfp", str(panel_csv), *SBM, "--progress", "-o", str(tmp_path / "a.csv")]) == 0
    assert "SBM" in capsys.readouterr().err
    assert cli.main(["gtfp", str(panel_csv), *SBM, "--no-progress", "-o", str(tmp_path / "b.csv")]) == 0
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- modelling commands
def test_gtfp_command(tmp_path, panel_csv):
    out = tmp_path / "gtfp.csv"
    assert cli.main(["gtfp", str(panel_csv), *SBM, "--rts", "crs", "-o", str(out)]) == 0
    g = pd.read_csv(out)
    expected = pl.compute_gtfp(pd.read_csv(panel_csv), unit="iso3", time="year", rts="crs",
                               inputs=["labour", "capital"], good=["gdp"], bad=["so2", "nox", "smoke"])
    pd.testing.assert_series_equal(g["gtfp"], expected["gtfp"], check_exact=False, rtol=1e-9)


def test_forecast_command_on_gtfp_output(tmp_path, panel_csv):
    g = tmp_path / "gtfp.csv"
    assert cli.main(["gtfp", str(panel_csv), *SBM, "-o", str(g)]) == 0
    out = tmp_path / "nqpf.csv"
    assert cli.main(["forecast", str(g), "--train-until", "2010", *QUICK, "-o", str(out)]) == 0
    f = pd.read_csv(out)
    assert f.loc[f["split"] == "train", "year"].max() == 2010
    assert (f["n_seeds"] == 2).all() and f["iso3"].nunique() == 4
    pd.testing.assert_series_equal(f["nqpf"], f["actual"] / f["predicted"], check_names=False)


def test_run_command_records_lags(tmp_path, panel_csv):
    out = tmp_path / "res"
    assert cli.main(["run", str(panel_csv), *SBM, "--lags", "3", *QUICK, "--no-map", "-o", str(out)]) == 0
    settings = json.loads((out / "settings.json").read_text())
    assert settings["lags"] == 3
    res = pd.read_csv(out / "results.csv")
    assert res.dropna(subset=["nqpf"])["year"].min() == res["year"].min() + 3


def test_engines_of_the_forecast_command_agree(tmp_path, data_dir):
    """--engine tensorflow trains the same networks as the default Numba kernel (float32 rounding)."""
    gtfp = data.load_gtfp_series()
    g = tmp_path / "gtfp.csv"
    gtfp[gtfp["region_code"].isin(sorted(gtfp["region_code"].unique())[:4])].to_csv(g, index=False)
    numba = tmp_path / "numba.csv"
    assert cli.main(["forecast", str(g), *QUICK, "-o", str(numba)]) == 0  # the default engine
    out = tmp_path / "res"
    assert cli.main(["run", str(g), "--gtfp", "gtfp", "--engine", "tensorflow", *QUICK, "--no-map", "-o", str(out)]) == 0
    assert json.loads((out / "settings.json").read_text())["engine"] == "tensorflow"
    by_numba = pd.read_csv(numba).dropna(subset=["predicted"])
    by_tensorflow = pd.read_csv(out / "results.csv").dropna(subset=["predicted"])
    assert len(by_numba) == len(by_tensorflow) > 0
    np.testing.assert_allclose(by_numba["predicted"], by_tensorflow["predicted"], rtol=1e-5)


def test_forecast_command_on_the_authors_workbook(tmp_path):
    # a Parquet copy of five provinces of the authors' series, in their own column layout
    raw = pd.read_excel(fetch("nqpf/Test_Data.xlsx"))
    five = raw[raw["ID"].isin(raw["ID"].unique()[:5])]
    src = tmp_path / "authors.parquet"
    five.to_parquet(src, index=False)
    out = tmp_path / "nqpf.csv"
    assert cli.main(["forecast", str(src), "--layout", "authors", *QUICK, "-o", str(out)]) == 0
    f = pd.read_csv(out, dtype={"region_code": str})
    assert sorted(f["region_code"].unique()) == sorted(str(i) for i in five["ID"].unique())
    assert f["year"].min() == 1995 and f["year"].max() == 2022


def test_run_command_on_the_authors_excel_layout(tmp_path, capsys):
    src = fetch("nqpf/Test_Data.xlsx")
    out = tmp_path / "results"
    assert cli.main(["run", str(src), "--layout", "authors", *QUICK, "-o", str(out)]) == 0
    assert "31 units" in capsys.readouterr().out
    settings = json.loads((out / "settings.json").read_text())
    assert settings["input_sha256"] == file_sha256(src)
    assert settings["gtfp_source"] == "given column 'gtfp'" and settings["inputs"] == []
    assert settings["command_line"].startswith("nqpf run ") and "--layout authors" in settings["command_line"]
    assert settings["map"] == "map.html" and (out / "nqpf-maps-assets").is_dir()
    r = pd.read_csv(out / "results.csv", dtype={"region_code": str})
    assert len(r) == 31 * 33 and r["region_code"].str.fullmatch(r"\d{6}").all()


def test_run_command_on_a_synthetic_panel(tmp_path, panel_csv):
    out = tmp_path / "results"
    argv = ["run", str(panel_csv), *SBM, "--frontier", "sequential", *QUICK, "-o", str(out)]
    assert cli.main(argv) == 0
    settings = json.loads((out / "settings.json").read_text())
    for key, value in {"frontier": "sequential", "rts": "vrs", "protocol": "improved", "seeds": [0, 1],
                       "epochs": 15, "unit": "iso3", "input_sha256": file_sha256(panel_csv)}.items():
        assert settings[key] == value, key
    assert settings["version"] == cli.pl._package_version()
    report = (out / "report.html").read_text()
    for code in ["CHN", "IND", "JPN", "KOR"]:
        assert f"<td>{code}</td>" in report
    # a second run into the same folder is refused, and leaves it as it was
    assert cli.main(argv) == 3
    assert cli.main([*argv, "--overwrite", "--no-map"]) == 0
    assert not (out / "map.html").exists()


def test_installed_entry_point(tmp_path, panel_csv):
    exe = shutil.which("nqpf", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    assert exe, "the nqpf console script is not installed (pip install -e .)"
    out = tmp_path / "g.csv"
    proc = subprocess.run([exe, "gtfp", str(panel_csv), *SBM, "-o", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "wrote GTFP for 4 units x 17 years" in proc.stdout
    assert len(pd.read_csv(out)) == 4 * 17
    argv = [exe, "gtfp", str(tmp_path / "nope.csv"), *SBM, "-o", str(tmp_path / "h.csv")]
    bad = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and bad.stderr.startswith("nqpf: error:") and "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- a Chinese researcher's own file
GTMP_ARGS = [
    "--unit", "地区", "--time", "年份",
    "--inputs", "规模以上工业企业平均用工人数（万人）,规模以上工业企业固定资产净值（亿元）,能源投入（万吨标准煤）",
    "--good", "工业增加值(亿元)", "--bad", "工业废水排放量（万吨）,工业固体废弃物排放量（万吨）",
]


def test_run_on_the_yearbook_panel_as_excel_saves_it_in_china(tmp_path, capsys):
    """GTMP.csv re-encoded to GBK, years written 2000年, one GDP cell in yuan: map, Chinese report, warning."""
    text = fetch("china/GTMP.csv").read_bytes().decode("utf-8-sig")
    frame = pd.read_csv(io.StringIO(text))
    frame["年份"] = frame["年份"].astype(str) + "年"
    slip = frame.index[(frame["地区"] == "河北") & (frame["年份"] == "2005年")][0]
    frame.loc[slip, "工业增加值(亿元)"] *= 1e8
    path = tmp_path / "GTMP.csv"
    path.write_bytes(frame.to_csv(index=False).encode("gbk"))
    out = tmp_path / "out"
    argv = ["run", str(path), *GTMP_ARGS, "--lang", "zh", "--seeds", "1", "--epochs", "5", "--no-progress",
            "-o", str(out)]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "read GTMP.csv as gb18030 (detected)" in err
    assert "matched 30 province names" in err
    assert re.search(r"warning: possible unit slip: '工业增加值\(亿元\)' of '河北' in 2005: .*1e8 yuan", err)
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["input_encoding"] == "gb18030" and settings["report_language"] == "zh"
    assert settings["map"] == "map.html" and settings["region_codes"] == "matched from province names"
    assert len(settings["data_warnings"]) == 1 and "河北" in settings["data_warnings"][0]
    results = pd.read_csv(out / "results.csv", dtype={"region_code": str})
    assert results["地区"].nunique() == 30 and results["region_code"].str.fullmatch(r"\d{6}").all()
    assert sorted(results["年份"].unique()) == list(range(2000, 2024))
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "新质生产力" in page and "非期望产出" in page and 'src="map.html"' in page
    assert "河北" in page and "工业增加值(亿元)" in page


def test_encoding_option_is_used(tmp_path, capsys):
    path = tmp_path / "gbk.csv"
    path.write_bytes(fetch("china/GTMP.csv").read_bytes().decode("utf-8-sig").encode("gbk"))
    argv = ["gtfp", str(path), *GTMP_ARGS, "--encoding", "gbk", "-o", str(tmp_path / "g.csv")]
    assert cli.main(argv) == 0
    assert "read gbk.csv as gbk (as given by --encoding)" in capsys.readouterr().err
    assert cli.main([*argv[:-2], "--encoding", "utf-8", "-o", str(tmp_path / "h.csv")]) == 1
    assert "--encoding" in capsys.readouterr().err and not (tmp_path / "h.csv").exists()


def test_a_misspelt_province_stops_before_computing_with_the_closest_names(tmp_path, capsys):
    frame = pd.read_csv(fetch("china/GTMP.csv"), encoding="utf-8-sig")
    frame["地区"] = frame["地区"].replace({"黑龙江": "黑龙姜"})
    path = tmp_path / "typo.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    assert cli.main(["run", str(path), *GTMP_ARGS, "--no-progress", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "'黑龙姜' (closest: 黑龙江省 Heilongjiang (230000)" in err and "--no-map" in err
    assert not out.exists()
