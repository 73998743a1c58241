"""The package's top level: a curated, lazily imported ``__all__``."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import nqpf_helpers


def test_import_is_cheap():
    # A fresh interpreter: importing the package (and reading its __all__) loads no heavy library.
    code = (
        "import sys, nqpf_helpers as nh; nh.__all__; nh.NQPFError; "
        "heavy = [m for m in ('tensorflow', 'keras', 'cvxpy', 'geopandas', 'pandas', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import nqpf_helpers imported {out}"


def test_data_helpers_do_not_import_tensorflow():
    code = (
        "import sys, nqpf_helpers as nh; nh.coverage; nh.file_sha256; nh.fetch; nh.cached; "
        "print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_all_lists_every_public_submodule():
    on_disk = sorted(m.name for m in pkgutil.iter_modules(nqpf_helpers.__path__) if not m.name.startswith("_"))
    assert nqpf_helpers.SUBMODULES == on_disk
    assert set(on_disk) <= set(nqpf_helpers.__all__)


@pytest.mark.parametrize("name", [n for n in nqpf_helpers.__all__ if n not in nqpf_helpers.SUBMODULES])
def test_every_top_level_name_is_the_object_it_stands_for(name):
    value = getattr(nqpf_helpers, name)
    if name == "__version__":
        assert isinstance(value, str)
        return
    module, _, attr = nqpf_helpers.origin(name).rpartition(".")
    assert value is getattr(importlib.import_module(module), attr)


def test_chapters_and_cli_names_are_exported():
    for name in ["coverage", "file_sha256", "fetch", "validate_panel", "cached", "NQPFError", "PanelError",
                 "InputError", "SolverError", "data", "sbm", "forecast", "pipeline", "cli", "errors"]:
        assert name in nqpf_helpers.__all__, name


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        nqpf_helpers.nope  # noqa: B018


def test_errors_share_one_base():
    for name in nqpf_helpers.__all__:
        obj = getattr(nqpf_helpers, name) if name.endswith("Error") else None
        if obj is not None:
            assert issubclass(obj, nqpf_helpers.NQPFError), name


def test_module_lists_in_the_readme_and_the_docstring_are_complete():
    from pathlib import Path

    layout = Path(nqpf_helpers.__file__).resolve().parents[1] / "README.md"
    text = layout.read_text(encoding="utf-8").split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = {line.split()[0].rstrip("/").removesuffix(".py") for line in text.splitlines() if line.startswith("  ")}
    assert listed == set(nqpf_helpers.SUBMODULES), "README.md's Layout section lists the package's modules"
    doc = nqpf_helpers.__doc__
    missing = [m for m in nqpf_helpers.SUBMODULES if f":mod:`nqpf_helpers.{m}`" not in doc]
    assert missing == [], f"nqpf_helpers/__init__.py's docstring misses {missing}"
