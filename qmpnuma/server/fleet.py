"""`Fleet`: many independent machines served by one asyncio loop, one unix socket each.

A management plane is tested at scale by pointing it at thousands of "QEMUs"; starting thousands
of real processes is what qmpnuma exists to avoid. A fleet member is a `Machine` (its own model,
run state and hot-plug history) and a `QmpServer` on its own socket; nothing else is kept per
machine until a client connects:

- machines with the same command line are cloned from one build (`MachineCache`), sharing the
  immutable machine-type records and strings;
- schema tables, introspection and handler tables are per profile and shared by every member;
- the command registry of a member is created on its first command, and a protocol session
  (JSON streamer, negotiation state) exists only while a client is connected.

Fleet machines keep the model's numbered vCPU thread ids: unlike `serve_machine`, a fleet does not
start a real host thread per vCPU (ten thousand machines would mean tens of thousands of threads).

Each socket is bound once its machine is built, so a socket file that exists always answers with a
greeting. `quit` on one machine ends that machine only: its socket goes away, the others carry on.
A terminating signal ends them all, each sending `SHUTDOWN` to its client as QEMU would.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.errors import ConfigError, OptionError
from qmpnuma.machine import Machine
from qmpnuma.profiles import DEFAULT_PROFILE, Profile, wire_types
from qmpnuma.qmp.session import QmpSession
from qmpnuma.server.fdlimit import FdBudget, ensure_open_files
from qmpnuma.server.fleet_spec import MachineSpec, load_spec_file, uniform_specs
from qmpnuma.server.listeners import bind_unix
from qmpnuma.server.machine_cache import MachineCache
from qmpnuma.server.runtime import MonitorState, QmpServer

__all__ = ["Fleet", "FleetMember", "FleetStartError", "MachineSpec"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: Every member serves exactly one monitor, QMP, not pretty-printed.
_MONITOR = MonitorState(index=0)


class FleetStartError(Exception):
    """A member could not start: its command line failed (QEMU's stderr) or its socket did."""

    def __init__(self, index: int, socket: str, stderr: str) -> None:
        super().__init__(f"machine {index} ({socket}) cannot start:\n{stderr}")
        self.index = index
        self.socket = socket
        self.stderr = stderr


@functools.cache
def _session_factory(profile: Profile) -> Callable[[], QmpSession]:
    """One factory per profile, shared by every member (no closure per machine)."""
    types = wire_types(profile)
    return functools.partial(QmpSession, types.COMMANDS, types.SCHEMA, profile=profile)


class FleetMember:
    """One machine of a fleet and its server; it is also the server's executor.

    The command registry is made on the first command, so an idle member costs its machine, its
    server and its listening socket only.
    """

    __slots__ = ("_registry", "fleet", "index", "machine", "server", "socket", "stopped")

    def __init__(self, fleet: Fleet, index: int, socket: str, machine: Machine) -> None:
        self.fleet = fleet
        self.index = index
        self.socket = socket
        self.machine = machine
        self.server = QmpServer(_session_factory(machine.profile), self)
        self.stopped = False
        self._registry: CommandRegistry | None = None

    @property
    def registry(self) -> CommandRegistry:
        """The command registry of this machine (created when first needed)."""
        registry = self._registry
        if registry is None:
            registry = CommandRegistry(self.machine)
            registry.attach(broadcast=self.server.broadcast, request_exit=self._request_exit)
            self._registry = registry
        return registry

    def execute(self, name: str, args: dict[str, Any], monitor: MonitorState) -> Any:
        """`Executor` for the member's server: run one command on this machine."""
        return self.registry.execute(name, args, monitor)

    def encoded(self, name: str, monitor: MonitorState) -> bytes | None:
        """`EncodingExecutor`: a read-only query's cached JSON text (None: use `execute`)."""
        return self.registry.encoded(name, monitor)

    def _request_exit(self, status: int) -> None:
        """`quit` ends this machine only: its reply is sent, then its socket is removed."""
        self.server.request_exit(status)
        self.fleet._retire_soon(self)

    async def start(self) -> None:
        """Bind the socket (the machine is already built) and begin accepting clients."""
        sock = bind_unix(self.socket)
        await self.server.start([(sock, _MONITOR)])

    async def stop(self) -> None:
        """Stop serving, deliver what is queued, and remove the socket file."""
        if self.stopped:
            return
        self.stopped = True
        await self.server.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket)


