"""Tests for nqpf_helpers.data.benchmarks: benchmark result tables shipped as package data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import data
from nqpf_helpers.data import benchmarks
from nqpf_helpers.errors import DataIntegrityError


def test_coverage_table_loads_from_the_package_with_its_documented_columns() -> None:
    table = data.load_bootstrap_coverage()
    assert set(benchmarks.BOOTSTRAP_COVERAGE_COLUMNS) <= set(table.columns)
    # one row per (n, kappa) cell of the design, shares in [0, 1], m = round(n ** kappa) or so
    assert not table.duplicated(["n", "kappa"]).any()
    assert table["coverage"].between(0, 1).all()
    assert np.all(np.abs(table["m"] - table["n"] ** table["kappa"]) <= 1)


def test_coverage_table_is_read_without_the_project_folder(tmp_path: Path) -> None:
    """Issue 11 finding 17: a reader with an installed package (no clone) loads the same table."""
    code = "import nqpf_helpers.data as d; print(len(d.load_bootstrap_coverage()))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == len(data.load_bootstrap_coverage())


@pytest.mark.parametrize(
    ("edit", "message"),
    [(lambda t: t.drop(columns="kappa"), "lacks columns"), (lambda t: t.assign(coverage=1.2), "outside")],
    ids=["missing-column", "coverage-above-one"],
)
def test_a_broken_table_names_the_problem_and_the_command_that_rewrites_it(monkeypatch, edit, message) -> None:
    broken = edit(data.load_bootstrap_coverage())
    monkeypatch.setattr(benchmarks.pd, "read_csv", lambda *a, **k: broken)
    with pytest.raises(DataIntegrityError, match=message) as err:
        benchmarks.load_bootstrap_coverage()
    assert "benchmarks/bootstrap_coverage.py --out nqpf_helpers/data/bootstrap_coverage.csv" in str(err.value)


def test_the_benchmark_script_writes_the_table_the_loader_reads(tmp_path: Path, monkeypatch) -> None:
    """The documented command and the loader agree on the format (a tiny run of the real script)."""
    root = Path(__file__).resolve().parents[1]
    out, md = tmp_path / "cov.csv", tmp_path / "cov.md"
    subprocess.run(
        [sys.executable, str(root / "benchmarks" / "bootstrap_coverage.py"), "--n", "30", "--kappa", "0.6",
         "--reps", "2", "--boot", "5", "--out", str(out), "--md", str(md)],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    written = pd.read_csv(out)
    monkeypatch.setattr(benchmarks.pd, "read_csv", lambda *a, **k: written)
    table = benchmarks.load_bootstrap_coverage()
    assert list(table[["n", "kappa"]].itertuples(index=False, name=None)) == [(30, 0.6)]
    assert md.read_text().startswith("# Coverage of nominal 90%")
