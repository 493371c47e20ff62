"""Machines started on the running event loop, for tests and other harnesses.

`start_machine` builds a machine from QEMU arguments and serves it on a unix socket in a private
(0700) temporary directory, with an instrumented server (command log, faults, trace); it returns a
`RunningMachine` holding the socket path, the model, a connected `qemu.qmp.QMPClient` and the
strict-mode expectations. The pytest plugin (`qmpnuma.pytest_plugin`) builds its fixtures on this
module; nothing here needs pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qemu.qmp import QMPClient

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.machine import Machine
from qmpnuma.profiles import DEFAULT_PROFILE, Profile, get_profile, wire_types
from qmpnuma.qmp.session import QmpSession
from qmpnuma.server.faults import CommandRecord, FaultPlan, Instrumentation
from qmpnuma.server.listeners import bind_unix
from qmpnuma.server.runtime import MonitorState, QmpServer
from qmpnuma.server.trace import TraceRecorder

__all__ = ["Expectation", "RunningMachine", "qemu_arguments", "start_machine"]


@dataclass
class Expectation:
    """A command a strict test declares: its name, optionally arguments it must include, and
    how many times it may run (None: at least once, any number)."""

    name: str
    arguments: dict[str, Any] | None = None
    times: int | None = 1

    def matches(self, record: CommandRecord) -> bool:
        if record.name != self.name:
            return False
        if self.arguments is None:
            return True
        return all(record.arguments.get(k) == v for k, v in self.arguments.items())


def as_expectation(item: str | tuple[str, dict[str, Any]] | Expectation) -> Expectation:
    if isinstance(item, Expectation):
        return item
    if isinstance(item, str):
        return Expectation(item)
    name, arguments = item
    return Expectation(name, dict(arguments))


@dataclass
class RunningMachine:
    """One started machine: where it listens, its model, its client, and what it was asked."""

    socket_path: str
    machine: Machine
    server: QmpServer
    faults: Instrumentation
    client: QMPClient | None = None
    strict: bool = False
    expectations: list[Expectation] = field(default_factory=list)
    _directory: str | None = None
    _watcher: asyncio.Task[None] | None = None
    _owns_server: bool = True

    @property
    def log(self) -> list[CommandRecord]:
        """Every command the machine ran (`qmp_capabilities` excepted), in order."""
        return self.faults.log

    @property
    def commands(self) -> list[str]:
        """The names in `log`."""
        return [record.name for record in self.faults.log]

    def expect(
        self, name: str, arguments: dict[str, Any] | None = None, *, times: int | None = 1
    ) -> None:
        """Declare an expected command; turns strict mode on."""
        self.strict = True
        self.expectations.append(Expectation(name, arguments, times))

    def unmet_expectations(self) -> list[str]:
        """What strict mode objects to: unexpected commands, then missing ones (empty if fine)."""
        if not self.strict:
            return []
        used = [0] * len(self.expectations)
        problems: list[str] = []
        for record in self.log:
            for index, expectation in enumerate(self.expectations):
                limit = expectation.times
                if expectation.matches(record) and (limit is None or used[index] < limit):
                    used[index] += 1
                    break
            else:
                problems.append(f"unexpected command {record.name} {record.arguments}")
        for expectation, count in zip(self.expectations, used, strict=True):
            wanted = 1 if expectation.times is None else expectation.times
            if count < wanted:
                args = "" if expectation.arguments is None else f" {expectation.arguments}"
                problems.append(
                    f"missing command {expectation.name}{args}"
                    f" (expected {wanted} time(s), ran {count})"
                )
        return problems

    async def connect(self) -> QMPClient:
        """A new connected, negotiated `QMPClient` (the previous one must have left: one
        client per monitor, as in QEMU)."""
        client = QMPClient(os.path.basename(self.socket_path))
        await client.connect(self.socket_path)
        return client

    async def close(self) -> None:
        """Disconnect the client, stop the server, remove the private directory."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.disconnect()
            self.client = None
        if self._watcher is not None:
            self._watcher.cancel()
        if self._owns_server:
            await self.server.close()
        if self.faults.trace is not None:
            self.faults.trace.close()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None


def qemu_arguments(args: tuple[str | Sequence[str], ...]) -> list[str]:
    """QEMU arguments given either one by one (``"-m", "1G"``) or as one sequence
    (``["-m", "1G"]``): `start_machine`, the ``qmpnuma_start`` fixture and the markers accept
    both spellings."""
    if len(args) == 1 and not isinstance(args[0], str):
        return [str(arg) for arg in args[0]]
    if not all(isinstance(arg, str) for arg in args):
        raise TypeError("QEMU arguments are strings, given one by one or as one sequence")
    return [str(arg) for arg in args]


async def start_machine(
    *args: str | Sequence[str],
    profile: Profile | str = DEFAULT_PROFILE,
    faults: FaultPlan | dict[str, Any] | None = None,
    connect: bool = True,
    socket_path: str | None = None,
    trace: str | None = None,
) -> RunningMachine:
    """Build a machine from QEMU arguments and serve it on the running loop.

    ``start_machine("-m", "1G")`` and ``start_machine(["-m", "1G"])`` are the same.

    The socket goes in a fresh owner-only temporary directory unless ``socket_path`` is given;
    start-up errors raise `qmpnuma.ConfigError` with QEMU's stderr. `quit` stops the server.
    ``trace`` records every byte in and out to that file (see `qmpnuma.server.trace`).
    """
    profile = get_profile(profile)
    machine = Machine.from_argv(qemu_arguments(args), profile=profile)
    directory = None
    if socket_path is None:
        directory = tempfile.mkdtemp(prefix="qmpnuma-")
        socket_path = os.path.join(directory, "qmp.sock")
    plan = FaultPlan.model_validate(faults) if isinstance(faults, dict) else faults
    types = wire_types(profile)
    registry = CommandRegistry(machine)
    server = QmpServer(
        lambda: QmpSession(types.COMMANDS, types.SCHEMA, profile=profile), registry
    )
    registry.attach(broadcast=server.broadcast, request_exit=server.request_exit)
    recorder = TraceRecorder(trace) if trace is not None else None
    instrumentation = Instrumentation(plan=plan or FaultPlan(), machine=machine, trace=recorder)
    server.hooks = instrumentation
    sock = bind_unix(socket_path)
    await server.start([(sock, MonitorState(index=0))])

    async def stop_on_quit() -> None:
        await server.state.stopped.wait()
        await server.close()

    running = RunningMachine(socket_path, machine, server, instrumentation, _directory=directory)
    running._watcher = asyncio.get_running_loop().create_task(stop_on_quit())
    if connect:
        try:
            running.client = await running.connect()
        except BaseException:
            await running.close()
            raise
    return running
