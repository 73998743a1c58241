"""Loader tests on the offline copies of the public data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nqpf_helpers import data
from nqpf_helpers.data import DataIntegrityError, DataUnavailableError


def test_registry_lists_every_shared_file(data_dir):
    files = {
        str(p.relative_to(data_dir))
        for p in data_dir.rglob("*")
        if p.is_file() and p.suffix in {".csv", ".xlsx", ".geojson"}
    }
    assert files == set(data.registry())


def test_registry_hashes_match_local_copies(data_dir):
    for name, entry in data.registry().items():
        assert data.file_sha256(data_dir / name) == entry.sha256, name
        assert entry.url.startswith("https://"), name
        assert entry.citation, name


def test_fetch_prefers_local_folder(data_dir):
    assert data.fetch("nqpf/Test_Data.xlsx") == data_dir / "nqpf/Test_Data.xlsx"


def test_unknown_registry_name():
    with pytest.raises(KeyError, match="not in the data registry"):
        data.fetch("nqpf/nope.xlsx")


def test_missing_file_offline_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NQPF_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NQPF_OFFLINE", "1")
    with pytest.raises(DataUnavailableError) as err:
        data.fetch("pwt/pwt91.csv")
    message = str(err.value)
    assert "pwt/pwt91.csv" in message
    assert "https://www.rug.nl/ggdc/docs/pwt91.xlsx" in message
    assert "NQPF_DATA_DIR" in message
    assert not (tmp_path / "cache").exists()


def test_failed_download_gives_clear_error(tmp_path, monkeypatch):
    # Port 9 on loopback refuses at once: this is what "no network" looks like to pooch.
    _patched_entry(monkeypatch, "nqpf/Test_Data.xlsx", url="http://127.0.0.1:9/Test_Data.xlsx")
    monkeypatch.delenv("NQPF_DATA_DIR", raising=False)
    monkeypatch.delenv("NQPF_OFFLINE", raising=False)
    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataUnavailableError, match=r"downloading http://127.0.0.1:9/Test_Data.xlsx failed.*NQPF_DATA_DIR"):
        data.fetch("nqpf/Test_Data.xlsx")
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] if (tmp_path / "cache").exists() else []
    assert leftovers == []


def test_corrupt_local_copy_is_rejected(tmp_path, monkeypatch, data_dir):
    (tmp_path / "nqpf").mkdir()
    (tmp_path / "nqpf" / "Test_Data.xlsx").write_bytes(b"not a workbook")
    monkeypatch.setenv("NQPF_DATA_DIR", str(tmp_path))
    with pytest.raises(DataIntegrityError, match="does not match the registry's sha256"):
        data.fetch("nqpf/Test_Data.xlsx")


def test_gtfp_series_shape_and_values():
    df = data.load_gtfp_series()
    assert list(df.columns) == ["region_code", "year", "gtfp"]
    assert df["region_code"].nunique() == 31
    assert (df["year"].min(), df["year"].max()) == (1990, 2022)
    assert len(df) == 31 * 33
    assert df["region_code"].str.fullmatch(r"\d{2}0000").all()
    assert (df["gtfp"] > 0).all() and (df["gtfp"] <= 1 + 1e-9).all()
    first = df.iloc[0]
    assert (first["region_code"], first["year"]) == ("110000", 1990)
    assert first["gtfp"] == pytest.approx(0.286625, abs=1e-6)


def test_gtfp_series_equals_published_provincial_gtfp_2010_2022():
    series = data.load_gtfp_series()
    published = data.load_published_nqpf("province")
    merged = series[series["year"] >= 2010].merge(published, on=["region_code", "year"], suffixes=("", "_pub"))
    assert len(merged) == 31 * 13
    np.testing.assert_allclose(merged["gtfp"], merged["gtfp_pub"], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("level", "units", "first", "last"),
    [("province", 31, 2010, 2022), ("city", 296, 2010, 2021), ("county", 2711, 2010, 2021)],
)
def test_published_nqpf_coverage(level, units, first, last):
    df = data.load_published_nqpf(level)
    assert list(df.columns) == ["region_code", "year", "gtfp", "nqpf"]
    assert df["region_code"].nunique() == units
    assert (df["year"].min(), df["year"].max()) == (first, last)
    assert len(df) == units * (last - first + 1)
    assert df[["gtfp", "nqpf"]].notna().all().all()


def test_published_nqpf_known_value():
    df = data.load_published_nqpf("province").set_index(["region_code", "year"])
    assert df.loc[("110000", 2010), "nqpf"] == pytest.approx(1.1550268, abs=1e-6)
    assert df.loc[("120000", 2010), "gtfp"] == pytest.approx(0.2119074, abs=1e-6)


def test_published_nqpf_bad_level():
    with pytest.raises(ValueError, match="level must be one of"):
        data.load_published_nqpf("village")


def test_pwt_columns_and_known_value():
    pwt = data.load_pwt()
    assert {"iso3", "year", "rgdpna", "rnna", "emp"} <= set(pwt.columns)
    assert pwt["iso3"].nunique() == 182
    assert (pwt["year"].min(), pwt["year"].max()) == (1950, 2017)
    usa = pwt[(pwt["iso3"] == "USA") & (pwt["year"] == 2017)].iloc[0]
    assert usa["emp"] == pytest.approx(155.0, rel=0.05)


def test_ceds_long_format():
    so2 = data.load_ceds("SO2")
    assert list(so2.columns) == ["iso3", "year", "value"]
    assert (so2["year"].min(), so2["year"].max()) == (1750, 2019)
    assert "GLOBAL" not in set(so2["iso3"])
    chn = so2[(so2["iso3"] == "CHN") & (so2["year"] == 2010)]["value"].iloc[0]
    assert 15_000 < chn < 40_000  # tens of Mt of SO2 around 2010
    with pytest.raises(ValueError, match="species must be one of"):
        data.load_ceds("PM25")


def test_world_panel_is_balanced_and_reports_drops():
    panel = data.load_world_panel()
    assert list(panel.columns) == data.WORLD_PANEL_COLUMNS
    assert panel["iso3"].nunique() == 168
    assert (panel["year"].min(), panel["year"].max()) == (1990, 2017)
    assert len(panel) == 168 * 28
    assert (panel[["labour", "capital", "gdp"]] > 0).all().all()
    assert (panel[["so2", "nox", "smoke"]] >= 0).all().all()
    assert panel.attrs == {}  # no side channel: the dropped countries have their own function
    dropped = data.world_panel_dropped()
    assert list(dropped.columns) == ["iso3", "country", "reason"]
    assert len(dropped) == 182 - 168
    assert not set(dropped["iso3"]) & set(panel["iso3"])
    assert dropped["reason"].str.len().gt(0).all()
    bc = data.load_ceds("BC").set_index(["iso3", "year"])["value"]
    oc = data.load_ceds("OC").set_index(["iso3", "year"])["value"]
    chn = panel[(panel["iso3"] == "CHN") & (panel["year"] == 2000)].iloc[0]
    assert chn["smoke"] == pytest.approx(bc[("CHN", 2000)] + oc[("CHN", 2000)])


def test_world_panel_year_range_checked():
    with pytest.raises(ValueError, match="PWT 9.1 covers"):
        data.load_world_panel(1990, 2019)


def test_balance_panel_reasons():
    df = pd.DataFrame(
        {"u": ["a", "a", "b", "b", "c"], "t": [1, 2, 1, 2, 1], "v": [1.0, 2.0, np.nan, 1.0, 1.0], "w": [1, 1, 1, 1, 1]}
    )
    kept, dropped = data.balance_panel(df, unit="u", time="t", values=["v", "w"], positive=["v"], start=1, end=2)
    assert set(kept["u"]) == {"a"}
    reasons = dict(zip(dropped["unit"], dropped["reason"]))
    assert reasons == {"b": "v missing in 1 years", "c": "not observed in 1 of 2 years"}


def test_world_boundaries():
    gdf = data.load_world_boundaries()
    assert len(gdf) == 177
    assert {"iso3", "name", "continent", "geometry"} <= set(gdf.columns)
    assert gdf.crs.to_epsg() == 4326
    iso = set(gdf["iso3"].dropna())
    assert {"CHN", "FRA", "NOR", "USA", "BRA"} <= iso
    panel_iso = set(data.load_world_panel()["iso3"])
    assert len(panel_iso & iso) > 140


@pytest.fixture()
def loopback_server(tmp_path):
    """Serve tmp_path/'www' over HTTP on loopback, standing in for a data provider."""
    import functools
    import http.server
    import threading

    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _patched_entry(monkeypatch, name, **changes):
    entry = data.registry()[name]
    patched = dict(data.registry())
    patched[name] = type(entry)(**{**entry.__dict__, **changes})
    monkeypatch.setattr(data, "registry", lambda: patched)


def test_download_extracts_and_checks_archive_member(tmp_path, monkeypatch, loopback_server):
    import hashlib
    import zipfile

    www, base = loopback_server
    content = b"em,country,units,X2000\nSO2,chn,kt,1\n"
    with zipfile.ZipFile(www / "ceds.zip", "w") as archive:
        archive.writestr("SO2_CEDS_emissions_by_country_2021_02_05.csv", content)
    name = "ceds/SO2_CEDS_emissions_by_country_2021_02_05.csv"
    monkeypatch.delenv("NQPF_DATA_DIR", raising=False)
    monkeypatch.delenv("NQPF_OFFLINE", raising=False)
    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path / "cache"))

    _patched_entry(monkeypatch, name, url=f"{base}/ceds.zip", sha256=hashlib.sha256(content).hexdigest())
    path = data.fetch(name)
    assert path.read_bytes() == content
    assert tmp_path / "cache" in path.parents

    _patched_entry(monkeypatch, name, url=f"{base}/ceds.zip", sha256="0" * 64)
    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path / "cache2"))
    with pytest.raises(DataIntegrityError, match="upstream release has changed"):
        data.fetch(name)
    assert not [p for p in (tmp_path / "cache2").rglob("*.csv")]


def test_download_of_a_plain_file_is_hash_checked(tmp_path, monkeypatch, loopback_server):
    www, base = loopback_server
    (www / "Test_Data.xlsx").write_bytes(b"tampered")
    monkeypatch.delenv("NQPF_DATA_DIR", raising=False)
    monkeypatch.delenv("NQPF_OFFLINE", raising=False)
    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path / "cache"))
    _patched_entry(monkeypatch, "nqpf/Test_Data.xlsx", url=f"{base}/Test_Data.xlsx")
    with pytest.raises(DataUnavailableError, match="SHA256 hash of downloaded file"):
        data.fetch("nqpf/Test_Data.xlsx")
    assert not (tmp_path / "cache" / "nqpf" / "Test_Data.xlsx").exists()


# --------------------------------------------------------------------------- offline from the download cache


def _offline_with_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("NQPF_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NQPF_OFFLINE", "1")
    return tmp_path / "cache"


def test_offline_uses_a_verified_file_from_the_download_cache(tmp_path, monkeypatch, data_dir):
    import shutil

    cache = _offline_with_cache(monkeypatch, tmp_path)
    # where an earlier online fetch left them: a plain file, and a member extracted from an archive
    (cache / "nqpf").mkdir(parents=True)
    shutil.copy(data_dir / "nqpf/Test_Data.xlsx", cache / "nqpf/Test_Data.xlsx")
    member = "SO2_CEDS_emissions_by_country_2021_02_05.csv"
    extracted = cache / "ceds" / Path(member).stem / member
    extracted.parent.mkdir(parents=True)
    shutil.copy(data_dir / "ceds" / member, extracted)

    assert data.fetch("nqpf/Test_Data.xlsx") == cache / "nqpf/Test_Data.xlsx"
    assert data.fetch(f"ceds/{member}") == extracted
    assert data.load_gtfp_series().shape == (31 * 33, 3)  # the loaders go through fetch as well
    # a file that was never cached is still refused, naming the folder to set
    with pytest.raises(DataUnavailableError, match="NQPF_OFFLINE forbids downloads"):
        data.fetch("nqpf/NQPF_Data_China.xlsx")


def test_offline_refuses_a_tampered_cached_file(tmp_path, monkeypatch):
    cache = _offline_with_cache(monkeypatch, tmp_path)
    (cache / "nqpf").mkdir(parents=True)
    (cache / "nqpf/Test_Data.xlsx").write_bytes(b"tampered")
    with pytest.raises(DataIntegrityError, match="cached copy .* does not match"):
        data.fetch("nqpf/Test_Data.xlsx")


def test_offline_uses_a_cached_workbook_whose_hash_is_not_pinned(tmp_path, monkeypatch):
    # PWT's upstream workbook has no pinned hash (url_sha256 = ""): used as an online run would use it.
    cache = _offline_with_cache(monkeypatch, tmp_path)
    (cache / "pwt").mkdir(parents=True)
    (cache / "pwt/pwt91.xlsx").write_bytes(b"workbook")
    assert data.registry()["pwt/pwt91.csv"].url_sha256 == ""
    assert data.fetch("pwt/pwt91.csv") == cache / "pwt/pwt91.xlsx"


def test_unknown_registry_name_is_an_nqpf_error():
    from nqpf_helpers.errors import InputError, NQPFError

    with pytest.raises(NQPFError) as err:
        data.fetch("nqpf/nope.xlsx")
    assert isinstance(err.value, (KeyError, InputError))
    assert str(err.value).startswith("'nqpf/nope.xlsx' is not in the data registry")


def test_every_download_is_pinned_or_says_why_not():
    # A URL that moves (a branch, "master") could serve other bytes next year.
    raw = (Path(data.__file__).parent / "registry.toml").read_text(encoding="utf-8")
    for name, entry in data.registry().items():
        assert "/master/" not in entry.url and "/main/" not in entry.url, f"{name}: pin the URL to a commit"
        if "raw.githubusercontent.com" in entry.url:
            commit = entry.url.split("/")[5]
            assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit), f"{name}: {commit}"
        if entry.url_sha256 == "":
            # unpinned on purpose: the registry must say why
            block = raw.split(f'[files."{name}"]', 1)[1].split("[files.", 1)[0]
            assert "not available offline" in block, f"{name}: say in its registry entry why url_sha256 is empty"
