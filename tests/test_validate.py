"""Bad-input cases of the panel validator: each must raise PanelError with a useful message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers.validate import PanelError, validate_panel


def good_panel() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit": ["A"] * 3 + ["B"] * 3,
            "year": [2000, 2001, 2002] * 2,
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "e": [0.0, 1.0, 2.0, 0.5, 0.5, 0.5],
        }
    )


def check(df, **kwargs):
    defaults = dict(unit="unit", time="year", values=["x", "e"], positive=["x"], nonnegative=["e"])
    defaults.update(kwargs)
    return validate_panel(df, **defaults)


def test_good_panel_passes_and_is_sorted():
    df = good_panel().sample(frac=1.0, random_state=0)
    out = check(df)
    assert list(out["unit"]) == ["A"] * 3 + ["B"] * 3
    assert list(out["year"]) == [2000, 2001, 2002] * 2
    assert out.index.tolist() == list(range(6))


def test_not_a_dataframe():
    with pytest.raises(PanelError, match="expected a pandas DataFrame"):
        check([1, 2, 3])


def test_missing_column_names_it_and_the_fix():
    with pytest.raises(PanelError, match=r"missing required column\(s\) \['x'\].*rename"):
        check(good_panel().drop(columns="x"))


def test_empty_panel():
    with pytest.raises(PanelError, match="no rows"):
        check(good_panel().iloc[0:0])


def test_duplicate_rows_are_named():
    df = pd.concat([good_panel(), good_panel().iloc[[4]]])
    with pytest.raises(PanelError, match=r"duplicated unit/year pairs: B/2001"):
        check(df)


def test_unbalanced_panel_names_unit_and_missing_year():
    df = good_panel().drop(index=5)  # B loses 2002
    with pytest.raises(PanelError, match=r"unbalanced panel, 1 of 2 units.*B \(missing \[2002\]\)"):
        check(df)


def test_gap_in_years_names_unit():
    df = good_panel().drop(index=1)  # A loses 2001: a gap
    with pytest.raises(PanelError, match=r"gaps in year for 1 unit\(s\): A \(missing \[2001\]\)"):
        check(df, balanced=False)


def test_unbalanced_allowed_when_requested():
    df = good_panel().drop(index=5)
    out = check(df, balanced=False)
    assert len(out) == 5


def test_missing_value_named_with_cell():
    df = good_panel()
    df.loc[2, "x"] = np.nan
    with pytest.raises(PanelError, match=r"column 'x' has 1 missing value\(s\) at A/2002"):
        check(df)


def test_non_numeric_value_named():
    df = good_panel()
    df["x"] = df["x"].astype(object)
    df.loc[3, "x"] = "n/a"
    with pytest.raises(PanelError, match=r"column 'x' is not numeric.*B/2000"):
        check(df)


def test_non_positive_value_named():
    df = good_panel()
    df.loc[4, "x"] = 0.0
    with pytest.raises(PanelError, match=r"'x' must be strictly positive.*B/2001"):
        check(df)


def test_negative_value_in_nonnegative_column():
    df = good_panel()
    df.loc[0, "e"] = -1.0
    with pytest.raises(PanelError, match=r"'e' must be >= 0.*A/2000"):
        check(df)


def test_zero_allowed_in_nonnegative_column():
    out = check(good_panel())
    assert (out["e"] == 0).sum() == 1


def test_infinite_value():
    df = good_panel()
    df.loc[1, "e"] = np.inf
    with pytest.raises(PanelError, match=r"infinite value\(s\) at A/2001"):
        check(df)


def test_fractional_years_rejected():
    df = good_panel()
    df["year"] = df["year"] + 0.5
    with pytest.raises(PanelError, match="whole numbers"):
        check(df)


def test_missing_unit_identifier():
    df = good_panel()
    df.loc[0, "unit"] = None
    with pytest.raises(PanelError, match="no unit"):
        check(df)


def test_long_lists_are_truncated():
    n = 20
    df = pd.DataFrame({"unit": [f"u{i}" for i in range(n)], "year": 2000, "x": -1.0, "e": 0.0})
    with pytest.raises(PanelError, match=r"\(20 in all\)"):
        check(df)


def test_require_columns_names_missing_and_present_columns() -> None:
    from nqpf_helpers.errors import MapInputError
    from nqpf_helpers.validate import require_columns

    df = good_panel()
    assert require_columns(df, ["unit", None, "x"], "panel") is df
    with pytest.raises(PanelError, match=r"panel: missing column\(s\) \['gdp'\]; found \['unit', 'year', 'x', 'e'\]"):
        require_columns(df, ["unit", "gdp"], "panel")
    with pytest.raises(MapInputError, match="expected a pandas DataFrame, got list"):
        require_columns([1], ["a"], "map data", error=MapInputError)
    with pytest.raises(PanelError, match="Try this"):
        require_columns(df, ["gdp"], "panel", hint="Try this.")
