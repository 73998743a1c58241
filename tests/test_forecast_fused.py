"""Tests for nqpf_helpers.forecast.fused: the fused Numba training kernel against TensorFlow and Keras."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nqpf_helpers
from nqpf_helpers import forecast as f
from nqpf_helpers.errors import InputError
from nqpf_helpers.forecast import fused


def _scaled_training_set(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Min-max scaled windows of n synthetic GTFP-like series (released-code protocol, 20 training windows)."""
    rng = np.random.default_rng(seed)
    v = 0.3 * np.exp(np.cumsum(rng.normal(0.02, 0.05, (n, 33)), axis=1))
    X, y = f.make_windows(v)
    X, y = X[:, :20], y[:, :20]
    lo, hi = f.fit_minmax(X, axis=-2)
    tlo, thi = f.fit_minmax(y, axis=-1)
    return f.apply_minmax(X, lo[:, None, :], hi[:, None, :]), f.apply_minmax(y, tlo[:, None], thi[:, None])


FULL = f.TrainConfig()  # the released code's 300 epochs, learning rate dropped after 250
NUMBA = f.TrainConfig(engine="numba")
XLA = f.TrainConfig(engine="tensorflow")


@pytest.mark.parametrize("layout", ["features", "sequence"])
def test_fused_kernel_trains_the_same_networks_as_the_xla_loop(layout: str) -> None:
    """300 epochs from the same initial weights: the same networks up to float32 rounding.

    The engines differ in the exp/tanh approximations and in the order of the sums, differences of a few
    float32 ulps per step that 300 epochs of training amplify in some networks.  Measured (70 networks,
    sequence layout): 69 networks agree to 2e-5 in every scaled prediction, one to 1.5e-4; a wrong
    gradient or optimiser step would move predictions by 1e-2 or more.
    """
    X, y = _scaled_training_set(70, seed=1)  # 70 networks: a full chunk of 64 SIMD lanes and a padded one
    Xi = f.network_inputs(X, layout)
    init = f.init_weights(range(70), Xi.shape[-1], seed=4)
    w = fused.train_fused(Xi, y, init, NUMBA)
    layer = f.train_stacked(Xi, y, init, XLA)
    diff = np.abs(fused.predict_fused(w, Xi) - f.predict_stacked(layer, Xi)).max(axis=1)  # per network
    assert diff.max() < 1e-3
    assert np.mean(diff < 2e-5) >= 0.9, np.sort(diff)[-10:]
    for k, v in layer.get_stacked_weights().items():
        assert w[k].dtype == np.float32 and w[k].shape == init[k].shape
        assert np.median(np.abs(w[k] - v)) < 1e-5, k
    # train_stacked with the numba engine returns the same networks as a Keras layer
    via_layer = f.train_stacked(Xi, y, init, NUMBA).get_stacked_weights()
    for k in w:
        np.testing.assert_array_equal(via_layer[k], w[k])
    # and training moved the networks far more than the tolerance
    untrained = fused.predict_fused(init, Xi)
    assert np.abs(fused.predict_fused(w, Xi) - untrained).max() > 0.1


@pytest.mark.parametrize("layout", ["features", "sequence"])
def test_fused_kernel_equals_keras_lstm_fits_from_the_same_initial_weights(layout: str) -> None:
    """keras.layers.LSTM + Adam(clipnorm) + model.fit per unit, 300 epochs: same predictions to 1e-4 relative.

    Measured: max relative difference of scaled predictions (values 0.1-1) about 1e-5.
    """
    X, y = _scaled_training_set(2, seed=2)
    Xi = f.network_inputs(X, layout)
    init = f.init_weights(["a", "b"], Xi.shape[-1], seed=3)
    ours = fused.predict_fused(fused.train_fused(Xi, y, init, FULL), Xi)
    keras_fit = f.train_separate(Xi, y, init, FULL)
    np.testing.assert_allclose(ours, keras_fit, rtol=1e-4, atol=1e-5)
    assert np.abs(ours - fused.predict_fused(init, Xi)).max() > 0.1


def test_fused_kernel_handles_shapes_off_its_fast_paths_like_the_xla_loop() -> None:
    """Hidden sizes and windows the fused passes do not cover: H not a multiple of five, odd H, T != 5, F > 1.

    The kernel sums five recurrent terms per pass, two hidden units per pass backwards and four time steps
    per pass for the recurrent-kernel gradient; other shapes take the remainder loops checked here.
    Measured: max |difference| of predictions 1.5e-7 and 1.2e-7 after training moved them by 0.56 and 0.62.
    """
    rng = np.random.default_rng(11)
    for T, F, H in [(3, 2, 7), (6, 1, 4)]:
        X = rng.uniform(0, 1, (3, 12, T, F))
        y = rng.uniform(0, 1, (3, 12))
        init = f.init_weights(range(3), F, H, seed=6)
        cfg = dict(epochs=60, drop_after=50, hidden=H)
        w = fused.train_fused(X, y, init, f.TrainConfig(**cfg, engine="numba"))
        layer = f.train_stacked(X, y, init, f.TrainConfig(**cfg, engine="tensorflow"))
        ours = fused.predict_fused(w, X)
        np.testing.assert_allclose(ours, f.predict_stacked(layer, X), atol=1e-5, err_msg=f"T={T}, F={F}, H={H}")
        assert np.abs(ours - fused.predict_fused(init, X)).max() > 0.05


