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
import sys
from dataclasses import dataclass
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


#: The release whose recordings sit in tests/data itself (the first reference binary); another
#: release's recordings are in tests/data/qemu-X.Y (``record_test_data.py --output``).
FIRST_REFERENCE_RELEASE = "7.2"


def recording_path(name: str, profile: str) -> Path:
    """Where scripts/record_test_data.py puts the recording ``name`` (a file name) of
    ``profile``'s binary."""
    if profile == FIRST_REFERENCE_RELEASE:
        return DATA / name
    return DATA / f"qemu-{profile}" / name


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
    """The real qemu-system-x86_64 7.2, for the few tests pinned to the 7.2 profile (its recorded
    data in tests/data, hand-written 7.2 schema fragments): they name the 7.2 profile on the
    qmpnuma side themselves. A suite that holds for every release takes ``reference``."""
    return real_qemu()


# --- Reference binaries beside 7.2: QEMU 10.0.2 and libvirt 11.3 -------------------------------
# Unpacked from Debian's bookworm-backports suite into a private prefix by
# scripts/fetch_reference_binaries.sh (which .ci/run calls); each is found through one
# environment setting, defaulting to the wrapper the script writes into build/reference/bin.

#: Where scripts/fetch_reference_binaries.sh puts the binaries when given no prefix.
REFERENCE_PREFIX = Path(__file__).resolve().parents[1] / "build" / "reference"
#: The environment setting naming each reference QEMU beyond 7.2, by version.
REFERENCE_QEMU_SETTINGS = {"10.0": "QMPNUMA_QEMU_10_0"}
#: The environment setting naming each reference virsh beyond Debian 12's 9.0, by version.
REFERENCE_VIRSH_SETTINGS = {"11.3": "QMPNUMA_VIRSH_11_3"}


def _reference_binary(setting: str, name: str, what: str) -> str:
    """The executable ``setting`` names (default: the prefix's wrapper ``name``), or missing()."""
    path = os.environ.get(setting) or str(REFERENCE_PREFIX / "bin" / name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        missing(
            f"{what} not found at {path}: run scripts/fetch_reference_binaries.sh "
            f"(or point {setting} at it)"
        )
    return path


def reference_qemu(version: str) -> str:
    """The reference qemu-system-x86_64 of ``version`` (e.g. "10.0"); fails under CI if absent."""
    return _reference_binary(REFERENCE_QEMU_SETTINGS[version], "qemu-system-x86_64",
                             f"QEMU {version}")


def reference_virsh(version: str) -> str:
    """The reference virsh of libvirt ``version`` (e.g. "11.3"); fails under CI if absent."""
    return _reference_binary(REFERENCE_VIRSH_SETTINGS[version], "virsh", f"virsh {version}")


@pytest.fixture(scope="session")
def qemu_10_0() -> str:
    """The real QEMU 10.0.2 (a wrapper that points it at its own modules and firmware)."""
    return reference_qemu("10.0")


@pytest.fixture(scope="session")
def virsh_11_3() -> str:
    """libvirt 11.3's virsh (a wrapper that gives it its own libraries, driver and CPU map)."""
    return reference_virsh("11.3")


# --- Pairs: a real QEMU and the qmpnuma profile that imitates it --------------------------------
# A differential suite that holds for several versions takes the ``reference`` fixture instead of
# ``qemu_binary``: it runs once per pair, the real binary and qmpnuma with that profile.

#: The profiles with a real binary to compare with, each named like its binary's release.
REFERENCE_PROFILES = ("7.2", "10.0")


@dataclass(frozen=True)
class Reference:
    """One real QEMU binary and the qmpnuma profile that imitates it."""

    profile: str
    binary: str

    @property
    def qmpnuma(self) -> list[str]:
        """The command that starts qmpnuma as this profile's QEMU (QEMU arguments follow)."""
        return [sys.executable, "-m", "qmpnuma.cli", f"--profile={self.profile}"]


def reference_pair(profile: str) -> Reference:
    """The pair of ``profile``: Debian 12's QEMU for 7.2, the unpacked reference binaries beyond."""
    binary = real_qemu() if profile == "7.2" else reference_qemu(profile)
    return Reference(profile, binary)


@pytest.fixture(scope="session", params=REFERENCE_PROFILES, ids=lambda p: f"qemu-{p}")
def reference(request: pytest.FixtureRequest) -> Reference:
    """Each real QEMU beside the qmpnuma profile that imitates it (a missing binary fails
    under CI and skips elsewhere)."""
    return reference_pair(request.param)
