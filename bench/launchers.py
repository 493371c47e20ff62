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
#: `--profile=7.2` ("qmpnuma"), with `--profile=10.0` ("qmpnuma10", the default profile) and
#: with `--profile=2.9` ("qmpnuma29", the seed behaviour, which has no binary to compare with),
#: beside the real binaries; each names its profile so that the default does not decide which
#: QEMU it is compared with.
KINDS = ("floor", "qmpnuma", "qmpnuma10", "qmpnuma29", "qemu",
         *(("qemu10",) if QEMU10 is not None else ()))
#: The profile each qmpnuma kind runs, in the order the tables show them.
PROFILE_OF_KIND = {"qmpnuma": "7.2", "qmpnuma10": "10.0", "qmpnuma29": "2.9"}
#: The kind of the real QEMU of each profile that has a binary here.
QEMU_KIND_OF_PROFILE = {"7.2": "qemu", "10.0": "qemu10"}
#: The machine type the shared command lines name (`bench.machines`), and what it becomes for
#: a profile that has no such type: QEMU 2.9's newest q35 is pc-q35-2.9 (the same board as far
#: as anything measured here goes: two nodes on two RAM backends, two CPUs).
SHARED_MACHINE = "pc-q35-7.2"
MACHINE_OF_PROFILE = {"2.9": "pc-q35-2.9"}
#: The one-connection figures run the same programs.
CONNECTION_KINDS = KINDS
#: The cold-start figure adds the lean floor: the floor deferring what qmpnuma's entry point
#: defers (`bench/floor_server.py`, `QMPNUMA_FLOOR_LEAN`).
COLD_KINDS = (*KINDS, "floor_lean")
#: The environment a kind runs with beyond the bench's own (none for most).
ENV_OF_KIND = {"floor_lean": {"QMPNUMA_FLOOR_LEAN": "1"}}


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
    if kind in ("floor", "floor_lean"):
        return [sys.executable, FLOOR_SERVER]
    return [*qmpnuma_command(), f"--profile={PROFILE_OF_KIND[kind]}"]


def machine_args_of(kind: str, machine_args: Sequence[str]) -> list[str]:
    """``machine_args`` as ``kind`` runs them: the shared machine type replaced by the one its
    profile has where it lacks that type (`MACHINE_OF_PROFILE`), all else as given."""
    machine = MACHINE_OF_PROFILE.get(PROFILE_OF_KIND.get(kind, ""))
    if machine is None:
        return list(machine_args)
    return [machine if arg == SHARED_MACHINE else arg for arg in machine_args]


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
    command = [*prefix, *chosen, *COMMON_ARGS, *machine_args_of(kind, machine_args),
               "-qmp", f"unix:{sock},server=on,wait=off"]
    began = time.perf_counter()
    if env is None and kind in ENV_OF_KIND:
        env = os.environ | ENV_OF_KIND[kind]
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
