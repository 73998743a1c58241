"""Reading a user's panel and writing results: files in, files out, nothing computed.

* :func:`read_panel` reads CSV, Excel or Parquet (including the authors'
  ``ID`` / ``years`` / ``Variable`` workbook) into a long panel;
  :func:`read_panel_file` also returns what it found out (a :class:`PanelFile`:
  the unit and time columns, the encoding).  CSV text is
  decoded as UTF-8 (with or without a byte-order mark) or, as Excel on a
  Chinese Windows machine saves it, GBK/GB18030 (:func:`detect_encoding`);
  years written as ``2005年`` are read as 2005.
* :func:`check_output_path` checks before any computing that an output can be
  created; :func:`write_csv_atomically` and :func:`write_json_atomically`
  write through a temporary file renamed into place.

Every problem with an input file is raised as :class:`~nqpf_helpers.errors.InputError`, every
problem with an output location as :class:`~nqpf_helpers.errors.OutputError`, with a message that
names the problem and the fix.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nqpf_helpers._files import replace_atomically
from nqpf_helpers.errors import InputError, OutputError
from nqpf_helpers.regions import unit_labels

__all__ = [
    "AUTHORS_COLUMNS",
    "UNIT_CANDIDATES",
    "check_output_path",
    "csv_encoding",
    "detect_encoding",
    "PanelFile",
    "read_panel",
    "read_panel_file",
    "settings_json",
    "write_csv",
    "write_csv_atomically",
    "write_json_atomically",
]

AUTHORS_COLUMNS = {"ID": "region_code", "years": "year", "Variable": "gtfp"}
"""Column names of the authors' ``Test_Data.xlsx`` and the names they are given."""

UNIT_CANDIDATES = ("region_code", "iso3", "unit", "ID", "code", "region", "country", "province", "地区", "省份")
"""Columns tried, in order, when no unit column is named."""

_READERS = {".csv": "csv", ".txt": "csv", ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
            ".parquet": "parquet", ".pq": "parquet"}
# The GB family: GB2312 < GBK < GB18030, so a file in any of them decodes as GB18030.
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936", "euc_cn", "hz_gb_2312"}
_YEAR_RE = re.compile(r"^\s*(\d{3,4})\s*(?:年|年度)?\s*$")
_DETECT_BYTES = 1 << 20


# --------------------------------------------------------------------------- encodings
def detect_encoding(data: bytes | str | os.PathLike[str]) -> str:
    """The text encoding of a CSV file, by a fixed rule.

    1. A UTF-8 byte-order mark gives ``"utf-8-sig"``; a UTF-16 one ``"utf-16"``.
    2. Bytes that decode as UTF-8 give ``"utf-8"`` (plain ASCII included).
    3. Bytes that decode as GB18030 with at least 90% of their non-ASCII
       characters among the common characters of GB2312 give ``"gb18030"``,
       which decodes GB2312, GBK (what Excel on a Chinese Windows machine
       writes) and GB18030 alike.
    4. Otherwise ``charset-normalizer`` judges the bytes; any GB family
       judgement is again reported as ``"gb18030"``, others (e.g.
       ``"cp1252"``) as they are.

    The encoding used is recorded (:attr:`PanelFile.encoding` of
    :func:`read_panel_file`, ``input_encoding`` in ``settings.json``) and printed
    by the command line, and ``--encoding`` overrides the rule.

    Parameters
    ----------
    data
        The file's bytes, or its path (the first MiB is read).

    Returns
    -------
    str
        A Python codec name.

    Raises
    ------
    InputError
        No encoding fits (binary data, or a damaged file).
    """
    if isinstance(data, (bytes, bytearray)):
        raw, what = bytes(data), "the data"
    else:
        with open(data, "rb") as fh:
            raw = fh.read(_DETECT_BYTES)
        what = repr(Path(data).name)
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as err:
        # a truncated read may cut a multi-byte character at the very end
        if len(raw) == _DETECT_BYTES and err.start >= len(raw) - 3:
            return "utf-8"
    if _looks_chinese_gb(raw):
        return "gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise InputError(
            f"cannot tell the text encoding of {what}: it is neither UTF-8 nor GBK/GB18030 and looks like "
            "binary data. Save it as CSV (UTF-8) from your spreadsheet program, or name the encoding with "
            "--encoding (encoding= in Python)."
        )
    enc = codecs.lookup(best.encoding).name.replace("-", "_")
    if enc in _GB_FAMILY:
        return "gb18030"
    return codecs.lookup(best.encoding).name


