"""The result cache: computed once per inputs, stored in the user cache, never in the project."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nqpf_helpers import cache
from nqpf_helpers.errors import InputError

CALLS: list[tuple] = []


def slow_mean(df: pd.DataFrame, column: str, *, scale: float = 1.0) -> float:
    CALLS.append((column, scale))
    return float(df[column].mean() * scale)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NQPF_NO_RESULT_CACHE", raising=False)
    CALLS.clear()
    return tmp_path / "cache"


def test_second_call_with_the_same_inputs_is_loaded(cache_dir):
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    f = cache.cached(slow_mean)
    assert f(df, "x") == 2.0
    assert f(df.copy(), "x") == 2.0  # equal content, another object: same key
    assert CALLS == [("x", 1.0)]
    assert f(df, "x", scale=2.0) == 4.0  # a different setting is computed
    df2 = df.assign(x=[1.0, 2.0, 4.0])  # different data is computed
    assert f(df2, "x") == pytest.approx(7 / 3)
    assert len(CALLS) == 3
    assert (cache_dir / "results").is_dir()


def test_version_separates_results(cache_dir):
    df = pd.DataFrame({"x": [1.0]})
    cache.cached(slow_mean)(df, "x")
    cache.cached(slow_mean, version=2)(df, "x")
    cache.cached(slow_mean, version=2)(df, "x")
    assert len(CALLS) == 2


def test_switch_off_and_clear(cache_dir, monkeypatch):
    df = pd.DataFrame({"x": [1.0]})
    f = cache.cached(slow_mean)
    f(df, "x")
    monkeypatch.setenv("NQPF_NO_RESULT_CACHE", "1")
    f(df, "x")
    assert len(CALLS) == 2
    monkeypatch.delenv("NQPF_NO_RESULT_CACHE")
    f(df, "x")
    assert len(CALLS) == 2  # still stored
    cache.clear()
    assert not (cache_dir / "results").exists()
    f(df, "x")
    assert len(CALLS) == 3


def test_cache_dir_defaults_to_the_user_cache(monkeypatch, root):
    monkeypatch.delenv("NQPF_CACHE_DIR", raising=False)
    where = cache.cache_dir()
    assert where.name == "nqpf-book"
    assert root not in where.parents, "the cache must never be inside the project"


def test_cached_needs_a_function():
    with pytest.raises(InputError, match="needs a function"):
        cache.cached("slow_mean")  # type: ignore[arg-type]
