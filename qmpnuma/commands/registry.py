"""The table from command name to handler, and the context a handler runs in.

A handler is a plain function `(ctx, args) -> value`: `args` are the arguments the protocol core
has already visited against the schema (wire names, absent optionals absent), and the value is the
wire value of the command's return type (built through the generated models' `to_wire()`, so the
schema also checks what goes out). Handlers report failures by raising `QmpError` with QEMU's class
and text. Events and the end of the process go through the two hooks the server attaches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qmpnuma.errors import MachineError, QmpError
from qmpnuma.machine import Machine
from qmpnuma.profiles import wire_types
from qmpnuma.qmp.session import GreetingInfo, default_greeting

EventSink = Callable[[str, "dict[str, Any] | None"], None]
ExitHook = Callable[[int], None]


def _no_event(name: str, data: dict[str, Any] | None) -> None:
    """Events before a server is attached (a machine used from Python) go nowhere."""


def _no_exit(status: int) -> None:
    """Without a server there is no process to end."""


@dataclass
class CommandContext:
    """What a handler may use: the machine, the monitor it was called on, and the hooks."""

    machine: Machine
    monitor: Any = None
    emit: EventSink = _no_event
    request_exit: ExitHook = _no_exit
    registry: CommandRegistry | None = None


Handler = Callable[[CommandContext, dict[str, Any]], Any]

HANDLERS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of QMP command ``name``."""

    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        return func

    return register


@dataclass
class CommandRegistry:
    """Runs the commands of one machine; the server's `Executor`."""

    machine: Machine
    emit: EventSink = _no_event
    request_exit: ExitHook = _no_exit
    greeting: GreetingInfo | None = None
    handlers: dict[str, Handler] = field(default_factory=dict)

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


def load_handlers() -> None:
    """Import every handler module so that their `@command` registrations run."""
    # `cpu_object` imports `qom` first and then takes over `qom-list`/`qom-get` for vCPU paths.
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
