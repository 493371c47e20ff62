"""Possible-CPU slots: the x86 topology ids of every CPU index, and CPU type names.

QEMU describes each CPU the machine could ever have (``maxcpus`` of them) by a slot with
``socket-id`` / ``die-id`` / ``core-id`` / ``thread-id`` and, once NUMA is configured, a
``node-id``. Those ids are what ``-numa cpu`` matches, what CPU hot-plug validates and what
``query-hotpluggable-cpus`` reports, so they are computed once here from the topology.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qmpnuma.machine.machine_types import MachineType
from qmpnuma.machine.smp import CpuTopology
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.records import field, record

#: Suffix of x86 CPU QOM types in qemu-system-x86_64 (``qemu64`` → ``qemu64-x86_64-cpu``).
X86_CPU_TYPE_SUFFIX = "-x86_64-cpu"

#: CPU models whose vendor is AMD and which lack ``topoext``: with more than one thread per
#: core their realize prints the hyper-threading warning below (observed for qemu64, phenom
#: and max under TCG).
AMD_WITHOUT_TOPOEXT = frozenset(
    {"qemu64", "phenom", "athlon", "max", "Opteron_G1", "Opteron_G2", "Opteron_G3",
     "Opteron_G4", "Opteron_G5"}
)


#: CPU model families whose definition has ``x2apic`` (observed on 10.0.2 under TCG, every
#: model of ``-cpu help`` started with a boot CPU of APIC id 255: these start, every other one
#: aborts), so that APIC ids above 254 need no ``x2apic=on``.  A family covers its versions
#: and aliases (``Haswell-v4``, ``Haswell-noTSX-IBRS``).
X2APIC_FAMILIES: tuple[str, ...] = (
    "Broadwell", "Cascadelake-Server", "ClearwaterForest", "Cooperlake", "Denverton",
    "GraniteRapids", "Haswell", "Icelake-Server", "IvyBridge", "KnightsMill", "SandyBridge",
    "SapphireRapids", "SierraForest", "Skylake-Client", "Skylake-Server", "Snowridge",
    "YongFeng",
)


def model_has_x2apic(name: str) -> bool:
    """Whether the CPU model ``name`` (no features) defines ``x2apic`` (``max`` does too)."""
    return name == "max" or any(
        name == family or name.startswith(family + "-") for family in X2APIC_FAMILIES)


#: CPU properties keyed by wire name (``node-id``, ``socket-id``, ``die-id``, ``cluster-id``,
#: ``core-id``, ``thread-id``). Keys are typed loosely so that callers may build the mapping
#: from ``Literal`` names without casts.
CpuProps = Mapping[Any, int]


def cpu_type_for_model(model: str | None, machine_type: MachineType) -> str | None:
    """The QOM type of the machine's CPUs: ``-cpu NAME[,features]`` → ``NAME-x86_64-cpu``,
    no ``-cpu`` → the machine type's default (None for boards without CPUs)."""
    if model is None:
        return machine_type.default_cpu_type
    return model.split(",", 1)[0] + X86_CPU_TYPE_SUFFIX


def cpu_model_of_type(cpu_type: str) -> str:
    """Inverse of ``cpu_type_for_model``: ``qemu64-x86_64-cpu`` → ``qemu64``."""
    return cpu_type.removesuffix(X86_CPU_TYPE_SUFFIX)


def hyperthreading_warning(
    cpu_type: str | None, topology: CpuTopology, profile: Profile = DEFAULT_PROFILE
) -> str | None:
    """The one-time warning an AMD CPU model without topoext prints when realized with
    ``threads > 1`` (the profile's text, no ``warning:`` prefix)."""
    if cpu_type is None or topology.threads <= 1:
        return None
    if cpu_model_of_type(cpu_type) not in AMD_WITHOUT_TOPOEXT:
        return None
    return profile.texts.amd_hyperthreading.format(threads=topology.threads)


def cpu_has_x2apic(cpu_model: str | None) -> bool:
    """Whether ``-cpu MODEL[,features]`` gives the CPUs the ``x2apic`` feature (under TCG):
    the model's own definition, then each ``x2apic`` switch in order (the last one wins)."""
    if cpu_model is None:
        return False
    name, *features = cpu_model.split(",")
    enabled = model_has_x2apic(name)
    for feature in features:
        key, _, value = feature.partition("=")
        if key in ("+x2apic", "-x2apic"):
            enabled = key.startswith("+")
        elif key == "x2apic":
            enabled = value in ("", "on", "yes", "true", "y")
    return enabled


def _bit_width(count: int) -> int:
    """Bits needed for ids ``0 .. count-1`` (``apicid_bitwidth_for_count``)."""
    return (count - 1).bit_length() if count > 1 else 0


@record(frozen=True)
class X86TopoIds:
    """The ids of one CPU inside the package/die/core/thread hierarchy."""

    socket_id: int
    die_id: int
    core_id: int
    thread_id: int
    #: Module inside the die (10.0's ``-smp modules=``; 0 where there is one module).
    module_id: int = 0


