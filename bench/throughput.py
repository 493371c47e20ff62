"""Figures 3 and 4: one connection, sequential round trips and a pipelined burst.

The client is `bench.qmp_client` in its own process, the same for both servers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from bench.launchers import start


def _client(mode: str, sock: str, count: int) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "bench.qmp_client", mode, sock, str(count)],
        capture_output=True, text=True, check=True, timeout=300,
    )
    seconds: float = json.loads(done.stdout)["seconds"]
    return seconds


def measure(
    args: Sequence[str], repeats: int, sequential: int, burst: int
) -> dict[str, dict[str, list[float]]]:
    """Replies per second per program: ``{"roundtrips": {...}, "pipelined": {...}}``."""
    rates: dict[str, dict[str, list[float]]] = {
        "roundtrips": {"qemu": [], "qmpnuma": []},
        "pipelined": {"qemu": [], "qmpnuma": []},
    }
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        servers = {}
        try:
            for kind in ("qemu", "qmpnuma"):
                servers[kind] = start(kind, args, os.path.join(folder, f"{kind}.qmp"))
            # Alternate the two servers run by run, so that a change in the machine's load
            # during the benchmark weighs on both alike.
            for _ in range(repeats):
                for kind, running in servers.items():
                    rates["roundtrips"][kind].append(
                        sequential / _client("roundtrips", running.socket, sequential))
                for kind, running in servers.items():
                    rates["pipelined"][kind].append(
                        burst / _client("pipelined", running.socket, burst))
        finally:
            for running in servers.values():
                running.stop()
    return rates
