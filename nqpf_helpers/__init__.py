"""nqpf_helpers: the computing behind nqpf-book.

Modules, one per concern:

- :mod:`nqpf_helpers.data` -- download registry, checked fetching, tidy loaders;
- :mod:`nqpf_helpers.validate` -- the panel validator every stage calls first;
- :mod:`nqpf_helpers.regions` -- Chinese administrative codes, names, regional groups;
- :mod:`nqpf_helpers.sbm` -- SBM-DEA with undesirable outputs (green TFP);
- :mod:`nqpf_helpers.indices` -- GTFP growth: ML, GML, Luenberger and SBM-GML indices with their parts;
- :mod:`nqpf_helpers.bootstrap` -- m-out-of-n bootstrap intervals for SBM scores, carried into NQPF;
- :mod:`nqpf_helpers.parallel` -- the same computations on local processes or a Dask cluster;
- :mod:`nqpf_helpers.forecast` -- LSTM growth paths and baselines;
- :mod:`nqpf_helpers.nqpf` -- the NQPF ratio and comparisons with published values;
- :mod:`nqpf_helpers.convergence` -- catch-up statistics (beta, sigma, leapfrogging, shares);
- :mod:`nqpf_helpers.pipeline` -- the whole method on a user's own panel (read, check, GTFP, NQPF, report);
- :mod:`nqpf_helpers.cli` -- the ``nqpf`` command.
"""

__version__ = "0.1.0"
