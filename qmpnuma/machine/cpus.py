"""The CPUs of a machine: possible slots, present CPUs, node mapping, hot-plug, queries.

``MachineCpus`` is the one object the rest of the machine model holds for CPUs. It owns the
slots built from the ``-smp`` topology and applies the rules of ``cpu_numa`` (node mapping)
and ``cpu_hotplug`` (device_add / device_del) to them, remembering which profile's rules
apply. It also renders the CPU parts of QMP answers (``query-cpus-fast``,
``query-hotpluggable-cpus``, 2.9's ``query-cpus``) as plain dicts with wire names, so the
commands layer only forwards them.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, MutableMapping
from typing import Any

from qmpnuma.errors import AbortError, MachineError
from qmpnuma.machine import cpu_numa
from qmpnuma.machine.cpu_slots import (
    CpuProps,
    CpuSlot,
    build_slots,
    cpu_has_x2apic,
    cpu_type_for_model,
    hyperthreading_warning,
)
from qmpnuma.machine.devices import PlugRolledBack
from qmpnuma.machine.machine_types import MachineType
from qmpnuma.machine.smp import CpuTopology
from qmpnuma.profiles.profile import ApicIdCheck, NumaState, Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE

#: ``pc`` reported by 2.9's query-cpus for a CPU at reset (CS base 0xffff0000 + IP 0xfff0).
X86_RESET_PC = 0xFFFF_FFF0


class MachineCpus:
    """Possible and present CPUs of one machine, with their NUMA nodes.

    Start-up sequence (what ``Machine.from_argv`` does): construct; for each ``-numa`` option
    in order call ``assign_node_cpus`` / ``assign_numa_cpu``; once the nodes are complete and
    there is at least one node call ``finish_numa`` and print the warnings it returns; then,
    at board init, ``check_board_cpus`` and print ``startup_warnings``.
    """

    def __init__(
        self,
        topology: CpuTopology,
        machine_type: MachineType,
        profile: Profile = DEFAULT_PROFILE,
        cpu_model: str | None = None,
        first_host_thread_id: int = 1000,
    ) -> None:
        self.topology = topology
        self.machine_type = machine_type
        self.profile: Profile = profile
        #: QOM type of every CPU of the machine (None on boards without CPUs).
        self.cpu_type = cpu_type_for_model(cpu_model, machine_type)
        #: The ``-cpu`` option as given (model and features), None without ``-cpu``.
        self.cpu_model = cpu_model
        self.slots: list[CpuSlot] = build_slots(topology, profile)
        if self.cpu_type is None:
            # ``-M none`` without ``-cpu`` creates no CPU at all.
            for slot in self.slots:
                slot.qom_path = None
        #: Number of NUMA nodes once ``finish_numa`` ran (0: NUMA not configured).
        self.num_nodes = 0
        self._next_host_thread_id = first_host_thread_id
        #: Where real host thread ids come from once a server runs the machine (None: numbered).
        self._thread_id_source: Callable[[int], int] | None = None
        for slot in self.slots:
            if slot.present:
                slot.host_thread_id = self._take_host_thread_id(slot.cpu_index)
        #: 2.9 keeps one CPU set per node instead of node ids in the slots.
        self._legacy_node_cpus: dict[int, set[int]] = {}

    def use_thread_ids(self, source: Callable[[int], int]) -> None:
        """Give every present vCPU (and later hot-plugged ones) a thread id from ``source``.

        A server passes a source that starts one real idle thread per vCPU, because clients
        pin and account the thread ids they read; a machine used from Python keeps numbers.
        """
        self._thread_id_source = source
        for slot in self.slots:
            if slot.present:
                slot.host_thread_id = source(slot.cpu_index)

    def _take_host_thread_id(self, cpu_index: int) -> int:
        if self._thread_id_source is not None:
            return self._thread_id_source(cpu_index)
        value = self._next_host_thread_id
        self._next_host_thread_id += 1
        return value

    # --- start-up -----------------------------------------------------------------------

    def startup_warnings(self) -> list[str]:
        """Warnings printed while the boot CPUs are realized (AMD hyper-threading note)."""
        if self.topology.cpus == 0:
            return []
        warning = hyperthreading_warning(self.cpu_type, self.topology, self.profile)
        return [warning] if warning else []

    def check_board_cpus(self) -> None:
        """Board-init check of the x86 boards (``ApicIdCheck.X86_CPUS_INIT``): without KVM's
        in-kernel x2APIC support (our case: TCG) the highest possible APIC id must stay below
        255."""
        if self.profile.apic_id_check is not ApicIdCheck.X86_CPUS_INIT:
            return
        if self.machine_type.family in ("none", "x-remote") or not self.slots:
            return
        if max(slot.apic_id for slot in self.slots) + 1 > 255:
            raise MachineError(
                "current -smp configuration requires kernel irqchip and X2APIC API support."
            )

    def check_realized_cpus(self) -> None:
        """``ApicIdCheck.APIC_COMMON_SET_ID``: realizing the boot CPUs in order, the first
        whose APIC id is 255 or more on a CPU model without x2APIC aborts QEMU."""
        if self.profile.apic_id_check is not ApicIdCheck.APIC_COMMON_SET_ID:
            return
        if self.machine_type.family in ("none", "x-remote") or cpu_has_x2apic(self.cpu_model):
            return
        for slot in self.slots:
            if slot.present and slot.apic_id >= 255:
                raise AbortError(
                    self.profile.texts.apic_id_abort,
                    f"APIC ID {slot.apic_id} requires x2APIC feature in CPU",
                    hints=("Try x2apic=on in -cpu.",),
                )

    def assign_node_cpus(
        self,
        node_id: int,
        cpu_indexes: Iterable[int],
        hmat_initiators: MutableMapping[int, int] | None = None,
    ) -> None:
        """``-numa node,nodeid=N,cpus=...`` (errors N4, N5, N15 in 7.2; N4 in 2.9)."""
        if self.profile.numa_state is NumaState.GLOBAL_NUMA_INFO:
            cpu_numa.legacy_assign_node_cpus(
                self._legacy_node_cpus, node_id, cpu_indexes, len(self.slots)
            )
            return
        cpu_numa.assign_node_cpus(self.slots, node_id, cpu_indexes, hmat_initiators)

    def assign_numa_cpu(
        self,
        props: CpuProps,
        defined_nodes: Container[int],
        hmat_initiators: MutableMapping[int, int] | None = None,
    ) -> None:
        """``-numa cpu,...`` (7.2 only; errors C1–C5)."""
        cpu_numa.assign_numa_cpu(self.slots, props, defined_nodes, hmat_initiators)

    def finish_numa(
        self, num_nodes: int, hmat_initiators: MutableMapping[int, int] | None = None
    ) -> list[str]:
        """Complete the CPU-to-node mapping for ``num_nodes`` (> 0) nodes; return warning
        texts (W1). 2.9 raises C4 (``CPU(s) present in multiple NUMA nodes: ...``)."""
        self.num_nodes = num_nodes
        if self.profile.numa_state is NumaState.GLOBAL_NUMA_INFO:
            warnings = cpu_numa.legacy_finish_cpu_numa(
                self._legacy_node_cpus, num_nodes, self.slots, self.machine_type
            )
        else:
            warnings = cpu_numa.finish_cpu_numa(self.slots, num_nodes, hmat_initiators)
        if warnings:
            warnings.append(self.profile.texts.partial_numa_mapping)
        return warnings

    # --- lookups ------------------------------------------------------------------------

    @property
    def present_cpus(self) -> list[CpuSlot]:
        """Slots holding a CPU, in cpu-index order."""
        return [slot for slot in self.slots if slot.present]

    def node_of_cpu(self, cpu_index: int) -> int:
        """Node a CPU is listed under by ``info numa`` (unmapped CPUs count as node 0)."""
        node_id = self.slots[cpu_index].node_id
        return 0 if node_id is None else node_id

    def numa_get_node_for_cpu(self, cpu_index: int) -> int:
        """Seed (2.9) ``numa_get_node_for_cpu``: the CPU's node, or the number of nodes when
        it is in none."""
        if self.profile.numa_state is NumaState.GLOBAL_NUMA_INFO:
            return cpu_numa.legacy_node_for_cpu(
                self._legacy_node_cpus, self.num_nodes, cpu_index
            )
        node_id = self.slots[cpu_index].node_id
        return self.num_nodes if node_id is None else node_id

    def cpus_of_node(self, node_id: int) -> list[int]:
        """Indexes of the present CPUs on a node, ascending (the ``info numa`` cpus line)."""
        return [s.cpu_index for s in self.present_cpus if self.node_of_cpu(s.cpu_index) == node_id]

    def nodes_with_cpus(self) -> set[int]:
        """Nodes that own at least one possible CPU (HMAT initiator candidates)."""
        return {slot.node_id for slot in self.slots if slot.node_id is not None}

    def slot_by_qom_path(self, qom_path: str) -> CpuSlot | None:
        """The present CPU with this QOM path, if any."""
        return next((s for s in self.slots if s.qom_path == qom_path), None)

    # --- hot-plug -----------------------------------------------------------------------

    def plug_cpu(self, driver: str, props: CpuProps, qom_path: str) -> CpuSlot:
        """Hot-plug (or ``-device``) a CPU of type ``driver`` at ``qom_path``
        (``cpu_slots.peripheral_qom_path``); returns the now occupied slot.

        ``props``: integer ``socket-id``/``die-id``/``core-id``/``thread-id``/``node-id``.
        """
        if self.cpu_type is None:
            raise MachineError(f"Invalid CPU type, expected cpu type: '{self.cpu_type}'")
        from qmpnuma.machine.cpu_hotplug import find_plug_slot  # a hot-plug: never at start-up

        slot, _node_id = find_plug_slot(
            self.slots, self.topology, driver, self.cpu_type, props, self.profile
        )
        if self.machine_type.family == "microvm" and not self.profile.microvm_plugs_cpus:
            # Realize already ran (the CPU made its local APIC); the plug undoes it.
            raise PlugRolledBack(
                f"virt: device plug request for unsupported device type: {driver}",
                (f"{qom_path}/lapic",),
            )
        slot.qom_path = qom_path
        slot.hotplugged = True
        slot.qom_values = {}
        slot.host_thread_id = self._take_host_thread_id(slot.cpu_index)
        return slot

    def request_unplug(self, slot: CpuSlot) -> None:
        """``device_del`` of a CPU; always raises (see ``cpu_hotplug.check_unplug``)."""
        if self.machine_type.family == "microvm" and self.profile.microvm_plugs_cpus:
            raise MachineError("unplug not supported by microvm")
        from qmpnuma.machine.cpu_hotplug import check_unplug

        check_unplug(slot, self.cpu_type or "")

    # --- QMP answers --------------------------------------------------------------------

    def query_cpus_fast(self) -> list[dict[str, Any]]:
        """``query-cpus-fast`` (7.2): present CPUs in cpu-index order."""
        return [
            {
                "cpu-index": slot.cpu_index,
                "qom-path": slot.qom_path,
                "thread-id": slot.host_thread_id,
                "props": slot.props(self.profile),
                "target": "x86_64",
            }
            for slot in self.present_cpus
        ]

    def query_hotpluggable_cpus(self) -> list[dict[str, Any]]:
        """``query-hotpluggable-cpus``: every slot, highest index first; ``qom-path`` only
        for present CPUs; ``node-id`` once NUMA is configured (7.2). Boards without CPU
        hot-plug (microvm, none) refuse the command."""
        if not self.machine_type.hotpluggable_cpus:
            raise MachineError(self.profile.texts.hotpluggable_cpus_unsupported)
        answer = []
        for slot in reversed(self.slots):
            entry: dict[str, Any] = {
                "type": self.cpu_type,
                "vcpus-count": 1,
                "props": slot.props(self.profile),
            }
            if slot.qom_path is not None:
                entry["qom-path"] = slot.qom_path
            answer.append(entry)
        return answer

    def query_cpus(self) -> list[dict[str, Any]]:
        """2.9's ``query-cpus`` (``CpuInfo``) for a stopped machine that never ran: CPU 0 is
        current and running, the others wait for their start-up IPI (halted)."""
        return [
            {
                "CPU": slot.cpu_index,
                "current": slot.cpu_index == 0,
                "halted": slot.cpu_index != 0,
                "qom_path": slot.qom_path,
                "thread_id": slot.host_thread_id,
                "arch": "x86",
                "pc": X86_RESET_PC,
            }
            for slot in self.present_cpus
        ]

    # --- HMP texts (``\n`` line ends; the monitor turns them into ``\r\n``) ----------

    def info_hotpluggable_cpus_text(self) -> str:
        """HMP ``info hotpluggable-cpus``: the query answer, one block per slot."""
        lines = ["Hotpluggable CPUs:"]
        for entry in self.query_hotpluggable_cpus():
            lines.append(f'  type: "{entry["type"]}"')
            lines.append(f'  vcpus_count: "{entry["vcpus-count"]}"')
            if "qom-path" in entry:
                lines.append(f'  qom_path: "{entry["qom-path"]}"')
            lines.append("  CPUInstance Properties:")
            lines.extend(f'    {name}: "{value}"' for name, value in entry["props"].items())
        return "\n".join(lines) + "\n"

    def info_cpus_text(self, current_cpu: int = 0) -> str:
        """HMP ``info cpus``: ``*`` marks the monitor's current CPU (the first by default);
        2.9 also shows the program counter and the halted state."""
        lines = []
        for slot in self.present_cpus:
            marker = "*" if slot.cpu_index == current_cpu else " "
            text = f"{marker} CPU #{slot.cpu_index}:"
            if self.profile.hmp_info_cpus_shows_pc:
                text += f" pc=0x{X86_RESET_PC:016x}"
                if slot.cpu_index != 0:
                    text += " (halted)"
            lines.append(f"{text} thread_id={slot.host_thread_id}\n")
        return "".join(lines)
