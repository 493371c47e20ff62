"""A terminating signal is reported once, however often it arrives while the process ends.

`timeout` sends its SIGTERM to the command and again to its own process group; QEMU prints one
`terminating on signal 15 from pid P (NAME)` line for both. So must qmpnuma (it printed one line
per signal received while it was ending).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import reference_pair

BASE = ["-M", "pc", "-accel", "tcg", "-nodefaults", "-display", "none", "-S"]


def _terminated_twice(command: list[str], sock: Path, gap: float) -> tuple[int, list[str]]:
    proc = subprocess.Popen(
        [*command, *BASE, "-qmp", f"unix:{sock},server=on,wait=off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the signal handling is set up once the monitor listens
    proc.send_signal(signal.SIGTERM)
    time.sleep(gap)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    lines = [re.sub(r"^\S+: ", "PROG: ", re.sub(r"pid \d+ \(.*\)", "pid P", line))
             for line in err.splitlines()]
    return proc.returncode, lines


@pytest.mark.qemu
@pytest.mark.parametrize("gap", [0.0, 0.05])
def test_terminating_signal_reported_once(tmp_path: Path, gap: float) -> None:
    pair = reference_pair("7.2")  # signal handling is the same in every release; 7.2 named
    expected = _terminated_twice([pair.binary], tmp_path / "q.sock", gap)
    assert expected == (0, ["PROG: terminating on signal 15 from pid P"])
    assert _terminated_twice(pair.qmpnuma, tmp_path / "n.sock", gap) == expected
