"""Figure 1: process start to the first `query-memdev` reply, and where qmpnuma's time goes.

The same command line is started alternately with QEMU and with qmpnuma (alternating spreads
any drift of the machine's load over both). qmpnuma's start is then taken apart phase by phase
(`bench.startup_phases`) under `python -X importtime`, whose self times are grouped by package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bench.launchers import COLD_KINDS, start


def measure(args: Sequence[str], repeats: int) -> dict[str, list[float]]:
    """Seconds to first reply, per program (floor, qmpnuma, QEMU...), ``repeats`` times each.

    Each round also times a bare `python -c pass` ("python") and `python -c "import asyncio"`
    ("python_asyncio"), so the floor's phases come from the same rounds as its total.
    """
    times: dict[str, list[float]] = {kind: [] for kind in (*COLD_KINDS, "python",
                                                           "python_asyncio")}
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        sock = os.path.join(folder, "cold.qmp")
        for _ in range(repeats):
            for kind in COLD_KINDS:
                running = start(kind, args, sock)
                times[kind].append(running.first_reply)
                running.stop()
            times["python"] += python_floor(1)
            times["python_asyncio"] += python_floor(1, "import asyncio")
    return times


def _group(module: str) -> str:
    """The package a module is accounted to: `qmpnuma.x` stays two levels, others one."""
    parts = module.strip().split(".")
    if parts[0] == "qmpnuma" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def import_breakdown(args: Sequence[str]) -> dict[str, Any]:
    """qmpnuma's start-up phases (ms) and import self time per package, largest first.

    Runs `bench.startup_phases` under `python -X importtime` in a fresh interpreter.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bench.startup_phases", *args],
        capture_output=True, text=True, check=True, timeout=120,
    )
    phases: dict[str, float] = json.loads(done.stdout)
    per_group: dict[str, float] = defaultdict(float)
    total = 0.0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        fields = line.split("|")
        self_us = float(fields[0].split(":")[1])
        per_group[_group(fields[2])] += self_us / 1000
        total += self_us / 1000
    ranked = sorted(per_group.items(), key=lambda item: item[1], reverse=True)
    return {
        "phases_ms": phases,
        "imports_ms": total,
        "top": [{"package": name, "ms": round(ms, 1)} for name, ms in ranked[:10]],
    }


def python_floor(repeats: int = 5, code: str = "pass") -> list[float]:
    """Seconds for a bare `python -c CODE` (default `pass`: the interpreter's own start) up to
    the end of ``code``: the process leaves with `os._exit`, since the interpreter's teardown
    (10-20 ms once asyncio is imported) is no part of a start, and the servers' cold start
    is timed to their first reply, not to their exit."""
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"{code}; import os; os._exit(0)"], check=True)
        runs.append(time.perf_counter() - began)
    return runs


def phases_of_rounds(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """The floor's cold start taken apart from `measure`'s rounds (ms): the interpreter, then
    `import asyncio` (the median difference of the two bare starts of each round)."""
    bare = sorted(times["python"])
    extra = sorted(b - a for a, b in zip(times["python"], times["python_asyncio"], strict=True))
    middle = len(bare) // 2
    return {"python -c pass": {"ms": bare[middle] * 1000, "min": bare[0] * 1000,
                               "max": bare[-1] * 1000},
            "import asyncio": {"ms": extra[middle] * 1000}}


def floor_phases(repeats: int = 7) -> dict[str, dict[str, float]]:
    """The floor's cold start taken apart: the interpreter, then `import asyncio` (ms).

    `python -c pass` and `python -c "import asyncio"` alternate ``repeats`` times; the medians
    are reported with their spread. The rest of the floor's cold start (event loop, bind, the
    first client and reply) is its total minus these two, which the report works out.
    """
    bare: list[float] = []
    with_asyncio: list[float] = []
    for _ in range(repeats):
        bare += python_floor(1)
        with_asyncio += python_floor(1, "import asyncio")
    bare_ms = sorted(bare)[repeats // 2] * 1000
    asyncio_ms = sorted(with_asyncio)[repeats // 2] * 1000
    return {"python -c pass": {"ms": bare_ms, "min": min(bare) * 1000, "max": max(bare) * 1000},
            "import asyncio": {"ms": asyncio_ms - bare_ms}}
