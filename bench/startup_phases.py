"""Where qmpnuma's cold start goes, phase by phase, measured inside one fresh interpreter.

    python -X importtime -m bench.startup_phases QEMU ARGS...  -> JSON phases (ms) on stdout

The phases follow what `qmpnuma ARGS` does before its first reply: read the start bundle
(`qmpnuma.start_bundle`: its index and group streams), import the command line and server
code through it (which unmarshals the groups they are in; asyncio is imported before the
clock starts, deferring what the entry point defers), load the generated wire types of the
profile, build the machine, make the command registry (handler modules are imported on first
use: the first `query-memdev` imports `qmpnuma.commands.memory` only), then serve one client
(connect, negotiate, first `query-memdev`). `-X importtime` output goes to stderr for the
per-package breakdown.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time

# As `qmpnuma.cli.main` does before anything imports asyncio (`qmpnuma.deferred_stdlib`).
from qmpnuma.deferred_stdlib import defer_unused_stdlib

defer_unused_stdlib()

import asyncio  # noqa: E402  (after the deferral)


def main(args: list[str]) -> int:
    phases: dict[str, float] = {}
    clock = time.perf_counter
    began = clock()
    # As `qmpnuma.cli.main` does: the start bundle is read first, and importing and building
    # run with the cyclic collector paused.
    from qmpnuma.cli import _start_up

    with _start_up():
        from qmpnuma import start_bundle

        start_bundle.install()
        phases["start bundle (read)"] = clock() - began
        mark = clock()
        import qmpnuma.server.launch  # noqa: F401
        from qmpnuma.commands.dispatch import CommandRegistry
        from qmpnuma.machine import Machine
        from qmpnuma.profiles import wire_types
        from qmpnuma.qmp.session import QmpSession
        from qmpnuma.server.listeners import bind_unix
        from qmpnuma.server.runtime import MonitorState, QmpServer

        phases["import qmpnuma (unmarshal, cli, server, machine, protocol)"] = clock() - mark
        mark = clock()
        types = wire_types("7.2")
        phases["generated wire types"] = clock() - mark
        mark = clock()
        machine = Machine.from_argv(args)
        phases["Machine.from_argv"] = clock() - mark
    mark = clock()
    registry = CommandRegistry(machine)
    phases["command registry"] = clock() - mark

    async def serve_once(path: str) -> None:
        server = QmpServer(lambda: QmpSession(types.COMMANDS, types.SCHEMA), registry)
        await server.start([(bind_unix(path), MonitorState(index=0))])
        # Connected before the loop sees it: the loop's `sock_connect` checks the socket
        # against `ssl.SSLSocket`, which would run the deferred `ssl` in this, the client's,
        # part of the probe (a real client is another process).
        client = socket.socket(socket.AF_UNIX)
        client.connect(path)
        reader, writer = await asyncio.open_unix_connection(sock=client)
        await reader.readline()
        writer.write(b'{"execute": "qmp_capabilities"}\n')
        await reader.readline()
        writer.write(b'{"execute": "query-memdev"}\n')
        await reader.readline()
        writer.close()
        await server.close()

    mark = clock()
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        asyncio.run(serve_once(os.path.join(folder, "p.qmp")))
    phases["event loop, server, first client and reply (imports the query's handler)"] = \
        clock() - mark
    print(json.dumps({name: seconds * 1000 for name, seconds in phases.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
