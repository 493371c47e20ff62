"""A measurement, not a product: qmpnuma's own session and handlers on an asyncio `Protocol`.

    python -m bench.protocol_server QEMU ARGS... -qmp unix:PATH,server=on,wait=off

`qmpnuma.server` reads each connection through asyncio streams (`StreamReader.read` in a task,
then `drain`): every request costs a second event-loop turn (the reader's data wakes the task,
which runs on the next turn) and a few coroutine frames. This script serves one monitor with the
same `QmpSession`, `CommandRegistry` and machine, but from `Protocol.data_received`, writing
every reply a chunk produced in one `transport.write` -- the shape the floor has. It answers
the benchmark's requests with the same bytes as qmpnuma (no events, hooks, faults, pretty
monitors or preconfig handling: only what the benchmark needs), so `make bench` can show how
much of the gap to the floor is the transport and how much is the protocol work above it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from qmpnuma.commands.dispatch import CommandRegistry, load_handlers
from qmpnuma.errors import QmpError
from qmpnuma.machine import Machine
from qmpnuma.profiles import wire_types
from qmpnuma.qmp.session import QmpSession, Send
from qmpnuma.server.runtime import MonitorState


class SessionProtocol(asyncio.Protocol):
    """One connection: bytes into the session, replies of one chunk out in one write."""

    def __init__(self, new_session: Any, registry: CommandRegistry) -> None:
        self._session = new_session()
        self._registry = registry
        self._monitor = MonitorState(index=0)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._session.greeting())

    def data_received(self, data: bytes) -> None:
        session = self._session
        out = []
        for action in session.feed(data):
            if isinstance(action, Send):
                out.append(action.data)
                continue
            try:
                value = self._registry.execute(action.name, action.args, self._monitor)
            except QmpError as err:
                out.append(session.reply_error(action, err))
            else:
                out.append(session.reply(action, value))
        if out and self._transport is not None:
            self._transport.write(b"".join(out))


async def serve(args: list[str]) -> None:
    spec = args[args.index("-qmp") + 1]
    path = spec.split(",", 1)[0].removeprefix("unix:")
    machine_args = args[: args.index("-qmp")] + args[args.index("-qmp") + 2:]
    load_handlers()
    machine = Machine.from_argv(machine_args)
    types = wire_types(machine.profile)
    registry = CommandRegistry(machine)

    def new_session() -> QmpSession:
        return QmpSession(types.COMMANDS, types.SCHEMA, profile=machine.profile,
                          machine_ready=lambda: machine.machine_ready)

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    server = await loop.create_unix_server(lambda: SessionProtocol(new_session, registry), path)
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1:]))
