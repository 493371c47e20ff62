"""Starting and stopping the two servers under test with the same QEMU command line.

Both get exactly the same arguments (QEMU's `-accel tcg -nodefaults -display none -S` plus the
machine) and a `-qmp unix:PATH,server=on,wait=off` monitor; only the program differs. Two more
programs take the same command line: the floor (`bench/floor_server.py`, a bare asyncio server
that answers every line with a fixed reply) and, when `scripts/fetch_reference_binaries.sh` has
unpacked it, QEMU 10.0.2 (`build/reference/bin/qemu-system-x86_64`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.qmp_client import connect_when_ready

QEMU = shutil.which(os.environ.get("QMPNUMA_QEMU", "qemu-system-x86_64"))
COMMON_ARGS = ("-accel", "tcg", "-nodefaults", "-display", "none", "-S")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOOR_SERVER = os.path.join(_ROOT, "bench", "floor_server.py")
_QEMU10 = os.environ.get("QMPNUMA_QEMU10",
                         os.path.join(_ROOT, "build", "reference", "bin", "qemu-system-x86_64"))
#: QEMU 10.0.2 (Debian 13's, from scripts/fetch_reference_binaries.sh), or None when absent.
QEMU10 = _QEMU10 if os.access(_QEMU10, os.X_OK) else None
#: Every program the one-connection and cold-start figures compare, floor first: qmpnuma with
#: `--profile=7.2` ("qmpnuma") and with `--profile=10.0` ("qmpnuma10", the default profile),
#: beside the real binaries; each names its profile so that the default does not decide which
#: QEMU it is compared with.
KINDS = ("floor", "qmpnuma", "qmpnuma10", "qemu", *(("qemu10",) if QEMU10 is not None else ()))
#: The one-connection figures run the same programs.
CONNECTION_KINDS = KINDS


def qmpnuma_command() -> list[str]:
    """The installed `qmpnuma` console script (what users run), else `python -m qmpnuma.cli`."""
    script = os.path.join(os.path.dirname(sys.executable), "qmpnuma")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-m", "qmpnuma.cli"]


def program(kind: str) -> list[str]:
    if kind == "qemu":
        if QEMU is None:
            raise RuntimeError("qemu-system-x86_64 is not installed")
        return [QEMU]
    if kind == "qemu10":
        if QEMU10 is None:
            raise RuntimeError("build/reference/bin/qemu-system-x86_64 is missing")
        return [QEMU10]
    if kind == "floor":
        return [sys.executable, FLOOR_SERVER]
    if kind == "qmpnuma10":
        return [*qmpnuma_command(), "--profile=10.0"]
    return [*qmpnuma_command(), "--profile=7.2"]


@dataclass
class Running:
    """A started server and how long it took to answer its first query."""

    process: subprocess.Popen[bytes]
    socket: str
    started: float
    #: Seconds from process start to the first query-memdev reply.
    first_reply: float = 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if os.path.exists(self.socket):
            os.unlink(self.socket)


def start(
    kind: str,
    machine_args: Sequence[str],
    sock: str,
    *,
    prefix: Sequence[str] = (),
    stderr: int | None = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
    command_line: Sequence[str] | None = None,
) -> Running:
    """Start ``kind`` (one of KINDS), or the program ``command_line`` when given; return once
    its first query-memdev is answered."""
    if os.path.exists(sock):
        os.unlink(sock)
    chosen = program(kind) if command_line is None else list(command_line)
    command = [*prefix, *chosen, *COMMON_ARGS, *machine_args,
               "-qmp", f"unix:{sock},server=on,wait=off"]
    began = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=stderr, env=env)
    running = Running(process, sock, began)
    try:
        client = connect_when_ready(sock, began + 60)
        client.handshake()
        client.query()
        running.first_reply = time.perf_counter() - began
    except BaseException:
        running.stop()
        raise
    # A monitor serves one client at a time: leave the socket to the measurements.
    client.close()
    return running


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (`VmRSS`)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")