class Fleet:
    """Machines described by `MachineSpec`s, served together on the running event loop.

    Use ``async with Fleet(specs) as fleet:`` (start, then close on exit), or ``await
    fleet.run()`` to serve until a terminating signal or until every machine has quit.
    """

    def __init__(self, specs: Iterable[MachineSpec], *, progname: str = "qmpnuma") -> None:
        self.specs: list[MachineSpec] = list(specs)
        self.members: list[FleetMember] = []
        self.cache = MachineCache(progname)
        #: Start-up warnings of each distinct command line, printed once per line by the CLI.
        self.warnings: list[str] = []
        self.fd_budget: FdBudget | None = None
        self._done: asyncio.Event | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._live = 0

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def uniform(
        cls,
        count: int,
        socket_dir: str,
        args: Sequence[str] = (),
        *,
        profile: Profile | str = DEFAULT_PROFILE,
        progname: str = "qmpnuma",
    ) -> Fleet:
        """``count`` machines built from the same ``args`` on `socket_dir/vm-K.qmp`.

        ``socket_dir`` is created if it does not exist yet.
        """
        os.makedirs(socket_dir, exist_ok=True)
        return cls(uniform_specs(count, socket_dir, args, profile), progname=progname)

    @classmethod
    def from_spec_file(cls, path: str, *, progname: str = "qmpnuma") -> Fleet:
        """The machines listed in a JSON or TOML spec file (see `qmpnuma.server.fleet_spec`)."""
        return cls(load_spec_file(path), progname=progname)

    def __len__(self) -> int:
        return len(self.specs)

    def machine(self, index: int) -> Machine:
        """The model of machine ``index`` (started fleets only)."""
        return self.members[index].machine

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Build and serve every machine, in order; each socket appears when its machine is ready.

        Raises `FdLimitError` before anything starts when the machines cannot fit under the hard
        open-file limit, and `FleetStartError` (after closing what was started) when a command
        line is refused or a socket cannot be bound.
        """
        if self._done is not None:
            raise RuntimeError("a fleet is started once")
        self.fd_budget = ensure_open_files(len(self.specs))
        self._done = asyncio.Event()
        seen_args: set[tuple[Profile, tuple[str, ...]]] = set()
        try:
            with _collector_paused():
                for index, spec in enumerate(self.specs):
                    member = self._member(index, spec, seen_args)
                    try:
                        await member.start()
                    except OptionError as err:
                        raise FleetStartError(index, spec.socket, err.message + "\n") from None
                    self.members.append(member)
                    self._live += 1
        except BaseException:
            await self.close()
            raise
        if not self.specs:
            self._done.set()

    def build(self) -> None:
        """Build every machine and its server without binding any socket; a member then listens
        once its `FleetMember.start` is awaited (and stops with `stop`).

        This is `start` without the sockets, for fleets larger than the open-file limit allows
        to listen at once: `bench/fleet_scale.py` builds 100,000 machines this way and binds
        them window by window while it sweeps requests across all of them.
        """
        if self._done is not None:
            raise RuntimeError("a fleet is started once")
        self._done = asyncio.Event()
        seen_args: set[tuple[Profile, tuple[str, ...]]] = set()
        with _collector_paused():
            for index, spec in enumerate(self.specs):
                self.members.append(self._member(index, spec, seen_args))
                self._live += 1

    def _member(
        self, index: int, spec: MachineSpec, seen_args: set[tuple[Profile, tuple[str, ...]]]
    ) -> FleetMember:
        """Machine ``index`` (cloned from the first build of its command line) and its server."""
        try:
            machine = self.cache.machine(spec.args, spec.profile)
        except ConfigError as err:
            raise FleetStartError(index, spec.socket, err.stderr) from None
        if (spec.profile, spec.args) not in seen_args:
            seen_args.add((spec.profile, spec.args))
            self.warnings.extend(machine.warnings)
        return FleetMember(self, index, spec.socket, machine)

    async def close(self) -> None:
        """Stop every machine and remove every socket."""
        for member in self.members:
            await member.stop()
        for task in list(self._retiring):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._live = 0
        if self._done is not None:
            self._done.set()

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def shutdown(self) -> None:
        """What a terminating signal does: every machine sends `SHUTDOWN` and the fleet ends."""
        for member in self.members:
            if member.stopped:
                continue
            data = {"guest": False, "reason": "host-signal"} \
                if member.machine.profile.shutdown_events_carry_reason else None
            member.machine.quit()
            member.server.broadcast("SHUTDOWN", data)
            member.server.request_exit(0)
        if self._done is not None:
            self._done.set()

    async def wait(self) -> None:
        """Return once every machine has quit or `shutdown` was called."""
        if self._done is None:
            raise RuntimeError("the fleet has not been started")
        await self._done.wait()

    async def run(self, *, handle_signals: bool = True) -> int:
        """Start, serve until a terminating signal or until every machine has quit, close."""
        await self.start()
        return await self.serve(handle_signals=handle_signals)

    async def serve(self, *, handle_signals: bool = True) -> int:
        """Serve a started fleet until a terminating signal or every machine has quit; close."""
        if handle_signals:
            self.handle_signals()
        try:
            await self.wait()
        finally:
            await self.close()
            if handle_signals:
                loop = asyncio.get_running_loop()
                for signum in _SIGNALS:
                    loop.remove_signal_handler(signum)
        return 0

    def handle_signals(self) -> None:
        """Let SIGTERM, SIGINT and SIGHUP call `shutdown` (installing twice is harmless)."""
        loop = asyncio.get_running_loop()
        for signum in _SIGNALS:
            loop.add_signal_handler(signum, self.shutdown)

    def _retire_soon(self, member: FleetMember) -> None:
        """Stop a member that ran `quit`, once its reply is on the way."""
        task = asyncio.get_running_loop().create_task(self._retire(member))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, member: FleetMember) -> None:
        if member.stopped:
            return
        await member.stop()
        self._live -= 1
        if self._live <= 0 and self._done is not None:
            self._done.set()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off while a fleet is built.

    Everything made then lives as long as the fleet: letting the collector rescan the growing
    heap every few hundred allocations would make building quadratic in the fleet's size.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
