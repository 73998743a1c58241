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


def test_refresh_computes_and_stores_for_later_calls(cache_dir):
    df = pd.DataFrame({"x": [1.0, 3.0]})
    assert cache.cached(slow_mean, refresh=True)(df, "x") == 2.0
    assert cache.cached(slow_mean, refresh=True)(df, "x") == 2.0  # computed again
    assert len(CALLS) == 2
    assert cache.cached(slow_mean)(df, "x") == 2.0  # stored by the refreshing call
    assert len(CALLS) == 2


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


def test_an_unusable_cache_folder_warns_and_computes(tmp_path, monkeypatch):
    from nqpf_helpers.errors import NQPFWarning

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NQPF_CACHE_DIR", str(blocker))
    monkeypatch.delenv("NQPF_NO_RESULT_CACHE", raising=False)
    CALLS.clear()
    with pytest.warns(NQPFWarning, match="cannot be created.*NQPF_CACHE_DIR"):
        assert cache.cached(slow_mean)(pd.DataFrame({"x": [2.0]}), "x") == 2.0
    assert len(CALLS) == 1


def test_cache_dir_defaults_to_the_user_cache(monkeypatch, root):
    monkeypatch.delenv("NQPF_CACHE_DIR", raising=False)
    where = cache.cache_dir()
    assert where.name == "nqpf-book"
    assert root not in where.parents, "the cache must never be inside the project"


def test_cached_needs_a_function():
    with pytest.raises(InputError, match="needs a function"):
        cache.cached("slow_mean")  # type: ignore[arg-type]


# --- the package fingerprint: a result of another package version is never served ---------

def test_fingerprint_is_stable_and_names_the_store(cache_dir):
    assert cache.package_fingerprint() == cache.package_fingerprint()
    assert len(cache.package_fingerprint()) == 16
    assert cache.results_dir() == cache_dir / "results" / cache.package_fingerprint()
    cache.cached(slow_mean)(pd.DataFrame({"x": [1.0]}), "x")
    assert [p.name for p in (cache_dir / "results").iterdir()] == [cache.package_fingerprint()]


