"""The whole method on a user's own panel: check, GTFP, growth path, NQPF.

This is the orchestration behind the ``nqpf gtfp``, ``nqpf forecast`` and
``nqpf run`` commands (:mod:`nqpf_helpers.cli` only parses arguments and
prints errors).  Each step is a function of DataFrames with explicit column
names:

* :func:`check_run_panel` runs every check the later steps would run, before
  any expensive computation;
* :func:`compute_gtfp` scores every unit-year with the SBM model of
  :mod:`nqpf_helpers.sbm`;
* :func:`compute_nqpf` fits the LSTM growth paths of
  :mod:`nqpf_helpers.forecast` and takes actual / predicted GTFP;
* :func:`run_pipeline` chains them and records the settings, the data
  warnings (possible unit slips) and, for units given as Chinese region
  names, their administrative codes.

Files are read and written by :mod:`nqpf_helpers.io` (``read_panel``,
``check_output_path``, ``write_csv_atomically``), the results folder with its
HTML report by :mod:`nqpf_helpers.report` (``write_report``), the report's
figure is :func:`nqpf_helpers.plots.trend_figure` and a synthetic panel to
try things on is :func:`nqpf_helpers.synthetic.example_panel`.

Every problem with the input is raised as :class:`~nqpf_helpers.errors.InputError` or
:class:`~nqpf_helpers.errors.PanelError` (both ``ValueError``) with a
message that names the problem and the fix.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nqpf_helpers.errors import InputError, OutputError, UnitSlipWarning
from nqpf_helpers.validate import PanelError, find_unit_slips, validate_panel

__all__ = [
    "InputError",
    "OutputError",
    "PipelineResult",
    "check_run_panel",
    "compute_gtfp",
    "compute_nqpf",
    "region_codes_for",
    "run_pipeline",
    "unit_slips",
]


def _names(cols: Sequence[str] | None) -> list[str]:
    return [c for c in (cols or []) if c]


def check_run_panel(
    panel: pd.DataFrame,
    *,
    unit: str,
    time: str,
    inputs: Sequence[str] = (),
    good: Sequence[str] = (),
    bad: Sequence[str] = (),
    gtfp: str | None = None,
    train_until: int | None = 2009,
    forecast: bool = True,
    lags: int | None = None,
) -> pd.DataFrame:
    """Check a panel for everything the SBM and LSTM steps need, before running them.

    Parameters
    ----------
    panel
        Long panel.
    unit, time
        Column names.
    inputs, good, bad
        SBM columns (ignored when ``gtfp`` is given).
    gtfp
        Name of an existing GTFP column; the SBM step is then skipped.
    train_until
        Last training year of the growth path (``None``: the protocol splits
        by share and no year check applies).
    forecast
        Whether the growth path will be fitted (then the panel must be
        balanced, gap-free and long enough).
    lags
        Window length of the growth path (``None``: the method's 5); the
        series must be at least ``lags + 2`` years long.

    Returns
    -------
    pandas.DataFrame
        The validated panel, sorted by unit and year.

    Raises
    ------
    PanelError
        The first problem found, naming the offending units/years and the fix.
    """
    from nqpf_helpers.forecast import LAGS

    lags = LAGS if lags is None else lags
    inputs, good, bad = _names(inputs), _names(good), _names(bad)
    if gtfp is None:
        if not inputs or not good:
            raise PanelError(
                "no SBM columns given: name at least one input and one good output "
                "(e.g. --inputs labour,capital --good gdp), or give an existing GTFP column with --gtfp."
            )
        values, positive, nonneg = inputs + good + bad, inputs + good, bad
        dup = sorted({c for c in values if values.count(c) > 1})
        if dup:
            raise PanelError(f"column(s) {dup} are listed more than once among --inputs/--good/--bad; list each once.")
    else:
        values, positive, nonneg = [gtfp], [gtfp], []
    clean = validate_panel(
        panel, unit=unit, time=time, values=values, positive=positive, nonnegative=nonneg,
        balanced=forecast, consecutive=forecast, name="input panel",
    )
    for col in bad if gtfp is None else []:
        if (clean[col] == 0).all():
            raise PanelError(
                f"input panel: bad output {col!r} is zero for every unit and year, so it cannot distinguish "
                f"anyone and the SBM model drops it. Check the column (units? wrong sheet?) or leave it out of --bad."
            )
    years = sorted(clean[time].unique())
    if forecast:
        if len(years) == 1:
            raise PanelError(
                f"input panel: only one year ({years[0]}). A growth path needs a time series per unit; "
                f"supply at least {lags + 2} consecutive years (the method of the book uses 1990 onwards), "
                "or use `nqpf gtfp` for a one-year efficiency score."
            )
        if len(years) < lags + 2:
            raise PanelError(
                f"input panel: series too short, {len(years)} years ({years[0]}-{years[-1]}). The LSTM reads "
                f"windows of {lags} years, so it needs at least {lags + 2} consecutive years for one training "
                "and one test window. Supply a longer panel"
                + (f", or use fewer lags (--lags {max(1, len(years) - 2)})." if len(years) >= 3 else ".")
            )
        if train_until is not None:
            first_target = years[lags]
            if not first_target <= train_until < years[-1]:
                raise PanelError(
                    f"input panel: training cut-off {train_until} leaves no training or no test years: the "
                    f"panel covers {years[0]}-{years[-1]} and the first predictable year is {first_target}. "
                    f"Choose --train-until between {first_target} and {years[-1] - 1}."
                )
    return clean


# --------------------------------------------------------------------------- computing
def _protocol_spec(protocol: str, train_until: int | None, lags: int | None = None):
    from nqpf_helpers.forecast.protocols import resolve_protocol

    return resolve_protocol(protocol, lags=lags, train_until=train_until)


def compute_gtfp(
    panel: pd.DataFrame,
    *,
    unit: str,
    time: str,
    inputs: Sequence[str],
    good: Sequence[str],
    bad: Sequence[str] = (),
    rts: str = "vrs",
    frontier: str = "global",
    window: int = 3,
    progress: bool = False,
) -> pd.DataFrame:
    """Green TFP of every unit-year: the SBM score with undesirable outputs.

    Parameters
    ----------
    panel
        Long panel with the columns named below.
    unit, time
        Column names.
    inputs, good, bad
        Input, good-output and bad-output columns.
    rts, frontier, window
        See :func:`nqpf_helpers.sbm.panel.sbm`.
    progress
        Show a progress bar (stderr).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit``, ``time``, ``gtfp`` (the score ``rho``), ``efficient``
        and ``ineff_<col>`` (inefficiency by source), sorted by unit and year.

    Raises
    ------
    PanelError
        Bad panel (see :func:`check_run_panel`; balance is not required here).
    """
    from nqpf_helpers import sbm

    clean = check_run_panel(panel, unit=unit, time=time, inputs=inputs, good=good, bad=bad, forecast=False)
    scores = sbm.sbm(
        clean, unit=unit, time=time, inputs=_names(inputs), good=_names(good), bad=_names(bad),
        rts=rts, frontier=frontier, window=window, progress=progress,
    )
    keep = [unit, time, "rho", "efficient"] + [c for c in scores.columns if c.startswith("ineff_")]
    out = scores[keep].rename(columns={"rho": "gtfp"})
    out.attrs = {}
    return out.sort_values([unit, time]).reset_index(drop=True)


def compute_nqpf(
    gtfp: pd.DataFrame,
    *,
    unit: str,
    time: str,
    value: str = "gtfp",
    protocol: str = "improved",
    seeds: int | Sequence[int] = 20,
    train_until: int | None = None,
    epochs: int | None = None,
    chunk: int = 5,
    progress: bool = False,
    lags: int | None = None,
    engine: str = "numba",
) -> pd.DataFrame:
    """LSTM growth paths and NQPF = actual / predicted GTFP, combined over seeds.

    Parameters
    ----------
    gtfp
        Long panel of strictly positive GTFP, balanced and without gaps.
    unit, time, value
        Column names.
    protocol
        A key of :data:`nqpf_helpers.forecast.protocols.PROTOCOLS` (default
        ``"improved"``: log growth, recursive path after the training years).
    seeds
        Number of seeds (``0 .. seeds-1``) or the seeds themselves.
    train_until
        Last year whose GTFP is used for training (protocols that split by
        year only; ``None`` keeps the protocol's 2009).
    epochs
        Training epochs (``None``: the released code's 300, with the
        learning rate cut after 250).  With fewer epochs the cut comes after
        five sixths of them; fewer epochs are for quick trials only.
    chunk
        Seeds trained together per step of the progress bar.  Each
        (unit, seed) network is trained independently, so chunking does not
        change the model, only how often progress is reported.
    progress
        Show a progress bar (stderr).
    lags
        Window length of the LSTM (``None``: the protocol's 5 years, as in
        the authors' code); see the book's robustness chapter for how much
        it matters.
    engine
        Training engine, ``"numba"`` (default: the fused CPU kernel) or
        ``"tensorflow"`` (see :class:`~nqpf_helpers.forecast.protocols.TrainConfig`);
        both train the same networks to float32 rounding.

    Returns
    -------
    pandas.DataFrame
        One row per unit and predicted year: ``unit``, ``time``, ``split``
        (``"train"``/``"test"``), ``actual``, ``predicted`` (geometric mean
        over seeds), ``nqpf`` (NaN below the prediction floor of
        :mod:`nqpf_helpers.nqpf`), ``n_seeds``, ``n_below_floor``, ``reason``.

    Raises
    ------
    PanelError
        Bad series (see :func:`nqpf_helpers.forecast.windows.series_matrix`).
    InputError
        Unknown protocol, no seeds, ``lags`` below 1, or ``train_until``
        with a protocol that splits by share.
    """
    from tqdm import tqdm  # plain bars on stderr: tqdm.auto warns in kernels without ipywidgets

    from nqpf_helpers import forecast as fc
    from nqpf_helpers import nqpf as nq

    spec = _protocol_spec(protocol, train_until, lags)
    seed_list = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seed_list:
        raise InputError("seeds must be at least 1.")
    if seed_list != list(range(seed_list[0], seed_list[0] + len(seed_list))):
        raise InputError(f"seeds must be consecutive integers (ensemble members seed, seed + 1, ...), got {seed_list}.")
    if chunk < 1:
        raise InputError(f"chunk must be >= 1, got {chunk}.")
    check_run_panel(gtfp, unit=unit, time=time, gtfp=value,
                    train_until=spec.train_until if spec.split == "until_year" else None, lags=spec.lags)
    fc.check_engine(engine)  # before any training starts
    config = fc.TrainConfig(engine=engine) if epochs is None else fc.TrainConfig(
        epochs=int(epochs), drop_after=min(fc.TrainConfig().drop_after, max(1, int(epochs) * 5 // 6)), engine=engine
    )
    groups = [seed_list[i : i + chunk] for i in range(0, len(seed_list), chunk)]
    parts = []
    for group in tqdm(groups, desc="LSTM growth paths", unit="seed group", disable=not progress, file=sys.stderr):
        parts.append(fc.forecast_growth_path(gtfp, spec, seeds=len(group), seed=group[0], config=config,
                                             unit=unit, time=time, value=value))
    pred = pd.concat(parts, ignore_index=True)
    out = nq.ensemble_nqpf(pred, unit=unit, time=time)
    cols = [unit, time, "split", "actual", "predicted", "nqpf", "n_seeds", "n_below_floor", "reason"]
    return out[cols].sort_values([unit, time]).reset_index(drop=True)


# --------------------------------------------------------------------------- whole run
@dataclass
class PipelineResult:
    """Output of :func:`run_pipeline`.

    Attributes
    ----------
    gtfp
        GTFP per unit-year (from SBM, or the given column).
    nqpf
        Growth-path predictions and NQPF per unit-year (years after the first
        ``LAGS``).
    results
        ``gtfp`` joined with ``nqpf``: one row per unit-year, the table
        written to ``results.csv``.
    settings
        Every option used, for the settings JSON.
    unit, time
        Column names.
    """

    gtfp: pd.DataFrame
    nqpf: pd.DataFrame
    results: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    unit: str = "region_code"
    time: str = "year"


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("nqpf-helpers")
    except Exception:  # pragma: no cover - running from a source tree without metadata
        from nqpf_helpers import __version__

        return __version__


def run_pipeline(
    panel: pd.DataFrame,
    *,
    unit: str,
    time: str = "year",
    inputs: Sequence[str] = (),
    good: Sequence[str] = (),
    bad: Sequence[str] = (),
    gtfp: str | None = None,
    rts: str = "vrs",
    frontier: str = "global",
    window: int = 3,
    protocol: str = "improved",
    seeds: int | Sequence[int] = 20,
    train_until: int | None = None,
    epochs: int | None = None,
    progress: bool = False,
    extra_settings: dict[str, Any] | None = None,
    lags: int | None = None,
    engine: str = "numba",
) -> PipelineResult:
    """GTFP (SBM, or a given column), growth paths and NQPF for a panel.

    Every check is run first (:func:`check_run_panel`), so a bad panel fails
    in seconds rather than after the SBM step.

    Parameters
    ----------
    panel
        Long panel.
    unit, time
        Column names.
    inputs, good, bad, rts, frontier, window
        SBM options, see :func:`compute_gtfp`.
    gtfp
        Use this existing column as GTFP and skip the SBM step.
    protocol, seeds, train_until, epochs, lags, engine
        Growth-path options, see :func:`compute_nqpf`.
    progress
        Show progress bars (stderr).
    extra_settings
        Added to ``settings`` (e.g. the input file and command line).

    Returns
    -------
    PipelineResult
        When the units are Chinese province or city names
        (:func:`region_codes_for`), ``results`` gains a ``region_code``
        column beside the user's names.  ``settings["data_warnings"]`` lists
        possible unit slips (:func:`unit_slips`), which are also issued as
        :class:`~nqpf_helpers.errors.UnitSlipWarning`.
    """
    from nqpf_helpers import forecast as fc

    spec = _protocol_spec(protocol, train_until, lags)
    cut = spec.train_until if spec.split == "until_year" else None
    clean = check_run_panel(panel, unit=unit, time=time, inputs=inputs, good=good, bad=bad, gtfp=gtfp,
                            train_until=cut, lags=spec.lags)
    checked = _names(inputs) + _names(good) + _names(bad) if gtfp is None else [gtfp]
    slips = unit_slips(clean, unit=unit, time=time, columns=checked)
    level, codes = region_codes_for(list(clean[unit].unique()))
    if gtfp is None:
        g = compute_gtfp(panel, unit=unit, time=time, inputs=inputs, good=good, bad=bad,
                         rts=rts, frontier=frontier, window=window, progress=progress)
    else:
        g = validate_panel(panel, unit=unit, time=time, values=[gtfp], positive=[gtfp], name="input panel")
        g = g[[unit, time, gtfp]].rename(columns={gtfp: "gtfp"})
    n = compute_nqpf(g, unit=unit, time=time, value="gtfp", protocol=protocol, seeds=seeds,
                     train_until=train_until, epochs=epochs, progress=progress, lags=lags,
                     engine=engine)
    results = g.merge(n.drop(columns=["actual"]), on=[unit, time], how="left")
    if codes is not None and "region_code" not in results.columns:
        # the user's names stay the unit column; the codes make the map and joins possible
        results.insert(results.columns.get_loc(unit) + 1, "region_code", results[unit].map(codes))
    seed_list = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    settings = {
        "package": "nqpf-helpers",
        "version": _package_version(),
        "python": sys.version.split()[0],
        "unit": unit,
        "time": time,
        "gtfp_source": "given column " + repr(gtfp) if gtfp is not None else "SBM with undesirable outputs",
        "inputs": _names(inputs) if gtfp is None else [],
        "good": _names(good) if gtfp is None else [],
        "bad": _names(bad) if gtfp is None else [],
        "rts": rts if gtfp is None else None,
        "frontier": frontier if gtfp is None else None,
        "window": window if gtfp is None and frontier == "window" else None,
        "protocol": protocol,
        "protocol_description": spec.description,
        "train_until": cut,
        "lags": spec.lags,
        "seeds": seed_list,
        "epochs": epochs if epochs is not None else fc.TrainConfig().epochs,
        "engine": engine,
        "n_units": int(g[unit].nunique()),
        "years": [int(g[time].min()), int(g[time].max())],
        "region_codes": f"matched from {level} names" if codes is not None else None,
        "data_warnings": slips,
        **(extra_settings or {}),
    }
    return PipelineResult(gtfp=g, nqpf=n, results=results, settings=settings, unit=unit, time=time)




# --------------------------------------------------------------------------- data checks
def unit_slips(
    panel: pd.DataFrame, *, unit: str, time: str, columns: Sequence[str], factor: float = 1e3
) -> list[str]:
    """Warn about possible unit slips and return the messages (for ``settings.json``).

    Each cell flagged by :func:`nqpf_helpers.validate.find_unit_slips` (at
    least ``factor`` times away from both its unit's other years and its
    column's median) is issued as a
    :class:`~nqpf_helpers.errors.UnitSlipWarning` naming the unit, year,
    column and the likely slip.  Nothing is changed or dropped: a slip is
    for the user to fix, and a real outlier is for the user to keep.

    Returns
    -------
    list of str
        One message per flagged cell (empty when none).
    """
    found = find_unit_slips(panel, unit=unit, time=time, columns=list(columns), factor=factor)
    messages = found["message"].tolist()
    for message in messages:
        warnings.warn(message, UnitSlipWarning, stacklevel=2)
    return messages


def region_codes_for(units: Sequence[object]) -> tuple[str | None, dict[object, str] | None]:
    """Administrative codes of units given as Chinese province or city names, if they all are.

    Parameters
    ----------
    units
        Distinct unit labels.

    Returns
    -------
    level, codes
        ``("province" or "city", {name: code})`` when every label is a name
        that :func:`nqpf_helpers.regions.codes_from_names` matches to exactly
        one code; ``(None, None)`` otherwise (codes, ISO3 labels, other
        labels, or names of which some do not match: the map check reports
        those).
    """
    labels = [u for u in units if isinstance(u, str)]
    if not labels or len(labels) != len(units) or any(u.strip().isdigit() for u in labels):
        return None, None
    if all(len(u) == 3 and u.isascii() and u.isupper() for u in labels):  # ISO3 country codes
        return None, None
    from nqpf_helpers import regions

    level, found, problems = regions.match_region_names(labels)
    if level is None or problems:
        return None, None
    return level, found
