"""nqpf_helpers: the computing behind nqpf-book.

Modules, one per concern:

- :mod:`nqpf_helpers.data` -- download registry, checked fetching, tidy loaders;
- :mod:`nqpf_helpers.validate` -- the panel validator every stage calls first;
- :mod:`nqpf_helpers.regions` -- Chinese administrative codes, names, regional groups;
- :mod:`nqpf_helpers.sbm` -- SBM-DEA with undesirable outputs (green TFP);
- :mod:`nqpf_helpers.forecast` -- LSTM growth paths and baselines;
- :mod:`nqpf_helpers.nqpf` -- the NQPF ratio and comparisons with published values;
- :mod:`nqpf_helpers.convergence` -- catch-up statistics (beta, sigma, leapfrogging, shares);
- :mod:`nqpf_helpers.io` -- reading a user's panel (CSV in UTF-8 or GBK, Excel, Parquet) and writing files;
- :mod:`nqpf_helpers.pipeline` -- the whole method on a user's own panel (check, GTFP, NQPF, settings);
- :mod:`nqpf_helpers.report` -- the results folder: CSV, settings, HTML report (jinja2 template), map;
- :mod:`nqpf_helpers.i18n` -- the report's words in English and Chinese;
- :mod:`nqpf_helpers.fonts` -- Chinese text in figures without a system font (packaged Noto Sans CJK SC);
- :mod:`nqpf_helpers.synthetic` -- a synthetic panel for trying the method;
- :mod:`nqpf_helpers.cli` -- the ``nqpf`` command.
"""

__version__ = "0.1.0"
