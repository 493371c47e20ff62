"""CPU and NUMA commands: `query-cpus-fast` (2.9: `query-cpus`), `query-hotpluggable-cpus`,
`query-machines`, `x-query-numa`, and the `-preconfig` pair `set-numa-node`/`x-exit-preconfig`.
"""

from __future__ import annotations

import sys
from typing import Any

from qmpnuma.commands.compat_props import compat_props
from qmpnuma.commands.hmp_text import format_numa
from qmpnuma.commands.registry import CommandContext, command
from qmpnuma.errors import ConfigError, FatalExit, OptionError, QmpError
from qmpnuma.machine import Machine
from qmpnuma.machine.machine_types import query_machines


def numa_text(machine: Machine) -> str:
    """`info numa` / `x-query-numa` text: nodes, their CPUs, sizes and (7.2) plugged memory.

    7.2 lists each node's CPUs by the node-id of the present CPUs, in `query-cpus-fast` order;
    2.9 by each CPU's node. Sizes add the DIMMs plugged on the node to its boot memory.
    """
    if machine.num_nodes <= 0:
        return format_numa([])
    sizes = machine.query_numa_node_mem()
    rows = []
    for node_id in range(machine.num_nodes):
        cpus = [slot.cpu_index for slot in machine.cpus.present_cpus
                if machine.cpus.node_of_cpu(slot.cpu_index) == node_id]
        plugged = machine.node_plugged_memory(node_id) \
            if machine.profile.hmp_info_numa_shows_plugged else None
        rows.append((node_id, cpus, sizes[node_id], plugged))
    return format_numa(rows)


@command("query-cpus-fast")
def query_cpus_fast(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return ctx.machine.cpus.query_cpus_fast()


@command("query-cpus")
def query_cpus(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return ctx.machine.cpus.query_cpus()


def hotpluggable_cpus(machine: Machine) -> list[dict[str, Any]]:
    """The CPU slots; before machine init (`-preconfig`) no CPU object exists yet."""
    entries = machine.cpus.query_hotpluggable_cpus()
    if not machine.machine_ready:
        for entry in entries:
            entry.pop("qom-path", None)
    return entries


@command("query-hotpluggable-cpus")
def query_hotpluggable_cpus(ctx: CommandContext, args: dict[str, Any]) -> Any:
    if ctx.machine.machine_type.family == "microvm":
        raise QmpError("GenericError", ctx.machine.profile.texts.hotpluggable_cpus_unsupported)
    return hotpluggable_cpus(ctx.machine)


@command("query-machines")
def query_machines_(ctx: CommandContext, args: dict[str, Any]) -> Any:
    profile = ctx.machine.profile
    answer = query_machines(profile)
    if args.get("compat-props"):
        for info in answer:
            info["compat-props"] = compat_props(profile, info["name"])
    return answer


@command("x-query-numa")
def x_query_numa(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return {"human-readable-text": numa_text(ctx.machine)}


def _print(lines: list[str]) -> None:
    """What QEMU prints on its stderr while running a monitor command."""
    sys.stderr.write("".join(lines))
    sys.stderr.flush()


@command("set-numa-node")
def set_numa_node(ctx: CommandContext, args: dict[str, Any]) -> Any:
    try:
        _print(ctx.machine.set_numa_node(args))
    except OptionError as err:
        raise QmpError("GenericError", err.message) from None
    return {}


@command("x-exit-preconfig")
def x_exit_preconfig(ctx: CommandContext, args: dict[str, Any]) -> Any:
    was_running = ctx.machine.run_state == "running"
    try:
        _print(ctx.machine.exit_preconfig())
    except ConfigError as err:
        # QEMU reports a late start-up failure and exits at once, without a reply.
        _print([err.stderr])
        raise FatalExit(err.status) from None
    if not was_running and ctx.machine.run_state == "running":
        ctx.emit("RESUME", None)
    return {}
