"""Memory commands: backends (`object-add`/`object-del`), DIMMs (`device_add`/`device_del`) and
the queries that show them (`query-memdev`, `query-memory-devices`, `query-memory-size-summary`).

The model answers; these handlers only shape the wire values. `device_add` arrives with its
properties unvisited (QEMU declares it `'gen': false`), and goes to the model as QEMU's qdev layer
receives it: a driver name and its properties.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qmpnuma.commands.registry import CommandContext, command
from qmpnuma.errors import QmpError
from qmpnuma.machine.devices import PlugRolledBack, qmp_device_pairs
from qmpnuma.machine.dimms import Dimm

if TYPE_CHECKING:
    from qmpnuma.machine.virtio_mem import VirtioMem
from qmpnuma.machine.qom_order import device_walk_order, insert_sorted


def memdev_list(ctx: CommandContext) -> list[dict[str, Any]]:
    """`query-memdev`'s answer (QOM `/objects` order)."""
    return ctx.machine.query_memdev()


def listed_memory_devices(ctx: CommandContext) -> list[Dimm | VirtioMem]:
    """The memory devices (DIMMs, virtio-mem) in the order ``qmp_memory_device_list`` builds:
    it walks ``/machine`` recursively and inserts each realized memory device sorted by
    address, so DIMMs sharing an address (boards without a hot-plug handler leave them all at
    ``addr``) come out in reverse walking order."""
    machine = ctx.machine
    rank = device_walk_order(machine.machine_type.family, machine.peripherals.walk_containers())
    walked = sorted(machine.dimms.memory_devices(),
                    key=lambda device: rank.get(device.qom_path, len(rank)))
    return insert_sorted(walked, key=lambda device: device.addr)


def memory_device_list(ctx: CommandContext) -> list[dict[str, Any]]:
    """`query-memory-devices`'s answer (and `info memory-devices`')."""
    return [{"type": device.kind, "data": device.device_info()}
            for device in listed_memory_devices(ctx)]


def memory_size_summary(ctx: CommandContext) -> dict[str, Any]:
    """`query-memory-size-summary`'s answer (pc boards always report plugged memory)."""
    return {"base-memory": ctx.machine.ram_size, "plugged-memory": ctx.machine.plugged_memory}


@command("query-memdev")
def query_memdev(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return memdev_list(ctx)


@command("query-memory-devices")
def query_memory_devices(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return memory_device_list(ctx)


@command("query-memory-size-summary")
def query_memory_size_summary(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return memory_size_summary(ctx)


@command("object-add")
def object_add(ctx: CommandContext, args: dict[str, Any]) -> Any:
    props = {key: value for key, value in args.items() if key not in ("qom-type", "id")}
    ctx.machine.add_backend(args["qom-type"], args["id"], props)
    return {}


@command("object-del")
def object_del(ctx: CommandContext, args: dict[str, Any]) -> Any:
    ctx.machine.del_backend(args["id"])
    return {}


def device_pairs_from_qmp(arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """`device_add` arguments as the QemuOpts pairs QEMU 7.2 builds from them."""
    return qmp_device_pairs(arguments)


@command("device_add")
def device_add(ctx: CommandContext, args: dict[str, Any]) -> Any:
    from_json = ctx.machine.profile.device_add_from_json
    pairs = list(args.items()) if from_json else device_pairs_from_qmp(args)
    try:
        ctx.machine.device_add(pairs, hotplugged=True, from_json=from_json)
    except PlugRolledBack as err:
        for path in err.deleted:
            ctx.emit("DEVICE_DELETED", {"path": path})
        raise
    return {}


@command("device_del")
def device_del(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # find_device_state: the id names a path relative to /machine/peripheral (or an absolute
    # one); an object there that is not a device is refused before the machine is asked.
    from qmpnuma.commands.qom import is_device, resolve_at  # QOM's tree only when deleting

    device_id: str = args["id"]
    node = resolve_at(ctx.machine, "/machine/peripheral", device_id)
    if node is None:
        raise QmpError("DeviceNotFound", f"Device '{device_id}' not found")
    if not is_device(node):
        raise QmpError("GenericError", ctx.machine.profile.texts.not_a_device.format(id=device_id))
    ctx.machine.device_del(device_id)
    return {}


@command("query-hv-balloon-status-report")
def query_hv_balloon_status_report(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # No hv-balloon device is modelled (it needs a Hyper-V guest to report anything).
    raise QmpError("GenericError", "no hv-balloon device present")
