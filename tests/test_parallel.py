"""nqpf_helpers.parallel: the same numbers on local processes and on a Dask cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers.errors import InputError
from nqpf_helpers.parallel import run_tasks


def _square(x: int) -> int:
    return x * x


def _panel(seed: int = 0, units: int = 25, periods: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = units * periods
    data = np.exp(rng.normal(0, 0.8, size=(n, 4)))
    return pd.DataFrame({"u": np.tile(np.arange(units), periods), "t": np.repeat(np.arange(periods), units),
                         "x1": data[:, 0], "x2": data[:, 1], "y": data[:, 2], "b": data[:, 3]})


def test_run_tasks_keeps_order_and_checks_backend():
    assert run_tasks(_square, [(i,) for i in range(7)], backend="loky", n_jobs=2) == [i * i for i in range(7)]
    with pytest.raises(InputError, match="backend must be one of"):
        run_tasks(_square, [(1,)], backend="ray")


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="optional extra 'cluster' not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_dask_cluster_gives_identical_numbers(cluster):
    from nqpf_helpers.bootstrap import sbm_bootstrap
    from nqpf_helpers.indices import productivity_index

    df = _panel()
    cols = dict(unit="u", time="t", inputs=["x1", "x2"], good=["y"], bad=["b"])
    address = cluster.scheduler_address
    for index in ("ml", "gml"):
        local = productivity_index(df, **cols, index=index, backend="loky", n_jobs=2)
        remote = productivity_index(df, **cols, index=index, backend="dask", scheduler=address)
        pd.testing.assert_frame_equal(local, remote)
    local = sbm_bootstrap(df, **cols, n_boot=6, seed=3)
    remote = sbm_bootstrap(df, **cols, n_boot=6, seed=3, backend="dask", scheduler=address)
    pd.testing.assert_frame_equal(local, remote)


def test_sbm_batches_run_on_dask_through_joblib(cluster):
    # nqpf_helpers.sbm parallelises with joblib; use_backend sends its blocks to the cluster
    from nqpf_helpers.parallel import use_backend
    from nqpf_helpers.sbm import sbm

    df = _panel(1, units=40, periods=2)
    kw = dict(unit="u", time="t", inputs=["x1", "x2"], good=["y"], bad=["b"], frontier="contemporaneous")
    local = sbm(df, **kw)
    before = cluster.scheduler.transition_counter
    with use_backend("dask", scheduler=cluster.scheduler_address):
        remote = sbm(df, **kw, n_jobs=2)
    assert cluster.scheduler.transition_counter > before  # the cluster did the work
    pd.testing.assert_frame_equal(local.drop(columns="peers"), remote.drop(columns="peers"))
