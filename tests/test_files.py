"""Finished outputs get ordinary permissions, not the private ones of their temporary files."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from nqpf_helpers import _files, maps
from nqpf_helpers.io import write_csv_atomically


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_give_default_permissions_follows_the_umask(tmp_path, umask_022):
    f = tmp_path / "f"
    f.write_text("x")
    os.chmod(f, 0o600)
    _files.give_default_permissions(f)
    assert _mode(f) == 0o644
    d = tmp_path / "d"
    d.mkdir(mode=0o700)
    _files.give_default_permissions(d, directory=True)
    assert _mode(d) == 0o755
    os.umask(0o077)
    _files.give_default_permissions(f)
    assert _mode(f) == 0o600


def test_atomic_csv_is_readable_by_others(tmp_path, umask_022):
    out = write_csv_atomically(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    assert _mode(out) == 0o644


def test_saved_map_and_its_assets_are_readable_by_others(tmp_path, umask_022):
    codes = ["110000", "310000", "440000"]
    m = maps.china_choropleth(pd.DataFrame({"region_code": codes, "nqpf": [0.9, 1.0, 1.2]}), time=None, level="province")
    path = maps.save_map(m, tmp_path / "map.html")
    assert _mode(path) == 0o644
    assets = tmp_path / maps.ASSET_DIRNAME
    assert _mode(assets) == 0o755
    files = [p for p in assets.rglob("*") if p.is_file()]
    assert files and all(_mode(p) == 0o644 for p in files)


def test_replace_atomically_keeps_the_old_file_when_the_block_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="half way"):
        with _files.replace_atomically(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("half way")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_replace_atomically_replaces_on_success(tmp_path, umask_022):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with _files.replace_atomically(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and _mode(target) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_replace_atomically_fsyncs_the_file_before_and_the_folder_after_the_rename(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_replace, real_open = os.fsync, os.replace, os.open
    opened: dict[int, str] = {}

    def spy_open(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        opened[fd] = str(path)
        return fd

    def spy_fsync(fd):
        events.append(("fsync", opened.get(fd, "?")))
        real_fsync(fd)

    def spy_replace(src, dst):
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(_files.os, "open", spy_open)
    monkeypatch.setattr(_files.os, "fsync", spy_fsync)
    monkeypatch.setattr(_files.os, "replace", spy_replace)
    target = tmp_path / "out.csv"
    with _files.replace_atomically(target) as tmp:
        tmp.write_text("a,b\n1,2\n")
        temporary = str(tmp)
    assert events == [("fsync", temporary), ("replace", str(target)), ("fsync", str(tmp_path))]
    assert target.read_text() == "a,b\n1,2\n"


def test_write_csv_atomically_is_durable(tmp_path, monkeypatch):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(_files.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    write_csv_atomically(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    assert len(synced) == 2  # the file, then its folder
