"""The wheel carries every file the package reads at run time.

The full check (a fresh virtual environment, ``pip install`` of the wheel, ``nqpf run``
on a real panel from outside the project) is ``.ci/wheel-check``; this test is its
cheap half: build the wheel and look inside it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import nqpf_helpers


def _working_tree(root: Path) -> list[str]:
    # Tracked and new (not ignored) files: the tree as the developer has it, without .venv or _build.
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout
    return [line for line in out.splitlines() if (root / line).is_file()]


@pytest.fixture(scope="module")
def wheel_names(root: Path, tmp_path_factory) -> list[str]:
    # Build from a copy so that setuptools' build/ and *.egg-info never land in the source tree.
    src = tmp_path_factory.mktemp("src")
    for name in _working_tree(root):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
        check=True, capture_output=True, text=True,
    )
    wheels = list(dist.glob("nqpf_helpers-*.whl"))
    assert len(wheels) == 1, f"expected one wheel, got {wheels}"
    with zipfile.ZipFile(wheels[0]) as zf:
        return zf.namelist()


def test_wheel_holds_registry_and_py_typed(wheel_names):
    assert "nqpf_helpers/data/registry.toml" in wheel_names
    assert "nqpf_helpers/py.typed" in wheel_names


def test_wheel_holds_every_package_file(root: Path, wheel_names):
    # Any file inside nqpf_helpers/ that git tracks (a template, a table, a module) must ship.
    package_files = [
        n for n in _working_tree(root)
        if n.startswith("nqpf_helpers/") and "__pycache__" not in n
    ]
    missing = sorted(set(package_files) - set(wheel_names))
    assert not missing, f"in the source package but not in the wheel (add them to package-data): {missing}"


def test_wheel_has_the_entry_point(wheel_names):
    entry_points = [n for n in wheel_names if n.endswith(".dist-info/entry_points.txt")]
    assert entry_points, "the wheel has no entry_points.txt: the `nqpf` command would not be installed"


def test_version_matches_pyproject(root: Path):
    import tomllib

    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    assert nqpf_helpers.__version__ == declared
