"""The whole method on a user's own panel: read, GTFP, growth path, NQPF, report.

This is the Python API behind the ``nqpf gtfp``, ``nqpf forecast`` and
``nqpf run`` commands (:mod:`nqpf_helpers.cli` only parses arguments and
prints errors).  Each step is a function of DataFrames with explicit column
names:

* :func:`read_panel` reads CSV, Excel or Parquet (including the authors'
  ``ID`` / ``years`` / ``Variable`` workbook) into a long panel;
* :func:`check_run_panel` runs every check the later steps would run, before
  any expensive computation;
* :func:`compute_gtfp` scores every unit-year with the SBM model of
  :mod:`nqpf_helpers.sbm`;
* :func:`compute_nqpf` fits the LSTM growth paths of
  :mod:`nqpf_helpers.forecast` and takes actual / predicted GTFP;
* :func:`run_pipeline` chains them and records the settings;
* :func:`write_report` writes a results folder (CSV, settings JSON, a small
  standalone HTML report with a trend figure and, where the units are Chinese
  administrative codes or ISO3 country codes, a map), atomically.

Every problem with the input is raised as :class:`InputError` or
:class:`~nqpf_helpers.validate.PanelError` (both ``ValueError``) with a
message that names the problem and the fix.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nqpf_helpers._files import give_default_permissions, replace_atomically
from nqpf_helpers.errors import InputError, OutputError
from nqpf_helpers.validate import PanelError, format_list, validate_panel

__all__ = [
    "AUTHORS_COLUMNS",
    "InputError",
    "OutputError",
    "PipelineResult",
    "UNIT_CANDIDATES",
    "check_map_units",
    "check_output_path",
    "check_run_panel",
    "compute_gtfp",
    "compute_nqpf",
    "example_panel",
    "read_panel",
    "run_pipeline",
    "trend_figure",
    "unit_kind",
    "write_csv_atomically",
    "write_report",
]


AUTHORS_COLUMNS = {"ID": "region_code", "years": "year", "Variable": "gtfp"}
"""Column names of the authors' ``Test_Data.xlsx`` and the names they are given."""

UNIT_CANDIDATES = ("region_code", "iso3", "unit", "ID", "code", "region", "country", "province")
"""Columns tried, in order, when no unit column is named."""

_READERS = {".csv": "csv", ".txt": "csv", ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
            ".parquet": "parquet", ".pq": "parquet"}
_ISO3_RE = re.compile(r"^[A-Z]{3}$")
_CHINA_RE = re.compile(r"^\d{6}$")


# --------------------------------------------------------------------------- reading
def _clean_units(s: pd.Series) -> pd.Series:
    # Spreadsheets turn codes into numbers (330100 or 330100.0); units are labels, so keep
    # whole numbers as digit strings and everything else as stripped text.
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.to_numpy(dtype=float)
        if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
            return pd.Series(v.astype(np.int64).astype(str), index=s.index, name=s.name)
    return s.astype("string").str.strip().astype(object).where(s.notna(), None)


def read_panel(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    unit: str | None = None,
    time: str = "year",
    layout: str = "long",
) -> pd.DataFrame:
    """Read a long-format panel from a CSV, Excel or Parquet file.

    Parameters
    ----------
    path
        ``.csv`` / ``.txt`` (comma separated), ``.xlsx`` / ``.xlsm`` / ``.xls``
        or ``.parquet`` / ``.pq``.
    sheet
        Excel sheet name or 0-based position (default: the first sheet).
        Ignored for other formats.
    unit
        Unit identifier column.  ``None`` takes the first of
        :data:`UNIT_CANDIDATES` present in the file.
    time
        Year column.
    layout
        ``"long"``: one row per unit and year, named columns.
        ``"authors"``: the authors' ``Test_Data.xlsx`` layout, columns
        ``ID``, ``years`` and ``Variable`` (GTFP), renamed to
        ``region_code``, ``year`` and ``gtfp`` (``unit`` and ``time`` are
        then ignored).

    Returns
    -------
    pandas.DataFrame
        The table with the unit column as strings (whole-number codes as digit
        strings, so ``110000.0`` becomes ``"110000"``) and ``attrs`` recording
        ``unit``, ``time`` and ``source``.  Values are not validated here; see
        :func:`check_run_panel`.

    Raises
    ------
    InputError
        Missing, empty or unreadable file, unknown extension, unknown sheet,
        missing columns of the chosen layout, or no unit column found.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"input file {str(p)!r} does not exist. Check the path (relative paths start in {os.getcwd()}).")
    if p.is_dir():
        raise InputError(f"input {str(p)!r} is a folder, not a file. Give the path of a CSV, Excel or Parquet file.")
    kind = _READERS.get(p.suffix.lower())
    if kind is None:
        raise InputError(
            f"cannot read {p.name!r}: unknown file type {p.suffix or '(none)'!r}. "
            f"Save the panel as one of {', '.join(sorted(_READERS))}."
        )
    if p.stat().st_size == 0:
        raise InputError(f"input file {str(p)!r} is empty (0 bytes). Export the panel again; it needs a header row and data rows.")
    try:
        if kind == "csv":
            df = pd.read_csv(p)
        elif kind == "parquet":
            df = pd.read_parquet(p)
        else:
            with pd.ExcelFile(p) as book:
                names = book.sheet_names
                if sheet is None:
                    sheet = 0
                if isinstance(sheet, str) and sheet.isdigit() and sheet not in names:
                    sheet = int(sheet)
                if isinstance(sheet, int) and not 0 <= sheet < len(names):
                    raise InputError(
                        f"{p.name!r} has {len(names)} sheet(s), so sheet position {sheet} does not exist. "
                        f"Use --sheet with one of {names}."
                    )
                if isinstance(sheet, str) and sheet not in names:
                    raise InputError(
                        f"{p.name!r} has no sheet named {sheet!r}; its sheets are {names}. "
                        "Use --sheet with one of these names (or its 0-based position)."
                    )
                df = pd.read_excel(book, sheet_name=sheet)
    except InputError:
        raise
    except pd.errors.EmptyDataError as err:
        raise InputError(f"input file {str(p)!r} has no columns ({err}). It needs a header row and data rows.") from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, ImportError) as err:
        raise InputError(
            f"cannot read {p.name!r} as {kind}: {type(err).__name__}: {err}. "
            "Check that the file is not damaged and that its extension matches its content."
        ) from err
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise InputError(f"input file {str(p)!r} has a header but no data rows. Export the panel again with its data.")

    if layout == "authors":
        missing = [c for c in AUTHORS_COLUMNS if c not in df.columns]
        if missing:
            raise InputError(
                f"{p.name!r} is not in the authors' layout: missing column(s) {missing}; found {list(df.columns)}. "
                "The authors' layout has columns ID (6-digit code), years and Variable (GTFP); "
                "for other files use --layout long with --unit/--time."
            )
        df = df[list(AUTHORS_COLUMNS)].rename(columns=AUTHORS_COLUMNS)
        unit, time = "region_code", "year"
    elif layout != "long":
        raise InputError(f"unknown layout {layout!r}; use 'long' or 'authors'.")
    else:
        if unit is None:
            unit = next((c for c in UNIT_CANDIDATES if c in df.columns), None)
            if unit is None:
                raise InputError(
                    f"{p.name!r}: no unit column found (looked for {list(UNIT_CANDIDATES)}); columns are "
                    f"{list(df.columns)}. Name the column that identifies regions/countries with --unit."
                )
        for role, col, flag in (("unit", unit, "--unit"), ("year", time, "--time")):
            if col not in df.columns:
                raise InputError(
                    f"{p.name!r}: {role} column {col!r} not found; columns are {list(df.columns)}. "
                    f"Name the right column with {flag}."
                )
    df[unit] = _clean_units(df[unit])
    df.attrs = {"unit": unit, "time": time, "source": str(p)}
    return df


_EXAMPLE_ISO3 = ("CHN", "IND", "JPN", "KOR", "VNM", "THA", "IDN", "MYS", "PHL", "PAK", "BGD", "LKA")


def example_panel(
    n_units: int = 8, start: int = 1995, end: int = 2017, *, codes: str = "china", seed: int = 0
) -> pd.DataFrame:
    """A small synthetic panel with SBM inputs and outputs, for trying the pipeline.

    Each unit has labour and capital growing at its own rates, GDP from a
    Cobb-Douglas technology whose productivity follows a random walk with
    drift, and three emissions (``so2``, ``nox``, ``smoke``) proportional to
    GDP with intensities that fall at unit-specific rates.  Nothing in it is
    real data.

    Parameters
    ----------
    n_units
        Number of units (at most 31 for ``codes="china"``, 12 for ``"iso3"``).
    start, end
        First and last year (inclusive).
    codes
        ``"china"``: 6-digit province codes in column ``region_code``;
        ``"iso3"``: country codes in column ``iso3``; ``"names"``: labels
        ``unit01``, ... in column ``unit``.
    seed
        Random seed.

    Returns
    -------
    pandas.DataFrame
        Columns unit, ``year``, ``labour``, ``capital``, ``gdp``, ``so2``,
        ``nox``, ``smoke``: a balanced panel, all values > 0.
    """
    if codes == "china":
        from nqpf_helpers.regions import province_table

        pool, col = list(province_table()["province_code"]), "region_code"
    elif codes == "iso3":
        pool, col = list(_EXAMPLE_ISO3), "iso3"
    elif codes == "names":
        pool, col = [f"unit{i + 1:02d}" for i in range(max(n_units, 1))], "unit"
    else:
        raise ValueError(f"codes must be 'china', 'iso3' or 'names', got {codes!r}.")
    if not 1 <= n_units <= len(pool):
        raise ValueError(f"n_units must be between 1 and {len(pool)} for codes={codes!r}, got {n_units}.")
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start}).")
    rng = np.random.default_rng(seed)
    years = np.arange(start, end + 1)
    t = years - start
    frames = []
    for u in pool[:n_units]:
        labour = rng.uniform(5, 60) * np.exp(rng.uniform(-0.005, 0.02) * t + rng.normal(0, 0.01, t.size))
        capital = rng.uniform(20, 400) * np.exp(rng.uniform(0.04, 0.11) * t + rng.normal(0, 0.02, t.size))
        tfp = np.exp(np.cumsum(rng.normal(rng.uniform(-0.005, 0.02), 0.03, t.size)))
        gdp = rng.uniform(0.5, 2.0) * tfp * capital**0.4 * labour**0.6
        frame = {col: u, "year": years, "labour": labour, "capital": capital, "gdp": gdp}
        for gas in ("so2", "nox", "smoke"):
            intensity = rng.uniform(0.5, 3.0) * np.exp(-rng.uniform(0.0, 0.08) * t)
            frame[gas] = gdp * intensity * np.exp(rng.normal(0, 0.05, t.size))
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- checks
def unit_kind(units: Sequence[object]) -> str:
    """What the unit labels look like, to decide which map to draw.

    Returns
    -------
    str
        ``"china"`` when most labels are 6-digit numbers (Chinese
        administrative codes; :func:`check_map_units` then insists that all
        are valid), ``"iso3"`` when all are three capital letters, else
        ``"other"`` (no map).
    """
    labels = [str(u) for u in units]
    if not labels:
        return "other"
    six = sum(bool(_CHINA_RE.match(u)) for u in labels)
    if six and 2 * six >= len(labels):
        return "china"
    if all(_ISO3_RE.match(u) for u in labels):
        return "iso3"
    return "other"


def check_map_units(units: Sequence[object]) -> tuple[str, str | None]:
    """Check that units meant as Chinese codes can be mapped, before any computing.

    Parameters
    ----------
    units
        Unit labels.

    Returns
    -------
    kind, level
        :func:`unit_kind` and, for Chinese codes, their administrative level.

    Raises
    ------
    nqpf_helpers.regions.UnknownRegionError
        Some labels are not 6-digit codes of the 31 mainland provinces, or the
        codes mix administrative levels.
    """
    kind = unit_kind(units)
    if kind != "china":
        return kind, None
    from nqpf_helpers import regions

    with warnings.catch_warnings():
        # abolished but well-formed codes are simply not drawn; the map lists them
        warnings.simplefilter("ignore", regions.UnmappedRegionWarning)
        codes = regions.check_codes(list(dict.fromkeys(units)))
    levels = sorted({regions.region_level(c) for c in codes})
    if len(levels) != 1:
        raise regions.UnknownRegionError(
            f"the units mix administrative levels ({', '.join(levels)}), and a map shows one level. "
            "Run one level at a time."
        )
    return kind, levels[0]


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
        See :func:`nqpf_helpers.sbm.sbm`.
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
        clean, dmu=unit, period=time, inputs=_names(inputs), good=_names(good), bad=_names(bad),
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
) -> pd.DataFrame:
    """LSTM growth paths and NQPF = actual / predicted GTFP, combined over seeds.

    Parameters
    ----------
    gtfp
        Long panel of strictly positive GTFP, balanced and without gaps.
    unit, time, value
        Column names.
    protocol
        A key of :data:`nqpf_helpers.forecast.PROTOCOLS` (default
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

    Returns
    -------
    pandas.DataFrame
        One row per unit and predicted year: ``unit``, ``time``, ``split``
        (``"train"``/``"test"``), ``actual``, ``predicted`` (geometric mean
        over seeds), ``nqpf``, ``predicted_nonpositive``, ``n_seeds``.

    Raises
    ------
    PanelError
        Bad series (see :func:`nqpf_helpers.forecast.series_matrix`).
    ValueError
        Unknown protocol, no seeds, ``lags`` below 1, or ``train_until``
        with a protocol that splits by share.
    """
    from tqdm import tqdm  # plain bars on stderr: tqdm.auto warns in kernels without ipywidgets

    from nqpf_helpers import forecast as fc
    from nqpf_helpers import nqpf as nq

    spec = _protocol_spec(protocol, train_until, lags)
    seed_list = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must be at least 1.")
    if seed_list != list(range(seed_list[0], seed_list[0] + len(seed_list))):
        raise InputError(f"seeds must be consecutive integers (ensemble members seed, seed + 1, ...), got {seed_list}.")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}.")
    check_run_panel(gtfp, unit=unit, time=time, gtfp=value,
                    train_until=spec.train_until if spec.split == "until_year" else None, lags=spec.lags)
    config = fc.TrainConfig() if epochs is None else fc.TrainConfig(
        epochs=int(epochs), drop_after=min(fc.TrainConfig().drop_after, max(1, int(epochs) * 5 // 6))
    )
    groups = [seed_list[i : i + chunk] for i in range(0, len(seed_list), chunk)]
    parts = []
    for group in tqdm(groups, desc="LSTM growth paths", unit="seed group", disable=not progress, file=sys.stderr):
        parts.append(fc.forecast_growth_path(gtfp, spec, seeds=len(group), seed=group[0], config=config,
                                             unit=unit, time=time, value=value))
    pred = pd.concat(parts, ignore_index=True)
    out = nq.ensemble_nqpf(pred, unit=unit, time=time)
    cols = [unit, time, "split", "actual", "predicted", "nqpf", "predicted_nonpositive", "n_seeds"]
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
    protocol, seeds, train_until, epochs, lags
        Growth-path options, see :func:`compute_nqpf`.
    progress
        Show progress bars (stderr).
    extra_settings
        Added to ``settings`` (e.g. the input file and command line).

    Returns
    -------
    PipelineResult
    """
    from nqpf_helpers import forecast as fc

    spec = _protocol_spec(protocol, train_until, lags)
    cut = spec.train_until if spec.split == "until_year" else None
    check_run_panel(panel, unit=unit, time=time, inputs=inputs, good=good, bad=bad, gtfp=gtfp, train_until=cut,
                    lags=spec.lags)
    if gtfp is None:
        g = compute_gtfp(panel, unit=unit, time=time, inputs=inputs, good=good, bad=bad,
                         rts=rts, frontier=frontier, window=window, progress=progress)
    else:
        g = validate_panel(panel, unit=unit, time=time, values=[gtfp], positive=[gtfp], name="input panel")
        g = g[[unit, time, gtfp]].rename(columns={gtfp: "gtfp"})
    n = compute_nqpf(g, unit=unit, time=time, value="gtfp", protocol=protocol, seeds=seeds,
                     train_until=train_until, epochs=epochs, progress=progress, lags=lags)
    results = g.merge(n.drop(columns=["actual"]), on=[unit, time], how="left")
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
        "n_units": int(g[unit].nunique()),
        "years": [int(g[time].min()), int(g[time].max())],
        **(extra_settings or {}),
    }
    return PipelineResult(gtfp=g, nqpf=n, results=results, settings=settings, unit=unit, time=time)


# --------------------------------------------------------------------------- writing
def check_output_path(out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check, before computing anything, that ``out`` can be created.

    Raises
    ------
    OutputError
        The parent is missing, is not a folder or is not writable, or ``out``
        exists and ``overwrite`` is False.
    """
    out = Path(out)
    parent = out.absolute().parent
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(
            f"cannot write {str(out)!r}: {str(probe)!r} is a file, not a folder. Choose an output path inside a folder."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write {str(out)!r}: the folder {str(probe)!r} is not writable by you. "
            "Choose another output location (e.g. in your home folder) or fix the folder's permissions."
        )
    if out.exists() and not overwrite:
        raise OutputError(f"{str(out)!r} already exists. Choose a new output path, or pass --overwrite to replace it.")
    return out


def write_csv_atomically(df: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write ``df`` as CSV through a temporary file beside ``out``, renamed into place at the end."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replace_atomically(out) as tmp:
        df.to_csv(tmp, index=False)
    return out


def trend_figure(result: PipelineResult) -> "matplotlib.figure.Figure":
    """The report's trend figure: GTFP with its growth path, and the spread of NQPF by year.

    Parameters
    ----------
    result
        From :func:`run_pipeline`.

    Returns
    -------
    matplotlib.figure.Figure
        Left: every unit's GTFP (grey), the mean over units and the mean
        growth path, with the end of the training years marked.  Right: the
        median and 10th-90th percentiles of NQPF over units after the
        training years.
    """
    # A Figure object rather than pyplot: no global state, no GUI backend needed.
    from matplotlib.figure import Figure

    t, u = result.time, result.unit
    n = result.nqpf
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for _, g in result.gtfp.groupby(u):
        ax1.plot(g[t], g["gtfp"], color="0.75", lw=0.8)
    mean_act = n.groupby(t)[["actual", "predicted"]].mean()
    ax1.plot(result.gtfp.groupby(t)["gtfp"].mean(), color="C0", lw=2, label="actual GTFP (mean)")
    ax1.plot(mean_act.index, mean_act["predicted"], color="C1", lw=2, ls="--", label="growth path (mean)")
    ax1.set_title("GTFP: units (grey), mean and growth path")
    ax1.set_xlabel(t)
    ax1.legend(fontsize=8)
    test = n[n["split"] == "test"]
    q = test.groupby(t)["nqpf"].quantile([0.1, 0.5, 0.9]).unstack()
    ax2.fill_between(q.index, q[0.1], q[0.9], color="C2", alpha=0.25, label="10th-90th percentile")
    ax2.plot(q.index, q[0.5], color="C2", lw=2, label="median")
    ax2.axhline(1.0, color="k", lw=0.8)
    cut = result.settings.get("train_until")
    if cut is not None:
        ax1.axvline(cut + 0.5, color="0.4", lw=0.8, ls=":")
        ax1.annotate("training ends", (cut + 0.5, 1), xycoords=("data", "axes fraction"), fontsize=8,
                     ha="right", va="top", rotation=90)
    ax2.set_title("NQPF after the training years")
    ax2.set_xlabel(t)
    ax2.legend(fontsize=8)
    return fig


def _trend_png(result: PipelineResult) -> bytes:
    fig = trend_figure(result)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _map_html(result: PipelineResult, folder: Path) -> tuple[str | None, str]:
    """Write ``map.html`` (with its assets) into ``folder`` when the units can be mapped."""
    kind, level = check_map_units(list(result.results[result.unit].unique()))
    if kind == "other":
        return None, "no map: the units are neither 6-digit Chinese administrative codes nor ISO3 country codes."
    test = result.nqpf[result.nqpf["split"] == "test"]
    last = int(test[result.time].max())
    frame = test[test[result.time] == last][[result.unit, result.time, "nqpf"]]
    try:
        from nqpf_helpers import maps
    except ImportError:
        return None, "no map: nqpf_helpers.maps is not available in this installation."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "china":
            m = maps.china_choropleth(frame, value="nqpf", code=result.unit, time=result.time, level=level)
        else:
            m = maps.world_choropleth(frame, value="nqpf", iso3=result.unit, time=result.time)
    maps.save_map(m, folder / "map.html", bundle_assets=True)
    note = f"NQPF in {last} ({'Chinese regions' if kind == 'china' else 'countries'})."
    unmatched = getattr(m, "unmatched", None)
    if unmatched is not None and len(unmatched):
        note += f" Not on the map (no boundary): {format_list(unmatched.iloc[:, 0])}."
    return "map.html", note


def _report_html(result: PipelineResult, png: bytes, map_file: str | None, map_note: str) -> str:
    s = result.settings
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
        for k, v in s.items()
    )
    test = result.nqpf[result.nqpf["split"] == "test"]
    last = int(test[result.time].max()) if not test.empty else None
    summary = (
        test.groupby(result.unit)
        .agg(mean_nqpf=("nqpf", "mean"), last_nqpf=("nqpf", "last"), mean_gtfp=("actual", "mean"))
        .sort_values("mean_nqpf", ascending=False)
        .reset_index()
    )
    table = summary.to_html(index=False, float_format=lambda x: f"{x:.3f}", border=0, classes="results")
    img = base64.b64encode(png).decode("ascii")
    map_block = (
        f'<p>{html.escape(map_note)} <a href="{map_file}">Open the map</a>.</p>'
        f'<iframe src="{map_file}" title="map" style="width:100%;height:480px;border:1px solid #ccc"></iframe>'
        if map_file else f"<p>{html.escape(map_note)}</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>NQPF report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;font-size:90%}}th,td{{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}}
td{{font-variant-numeric:tabular-nums}}img{{max-width:100%}}</style></head>
<body>
<h1>NQPF report</h1>
<p>GTFP ({html.escape(str(s.get("gtfp_source")))}), a growth path per unit from the LSTM protocol
<code>{html.escape(str(s.get("protocol")))}</code> and NQPF = actual GTFP / predicted GTFP, for
{s.get("n_units")} units, {s.get("years", ["?", "?"])[0]}-{s.get("years", ["?", "?"])[1]}.
Full results: <a href="results.csv">results.csv</a>; settings: <a href="settings.json">settings.json</a>.</p>
<h2>Trends</h2>
<img alt="GTFP and NQPF trends" src="data:image/png;base64,{img}">
<h2>Map</h2>
{map_block}
<h2>Units after the training years{f" (last year {last})" if last else ""}</h2>
{table}
<h2>Settings</h2>
<table>{rows}</table>
</body></html>
"""


def write_report(
    result: PipelineResult, outdir: str | os.PathLike[str], *, map: bool = True, overwrite: bool = False
) -> Path:
    """Write the results folder atomically.

    The folder holds ``results.csv`` (:attr:`PipelineResult.results`),
    ``settings.json``, ``report.html`` (standalone: the figure is embedded)
    and, when the units are Chinese codes of one level or ISO3 codes and
    ``map`` is True, ``map.html`` with its JavaScript/CSS beside it.
    Everything is written into a temporary folder next to ``outdir`` and
    renamed into place at the end, so a failure or Ctrl-C leaves no partial
    folder.

    Parameters
    ----------
    result
        From :func:`run_pipeline`.
    outdir
        Folder to create.
    map
        Draw the map when the units allow it.
    overwrite
        Replace an existing ``outdir``.

    Returns
    -------
    pathlib.Path
        ``outdir``.

    Raises
    ------
    OutputError
        ``outdir`` cannot be created (see :func:`check_output_path`).
    nqpf_helpers.regions.UnknownRegionError
        6-digit units that are not valid Chinese codes (with ``map=True``).
    """
    out = check_output_path(outdir, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    old: Path | None = None
    try:
        give_default_permissions(tmp, directory=True)
        result.results.to_csv(tmp / "results.csv", index=False)
        settings = dict(result.settings)
        map_file, note = (None, "no map (--no-map).")
        if map:
            map_file, note = _map_html(result, tmp)
        settings["map"] = map_file
        (tmp / "settings.json").write_text(json.dumps(settings, indent=2, default=str) + "\n", encoding="utf-8")
        (tmp / "report.html").write_text(_report_html(result, _trend_png(result), map_file, note), encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            os.replace(out, old / "previous")
        os.replace(tmp, out)
    except BaseException:
        if old is not None and not out.exists():
            os.replace(old / "previous", out)
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out
