"""Fault injection: make the hard cases of a QMP peer happen on purpose, reproducibly.

A `FaultPlan` (plain JSON for `--faults FILE`, the control socket, or Python) lists rules. A rule
matches calls of one command (or `*`) and fires on the N-th matching call, on every call, or on a
seeded random share of calls; when it fires it may delay the reply, replace it by an error, close
the connection before, during or after the reply, emit events (now, later, twice, ...), or play
the guest's part of a hot-unplug (accept it, so the DIMM goes away and `DEVICE_DELETED` follows,
or refuse it as a guest can, which QEMU reports as an `ACPI_DEVICE_OST` failure status) or of a
virtio-mem resize (its driver plugs up to the requested size: `MEMORY_DEVICE_SIZE_CHANGE`).
Plan-wide settings delay the greeting, split every reply into small writes, and suppress events
the machine would emit. The same seed gives the same decisions for
the same sequence of calls, so a failing test can be replayed.

`Instrumentation` is the `ServerHooks` that applies a plan; it also keeps the log of every
command the server ran (the pytest plugin reads it) and feeds an optional trace recorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qmpnuma.errors import MachineError, QmpError
from qmpnuma.machine import Machine
from qmpnuma.server.runtime import Connection, QmpServer, ServerHooks
from qmpnuma.server.trace import TraceRecorder

__all__ = [
    "CommandRecord",
    "ErrorSpec",
    "EventSpec",
    "FaultPlan",
    "FaultRule",
    "Instrumentation",
    "load_plan",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ErrorSpec(_Strict):
    """The error reply a fired rule sends instead of running the command."""

    error_class: str = Field(default="GenericError", alias="class")
    desc: str


class EventSpec(_Strict):
    """An event a fired rule emits: ``times`` copies, the first after ``delay`` seconds.

    String values in ``data`` may name the command's arguments as ``$name`` (for instance
    ``{"device": "$id", "path": "/machine/peripheral/$id"}``). ``before_reply`` sends the first
    copy ahead of the reply, the way QEMU sends `STOP` before the return of `stop`.
    """

    event: str
    data: dict[str, Any] | None = None
    delay: float = 0.0
    times: int = 1
    interval: float = 0.0
    before_reply: bool = False


class FaultRule(_Strict):
    """Which calls a rule fires on, and what it does then.

    Selection: ``nth`` (1-based, counted over the calls this rule matches), else ``share`` (a
    fraction of calls drawn from the plan's seed), else every call; ``limit`` caps how often
    the rule fires. ``connection`` restricts it to one connection number (1 = first client).
    """

    command: str = "*"
    nth: int | None = None
    share: float | None = None
    limit: int | None = None
    connection: int | None = None
    delay: float = 0.0
    error: ErrorSpec | None = None
    close: Literal["before", "during", "after"] | None = None
    events: list[EventSpec] = Field(default_factory=list)
    guest: Literal["accept", "reject"] | None = None
    guest_delay: float = 0.0


class FaultPlan(_Strict):
    """Everything that should go wrong, and the seed that makes it repeatable."""

    seed: int = 0
    greeting_delay: float = 0.0
    split: int = 0
    split_pause: float = 0.0
    suppress_events: list[str] = Field(default_factory=list)
    rules: list[FaultRule] = Field(default_factory=list)


def load_plan(path: str | Path) -> FaultPlan:
    """Read a plan from a JSON file (the `--faults FILE` format: a `FaultPlan` object)."""
    return FaultPlan.model_validate_json(Path(path).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class CommandRecord:
    """One command the server ran: which connection, what, with which arguments, when."""

    connection: int
    name: str
    arguments: dict[str, Any]
    id: Any
    time: float


@dataclass
class _RuleState:
    """Counters and random stream of one rule (kept apart so rules do not disturb each other)."""

    rule: FaultRule
    rng: random.Random
    calls: int = 0
    fired: int = 0


def _substitute(value: Any, args: dict[str, Any]) -> Any:
    """Fill ``$name`` placeholders in event data from the command's arguments."""
    if isinstance(value, str):
        if value.startswith("$") and value[1:] in args:
            return args[value[1:]]
        texts = {key: str(item) for key, item in args.items()}
        return string.Template(value).safe_substitute(texts)
    if isinstance(value, dict):
        return {key: _substitute(item, args) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, args) for item in value]
    return value


def _succeeded(reply: bytes) -> bool:
    with contextlib.suppress(ValueError):
        return "return" in json.loads(reply)
    return False


