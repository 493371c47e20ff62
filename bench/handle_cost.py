"""The CPU cost of answering one pipelined chunk, without sockets, beside the floor's.

    python -m bench.handle_cost [--count 10000] [--repeat 15] [--profile 7.2]

Feeds one chunk of ``count`` request lines straight into a qmpnuma server's `_handle` (the
path `data_received` takes: session, handlers, replies, one write) over an output that keeps
nothing, and the same chunk into the floor's `data_received`; prints microseconds per request,
the minimum over ``repeat`` runs (the minimum is the cost least disturbed by other work on a
shared machine). Each command runs with one repeated line and with a unique id per line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import runpy
import time
from collections.abc import Callable
from typing import Any

from bench.machines import STANDARD
from bench.qmp_client import request_line, requests
from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.machine import Machine
from qmpnuma.profiles import wire_types
from qmpnuma.qmp.session import QmpSession
from qmpnuma.server.runtime import MonitorState, QmpServer

COMMANDS = ("query-memdev", "query-cpus-fast", "qmp_capabilities")
_FLOOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor_server.py")


class _Sink:
    """A stream writer that drops what it is given (the part after `transport.write`)."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def _best(run: Callable[[], object], repeat: int, count: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times) / count * 1e6


def measure(count: int, repeat: int, profile: str | None) -> dict[str, float]:
    machine = (Machine.from_argv(list(STANDARD)) if profile is None
               else Machine.from_argv(list(STANDARD), profile=profile))
    types = wire_types(machine.profile)
    registry = CommandRegistry(machine)
    server = QmpServer(
        lambda: QmpSession(types.COMMANDS, types.SCHEMA, profile=machine.profile), registry)
    registry.attach(broadcast=server.broadcast, request_exit=server.request_exit)
    conn = server.open_connection(_Sink(), MonitorState(index=0))  # type: ignore[arg-type]
    server._handle(conn, request_line("qmp_capabilities"))
    floor: Any = runpy.run_path(_FLOOR)["LineAnswerer"]()
    floor.transport = _Sink()
    costs: dict[str, float] = {}
    for command in COMMANDS:
        for unique in (False, True):
            chunk = b"".join(requests(command, count, unique))
            label = f"{command} {'unique ids' if unique else 'same line'}"
            server._handle(conn, chunk)  # warm: templates, encoded replies
            costs[f"{label}: qmpnuma"] = _best(
                lambda data=chunk: server._handle(conn, data), repeat, count)
            costs[f"{label}: floor"] = _best(
                lambda data=chunk: floor.data_received(data), repeat, count)
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.handle_cost", description=__doc__)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--profile", default=None)
    options = parser.parse_args(argv)
    asyncio.set_event_loop(asyncio.new_event_loop())
    for label, cost in measure(options.count, options.repeat, options.profile).items():
        print(f"{label:45s} {cost:7.3f} µs / request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
