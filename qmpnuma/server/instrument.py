"""Instrumenting a qmpnuma in another process: `--faults`, `--control unix:PATH`, `--trace`.

These qmpnuma-level options come before the QEMU arguments (like `--profile`). The control socket
speaks one JSON object per line and answers one per line:

    {"op": "plan", "plan": {FaultPlan}}        replace the fault plan
    {"op": "add", "rule": {FaultRule}}         add one rule to the plan in force
    {"op": "clear"}                            no more faults
    {"op": "emit", "event": NAME, "data": {...}, "delay": SECONDS}
    {"op": "log"}                              the commands run so far
    {"op": "fired"}                            how often each rule fired
    answer: {"ok": true, ...} or {"ok": false, "error": TEXT}

The control socket is bound before `-daemonize` lets the launcher go, owner-only like the monitors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError

from qmpnuma.errors import OptionError
from qmpnuma.server.faults import FaultPlan, FaultRule, Instrumentation, load_plan
from qmpnuma.server.listeners import bind_unix
from qmpnuma.server.runtime import QmpServer
from qmpnuma.server.trace import TraceRecorder

__all__ = [
    "ControlChannel",
    "InstrumentOptions",
    "install",
    "install_or_exit",
    "split_instrument_options",
]

_NAMES = ("--faults", "--control", "--trace")
#: Commands a long-running instrumented process remembers for the control socket's `log`.
CONTROL_LOG_ENTRIES = 10_000


@dataclass
class InstrumentOptions:
    """The leading qmpnuma options that instrument the server."""

    faults: str | None = None
    control: str | None = None
    trace: str | None = None

    @property
    def any(self) -> bool:
        return any((self.faults, self.control, self.trace))


def split_instrument_options(args: Sequence[str]) -> tuple[InstrumentOptions, list[str]]:
    """Take leading `--faults F`, `--control unix:P`, `--trace F` (also `--name=value`)."""
    options = InstrumentOptions()
    rest = list(args)
    while rest:
        head = rest[0]
        name, eq, value = head.partition("=")
        if name not in _NAMES:
            break
        if eq:
            del rest[0]
        elif len(rest) >= 2:
            value = rest[1]
            del rest[:2]
        else:
            raise SystemExit(f"qmpnuma: {name} needs a value")
        setattr(options, name[2:], value)
    return options, rest


class ControlChannel:
    """Serves the control socket of one instrumented server."""

    def __init__(self, sock: socket.socket, instrumentation: Instrumentation) -> None:
        self._sock = sock
        self._path = sock.getsockname()
        self._instrumentation = instrumentation
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self, server: QmpServer) -> None:
        self._sock.setblocking(False)
        self._server = await asyncio.start_unix_server(self._client, sock=self._sock)

    async def stop(self) -> None:
        """Stop listening, end the clients, and remove the socket file (it was ours)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._clients):
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.close()
        if isinstance(self._path, str) and self._path:
            with contextlib.suppress(OSError):
                os.unlink(self._path)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            while line := await reader.readline():
                if not line.strip():
                    continue
                writer.write(json.dumps(self.handle(line)).encode() + b"\n")
                await writer.drain()
        self._clients.discard(writer)
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            writer.close()

    def handle(self, line: bytes) -> dict[str, Any]:
        """Run one control request and return its answer."""
        inst = self._instrumentation
        try:
            request = json.loads(line)
            op = request.get("op") if isinstance(request, dict) else None
            if op == "plan":
                inst.set_plan(FaultPlan.model_validate(request.get("plan", {})))
            elif op == "add":
                inst.add_rule(FaultRule.model_validate(request.get("rule", {})))
            elif op == "clear":
                inst.clear()
            elif op == "emit":
                delay = float(request.get("delay", 0))
                if delay > 0:
                    inst.emit_later(delay, str(request["event"]), request.get("data"))
                else:
                    inst.emit(str(request["event"]), request.get("data"))
            elif op == "log":
                return {"ok": True, "log": [asdict(record) for record in inst.log]}
            elif op == "fired":
                return {"ok": True, "fired": inst.fired}
            else:
                return {"ok": False, "error": f"unknown op {op!r}"}
        except (ValueError, KeyError, TypeError, ValidationError, RuntimeError) as err:
            return {"ok": False, "error": str(err)}
        return {"ok": True}


def install(options: InstrumentOptions) -> Instrumentation:
    """Prepare the instrumentation for the server this process will start.

    Files and the control socket are opened now, before any fork, so that errors reach the
    launcher's stderr and the control socket exists once `-daemonize` returns. Every `QmpServer`
    created afterwards in this process gets the returned hooks.
    """
    plan = load_plan(options.faults) if options.faults else FaultPlan()
    trace = TraceRecorder(options.trace) if options.trace else None
    instrumentation = Instrumentation(plan=plan, trace=trace, max_log=CONTROL_LOG_ENTRIES)
    if options.control:
        if not options.control.startswith("unix:"):
            raise OptionError(f"--control {options.control}: only unix:PATH is supported")
        channel = ControlChannel(bind_unix(options.control[5:]), instrumentation)
        instrumentation.on_started.append(channel.start)
        instrumentation.on_closed.append(channel.stop)
    QmpServer.default_hooks = lambda: instrumentation
    return instrumentation


def install_or_exit(options: InstrumentOptions, progname: str) -> Instrumentation:
    """`install`, or leave with status 1 and one line on stderr when a file or socket fails."""
    try:
        return install(options)
    except OptionError as err:
        message = err.message
    except ValidationError as err:
        message = f"--faults {options.faults}: {err.errors()[0]['msg']}"
    except (OSError, ValueError) as err:
        message = str(err)
    sys.stderr.write(f"{progname}: {message}\n")
    raise SystemExit(1)
