"""The results folder of ``nqpf run``: CSV, settings, an HTML report and a map.

:func:`write_report` writes, atomically, ``results.csv``, ``settings.json``,
``report.html`` (standalone: the trend figure of
:func:`nqpf_helpers.plots.trend_figure` is embedded) and, where the units can
be mapped, ``map.html``.  The report is rendered from the jinja2 template
``templates/report.html.j2`` shipped with the package, with HTML autoescaping,
so unit names and column names from a user's file cannot break the page.  Its
words come from :data:`nqpf_helpers.i18n.TEXT` (``lang="en"`` or ``"zh"``);
numbers and the folder's layout do not depend on the language.

Units can be mapped when they are 6-digit Chinese administrative codes of one
level, Chinese province or city names (matched to codes by
:func:`nqpf_helpers.regions.codes_from_names`) or ISO3 country codes;
:func:`check_map_units` says which, before any computing.
"""

from __future__ import annotations

import base64
import io as _io
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nqpf_helpers._files import give_default_permissions
from nqpf_helpers.fonts import cjk_font_subset
from nqpf_helpers.i18n import text
from nqpf_helpers.io import check_output_path, settings_json, write_csv
from nqpf_helpers.validate import format_list

if TYPE_CHECKING:
    from nqpf_helpers.pipeline import PipelineResult

__all__ = ["MapUnits", "check_map_units", "render_report", "unit_kind", "write_report"]

_ISO3_RE = re.compile(r"^[A-Z]{3}$")
_CHINA_RE = re.compile(r"^\d{6}$")


# --------------------------------------------------------------------------- which map
@dataclass(frozen=True)
class MapUnits:
    """What map the units allow.

    Attributes
    ----------
    kind
        ``"china"``, ``"iso3"`` or ``"other"`` (no map).
    level
        Administrative level for ``"china"`` (``"province"``, ``"city"`` or
        ``"county"``), else ``None``.
    codes
        For units given as Chinese names: name -> 6-digit code; ``None``
        when the units are codes themselves (or not Chinese).
    """

    kind: str
    level: str | None = None
    codes: dict[object, str] | None = None


