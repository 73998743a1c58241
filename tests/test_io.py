"""Reading a user's panel as Chinese spreadsheets save it, and writing results (nqpf_helpers.io)."""

from __future__ import annotations

import codecs
import json
import re

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import io as nio
from nqpf_helpers.data import fetch
from nqpf_helpers.errors import InputError
from nqpf_helpers.synthetic import example_panel
from nqpf_helpers.validate import PanelError, validate_panel

GDP = "工业增加值(亿元)"


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return example_panel(5, 1998, 2015, codes="china", seed=3)


@pytest.fixture(scope="module")
def gtmp_bytes() -> bytes:
    """The real yearbook panel as published: UTF-8 with a byte-order mark."""
    return fetch("china/GTMP.csv").read_bytes()


@pytest.fixture(scope="module")
def gtmp(gtmp_bytes, tmp_path_factory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("gtmp") / "GTMP.csv"
    path.write_bytes(gtmp_bytes)
    return nio.read_panel(path, time="年份")


def test_real_panel_reads_with_its_chinese_headers(gtmp, gtmp_bytes, tmp_path):
    path = tmp_path / "GTMP.csv"
    path.write_bytes(gtmp_bytes)
    read = nio.read_panel_file(path, time="年份")
    assert read.encoding == "utf-8-sig" and read.source == path
    assert read.unit == "地区" and read.time == "年份"  # found among the unit candidates, no --unit needed
    pd.testing.assert_frame_equal(read.data, gtmp)
    assert gtmp.attrs == {}  # no side channel: the file's details are in PanelFile
    assert gtmp.columns[0] == "地区"  # the byte-order mark is not part of the first name
    assert gtmp["地区"].nunique() == 30 and set(gtmp["年份"]) == set(range(2000, 2024))
    assert "北京" in set(gtmp["地区"]) and "内蒙古" in set(gtmp["地区"])


def test_gbk_file_as_excel_saves_it_is_detected_and_reads_the_same(gtmp, gtmp_bytes, tmp_path):
    text = gtmp_bytes.decode("utf-8-sig")
    path = tmp_path / "GTMP_gbk.csv"
    path.write_bytes(text.encode("gbk"))
    with pytest.raises(UnicodeDecodeError):  # the failure the issue reports
        path.read_bytes().decode("utf-8")
    assert nio.detect_encoding(path) == "gb18030"
    read = nio.read_panel_file(path, time="年份")
    assert read.encoding == "gb18030"
    pd.testing.assert_frame_equal(read.data, gtmp)


def test_utf8_without_bom_and_plain_ascii(gtmp_bytes, tmp_path):
    path = tmp_path / "plain.csv"
    path.write_bytes(gtmp_bytes[len(codecs.BOM_UTF8):])
    assert nio.detect_encoding(path) == "utf-8"
    assert nio.read_panel(path, time="年份").columns[0] == "地区"
    assert nio.detect_encoding(b"region_code,year\n110000,2000\n") == "utf-8"
    assert nio.detect_encoding(codecs.BOM_UTF8 + "地区".encode()) == "utf-8-sig"


def test_explicit_encoding_is_used_and_a_wrong_one_explained(gtmp_bytes, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(gtmp_bytes.decode("utf-8-sig").encode("gbk"))
    assert nio.read_panel_file(path, time="年份", encoding="gbk").encoding == "gbk"
    with pytest.raises(InputError, match=r"--encoding.*gb18030"):
        nio.read_panel(path, time="年份", encoding="utf-8")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        nio.read_panel(path, time="年份", encoding="klingon")


def test_years_with_the_chinese_suffix_are_read_as_years(tmp_path):
    df = pd.DataFrame({"地区": ["北京", "北京", "天津", "天津"], "年份": ["2005年", "2006年", "2005年", "2006年 "],
                       "x": [1.0, 2.0, 3.0, 4.0]})
    path = tmp_path / "years.csv"
    df.to_csv(path, index=False, encoding="gbk")
    back = nio.read_panel(path, time="年份")
    assert back["年份"].tolist() == [2005, 2006, 2005, 2006]
    validate_panel(back, unit="地区", time="年份", values=["x"])  # accepted by the checks


def test_the_validators_year_fix_works_when_followed():
    df = pd.DataFrame({"unit": ["a", "a"], "year": ["2005年", "2006年"], "x": [1.0, 2.0]})
    with pytest.raises(PanelError) as info:
        validate_panel(df, unit="unit", time="year", values=["x"])
    fix = re.search(r"Convert it with (df\[.*?\)\.astype\(int\))", str(info.value)).group(1)
    exec(fix, {"df": df})  # noqa: S102 - the suggestion itself must run
    assert validate_panel(df, unit="unit", time="year", values=["x"])["year"].tolist() == [2005, 2006]


def test_other_year_text_is_left_for_the_validator(tmp_path):
    path = tmp_path / "odd.csv"
    pd.DataFrame({"unit": ["a", "a"], "year": ["2005年", "about 2006"], "x": [1, 2]}).to_csv(path, index=False)
    assert nio.read_panel(path)["year"].tolist() == ["2005年", "about 2006"]


def test_results_with_chinese_text_get_a_byte_order_mark_for_excel(tmp_path):
    chinese = pd.DataFrame({"地区": ["北京"], "nqpf": [1.2]})
    plain = pd.DataFrame({"region_code": ["110000"], "nqpf": [1.2]})
    a = nio.write_csv_atomically(chinese, tmp_path / "a.csv")
    b = nio.write_csv_atomically(plain, tmp_path / "b.csv")
    assert a.read_bytes().startswith(codecs.BOM_UTF8)
    assert not b.read_bytes().startswith(codecs.BOM_UTF8)
    pd.testing.assert_frame_equal(pd.read_csv(a), chinese)
    assert a.read_bytes().decode("utf-8-sig").startswith("地区,nqpf")


def test_settings_json_keeps_chinese_readable(tmp_path):
    out = nio.write_json_atomically({"unit": "地区", "years": [2000, 2023]}, tmp_path / "s.json")
    text = out.read_text(encoding="utf-8")
    assert "地区" in text and json.loads(text) == {"unit": "地区", "years": [2000, 2023]}


def test_gdp_column_survives_the_round_trip(gtmp):
    assert np.issubdtype(gtmp[GDP].dtype, np.floating) and (gtmp[GDP] > 0).all()


def test_western_code_page_is_not_taken_for_chinese():
    raw = "country,city\nSchweiz,Zürich\nFrance,Genève\nEspaña,Málaga\n".encode("cp1252")
    enc = nio.detect_encoding(raw)
    assert enc != "gb18030"  # other code pages are charset-normalizer's judgement; --encoding overrides it
    assert raw.decode(enc).splitlines()[0] == "country,city"


# --------------------------------------------------------------------------- formats and layouts
@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet"])
def test_read_panel_round_trips_every_format(tmp_path, panel, ext):
    path = tmp_path / f"p.{ext}"
    {"csv": panel.to_csv, "xlsx": panel.to_excel, "parquet": panel.to_parquet}[ext](path, index=False)
    read = nio.read_panel_file(path)
    assert read.unit == "region_code" and read.time == "year"
    assert read.encoding == ("utf-8" if ext == "csv" else None)
    back = read.data
    # codes come back as 6-digit strings even though CSV and Excel store them as numbers
    assert set(back["region_code"]) == set(panel["region_code"])
    pd.testing.assert_frame_equal(back[panel.columns].reset_index(drop=True), panel, check_dtype=False)


def test_read_panel_authors_layout():
    df = nio.read_panel(fetch("nqpf/Test_Data.xlsx"), layout="authors")
    assert list(df.columns) == ["region_code", "year", "gtfp"]
    assert df["region_code"].str.fullmatch(r"\d{6}").all()
    assert df["region_code"].nunique() == 31


def test_read_panel_sheet_by_name_and_position(tmp_path, panel):
    path = tmp_path / "two.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"note": ["cover"]}).to_excel(xl, sheet_name="cover", index=False)
        panel.to_excel(xl, sheet_name="data", index=False)
    assert len(nio.read_panel(path, sheet="data")) == len(panel)
    assert len(nio.read_panel(path, sheet="1")) == len(panel)
    with pytest.raises(InputError, match="no sheet named 'Data'.*'cover', 'data'"):
        nio.read_panel(path, sheet="Data")


def test_read_panel_guesses_unit_or_asks(tmp_path, panel):
    path = tmp_path / "p.csv"
    panel.rename(columns={"region_code": "area"}).to_csv(path, index=False)
    with pytest.raises(InputError, match="--unit"):
        nio.read_panel(path)
    assert nio.read_panel_file(path, unit="area").unit == "area"
