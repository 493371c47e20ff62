"""Running a probe in a fresh interpreter, for tests about what a process imports or builds.

A test process has imported most of qmpnuma already, so whether something is imported, built or
compiled on first use can only be seen in a new interpreter that runs the probe and prints what
it found.
"""

from __future__ import annotations

import subprocess
import sys


def probe_lines(code: str, *args: str, timeout: float = 60.0) -> list[str]:
    """The lines ``code`` prints, run by this interpreter's executable with ``args``."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, timeout=timeout)
    return done.stdout.splitlines()
