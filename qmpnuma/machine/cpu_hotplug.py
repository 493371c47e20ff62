"""CPU hot-plug and unplug rules (``device_add`` / ``-device`` / ``device_del`` of x86 CPUs).

The checks run in QEMU's order (``x86_cpu_pre_plug`` then ``numa_cpu_pre_plug``): CPU type,
then socket / die / core / thread ids (unset, then out of range), then the slot (missing,
occupied), then the node id, which is filled in from the slot when omitted. Unplug of a CPU
never succeeds on our guest-less machine: the boot CPU is refused outright, any other CPU is
refused by the ACPI device, which stays in legacy CPU-hotplug mode until a guest switches it.
"""

from __future__ import annotations

from collections.abc import Sequence

from qmpnuma.errors import MachineError
from qmpnuma.machine.cpu_slots import CpuProps, CpuSlot, X86TopoIds, apic_id_from_ids
from qmpnuma.machine.smp import CpuTopology
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE

#: Properties of an x86 CPU device that address a slot.
CPU_ID_PROPERTIES = ("socket-id", "die-id", "module-id", "core-id", "thread-id")


def _given(props: CpuProps, name: str) -> int:
    """A CPU property as the device holds it: unset (absent or negative) is -1."""
    value = props.get(name, -1)
    return value if value >= 0 else -1


def _check_id(name: str, value: int, limit: int) -> None:
    label = name.removesuffix("-id")
    if value < 0:
        raise MachineError(f"CPU {label}-id is not set")
    if value > limit:
        raise MachineError(f"Invalid CPU {label}-id: {value} must be in range 0:{limit}")


def find_plug_slot(
    slots: Sequence[CpuSlot],
    topology: CpuTopology,
    driver: str,
    cpu_type: str,
    props: CpuProps,
    profile: Profile = DEFAULT_PROFILE,
) -> tuple[CpuSlot, int | None]:
    """Validate a CPU device about to be plugged; return its slot and the node id the device
    ends up with (None when NUMA is not configured and no node-id was given).

    ``props`` holds the integer CPU properties the user set (``socket-id``, ``die-id``,
    ``core-id``, ``thread-id``, ``node-id``). Raises ``MachineError`` with QEMU's text.
    """
    if profile.cpu_plug_checks_type and driver != cpu_type:
        raise MachineError(f"Invalid CPU type, expected cpu type: '{cpu_type}'")
    if not profile.cpu_props_node_and_die:
        for name in ("die-id", "node-id"):
            if name in props:
                raise MachineError(f"Property '.{name}' not found")

    threads, cores, dies = topology.threads, topology.cores, topology.dies
    # modules per die: 10.0's -smp modules= (a topology without them has one)
    has_modules = "modules" in profile.smp_members
    modules = topology.modules
    max_socket = (topology.maxcpus - 1) // threads // cores // modules // dies
    socket_id = _given(props, "socket-id")
    die_id = _given(props, "die-id")
    if die_id < 0 and dies == 1:
        die_id = 0
    module_id = _given(props, "module-id")
    if module_id < 0 and modules == 1:
        module_id = 0
    core_id = _given(props, "core-id")
    thread_id = _given(props, "thread-id")

    _check_id("socket-id", socket_id, max_socket)
    if profile.smp_accepts_dies:
        _check_id("die-id", die_id, dies - 1)
    if has_modules:
        _check_id("module-id", module_id, modules - 1)
    _check_id("core-id", core_id, cores - 1)
    _check_id("thread-id", thread_id, threads - 1)

    ids = X86TopoIds(socket_id=socket_id, die_id=die_id, core_id=core_id, thread_id=thread_id,
                     module_id=module_id)
    apic_id = apic_id_from_ids(topology, ids)
    slot = next((s for s in slots if s.apic_id == apic_id), None)
    if slot is None:
        where = f"socket: {socket_id}, "
        if profile.smp_accepts_dies:
            where += f"die: {die_id}, "
        if has_modules:
            where += f"module: {module_id}, "
        where += f"core: {core_id}, thread: {thread_id}"
        raise MachineError(
            f"Invalid CPU [{where}] with APIC ID {apic_id}, valid index range 0:{len(slots) - 1}"
        )
    if slot.present:
        raise MachineError(f"CPU[{slot.cpu_index}] with APIC ID {apic_id} exists")

    if not profile.cpu_props_node_and_die:
        return slot, None
    node_id = props.get("node-id", -1)
    if node_id < 0:
        return slot, slot.node_id
    slot_node = slot.node_id if slot.node_id is not None else 0
    if node_id != slot_node:
        raise MachineError(f"invalid node-id, must be {slot_node}")
    return slot, node_id


def check_unplug(slot: CpuSlot, cpu_type: str) -> None:
    """``device_del`` of a CPU: always refused on a machine without a guest OS."""
    if slot.cpu_index == 0:
        raise MachineError("Boot CPU is unpluggable")
    raise MachineError(f"acpi: device unplug request for not supported device type: {cpu_type}")
