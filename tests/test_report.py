"""The results folder and its HTML report (nqpf_helpers.report), Chinese text in figures (fonts, i18n)."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import pipeline as pl
from nqpf_helpers import plots, report
from nqpf_helpers.errors import UnknownRegionError
from nqpf_helpers.fonts import (
    CJK_FAMILY,
    cjk_font_path,
    cjk_font_subset,
    use_chinese_fonts,
)
from nqpf_helpers.i18n import LANGS, TEXT

NAMES = ["北京", "天津", "内蒙古", "广西"]


def fake_result(units=NAMES, unit="地区", time="年份", codes=True) -> pl.PipelineResult:
    """A small result with the shape run_pipeline returns (no model is fitted: the report only lays it out)."""
    rng = np.random.default_rng(0)
    years = np.arange(2000, 2013)
    g = pd.DataFrame([(u, y) for u in units for y in years], columns=[unit, time])
    g["gtfp"] = rng.uniform(0.3, 1.0, len(g))
    n = g[g[time] >= 2005].rename(columns={"gtfp": "actual"}).copy()
    n["split"] = np.where(n[time] <= 2009, "train", "test")
    n["predicted"] = n["actual"] * rng.uniform(0.8, 1.2, len(n))
    n["nqpf"] = n["actual"] / n["predicted"]
    n["n_seeds"] = 2
    n["n_below_floor"] = 0
    n["reason"] = ""
    n = n[[unit, time, "split", "actual", "predicted", "nqpf", "n_seeds", "n_below_floor", "reason"]]
    results = g.merge(n.drop(columns=["actual"]), on=[unit, time], how="left")
    _, found = pl.region_codes_for(list(units)) if codes else (None, None)
    if found:
        results.insert(1, "region_code", results[unit].map(found))
    settings = {"unit": unit, "time": time, "gtfp_source": "SBM with undesirable outputs",
                "inputs": ["劳动", "资本"], "good": ["工业增加值(亿元)"], "bad": ["废水"], "rts": "vrs",
                "frontier": "global", "window": None, "protocol": "improved", "train_until": 2009,
                "seeds": [0, 1], "n_units": len(units), "years": [2000, 2012],
                "data_warnings": ["'资本' of '北京' in 2005: 1e+10 is 1.0e+08 times larger ..."]}
    return pl.PipelineResult(gtfp=g, nqpf=n, results=results, settings=settings, unit=unit, time=time)


# --------------------------------------------------------------------------- fonts
def _draw_chinese(fig) -> None:
    fig.savefig(io.BytesIO(), format="png")


def test_chinese_labels_render_without_missing_glyphs():
    from matplotlib.figure import Figure

    use_chinese_fonts()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" is a UserWarning
        fig = Figure()
        ax = fig.subplots()
        ax.plot([2000, 2001], [1, 2], label="实际 GTFP（均值）")
        ax.set_xlabel("年份")
        ax.set_title("绿色全要素生产率 北京 内蒙古自治区")
        ax.legend()
        _draw_chinese(fig)


def test_bold_text_with_the_chinese_fallback_writes_nothing_to_stderr(caplog):
    # The packaged CJK font is Regular only; bold labels (plots.rank_change_plot) made matplotlib log
    # "findfont: Failed to find font weight bold for Noto Sans CJK SC" on stderr, failing strict builds.
    import logging

    from matplotlib import font_manager
    from matplotlib.figure import Figure

    use_chinese_fonts()
    font_manager.fontManager._findfont_cached.cache_clear()  # matplotlib logs once per lookup: look up afresh
    with caplog.at_level(logging.WARNING, logger="matplotlib.font_manager"):
        fig = Figure()
        fig.subplots().text(0, 0, "Zhejiang 浙江 1", fontweight="bold")
        _draw_chinese(fig)
    assert not [r for r in caplog.records if "Failed to find font weight" in r.getMessage()]
    # the filter drops exactly that message for that family: other families' weight warnings still pass
    from nqpf_helpers.fonts import _CJK_WEIGHT_FILTER

    def record(family):
        return logging.LogRecord("matplotlib.font_manager", logging.WARNING, __file__, 1,
                                 "findfont: Failed to find font weight %s for %s, now using %s.",
                                 ("bold", family, 400), None)

    assert _CJK_WEIGHT_FILTER.filter(record("Some Other Sans"))
    assert not _CJK_WEIGHT_FILTER.filter(record(CJK_FAMILY))
    assert _CJK_WEIGHT_FILTER in logging.getLogger("matplotlib.font_manager").filters


def test_the_report_figure_in_chinese_has_every_glyph():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.trend_figure(fake_result(), lang="zh")
        _draw_chinese(fig)
    texts = [fig.axes[0].get_title(), fig.axes[1].get_title(), fig.axes[0].get_xlabel()]
    assert texts == [TEXT["zh"]["fig_left"], TEXT["zh"]["fig_right"], "年份"]
    ticks = [tick for ax in fig.axes for tick in ax.get_xticks()]
    assert all(float(tick).is_integer() for tick in ticks)  # three test years: no 2010.25


def test_fresh_machine_without_any_system_cjk_font():
    # Only matplotlib's own fonts are known, as on a fresh machine; the packaged font must do the rest.
    code = f"""
import io, warnings
import matplotlib
from matplotlib import font_manager as fm
data = matplotlib.get_data_path()
fm.fontManager.ttflist = [f for f in fm.fontManager.ttflist if f.fname.startswith(data)]
fm.fontManager._findfont_cached.cache_clear()
from matplotlib.figure import Figure
fig = Figure(); fig.subplots().set_xlabel("年份 北京")
with warnings.catch_warnings(record=True) as before:
    warnings.simplefilter("always")
    fig.savefig(io.BytesIO(), format="png")
