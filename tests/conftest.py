"""Shared fixtures: where the real QEMU is, and how a test that needs it behaves without it.

Under CI (the ``CI`` environment variable set) a missing QEMU is a failure, because the
differential tests are the project's proof of fidelity; on a user's machine they skip and say why.
The same holds for the reference data in ``tests/data/`` (recorded from the real QEMU by
``scripts/record_test_data.py``): no test reads anything outside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, NoReturn

import pytest

QEMU_BINARY = os.environ.get("QMPNUMA_QEMU", "qemu-system-x86_64")
#: The reference data recorded from the real QEMU by scripts/record_test_data.py.
DATA = Path(__file__).resolve().parent / "data"


def missing(reason: str) -> NoReturn:
    """Stop a test that lacks something it needs: a failure under CI, a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def real_qemu() -> str:
    """Return the path of the reference QEMU, failing under CI and skipping elsewhere if absent."""
    path = shutil.which(QEMU_BINARY)
    if path is None:
        missing(
            f"{QEMU_BINARY} not found: install Debian's qemu-system-x86 "
            "(apt-get install qemu-system-x86) to run the differential tests"
        )
    return path


def recorded_data(path: Path) -> Any:
    """The JSON of a recording in tests/data; a missing one fails under CI and skips elsewhere."""
    if not path.is_file():
        missing(
            f"{path} not generated yet: record it with "
            ".venv/bin/python scripts/record_test_data.py (needs qemu-system-x86_64)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def qemu_binary() -> str:
    """The real qemu-system-x86_64 7.2 used as the reference."""
    return real_qemu()
