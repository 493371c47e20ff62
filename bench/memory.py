"""Figure 6: resident memory of idle fleets of growing size against one idle QEMU.

Per machine is reported two ways: the fleet's RSS divided by its size, and the marginal cost
(RSS(N) − RSS(1)) / (N − 1), which leaves out the interpreter and the shared tables.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence

from bench.fleet_process import start_fleet
from bench.launchers import rss_kib, start


def fleet_rss(count: int, args: Sequence[str]) -> int:
    """KiB resident in an idle `qmpnuma fleet --count COUNT` once all sockets are ready."""
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        fleet = start_fleet(count, os.path.join(folder, "fleet"), args)
        try:
            time.sleep(0.3)
            return rss_kib(fleet.process.pid)
        finally:
            fleet.stop()


def qemu_rss(args: Sequence[str]) -> int:
    """KiB resident in one idle QEMU after its first reply."""
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        running = start("qemu", args, os.path.join(folder, "q.qmp"))
        try:
            time.sleep(0.3)
            return rss_kib(running.process.pid)
        finally:
            running.stop()


def measure(args: Sequence[str], sizes: Sequence[int], repeats: int) -> dict[str, list[int]]:
    """RSS in KiB per fleet size (key "1" is the one-machine baseline) and for QEMU."""
    results: dict[str, list[int]] = {"qemu": [qemu_rss(args) for _ in range(repeats)]}
    for count in (1, *sizes):
        results[str(count)] = [fleet_rss(count, args) for _ in range(repeats)]
    return results
