"""The `nqpf gtfp` options for growth indices, bootstrap intervals and backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import cli
from nqpf_helpers.bootstrap import sbm_bootstrap
from nqpf_helpers.indices import productivity_index

SBM = ["--unit", "u", "--inputs", "x1,x2", "--good", "y", "--bad", "b"]


@pytest.fixture()
def panel_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 12 * 3
    d = np.exp(rng.normal(0, 0.7, size=(n, 4)))
    df = pd.DataFrame({"u": np.tile([f"c{i}" for i in range(12)], 3), "year": np.repeat([2001, 2002, 2003], 12),
                       "x1": d[:, 0], "x2": d[:, 1], "y": d[:, 2], "b": d[:, 3]})
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("index", ["gml", "ml", "luenberger", "sbm-gml"])
def test_index_option_writes_the_index(tmp_path, panel_csv, index):
    out = tmp_path / f"{index}.csv"
    assert cli.main(["gtfp", str(panel_csv), *SBM, "--index", index, "-o", str(out)]) == 0
    got = pd.read_csv(out, keep_default_na=False, na_values=[""])
    expected = productivity_index(pd.read_csv(panel_csv), unit="u", time="year", inputs=["x1", "x2"], good=["y"],
                                  bad=["b"], index=index)
    name = index.replace("-", "_")
    np.testing.assert_allclose(got[name].to_numpy(float), expected[name].to_numpy(float), rtol=1e-12)


def test_bootstrap_option_adds_intervals(tmp_path, panel_csv):
    out = tmp_path / "g.csv"
    assert cli.main(["gtfp", str(panel_csv), *SBM, "--bootstrap", "5", "--backend", "sequential", "-o", str(out)]) == 0
    got = pd.read_csv(out)
    assert {"gtfp_bc", "lower", "upper"} <= set(got.columns)
    boot = sbm_bootstrap(pd.read_csv(panel_csv), unit="u", time="year", inputs=["x1", "x2"], good=["y"], bad=["b"],
                         n_boot=5)
    np.testing.assert_allclose(got["upper"], boot["upper"], rtol=1e-12)
    assert (got["lower"] <= got["gtfp"] + 1e-9).all()


def test_option_misuse_is_an_input_error(tmp_path, panel_csv, capsys):
    out = tmp_path / "x.csv"
    assert cli.main(["gtfp", str(panel_csv), *SBM, "--index", "gml", "--bootstrap", "3", "-o", str(out)]) == 1
    assert "without --index" in capsys.readouterr().err
    assert cli.main(["gtfp", str(panel_csv), *SBM, "--index", "gml", "--scheduler", "tcp://x:1", "-o", str(out)]) == 1
    assert "--backend dask" in capsys.readouterr().err
    assert not out.exists()
