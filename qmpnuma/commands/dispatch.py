"""Running a machine's commands: the server's `Executor`, built over the handler table.

This is the one module that imports every command module (so that their `@command`
registrations in `qmpnuma.commands.registry` run); nothing below it imports it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qmpnuma.commands.registry import (
    HANDLERS,
    CommandContext,
    EventSink,
    ExitHook,
    Handler,
    _no_event,
    _no_exit,
)
from qmpnuma.errors import MachineError, QmpError
from qmpnuma.machine import Machine
from qmpnuma.profiles import wire_types
from qmpnuma.qmp.session import GreetingInfo, default_greeting
from qmpnuma.qobject.json_writer import encode_value

#: Queries whose answer depends only on the machine (its state, profile, options and greeting),
#: never on the monitor, the arguments (they take none), the clock or the host, and which change
#: nothing. Their replies are encoded once per machine revision (`CommandRegistry.encoded`);
#: every other command bumps the revision after it runs, whatever it touched.
READ_ONLY_QUERIES = frozenset({
    "query-memdev", "query-cpus-fast", "query-hotpluggable-cpus", "query-memory-devices",
    "query-memory-size-summary", "query-status", "query-name", "query-uuid", "query-target",
    "query-kvm", "query-version", "query-qmp-schema",
})


@dataclass
class CommandRegistry:
    """Runs the commands of one machine; the server's `Executor`."""

    machine: Machine
    emit: EventSink = _no_event
    request_exit: ExitHook = _no_exit
    greeting: GreetingInfo | None = None
    handlers: dict[str, Handler] = field(default_factory=dict)
    #: READ_ONLY_QUERIES name -> (machine revision, the return value's JSON text)
    _encoded: dict[str, tuple[int, bytes]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.greeting is None:
            self.greeting = default_greeting(self.machine.profile)
        load_handlers()
        commands = wire_types(self.machine.profile).COMMANDS
        self.handlers = {name: HANDLERS[name] for name in commands if name in HANDLERS}

    def attach(self, *, broadcast: EventSink, request_exit: ExitHook) -> None:
        """Connect the server's event fan-out and exit request."""
        self.emit = broadcast
        self.request_exit = request_exit

    def execute(self, name: str, args: dict[str, Any], monitor: Any = None) -> Any:
        """Run one command; a model rule violation becomes the error QEMU would send."""
        handler = self.handlers.get(name)
        if handler is None:
            raise QmpError("GenericError", f"qmpnuma does not model the command {name}")
        ctx = CommandContext(self.machine, monitor, self.emit, self.request_exit, self)
        try:
            return handler(ctx, args)
        except MachineError as err:
            raise QmpError(err.error_class, err.message) from None
        finally:
            if name not in READ_ONLY_QUERIES:
                self.machine.revision += 1

    def encoded(self, name: str, monitor: Any = None) -> bytes | None:
        """The JSON text of an argument-less read-only query's return value, computed at most
        once per machine revision; None for any other command (run it with `execute`)."""
        if name not in READ_ONLY_QUERIES:
            return None
        revision = self.machine.revision
        known = self._encoded.get(name)
        if known is not None and known[0] == revision:
            return known[1]
        text = encode_value(self.execute(name, {}, monitor)).encode("ascii")
        self._encoded[name] = (revision, text)
        return text


def load_handlers() -> None:
    """Import every handler module so that their `@command` registrations run."""
    from qmpnuma.commands import (  # noqa: F401
        control,
        cpu_object,
        hmp,
        memory,
        qom,
        recorded,
        startup,
        stats,
        topology,
    )
