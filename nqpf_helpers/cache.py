"""A result cache for expensive computations, kept in the user's cache folder.

Several chapters need the same costly results (seed ensembles of LSTM networks,
robustness grids, SBM scores of the world panel).  Rather than recomputing them
in every chapter, or saving them as files in the source tree, call the function
through :func:`cached`: the first call computes and stores the result, keyed by
the function's source code and every argument (DataFrames included, by content);
later calls with the same inputs and settings load it.

The cache lives in ``<cache>/results/<fingerprint>``, where ``<cache>`` is the folder named by
the environment variable ``NQPF_CACHE_DIR`` or else the user cache folder of
nqpf-book (``~/.cache/nqpf-book`` on Linux), the same place as the download
cache of :mod:`nqpf_helpers.data`.  It is never inside the project.  ``<fingerprint>``
is a hash of every file of the installed ``nqpf_helpers`` package (all modules and
package data, see :func:`package_fingerprint`), so a result computed by one version
of the package is never served to another: editing any module, however deep in the
call chain, starts a fresh store.

Examples
--------
In a chapter::

    from nqpf_helpers import cache, forecast

    paths = cache.cached(forecast.forecast_growth_path)(panel, "improved", seeds=20, seed=0)

:func:`~nqpf_helpers.forecast.growth.forecast_protocols` takes the function that makes
each fit, so passing the cached :func:`~nqpf_helpers.forecast.growth.forecast_growth_path`
stores every protocol and input layout on its own; a later chapter that fits one of
those protocols alone (or another set of protocols or layouts that shares some fits)
loads the shared fits and computes only the others::

    fit = cache.cached(forecast.forecast_growth_path)
    every = forecast.forecast_protocols(panel, seeds=20, fit=fit)  # five fits, stored
    first = fit(panel, "released_first", seeds=20)  # loaded

A cell that reports how long the computation takes calls
``cache.cached(func, refresh=True)(...)``: it always computes (so the reported time
is real) and stores the result for the chapters after it.

Set ``NQPF_NO_RESULT_CACHE=1`` to compute everything afresh (the functions are then
called directly), and call :func:`clear` to empty the cache.

Notes
-----
joblib's own key covers the called function's source and its arguments; the
package fingerprint in the folder name covers the code it calls.  Stores of
earlier package versions stay on disk until :func:`prune` (keeps the current
version's store) or :func:`clear` (removes all) is called.  Code outside the
package (numpy, TensorFlow, ...) is not part of the key; after upgrading those,
call :func:`clear` or pass a new ``version=``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import joblib

__all__ = [
    "CACHE_DIR_ENV", "NO_CACHE_ENV", "cache_dir", "package_fingerprint", "results_dir", "memory", "cached",
    "clear", "prune",
]

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


_PACKAGE_ROOT = Path(__file__).resolve().parent
_SKIPPED_DIRS = {"__pycache__"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def _fingerprint_of(root: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix not in _SKIPPED_SUFFIXES
        and not _SKIPPED_DIRS.intersection(p.relative_to(root).parts)
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def _cached_fingerprint(root: Path) -> str:
    return _fingerprint_of(root)


def package_fingerprint(root: str | os.PathLike[str] | None = None) -> str:
    """A short hash of the contents of every file of the ``nqpf_helpers`` package.

    Every module (``**/*.py``) and every package-data file (registry, templates,
    ...) is read, by relative path and content; compiled ``__pycache__`` files are
    skipped.  The result names the folder that holds the cached results, so any
    change to the package's code or data gives a fresh store.

    Parameters
    ----------
    root
        The package folder to hash; by default the one this module was imported
        from.  The default is computed once per process (the package's files do
        not change under a running interpreter without a restart being needed
        anyway); an explicit ``root`` is hashed afresh at every call.

    Returns
    -------
    str
        16 hexadecimal characters.
    """
    if root is None:
        return _cached_fingerprint(_PACKAGE_ROOT)
    folder = Path(root)
    if not folder.is_dir():
        from .errors import InputError

        raise InputError(f"package_fingerprint() needs the package folder, got {folder} which is not a folder.")
    return _fingerprint_of(folder)


def results_dir() -> Path:
    """The folder of the current package version's results: ``cache_dir()/results/<fingerprint>``."""
    return cache_dir() / "results" / package_fingerprint()


def memory(version: str | int | None = None) -> joblib.Memory:
    """A :class:`joblib.Memory` storing results in :func:`results_dir`.

    joblib keys each result by the function's module, name and source code and by
    the arguments; the folder is named by :func:`package_fingerprint`, so results
    of another version of the package are never found.  A ``version`` other than
    None gives a separate store (``<fingerprint>/v<version>``), so bumping it
    invalidates everything cached before.
    """
    import joblib

    folder = results_dir()
    if version is not None:
        folder = folder / f"v{version}"
    return joblib.Memory(folder, verbose=0)


def cached(
    func: Callable[..., Any], *, version: str | int | None = None, refresh: bool = False
) -> Callable[..., Any]:
    """Wrap ``func`` so that its results are stored and reused for the same arguments.

    Parameters
    ----------
    func
        A deterministic function: the same arguments (data, settings, seed) give the
        same result.  Its arguments and result must be picklable.
    version
        Anything that should invalidate earlier results when it changes (for example
        a note of a change in code that ``func`` calls); part of the key.
    refresh
        If True, always call ``func`` and store (overwrite) its result, so later
        calls with the same arguments load it.  For a cell that reports how long
        the computation takes: it stays honest while the chapters after it reuse
        the result.

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
                         "e.g. cached(forecast.forecast_growth_path)(panel, ...).")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _disabled():
            return func(*args, **kwargs)
        try:
            results_dir().mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            import warnings

            from .errors import NQPFWarning

            warnings.warn(f"The result cache folder {results_dir()} cannot be created ({exc}); computing "
                          f"{getattr(func, '__name__', 'the result')} without the cache. Set {CACHE_DIR_ENV} to a "
                          f"writable folder, or {NO_CACHE_ENV}=1 to silence this.", NQPFWarning, stacklevel=2)
            return func(*args, **kwargs)
        memorized = memory(version).cache(func)
        if refresh:
            result, _ = memorized.call(*args, **kwargs)
            return result
        return memorized(*args, **kwargs)

    return wrapper


def clear() -> None:
    """Delete every stored result (the download cache of :mod:`nqpf_helpers.data` is kept)."""
    import shutil

    shutil.rmtree(cache_dir() / "results", ignore_errors=True)


def prune() -> list[Path]:
    """Delete the stored results of every other version of the package; keep the current one.

    Returns
    -------
    list of Path
        The folders removed.
    """
    import shutil

    base = cache_dir() / "results"
    keep = package_fingerprint()
    removed = [p for p in base.iterdir() if p.name != keep] if base.is_dir() else []
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed
