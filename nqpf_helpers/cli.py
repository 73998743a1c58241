"""The ``nqpf`` command: GTFP, growth paths and NQPF for your own panel; fetch and export the book's data.

Examples
--------
.. code-block:: bash

    nqpf gtfp panel.csv --inputs labour,capital --good gdp --bad so2,nox,smoke -o gtfp.csv
    nqpf forecast gtfp.csv --protocol improved --seeds 20 --train-until 2009 -o nqpf.csv
    nqpf run panel.xlsx --sheet data --inputs labour,capital --good gdp --bad so2 -o results/
    nqpf run Test_Data.xlsx --layout authors --gtfp gtfp -o results/
    nqpf fetch                        # fetch (or find) and verify every registered file
    nqpf export world-panel out.csv   # write the balanced PWT + CEDS panel
    nqpf export china-industry china.csv   # 30 provinces' industry, 2000-2023 (yearbook inputs)
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from . import __version__, data, report
from . import io as nio
from . import pipeline as pl
from .errors import InputError, NQPFError, OutputError, UnitSlipWarning, UnknownRegionError
from .i18n import LANGS

PROTOCOL_NAMES = ["improved", "paper_one_step", "paper_recursive", "released_current", "released_first"]
"""Keys of :data:`nqpf_helpers.forecast.protocols.PROTOCOLS`.

Listed here so that ``--help`` does not import TensorFlow.
"""

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_OUTPUT = 3
EXIT_BUG = 70  # EX_SOFTWARE of sysexits.h: an internal error
EXIT_INTERRUPTED = 130

_EXIT_CODES = """\
exit codes:
  0    success
  1    the input data cannot be used (missing column, duplicated unit-year, unbalanced panel,
       non-numeric or negative values, series too short, unknown region code, unreadable file, ...)
  2    wrong command-line usage (unknown option, missing argument)
  3    the output cannot be written (folder missing, not writable, or already exists)
  70   a bug in nqpf_helpers (an unexpected exception): the message names a file holding the
       full traceback; please report it
  130  interrupted (Ctrl-C); nothing is left half-written

Errors are printed as one paragraph, `nqpf: error: ...`, naming the problem and the fix;
add --debug to see the Python traceback as well."""

_DESCRIPTION = """\
GTFP (SBM-DEA with undesirable outputs), LSTM growth paths and NQPF = actual / predicted GTFP
for your own panel, after Cao & Dai (2025); and the book's data.

examples:
  nqpf run panel.csv --inputs labour,capital --good gdp --bad so2,nox,smoke -o results/
  nqpf gtfp panel.xlsx --sheet data --inputs labour,capital --good gdp --bad so2 -o gtfp.csv
  nqpf forecast gtfp.csv --protocol improved --seeds 20 --train-until 2009 -o nqpf.csv
  nqpf run Test_Data.xlsx --layout authors -o results/
  nqpf run GTMP.csv --unit 地区 --time 年份 --inputs ... --good ... --bad ... --lang zh -o out/
  nqpf fetch
  nqpf export world-panel world.csv

