"""Figure 5: 100 clients on 100 machines at once, a fleet against 100 QEMU processes.

Both sides get the same load client (`bench.load_client`, one process with one connection per
machine, each doing sequential round trips). On this small machine the client, the servers and
the 100 QEMU processes all share the same CPUs, which is part of what is measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from bench.fleet_process import start_fleet
from bench.launchers import Running, start
from bench.stats import percentile


def _load(paths: list[str], per_client: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.load_client", str(per_client), *paths],
        capture_output=True, text=True, check=True, timeout=600,
    )
    raw = json.loads(done.stdout)
    latencies: list[float] = raw["latencies"]
    return {
        "replies_per_s": raw["replies"] / raw["seconds"],
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def measure(
    args: Sequence[str], machines: int, per_client: int, repeats: int
) -> dict[str, list[dict[str, Any]]]:
    """Per program, one result per repeat: replies/s and p50/p99 latency in ms."""
    results: dict[str, list[dict[str, Any]]] = {"qemu": [], "qmpnuma": []}
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        fleet = start_fleet(machines, os.path.join(folder, "fleet"), args)
        qemus: list[Running] = []
        try:
            for index in range(machines):
                qemus.append(start("qemu", args, os.path.join(folder, f"q{index}.qmp")))
            sockets = {
                "qmpnuma": [fleet.socket(index) for index in range(machines)],
                "qemu": [running.socket for running in qemus],
            }
            # Both sides stay up for the whole figure and take turns, run by run.
            for _ in range(repeats):
                for kind, paths in sockets.items():
                    results[kind].append(_load(paths, per_client))
        finally:
            fleet.stop()
            for running in qemus:
                running.stop()
    return results
