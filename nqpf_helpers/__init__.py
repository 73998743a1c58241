"""nqpf_helpers: the computing behind nqpf-book.

Modules and subpackages, one per concern (the API reference lists every public one):

- :mod:`nqpf_helpers.data` -- download registry (``registry.toml``), checked fetching, tidy loaders;
  :mod:`~nqpf_helpers.data.china` holds the China yearbook panels;
- :mod:`nqpf_helpers.validate` -- the panel validator and column check every stage calls first;
- :mod:`nqpf_helpers.regions` -- Chinese administrative codes, names, regional groups;
- :mod:`nqpf_helpers.sbm` -- SBM-DEA with undesirable outputs (green TFP): ``model`` (cvxpy),
  ``fast`` (patched HiGHS, column generation), ``panel`` (frontiers, the result table);
- :mod:`nqpf_helpers.indices` -- GTFP growth: ML, GML, Luenberger and SBM-GML indices with their parts;
- :mod:`nqpf_helpers.bootstrap` -- m-out-of-n bootstrap intervals for SBM scores, carried into NQPF;
- :mod:`nqpf_helpers.parallel` -- the same computations on local processes or a Dask cluster;
- :mod:`nqpf_helpers.forecast` -- LSTM growth paths and baselines;
- :mod:`nqpf_helpers.nqpf` -- the NQPF ratio, the seed ensemble and comparisons with published values;
- :mod:`nqpf_helpers.ranking` -- rank statistics (the one Spearman implementation);
- :mod:`nqpf_helpers.convergence` -- catch-up statistics (beta, sigma, leapfrogging, shares);
- :mod:`nqpf_helpers.robustness` -- NQPF under varied choices (variants, rank agreement, seed ensembles);
- :mod:`nqpf_helpers.quality` -- data-quality checks (structural breaks, frontier ties,
  in-sample years, seed-band benchmarks);
- :mod:`nqpf_helpers.transforms` -- bounded transforms of efficiency scores for forecasting;
- :mod:`nqpf_helpers.plots` -- the book's figures (trends, bands, rankings, dispersion);
- :mod:`nqpf_helpers.maps` -- offline choropleths: ``assets``, ``colour``, ``join``, ``interactive``
  (folium) and ``static`` (matplotlib);
- :mod:`nqpf_helpers.errors` -- the exceptions the package raises on purpose
  (base :class:`~nqpf_helpers.errors.NQPFError`);
- :mod:`nqpf_helpers.cache` -- a result cache for expensive calls, in the user cache folder;
- :mod:`nqpf_helpers.io` -- reading a user's panel (CSV in UTF-8 or GBK, Excel, Parquet) and writing files;
- :mod:`nqpf_helpers.pipeline` -- the whole method on a user's own panel (check, GTFP, NQPF, settings);
- :mod:`nqpf_helpers.report` -- the results folder: CSV, settings, HTML report (``templates/``), map;
- :mod:`nqpf_helpers.i18n` -- the report's words in English and Chinese;
- :mod:`nqpf_helpers.fonts` -- Chinese text in figures without a system font (packaged Noto Sans CJK SC);
- :mod:`nqpf_helpers.synthetic` -- a synthetic panel for trying the method;
- :mod:`nqpf_helpers.cli` -- the ``nqpf`` command;
- :mod:`nqpf_helpers.sphinx_maps` -- Sphinx extension serving the maps' Leaflet files in the book.

``import nqpf_helpers`` is cheap: submodules, and the few names re-exported here
(:data:`__all__`), are imported on first use (PEP 562), so TensorFlow, cvxpy or
geopandas load only when a function that needs them is called.

Examples
--------
>>> import nqpf_helpers as nh
>>> nh.coverage is nh.data.coverage
True
>>> issubclass(nh.PanelError, nh.NQPFError)
True
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

from .errors import (
    DataIntegrityError,
    DataUnavailableError,
    InputError,
    MapInputError,
    MissingDependencyError,
    NQPFError,
    NQPFWarning,
    OutputError,
    PanelError,
    SolverError,
    UnknownDataFileError,
    UnknownRegionError,
    UnmappedRegionWarning,
)

__version__ = "0.1.0"

#: Public names re-exported at the top level, imported from their module on first use.
_LAZY: dict[str, str] = {
    "fetch": "data",
    "registry": "data",
    "coverage": "data",
    "file_sha256": "data",
    "validate_panel": "validate",
    "cached": "cache",
}

def _submodules() -> list[str]:
    # Found on disk, so a module added by anyone is public without editing this file.
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


SUBMODULES: list[str] = _submodules()
"""Public submodules (and subpackages) of the package, in alphabetical order."""

__all__ = [
    "__version__",
    # from nqpf_helpers.data, nqpf_helpers.validate, nqpf_helpers.cache (imported on first use)
    "fetch",
    "registry",
    "coverage",
    "file_sha256",
    "validate_panel",
    "cached",
    # from nqpf_helpers.errors
    "NQPFError",
    "InputError",
    "PanelError",
    "UnknownRegionError",
    "UnknownDataFileError",
    "MapInputError",
    "OutputError",
    "MissingDependencyError",
    "DataUnavailableError",
    "DataIntegrityError",
    "SolverError",
    "NQPFWarning",
    "UnmappedRegionWarning",
]
__all__ += SUBMODULES

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .cache import cached
    from .data import coverage, fetch, file_sha256, registry
    from .validate import validate_panel


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def origin(name: str) -> str:
    """Dotted path of the object a top-level name of :data:`__all__` stands for.

    >>> origin("coverage")
    'nqpf_helpers.data.coverage'
    """
    if name in SUBMODULES:
        return f"{__name__}.{name}"
    if name in _LAZY:
        return f"{__name__}.{_LAZY[name]}.{name}"
    if name in __all__ and name != "__version__":
        return f"{__name__}.errors.{name}"
    raise InputError(f"{name!r} is not in nqpf_helpers.__all__; the public names are {sorted(__all__)}.")
