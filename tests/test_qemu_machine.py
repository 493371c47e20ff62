"""QEMU's own launcher, `qemu.machine.QEMUMachine`, drives qmpnuma as it drives the real QEMU.

iotests, avocado and many CI tools start QEMU through QEMUMachine (``python/qemu/machine`` in
QEMU's source). Both its 7.2 version (it listens itself and passes a ``path=`` chardev without
``server=on``) and its 10.0 version (it passes one end of a socket pair as ``fd=N``) are fetched
from Debian's QEMU source packages by ``scripts/fetch_qemu_python.sh`` (never kept in this
repository) and run, in every variant the harness offers, against the real QEMU of the same
release and against qmpnuma with that release's profile (given as ``QMPNUMA_PROFILE``, since the
harness passes only QEMU's arguments); the outcomes (launch, queries, a DIMM hot-plug, events,
shutdown, exit code) must be equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import reference_pair

REPO = Path(__file__).resolve().parents[1]
HARNESS_DIR = Path(os.environ.get("QMPNUMA_QEMU_PYTHON", REPO / "build" / "qemu-python"))
DRIVER = Path(__file__).with_name("qemu_machine_driver.py")
QMPNUMA = str(Path(sys.executable).with_name("qmpnuma-system-x86_64"))

HARNESS_VERSIONS = ("7.2", "10.0")
VARIANTS = ("default", "path", "tcp", "console", "noqmp")


def harness(version: str) -> Path:
    """The `python/` directory of QEMU `version`'s source, fetched on first use.

    Fails under CI when it cannot be had, and skips with the reason elsewhere.
    """
    python_dir = HARNESS_DIR / version / "python"
    if not (python_dir / "qemu" / "machine" / "machine.py").is_file():
        fetch = subprocess.run(
            ["bash", str(REPO / "scripts" / "fetch_qemu_python.sh"), str(HARNESS_DIR)],
            capture_output=True, text=True, check=False,
        )
        if fetch.returncode != 0 or not python_dir.is_dir():
            reason = f"QEMU {version}'s python/qemu could not be fetched: {fetch.stderr.strip()}"
            if os.environ.get("CI"):
                pytest.fail(reason)
            pytest.skip(reason)
    return python_dir


def drive(python_dir: Path, binary: str, variant: str, profile: str) -> dict[str, Any]:
    """Run the driver against `binary` with the harness at `python_dir`; its outcome. qmpnuma
    takes ``profile`` from the environment the harness passes on."""
    env = {**os.environ, "PYTHONPATH": str(python_dir), "QMPNUMA_PROFILE": profile}
    with tempfile.TemporaryDirectory(prefix="qm-") as workdir:
        done = subprocess.run(
            [sys.executable, str(DRIVER), binary, variant, workdir],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        outcome: dict[str, Any] = json.loads(done.stdout)
        leftovers = sorted(os.listdir(workdir))
    outcome["files-left"] = [name for name in leftovers if not name.endswith(".log")]
    return outcome


@pytest.mark.qemu
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("version", HARNESS_VERSIONS)
def test_qemu_machine_same_outcome(version: str, variant: str) -> None:
    """Each harness with the QEMU of its own release (7.2's with 7.2, 10.0's with 10.0.2)."""
    python_dir = harness(version)
    real = reference_pair(version)
    expected = drive(python_dir, real.binary, variant, real.profile)
    assert expected["launch"] == "ok"
    assert drive(python_dir, QMPNUMA, variant, real.profile) == expected
