"""Panel validation shared by every stage of the pipeline.

Every model in the book consumes a *panel*: one row per unit (a region or a
country) and period (a year).  Mistakes in such panels are common and silent
(a duplicated row, a missing year, a zero where a logarithm or a ratio is
taken), so each stage calls :func:`validate_panel` first.  Every problem is
reported through one exception type, :class:`~nqpf_helpers.errors.PanelError`, whose message names
the offending units and years and says how to fix them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import InputError, PanelError

# PanelError is documented in nqpf_helpers.errors
__all__ = ["find_unit_slips", "format_list", "require_columns", "validate_panel"]

_MAX_LISTED = 8


def format_list(items: Iterable[object], limit: int = _MAX_LISTED) -> str:
    """Join items for an error message, showing at most ``limit`` and the total beyond that."""
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items)} in all)"
    return shown


def require_columns(
    df: object,
    cols: Iterable[str | None],
    what: str,
    *,
    error: type[InputError] = PanelError,
    hint: str = "",
) -> pd.DataFrame:
    """Check that ``df`` is a DataFrame holding every column of ``cols``.

    The one column-presence check of the package: every module calls it, so
    the message reads the same everywhere.

    Parameters
    ----------
    df
        The object to check.
    cols
        Column names; ``None`` entries are skipped (optional columns).
    what
        What the table is called in the message (e.g. ``"predictions"``).
    error
        The :class:`~nqpf_helpers.errors.InputError` subclass to raise
        (default :class:`~nqpf_helpers.errors.PanelError`).
    hint
        Extra advice appended to the message.

    Returns
    -------
    pandas.DataFrame
        ``df`` itself, so that the call can be chained.

    Raises
    ------
    InputError
        (``error``) if ``df`` is not a DataFrame or lacks a column; the
        message lists the missing and the present columns.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a"], "table").columns.tolist()
    ['a']
    """
    if not isinstance(df, pd.DataFrame):
        raise error(f"{what}: expected a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in dict.fromkeys(c for c in cols if c is not None) if c not in df.columns]
    if missing:
        raise error(
            f"{what}: missing column(s) {missing}; found {list(df.columns)}. "
            f"Pass the right column names (unit=, time=, value=, ...) or add the columns.{(' ' + hint) if hint else ''}"
        )
    return df


def _cells(frame: pd.DataFrame, unit: str, time: str) -> str:
    return format_list(f"{u}/{t}" for u, t in zip(frame[unit], frame[time]))


def validate_panel(
    df: pd.DataFrame,
    *,
    unit: str,
    time: str,
    values: Sequence[str],
    positive: Sequence[str] | None = None,
    nonnegative: Sequence[str] | None = None,
    balanced: bool = True,
    consecutive: bool = True,
    name: str = "panel",
) -> pd.DataFrame:
    """Check a long-format panel and return it sorted by unit and time.

    Parameters
    ----------
    df
        Long-format data, one row per unit and period.
    unit, time
        Names of the unit identifier column and the (integer) period column.
    values
        Columns that must be present, numeric and free of missing values.
    positive
        Subset of ``values`` that must be strictly positive (e.g. columns that
        are logged or divided by).
    nonnegative
        Subset of ``values`` that must be >= 0 (e.g. emissions, where a zero
        is allowed but a negative number is an error).
    balanced
        Require every unit to be observed in exactly the same periods.
    consecutive
        Require each unit's periods to have no gaps.
    name
        What the panel is called in error messages.

    Returns
    -------
    pandas.DataFrame
        A copy of ``df`` sorted by ``(unit, time)`` with a fresh index.

    Raises
    ------
    PanelError
        On the first problem found, with a message naming the offending
        units/periods and the fix.
    """
    if not isinstance(df, pd.DataFrame):
        raise PanelError(f"{name}: expected a pandas DataFrame, got {type(df).__name__}.")
    positive = list(positive or [])
    nonnegative = list(nonnegative or [])
    required = [unit, time, *values]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise PanelError(
            f"{name}: missing required column(s) {missing}; found {list(df.columns)}. "
            f"Rename your columns to {required} (e.g. with DataFrame.rename)."
        )
    extra = [c for c in positive + nonnegative if c not in values]
    if extra:
        raise PanelError(f"{name}: columns {extra} are constrained but not listed in `values`.")
    if df.empty:
        raise PanelError(f"{name}: the panel has no rows. Check the filters applied before this step.")

    out = df.copy()
    if out[unit].isna().any() or out[time].isna().any():
        bad = out[out[unit].isna() | out[time].isna()]
        raise PanelError(
            f"{name}: {len(bad)} row(s) have no unit or no {time} (rows {format_list(bad.index)}). "
            "Drop or fill these rows before modelling."
        )
    if not pd.api.types.is_numeric_dtype(out[time]) or not np.all(
        np.equal(np.mod(out[time].to_numpy(dtype=float), 1), 0)
    ):
        raise PanelError(
            f"{name}: column {time!r} must hold whole numbers (years); got dtype {out[time].dtype}. "
            f"Convert it with df[{time!r}] = df[{time!r}].astype(str).str.extract(r'(\\d{{4}})', "
            "expand=False).astype(int), which also reads years written as '2005年'."
        )
    out[time] = out[time].astype(int)

    dup = out[out.duplicated([unit, time], keep=False)]
    if not dup.empty:
        raise PanelError(
            f"{name}: duplicated {unit}/{time} pairs: {_cells(dup.drop_duplicates([unit, time]), unit, time)}. "
            "Each unit may appear once per period; aggregate or drop the duplicates."
        )

    for col in values:
        if not pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col]):
            coerced = pd.to_numeric(out[col], errors="coerce")
            bad = out[coerced.isna() & out[col].notna()]
            raise PanelError(
                f"{name}: column {col!r} is not numeric (dtype {out[col].dtype}); "
                f"non-numeric entries at {_cells(bad, unit, time) or 'unknown rows'}. "
                f"Convert with pd.to_numeric(df[{col!r}]) after fixing those cells."
            )
        na = out[out[col].isna()]
        if not na.empty:
            raise PanelError(
                f"{name}: column {col!r} has {len(na)} missing value(s) at {_cells(na, unit, time)}. "
                "Fill them from the source, or drop those units with a documented reason."
            )
        inf = out[~np.isfinite(out[col].to_numpy(dtype=float))]
        if not inf.empty:
            raise PanelError(
                f"{name}: column {col!r} has infinite value(s) at {_cells(inf, unit, time)}. "
                "Check for divisions by zero upstream."
            )
    for col in positive:
        bad = out[out[col] <= 0]
        if not bad.empty:
            raise PanelError(
                f"{name}: column {col!r} must be strictly positive but has {len(bad)} value(s) <= 0 at "
                f"{_cells(bad, unit, time)}. The model divides by or takes logs of {col!r}: "
                "correct the data or drop those units."
            )
    for col in nonnegative:
        bad = out[out[col] < 0]
        if not bad.empty:
            raise PanelError(
                f"{name}: column {col!r} must be >= 0 but has {len(bad)} negative value(s) at "
                f"{_cells(bad, unit, time)}. Negative quantities are not meaningful here: correct the data."
            )

    periods = out.groupby(unit, sort=True)[time].apply(lambda s: tuple(sorted(s)))
    if consecutive:
        gaps = {
            u: sorted(set(range(p[0], p[-1] + 1)) - set(p)) for u, p in periods.items() if p[-1] - p[0] + 1 != len(p)
        }
        if gaps:
            listed = format_list(f"{u} (missing {g[:5]}{'...' if len(g) > 5 else ''})" for u, g in gaps.items())
            raise PanelError(
                f"{name}: gaps in {time} for {len(gaps)} unit(s): {listed}. "
                "Fill the missing years from the source, or drop those units."
            )
    if balanced:
        all_periods = sorted(set(out[time]))
        incomplete = {u: sorted(set(all_periods) - set(p)) for u, p in periods.items() if len(p) != len(all_periods)}
        if incomplete:
            listed = format_list(
                f"{u} (missing {m[:5]}{'...' if len(m) > 5 else ''})" for u, m in incomplete.items()
            )
            raise PanelError(
                f"{name}: unbalanced panel, {len(incomplete)} of {len(periods)} units are not observed in all "
                f"{len(all_periods)} periods {all_periods[0]}-{all_periods[-1]}: {listed}. "
                "Restrict to a common period or drop those units (nqpf_helpers.data.balance_panel does this "
                "and reports what it dropped)."
            )
    return out.sort_values([unit, time]).reset_index(drop=True)


# --------------------------------------------------------------------------- unit slips
# Powers of ten that a slip between common units produces, and how to say it.
_SLIPS = {
    8: "entered in yuan (元) where the column is in 1e8 yuan (亿元)?",
    4: "entered in yuan (元) where the column is in 10k yuan (万元), or in 10k (万) where it is in 1e8 (亿)?",
    3: "entered in units where the column is in thousands (e.g. t instead of kt)?",
    6: "entered in units where the column is in millions?",
    9: "entered in units where the column is in billions?",
}


def _likely_slip(log_ratio: float) -> str:
    if abs(log_ratio) >= 12:
        return "not a plausible value: a typo, or a code for a missing value?"
    power = int(round(log_ratio))
    if abs(log_ratio - power) <= 0.35 and abs(power) in _SLIPS:
        text = _SLIPS[abs(power)]
        if power < 0:  # too small: the other way round
            text = "the reverse slip: " + text
        return text
    return "a typo, or a value in other units?"


def find_unit_slips(
    panel: pd.DataFrame,
    *,
    unit: str,
    time: str,
    columns: Sequence[str],
    factor: float = 1e3,
) -> pd.DataFrame:
    """Cells that look like unit slips: far from both their unit's other values and their column.

    A GDP typed in yuan instead of 1e8 yuan is 1e8 times too large; under VRS
    it drags every other unit's efficiency towards 0 without any error.  A
    cell is flagged when its value is at least ``factor`` times larger (or
    smaller) than **both** the median of the same unit's other years and the
    median of the whole column, compared on a log10 scale; requiring both
    keeps large or small units (whose every value is far from the column
    median) and genuine booms (close to the column) from being flagged.
    Non-positive and missing values are skipped (the validator reports them).

    Parameters
    ----------
    panel
        Long panel.
    unit, time
        Column names.
    columns
        Value columns to check.
    factor
        Ratio from which a value counts as a slip (default 1e3: three orders
        of magnitude).

    Returns
    -------
    pandas.DataFrame
        One row per flagged cell: ``unit``, ``time``, ``column``, ``value``,
        ``unit_median`` (the unit's other years), ``column_median``,
        ``ratio`` (value / geometric mean of the neighbouring years, the
        size of the slip) and ``message`` naming the cell and the likely
        slip (e.g. yuan entered where the column is in 1e8 yuan, a ratio near
        1e8).  Empty when nothing is flagged.
    """
    if not factor > 1:
        raise InputError(f"factor must be > 1, got {factor!r}.")
    threshold = float(np.log10(factor))
    rows = []
    for col in columns:
        values = pd.to_numeric(panel[col], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where((values > 0) & np.isfinite(values), np.log10(values), np.nan)
        if np.isnan(logs).all():
            continue
        col_median = float(np.nanmedian(logs))
        frame = pd.DataFrame({"u": panel[unit].to_numpy(), "t": panel[time].to_numpy(), "x": logs, "v": values})
        for u, g in frame.groupby("u", sort=False):
            g = g.sort_values("t", kind="stable")
            x = g["x"].to_numpy()
            for i in np.flatnonzero(np.isfinite(x)):
                others = np.delete(x, i)
                others = others[np.isfinite(others)]
                d_col = x[i] - col_median
                if abs(d_col) < threshold:
                    continue
                if others.size:
                    d_unit = x[i] - float(np.median(others))
                    if abs(d_unit) < threshold or np.sign(d_unit) != np.sign(d_col):
                        continue
                    unit_median = float(10 ** np.median(others))
                else:
                    d_unit, unit_median = d_col, float("nan")
                # The slip's size is read against the neighbouring years (growth over a long panel
                # moves the unit's median away from any one year); the median decides whether to flag.
                near = [x[j] for j in (i - 1, i + 1) if 0 <= j < len(x) and np.isfinite(x[j])]
                d_near = x[i] - float(np.mean(near)) if near else d_unit
                value = float(g["v"].iloc[i])
                year = g["t"].iloc[i]
                year = year.item() if isinstance(year, np.generic) else year
                message = (
                    f"{col!r} of {u!r} in {year}: {value:.4g} is {10 ** abs(d_unit):.1e} times "
                    f"{'larger' if d_unit > 0 else 'smaller'} than the unit's other years (median "
                    f"{unit_median:.4g}) and {10 ** abs(d_col):.1e} times the column's median "
                    f"({10 ** col_median:.4g}), about {10 ** abs(d_near):.1e} times its neighbouring years; "
                    f"{_likely_slip(d_near)} Check this cell: one such value "
                    "moves every unit's efficiency score."
                )
                rows.append({"unit": u, "time": year, "column": col, "value": value, "unit_median": unit_median,
                             "column_median": float(10 ** col_median), "ratio": float(10 ** d_near),
                             "message": message})
    return pd.DataFrame(rows, columns=["unit", "time", "column", "value", "unit_median", "column_median",
                                       "ratio", "message"])
