"""Run the real QEMU and qmpnuma on the same command line and collect what a user would see.

Real QEMU is started with ``-daemonize``: its parent exits 1 with the error on stderr when start-up
fails, or 0 once the machine is built, and the daemon is then killed through its pidfile. That keeps
an accepted configuration from costing seconds. qmpnuma is run in-process through
``Machine.from_argv`` (the same code path as ``qmpnuma check``), with QEMU's program name.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from qmpnuma.errors import AbortExit, ConfigError
from qmpnuma.machine import Machine

PROGNAME = "qemu-system-x86_64"
FIXED_ARGS = ["-accel", "tcg", "-nodefaults", "-display", "none", "-S"]


@dataclass(frozen=True)
class Outcome:
    """Exit status and standard error of one start-up attempt."""

    status: int
    stderr: str


def run_real(qemu: str, args: Sequence[str], timeout: float = 20.0) -> Outcome:
    """Start the real QEMU daemonized on ``args`` and return how start-up ended."""
    with tempfile.TemporaryDirectory(prefix="qmpnuma-ref-") as tmp:
        pidfile = os.path.join(tmp, "qemu.pid")
        proc = subprocess.run(
            [qemu, *FIXED_ARGS, *args, "-daemonize", "-pidfile", pidfile],
            capture_output=True,
            timeout=timeout,
            cwd=tmp,
            check=False,
        )
        if os.path.exists(pidfile):
            try:
                with open(pidfile) as handle:
                    os.kill(int(handle.read().strip()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        return Outcome(proc.returncode, proc.stderr.decode("utf-8", "replace"))


def compare_startups(
    qemu: str, cases: Sequence[Sequence[str]], profile: str = "7.2"
) -> tuple[list[Outcome], list[str]]:
    """Start each case on the real QEMU (two at a time) and on the model.

    Returns QEMU's outcomes, in order, and a readable report line for every case whose exit
    status or stderr differ.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        real = list(pool.map(lambda args: run_real(qemu, args), cases))
    diffs = []
    for args, ref in zip(cases, real, strict=True):
        ours = run_model(args, profile)
        if ours != ref:
            diffs.append(f"{shlex.join(args)}\n  qemu:    {ref}\n  qmpnuma: {ours}")
    return real, diffs


def run_model(args: Sequence[str], profile: str = "7.2") -> Outcome:
    """Build the qmpnuma machine for ``args`` and return the same kind of outcome."""
    try:
        machine = Machine.from_argv([*FIXED_ARGS, *args], profile=profile, progname=PROGNAME)
    except AbortExit as err:
        # run_real daemonizes: QEMU's waiting parent reports the child's abort as exit 1.
        return Outcome(1, err.stderr)
    except ConfigError as err:
        return Outcome(err.status, err.stderr)
    return Outcome(0, "".join(machine.warnings))


def transcript_difference(label: str, real: Sequence[bytes],
                          ours: Sequence[bytes]) -> tuple[int, str | None]:
    """How many lines of two reply transcripts are identical position by position, and, when
    they differ, a report of the first differing line (``label`` names the case)."""
    identical = sum(1 for a, b in zip(real, ours, strict=False) if a == b)
    if list(real) == list(ours):
        return identical, None
    first = next((i for i, (a, b) in enumerate(zip(real, ours, strict=False)) if a != b),
                 min(len(real), len(ours)))
    return identical, (f"{label} line {first}:\n  qemu:    "
                       f"{real[first] if first < len(real) else b'<none>'!r}\n  qmpnuma: "
                       f"{ours[first] if first < len(ours) else b'<none>'!r}")


def compare_transcripts(
    cases: Sequence[tuple[str, Sequence[bytes], Sequence[bytes]]],
) -> tuple[int, int, list[str]]:
    """Over (label, real, ours) transcripts: lines compared (the real ones), lines identical,
    and a report of the first difference of each case that differs."""
    compared = identical = 0
    failures: list[str] = []
    for label, real, ours in cases:
        compared += len(real)
        same, failure = transcript_difference(label, real, ours)
        identical += same
        if failure is not None:
            failures.append(failure)
    return compared, identical, failures
