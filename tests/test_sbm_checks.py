"""The column-role check shared by sbm, the productivity indices and the bootstrap (nqpf_helpers.sbm._checks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers.bootstrap import sbm_bootstrap
from nqpf_helpers.errors import InputError
from nqpf_helpers.indices import distances, productivity_index
from nqpf_helpers.sbm import sbm
from nqpf_helpers.sbm._checks import check_column_roles


def _panel():
    rng = np.random.default_rng(0)
    n = 8
    return pd.DataFrame({"u": np.tile(range(n), 2), "year": np.repeat([2000, 2001], n),
                         "x": rng.uniform(1, 2, 2 * n), "y": rng.uniform(1, 2, 2 * n), "b": rng.uniform(1, 2, 2 * n)})


def test_valid_roles_come_back_as_lists():
    assert check_column_roles(("x1", "x2"), ["y"], (), caller="f") == (["x1", "x2"], ["y"], [])


@pytest.mark.parametrize(("inputs", "good", "bad", "message"), [
    ([], ["y"], [], r"f\(\) needs at least one input column \(inputs=\) and one good-output column"),
    (["x"], [], ["b"], r"f\(\) needs at least one input column.*got inputs=\['x'\], good=\[\]"),
    (["x"], ["y"], ["y"], r"f\(\): column\(s\) \['y'\] are listed more than once"),
    (["x", "x"], ["y"], [], r"f\(\): column\(s\) \['x'\] are listed more than once"),
    ("x", ["y"], [], r"f\(\): inputs= must be a list of column names; got the string 'x'. Write inputs=\['x'\]"),
    (["x"], ["y"], "b", r"bad= must be a list"),
])
def test_bad_roles_are_named(inputs, good, bad, message):
    with pytest.raises(InputError, match=message):
        check_column_roles(inputs, good, bad, caller="f")


@pytest.mark.parametrize(("func", "extra"), [
    (sbm, {}),
    (distances, {}),
    (productivity_index, {}),
    (sbm_bootstrap, {"backend": "sequential", "n_boot": 2}),
])
def test_every_caller_uses_the_check_and_names_itself(func, extra):
    df = _panel()
    name = func.__name__
    with pytest.raises(InputError, match=rf"^{name}\(\): column\(s\) \['x'\] are listed more than once"):
        func(df, unit="u", time="year", inputs=["x"], good=["y"], bad=["x"], **extra)
    with pytest.raises(InputError, match=rf"^{name}\(\) needs at least one input column"):
        func(df, unit="u", time="year", inputs=[], good=["y"], bad=["b"], **extra)
