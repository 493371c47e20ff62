"""Run `qmpnuma fleet` as its own process, as a user would, and wait until it is ready."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from bench.launchers import qmpnuma_command


@dataclass
class FleetProcess:
    process: subprocess.Popen[bytes]
    socket_dir: str
    count: int

    def socket(self, index: int) -> str:
        return f"{self.socket_dir}/vm-{index}.qmp"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


def start_fleet(count: int, socket_dir: str, args: Sequence[str]) -> FleetProcess:
    """Start a fleet of ``count`` machines; return once it reports every socket ready."""
    os.makedirs(socket_dir, exist_ok=True)  # `qmpnuma fleet` refuses a missing --socket-dir
    process = subprocess.Popen(
        [*qmpnuma_command(), "fleet", "--count", str(count), "--socket-dir", socket_dir,
         "--", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    running = FleetProcess(process, socket_dir, count)
    assert process.stderr is not None
    while True:
        line = process.stderr.readline()
        if not line:
            running.stop()
            raise RuntimeError(f"qmpnuma fleet ended before it was ready (status {process.wait()})")
        if b"machines ready" in line:
            return running