assert any("missing from font" in str(w.message) for w in before), "the check must be able to fail"
from nqpf_helpers.fonts import use_chinese_fonts
use_chinese_fonts()
warnings.simplefilter("error")
fig = Figure(); fig.subplots().set_xlabel("年份 北京")
fig.savefig(io.BytesIO(), format="png")
assert fm.findfont(fm.FontProperties(family={CJK_FAMILY!r})) == {cjk_font_path()!r}
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_use_chinese_fonts_is_idempotent_and_survives_a_theme_reset():
    import matplotlib

    first = use_chinese_fonts()
    assert use_chinese_fonts() == first and first.count(CJK_FAMILY) == 1
    with matplotlib.rc_context({"font.family": "sans-serif"}):  # what seaborn's set_theme does
        assert use_chinese_fonts()[-1] == CJK_FAMILY


def test_font_subset_holds_exactly_the_characters_asked_for():
    from fontTools.ttLib import TTFont

    assert cjk_font_subset("plain ASCII") is None
    font = TTFont(io.BytesIO(cjk_font_subset("新质生产力 NQPF")))
    assert set(font.getBestCmap()) == {ord(c) for c in "新质生产力"}


# --------------------------------------------------------------------------- the report
def test_chinese_report_words_and_same_files(tmp_path):
    res = fake_result()
    en = report.write_report(res, tmp_path / "en", map=False)
    zh = report.write_report(res, tmp_path / "zh", map=False, lang="zh")
    assert sorted(p.name for p in en.iterdir()) == sorted(p.name for p in zh.iterdir())
    assert (en / "results.csv").read_bytes() == (zh / "results.csv").read_bytes()  # numbers unchanged
    page = (zh / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page
    for term in ("新质生产力", "绿色全要素生产率", "非期望产出", "期望产出", "投入", "增长路径",
                 "规模报酬可变（VRS）", "全局前沿", "训练期之后的各单元（最后一年为 2012 年）", "数据提示"):
        assert term in page, term
    english = (en / "report.html").read_text(encoding="utf-8")
    assert "Undesirable outputs" in english and "非期望产出" not in english
    assert json.loads((zh / "settings.json").read_text(encoding="utf-8"))["report_language"] == "zh"
    # the table's numbers are the same in both languages
    def nums(text):
        return re.findall(r'<td class="num">([^<]+)</td>', text)

    assert nums(page) == nums(english) and len(nums(page)) == 3 * len(NAMES)


def test_report_embeds_the_glyphs_it_needs(tmp_path):
    from fontTools.ttLib import TTFont

    page = (report.write_report(fake_result(), tmp_path / "zh", map=False, lang="zh") / "report.html").read_text()
    font = re.search(r"url\(data:font/otf;base64,([A-Za-z0-9+/=]+)\)", page).group(1)
    cmap = TTFont(io.BytesIO(base64.b64decode(font))).getBestCmap()
    visible = re.sub(r"<[^>]+>|data:[^\"')]+", "", page)
    assert {ord(c) for c in visible if ord(c) > 127} <= set(cmap)
    plain = fake_result(["a", "b"], unit="unit", time="year", codes=False)
    plain.settings.update(inputs=["labour"], good=["gdp"], bad=["so2"], data_warnings=[])
    ascii_page = report.render_report(plain, figure_png=b"", map_file=None, map_note="no map")
    assert "@font-face" not in ascii_page


def test_report_escapes_names_from_the_data(tmp_path):
    evil = "<script>alert(1)</script>"
    res = fake_result([evil, "b&c"], unit="unit", time="year", codes=False)
    page = report.render_report(res, figure_png=b"png", map_file=None, map_note="no <map>", embed_font=False)
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "b&amp;c" in page and "no &lt;map&gt;" in page


def test_unknown_language_fails_before_writing(tmp_path):
    with pytest.raises(ValueError, match=r"unknown language 'fr'.*\['en', 'zh'\]"):
        report.write_report(fake_result(), tmp_path / "out", lang="fr")
    assert list(tmp_path.iterdir()) == []
    assert set(LANGS) == {"en", "zh"} and set(TEXT["en"]) == set(TEXT["zh"])  # every word in both


def test_named_provinces_get_a_map_and_keep_their_names(tmp_path):
    res = fake_result()
    out = report.write_report(res, tmp_path / "res", lang="zh")
    assert (out / "map.html").is_file()
    back = pd.read_csv(out / "results.csv", dtype={"region_code": str})
    assert back["地区"].unique().tolist() == NAMES
    assert back.drop_duplicates("地区")["region_code"].tolist() == ["110000", "120000", "150000", "450000"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'src="map.html"' in page and TEXT["zh"]["map_names"] in page


def test_check_map_units_for_names():
    units = report.check_map_units(["北京市", "Tianjin", "内蒙古"])
    assert units == report.MapUnits("china", "province", {"北京市": "110000", "Tianjin": "120000", "内蒙古": "150000"})
    with pytest.raises(UnknownRegionError, match=r"'Atlantis'"):
        report.check_map_units(["北京", "天津", "Atlantis"])  # mostly names: the odd one is reported
    assert report.check_map_units(["north", "south", "北京"]) == report.MapUnits("other")  # mostly not names


def test_check_map_units():
    assert report.check_map_units(["110000", "120000"]) == report.MapUnits("china", "province")
    assert report.check_map_units(["CHN", "IND"]) == report.MapUnits("iso3")
    assert report.check_map_units(["north", "south"]) == report.MapUnits("other")
    with pytest.raises(UnknownRegionError, match="990000"):
        report.check_map_units(["110000", "990000"])
    with pytest.raises(UnknownRegionError, match="mix administrative levels"):
        report.check_map_units(["110000", "110101"])