def test_fused_training_is_deterministic_and_a_network_ignores_the_rest_of_the_stack() -> None:
    """Bit for bit: the same call twice, and a network trained alone, in a stack, or in another chunk lane."""
    X, y = _scaled_training_set(80, seed=3)
    Xi = f.network_inputs(X, "sequence")
    init = f.init_weights(range(80), 1, seed=5)
    cfg = f.TrainConfig(epochs=60, drop_after=40)
    a = fused.train_fused(Xi, y, init, cfg)
    b = fused.train_fused(Xi, y, init, cfg)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    for n in (0, 63, 64, 79):  # first and last lane of chunk 0, first lane of chunk 1, last network
        alone = fused.train_fused(Xi[n : n + 1], y[n : n + 1], {k: v[n : n + 1] for k, v in init.items()}, cfg)
        for k in a:
            np.testing.assert_array_equal(alone[k][0], a[k][n], err_msg=f"{k}, network {n}")
    # a unit with exploding losses does not leak into the others (per-network clipping, no shared sums)
    y_bad = y.copy()
    y_bad[1] *= 1e4
    c = fused.train_fused(Xi, y_bad, init, cfg)
    np.testing.assert_array_equal(c["kernel"][0], a["kernel"][0])
    assert np.abs(c["kernel"][1] - a["kernel"][1]).max() > 1e-3


def test_forecast_growth_path_gives_the_same_nqpf_with_either_engine() -> None:
    rng = np.random.default_rng(8)
    years = np.arange(1990, 2023)
    df = pd.DataFrame(
        {
            "region_code": np.repeat(["110000", "120000", "130000"], len(years)),
            "year": np.tile(years, 3),
            "gtfp": 0.3 * np.exp(np.cumsum(rng.normal(0.02, 0.05, (3, len(years))), axis=1)).ravel(),
        }
    )
    cfg = dict(epochs=120, drop_after=100)
    a = f.forecast_growth_path(df, "improved", seeds=2, config=f.TrainConfig(**cfg, engine="numba"))
    b = f.forecast_growth_path(df, "improved", seeds=2, config=f.TrainConfig(**cfg, engine="tensorflow"))
    np.testing.assert_allclose(a.predicted, b.predicted, rtol=1e-5)
    assert (a.drop(columns="predicted") == b.drop(columns="predicted")).all().all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vectorised_exp_is_accurate_to_a_few_ulps(dtype) -> None:
    ec, coef = fused._constants(FULL, dtype, 20)
    x = np.concatenate([np.linspace(-80, 80, 20001), np.linspace(-1e-3, 1e-3, 2001)]).astype(dtype)
    got = x.copy()
    fused._exp_inplace(got, ec, coef)
    want = np.exp(x.astype(np.float64))
    ulp = np.spacing(want.astype(dtype)).astype(np.float64)
    assert (np.abs(got.astype(np.float64) - want) / ulp).max() <= 4


def test_float64_training_agrees_with_float32() -> None:
    X, y = _scaled_training_set(5, seed=6)
    Xi = f.network_inputs(X, "sequence")
    init = f.init_weights(range(5), 1, seed=1)
    w32 = fused.train_fused(Xi, y, init, FULL)
    w64 = fused.train_fused(Xi, y, init, f.TrainConfig(dtype="float64"))
    assert w64["kernel"].dtype == np.float64
    np.testing.assert_allclose(fused.predict_fused(w32, Xi), fused.predict_fused(w64, Xi), atol=1e-4)


def test_bad_inputs_and_engine_are_rejected() -> None:
    X, y = _scaled_training_set(2)
    Xi = f.network_inputs(X, "sequence")
    init = f.init_weights(range(2), 1)
    with pytest.raises(InputError, match="targets have shape"):
        fused.train_fused(Xi, y[:, :5], init)
    with pytest.raises(InputError, match="weight 'kernel' has shape"):
        fused.train_fused(Xi, y, f.init_weights(range(2), 5))
    with pytest.raises(InputError, match="unknown training engine 'jax'"):
        f.train_stacked(Xi, y, init, f.TrainConfig(engine="jax"))


def test_zero_epochs_returns_the_initial_weights() -> None:
    X, y = _scaled_training_set(3)
    Xi = f.network_inputs(X, "features")
    init = f.init_weights(range(3), 5)
    w = fused.train_fused(Xi, y, init, f.TrainConfig(epochs=0))
    for k in init:
        np.testing.assert_array_equal(w[k], init[k].astype(np.float32))


def test_numba_cache_is_kept_out_of_the_source_tree() -> None:
    source = Path(nqpf_helpers.__file__).resolve().parent
    cache = Path(os.environ["NUMBA_CACHE_DIR"]).resolve()
    assert source not in (cache, *cache.parents)
    assert not list(source.rglob("*.nbi")) and not list(source.rglob("*.nbc"))
    # also when numba was imported first, before NUMBA_CACHE_DIR was set
    code = "import numba; import nqpf_helpers.forecast.fused; print(numba.config.CACHE_DIR)"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() and source not in Path(out.strip()).resolve().parents
