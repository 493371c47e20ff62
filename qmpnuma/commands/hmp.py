"""`human-monitor-command`: the HMP commands the model can answer, with HMP's own errors.

QEMU runs the command line through its HMP parser and returns what the monitor printed, every
`\\n` turned into `\\r\\n`. The `info` commands here call the handler of their QMP twin, as QEMU's
`hmp_info_*` functions call `qmp_query_*`, and print its answer; when the QMP command fails, HMP
prints `Error: ` and the message instead (`hmp_handle_error`), and the reply is still a success.
HMP commands that would touch files, run programs or change devices are not offered: they get
HMP's answer for a command it does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from qmpnuma.commands import control, memory, topology  # noqa: F401  (their handlers answer `info`)
from qmpnuma.commands.hmp_text import (
    format_cpus,
    format_hotpluggable_cpus,
    format_memdev,
    format_memory_devices,
    format_memory_size_summary,
)
from qmpnuma.commands.machine_facts import accelerator, guest_name, guest_uuid
from qmpnuma.commands.registry import HANDLERS, CommandContext, command
from qmpnuma.errors import MachineError, QmpError
from qmpnuma.facts import hmp_help
from qmpnuma.profiles import Profile

InfoHandler = Callable[[CommandContext], str]


def _info_status(ctx: CommandContext) -> str:
    state = ctx.machine.run_state
    if state == "running":
        return "VM status: running\n"
    if state == "paused":
        return "VM status: paused\n"
    return f"VM status: paused ({state})\n"


def _info_version(ctx: CommandContext) -> str:
    version = control.query_version(ctx, {})
    qemu = version["qemu"]
    return f"{qemu['major']}.{qemu['minor']}.{qemu['micro']}{version['package']}\n"


def _info_name(ctx: CommandContext) -> str:
    name = guest_name(ctx.machine)
    return "" if name is None else f"{name}\n"


def _info_kvm(ctx: CommandContext) -> str:
    enabled = accelerator(ctx.machine) == "kvm"
    return f"kvm support: {'enabled' if enabled else 'disabled'}\n"


def _qmp(ctx: CommandContext, name: str) -> Any:
    """Run QMP command ``name`` without arguments, as an HMP `info` command calls its twin.

    A broken model rule arrives as the ``QmpError`` the QMP reply would carry.
    """
    try:
        return HANDLERS[name](ctx, {})
    except MachineError as err:
        raise QmpError(err.error_class, err.message) from None


def _via_qmp(name: str, text: Callable[[Any], str]) -> InfoHandler:
    """An `info` command that prints the answer of QMP command ``name`` with ``text``."""
    return lambda ctx: text(_qmp(ctx, name))


def _numa_text(answer: Any) -> str:
    return str(answer["human-readable-text"])


INFO_COMMANDS: dict[str, InfoHandler] = {
    "numa": _via_qmp("x-query-numa", _numa_text),
    "memdev": _via_qmp("query-memdev", format_memdev),
    "memory-devices": _via_qmp("query-memory-devices", format_memory_devices),
    "memory_size_summary": _via_qmp("query-memory-size-summary", format_memory_size_summary),
    "hotpluggable-cpus": _via_qmp("query-hotpluggable-cpus", format_hotpluggable_cpus),
    "cpus": _via_qmp("query-cpus-fast", format_cpus),
    "status": _info_status,
    "version": _info_version,
    "name": _info_name,
    "uuid": lambda ctx: f"{guest_uuid(ctx.machine)}\n",
    "kvm": _info_kvm,
}

#: Plain HMP commands (by their first name in QEMU's help) and the QMP command each performs.
SIMPLE_COMMANDS: dict[str, str] = {
    "stop": "stop",
    "cont": "cont",
    "system_reset": "system_reset",
    "system_powerdown": "system_powerdown",
    "quit": "quit",
}


@cache
def _help_index(profile: Profile) -> tuple[dict[str, str], dict[str, str]]:
    """QEMU's `help` split per command: alias → first name (`s` → `stop`), name → its text."""
    aliases: dict[str, str] = {}
    texts: dict[str, str] = {}
    name = ""
    for line in hmp_help(profile)["help"].splitlines(keepends=True):
        if line[:1] in ("\t", " ") and name:
            texts[name] += line
            continue
        names = line.split(" ", 1)[0].split("|")
        name = names[0]
        texts[name] = line
        for alias in names:
            aliases.setdefault(alias, name)
    return aliases, texts


def _canonical(profile: Profile, name: str) -> str | None:
    """The first name of an HMP command given by any of its aliases, or None if unknown."""
    return _help_index(profile)[0].get(name)


def _help(profile: Profile, topic: list[str]) -> str:
    """`help [COMMAND | info SUBCOMMAND]` as HMP prints it."""
    texts = hmp_help(profile)
    if not topic:
        return texts["help"]
    if topic[0] == "info":
        if len(topic) == 1:
            return texts["info"]
        wanted = f"info {topic[1]} "
        lines = [line + "\n" for line in texts["info"].splitlines() if line.startswith(wanted)]
        return "".join(lines) or f"unknown command: 'info {topic[1]}'\n"
    name = _canonical(profile, topic[0])
    if name is None:
        return f"unknown command: '{topic[0]}'\n"
    return _help_index(profile)[1][name]


def _extraneous(name: str, help_topic: str) -> str:
    return (
        f"{name}: extraneous characters at the end of line\n"
        f'Try "help {help_topic}" for more information\n'
    )


def run_hmp(ctx: CommandContext, line: str) -> str:
    """The text HMP prints for one command line (with plain `\\n` line ends)."""
    words = line.split()
    if not words:
        return ""
    profile = ctx.machine.profile
    name, rest = words[0], words[1:]
    if name in ("help", "?"):
        return _help(profile, rest)
    if name == "info":
        if not rest:
            return hmp_help(profile)["info"]
        topic, extra = rest[0], rest[1:]
        handler = INFO_COMMANDS.get(topic)
        if handler is None:
            return f"unknown command: 'info {topic}'\n"
        if extra:
            return _extraneous(topic, f"info {topic}")
        try:
            return handler(ctx)
        except QmpError as err:
            # hmp_handle_error: the monitor prints the error; the command itself succeeds.
            return f"Error: {err.desc}\n"
    qmp_name = SIMPLE_COMMANDS.get(_canonical(profile, name) or name)
    if qmp_name is None:
        return f"unknown command: '{name}'\n"
    if rest:
        # HMP names the command as its table does, aliases included (`stop|s`).
        full_name = _help_index(profile)[1][_canonical(profile, name) or name].split(" ", 1)[0]
        return _extraneous(full_name, name)
    registry = ctx.registry
    if registry is not None:
        try:
            registry.execute(qmp_name, {}, ctx.monitor)
        except QmpError as err:
            return f"Error: {err.desc}\n"
    return ""


@command("human-monitor-command")
def human_monitor_command(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return run_hmp(ctx, args["command-line"]).replace("\n", "\r\n")