def topo_ids_from_index(topology: CpuTopology, cpu_index: int) -> X86TopoIds:
    """x86 ids of a CPU index (``x86_topo_ids_from_idx``): threads vary fastest, then cores,
    modules, dies."""
    threads, cores, modules, dies = (
        topology.threads, topology.cores, topology.modules, topology.dies)
    return X86TopoIds(
        socket_id=cpu_index // (dies * modules * cores * threads),
        die_id=cpu_index // (modules * cores * threads) % dies,
        core_id=cpu_index // threads % cores,
        thread_id=cpu_index % threads,
        module_id=cpu_index // (cores * threads) % modules,
    )


def apic_id_from_ids(topology: CpuTopology, ids: X86TopoIds) -> int:
    """The APIC id packing of the ids: each level takes ``ceil(log2(count))`` bits, from the
    thread up: core, module, die, package."""
    core_offset = _bit_width(topology.threads)
    module_offset = core_offset + _bit_width(topology.cores)
    die_offset = module_offset + _bit_width(topology.modules)
    pkg_offset = die_offset + _bit_width(topology.dies)
    return (
        (ids.socket_id << pkg_offset)
        | (ids.die_id << die_offset)
        | (ids.module_id << module_offset)
        | (ids.core_id << core_offset)
        | ids.thread_id
    )


@record
class CpuSlot:
    """One possible CPU (QEMU's ``CPUArchId``) and, if it exists, the CPU in it.

    ``node_id`` is the slot's NUMA node once one was assigned (``props.has_node_id``);
    ``qom_path`` is set while a CPU occupies the slot.
    """

    cpu_index: int
    socket_id: int
    die_id: int
    core_id: int
    thread_id: int
    apic_id: int
    #: die-id is reported only when the topology has more than one die per socket.
    has_die_id: bool = False
    module_id: int = 0
    #: module-id likewise only with more than one module per die (10.0).
    has_module_id: bool = False
    node_id: int | None = None
    qom_path: str | None = None
    hotplugged: bool = False
    #: Host thread id reported by query-cpus-fast (any integer; real QEMU shows a host TID).
    host_thread_id: int = 0
    #: Values `qom-set` gave the vCPU's writable properties (a new vCPU starts without any).
    qom_values: dict[str, Any] = field(default_factory=dict)

    @property
    def present(self) -> bool:
        """True while a CPU is realized in this slot."""
        return self.qom_path is not None

    def props(self, profile: Profile = DEFAULT_PROFILE) -> dict[str, Any]:
        """``CpuInstanceProperties`` of the slot (wire names, QAPI member order).

        ``node-id`` only once assigned (never in 2.9); ``die-id`` only with several dies;
        ``cluster-id`` is never reported on x86.
        """
        props: dict[str, Any] = {}
        if self.node_id is not None and profile.cpu_props_node_and_die:
            props["node-id"] = self.node_id
        props["socket-id"] = self.socket_id
        if self.has_die_id and profile.cpu_props_node_and_die:
            props["die-id"] = self.die_id
        if self.has_module_id:
            props["module-id"] = self.module_id
        props["core-id"] = self.core_id
        props["thread-id"] = self.thread_id
        return props

    def describe(self) -> str:
        """``socket-id: S, [die-id: D, ]core-id: C, thread-id: T`` (``cpu_slot_to_string``)."""
        parts = [f"socket-id: {self.socket_id}"]
        if self.has_die_id:
            parts.append(f"die-id: {self.die_id}")
        if self.has_module_id:
            parts.append(f"module-id: {self.module_id}")
        parts.append(f"core-id: {self.core_id}")
        parts.append(f"thread-id: {self.thread_id}")
        return ", ".join(parts)


def boot_cpu_qom_path(cpu_index: int) -> str:
    """QOM path of a CPU created at start-up, as observed on pc and q35 with -nodefaults.

    CPU 0 is ``/machine/unattached/device[0]``; another unattached device is created right
    after it, so CPU k >= 1 is ``device[k + 1]``.
    """
    return f"/machine/unattached/device[{0 if cpu_index == 0 else cpu_index + 1}]"


def peripheral_qom_path(device_id: str | None, anonymous_index: int = 0) -> str:
    """QOM path of a ``-device`` / ``device_add`` device: ``/machine/peripheral/ID``, or
    ``/machine/peripheral-anon/device[N]`` (N counts every id-less device of the machine)."""
    if device_id is not None:
        return f"/machine/peripheral/{device_id}"
    return f"/machine/peripheral-anon/device[{anonymous_index}]"


def build_slots(topology: CpuTopology, profile: Profile = DEFAULT_PROFILE) -> list[CpuSlot]:
    """All ``maxcpus`` slots in cpu-index order; the first ``cpus`` of them hold boot CPUs."""
    slots = []
    for index in range(topology.maxcpus):
        ids = topo_ids_from_index(topology, index)
        slot = CpuSlot(
            cpu_index=index,
            socket_id=ids.socket_id,
            die_id=ids.die_id,
            core_id=ids.core_id,
            thread_id=ids.thread_id,
            apic_id=apic_id_from_ids(topology, ids),
            has_die_id=profile.smp_accepts_dies and topology.dies > 1,
            module_id=ids.module_id,
            has_module_id="modules" in profile.smp_members and topology.modules > 1,
        )
        if index < topology.cpus:
            slot.qom_path = boot_cpu_qom_path(index)
        slots.append(slot)
    return slots