def unit_kind(units: Sequence[object]) -> str:
    """What the unit labels look like, to decide which map to draw.

    Returns
    -------
    str
        ``"china"`` when most labels are 6-digit numbers (Chinese
        administrative codes; :func:`check_map_units` then insists that all
        are valid), ``"iso3"`` when all are three capital letters, else
        ``"other"`` (names are looked at by :func:`check_map_units`).
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


def check_map_units(units: Sequence[object]) -> MapUnits:
    """Check that units meant as Chinese regions can be mapped, before any computing.

    Parameters
    ----------
    units
        Unit labels: codes, ISO3 codes or names.

    Returns
    -------
    MapUnits
        The kind of map, the administrative level and, for names, their codes.

    Raises
    ------
    nqpf_helpers.errors.UnknownRegionError
        Some labels are not 6-digit codes of the 31 mainland provinces; the
        codes mix administrative levels; or most labels are Chinese region
        names but some match no unit or several (the message lists them with
        their closest matches).
    """
    from nqpf_helpers import regions

    distinct = list(dict.fromkeys(units))
    kind = unit_kind(distinct)
    if kind == "iso3":
        return MapUnits("iso3")
    if kind == "other":
        level, found, problems = regions.match_region_names(distinct)
        if level is None or 2 * len(found) < len(distinct):
            return MapUnits("other")
        # mostly names: every one must match, and nothing is guessed
        codes = regions.codes_from_names(distinct, level=level) if problems else found
        return MapUnits("china", level, dict(codes))
    with warnings.catch_warnings():
        # abolished but well-formed codes are simply not drawn; the map lists them
        warnings.simplefilter("ignore", regions.UnmappedRegionWarning)
        codes = regions.check_codes(distinct)
    levels = sorted({regions.region_level(c) for c in codes})
    if len(levels) != 1:
        raise regions.UnknownRegionError(
            f"the units mix administrative levels ({', '.join(levels)}), and a map shows one level. "
            "Run one level at a time."
        )
    return MapUnits("china", levels[0])


# --------------------------------------------------------------------------- pieces
def _trend_png(result: PipelineResult, lang: str) -> bytes:
    from nqpf_helpers.plots import trend_figure

    fig = trend_figure(result, lang=lang)
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _map_html(result: PipelineResult, folder: Path, lang: str) -> tuple[str | None, str]:
    """Write ``map.html`` (with its assets) into ``folder`` when the units can be mapped."""
    t = text(lang)
    units = check_map_units(list(result.results[result.unit].unique()))
    if units.kind == "other":
        return None, t["no_map_units"]
    test = result.nqpf[result.nqpf["split"] == "test"]
    last = int(test[result.time].max())
    frame = test[test[result.time] == last][[result.unit, result.time, "nqpf"]]
    code_col = result.unit
    if units.codes is not None:
        code_col = "region_code"
        frame = frame.assign(region_code=frame[result.unit].map(units.codes))
    try:
        from nqpf_helpers import maps
    except ImportError:
        return None, t["no_map_module"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if units.kind == "china":
            m = maps.china_choropleth(frame, value="nqpf", unit=code_col, time=result.time, level=units.level)
        else:
            m = maps.world_choropleth(frame, value="nqpf", unit=result.unit, time=result.time)
    maps.save_map(m, folder / "map.html", bundle_assets=True)
    note = t["map_note"].format(year=last, what=t["map_china"] if units.kind == "china" else t["map_world"])
    if units.codes is not None:
        note += " " + t["map_names"]
    if len(m.unmatched):
        note += " " + t["map_unmatched"].format(units=format_list(m.unmatched.iloc[:, 0]))
    return "map.html", note


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _model_rows(s: dict[str, Any], t: dict[str, str]) -> list[tuple[str, str]]:
    def cols(key: str) -> str:
        return ", ".join(s.get(key) or []) or t["none"]

    rows: list[tuple[str, str]] = []
    if s.get("rts") is not None:  # SBM run here
        frontier = s.get("frontier") or "global"
        rows += [
            (t["inputs"], cols("inputs")),
            (t["good"], cols("good")),
            (t["bad"], cols("bad")),
            (t["rts"], t.get(f"rts_{s['rts']}", str(s["rts"]))),
            (t["frontier"], t.get(f"frontier_{frontier}", frontier).format(window=s.get("window"))),
        ]
    else:
        rows.append((t["gtfp_source"], str(s.get("gtfp_source"))))
    rows += [(t["protocol"], str(s.get("protocol"))), (t["seeds"], str(len(s.get("seeds") or [])))]
    if s.get("train_until") is not None:
        rows.append((t["train_until"], str(s["train_until"])))
    if s.get("input_encoding"):
        rows.append((t["encoding"], str(s["input_encoding"])))
    return rows


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("nqpf_helpers", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_report(
    result: PipelineResult,
    *,
    figure_png: bytes,
    map_file: str | None,
    map_note: str,
    lang: str = "en",
    settings: dict[str, Any] | None = None,
    embed_font: bool = True,
) -> str:
    """The HTML text of ``report.html``.

    Parameters
    ----------
    result
        From :func:`nqpf_helpers.pipeline.run_pipeline`.
    figure_png
        The trend figure as PNG bytes (embedded).
    map_file, map_note
        Relative link of the map (or ``None``) and the sentence about it.
    lang
        ``"en"`` or ``"zh"`` (:data:`nqpf_helpers.i18n.LANGS`).
    settings
        Settings to list (default ``result.settings``).
    embed_font
        Embed the glyphs of the page's non-ASCII characters, cut from the
        packaged Noto Sans CJK SC (:func:`nqpf_helpers.fonts.cjk_font_subset`),
        first in the page's font list (it holds no ASCII glyphs, so Latin text
        keeps the reader's sans-serif).  Browsers do not reliably fall back to a
        web font listed after system fonts, hence first.

    Returns
    -------
    str
        A standalone HTML page; every value from the data is escaped.
    """
    t = dict(text(lang))
    s = dict(result.settings if settings is None else settings)
    years = s.get("years") or ["?", "?"]
    source = t["source_sbm"] if s.get("rts") is not None else t["source_given"].format(
        column=str(s.get("gtfp_source", "")).removeprefix("given column ")
    )
    intro = t["intro"].format(source=source, protocol=s.get("protocol"), n_units=s.get("n_units"),
                              first=years[0], last=years[1])
    before, rest = t["files"].split("{results}", 1)
    middle, after = rest.split("{settings}", 1)

    u, time = result.unit, result.time
    test = result.nqpf[result.nqpf["split"] == "test"]
    last = int(test[time].max()) if not test.empty else None
    summary = (
        test.groupby(u)
        .agg(mean_nqpf=("nqpf", "mean"), last_nqpf=("nqpf", "last"), mean_gtfp=("actual", "mean"))
        .sort_values("mean_nqpf", ascending=False)
        .reset_index()
    )
    header = [u]
    label_columns = 1
    if "region_code" in result.results.columns and u != "region_code":
        codes = result.results.drop_duplicates(u).set_index(u)["region_code"]
        summary.insert(1, "region_code", summary[u].map(codes))
        header.append(t["region_code"])
        label_columns = 2
    header += [t["mean_nqpf"], t["last_nqpf"], t["mean_gtfp"]]
    rows = [
        [str(v) if i < label_columns else f"{v:.3f}" for i, v in enumerate(rec)]
        for rec in summary.itertuples(index=False)
    ]
    context = {
        "t": t,
        "intro": intro,
        "files_before": before,
        "files_middle": middle,
        "files_after": after,
        "model": _model_rows(s, t),
        "data_warnings": list(s.get("data_warnings") or []),
        "figure_png": base64.b64encode(figure_png).decode("ascii"),
        "map_file": map_file,
        "map_note": map_note,
        "units_heading": t["h_units_last"].format(year=last) if last else t["h_units"],
        "summary_header": header,
        "summary_rows": rows,
        "n_label_columns": label_columns,
        "settings": [(k, _show(v)) for k, v in s.items()],
    }
    template = _environment().get_template("report.html.j2")
    # Chinese text (the zh report, or Chinese unit and column names) comes with the glyphs it
    # needs, so that the page reads on a machine without a Chinese system font.
    glyphs = cjk_font_subset(template.render(**context, embedded_font=None)) if embed_font else None
    return template.render(**context, embedded_font=base64.b64encode(glyphs).decode("ascii") if glyphs else None)


# --------------------------------------------------------------------------- the folder
def write_report(
    result: PipelineResult,
    outdir: str | os.PathLike[str],
    *,
    map: bool = True,
    overwrite: bool = False,
    lang: str = "en",
) -> Path:
    """Write the results folder atomically.

    The folder holds ``results.csv`` (:attr:`nqpf_helpers.pipeline.PipelineResult.results`, UTF-8 with a
    byte-order mark when it holds Chinese text, so that Excel reads it),
    ``settings.json``, ``report.html`` (standalone: the figure is embedded)
    and, when the units are Chinese codes or names of one level or ISO3 codes
    and ``map`` is True, ``map.html`` with its JavaScript/CSS beside it.
    Everything is written into a temporary folder next to ``outdir`` and
    renamed into place at the end, so a failure or Ctrl-C leaves no partial
    folder.

    Parameters
    ----------
    result
        From :func:`nqpf_helpers.pipeline.run_pipeline`.
    outdir
        Folder to create.
    map
        Draw the map when the units allow it.
    overwrite
        Replace an existing ``outdir``.
    lang
        Language of the report's words and figure labels: ``"en"`` (default)
        or ``"zh"``.  Files, column names and numbers are the same in both.

    Returns
    -------
    pathlib.Path
        ``outdir``.

    Raises
    ------
    OutputError
        ``outdir`` cannot be created (see :func:`nqpf_helpers.io.check_output_path`).
    InputError
        Unknown ``lang``.
    nqpf_helpers.errors.UnknownRegionError
        Units meant as Chinese codes or names that cannot be matched (with ``map=True``).
    """
    t = text(lang)  # unknown languages fail before anything is written
    out = check_output_path(outdir, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    old: Path | None = None
    try:
        give_default_permissions(tmp, directory=True)
        write_csv(result.results, tmp / "results.csv")
        settings = dict(result.settings)
        map_file, note = (None, t["no_map_flag"])
        if map:
            map_file, note = _map_html(result, tmp, lang)
        settings["map"] = map_file
        settings["report_language"] = lang
        (tmp / "settings.json").write_text(settings_json(settings), encoding="utf-8")
        page = render_report(result, figure_png=_trend_png(result, lang), map_file=map_file, map_note=note,
                             lang=lang, settings=settings)
        (tmp / "report.html").write_text(page, encoding="utf-8")
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
