"""Running a machine's commands: the server's `Executor`, built over the handler table.

This is the one module that imports every command module (so that their `@command`
registrations in `qmpnuma.commands.registry` run); nothing below it imports it back.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final

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
from qmpnuma.records import field, record

#: Queries whose answer depends only on the machine (its state, profile, options and greeting),
#: never on the monitor, the arguments (they take none), the clock or the host, and which change
#: nothing. Their replies are encoded once per machine revision (`CommandRegistry.encoded`);
#: every other command bumps the revision after it runs, whatever it touched.
READ_ONLY_QUERIES = frozenset({
    "query-memdev", "query-cpus-fast", "query-hotpluggable-cpus", "query-memory-devices",
    "query-memory-size-summary", "query-status", "query-name", "query-uuid", "query-target",
    "query-kvm", "query-version", "query-qmp-schema",
})


@record
class CommandRegistry:
    """Runs the commands of one machine; the server's `Executor`."""

    machine: Machine
    emit: EventSink = _no_event
    request_exit: ExitHook = _no_exit
    greeting: GreetingInfo | None = None
    #: the handlers looked up so far, by command name (see `_handler`)
    _handlers: dict[str, Handler] = field(default_factory=dict, repr=False)
    #: READ_ONLY_QUERIES name -> (machine revision, the return value's JSON text)
    _encoded: dict[str, tuple[int, bytes]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.greeting is None:
            self.greeting = default_greeting(self.machine.profile)
        self._commands = wire_types(self.machine.profile).COMMANDS

    @property
    def handlers(self) -> dict[str, Handler]:
        """The handler of every command of the profile that has one (loads them all)."""
        load_handlers()
        return {name: HANDLERS[name] for name in self._commands if name in HANDLERS}

    def _handler(self, name: str) -> Handler | None:
        """The handler of ``name``, importing only its module on first use: a process that
        answers `query-memdev` first need not import the HMP, QOM or CPU-object code."""
        handler = self._handlers.get(name)
        if handler is None and name in self._commands:
            handler = HANDLERS.get(name)
            if handler is None:
                load_handler_of(name)
                handler = HANDLERS.get(name)
            if handler is not None:
                self._handlers[name] = handler
        return handler

    def attach(self, *, broadcast: EventSink, request_exit: ExitHook) -> None:
        """Connect the server's event fan-out and exit request."""
        self.emit = broadcast
        self.request_exit = request_exit

    def execute(self, name: str, args: dict[str, Any], monitor: Any = None) -> Any:
        """Run one command; a model rule violation becomes the error QEMU would send."""
        handler = self._handler(name)
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


#: Command name -> the handler module that registers it (`@command("NAME")`), so that a
#: command's first use imports that module alone (tests/test_registry.py checks the table against
#: where every handler registers; a command missing from it still works: every handler module
#: is then imported).
HANDLER_MODULES: Final[Mapping[str, str]] = {
    **dict.fromkeys((
        "cont", "migrate-pause", "migrate-recover", "query-acpi-ospm-status", "query-commands",
        "query-current-machine", "query-dump-guest-memory-capability", "query-events", "query-kvm",
        "query-name", "query-qmp-schema", "query-status", "query-target", "query-uuid",
        "query-version", "quit", "stop", "system_powerdown", "system_reset", "system_wakeup",
    ), "control"),
    **dict.fromkeys(("human-monitor-command",), "hmp"),
    **dict.fromkeys((
        "device_add", "device_del", "object-add", "object-del", "query-hv-balloon-status-report",
        "query-memdev", "query-memory-devices", "query-memory-size-summary",
    ), "memory"),
    **dict.fromkeys(("qom-get", "qom-list", "qom-set"), "qom"),
    **dict.fromkeys((
        "device-list-properties", "qom-list-properties", "qom-list-types",
        "query-command-line-options", "query-cpu-definitions", "query-cpu-model-expansion",
        "query-sev-capabilities", "query-sgx-capabilities", "query-tpm-models", "query-tpm-types",
    ), "recorded"),
    **dict.fromkeys((
        "migrate-set-capabilities", "query-balloon", "query-block", "query-blockstats",
        "query-chardev", "query-dirty-rate", "query-iothreads", "query-jobs",
        "query-migrate-capabilities", "query-named-block-nodes",
    ), "startup"),
    **dict.fromkeys(("query-stats", "query-stats-schemas"), "stats"),
    **dict.fromkeys((
        "query-cpus", "query-cpus-fast", "query-hotpluggable-cpus", "query-machines",
        "set-numa-node", "x-exit-preconfig", "x-query-numa",
    ), "topology"),
}


def load_handler_of(name: str) -> None:
    """Import the module that handles ``name``; all of them when `HANDLER_MODULES` does not
    say (or for HMP, which runs the other commands through `HANDLERS` by name)."""
    module = HANDLER_MODULES.get(name)
    if module is None or module == "hmp":
        load_handlers()
        return
    importlib.import_module(f"qmpnuma.commands.{module}")


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
