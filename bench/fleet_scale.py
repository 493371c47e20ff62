"""Fleets of 1,000 to 100,000 machines in one process: start time, RSS per machine, a sweep.

    python -m bench.fleet_scale COUNT [--window W] [--concurrency C]  -> JSON on stdout

One fresh interpreter per size (so that RSS is the fleet's own). It builds COUNT machines of
the standard command line with their servers (`Fleet.build`: the first machine is built from
argv, every other one is cloned from it, sharing its immutable parts), then sweeps a request
across all of them: each member's socket is bound, a client connects, reads the greeting,
negotiates and sends `query-memdev`, and the reply must be byte for byte the first machine's.

Sockets are bound W at a time (all at once when COUNT fits), because every listening socket
is an open file: the hard RLIMIT_NOFILE of the machine the README figures come from is 20,000
and cannot be raised there, so 100,000 sockets cannot listen at once in any process. The
machines, their servers and their state all exist for the whole run; only the listening
sockets of a window are open. The client runs on the same event loop (asyncio streams,
C connections at a time), so the sweep rate is that of client and server together. The
sockets go to a tmpfs folder (`socket_parent`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from bench.machines import STANDARD
from qmpnuma.server.fleet import Fleet, FleetMember

NEGOTIATE = b'{"execute": "qmp_capabilities"}\n'
QUERY = b'{"execute": "query-memdev"}\n'


def socket_parent() -> str | None:
    """Where the socket folder goes: a tmpfs (/dev/shm) when there is one, since binding a unix
    socket on this machine's ext4 takes ~0.75 ms against ~0.01 ms on tmpfs (sockets normally
    live on tmpfs: /run)."""
    shm = "/dev/shm"
    return shm if os.access(shm, os.W_OK) else None


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _ask(path: str) -> bytes:
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        await reader.readline()
        writer.write(NEGOTIATE)
        await reader.readline()
        writer.write(QUERY)
        return await reader.readline()
    finally:
        writer.close()


async def _sweep(members: list[FleetMember], window: int, concurrency: int,
                 expected: bytes | None) -> tuple[int, int, bytes | None]:
    """Bind, ask and unbind every member, ``window`` sockets at a time: (good, bad, reply)."""
    good = bad = 0
    for first in range(0, len(members), window):
        part = members[first:first + window]
        for member in part:
            await member.start()
        async def worker(queue: Iterator[FleetMember]) -> None:
            nonlocal good, bad, expected
            for member in queue:
                try:
                    reply = await _ask(member.socket)
                except (OSError, asyncio.IncompleteReadError):
                    bad += 1
                    continue
                if expected is None:
                    expected = reply
                if reply == expected and reply.startswith(b'{"return": ['):
                    good += 1
                else:
                    bad += 1

        queue = iter(part)  # shared: each worker takes the next member
        await asyncio.gather(*(worker(queue) for _ in range(concurrency)))
        for member in part:
            await member.stop()
            member.stopped = False  # closed, not quit: the machine stays in the fleet
    return good, bad, expected


async def run(count: int, window: int, concurrency: int) -> dict[str, Any]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    window = max(1, min(window, count, hard - 2 * concurrency - 200))
    gc.collect()
    before = rss_kib()
    with tempfile.TemporaryDirectory(prefix="qmpnuma-fleet-", dir=socket_parent()) as folder:
        fleet = Fleet.uniform(count, folder, STANDARD)
        began = time.perf_counter()
        fleet.build()
        build = time.perf_counter() - began
        built = rss_kib()
        began = time.perf_counter()
        good, bad, _ = await _sweep(fleet.members, window, concurrency, None)
        sweep = time.perf_counter() - began
        after = rss_kib()
        listed = len(fleet.members)
        cloned = fleet.cache.cloned
        await fleet.close()
    return {
        "count": count, "window": window, "concurrency": concurrency,
        "open_file_limit": hard, "members": listed, "cloned": cloned,
        "build_s": build, "rss_before_kib": before, "rss_built_kib": built,
        "rss_after_sweep_kib": after, "per_machine_kib": (built - before) / count,
        "per_machine_after_sweep_kib": (after - before) / count,
        "sweep_s": sweep, "replies_ok": good, "lost_or_wrong": bad,
        "sweep_per_s": count / sweep if sweep else 0.0,
    }


def measure(counts: list[int], window: int = 15000,
            concurrency: int = 32) -> list[dict[str, Any]]:
    """One fresh interpreter per fleet size; their JSON results, smallest first."""
    results = []
    for count in counts:
        done = subprocess.run(
            [sys.executable, "-m", "bench.fleet_scale", str(count), "--window", str(window),
             "--concurrency", str(concurrency)],
            capture_output=True, text=True, timeout=1800, check=True,
            env=os.environ | {"PYTHONHASHSEED": "0"},
        )
        results.append(json.loads(done.stdout))
        print(f"bench: fleet of {count}: {results[-1]}", file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_scale", description=__doc__)
    parser.add_argument("count", type=int)
    parser.add_argument("--window", type=int, default=15000)
    parser.add_argument("--concurrency", type=int, default=32)
    options = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(options.count, options.window, options.concurrency))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
