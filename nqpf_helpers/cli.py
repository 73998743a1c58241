"""The ``nqpf`` command: fetch and check data, export tidy tables.

Examples
--------
``nqpf fetch``                      fetch (or find) and verify every registered file
``nqpf export world-panel out.csv`` write the balanced PWT + CEDS panel
``nqpf export published --level county out.csv``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from . import data

_EXPORTS = {
    "world-panel": lambda args: data.load_world_panel(args.start, args.end),
    "gtfp-series": lambda args: data.load_gtfp_series(),
    "published": lambda args: data.load_published_nqpf(args.level),
}


def _write_atomically(df, out: Path) -> None:
    # Write beside the target and rename, so a failure never leaves half a file behind.
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _cmd_fetch(args: argparse.Namespace) -> int:
    failures = 0
    for name in data.registry():
        try:
            path = data.fetch(name)
            print(f"ok       {name}  ->  {path}")
        except (data.DataUnavailableError, data.DataIntegrityError) as err:
            failures += 1
            print(f"missing  {name}: {err}", file=sys.stderr)
    return 1 if failures else 0


def _cmd_export(args: argparse.Namespace) -> int:
    try:
        table = _EXPORTS[args.table](args)
    except (data.DataUnavailableError, data.DataIntegrityError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    _write_atomically(table, Path(args.out))
    print(f"wrote {len(table)} rows to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nqpf", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="find or download every registered data file and verify its checksum")
    fetch.set_defaults(func=_cmd_fetch)
    export = sub.add_parser("export", help="write a tidy table as CSV")
    export.add_argument("table", choices=sorted(_EXPORTS))
    export.add_argument("out", help="output CSV path")
    export.add_argument("--level", default="province", choices=["province", "city", "county"])
    export.add_argument("--start", type=int, default=1990)
    export.add_argument("--end", type=int, default=2017)
    export.set_defaults(func=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``nqpf`` command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
