"""Shared fixtures: where the real QEMU is, and how a test that needs it behaves without it.

Under CI (the ``CI`` environment variable set) a missing QEMU is a failure, because the
differential tests are the project's proof of fidelity; on a user's machine they skip and say why.
"""

from __future__ import annotations

import os
import shutil

import pytest

QEMU_BINARY = os.environ.get("QMPNUMA_QEMU", "qemu-system-x86_64")


def real_qemu() -> str:
    """Return the path of the reference QEMU, failing under CI and skipping elsewhere if absent."""
    path = shutil.which(QEMU_BINARY)
    if path is None:
        reason = (
            f"{QEMU_BINARY} not found: install Debian's qemu-system-x86 "
            "(apt-get install qemu-system-x86) to run the differential tests"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def qemu_binary() -> str:
    """The real qemu-system-x86_64 7.2 used as the reference."""
    return real_qemu()
