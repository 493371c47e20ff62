"""Figure 7: how building the model grows with the topology.

`Machine.from_argv` (parse and build, no server) for 1 to 128 NUMA nodes and for up to
pc-q35-7.2's CPU limit, and for context the real QEMU's start to first reply for a few of the
same command lines.
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from bench.launchers import start
from bench.machines import Q35_CPU_LIMIT, numa_topology
from qmpnuma.machine import Machine

NODE_STEPS = (1, 2, 4, 8, 16, 32, 64, 128)
CPU_STEPS = (1, 8, 32, 64, 128, 192, 255, Q35_CPU_LIMIT)


def build_seconds(args: Sequence[str], repeats: int) -> list[float]:
    """Build times with the cyclic garbage collector held off, as `timeit` does, so that a
    collection of earlier steps' garbage does not land inside one step's timings."""
    runs = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            began = time.perf_counter()
            Machine.from_argv(args)
            runs.append(time.perf_counter() - began)
    finally:
        gc.enable()
    return runs


def _qemu_seconds(args: Sequence[str], repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        sock = os.path.join(folder, "s.qmp")
        try:
            runs = []
            for _ in range(repeats):
                running = start("qemu", args, sock)
                runs.append(running.first_reply)
                running.stop()
            return {"median": statistics.median(runs), "runs": runs}
        except Exception as err:  # QEMU refusing a topology is a result, not a crash
            return {"error": str(err)}


def measure(repeats: int, qemu_repeats: int) -> dict[str, list[dict[str, Any]]]:
    """Per step: qmpnuma build times (seconds), and QEMU start-to-reply at some steps."""
    nodes = []
    for count in NODE_STEPS:
        args = numa_topology(count)
        entry: dict[str, Any] = {"nodes": count, "cpus": count,
                                 "build": build_seconds(args, repeats)}
        if count in (1, 16, 128):
            entry["qemu"] = _qemu_seconds(args, qemu_repeats)
        nodes.append(entry)
    cpus = []
    for count in CPU_STEPS:
        args = numa_topology(2, count)
        # Under TCG QEMU (and qmpnuma) refuse APIC ids from 255 up; with KVM's x2APIC the
        # q35 limit of 288 holds, so the largest steps are built as a KVM machine.
        build_args = [*args, "-accel", "kvm"] if count > 255 else args
        entry = {"nodes": 2, "cpus": count, "build": build_seconds(build_args, repeats)}
        if count in (1, 64, 255):  # QEMU with TCG refuses more than 255 (x2APIC)
            entry["qemu"] = _qemu_seconds(args, qemu_repeats)
        cpus.append(entry)
    return {"nodes": nodes, "cpus": cpus}
