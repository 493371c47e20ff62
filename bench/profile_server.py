"""Where a qmpnuma server spends its time per request: cProfile plus event-loop turns.

    python -m bench.profile_server [--command NAME] [--mode roundtrips|pipelined] [--count N]
                                   [--unique-ids]

Starts the standard machine's server in this process (as `qmpnuma` would), drives it with
`bench.qmp_client` in a separate process, and prints the event loop's turns (selector polls)
per request, the read chunks per request, and cProfile's top functions by own time for the
measured requests only. It is the tool behind the "where the time goes" note of issue 12.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import selectors
import sys
import tempfile
import time
from typing import Any

from bench.machines import STANDARD
from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.machine import Machine
from qmpnuma.profiles import wire_types
from qmpnuma.qmp.session import QmpSession
from qmpnuma.server.listeners import bind_unix
from qmpnuma.server.runtime import MonitorState, QmpServer


class CountingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The default selector, counting its polls (one per event-loop turn that waits)."""

    polls = 0

    def select(self, timeout: float | None = None) -> Any:
        CountingSelector.polls += 1
        return super().select(timeout)


async def _serve(
    path: str, mode: str, count: int, command: str, unique_ids: bool
) -> dict[str, Any]:
    machine = Machine.from_argv(list(STANDARD))
    types = wire_types(machine.profile)
    registry = CommandRegistry(machine)
    server = QmpServer(
        lambda: QmpSession(types.COMMANDS, types.SCHEMA, profile=machine.profile), registry)
    registry.attach(broadcast=server.broadcast, request_exit=server.request_exit)
    chunks = 0
    handling = 0.0
    original = server._handle  # counting (and timing) what the read loop hands up

    def counted(conn: Any, data: bytes) -> Any:
        nonlocal chunks, handling
        chunks += 1
        began = time.perf_counter()
        try:
            return original(conn, data)
        finally:
            handling += time.perf_counter() - began

    server._handle = counted  # type: ignore[method-assign]
    await server.start([(bind_unix(path), MonitorState(index=0))])
    flags = ["--unique-ids"] if unique_ids else []
    warm = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.qmp_client", mode, path, "200", command, *flags,
        stdout=asyncio.subprocess.DEVNULL)
    await warm.wait()
    chunks, handling = 0, 0.0
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.qmp_client", mode, path, str(count), command, *flags,
        stdout=asyncio.subprocess.PIPE)
    timed, _ = await client.communicate()  # unprofiled: the time of `_handle` per request
    plain_handling, plain_chunks = handling, chunks
    profiler = cProfile.Profile()
    polls, chunks = CountingSelector.polls, 0
    profiler.enable()
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.qmp_client", mode, path, str(count), command, *flags,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await client.communicate()
    profiler.disable()
    polls = CountingSelector.polls - polls
    await server.close()
    stats = pstats.Stats(profiler)
    return {"result": out.decode().strip(), "polls": polls, "chunks": chunks, "stats": stats,
            "plain": timed.decode().strip(), "handling": plain_handling,
            "plain_chunks": plain_chunks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_server", description=__doc__)
    parser.add_argument("--command", default="query-memdev")
    parser.add_argument("--mode", default="roundtrips", choices=("roundtrips", "pipelined"))
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--unique-ids", action="store_true",
                        help="each request carries its own id (as real clients send them)")
    options = parser.parse_args(argv)
    loop = asyncio.SelectorEventLoop(CountingSelector())
    with tempfile.TemporaryDirectory(prefix="qmpnuma-prof-") as folder:
        found = loop.run_until_complete(
            _serve(os.path.join(folder, "p.qmp"), options.mode, options.count, options.command,
                   options.unique_ids))
    loop.close()
    total = options.count + 50 + 2  # measured requests, the client's warm-up and handshake
    ids = " (unique ids)" if options.unique_ids else ""
    print(f"{options.mode} {options.count} x {options.command}{ids}: client says {found['result']}")
    print(f"unprofiled run: client says {found['plain']}; the server's `_handle` (session, "
          f"handlers, replies, write) took {found['handling'] / options.count * 1e6:.2f} µs "
          f"per request in {found['plain_chunks']} chunks")
    print(f"event-loop polls per request: {found['polls'] / total:.4f} ({found['polls']} in "
          f"all); read chunks per request: {found['chunks'] / total:.4f} ({found['chunks']})")
    found["stats"].sort_stats("tottime").print_stats(options.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
