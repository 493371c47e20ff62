"""pytest plugin: a qmpnuma machine per test, in the test's own event loop.

Installed with qmpnuma (entry point `pytest11`), it offers:

- ``qmpnuma_vm``: starts a machine from QEMU arguments on a unix socket in a private temporary
  directory and yields a `RunningMachine` (socket path, a connected `qemu.qmp.QMPClient`, the
  model, the log of every command the machine ran, and the fault injector). Arguments and options
  come from the marker ``@pytest.mark.qmpnuma(*qemu_args, profile='7.2', expect=[...],
  strict=False, faults={FaultPlan})``.
- strict mode: with ``strict=True`` (or `RunningMachine.expect` calls) the test fails at teardown
  when a command ran that was not expected, or an expected one never ran.
- ``qmpnuma_start``: a factory ``await qmpnuma_start(*qemu_args, ...)`` for tests that need
  several machines or their own set-up; everything it started is stopped at teardown.
- ``qmpnuma_fleet``: N machines of one `qmpnuma.Fleet`, from
  ``@pytest.mark.qmpnuma_fleet(*qemu_args, count=N, profile=..., faults=...)``.

`start_machine` is the same machinery without pytest, for scripts and other harnesses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from qemu.qmp import QMPClient

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.machine import Machine
from qmpnuma.profiles import DEFAULT_PROFILE, Profile, get_profile, wire_types
from qmpnuma.qmp.session import QmpSession
from qmpnuma.server.faults import CommandRecord, FaultPlan, Instrumentation
from qmpnuma.server.listeners import bind_unix
from qmpnuma.server.runtime import MonitorState, QmpServer
from qmpnuma.server.trace import TraceRecorder

__all__ = ["Expectation", "RunningMachine", "start_machine"]


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


def _as_expectation(item: str | tuple[str, dict[str, Any]] | Expectation) -> Expectation:
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


async def start_machine(
    args: Sequence[str] = (),
    *,
    profile: Profile | str = DEFAULT_PROFILE,
    faults: FaultPlan | dict[str, Any] | None = None,
    connect: bool = True,
    socket_path: str | None = None,
    trace: str | None = None,
) -> RunningMachine:
    """Build a machine from QEMU arguments and serve it on the running loop.

    The socket goes in a fresh owner-only temporary directory unless ``socket_path`` is given;
    start-up errors raise `qmpnuma.ConfigError` with QEMU's stderr. `quit` stops the server.
    ``trace`` records every byte in and out to that file (see `qmpnuma.server.trace`).
    """
    profile = get_profile(profile)
    machine = Machine.from_argv(list(args), profile=profile)
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


# -- pytest glue ---------------------------------------------------------------------------

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "qmpnuma(*qemu_args, profile, expect, strict, faults): the machine of `qmpnuma_vm`",
    )
    config.addinivalue_line(
        "markers",
        "qmpnuma_fleet(*qemu_args, count, profile, faults): the machines of `qmpnuma_fleet`",
    )
    config.addinivalue_line(
        "markers", "load: long load/fuzz runs (bounded; scale with QMPNUMA_LOAD_SCALE)"
    )


def _marker(request: pytest.FixtureRequest, name: str) -> tuple[list[str], dict[str, Any]]:
    mark = request.node.get_closest_marker(name)
    if mark is None:
        return [], {}
    return [str(arg) for arg in mark.args], dict(mark.kwargs)


def _finish(machines: Sequence[RunningMachine]) -> None:
    problems = [problem for vm in machines for problem in vm.unmet_expectations()]
    if problems:
        pytest.fail("qmpnuma strict mode:\n  " + "\n  ".join(problems), pytrace=False)


@pytest_asyncio.fixture
async def qmpnuma_vm(request: pytest.FixtureRequest) -> AsyncIterator[RunningMachine]:
    """A started machine with a connected client; configure it with `@pytest.mark.qmpnuma`."""
    args, options = _marker(request, "qmpnuma")
    vm = await start_machine(
        args, profile=get_profile(options.get("profile")), faults=options.get("faults")
    )
    vm.strict = bool(options.get("strict", False))
    for item in options.get("expect", ()):
        vm.strict = True
        vm.expectations.append(_as_expectation(item))
    try:
        yield vm
    finally:
        await vm.close()
    _finish([vm])


StartMachine = Callable[..., Awaitable[RunningMachine]]


@pytest_asyncio.fixture
async def qmpnuma_start() -> AsyncIterator[StartMachine]:
    """``await qmpnuma_start(*qemu_args, profile=..., faults=..., connect=True)``."""
    started: list[RunningMachine] = []

    async def start(*args: str, **options: Any) -> RunningMachine:
        vm = await start_machine(args, **options)
        started.append(vm)
        return vm

    try:
        yield start
    finally:
        for vm in started:
            await vm.close()
    _finish(started)


@pytest_asyncio.fixture
async def qmpnuma_fleet(request: pytest.FixtureRequest) -> AsyncIterator[list[RunningMachine]]:
    """``count`` machines (default 3) of one `qmpnuma.Fleet` in a private directory, each
    instrumented (log, faults) and with a connected client."""
    from qmpnuma.server.fleet import Fleet

    args, options = _marker(request, "qmpnuma_fleet")
    count = int(options.get("count", 3))
    profile = get_profile(options.get("profile"))
    plan = options.get("faults")
    directory = tempfile.mkdtemp(prefix="qmpnuma-fleet-")
    fleet = Fleet.uniform(count, directory, args, profile=profile)
    machines: list[RunningMachine] = []
    try:
        await fleet.start()
        for member in fleet.members:
            instrumentation = Instrumentation(
                plan=FaultPlan.model_validate(plan or {}), machine=member.machine,
                server=member.server,
            )
            member.server.hooks = instrumentation
            vm = RunningMachine(
                member.socket, member.machine, member.server, instrumentation,
                _owns_server=False,
            )
            machines.append(vm)
            vm.client = await vm.connect()
        yield machines
    finally:
        for vm in machines:
            await vm.close()
        await fleet.close()
        shutil.rmtree(directory, ignore_errors=True)
    _finish(machines)
