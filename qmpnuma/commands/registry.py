"""The table from command name to handler, and the context a handler runs in (a leaf module).

A handler is a plain function `(ctx, args) -> value`: `args` are the arguments the protocol core
has already visited against the schema (wire names, absent optionals absent), and the value is the
wire value of the command's return type (built through the generated models' `to_wire()`, so the
schema also checks what goes out). Handlers report failures by raising `QmpError` with QEMU's class
and text. Events and the end of the process go through the two hooks the server attaches.

Command modules import this module to register; it imports none of them (the machine's
`CommandRegistry` in `qmpnuma.commands.dispatch` loads them), so there is no import circle, and a
second handler for one name fails at import instead of silently replacing the first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from qmpnuma.machine import Machine
from qmpnuma.qmp.session import GreetingInfo
from qmpnuma.records import record

EventSink = Callable[[str, "dict[str, Any] | None"], None]
ExitHook = Callable[[int], None]


def _no_event(name: str, data: dict[str, Any] | None) -> None:
    """Events before a server is attached (a machine used from Python) go nowhere."""


def _no_exit(status: int) -> None:
    """Without a server there is no process to end."""


if TYPE_CHECKING:  # a Protocol class only types; making one costs ~30 µs of a start
    class CommandRunner(Protocol):
        """What a handler may ask of the registry that called it (HMP runs QMP commands by name)."""

        @property
        def greeting(self) -> GreetingInfo | None: ...

        def execute(self, name: str, args: dict[str, Any], monitor: Any = None) -> Any: ...


@record
class CommandContext:
    """What a handler may use: the machine, the monitor it was called on, and the hooks."""

    machine: Machine
    monitor: Any = None
    emit: EventSink = _no_event
    request_exit: ExitHook = _no_exit
    registry: CommandRunner | None = None


Handler = Callable[[CommandContext, dict[str, Any]], Any]

HANDLERS: dict[str, Handler] = {}


class DuplicateCommand(Exception):
    """Two handlers claim one QMP command name (raised when the second module is imported)."""


def command(name: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of QMP command ``name``.

    A name has exactly one handler: a second registration raises `DuplicateCommand`.
    """

    def register(func: Handler) -> Handler:
        known = HANDLERS.get(name)
        if known is not None:
            raise DuplicateCommand(
                f"QMP command {name!r} is handled by {known.__module__}.{known.__qualname__}; "
                f"{func.__module__}.{func.__qualname__} cannot handle it too"
            )
        HANDLERS[name] = func
        return func

    return register
