"""Run independent tasks on local processes or on a Dask cluster, with the same results.

Every heavy computation of :mod:`nqpf_helpers.indices` and
:mod:`nqpf_helpers.bootstrap` is split into tasks (one reference set, or one
block of bootstrap subsamples) that share nothing and draw no random
numbers of their own: random subsamples are drawn up front from the user's
``seed``.  The tasks are handed to joblib, so the backend only decides
*where* they run, never *what* they compute:

* ``backend="sequential"``: in this process;
* ``backend="loky"`` (default): ``n_jobs`` local worker processes;
* ``backend="dask"``: the workers of a ``dask.distributed`` cluster whose
  scheduler listens at ``scheduler`` (e.g. ``"tcp://10.0.0.5:8786"``), through
  joblib's Dask backend.  Install the optional extra: ``pip install
  nqpf-helpers[cluster]``.

Pointing it at a real cluster needs no code here.  On a SLURM machine,
start a cluster with ``dask-jobqueue`` (``SLURMCluster(cores=..., memory=...)``,
``cluster.scale(jobs=10)``) and pass ``cluster.scheduler_address``; on
Kubernetes, the Dask Helm chart or ``dask-kubernetes`` (``KubeCluster``)
gives a scheduler address the same way; ``dask scheduler`` plus ``dask
worker ADDRESS`` on a few machines works too.  The workers need this package
installed in the same version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from nqpf_helpers.errors import InputError, MissingDependencyError

__all__ = ["BACKENDS", "run_tasks", "use_backend"]

BACKENDS = ("loky", "sequential", "dask")


def run_tasks(
    func: Callable[..., Any],
    tasks: Sequence[tuple],
    *,
    backend: str = "loky",
    n_jobs: int = 1,
    scheduler: str | None = None,
) -> list[Any]:
    """Call ``func(*task)`` for every task and return the results in task order.

    Parameters
    ----------
    func
        A module-level (picklable) function.
    tasks
        Argument tuples.
    backend
        ``"loky"`` (local processes), ``"sequential"`` or ``"dask"``.
    n_jobs
        Local worker processes for ``"loky"`` (joblib's convention: -1 = all
        cores); ``1`` runs in this process.  Ignored by ``"dask"``, which
        uses every worker of the cluster.
    scheduler
        Address of a running ``dask.distributed`` scheduler (``"dask"`` only);
        ``None`` connects to the default client if one exists in this
        process (e.g. a ``LocalCluster`` you started).

    Returns
    -------
    list
        ``[func(*t) for t in tasks]``, whatever the backend.
    """
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}; got {backend!r}.")
    tasks = list(tasks)
    if backend == "sequential" or (backend == "loky" and n_jobs == 1) or len(tasks) <= 1 and backend != "dask":
        return [func(*t) for t in tasks]
    from joblib import Parallel, delayed, parallel_config

    if backend == "loky":
        return Parallel(n_jobs=n_jobs, backend="loky")(delayed(func)(*t) for t in tasks)
    try:
        from dask.distributed import Client, default_client
    except ImportError as err:  # pragma: no cover - depends on the optional extra
        raise MissingDependencyError(
            "backend='dask' needs dask.distributed: install the optional extra, pip install 'nqpf-helpers[cluster]'."
        ) from err
    client = None
    try:
        if scheduler is not None:
            client = Client(scheduler, set_as_default=False)
        else:
            try:
                default_client()
            except ValueError as err:
                raise InputError(
                    "backend='dask' needs a scheduler address (scheduler='tcp://host:8786') or a running "
                    "dask.distributed Client in this process."
                ) from err
        kwargs = {"client": client} if client is not None else {}
        with parallel_config(backend="dask", **kwargs):
            return Parallel()(delayed(func)(*t) for t in tasks)
    finally:
        if client is not None:
            client.close()


@contextmanager
def use_backend(backend: str = "dask", scheduler: str | None = None) -> Iterator[None]:
    """Send every joblib ``Parallel`` call inside the block to ``backend``.

    For functions that parallelise with joblib themselves and have no
    ``backend=`` argument, e.g. :func:`nqpf_helpers.sbm.panel.sbm` with ``n_jobs > 1``::

        with use_backend("dask", scheduler="tcp://10.0.0.5:8786"):
            scores = sbm(panel, ..., n_jobs=8)

    Parameters
    ----------
    backend
        ``"dask"``, ``"loky"`` or ``"sequential"``.
    scheduler
        Dask scheduler address (``"dask"`` only; ``None``: the default client).
    """
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}; got {backend!r}.")
    from joblib import parallel_config

    if backend != "dask":
        with parallel_config(backend=backend):
            yield
        return
    from dask.distributed import Client

    client = Client(scheduler, set_as_default=False) if scheduler is not None else None
    try:
        with parallel_config(backend="dask", **({"client": client} if client is not None else {})):
            yield
    finally:
        if client is not None:
            client.close()