`nqpf COMMAND --help` shows every option of a command."""

_EXPORTS = {
    "world-panel": lambda args: data.load_world_panel(args.start, args.end),
    "gtfp-series": lambda args: data.load_gtfp_series(),
    "published": lambda args: data.load_published_nqpf(args.level),
    "china-industry": lambda args: data.load_china_industrial_panel(),
}


def _split(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def _progress(args: argparse.Namespace) -> bool:
    # Bars go to stderr; show them for a person at a terminal, or when asked.
    return bool(args.progress or (not args.no_progress and sys.stderr.isatty()))


def _input_settings(args: argparse.Namespace, argv: list[str]) -> dict:
    return {
        "input_file": str(Path(args.panel).resolve()),
        "input_sha256": data.file_sha256(args.panel),
        "sheet": args.sheet,
        "layout": args.layout,
        "input_encoding": getattr(args, "used_encoding", None),
        "command_line": "nqpf " + shlex.join(argv),
    }


def _read(args: argparse.Namespace):
    read = nio.read_panel_file(args.panel, sheet=args.sheet, unit=args.unit, time=args.time, layout=args.layout,
                               encoding=args.encoding)
    args.used_encoding = read.encoding
    # UTF-8 (with or without BOM) is the norm and goes unmentioned; anything else is said, since a wrong
    # guess would garble names (settings.json records the encoding either way).
    if args.used_encoding is not None and (args.encoding or args.used_encoding not in ("utf-8", "utf-8-sig")):
        how = "as given by --encoding" if args.encoding else "detected"
        print(f"nqpf: read {Path(args.panel).name} as {args.used_encoding} ({how})", file=sys.stderr)
    return read.data, read.unit, read.time


def _print_slips(messages: list[str]) -> None:
    for message in messages:
        print(f"nqpf: warning: possible unit slip: {message}", file=sys.stderr)


def _cmd_gtfp(args: argparse.Namespace, argv: list[str]) -> int:
    out = nio.check_output_path(args.output, overwrite=args.overwrite)
    panel, unit, time = _read(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitSlipWarning)  # printed once, as a command-line line
        _print_slips(pl.unit_slips(panel, unit=unit, time=time,
                                   columns=[c for c in _split(args.inputs) + _split(args.good) + _split(args.bad)
                                            if c in panel.columns]))
    if args.index:
        return _write_index(args, panel, unit, time, out)
    scores = pl.compute_gtfp(
        panel, unit=unit, time=time, inputs=_split(args.inputs), good=_split(args.good), bad=_split(args.bad),
        rts=args.rts, frontier=args.frontier, window=args.window, progress=_progress(args),
    )
    if args.bootstrap:
        scores = _with_bootstrap(args, panel, unit, time, scores)
    nio.write_csv_atomically(scores, out)
    print(f"wrote GTFP for {scores[unit].nunique()} units x {scores[time].nunique()} years to {out}")
    return EXIT_OK


def _cmd_forecast(args: argparse.Namespace, argv: list[str]) -> int:
    out = nio.check_output_path(args.output, overwrite=args.overwrite)
    panel, unit, time = _read(args)
    value = "gtfp" if args.layout == "authors" else args.value
    if value not in panel.columns:
        raise InputError(
            f"{Path(args.panel).name!r}: GTFP column {value!r} not found; columns are {list(panel.columns)}. "
            "Name it with --value."
        )
    res = pl.compute_nqpf(
        panel, unit=unit, time=time, value=value, protocol=args.protocol, seeds=args.seeds,
        train_until=args.train_until, epochs=args.epochs, progress=_progress(args), lags=args.lags,
        engine=args.engine,
    )
    nio.write_csv_atomically(res, out)
    print(f"wrote growth paths and NQPF for {res[unit].nunique()} units, {res[time].min()}-{res[time].max()}, to {out}")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    out = nio.check_output_path(args.output, overwrite=args.overwrite)
    panel, unit, time = _read(args)
    if args.map:
        # fail now, not after the models have run, if the units are meant as region codes or names but are not
        units = report.check_map_units(list(panel[unit].dropna().unique()))
        if units.codes is not None:
            print(f"nqpf: matched {len(units.codes)} {units.level} names to administrative codes for the map",
                  file=sys.stderr)
    gtfp_col = "gtfp" if (args.layout == "authors" and args.gtfp is None) else args.gtfp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitSlipWarning)  # printed once below, and kept in settings.json
        result = pl.run_pipeline(
            panel, unit=unit, time=time, inputs=_split(args.inputs), good=_split(args.good), bad=_split(args.bad),
            gtfp=gtfp_col, rts=args.rts, frontier=args.frontier, window=args.window, protocol=args.protocol,
            seeds=args.seeds, train_until=args.train_until, epochs=args.epochs, progress=_progress(args),
            lags=args.lags, engine=args.engine, extra_settings=_input_settings(args, argv),
        )
    _print_slips(result.settings.get("data_warnings") or [])
    report.write_report(result, out, map=args.map, overwrite=args.overwrite, lang=args.lang)
    print(f"wrote results.csv, settings.json and report.html for {result.settings['n_units']} units to {out}")
    return EXIT_OK


def _cmd_fetch(args: argparse.Namespace, argv: list[str]) -> int:
    failures = 0
    for name in data.registry():
        try:
            path = data.fetch(name)
            print(f"ok       {name}  ->  {path}")
        except (data.DataUnavailableError, data.DataIntegrityError) as err:
            failures += 1
            print(f"missing  {name}: {err}", file=sys.stderr)
    return 1 if failures else 0


def _cmd_export(args: argparse.Namespace, argv: list[str]) -> int:
    nio.check_output_path(args.out, overwrite=args.overwrite)
    table = _EXPORTS[args.table](args)
    nio.write_csv_atomically(table, Path(args.out))
    print(f"wrote {len(table)} rows to {args.out}")
    return EXIT_OK


# --- growth indices, bootstrap intervals and cluster backends (issue 12) -----------------


def _add_indices(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("GTFP growth, uncertainty and where to compute")
    g.add_argument("--index", choices=["gml", "ml", "luenberger", "sbm-gml"],
                   help="write productivity change between consecutive years with its parts (EC, TC or BPC) "
                        "instead of SBM levels")
    g.add_argument("--bootstrap", type=_positive_int, metavar="B",
                   help="add m-out-of-n bootstrap 90%% intervals to the SBM levels, from B subsamples")
    g.add_argument("--kappa", type=float, default=None, help="subsample size m = n^kappa (default: 0.6)")
    g.add_argument("--backend", choices=["loky", "sequential", "dask"], default="loky",
                   help="where the --index and --bootstrap programmes run (default: local processes)")
    g.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler, e.g. tcp://10.0.0.5:8786 (--backend dask)")
    g.add_argument("--jobs", type=int, default=1, help="local worker processes (default: 1; -1 = all cores)")


def _backend(args: argparse.Namespace) -> dict:
    if args.scheduler and args.backend != "dask":
        raise pl.InputError("--scheduler needs --backend dask.")
    return {"backend": args.backend, "n_jobs": args.jobs, "scheduler": args.scheduler}


def _write_index(args: argparse.Namespace, panel, unit: str, time: str, out: Path) -> int:
    from nqpf_helpers.indices import productivity_index

    if args.bootstrap:
        raise pl.InputError("--bootstrap gives intervals for SBM levels; run it without --index.")
    res = productivity_index(panel, unit=unit, time=time, inputs=_split(args.inputs), good=_split(args.good),
                             bad=_split(args.bad), index=args.index, rts=args.rts, **_backend(args))
    nio.write_csv_atomically(res, out)
    n_undefined = int((res["reason"] != "").sum())
    print(f"wrote {args.index} for {res[unit].nunique()} units x {res[time].nunique()} year pairs to {out}"
          + (f" ({n_undefined} undefined, see column 'reason')" if n_undefined else ""))
    return EXIT_OK


def _with_bootstrap(args: argparse.Namespace, panel, unit: str, time: str, scores):
    from nqpf_helpers.bootstrap import KAPPA, sbm_bootstrap

    boot = sbm_bootstrap(panel, unit=unit, time=time, inputs=_split(args.inputs), good=_split(args.good),
                         bad=_split(args.bad), rts=args.rts, frontier=args.frontier, n_boot=args.bootstrap,
                         kappa=args.kappa or KAPPA, **_backend(args))
    keep = boot[[unit, time, "rho_bc", "lower", "upper"]].rename(columns={"rho_bc": "gtfp_bc"})
    return scores.merge(keep, on=[unit, time], how="left")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _add_input(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument("panel", help="CSV, Excel (.xlsx) or Parquet file, one row per unit and year")
    g.add_argument("--sheet", help="Excel sheet name or 0-based position (default: the first sheet)")
    g.add_argument("--unit", help=f"unit column (default: the first of {', '.join(nio.UNIT_CANDIDATES)} found)")
    g.add_argument("--time", default="year", help="year column (default: year)")
    g.add_argument("--layout", choices=["long", "authors"], default="long",
                   help="'authors': the authors' Test_Data.xlsx columns ID, years, Variable (GTFP)")
    g.add_argument("--encoding", default=None,
                   help="text encoding of a CSV file, e.g. utf-8, utf-8-sig, gbk, gb18030 "
                        "(default: detected; UTF-8 with or without BOM, or GBK/GB18030 as Excel saves it in China)")


def _add_sbm(p: argparse.ArgumentParser, required: bool) -> None:
    g = p.add_argument_group("GTFP (SBM with undesirable outputs)")
    g.add_argument("--inputs", required=required, help="comma-separated input columns, e.g. labour,capital")
    g.add_argument("--good", required=required, help="comma-separated good-output columns, e.g. gdp")
    g.add_argument("--bad", default="", help="comma-separated bad-output columns, e.g. so2,nox,smoke")
    g.add_argument("--rts", choices=["vrs", "crs"], default="vrs", help="returns to scale (default: vrs)")
    g.add_argument("--frontier", choices=["global", "contemporaneous", "sequential", "window"], default="global",
                   help="which years span the frontier (default: global)")
    g.add_argument("--window", type=_positive_int, default=3, help="window width for --frontier window (default: 3)")


def _add_forecast(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("growth path (LSTM)")
    g.add_argument("--protocol", choices=PROTOCOL_NAMES, default="improved",
                   help="forecast protocol (default: improved; see the book's LSTM chapter)")
    g.add_argument("--seeds", type=_positive_int, default=20, help="number of seeds in the ensemble (default: 20)")
    g.add_argument("--train-until", type=int, default=None,
                   help="last training year (default: 2009; protocols that split by year only)")
    g.add_argument("--epochs", type=_positive_int, default=None,
                   help="training epochs (default: 300, as the authors); fewer only for quick trials")
    g.add_argument("--lags", type=_positive_int, default=None,
                   help="years in each LSTM input window (default: 5, as the authors)")
    g.add_argument("--engine", choices=["numba", "tensorflow"], default="numba",
                   help="LSTM training engine (default: numba, the fused CPU kernel; tensorflow: the XLA loop, "
                        "slower; both train the same networks to float32 rounding)")


def _add_output(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_argument_group("output")
    g.add_argument("-o", "--output", required=True, help=what)
    g.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    g.add_argument("--progress", action="store_true", help="always show progress bars (default: only at a terminal)")
    g.add_argument("--no-progress", action="store_true", help="never show progress bars")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nqpf`` command (all subcommands)."""
    parser = argparse.ArgumentParser(
        prog="nqpf", description=_DESCRIPTION, formatter_class=_Formatter, epilog=_EXIT_CODES
    )
    parser.add_argument("--debug", action="store_true", help="show the Python traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str, examples: str):
        p = sub.add_parser(name, help=help, description=help + "\n\nexamples:\n" + examples,
                           formatter_class=_Formatter, epilog=_EXIT_CODES)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the Python traceback on errors")
        return p

    gtfp = add(
        "gtfp", "green TFP of every unit-year: SBM efficiency with undesirable outputs",
        "  nqpf gtfp panel.csv --inputs labour,capital --good gdp --bad so2,nox,smoke -o gtfp.csv\n"
        "  nqpf gtfp panel.parquet --unit iso3 --inputs emp,rnna --good rgdpna --rts crs -o gtfp.csv\n"
        "  nqpf gtfp panel.csv --inputs labour,capital --good gdp --bad so2 --index gml -o gml.csv\n"
        "  nqpf gtfp panel.csv --inputs labour,capital --good gdp --bad so2 --bootstrap 200 --jobs 2 -o gtfp.csv\n"
        "  nqpf gtfp panel.csv ... --index ml --backend dask --scheduler tcp://10.0.0.5:8786 -o ml.csv",
    )
    _add_input(gtfp)
    _add_sbm(gtfp, required=True)
    _add_indices(gtfp)
    _add_output(gtfp, "output CSV (unit, year, gtfp, efficient, inefficiency by source)")
    gtfp.set_defaults(func=_cmd_gtfp)

    fc = add(
        "forecast", "LSTM growth path per unit and NQPF = actual / predicted GTFP",
        "  nqpf forecast gtfp.csv --protocol improved --seeds 20 --train-until 2009 -o nqpf.csv\n"
        "  nqpf forecast Test_Data.xlsx --layout authors -o nqpf.csv",
    )
    _add_input(fc)
    fc.add_argument("--value", default="gtfp", help="GTFP column (default: gtfp)")
    _add_forecast(fc)
    _add_output(fc, "output CSV (unit, year, split, actual, predicted, nqpf, ...)")
    fc.set_defaults(func=_cmd_forecast)

    run = add(
        "run", "GTFP, growth paths and NQPF in one go; writes a results folder with an HTML report",
        "  nqpf run panel.csv --inputs labour,capital --good gdp --bad so2,nox,smoke -o results/\n"
        "  nqpf run Test_Data.xlsx --layout authors -o results/   (GTFP given: the SBM step is skipped)\n"
        "The folder holds results.csv, settings.json (options, package version, input sha256, command line),\n"
        "report.html and, for 6-digit Chinese codes or ISO3 country codes, map.html.",
    )
    _add_input(run)
    _add_sbm(run, required=False)
    run.add_argument("--gtfp", help="use this existing GTFP column and skip the SBM step")
    _add_forecast(run)
    _add_output(run, "output folder (created; must not exist unless --overwrite)")
    run.add_argument("--no-map", dest="map", action="store_false", help="do not draw a map")
    run.add_argument("--lang", choices=list(LANGS), default="en",
                     help="language of the report's headings, table headers and figure labels: en or zh "
                          "(numbers and files are the same)")
    run.set_defaults(func=_cmd_run)

    fetch = add("fetch", "find or download every registered data file and verify its checksum", "  nqpf fetch")
    fetch.set_defaults(func=_cmd_fetch)
    export = add("export", "write one of the book's tidy tables as CSV",
                 "  nqpf export world-panel out.csv\n  nqpf export published --level county out.csv")
    export.add_argument("table", choices=sorted(_EXPORTS))
    export.add_argument("out", help="output CSV path")
    export.add_argument("--level", default="province", choices=["province", "city", "county"])
    export.add_argument("--start", type=int, default=1990)
    export.add_argument("--end", type=int, default=2017)
    export.add_argument("--overwrite", action="store_true", help="replace the output CSV if it exists")
    export.set_defaults(func=_cmd_export)
    return parser


_CLI_HINTS = {
    "missing required column": " With nqpf you can instead point --unit, --time, --inputs, --good and --bad "
    "at your file's own column names.",
    "pd.to_numeric": " In a spreadsheet: make those cells plain numbers (no units, notes or thousands separators).",
}


def _for_the_command_line(message: str) -> str:
    # The validator's fixes are written for Python users; add the command-line way where it differs.
    return message + "".join(hint for key, hint in _CLI_HINTS.items() if key in message)


def _error(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
    print(f"nqpf: error: {message}", file=sys.stderr)


def crash_report_dir() -> Path:
    """Folder where the ``nqpf`` command saves the traceback of an unexpected exception.

    ``<cache>/crash-reports``, where ``<cache>`` is ``NQPF_CACHE_DIR`` or the user cache
    folder of nqpf-book (see :func:`nqpf_helpers.cache.cache_dir`); the system's temporary
    folder if that cannot be created.
    """
    from .cache import cache_dir

    folder = cache_dir() / "crash-reports"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK | os.X_OK):
            return folder
    except OSError:
        pass
    return Path(tempfile.gettempdir())


def _save_traceback(argv: list[str]) -> Path | None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = (
        f"nqpf_helpers {__version__}, Python {sys.version.split()[0]} on {sys.platform}\n"
        f"command: nqpf {shlex.join(argv)}\n\n{traceback.format_exc()}"
    )
    try:
        fd, name = tempfile.mkstemp(prefix=f"nqpf-crash-{stamp}-", suffix=".txt", dir=crash_report_dir())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return Path(name)
    except OSError:
        return None


def _bug(err: BaseException, argv: list[str], debug: bool) -> int:
    saved = _save_traceback(argv)
    where = f"The full traceback is in {saved}." if saved else "The traceback could not be saved; rerun with --debug."
    _error(
        f"unexpected {type(err).__name__}: {err}. This is a bug in nqpf_helpers, not a problem with your input; "
        f"please report it, with the command line and the traceback. {where}",
        debug,
    )
    return EXIT_BUG


def main(argv: list[str] | None = None) -> int:
    """Run the ``nqpf`` command line and return its exit code (see ``nqpf --help``).

    Problems the package reports on purpose (:class:`~nqpf_helpers.errors.NQPFError`) and
    operating-system errors reading or writing files are printed as one paragraph with exit
    code 1 (input) or 3 (output).  Any other exception is a bug: exit code 70
    (``EXIT_BUG``), with the traceback saved to a file in :func:`crash_report_dir`.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and its message
        return int(exc.code or 0)
    debug = bool(getattr(args, "debug", False))

    try:
        return args.func(args, argv)
    except KeyboardInterrupt:
        _error("interrupted; no output was written.", debug)
        return EXIT_INTERRUPTED
    except OutputError as err:
        _error(str(err), debug)
        return EXIT_OUTPUT
    except UnknownRegionError as err:
        _error(f"unknown region code for the map: {err} Or pass --no-map to skip the map.", debug)
        return EXIT_INPUT
    except NQPFError as err:  # input, data and solver problems, each named with its fix
        _error(_for_the_command_line(str(err)), debug)
        return EXIT_INPUT
    except (PermissionError, IsADirectoryError, NotADirectoryError) as err:
        _error(f"cannot write or read {err.filename!r}: {err.strerror}. Choose another location or fix its "
               "permissions.", debug)
        return EXIT_OUTPUT
    except FileNotFoundError as err:
        if err.filename is None:  # raised by code, not by the operating system for a path: a bug
            return _bug(err, argv, debug)
        _error(f"{err}. Check the path.", debug)
        return EXIT_INPUT
    except OSError as err:
        if err.errno is None:
            return _bug(err, argv, debug)
        _error(f"cannot write the output: {err.strerror or err}. Nothing was written; free some space or choose "
               "another location with -o.", debug)
        return EXIT_OUTPUT
    except Exception as err:  # anything else is a bug, never an input error
        return _bug(err, argv, debug)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
