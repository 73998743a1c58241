from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nqpf_helpers import transforms as tf
from nqpf_helpers.errors import InputError


@pytest.mark.parametrize("kind", tf.KINDS)
@given(st.floats(1e-6, 0.999))
def test_distance_round_trips_and_is_positive(kind, g):
    d = tf.distance(np.array([g]), kind)
    assert d[0] > 0
    assert tf.score_from_distance(d, kind)[0] == pytest.approx(g, rel=1e-9)


@pytest.mark.parametrize("kind", tf.KINDS)
def test_any_positive_forecast_maps_into_the_unit_interval(kind):
    d = np.array([1e-9, 0.01, 1.0, 10.0, 100.0])
    g = tf.score_from_distance(d, kind)
    assert ((g > 0) & (g < 1)).all()
    assert np.all(np.diff(g) < 0)  # more distance, lower score


def test_known_values_and_the_cap_at_one():
    assert tf.distance(np.array([np.exp(-2.0)]), "loglog")[0] == pytest.approx(2.0)
    assert tf.distance(np.array([0.25]), "logodds")[0] == pytest.approx(3.0)
    capped = tf.distance(np.array([1.0]), "loglog", eps=1e-3)[0]
    assert capped == pytest.approx(-np.log(1 - 1e-3))


def test_bad_input_is_named():
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        tf.distance(np.array([0.5, 1.2]))
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        tf.distance(np.array([0.0]))
    with pytest.raises(InputError, match="unknown transform"):
        tf.distance(np.array([0.5]), "probit")
    with pytest.raises(InputError, match="non-negative"):
        tf.score_from_distance(np.array([-1.0]))


def test_panel_round_trip_restores_actual_scores():
    panel = pd.DataFrame({"region_code": ["a", "a", "b", "b"], "year": [1, 2, 1, 2], "gtfp": [0.5, 1.0, 0.2, 0.4]})
    dist = tf.to_distance(panel, "logodds")
    assert dist["gtfp_score"].tolist() == panel["gtfp"].tolist() and (dist["gtfp"] > 0).all()
    preds = dist.rename(columns={"gtfp": "actual"}).assign(predicted=lambda d: d["actual"] * 2)
    back = tf.from_distance(preds, "logodds", original=panel)
    assert back["actual"].tolist() == panel["gtfp"].tolist()  # exactly 1 stays 1
    assert (back["predicted"] < 1).all() and (back["predicted"] < back["actual"]).all()
    with pytest.raises(InputError, match="no match"):
        tf.from_distance(preds.assign(year=9), "logodds", original=panel)