@dataclass
class Instrumentation(ServerHooks):
    """Hooks applying a `FaultPlan`, logging commands and recording a trace.

    ``machine`` is needed only for guest actions (an accepted DIMM unplug removes the DIMM).
    ``fired`` counts, per rule index, how many times each rule fired. ``max_log`` bounds the
    command log of a long-lived process (the most recent entries are kept; None: keep all).
    """

    plan: FaultPlan = field(default_factory=FaultPlan)
    machine: Machine | None = None
    trace: TraceRecorder | None = None
    log: list[CommandRecord] = field(default_factory=list)
    max_log: int | None = None
    server: QmpServer | None = None
    on_started: list[Callable[[QmpServer], Any]] = field(default_factory=list)
    on_closed: list[Callable[[], Any]] = field(default_factory=list)
    _states: list[_RuleState] = field(default_factory=list, init=False, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)
    _injecting: bool = field(default=False, init=False, repr=False)
    #: a plan may split and pace replies (also one set later on the control socket)
    paced: bool = field(default=True, init=False, repr=False)

    def __post_init__(self) -> None:
        self.set_plan(self.plan)

    # -- the plan ---------------------------------------------------------------------------
    def set_plan(self, plan: FaultPlan) -> None:
        """Replace the plan; counters and random streams start afresh from its seed."""
        self.plan = plan
        self._states = [
            _RuleState(rule, random.Random(f"{plan.seed}:{index}"))
            for index, rule in enumerate(plan.rules)
        ]

    def add_rule(self, rule: FaultRule) -> None:
        """Append one rule to the plan in force (its random stream is seeded by its index)."""
        index = len(self._states)
        self.plan.rules.append(rule)
        self._states.append(_RuleState(rule, random.Random(f"{self.plan.seed}:{index}")))

    def clear(self) -> None:
        """Drop every fault (the log and trace go on)."""
        self.set_plan(FaultPlan(seed=self.plan.seed))

    @property
    def fired(self) -> list[int]:
        return [state.fired for state in self._states]

    def _firing(self, name: str, conn: Connection) -> list[FaultRule]:
        rules: list[FaultRule] = []
        for state in self._states:
            rule = state.rule
            if rule.command not in ("*", name):
                continue
            if rule.connection is not None and rule.connection != conn.number:
                continue
            state.calls += 1
            if rule.limit is not None and state.fired >= rule.limit:
                continue
            if rule.nth is not None:
                hit = state.calls == rule.nth
            elif rule.share is not None:
                hit = state.rng.random() < rule.share
            else:
                hit = True
            if hit:
                state.fired += 1
                rules.append(rule)
        return rules

    # -- events -----------------------------------------------------------------------------
    def emit(self, name: str, data: dict[str, Any] | None = None) -> None:
        """Send an event to every negotiated client now, even one the plan suppresses."""
        if self.server is None:
            raise RuntimeError("the instrumentation is not attached to a running server")
        self._injecting = True
        try:
            self.server.broadcast(name, data)
        finally:
            self._injecting = False

    def emit_later(self, delay: float, name: str, data: dict[str, Any] | None = None) -> None:
        """Send an event after ``delay`` seconds (dropped if the server stops first)."""
        self._spawn(self._later(delay, lambda: self.emit(name, data)))

    async def _later(self, delay: float, action: Callable[[], None]) -> None:
        await asyncio.sleep(delay)
        action()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _schedule_events(self, rule: FaultRule, args: dict[str, Any], after_reply: bool) -> None:
        """Emit a fired rule's events: ``before_reply`` ones first, the rest after the reply."""
        for spec in rule.events:
            data = _substitute(spec.data, args) if spec.data is not None else None
            early = spec.before_reply and spec.delay == 0
            if not after_reply:
                if early and spec.times > 0:
                    self.emit(spec.event, data)
                continue
            for copy in range(1 if early else 0, spec.times):
                wait = spec.delay + copy * spec.interval
                if wait > 0:
                    self.emit_later(wait, spec.event, data)
                else:
                    self.emit(spec.event, data)

    # -- the guest's part of hot-plug -------------------------------------------------------
    def _guest(self, rule: FaultRule, name: str, args: dict[str, Any]) -> None:
        if rule.guest == "accept" and self._virtio_mem_guest(rule, name, args):
            return
        device = args.get("id")
        if not isinstance(device, str) or rule.guest is None:
            return
        accept = rule.guest == "accept"
        if name == "device_del":
            action = self._accept_unplug if accept else self._reject_unplug
        elif name == "device_add" and not accept:
            action = self._reject_plug
        else:
            return
        if rule.guest_delay > 0:
            self._spawn(self._later(rule.guest_delay, lambda: action(device)))
        else:
            action(device)

    def _virtio_mem_guest(self, rule: FaultRule, name: str, args: dict[str, Any]) -> bool:
        """A virtio-mem driver in the guest: after a ``qom-set`` of ``requested-size`` or a
        ``device_add`` of a device it plugs (or unplugs) blocks until the device's size is the
        requested size, and QEMU reports ``MEMORY_DEVICE_SIZE_CHANGE``. Whether the request
        was about a virtio-mem device."""
        if self.machine is None:
            return False
        if name == "qom-set" and args.get("property") == "requested-size":
            from qmpnuma.commands.qom import resolve  # QOM's own path resolution

            try:
                node = resolve(self.machine, str(args.get("path")))
            except QmpError:
                return False
            device = self.machine.dimms.find_virtio_mem(
                node.path.removesuffix("/virtio-backend"))
        elif name == "device_add" and isinstance(args.get("id"), str):
            device = self.machine.dimms.find_virtio_mem(f"/machine/peripheral/{args['id']}")
        else:
            return False
        if device is None:
            return False
        machine, found = self.machine, device

        def follow() -> None:
            if machine.virtio_mem_guest_follows(found):
                self.emit("MEMORY_DEVICE_SIZE_CHANGE", found.size_change_event())

        if rule.guest_delay > 0:
            self._spawn(self._later(rule.guest_delay, follow))
        else:
            follow()
        return True

    def _ost(self, device: str, source: int, status: int) -> dict[str, Any]:
        slot = "0"
        if self.machine is not None:
            dimm = self.machine.dimms.find(device)
            if dimm is not None:
                slot = str(dimm.slot)
        info = {"device": device, "slot": slot, "slot-type": "DIMM",
                "source": source, "status": status}
        return {"info": info}

    def _accept_unplug(self, device: str) -> None:
        """The guest ejected the DIMM: it leaves the model, then QEMU reports it deleted."""
        ost = self._ost(device, 3, 0)
        if self.machine is not None:
            with contextlib.suppress(MachineError):
                self.machine.complete_dimm_unplug(device)
        self.emit("DEVICE_DELETED", {"device": device, "path": f"/machine/peripheral/{device}"})
        self.emit("ACPI_DEVICE_OST", ost)

    def _reject_unplug(self, device: str) -> None:
        """The guest refused the eject (memory in use): the DIMM stays, and on x86 QEMU only
        relays the guest's _OST failure status (libvirt reads that as "rejected by guest")."""
        self.emit("ACPI_DEVICE_OST", self._ost(device, 3, 1))

    def _reject_plug(self, device: str) -> None:
        """The guest could not online a hot-added DIMM; QEMU only relays the guest's status."""
        self.emit("ACPI_DEVICE_OST", self._ost(device, 1, 1))

    # -- ServerHooks ------------------------------------------------------------------------
    async def started(self, server: QmpServer) -> None:
        self.server = server
        if self.machine is None:
            machine = getattr(server.executor, "machine", None)
            self.machine = machine if isinstance(machine, Machine) else None
        for callback in self.on_started:
            result = callback(server)
            if asyncio.iscoroutine(result):
                await result

    async def closed(self, server: QmpServer) -> None:
        for task in list(self._tasks):
            task.cancel()
        for callback in self.on_closed:
            result = callback()
            if asyncio.iscoroutine(result):
                await result
        if self.trace is not None:
            self.trace.flush()

    def connected(self, conn: Connection) -> None:
        if self.trace is not None:
            self.trace.opened(conn.number)

    def disconnected(self, conn: Connection) -> None:
        if self.trace is not None:
            self.trace.closed(conn.number)

    async def before_greeting(self, conn: Connection) -> None:
        if self.plan.greeting_delay > 0:
            await asyncio.sleep(self.plan.greeting_delay)

    def received(self, conn: Connection, data: bytes) -> None:
        if self.trace is not None:
            self.trace.record(conn.number, "in", data)

    def sent(self, conn: Connection, data: bytes) -> None:
        if self.trace is not None:
            self.trace.record(conn.number, "out", data)

    def chunk_size(self, conn: Connection) -> int:
        return self.plan.split

    def chunk_pause(self, conn: Connection) -> float:
        return self.plan.split_pause

    def allow_event(self, name: str, data: dict[str, Any] | None) -> bool:
        return self._injecting or name not in self.plan.suppress_events

    def execute(
        self, server: QmpServer, conn: Connection, action: Any, run: Callable[[], bytes]
    ) -> Awaitable[None] | None:
        return self._execute(server, conn, action, run)

    async def _execute(
        self, server: QmpServer, conn: Connection, action: Any, run: Callable[[], bytes]
    ) -> None:
        self.server = server
        self.log.append(
            CommandRecord(conn.number, action.name, dict(action.args), action.id, time.time())
        )
        if self.max_log is not None and len(self.log) > 2 * self.max_log:
            del self.log[: len(self.log) - self.max_log]
        rules = self._firing(action.name, conn) if self._states else []
        if not rules:
            conn.writer(run())
            return
        delay = sum(rule.delay for rule in rules)
        if delay > 0:
            await asyncio.sleep(delay)
        error = next((rule.error for rule in rules if rule.error is not None), None)
        for rule in rules:
            self._schedule_events(rule, action.args, after_reply=False)
        if error is not None:
            reply = conn.session.reply_error(action, QmpError(error.error_class, error.desc))
        else:
            reply = run()
        close = next((rule.close for rule in rules if rule.close is not None), None)
        if close == "before":
            conn.drop()
        elif close == "during":
            conn.writer(reply[: max(1, len(reply) // 2)])
            conn.drop()
        else:
            conn.writer(reply)
            if close == "after":
                conn.drop()
        ok = error is None and _succeeded(reply)
        for rule in rules:
            self._schedule_events(rule, action.args, after_reply=True)
            if ok:
                self._guest(rule, action.name, action.args)
