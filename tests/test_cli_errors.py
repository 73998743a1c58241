"""Reliability catalogue: bad inputs to the nqpf command.

Each case feeds one distinct problem to the command and checks the exit code
(1 bad input, 2 bad usage, 3 output cannot be written, 70 a bug, 130 interrupted), that
the message is one paragraph starting ``nqpf: error:`` that names the problem
and a fix, that no traceback is shown without ``--debug``, and that nothing
was written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import cli, report
from nqpf_helpers import io as nio
from nqpf_helpers import pipeline as pl
from nqpf_helpers.synthetic import example_panel

SBM = ["--inputs", "labour,capital", "--good", "gdp", "--bad", "so2,nox,smoke"]
QUICK = ["--seeds", "1", "--epochs", "5", "--no-progress"]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # crash reports (and any download) go to a scratch cache, never the user's
    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def good_panel() -> pd.DataFrame:
    return example_panel(4, 2000, 2012, codes="china", seed=7)


@dataclass
class Case:
    """One bad input: how to make it, what the command must say."""

    make: Callable[[Path], list[str]]  # writes files into a folder, returns the argv
    problem: str  # regex the message must match: names the problem
    fix: str  # regex the message must match: names the fix
    code: int = 1


def _csv(df: pd.DataFrame, folder: Path, name: str = "panel.csv") -> str:
    path = folder / name
    df.to_csv(path, index=False)
    return str(path)


def _run(df: pd.DataFrame, *extra: str) -> Callable[[Path], list[str]]:
    return lambda d: ["run", _csv(df, d), *SBM, *extra, *QUICK, "-o", str(d / "out")]


def _with(df: pd.DataFrame, **changes) -> pd.DataFrame:
    df = df.copy()
    for col, (row, value) in changes.items():
        df[col] = df[col].astype(object) if isinstance(value, str) else df[col]
        df.loc[row, col] = value
    return df


def _empty_file(d: Path) -> list[str]:
    (d / "panel.csv").write_bytes(b"")
    return ["run", str(d / "panel.csv"), *SBM, *QUICK, "-o", str(d / "out")]


def _wrong_sheet(d: Path) -> list[str]:
    path = d / "panel.xlsx"
    with pd.ExcelWriter(path) as xl:
        good_panel().to_excel(xl, sheet_name="inputs 2000-2012", index=False)
    return ["run", str(path), "--sheet", "Sheet1", *SBM, *QUICK, "-o", str(d / "out")]


def _parent_is_a_file(d: Path) -> list[str]:
    (d / "results.txt").write_text("not a folder")
    return ["run", _csv(good_panel(), d), *SBM, *QUICK, "-o", str(d / "results.txt" / "run1")]


def _output_exists(d: Path) -> list[str]:
    (d / "out").mkdir()
    return ["run", _csv(good_panel(), d), *SBM, *QUICK, "-o", str(d / "out")]


def _single_year(d: Path) -> list[str]:
    df = good_panel()
    return _run(df[df["year"] == 2005])(d)


def _short(d: Path) -> list[str]:
    df = good_panel()
    return _run(df[df["year"] <= 2005])(d)


def _unbalanced(d: Path) -> list[str]:
    df = good_panel()
    return _run(df[~((df["region_code"] == df["region_code"].iloc[0]) & (df["year"] == 2012))])(d)


def _gap(d: Path) -> list[str]:
    df = good_panel()
    return _run(df[~((df["region_code"] == df["region_code"].iloc[0]) & (df["year"] == 2006))])(d)


def _unknown_code(d: Path) -> list[str]:
    df = good_panel()
    df.loc[df["region_code"] == df["region_code"].iloc[0], "region_code"] = "990000"
    return _run(df)(d)


def _forecast_no_gtfp(d: Path) -> list[str]:
    return ["forecast", _csv(good_panel(), d), *QUICK, "-o", str(d / "out.csv")]


CATALOGUE: dict[str, Case] = {
    "missing column": Case(_run(good_panel().drop(columns="nox")), r"missing required column.*'nox'", r"Rename"),
    "duplicate unit-year": Case(
        _run(pd.concat([good_panel(), good_panel().iloc[[3]]])), r"duplicated region_code/year pairs: 110000/2003",
        r"aggregate or drop the duplicates"),
    "unbalanced panel": Case(_unbalanced, r"unbalanced panel, 1 of 4 units.*110000 \(missing \[2012\]\)",
                             r"Restrict to a common period or drop those units"),
    "gap in years": Case(_gap, r"gaps in year.*110000 \(missing \[2006\]\)", r"Fill the missing years"),
    "text in a numeric column": Case(_run(_with(good_panel(), capital=(5, "1.2e3 est."))),
                                     r"'capital' is not numeric.*110000/2005", r"after fixing those cells"),
    "missing value": Case(_run(_with(good_panel(), gdp=(2, np.nan))), r"'gdp' has 1 missing value.*110000/2002",
                          r"Fill them from the source"),
    "negative input": Case(_run(_with(good_panel(), labour=(14, -3.0))),
                           r"'labour' must be strictly positive.*120000/2001", r"correct the data or drop"),
    "negative bad output": Case(_run(_with(good_panel(), smoke=(0, -1.0))), r"'smoke' must be >= 0",
                                r"correct the data"),
    "all-zero bad output": Case(_run(good_panel().assign(so2=0.0)), r"bad output 'so2' is zero for every unit",
                                r"leave it out of --bad"),
    "single year": Case(_single_year, r"only one year \(2005\)", r"at least 7 consecutive years|nqpf gtfp"),
    "series too short": Case(_short, r"series too short, 6 years \(2000-2005\)", r"at least 7 consecutive years"),
    "training cut-off outside the years": Case(_run(good_panel(), "--train-until", "2012"),
                                               r"cut-off 2012 leaves no training or no test years",
                                               r"--train-until between 2005 and 2011"),
    "cut-off with a share protocol": Case(_run(good_panel(), "--protocol", "released_current", "--train-until", "2008"),
                                          r"splits training and test years by share", r"Drop --train-until"),
    "input listed twice": Case(
        lambda d: ["run", _csv(good_panel(), d), "--inputs", "labour,capital", "--good", "gdp", "--bad", "so2,gdp",
                   *QUICK, "-o", str(d / "out")],
        r"'gdp'.* listed more than once", r"list each once"),
    "unknown region code for a map": Case(_unknown_code, r"unknown region code.*'990000'",
                                          r"--no-map|Fix or drop these codes"),
    "empty file": Case(_empty_file, r"is empty \(0 bytes\)", r"Export the panel again"),
    "missing file": Case(lambda d: ["run", str(d / "nope.csv"), *SBM, "-o", str(d / "out")], r"does not exist",
                         r"Check the path"),
    "unknown file type": Case(lambda d: ["gtfp", _csv(good_panel(), d, "panel.json"), *SBM, "-o", str(d / "g.csv")],
                              r"unknown file type '\.json'", r"Save the panel as one of"),
    "wrong sheet name": Case(_wrong_sheet, r"no sheet named 'Sheet1'.*'inputs 2000-2012'", r"Use --sheet"),
    "unit column not found": Case(_run(good_panel(), "--unit", "province_id"),
                                  r"unit column 'province_id' not found", r"with --unit"),
    "not the authors' layout": Case(_run(good_panel(), "--layout", "authors"), r"not in the authors' layout",
                                    r"use --layout long"),
    "forecast without a GTFP column": Case(_forecast_no_gtfp, r"GTFP column 'gtfp' not found", r"--value"),
    "output folder not writable": Case(_parent_is_a_file, r"is a file, not a folder",
                                       r"Choose an output path inside a folder", code=3),
    "output exists": Case(_output_exists, r"already exists", r"--overwrite", code=3),
}


def _call(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_catalogue_is_large_enough():
    assert len(CATALOGUE) >= 12


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_bad_input(name, tmp_path, capsys):
    case = CATALOGUE[name]
    argv = case.make(tmp_path)
    before = {p.name for p in tmp_path.iterdir()}
    code, err = _call(argv, capsys)
    assert code == case.code, err
    assert err.startswith("nqpf: error: "), err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0, "the message is one paragraph"
    assert re.search(case.problem, err), f"problem not named: {err}"
    assert re.search(case.fix, err), f"fix not named: {err}"
    assert {p.name for p in tmp_path.iterdir()} == before, "nothing may be written on failure"


def test_output_folder_without_write_permission(tmp_path, monkeypatch, capsys):
    # Tests may run as root, for whom chmod does not deny writing; simulate the denial instead.
    path = _csv(good_panel(), tmp_path)
    real_access = nio.os.access
    monkeypatch.setattr(nio.os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    code, err = _call(["run", path, *SBM, *QUICK, "-o", str(tmp_path / "out")], capsys)
    assert code == 3
    assert "is not writable by you" in err and "Choose another output location" in err
    assert [p.name for p in tmp_path.iterdir()] == ["panel.csv"]


def test_usage_errors_exit_2(tmp_path, capsys):
    path = _csv(good_panel(), tmp_path)
    assert cli.main(["run", path, "--sedes", "3", "-o", str(tmp_path / "o")]) == 2
    assert "unrecognized arguments: --sedes" in capsys.readouterr().err
    assert cli.main(["gtfp", path, "--inputs", "labour", "-o", str(tmp_path / "o")]) == 2
    assert "--good" in capsys.readouterr().err
    assert cli.main(["forecast", path, "--seeds", "0", "-o", str(tmp_path / "o")]) == 2
    assert "must be a whole number >= 1" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path, capsys):
    argv = _run(good_panel().drop(columns="nox"))(tmp_path)
    code, err = _call(["--debug", *argv], capsys)
    assert code == 1
    assert "Traceback (most recent call last)" in err and "PanelError" in err
    assert err.rstrip().splitlines()[-1].startswith("nqpf: error: ")


@pytest.mark.parametrize("module, where", [(pl, "compute_gtfp"), (pl, "compute_nqpf"), (report, "_trend_png")])
def test_ctrl_c_leaves_nothing_behind(module, where, tmp_path, monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, where, interrupt)
    code, err = _call(_run(good_panel())(tmp_path), capsys)
    assert code == 130
    assert "interrupted; no output was written" in err
    assert [p.name for p in tmp_path.iterdir()] == ["panel.csv"]


def test_failure_while_writing_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "render_report", disk_full)  # after results.csv, settings.json and the map
    code, err = _call(_run(good_panel())(tmp_path), capsys)
    assert code == 3
    assert "No space left on device" in err
    assert [p.name for p in tmp_path.iterdir()] == ["panel.csv"]


# --------------------------------------------------------------------------- bugs are not input errors


@pytest.mark.parametrize("exc", [ValueError("boom"), KeyError("boom"), TypeError("boom"), RuntimeError("boom"),
                                 FileNotFoundError("boom")])
def test_an_unexpected_exception_is_reported_as_a_bug(exc, tmp_path, monkeypatch, capsys):
    def buggy(*args, **kwargs):
        raise exc

    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(pl, "compute_gtfp", buggy)
    (tmp_path / "in").mkdir()
    code, err = _call(_run(good_panel())(tmp_path / "in"), capsys)
    assert code == cli.EXIT_BUG == 70
    assert err.startswith("nqpf: error: unexpected ") and "boom" in err
    assert "This is a bug in nqpf_helpers" in err and "please report it" in err
    assert "Traceback" not in err, "the traceback goes to a file, not the screen"
    saved = Path(re.search(r"The full traceback is in (\S+\.txt)\.", err).group(1))
    assert saved.parent == tmp_path / "cache" / "crash-reports"
    report = saved.read_text()
    assert "Traceback (most recent call last)" in report and "in buggy" in report
    assert "command: nqpf run " in report
    assert [p.name for p in (tmp_path / "in").iterdir()] == ["panel.csv"]


def test_crash_report_falls_back_to_the_temporary_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NQPF_CACHE_DIR", str(blocker))
    import tempfile

    assert cli.crash_report_dir() == Path(tempfile.gettempdir())


def test_a_deliberate_solver_error_is_an_input_problem(tmp_path, monkeypatch, capsys):
    from nqpf_helpers.errors import SolverError

    def no_optimum(*args, **kwargs):
        raise SolverError("unit 'A' in 2003: HiGHS ended without an optimum. Rescale the inputs.")

    monkeypatch.setattr(pl, "compute_gtfp", no_optimum)
    code, err = _call(_run(good_panel())(tmp_path), capsys)
    assert code == 1
    assert "without an optimum" in err and "bug" not in err


def test_export_does_not_overwrite_without_the_flag(tmp_path, capsys):
    out = tmp_path / "series.csv"
    out.write_text("keep me")
    code, err = _call(["export", "gtfp-series", str(out)], capsys)
    assert code == 3
    assert "already exists" in err and "--overwrite" in err
    assert out.read_text() == "keep me"
    assert cli.main(["export", "gtfp-series", str(out), "--overwrite"]) == 0
    assert pd.read_csv(out).shape == (31 * 33, 3)
    assert cli.main(["export", "gtfp-series", str(tmp_path / "new.csv")]) == 0


def test_a_library_value_error_inside_the_package_is_a_bug(tmp_path, monkeypatch, capsys):
    # A ValueError that numpy raises inside a package function is not a message for the user.
    import numpy as np

    from nqpf_helpers import validate

    monkeypatch.setattr(pl, "compute_gtfp", lambda *a, **k: validate.format_list(np.array([[1, 2]]).reshape(3)))
    code, err = _call(_run(good_panel())(tmp_path), capsys)
    assert code == cli.EXIT_BUG, err
    assert "cannot reshape" in err and "This is a bug" in err
