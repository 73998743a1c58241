"""The nqpf command line."""

from __future__ import annotations

import pandas as pd

from nqpf_helpers import cli


def test_fetch_reports_every_file(capsys):
    assert cli.main(["fetch"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok ") == 9


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


def test_export_leaves_nothing_on_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("NQPF_DATA_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("NQPF_OFFLINE", "1")
    assert cli.main(["export", "world-panel", str(tmp_path / "w.csv")]) == 1
    assert list(tmp_path.iterdir()) == []