def _looks_chinese_gb(raw: bytes) -> bool:
    # GBK text decodes as GB18030, and its characters are nearly all in the 6,763 common ones
    # of GB2312 (two bytes >= 0xA1).  Text in a Western code page that happens to decode as
    # GB18030 pairs an accented letter with an ASCII byte, which gives rare GBK-only characters.
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError as err:
        if not (len(raw) == _DETECT_BYTES and err.start >= len(raw) - 3):
            return False
        text = raw[: err.start].decode("gb18030")
    wide = [ch for ch in text if ord(ch) > 127]
    if not wide:
        return False
    common = 0
    for ch in wide:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common >= 0.9 * len(wide)


def _check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as err:
        raise InputError(
            f"unknown encoding {encoding!r}. Use a Python codec name such as utf-8, utf-8-sig, gbk or gb18030."
        ) from err


# --------------------------------------------------------------------------- reading
def _clean_years(s: pd.Series) -> pd.Series:
    # "2005年", " 2005 " and "2005年度" are years as Chinese spreadsheets write them; anything
    # else is left alone for the validator to report with the cells it cannot read.
    if pd.api.types.is_numeric_dtype(s) or s.isna().any():
        return s
    text = s.astype(str)
    found = text.str.extract(_YEAR_RE, expand=False)
    if found.isna().any():
        return s
    return found.astype(np.int64).rename(s.name)


@dataclass(frozen=True, eq=False)
class PanelFile:
    """A panel read from a file by :func:`read_panel_file`, with what the reading found out.

    Attributes
    ----------
    data
        The panel (as :func:`read_panel` returns it).
    unit, time
        The unit and year columns: as named, or the unit column found among
        :data:`UNIT_CANDIDATES`, or ``region_code`` / ``year`` for the
        authors' layout.
    source
        The file read.
    encoding
        The text encoding a CSV file was decoded with (given or detected by
        :func:`detect_encoding`); ``None`` for Excel and Parquet.
    """

    data: pd.DataFrame
    unit: str
    time: str
    source: Path
    encoding: str | None


