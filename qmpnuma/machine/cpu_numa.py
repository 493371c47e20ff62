"""CPU-to-NUMA-node mapping rules of both profiles.

7.2 stores a node id in every possible-CPU slot: ``-numa node,cpus=`` and ``-numa cpu``
assign it at option-parse time (conflicts are errors right there), and once the nodes are
complete every slot still without a node gets one — the board default (``socket % nodes``)
when nothing was mapped, node 0 plus a warning otherwise. 2.9 instead keeps one CPU bitmap
per node, fills them socket by socket only when all are empty, and checks overlaps (fatal)
and gaps (warning) at the end. Each rule raises ``MachineError`` with QEMU's text.

HMAT (7.2, ``-machine hmat=on``): the caller passes its node → initiator mapping; a node that
receives a CPU must be its own initiator, and becomes so (the mapping is updated in place).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, MutableMapping, Sequence
from operator import attrgetter

from qmpnuma.errors import MachineError
from qmpnuma.machine.cpu_slots import CpuProps, CpuSlot
from qmpnuma.machine.machine_types import MachineType

#: ``-numa cpu`` / slot properties in the order QEMU checks their support.
_SUPPORT_CHECK_ORDER = (
    "thread-id", "core-id", "module-id", "cluster-id", "socket-id", "die-id",
)
#: (``book-id``/``drawer-id``, accepted from 8.2 on, are neither checked nor matched on x86.)



#: The `CpuSlot` attribute holding each id (cluster-id has none: it is never supported).
_SLOT_ATTRIBUTES = {
    "socket-id": "socket_id", "die-id": "die_id", "core-id": "core_id", "thread-id": "thread_id",
    "module-id": "module_id",
}


def _slot_value(slot: CpuSlot, prop: str) -> int | None:
    """The slot's value of a CpuInstanceProperties member, None if the board lacks it."""
    if prop == "socket-id":
        return slot.socket_id
    if prop == "die-id":
        return slot.die_id if slot.has_die_id else None
    if prop == "module-id":
        return slot.module_id if slot.has_module_id else None
    if prop == "core-id":
        return slot.core_id
    if prop == "thread-id":
        return slot.thread_id
    return None


def _check_hmat_initiator(node_id: int, hmat_initiators: MutableMapping[int, int] | None) -> None:
    """N15: a CPU node must be its own initiator; it becomes one when it gets a CPU."""
    if hmat_initiators is None:
        return
    initiator = hmat_initiators.get(node_id)
    if initiator is not None and initiator != node_id:
        raise MachineError(
            f"The initiator of CPU NUMA node {node_id} should be itself (got {initiator})"
        )
    hmat_initiators[node_id] = node_id


def set_cpu_numa_node(
    slots: Sequence[CpuSlot],
    props: CpuProps,
    hmat_initiators: MutableMapping[int, int] | None = None,
) -> None:
    """Assign ``props["node-id"]`` to every slot matching the other given ids (7.2
    ``machine_set_cpu_numa_node``); no id besides node-id matches every slot."""
    node_id = props["node-id"]
    if slots:
        for prop in _SUPPORT_CHECK_ORDER:
            if prop in props and _slot_value(slots[0], prop) is None:
                raise MachineError(f"{prop} is not supported")
    # The support check above guarantees every given id is an attribute the slots have, so a
    # slot matches when its tuple of those attributes equals the wanted tuple (this loop runs
    # once per CPU of a `cpus=` list, over every slot: keep it cheap for hundreds of CPUs).
    given = [prop for prop in _SUPPORT_CHECK_ORDER if prop in props]
    wanted = tuple(props[prop] for prop in given)
    ids_of = attrgetter(*(_SLOT_ATTRIBUTES[prop] for prop in given)) if given else None
    matched = False
    for slot in slots:
        if ids_of is not None:
            ids = ids_of(slot)
            if (ids if len(given) > 1 else (ids,)) != wanted:
                continue
        if slot.node_id is not None and slot.node_id != node_id:
            raise MachineError(f"CPU is already assigned to node-id: {slot.node_id}")
        matched = True
        slot.node_id = node_id
        _check_hmat_initiator(node_id, hmat_initiators)
    if not matched:
        raise MachineError("no match found")


def _index_props(slot: CpuSlot, node_id: int) -> dict[str, int]:
    """The properties that select exactly this slot, plus the node to give it."""
    props = {"node-id": node_id, "socket-id": slot.socket_id}
    if slot.has_die_id:
        props["die-id"] = slot.die_id
    if slot.has_module_id:
        props["module-id"] = slot.module_id
    props["core-id"] = slot.core_id
    props["thread-id"] = slot.thread_id
    return props


def _check_cpu_index(cpu_index: int, maxcpus: int) -> None:
    """N4: ``cpus=`` values must name a possible CPU."""
    if cpu_index >= maxcpus:
        raise MachineError(
            f"CPU index ({cpu_index}) should be smaller than maxcpus ({maxcpus})"
        )


