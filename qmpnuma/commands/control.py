"""Control and run-state commands: version, schema, status, stop/cont, reset, powerdown, quit.

Events are emitted exactly where QEMU 7.2 emits them, before the command's reply: `STOP` only when
a running machine stops, `RESUME` only when a stopped one starts, `RESET` and `POWERDOWN` always,
`SHUTDOWN` on `quit` (with its 7.2 data; 2.9's event had none).
"""

from __future__ import annotations

from typing import Any

from qmpnuma.commands.machine_facts import accelerator, guest_name, guest_uuid
from qmpnuma.commands.registry import CommandContext, command
from qmpnuma.errors import QmpError
from qmpnuma.machine.dimms import PC_DIMM
from qmpnuma.profiles import introspection, wire_types
from qmpnuma.qmp.session import default_greeting


@command("query-version")
def query_version(ctx: CommandContext, args: dict[str, Any]) -> Any:
    info = default_greeting(ctx.machine.profile)
    if ctx.registry is not None and ctx.registry.greeting is not None:
        info = ctx.registry.greeting
    return {
        "qemu": {"major": info.major, "minor": info.minor, "micro": info.micro},
        "package": info.package,
    }


@command("query-commands")
def query_commands(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # QEMU lists its commands newest-registered first; ours register in schema order.
    names = list(wire_types(ctx.machine.profile).COMMANDS)
    return [{"name": name} for name in reversed(names)]


@command("query-qmp-schema")
def query_qmp_schema(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return introspection(ctx.machine.profile)


@command("query-status")
def query_status(ctx: CommandContext, args: dict[str, Any]) -> Any:
    state = ctx.machine.run_state
    if ctx.machine.profile.status_reports_singlestep:
        return {"running": state == "running", "singlestep": False, "status": state}
    return {"running": state == "running", "status": state}


@command("stop")
def stop(ctx: CommandContext, args: dict[str, Any]) -> Any:
    was_running = ctx.machine.run_state == "running"
    ctx.machine.stop()
    if was_running:
        ctx.emit("STOP", None)
    return {}


@command("cont")
def cont(ctx: CommandContext, args: dict[str, Any]) -> Any:
    was_stopped = ctx.machine.run_state != "running"
    ctx.machine.cont()
    if was_stopped and ctx.machine.run_state == "running":
        ctx.emit("RESUME", None)
    return {}


@command("system_reset")
def system_reset(ctx: CommandContext, args: dict[str, Any]) -> Any:
    data = {"guest": False, "reason": "host-qmp-system-reset"} \
        if ctx.machine.profile.shutdown_events_carry_reason else None
    ctx.machine.system_reset()
    ctx.emit("RESET", data)
    return {}


@command("system_powerdown")
def system_powerdown(ctx: CommandContext, args: dict[str, Any]) -> Any:
    ctx.machine.system_powerdown()
    ctx.emit("POWERDOWN", None)
    return {}


@command("quit")
def quit_(ctx: CommandContext, args: dict[str, Any]) -> Any:
    data = {"guest": False, "reason": "host-qmp-quit"} \
        if ctx.machine.profile.shutdown_events_carry_reason else None
    ctx.machine.quit()
    ctx.emit("SHUTDOWN", data)
    ctx.request_exit(0)
    return {}


@command("query-name")
def query_name(ctx: CommandContext, args: dict[str, Any]) -> Any:
    name = guest_name(ctx.machine)
    return {} if name is None else {"name": name}


@command("query-uuid")
def query_uuid(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return {"UUID": guest_uuid(ctx.machine)}


@command("query-target")
def query_target(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return {"arch": "x86_64"}


@command("query-kvm")
def query_kvm(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return {"enabled": accelerator(ctx.machine) == "kvm", "present": True}


@command("migrate-recover")
def migrate_recover(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # No migration ever runs here, so post-copy is never paused.
    raise QmpError("GenericError", "Migrate recover can only be run when postcopy is paused.")


@command("migrate-pause")
def migrate_pause(ctx: CommandContext, args: dict[str, Any]) -> Any:
    raise QmpError("GenericError", ctx.machine.profile.texts.migrate_pause_refused)


def _has_acpi(ctx: CommandContext) -> bool:
    return ctx.machine.machine_type.is_pc_like and ctx.machine.dimms.acpi


@command("query-acpi-ospm-status")
def query_acpi_ospm_status(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # The ACPI memory hot-plug block reports one entry per DIMM slot; nothing ever ran _OST.
    # microvm's generic event device has that block too, but no DIMM is ever plugged into it.
    machine = ctx.machine
    microvm_ged = machine.machine_type.family == "microvm" and machine.dimms.acpi
    if not (_has_acpi(ctx) or microvm_ged):
        raise QmpError("GenericError", "command is not supported, missing ACPI device")
    # An nvdimm is handed to the NVDIMM ACPI code, not to the memory hot-plug block.
    by_slot = {} if microvm_ged else {
        dimm.slot: dimm for dimm in machine.sorted_dimms() if dimm.model == PC_DIMM
    }
    answer = []
    for slot in range(ctx.machine.memory.ram_slots):
        entry: dict[str, Any] = {}
        dimm = by_slot.get(slot)
        if dimm is not None and dimm.id is not None:
            entry["device"] = dimm.id
        entry.update({"slot": str(slot), "slot-type": "DIMM", "source": 0, "status": 0})
        answer.append(entry)
    return answer


@command("query-current-machine")
def query_current_machine(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return {"wakeup-suspend-support": _has_acpi(ctx)}


@command("system_wakeup")
def system_wakeup(ctx: CommandContext, args: dict[str, Any]) -> Any:
    if not _has_acpi(ctx):
        raise QmpError("GenericError", "wake-up from suspend is not supported by this guest")
    raise QmpError("GenericError", "Unable to wake up: guest is not in suspended state")


#: Compressions Debian's QEMU builds leave out (no lzo or snappy library is linked).
UNBUILT_COMPRESSIONS = ("lzo", "snappy")


@command("query-dump-guest-memory-capability")
def query_dump_guest_memory_capability(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # qmp_query_dump_guest_memory_capability lists every DumpGuestMemoryFormat the build can
    # write: the schema's values (plain and raw kdump came with 8.2) without the unbuilt ones.
    formats = wire_types(ctx.machine.profile).SCHEMA["DumpGuestMemoryFormat"]["values"]
    return {"formats": [name for name in formats
                        if not name.endswith(tuple(f"-{c}" for c in UNBUILT_COMPRESSIONS))]}


@command("query-events")
def query_events(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # QEMU 2.9 lists the events it knows; newest-registered first, like query-commands.
    return [{"name": name} for name in reversed(list(wire_types(ctx.machine.profile).EVENTS))]
