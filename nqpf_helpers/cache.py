"""A result cache for expensive computations, kept in the user's cache folder.

Several chapters need the same costly results (seed ensembles of LSTM networks,
robustness grids, SBM scores of the world panel).  Rather than recomputing them
in every chapter, or saving them as files in the source tree, call the function
through :func:`cached`: the first call computes and stores the result, keyed by
the function's source code and every argument (DataFrames included, by content);
later calls with the same inputs and settings load it.

The cache lives in ``<cache>/results``, where ``<cache>`` is the folder named by
the environment variable ``NQPF_CACHE_DIR`` or else the user cache folder of
nqpf-book (``~/.cache/nqpf-book`` on Linux), the same place as the download
cache of :mod:`nqpf_helpers.data`.  It is never inside the project.

Examples
--------
In a chapter::

    from nqpf_helpers import cache, forecast

    paths = cache.cached(forecast.growth_paths)(panel, unit="region_code", seeds=20, seed=0)

Set ``NQPF_NO_RESULT_CACHE=1`` to compute everything afresh (the functions are then
called directly), and call :func:`clear` to empty the cache.

Notes
-----
The key covers the called function's own source and its arguments, not the code
it calls.  After changing a helper deeper down, clear the cache (``python -c
"from nqpf_helpers import cache; cache.clear()"``) or bump ``version=``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import joblib

__all__ = ["CACHE_DIR_ENV", "NO_CACHE_ENV", "cache_dir", "memory", "cached", "clear"]

CACHE_DIR_ENV = "NQPF_CACHE_DIR"
NO_CACHE_ENV = "NQPF_NO_RESULT_CACHE"
_APP = "nqpf-book"


def cache_dir() -> Path:
    """The package's cache folder: ``NQPF_CACHE_DIR`` if set, else the user cache folder of nqpf-book.

    The folder is not created here.
    """
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(_APP))


def _disabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "").lower() in {"1", "true", "yes"}


def memory(version: str | int | None = None) -> joblib.Memory:
    """A :class:`joblib.Memory` storing results in ``cache_dir() / "results"``.

    joblib keys each result by the function's module, name and source code and by
    the arguments; a ``version`` other than None gives a separate store
    (``results/v<version>``), so bumping it invalidates everything cached before.
    """
    import joblib

    folder = cache_dir() / "results"
    if version is not None:
        folder = folder / f"v{version}"
    return joblib.Memory(folder, verbose=0)


def cached(func: Callable[..., Any], *, version: str | int | None = None) -> Callable[..., Any]:
    """Wrap ``func`` so that its results are stored and reused for the same arguments.

    Parameters
    ----------
    func
        A deterministic function: the same arguments (data, settings, seed) give the
        same result.  Its arguments and result must be picklable.
    version
        Anything that should invalidate earlier results when it changes (for example
        a note of a change in code that ``func`` calls); part of the key.

    Returns
    -------
    callable
        Same signature and result as ``func``.  The cache folder is looked up at each
        call, so setting ``NQPF_CACHE_DIR`` later still takes effect; with
        ``NQPF_NO_RESULT_CACHE=1`` ``func`` is called directly.
    """
    if not callable(func):
        from .errors import InputError

        raise InputError(f"cached() needs a function, got {type(func).__name__}. Pass the function itself, "
                         "e.g. cached(forecast.growth_paths)(panel, ...).")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _disabled():
            return func(*args, **kwargs)
        return memory(version).cache(func)(*args, **kwargs)

    return wrapper


def clear() -> None:
    """Delete every stored result (the download cache of :mod:`nqpf_helpers.data` is kept)."""
    import shutil

    shutil.rmtree(cache_dir() / "results", ignore_errors=True)
