"""Shared test configuration: point the data layer at the offline copies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests and CI read the offline copies in ../shared/data unless told otherwise.
if not os.environ.get("NQPF_DATA_DIR") and SHARED_DATA.is_dir():
    os.environ["NQPF_DATA_DIR"] = str(SHARED_DATA)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("NQPF_DATA_DIR", ""))
    if not path.is_dir():
        pytest.fail(
            "NQPF_DATA_DIR must name the folder of offline data copies (e.g. ../shared/data) for the tests; "
            f"got {str(path)!r}."
        )
    return path


# Property tests draw fresh examples on a developer's machine but a fixed sequence in CI,
# so a CI run is repeatable; failures found locally are replayed from .hypothesis/.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
