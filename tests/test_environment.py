"""environment.yml and pyproject.toml must declare the same dependencies."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _normalise(spec: str) -> tuple[str, str, str]:
    req = Requirement(spec)
    return canonicalize_name(req.name), str(req.specifier), str(req.marker or "")


def test_environment_matches_pyproject(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"])
    for extra in ("book", "test", "cluster"):
        declared |= set(project["optional-dependencies"][extra])
    pyproject_specs = {_normalise(s) for s in declared}

    env = yaml.safe_load((root / "environment.yml").read_text())
    conda, pip = [], []
    for item in env["dependencies"]:
        if isinstance(item, dict):
            pip.extend(item["pip"])
        else:
            conda.append(item)
    conda = [c for c in conda if Requirement(c).name not in {"python", "pip"}]
    env_specs = {_normalise(s) for s in conda + pip}

    assert env_specs - pyproject_specs == set(), "in environment.yml but not in pyproject.toml"
    assert pyproject_specs - env_specs == set(), "in pyproject.toml but not in environment.yml"


def test_python_versions_agree(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((root / "environment.yml").read_text())
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == [f"python{project['requires-python']}"]


LOCK = "requirements/book-lock.txt"


def _lock(root) -> dict[str, str]:
    pins = {}
    for line in (root / LOCK).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{LOCK}: {line!r} is not an exact pin"
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def test_lock_pins_every_declared_dependency_within_its_bounds(root):
    pins = _lock(root)
    assert "nqpf-helpers" not in pins, "the lock is for the book's environment; the package is installed from source"
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("book", "test"):
        declared += project["optional-dependencies"][extra]
    env = {"platform_machine": "x86_64", "sys_platform": "linux", "python_version": "3.11"}
    for spec in declared:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate(env):
            continue  # e.g. tensorflow (not -cpu) on ARM: the lock is for Linux x86_64
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is declared in pyproject.toml but not pinned in {LOCK}; run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{LOCK} pins {req.name}=={pins[name]}, outside pyproject.toml's {req.specifier}; run `make lock`"
        )


def test_make_install_uses_the_lock(root):
    # Both installers (uv, and pip as its fallback) take the exact versions from the lock,
    # then the package itself without dependencies.
    makefile = (root / "Makefile").read_text()
    assert f"LOCK := {LOCK}" in makefile
    assert "uv pip install --python $(BIN)/python -r $(LOCK)" in makefile
    assert "uv pip install --python $(BIN)/python --no-deps -e ." in makefile
    assert "python -m pip install -r $(LOCK)" in makefile
    assert "python -m pip install --no-deps -e ." in makefile
