"""`qom-list`/`qom-get` on vCPU objects (`/machine/unattached/device[N]`, hot-plugged ones).

libvirt verifies the guest CPU after start-up by listing the first vCPU's QOM properties and
reading each of them (some 400 `qom-get`s). The feature flags and CPUID words are facts of the
CPU model in QEMU 7.2, recorded per model from the real binary; the topology properties
(`socket-id`, `core-id`, `apic-id`, `node-id`, ...) and `hotplugged` come from the model's CPU
slot. Every other path is passed on to the model's object tree (`qmpnuma.commands.qom`).
"""

from __future__ import annotations

from typing import Any

from qmpnuma.commands import qom
from qmpnuma.commands.registry import CommandContext, command
from qmpnuma.errors import QmpError
from qmpnuma.facts import recorded_replies
from qmpnuma.machine import Machine
from qmpnuma.machine.cpu_slots import CpuSlot

#: The CPU model whose recording stands in for models that were not recorded.
FALLBACK_MODEL = "qemu64"
CPU_TYPE_SUFFIX = "-x86_64-cpu"


def _recorded_cpu(cpu_type: str) -> dict[str, Any]:
    objects: dict[str, Any] = recorded_replies()["cpu-objects"]["tcg"]
    model = cpu_type.removesuffix(CPU_TYPE_SUFFIX)
    chosen: dict[str, Any] = objects.get(model) or objects[FALLBACK_MODEL]
    return chosen


def _slot(machine: Machine, path: str) -> CpuSlot | None:
    """The CPU slot whose vCPU lives at ``path`` (boot CPUs and hot-plugged ones alike)."""
    if not path.startswith("/machine/"):
        return None
    return machine.cpus.slot_by_qom_path(path)


def _slot_value(machine: Machine, slot: CpuSlot, name: str) -> tuple[bool, Any]:
    """The model's value of a position-dependent property, as (known, value)."""
    values: dict[str, Any] = {
        "socket-id": slot.socket_id, "die-id": slot.die_id, "core-id": slot.core_id,
        "thread-id": slot.thread_id, "apic-id": slot.apic_id, "hotplugged": slot.hotplugged,
        "node-id": slot.node_id if slot.node_id is not None else -1,
        "type": machine.cpus.cpu_type,
    }
    if name in values:
        return True, values[name]
    return False, None


def _cpu_type(machine: Machine) -> str:
    return machine.cpus.cpu_type or f"{FALLBACK_MODEL}{CPU_TYPE_SUFFIX}"


@command("qom-list")
def qom_list(ctx: CommandContext, args: dict[str, Any]) -> Any:
    slot = _slot(ctx.machine, args["path"])
    if slot is None:
        return qom.qom_list(ctx, args)
    listing: list[dict[str, str]] = _recorded_cpu(_cpu_type(ctx.machine))["qom-list"]
    return listing


@command("qom-get")
def qom_get(ctx: CommandContext, args: dict[str, Any]) -> Any:
    slot = _slot(ctx.machine, args["path"])
    if slot is None:
        return qom.qom_get(ctx, args)
    name = args["property"]
    cpu_type = _cpu_type(ctx.machine)
    known, value = _slot_value(ctx.machine, slot, name)
    if known:
        return value
    recorded = _recorded_cpu(cpu_type)
    reply = recorded["qom-get"].get(name)
    if reply is None:
        kinds = {prop["name"]: prop["type"] for prop in recorded["qom-list"]}
        if name not in kinds:
            raise QmpError("GenericError", f"Property '{cpu_type}.{name}' not found")
        raise QmpError("GenericError", f"qmpnuma has no recorded value for {cpu_type}.{name}")
    if "error" in reply:
        desc = str(reply["error"]["desc"]).replace(
            f"{FALLBACK_MODEL}{CPU_TYPE_SUFFIX}", cpu_type
        )
        raise QmpError(reply["error"]["class"], desc)
    return reply["return"]