def read_panel(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    unit: str | None = None,
    time: str = "year",
    layout: str = "long",
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read a long-format panel from a CSV, Excel or Parquet file.

    The same as ``read_panel_file(...).data``; see :func:`read_panel_file`
    for the parameters, the columns found and the encoding used.

    Examples
    --------
    >>> df = read_panel("panel.csv", unit="region_code", time="year")  # doctest: +SKIP
    """
    return read_panel_file(path, sheet=sheet, unit=unit, time=time, layout=layout, encoding=encoding).data


def read_panel_file(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    unit: str | None = None,
    time: str = "year",
    layout: str = "long",
    encoding: str | None = None,
) -> PanelFile:
    """Read a long-format panel from a CSV, Excel or Parquet file, with its unit, time and encoding.

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
        Year column.  Years written with the Chinese suffix (``2005年``) are
        read as whole numbers.
    layout
        ``"long"``: one row per unit and year, named columns.
        ``"authors"``: the authors' ``Test_Data.xlsx`` layout, columns
        ``ID``, ``years`` and ``Variable`` (GTFP), renamed to
        ``region_code``, ``year`` and ``gtfp`` (``unit`` and ``time`` are
        then ignored).
    encoding
        Text encoding of a CSV file (``None``: :func:`detect_encoding`).
        Ignored for Excel and Parquet.

    Returns
    -------
    PanelFile
        ``data`` is the table with the unit column as strings (whole-number
        codes as digit strings, so ``110000.0`` becomes ``"110000"``) and
        years as integers where they read as years; ``unit``, ``time``,
        ``source`` and ``encoding`` (``None`` for Excel and Parquet) say what
        was read.  Values are not validated here; see
        :func:`nqpf_helpers.pipeline.check_run_panel`.

    Raises
    ------
    InputError
        Missing, empty or unreadable file, unknown extension or encoding,
        unknown sheet, missing columns of the chosen layout, or no unit column
        found.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(
            f"input file {str(p)!r} does not exist. Check the path (relative paths start in {os.getcwd()})."
        )
    if p.is_dir():
        raise InputError(f"input {str(p)!r} is a folder, not a file. Give the path of a CSV, Excel or Parquet file.")
    kind = _READERS.get(p.suffix.lower())
    if kind is None:
        raise InputError(
            f"cannot read {p.name!r}: unknown file type {p.suffix or '(none)'!r}. "
            f"Save the panel as one of {', '.join(sorted(_READERS))}."
        )
    if p.stat().st_size == 0:
        raise InputError(
            f"input file {str(p)!r} is empty (0 bytes). Export the panel again; it needs a header row and data rows."
        )
    used_encoding: str | None = None
    try:
        if kind == "csv":
            used_encoding = _check_encoding(encoding) if encoding else detect_encoding(p)
            df = pd.read_csv(p, encoding=used_encoding)
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
    except UnicodeDecodeError as err:
        raise InputError(
            f"cannot read {p.name!r} as text in {used_encoding}: {err}. Name the file's encoding with --encoding "
            "(encoding= in Python), e.g. gb18030 for files saved by Excel on a Chinese Windows machine, or "
            "utf-8-sig; or save the file again as 'CSV UTF-8'."
        ) from err
    except pd.errors.EmptyDataError as err:
        raise InputError(f"input file {str(p)!r} has no columns ({err}). It needs a header row and data rows.") from err
    except (pd.errors.ParserError, ValueError, OSError, ImportError) as err:
        raise InputError(
            f"cannot read {p.name!r} as {kind}: {type(err).__name__}: {err}. "
            "Check that the file is not damaged and that its extension matches its content."
        ) from err
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
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
    df[unit] = unit_labels(df[unit])
    df[time] = _clean_years(df[time])
    df.attrs = {}
    return PanelFile(data=df, unit=unit, time=time, source=p, encoding=used_encoding)


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


def csv_encoding(df: pd.DataFrame) -> str:
    """The encoding results are written in: UTF-8, with a byte-order mark when the table has non-ASCII text.

    Excel reads a UTF-8 file without the mark in the machine's code page (GBK
    on a Chinese Windows machine) and garbles Chinese column names and unit
    names; with the mark it reads them correctly.  pandas and most tools skip
    the mark.  Pure-ASCII tables are written without it, byte for byte as
    before.
    """
    labels = [str(c) for c in df.columns]
    for col in df.columns:
        if df[col].dtype == object:
            labels.extend(str(v) for v in df[col].dropna().unique())
    return "utf-8" if all(label.isascii() for label in labels) else "utf-8-sig"


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``df`` as CSV without the index, in :func:`csv_encoding`."""
    df.to_csv(path, index=False, encoding=csv_encoding(df))


def write_csv_atomically(df: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write ``df`` as CSV (:func:`write_csv`) through a temporary file beside ``out``.

    The temporary file is renamed into place at the end.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replace_atomically(out) as tmp:
        write_csv(df, tmp)
    return out


def settings_json(settings: dict[str, Any]) -> str:
    """The settings as the text of ``settings.json``: indented JSON, non-ASCII text kept readable."""
    return json.dumps(settings, indent=2, default=str, ensure_ascii=False) + "\n"


def write_json_atomically(settings: dict[str, Any], out: str | os.PathLike[str]) -> Path:
    """Write :func:`settings_json` of ``settings`` to ``out`` (UTF-8) through a temporary file."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with replace_atomically(out) as tmp:
        Path(tmp).write_text(settings_json(settings), encoding="utf-8")
    return out