@pytest.fixture
def package_copy(tmp_path, root) -> Path:
    import shutil

    copy = tmp_path / "pkg" / "nqpf_helpers"
    shutil.copytree(root / "nqpf_helpers", copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_fingerprint_changes_with_any_module_or_data_file(package_copy):
    before = cache.package_fingerprint(package_copy)
    assert before == cache.package_fingerprint(package_copy)
    deep = package_copy / "sbm" / "__init__.py"  # deep in the call chain of cached chapter functions
    original = deep.read_bytes()
    deep.write_bytes(original + b"\n# an edit\n")
    edited = cache.package_fingerprint(package_copy)
    assert edited != before
    deep.write_bytes(original)
    assert cache.package_fingerprint(package_copy) == before
    (package_copy / "data" / "registry.toml").write_text(
        (package_copy / "data" / "registry.toml").read_text() + "\n# data edit\n")
    assert cache.package_fingerprint(package_copy) != before
    # compiled files are not sources
    (package_copy / "__pycache__").mkdir(exist_ok=True)
    after_data = cache.package_fingerprint(package_copy)
    (package_copy / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"junk")
    assert cache.package_fingerprint(package_copy) == after_data


def test_fingerprint_needs_a_folder(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        cache.package_fingerprint(tmp_path / "missing")


SCRIPT = """
import sys
from pathlib import Path
from nqpf_helpers import cache, regions

def count_calls(n):
    with open(sys.argv[1], "a") as fh:
        fh.write("x")
    return n * 2

assert Path(cache.__file__).is_relative_to(Path(sys.argv[2])), cache.__file__
print(cache.cached(count_calls)(21))
"""


def test_an_edited_package_misses_the_earlier_result(package_copy, tmp_path, cache_dir):
    """End to end, in fresh interpreters: same package -> hit; any edited module -> recomputed."""
    import os
    import subprocess
    import sys

    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    counter = tmp_path / "calls.txt"
    env = {**os.environ, "PYTHONPATH": str(package_copy.parent), "NQPF_CACHE_DIR": str(cache_dir)}
    env.pop("NQPF_NO_RESULT_CACHE", None)

    def run() -> int:
        out = subprocess.run([sys.executable, str(script), str(counter), str(package_copy)], env=env,
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "42"
        return len(counter.read_text())

    assert run() == 1
    assert run() == 1  # same package: loaded
    regions_py = package_copy / "regions.py"  # a module the cached function does not even call
    regions_py.write_text(regions_py.read_text() + "\n# an edit\n")
    assert run() == 2  # edited package: computed afresh
    assert run() == 2
    assert len(list((cache_dir / "results").iterdir())) == 2
    # the unedited copy has the running package's fingerprint (content, not location, counts);
    # prune keeps that store and removes the edited copy's
    kept = cache_dir / "results" / cache.package_fingerprint()
    assert kept.is_dir()
    removed = cache.prune()
    assert len(removed) == 1 and not removed[0].exists()
    assert kept.is_dir()


# --- a real chapter computation: cached and direct results are identical ------------------

def _seeds(n: int):
    """``n`` seeds in the forecast API of this checkout (an int once ``seed=`` exists, else a range)."""
    import inspect

    from nqpf_helpers import forecast as fc

    return n if "seed" in inspect.signature(fc.forecast_growth_path).parameters else range(n)


def _small_gtfp() -> pd.DataFrame:
    from nqpf_helpers import data

    gtfp = data.load_gtfp_series()
    return gtfp[gtfp["region_code"].isin(sorted(gtfp["region_code"].unique())[:3])].reset_index(drop=True)


@pytest.fixture
def small_gtfp(data_dir) -> pd.DataFrame:
    return _small_gtfp()


def test_cached_growth_paths_equal_direct_ones(cache_dir, small_gtfp):
    """forecast_protocols with each fit through the cache: identical to the direct call, stored fit by fit."""
    from nqpf_helpers import forecast as fc

    config = fc.TrainConfig(epochs=8)
    protocols = ("released_first", "improved")
    kwargs = dict(seeds=_seeds(2), config=config)
    part = cache.memory().cache(fc.forecast_growth_path)
    assert not any(part.check_call_in_cache(small_gtfp, p, **kwargs) for p in protocols)
    direct = fc.forecast_protocols(small_gtfp, protocols, **kwargs)
    stored = fc.forecast_protocols(small_gtfp, protocols, fit=cache.cached(fc.forecast_growth_path), **kwargs)
    # one stored result per protocol, under the key of a plain forecast_growth_path call of it
    assert all(part.check_call_in_cache(small_gtfp, p, **kwargs) for p in protocols)
    assert len(list(cache.results_dir().rglob("output.pkl"))) == 2
    # a fresh load, as in the next chapter (note: joblib hashes frames by pickle, so a .copy() with
    # string columns may hash differently -- a needless recomputation, never a wrong result)
    loaded = fc.forecast_protocols(_small_gtfp(), protocols, fit=cache.cached(fc.forecast_growth_path), **kwargs)
    assert len(list(cache.results_dir().rglob("output.pkl"))) == 2  # loaded, not stored again
    pd.testing.assert_frame_equal(stored, direct)
    pd.testing.assert_frame_equal(loaded, direct)
    # a later chapter fitting one of the protocols alone loads it: the same rows as the direct fit
    first = cache.cached(fc.forecast_growth_path)(_small_gtfp(), "released_first", **kwargs)
    assert len(list(cache.results_dir().rglob("output.pkl"))) == 2
    pd.testing.assert_frame_equal(first, direct[direct["protocol"] == "released_first"].reset_index(drop=True))
    # both layouts: the protocol's own layout is the fit already stored, only the other one is new
    both = fc.forecast_protocols(
        small_gtfp, ("improved",), layouts=("features", "sequence"), fit=cache.cached(fc.forecast_growth_path), **kwargs
    )
    assert len(list(cache.results_dir().rglob("output.pkl"))) == 3
    pd.testing.assert_frame_equal(
        both, fc.forecast_protocols(small_gtfp, ("improved",), layouts=("features", "sequence"), **kwargs))
    # another setting or other data is a different key
    assert not part.check_call_in_cache(small_gtfp, "improved", seeds=_seeds(3), config=config)
    assert not part.check_call_in_cache(small_gtfp.assign(gtfp=small_gtfp["gtfp"] * 1.01), "improved", **kwargs)


def test_refreshed_protocol_fits_are_computed_again(cache_dir, small_gtfp, monkeypatch):
    """forecast_protocols with fit=cached(..., refresh=True) retrains every fit (a timed cell stays honest)."""
    from nqpf_helpers import forecast as fc
    from nqpf_helpers.forecast import growth

    calls = []
    original = growth.forecast_growth_path

    def counting(*args, **kwargs):
        calls.append(args[1])
        return original(*args, **kwargs)

    counting.__module__, counting.__name__, counting.__qualname__ = "tests.counting", "counting", "counting"
    monkeypatch.setattr(growth, "forecast_growth_path", counting)
    kwargs = dict(seeds=_seeds(1), config=fc.TrainConfig(epochs=4))
    fc.forecast_protocols(small_gtfp, ("released_first",), fit=cache.cached(growth.forecast_growth_path), **kwargs)
    fc.forecast_protocols(small_gtfp, ("released_first",), fit=cache.cached(growth.forecast_growth_path), **kwargs)
    assert calls == ["released_first"]
    fc.forecast_protocols(
        small_gtfp, ("released_first",), fit=cache.cached(growth.forecast_growth_path, refresh=True), **kwargs
    )
    assert calls == ["released_first", "released_first"]


def test_baselines_shared_in_the_growth_path_chapter_are_identical(cache_dir, small_gtfp):
    """The chapter on growth paths loads the improved protocol's baselines from paper_recursive's fit (and those
    of its one-step variant from paper_one_step's): the same forecasts, protocol name aside."""
    from nqpf_helpers import forecast as fc

    pairs = [("paper_recursive", dict(protocol="improved")), ("paper_one_step", dict(protocol="improved",
                                                                                       horizon="one_step"))]
    for shared, own in pairs:
        mine = fc.baseline_forecasts(small_gtfp, **own).drop(columns="protocol")
        loaded = cache.cached(fc.baseline_forecasts)(small_gtfp, shared).drop(columns="protocol")
        pd.testing.assert_frame_equal(mine, loaded)
