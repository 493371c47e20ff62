"""The state of a built machine, its queries and its hot-plug operations.

:class:`MachineState` is what QEMU keeps once start-up is done (or stopped at ``-preconfig``):
machine type, topology and CPUs, RAM layout, backends and ``/objects``, NUMA state, DIMMs, other
devices and the run state.  The QMP commands query it and hot-plug through it; building one from
a command line is :mod:`qmpnuma.machine.startup`'s job (``Machine.from_argv``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar

from qmpnuma.errors import MachineError
from qmpnuma.machine.backends import MemoryBackend, build_backend, complete_backend
from qmpnuma.machine.cpu_slots import CpuSlot
from qmpnuma.machine.cpus import MachineCpus
from qmpnuma.machine.devices import Peripherals, add_device
from qmpnuma.machine.dimms import UNASSIGNED_SLOT, Dimm, DimmBank, DimmRequest
from qmpnuma.machine.host_facts import HostFacts
from qmpnuma.machine.machine_types import MachineType
from qmpnuma.machine.memory import MemoryConfig
from qmpnuma.machine.messages import MessageStyle
from qmpnuma.machine.monitors import MonitorConfig, monitor_config
from qmpnuma.machine.numa import NumaConfig, RamBlockNotifier
from qmpnuma.machine.object_options import (
    ObjectRequest,
    check_creatable,
    check_object_id,
    request_from_qmp,
)
from qmpnuma.machine.object_types import BACKEND_TYPES
from qmpnuma.machine.qom_order import ObjectsContainer
from qmpnuma.machine.ram_layout import RamLayout, compute_layout
from qmpnuma.machine.recorded_options import RecordedOption
from qmpnuma.machine.smp import CpuTopology, default_topology
from qmpnuma.profiles.profile import Profile
from qmpnuma.records import record

RunState = Literal["prelaunch", "running", "paused", "shutdown", "guest-panicked", "inmigrate"]


if TYPE_CHECKING:  # a Protocol class only types; making one costs ~30 µs of a start
    from qmpnuma.machine.virtio_mem import VirtioMem, VirtioMemRequest

    class PendingInit(Protocol):
        """The start-up steps left after ``-preconfig`` (see ``Startup.finish_init``)."""

        @property
        def prelaunch(self) -> bool: ...

        def finish_init(self, machine: MachineState) -> list[str]: ...


@record(frozen=True)
class NodeSummary:
    """What ``info numa`` / ``x-query-numa`` print for one node."""

    node_id: int
    cpus: list[int]
    #: Boot memory of the node plus every memory device on it, in bytes.
    size: int
    #: Memory devices (DIMMs) on the node, in bytes.
    plugged: int


_P = ParamSpec("_P")
_R = TypeVar("_R")


def mutation(
    method: Callable[Concatenate[MachineState, _P], _R],
) -> Callable[Concatenate[MachineState, _P], _R]:
    """Marks a method that changes the machine: it bumps ``revision`` (also when it fails
    half-way), so replies cached for an earlier revision are never served again."""

    def changed(self: MachineState, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        finally:
            self.revision += 1

    changed.__doc__ = method.__doc__
    changed.__name__ = method.__name__
    changed.__qualname__ = method.__qualname__
    return changed


class MachineState:
    """A machine as QEMU 7.2 (or 2.9) would have built it, with its run state and devices."""

    def __init__(
        self, machine_type: MachineType, profile: Profile, progname: str,
        host: HostFacts | None = None,
    ) -> None:
        self.machine_type = machine_type
        #: The host facts QEMU's checks consult (handed in by the caller).
        self.host = host if host is not None else HostFacts()
        self.profile = profile
        self.progname = progname
        self.machine_props: dict[str, str] = {}
        self.topology: CpuTopology = default_topology()
        self.cpus = MachineCpus(self.topology, machine_type, profile)
        self.memory = MemoryConfig(machine_type.default_ram_size,
                                   machine_type.default_ram_size, 0)
        self.layout: RamLayout = compute_layout(self.memory, machine_type)
        #: Memory backends by id (user-created and the implicit ``pc.ram``).
        self.backends: dict[str, MemoryBackend] = {}
        #: Other user-created objects by id (their QOM type).
        self.other_objects: dict[str, str] = {}
        self.objects = ObjectsContainer()
        self.numa = NumaConfig(machine_type, profile, hmat_enabled=False)
        self.dimms = DimmBank(self.memory, self.layout, machine_type.enforce_aligned_dimm,
                              profile)
        #: Warning (and other non-fatal) lines printed on stderr during start-up.
        self.warnings: list[str] = []
        #: Options accepted but not modelled (and `-device`), in command-line order.
        self.options: list[RecordedOption] = []
        self.run_state: RunState = "running"
        #: The backend given with ``-machine memory-backend=`` (id), if any.
        self.ram_memdev: str | None = None
        #: ``/machine/peripheral`` and ``/machine/peripheral-anon``: where devices are named.
        self.peripherals = Peripherals()
        #: ids of every device (DIMMs, CPUs, other models) created with an id.
        self.device_ids: set[str] = self.peripherals.ids
        #: Devices of models the model does not simulate, by id (their driver name).
        self.other_devices: dict[str, str] = {}
        #: ``/machine/peripheral``: devices created with an id, in QOM's listing order.
        self.peripheral: ObjectsContainer = self.peripherals.named
        #: How QEMU decorates its messages (`-msg`), and the guest's `-name`.
        self.message_style = MessageStyle()
        #: With ``-preconfig``: the start-up steps still to run (None once initialized).
        self.pending_init: PendingInit | None = None
        #: Counts changes: every `mutation` method (and every command the registry does not
        #: know to be read-only) bumps it; read-only query replies are cached per revision.
        self.revision = 0

    # -------------------------------------------------------------------- queries --

    @cached_property
    def monitors(self) -> MonitorConfig:
        """The chardevs and monitors of `-chardev`/`-qmp`/`-mon` (read once, on first use;
        raises `MonitorOptionError` for one QEMU refuses)."""
        return monitor_config(self.options, self.profile,
                              board_ports=self.machine_type.family != "none")

    def option_values(self, name: str) -> list[str | None]:
        """Arguments of every recorded occurrence of an unmodelled option (e.g. ``"qmp"``)."""
        return [opt.arg for opt in self.options if opt.name == name]

    def has_option(self, name: str) -> bool:
        return any(opt.name == name for opt in self.options)

    @property
    def ram_size(self) -> int:
        return self.memory.ram_size

    @property
    def plugged_memory(self) -> int:
        return self.dimms.plugged_size

    @property
    def num_nodes(self) -> int:
        return self.numa.num_nodes

    def memdev_order(self) -> list[MemoryBackend]:
        """Memory backends in ``query-memdev`` order (QOM ``/objects`` hash order, reversed)."""
        return [self.backends[name] for name in self.objects.listing_order()
                if name in self.backends]

    def query_memdev(self) -> list[dict[str, Any]]:
        return [backend.memdev_info() for backend in self.memdev_order()]

    def sorted_dimms(self) -> list[Dimm]:
        return self.dimms.sorted_dimms()

    def node_plugged_memory(self, node_id: int) -> int:
        """Bytes of memory plugged into memory devices on a node (``info numa`` "plugged",
        ``numa_stat_memory_devices``: a virtio-mem device counts what a guest plugged)."""
        return sum(device.size for device in self.dimms.memory_devices()
                   if device.node == node_id)

    def query_numa_node_mem(self) -> list[int]:
        """Seed ``query_numa_node_mem``: per node, boot memory plus DIMMs on it."""
        if self.numa.num_nodes <= 0:
            return []
        return [self.numa.nodes[i].mem + self.node_plugged_memory(i)
                for i in range(self.numa.num_nodes)]

    def numa_get_node(self, addr: int) -> int:
        """Seed ``numa_get_node``: node of a RAM offset or DIMM address (``MachineError``)."""
        return self.numa.numa_get_node(addr)

    def numa_get_node_for_cpu(self, cpu_index: int) -> int:
        """Seed ``numa_get_node_for_cpu``: node of a CPU, or the node count if unmapped."""
        return self.cpus.numa_get_node_for_cpu(cpu_index)

    def numa_set_mem_node_id(self, addr: int, size: int, node: int) -> None:
        self.numa.numa_set_mem_node_id(addr, size, node)

    def numa_unset_mem_node_id(self, addr: int, size: int, node: int) -> None:
        self.numa.numa_unset_mem_node_id(addr, size, node)

    def ram_block_notifier_add(self, notifier: RamBlockNotifier) -> None:
        """Register RAM-block callbacks; existing RAM is not replayed (as in the seed)."""
        self.numa.ram_block_notifier_add(notifier)

    def ram_block_notifier_remove(self, notifier: RamBlockNotifier) -> None:
        self.numa.ram_block_notifier_remove(notifier)

    def node_summaries(self) -> list[NodeSummary]:
        """Per node: CPUs, size and plugged memory (``info numa``; empty without NUMA)."""
        return [
            NodeSummary(node_id, self.cpus.cpus_of_node(node_id),
                        self.numa.nodes[node_id].mem + self.node_plugged_memory(node_id),
                        self.node_plugged_memory(node_id))
            for node_id in range(self.numa.num_nodes)
        ]

    def memory_size_summary(self) -> dict[str, int]:
        """``query-memory-size-summary`` (7.2): base RAM and plugged memory-device bytes."""
        return {"base-memory": self.ram_size, "plugged-memory": self.plugged_memory}

    @property
    def device_memory_base(self) -> int | None:
        return self.layout.device_memory_base

    @property
    def device_memory_size(self) -> int:
        return self.layout.device_memory_size

    # ------------------------------------------------------------------- hot-plug --

    @mutation
    def add_backend(self, qom_type: str, backend_id: str, props: Mapping[str, Any]) -> None:
        """QMP ``object-add`` of a memory backend (``props`` already type-checked, wire names).

        Raises ``MachineError`` with QEMU's text; failures during completion leave the same
        trace in ``/objects`` as in QEMU (a tombstone), so later listings keep QEMU's order.
        """
        if qom_type not in BACKEND_TYPES:
            self.add_other_object(qom_type, backend_id)
            return
        request = request_from_qmp(qom_type, backend_id, props)
        self.create_backend(request, qmp=True)

    @mutation
    def add_other_object(self, qom_type: str, object_id: str) -> None:
        """Create an object the model does not simulate (kept in ``/objects`` only)."""
        check_object_id(object_id)
        check_creatable(qom_type, self.profile)
        if object_id in self.objects:
            raise MachineError(
                f"attempt to add duplicate property '{object_id}' to object (type 'container')"
            )
        self.objects.add(object_id)
        self.other_objects[object_id] = qom_type

    def machine_switch(self, name: str) -> bool:
        """A boolean `-machine` property that defaults to on (`dump-guest-core`, `mem-merge`)."""
        return self.machine_props.get(name, "on") not in ("off", "no", "false", "n")

    @mutation
    def create_backend(self, request: ObjectRequest, qmp: bool) -> MemoryBackend:
        """Run a backend's setters and completion and add it to ``/objects``."""
        check_object_id(request.id)
        version = self.machine_type.version
        backend = build_backend(
            request,
            smp_cpus=self.topology.cpus,
            profile=self.profile,
            canonical_ramblock_id=self.machine_type.is_pc_like
            and version is not None
            and version <= (4, 0),
            prealloc=self.has_option("mem-prealloc"),
            objects={**{ident: made.qom_type for ident, made in self.backends.items()},
                     **self.other_objects},
        )
        # A backend's dump/merge default to the machine's dump-guest-core/mem-merge.
        if "dump" not in request.props:
            backend.dump = self.machine_switch("dump-guest-core")
        if "merge" not in request.props:
            backend.merge = self.machine_switch("mem-merge")
        if request.id in self.objects:
            raise MachineError(
                f"attempt to add duplicate property '{request.id}' to object (type 'container')"
            )
        self.objects.add(request.id)
        try:
            complete_backend(backend, self.host, self.backends.values())
        except MachineError:
            self.objects.remove(request.id)
            raise
        self.backends[request.id] = backend
        return backend

    @mutation
    def del_backend(self, object_id: str) -> None:
        """QMP ``object-del``: refused while a node, the RAM or a DIMM uses the backend."""
        if object_id not in self.objects:
            raise MachineError(f"object '{object_id}' not found")
        backend = self.backends.get(object_id)
        if backend is not None and backend.mapped:
            raise MachineError(f"object '{object_id}' is in use, can not be deleted")
        self.objects.remove(object_id)
        self.backends.pop(object_id, None)
        self.other_objects.pop(object_id, None)

    def plug_dimm(
        self,
        device_id: str | None = None,
        memdev: str | None = None,
        node: int = 0,
        slot: int = UNASSIGNED_SLOT,
        addr: int = 0,
        *,
        hotplugged: bool = True,
    ) -> Dimm:
        """``device_add pc-dimm`` (or ``-device`` with ``hotplugged=False``), named here."""
        with self.peripherals.naming(device_id, None) as path:
            request = DimmRequest(device_id, memdev, node, slot, addr, path)
            return self.plug_dimm_request(request, hotplugged=hotplugged)

    @mutation
    def plug_dimm_request(self, request: DimmRequest, *, hotplugged: bool) -> Dimm:
        """Plug a DIMM that ``add_device`` has named (``request.qom_path``)."""
        dimm = self.dimms.plug(request, self.backends, self.numa.num_nodes, hotplugged)
        self.numa.numa_set_mem_node_id(dimm.addr, dimm.size, dimm.node)
        self.numa.ram_block_notify_add(dimm.addr, dimm.size)
        return dimm

    @mutation
    def plug_virtio_mem(
        self, request: VirtioMemRequest, *, hotplugged: bool, warnings: list[str]
    ) -> VirtioMem:
        """Plug a virtio-mem device that ``add_device`` has named (``request.qom_path``)."""
        return self.dimms.plug_virtio_mem(request, self.backends, self.numa.num_nodes,
                                          hotplugged, warnings)

    @mutation
    def virtio_mem_guest_follows(self, device: VirtioMem) -> bool:
        """A guest driver brings a virtio-mem device's size to its requested size (what a
        fault plan playing the guest does); whether the size changed."""
        return device.guest_follows()

    @property
    def machine_family(self) -> str:
        return self.machine_type.family

    @property
    def supports_memory_hotplug(self) -> bool:
        """True on boards with a memory hot-plug handler (pc, q35, isapc)."""
        return self.machine_type.is_pc_like

    def is_user_object(self, object_id: str) -> bool:
        """True for a user-created object that is not a memory backend (e.g. an iothread)."""
        return object_id in self.other_objects

    def has_backend(self, object_id: str) -> bool:
        """True when ``object_id`` names a memory backend (a pc-dimm's ``memdev`` target)."""
        return object_id in self.backends

    def device_property_names(self, driver: str) -> frozenset[str]:
        """The properties the profile's binary lists for a device model
        (``device-list-properties``, as recorded; empty when nothing is recorded)."""
        from qmpnuma.facts import BASE_ACCELERATOR, interface_answer  # recorded facts

        answer = interface_answer(self.profile, BASE_ACCELERATOR, "device-list-properties",
                                  driver)
        listed = answer.get("return") if answer is not None else None
        return frozenset(item["name"] for item in listed) if isinstance(listed, list) else \
            frozenset()

    @mutation
    def device_add(
        self, pairs: Sequence[tuple[str, Any]], *, hotplugged: bool, from_json: bool = False,
        warnings: list[str] | None = None,
    ) -> None:
        """``-device`` / ``device_add`` from QemuOpts pairs (``driver``, ``id`` and properties
        as text) or a ``-device`` JSON dict's members (``from_json``), with qdev's order of
        checks (``qmpnuma.machine.devices``). The warnings QEMU would print go to
        ``warnings`` (dropped when None), also when an error follows them."""
        from qmpnuma.facts import device_model_names  # recorded facts: read when asked

        add_device(self, pairs, hotplugged=hotplugged,
                   known_models=device_model_names(self.profile), from_json=from_json,
                   warnings=warnings)

    @mutation
    def plug_dimm_without_hotplug(self, request: DimmRequest) -> None:
        """A pc-dimm on a board without a memory hot-plug handler: only realize runs."""
        nodes = self.numa.num_nodes if self.machine_type.numa_supported else None
        self.dimms.realize_unhandled(request, self.backends, nodes)

    @mutation
    def plug_cpu(
        self, driver: str, device_id: str | None, props: Mapping[str, int],
        qom_path: str | None = None,
    ) -> CpuSlot:
        """``device_add`` of a CPU (ids as in QEMU: duplicate device ids are refused)."""
        with self.peripherals.naming(device_id, qom_path) as path:
            return self.cpus.plug_cpu(driver, props, path)

    @property
    def machine_ready(self) -> bool:
        """Whether machine initialization has completed (false while in ``-preconfig``)."""
        return self.pending_init is None

    @mutation
    def set_numa_node(self, options: Mapping[str, Any]) -> list[str]:
        """QMP ``set-numa-node`` during ``-preconfig``: the same rules as ``-numa``.

        ``options`` are visited ``NumaOptions`` (wire names); returns lines QEMU prints.
        """
        if self.pending_init is None:
            raise MachineError(
                "The command is permitted only before the machine has been created"
            )
        outcome = self.numa.apply(options, self.cpus, self.backends)
        return list(outcome.messages)

    @mutation
    def exit_preconfig(self) -> list[str]:
        """QMP ``x-exit-preconfig``: finish start-up; returns the lines QEMU prints.

        Raises ``ConfigError`` when board init fails (QEMU then exits with status 1).
        """
        pending = self.pending_init
        if pending is None:
            raise MachineError("The command is permitted only before machine initialization")
        lines = pending.finish_init(self)
        self.pending_init = None
        self.warnings += lines
        if not pending.prelaunch:
            self.cont()
        return lines

    @mutation
    def device_del(self, device_id: str) -> None:
        """``device_del`` by id or QOM path: DIMMs wait for the guest, CPUs as ``cpus`` says."""
        path = device_id
        if not device_id.startswith("/"):
            path = f"/machine/peripheral/{device_id}"
        dimm = self.dimms.find_by_path(path)
        if dimm is not None:
            self.dimms.request_unplug(dimm)
            return
        virtio_mem = self.dimms.find_virtio_mem(path)
        if virtio_mem is not None and self.profile.virtio_mem is not None:
            from qmpnuma.machine.virtio_mem import request_unplug

            request_unplug(virtio_mem, self.profile.virtio_mem, self.machine_type.family)
            return
        slot = self.cpus.slot_by_qom_path(path)
        if slot is not None:
            self.cpus.request_unplug(slot)
            return
        raise MachineError(f"Device '{device_id}' not found", "DeviceNotFound")

    @mutation
    def unplug_dimm(self, device_id: str) -> None:
        """``device_del`` of a DIMM: the request goes to the guest; without a running guest OS
        nothing visible happens (the DIMM stays)."""
        if self.dimms.find(device_id) is None:
            raise MachineError(f"Device '{device_id}' not found", "DeviceNotFound")

    @mutation
    def complete_dimm_unplug(self, device_id: str) -> None:
        """What a guest acknowledging the unplug would cause: the DIMM and its range go away."""
        dimm = self.dimms.find(device_id)
        if dimm is None:
            raise MachineError(f"Device '{device_id}' not found", "DeviceNotFound")
        self.dimms.remove(dimm, self.backends)
        self.peripherals.detach(dimm.qom_path)
        self.numa.numa_unset_mem_node_id(dimm.addr, dimm.size, dimm.node)
        self.numa.ram_block_notify_remove(dimm.addr, dimm.size)

    # ------------------------------------------------------------------ run state --

    @mutation
    def stop(self) -> None:
        """QMP ``stop``: a running machine pauses (prelaunch stays prelaunch)."""
        if self.run_state == "running":
            self.run_state = "paused"

    @mutation
    def cont(self) -> None:
        """QMP ``cont``: prelaunch and paused machines run."""
        if self.run_state in ("prelaunch", "paused"):
            self.run_state = "running"

    @mutation
    def system_reset(self) -> None:
        """``system_reset``: a running machine keeps running; any other (paused, prelaunch)
        becomes ``prelaunch`` (observed on 7.2: stop, system_reset, query-status)."""
        if self.run_state not in ("running", "inmigrate"):
            self.run_state = "prelaunch"

    def system_powerdown(self) -> None:
        """ACPI power button: only a guest OS could react; the run state is unchanged."""

    def node_address_ranges(self, node_id: int) -> list[tuple[int, int]]:
        """Guest-physical ``[start, end)`` ranges of a node's boot RAM (split at the PCI hole)."""
        node = self.numa.nodes[node_id]
        start, end = node.ram_offset, node.ram_offset + node.mem
        below = self.layout.below_4g
        ranges = []
        if start < below:
            ranges.append((start, min(end, below)))
        if end > below:
            low = max(start, below)
            ranges.append((self.layout.ram_offset_to_gpa(low), self.layout.ram_offset_to_gpa(low)
                           + (end - low)))
        return [r for r in ranges if r[1] > r[0]]

    @mutation
    def quit(self) -> None:
        self.run_state = "shutdown"
