"""Figure 2: start a machine inside a Python process and answer a first `query-memdev`.

What a test suite embedding qmpnuma pays per test: `Machine.from_argv` (or a clone of an already
built command line), a `QmpServer` on a fresh unix socket, a client connecting, negotiating and
reading the first reply, then everything closed again.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Sequence

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.machine import Machine
from qmpnuma.profiles import wire_types
from qmpnuma.qmp.session import QmpSession
from qmpnuma.server.listeners import bind_unix
from qmpnuma.server.machine_cache import MachineCache
from qmpnuma.server.runtime import MonitorState, QmpServer

NEGOTIATE = b'{"execute": "qmp_capabilities"}\n'
QUERY = b'{"execute": "query-memdev"}\n'


async def start_and_query(build: Callable[[], Machine], path: str) -> float:
    """Seconds from building the machine to reading its first query-memdev reply."""
    began = time.perf_counter()
    machine = build()
    types = wire_types(machine.profile)
    registry = CommandRegistry(machine)
    server = QmpServer(
        lambda: QmpSession(types.COMMANDS, types.SCHEMA, profile=machine.profile), registry
    )
    registry.attach(broadcast=server.broadcast, request_exit=server.request_exit)
    await server.start([(bind_unix(path), MonitorState(index=0))])
    reader, writer = await asyncio.open_unix_connection(path)
    await reader.readline()
    writer.write(NEGOTIATE)
    await reader.readline()
    writer.write(QUERY)
    reply = await reader.readline()
    elapsed = time.perf_counter() - began
    if not reply.startswith(b'{"return"'):
        raise RuntimeError(f"unexpected reply {reply!r}")
    writer.close()
    await server.close()
    os.unlink(path)
    return elapsed


async def _measure(args: Sequence[str], repeats: int) -> dict[str, list[float]]:
    cache = MachineCache()
    cache.machine(args)
    variants: dict[str, Callable[[], Machine]] = {
        "from_argv": lambda: Machine.from_argv(args),
        "cloned": lambda: cache.machine(args),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        path = os.path.join(folder, "m.qmp")
        for name, build in variants.items():
            for _ in range(20):
                await start_and_query(build, path)
            for _ in range(repeats):
                results[name].append(await start_and_query(build, path))
    return results


def measure(args: Sequence[str], repeats: int) -> dict[str, list[float]]:
    """Per variant (``from_argv``, ``cloned``): seconds of each of ``repeats`` starts."""
    return asyncio.run(_measure(args, repeats))
