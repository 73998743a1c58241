"""Tests for nqpf_helpers.ranking: the one Spearman implementation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nqpf_helpers.errors import InputError


def test_spearman_agrees_with_scipy_and_is_nan_without_a_ranking() -> None:
    from scipy import stats

    from nqpf_helpers.ranking import spearman, spearman_matrix

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=20), rng.integers(0, 4, 20).astype(float)  # b has ties
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert np.isnan(spearman(a, np.ones(20)))
    m = spearman_matrix(np.column_stack([a, b, np.ones(20)]))
    assert m[0, 1] == pytest.approx(m[1, 0]) and np.isnan(m[2]).all() and m[0, 0] == 1


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(float, st.tuples(st.integers(3, 15), st.integers(2, 4)), elements=st.floats(-5, 5)))
def test_spearman_matrix_matches_pairwise_spearman(a):
    from nqpf_helpers.ranking import spearman, spearman_matrix

    m = spearman_matrix(a)
    for i in range(a.shape[1]):
        for j in range(a.shape[1]):
            if i != j:
                np.testing.assert_allclose(m[i, j], spearman(a[:, i], a[:, j]), equal_nan=True, atol=1e-12)
    ok = ~np.isnan(m)
    assert (np.abs(m[ok]) <= 1).all() and np.allclose(m[ok], m.T[ok])


def test_spearman_bad_shapes():
    from nqpf_helpers.ranking import spearman, spearman_matrix

    with pytest.raises(InputError, match="different lengths"):
        spearman(np.ones(3), np.ones(4))
    with pytest.raises(InputError, match="2-D"):
        spearman_matrix(np.ones(3))
