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
