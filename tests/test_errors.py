"""The package raises only its own exceptions on purpose (nqpf_helpers.errors)."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nqpf_helpers
from nqpf_helpers import cli, errors
from nqpf_helpers.errors import InputError, MissingDependencyError, NQPFError

PACKAGE = Path(nqpf_helpers.__file__).resolve().parent
BUILTIN_EXCEPTIONS = {name for name, obj in vars(builtins).items()
                      if isinstance(obj, type) and issubclass(obj, BaseException)}
# Modules exempt from the scan below (none: every deliberate raise is an NQPFError).
NOT_YET_CONVERTED: set[str] = set()
# Raises a protocol requires: a module __getattr__ must raise AttributeError, `python -m` exits.
PROTOCOL = {("__init__.py", "AttributeError"), ("cli.py", "SystemExit")}


def _builtin_raises(path: Path, root: Path = PACKAGE) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in BUILTIN_EXCEPTIONS:
                if (path.name, exc.id) not in PROTOCOL:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: raise {exc.id}")
    return found


def test_no_module_raises_a_builtin_exception_on_purpose():
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if p.name not in NOT_YET_CONVERTED]
    assert len(files) > 30
    offenders = [hit for p in files for hit in _builtin_raises(p)]
    assert offenders == [], "raise a class from nqpf_helpers.errors instead:\n" + "\n".join(offenders)


def test_the_check_finds_a_builtin_raise(tmp_path):
    # the scan above must be able to fail
    bad = tmp_path / "probe.py"
    bad.write_text("def f(x):\n    if x:\n        raise ValueError('no')\n    raise errors.InputError('ok')\n")
    assert _builtin_raises(bad, tmp_path) == ["probe.py:3: raise ValueError"]


def test_every_error_class_is_an_nqpf_error_and_exported():
    classes = [getattr(errors, name) for name in errors.__all__]
    exc = [c for c in classes if issubclass(c, BaseException) and not issubclass(c, Warning)]
    assert all(issubclass(c, NQPFError) for c in exc)
    assert issubclass(MissingDependencyError, ImportError)


def test_errors_keep_their_builtin_bases_and_messages():
    from nqpf_helpers import quality, transforms

    with pytest.raises(InputError, match="expected a pandas Series"):
        quality.chow_test([1.0, 2.0], 2000)
    with pytest.raises(errors.PanelError, match=r"to_distance: missing column\(s\) \['gtfp'\]"):
        transforms.to_distance(pd.DataFrame({"x": [0.5]}), value="gtfp")


def test_forecast_errors_are_nqpf_errors():
    from nqpf_helpers import forecast

    with pytest.raises(NQPFError):
        forecast.network_inputs(np.zeros((1, 1, 3)), "diagonal")


def test_a_plain_value_error_from_a_library_is_a_bug_on_the_command_line(monkeypatch, tmp_path, capsys):
    # numpy raising inside the package is not an input problem: exit code 70, "please report"
    from nqpf_helpers import validate

    def raise_from_numpy(*args, **kwargs):
        validate.format_list(np.array([[1, 2]]).reshape(3))

    monkeypatch.setattr(cli, "_cmd_fetch", raise_from_numpy)
    monkeypatch.setenv("NQPF_CACHE_DIR", str(tmp_path))
    assert cli.main(["fetch"]) == cli.EXIT_BUG
    assert "please report" in capsys.readouterr().err