def assign_node_cpus(
    slots: Sequence[CpuSlot],
    node_id: int,
    cpu_indexes: Iterable[int],
    hmat_initiators: MutableMapping[int, int] | None = None,
) -> None:
    """7.2 ``-numa node,cpus=``: map each listed CPU index to ``node_id`` in the given order
    (N4 ``CPU index (4) should be smaller than maxcpus (4)``, N5 already-assigned, N15)."""
    for cpu_index in cpu_indexes:
        _check_cpu_index(cpu_index, len(slots))
        # QEMU matches the slot's full id set against every possible CPU; ids are unique per
        # slot, so the only match is the slot itself: same outcome without the O(n) scan.
        slot = slots[cpu_index]
        if slot.node_id is not None and slot.node_id != node_id:
            raise MachineError(f"CPU is already assigned to node-id: {slot.node_id}")
        slot.node_id = node_id
        _check_hmat_initiator(node_id, hmat_initiators)


def assign_numa_cpu(
    slots: Sequence[CpuSlot],
    props: CpuProps,
    defined_nodes: Container[int],
    hmat_initiators: MutableMapping[int, int] | None = None,
) -> None:
    """7.2 ``-numa cpu,node-id=N[,socket-id=..][,die-id=..][,core-id=..][,thread-id=..]``
    (C1 missing node-id, C2 undefined node, C5 unsupported property, C3 no match, C4b)."""
    if "node-id" not in props:
        raise MachineError("Missing mandatory node-id property")
    node_id = props["node-id"]
    if node_id not in defined_nodes:
        raise MachineError(
            f"Invalid node-id={node_id}, NUMA node must be defined with -numa node,nodeid=ID "
            "before it's used with -numa cpu,node-id=ID"
        )
    set_cpu_numa_node(slots, props, hmat_initiators)


def default_node_of_slot(slot: CpuSlot, num_nodes: int) -> int:
    """The x86 board default node of a slot: its package (socket) id modulo the nodes."""
    return slot.socket_id % num_nodes


def finish_cpu_numa(
    slots: Sequence[CpuSlot],
    num_nodes: int,
    hmat_initiators: MutableMapping[int, int] | None = None,
) -> list[str]:
    """7.2 ``machine_numa_finish_cpu_init``: give every unmapped slot a node; return the
    warning (W1, its first line: the profile's ``texts.partial_numa_mapping`` follows it) when
    only some slots had been mapped explicitly."""
    default_mapping = all(slot.node_id is None for slot in slots)
    unmapped: list[str] = []
    for slot in slots:
        if slot.node_id is not None:
            continue
        node_id = default_node_of_slot(slot, num_nodes)
        if not default_mapping:
            unmapped.append(f"CPU {slot.cpu_index} [{slot.describe()}]")
            node_id = 0
        set_cpu_numa_node(slots, _index_props(slot, node_id), hmat_initiators)
    if not unmapped:
        return []
    return ["CPU(s) not present in any NUMA nodes: " + ", ".join(unmapped)]


# --- 2.9 profile -------------------------------------------------------------------------


def legacy_assign_node_cpus(
    node_cpus: MutableMapping[int, set[int]],
    node_id: int,
    cpu_indexes: Iterable[int],
    maxcpus: int,
) -> None:
    """2.9 ``-numa node,cpus=``: only the index bound is checked at parse time."""
    cpus = node_cpus.setdefault(node_id, set())
    for cpu_index in cpu_indexes:
        _check_cpu_index(cpu_index, maxcpus)
        cpus.add(cpu_index)


def _enumerate(indexes: Iterable[int]) -> str:
    return " ".join(str(index) for index in sorted(indexes))


def legacy_finish_cpu_numa(
    node_cpus: MutableMapping[int, set[int]],
    num_nodes: int,
    slots: Sequence[CpuSlot],
    machine_type: MachineType,
) -> list[str]:
    """2.9 ``parse_numa_opts`` tail: default fill (by socket on PC boards, round-robin
    elsewhere) when no node lists CPUs, then ``validate_numa_cpus`` — C4 overlap is an
    error, W1 gaps return the first warning line (``texts.partial_numa_mapping`` follows)."""
    maxcpus = len(slots)
    for node_id in range(num_nodes):
        node_cpus.setdefault(node_id, set())
    if all(not node_cpus[node_id] for node_id in range(num_nodes)):
        for slot in slots:
            if machine_type.has_cpu_index_to_socket_id:
                node_id = slot.socket_id % num_nodes
            else:
                node_id = slot.cpu_index % num_nodes
            node_cpus[node_id].add(slot.cpu_index)
    seen: set[int] = set()
    for node_id in range(num_nodes):
        overlap = seen & node_cpus[node_id]
        if overlap:
            raise MachineError(f"CPU(s) present in multiple NUMA nodes: {_enumerate(overlap)}")
        seen |= node_cpus[node_id]
    for node_id in range(num_nodes):
        for cpu_index in node_cpus[node_id]:
            slots[cpu_index].node_id = node_id
    missing = set(range(maxcpus)) - seen
    if not missing:
        return []
    return [f"CPU(s) not present in any NUMA nodes: {_enumerate(missing)}"]


def legacy_node_for_cpu(node_cpus: Mapping[int, set[int]], num_nodes: int, cpu_index: int) -> int:
    """2.9 ``numa_get_node_for_cpu``: the first node listing the CPU, or ``num_nodes``."""
    for node_id in range(num_nodes):
        if cpu_index in node_cpus.get(node_id, set()):
            return node_id
    return num_nodes
