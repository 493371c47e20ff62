"""``Machine``: the whole modelled machine, built from a QEMU command line in QEMU's own order.

QEMU reports the *first* problem it meets, so the model must meet problems in the same order:
argv walk (unknown options, per-option syntax of ``-m``/``-object``/``-numa``/...), machine type,
``-smp``, ``-m``, memory backends, ``-machine memory-backend``, each ``-numa`` in order, board
initialisation (default RAM backend, NUMA completion, CPU mapping, board memory checks), then
``-device``.  :meth:`Machine.from_argv` is that sequence; each step lives in the module that owns
its rules.  After start-up the same object answers queries and takes hot-plug requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, partial
from typing import Any, Literal

from qmpnuma.errors import ConfigError, MachineError, OptionError
from qmpnuma.facts import device_model_names
from qmpnuma.machine.backends import (
    BACKEND_TYPES,
    MemoryBackend,
    ObjectRequest,
    build_backend,
    check_guest_memory,
    check_object_id,
    complete_backend,
    parse_object_option,
    request_from_qmp,
)
from qmpnuma.machine.cli_syntax import (
    is_identifier,
    parse_bool,
    parse_int64,
    split_qemu_opts,
)
from qmpnuma.machine.cpu_slots import CpuSlot
from qmpnuma.machine.cpus import MachineCpus
from qmpnuma.machine.devices import CPU_DRIVER_SUFFIX, add_device, qmp_value_text
from qmpnuma.machine.dimms import UNASSIGNED_SLOT, Dimm, DimmBank, DimmRequest
from qmpnuma.machine.machine_types import MachineType, Profile, resolve_machine_type
from qmpnuma.machine.memory import (
    MemoryConfig,
    MemoryOptionText,
    RamLayout,
    check_board_memory,
    compute_layout,
    resolve_memory_2_9,
    resolve_memory_7_2,
    scan_memory_option,
)
from qmpnuma.machine.monitors import MonitorConfig, monitor_config
from qmpnuma.machine.numa import NumaConfig, RamBlockNotifier
from qmpnuma.machine.qom_order import ObjectsContainer
from qmpnuma.machine.smp import CpuTopology, default_topology, parse_smp
from qmpnuma.options.argv import ArgvError, ArgvOption, check_supported, option_location, split_argv
from qmpnuma.options.keyval import is_json_form, parse_json_option
from qmpnuma.options.qemuopts import parse_opts
from qmpnuma.profiles.profile import MemoryParser, NumaState
from qmpnuma.profiles.registry import DEFAULT_PROFILE, get_profile

#: Options QEMU accepts that this model records but does not interpret (the server uses
#: some of them: ``-qmp``, ``-chardev``, ``-mon``, ``-S``, ``-name``, ``-uuid``,
#: ``-daemonize``, ``-pidfile``).  Every other option except the modelled ones below is
#: recorded the same way.
UNMODELLED_OPTIONS = frozenset(
    {
        "nodefaults", "display", "qmp", "qmp-pretty", "chardev", "mon", "monitor", "daemonize",
        "pidfile", "name", "uuid", "S", "accel", "enable-kvm", "no-reboot", "no-shutdown",
        "nographic", "serial", "parallel", "vga", "nic", "netdev", "drive", "blockdev", "hda",
        "hdb", "hdc", "hdd", "cdrom", "boot", "bios", "kernel", "initrd", "append", "rtc",
        "global", "trace", "D", "d", "msg", "sandbox", "overcommit", "preconfig", "k", "L",
        "usb", "usbdevice", "vnc", "spice", "audiodev", "watchdog-action", "action", "icount",
        "snapshot", "fsdev", "virtfs", "sdl", "full-screen", "no-user-config", "writeconfig",
        "readconfig", "semihosting", "incoming", "loadvm", "mem-prealloc", "mem-path", "cpu",
    }
)
#: Options whose arguments the model interprets.
MODELLED_OPTIONS = frozenset({"M", "machine", "m", "smp", "object", "numa", "device"})

#: ``-machine`` properties this model interprets or tolerates (anything else is refused as QEMU
#: refuses an unknown property).
MACHINE_PROPERTIES = frozenset(
    {
        "type", "accel", "hmat", "memory-backend", "acpi", "usb", "dump-guest-core",
        "mem-merge", "max-ram-below-4g", "nvdimm", "smm", "kernel-irqchip", "vmport",
        "graphics", "suppress-vmdesc", "dea-key-wrap", "aes-key-wrap", "firmware",
        "pflash0", "pflash1", "sata", "pit", "hpet", "fd-bootchk", "smbus", "i8042", "pic",
        "default-bus-bypass-iommu", "confidential-guest-support", "sgx-epc", "bus-lock-ratelimit",
        "x-oem-id", "x-oem-table-id", "boot", "memory-encryption", "dt-compatible", "dumpdtb",
        "phandle-start", "dtb", "kernel", "initrd", "append", "smp", "memory",
    }
)

#: Properties every machine class has (``-M none`` has only these).
GENERIC_MACHINE_PROPERTIES = frozenset(
    {
        "type", "accel", "memory-backend", "usb", "dump-guest-core", "mem-merge", "graphics",
        "suppress-vmdesc", "firmware", "confidential-guest-support", "memory-encryption",
        "dt-compatible", "dumpdtb", "phandle-start", "dtb", "kernel", "initrd", "append",
        "boot", "smp", "memory",
    }
)

RunState = Literal["prelaunch", "running", "paused", "shutdown", "guest-panicked", "inmigrate"]


class _StartupFailure(Exception):
    """Internal: a start-up error already formatted as stderr lines."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("".join(lines))
        self.lines = lines


@dataclass
class _Printer:
    """Collects what QEMU prints on stderr during start-up, prefixed like ``error_report``."""

    progname: str
    lines: list[str] = field(default_factory=list)
    #: `-msg timestamp=on`: each message starts with the UTC time.
    timestamps: bool = False
    #: `-msg guest-name=on` with `-name`: the guest's name follows the time.
    guest_name: str | None = None

    def format(self, message: str, location: str | None = None, *, warning: bool = False,
               hints: Sequence[str] = ()) -> list[str]:
        # Inside a monitor command QEMU prints no program name (e.g. after x-exit-preconfig),
        # and no `-msg` prefix either.
        head = ""
        if self.progname:
            if self.timestamps:
                head += message_timestamp()
            if self.guest_name is not None:
                head += f"{self.guest_name} "
            head += f"{self.progname}: "
        if location is not None:
            head += f"{location}: "
        if warning:
            head += "warning: "
        first, *rest = message.split("\n")
        return [head + first + "\n", *(line + "\n" for line in [*rest, *hints])]

    def warn(self, message: str, location: str | None = None) -> None:
        self.lines.extend(self.format(message, location, warning=True))

    def info(self, message: str, location: str | None = None) -> None:
        self.lines.extend(self.format(message, location))

    def fail(self, message: str, location: str | None = None,
             hints: Sequence[str] = ()) -> _StartupFailure:
        return _StartupFailure(self.lines + self.format(message, location, hints=hints))


@dataclass(frozen=True)
class NodeSummary:
    """What ``info numa`` / ``x-query-numa`` print for one node."""

    node_id: int
    cpus: list[int]
    #: Boot memory of the node plus every memory device on it, in bytes.
    size: int
    #: Memory devices (DIMMs) on the node, in bytes.
    plugged: int


@dataclass
class RecordedOption:
    """An option the model accepted without interpreting it (kept for the server)."""

    name: str
    arg: str | None


class Machine:
    """A machine as QEMU 7.2 (or 2.9) would have built it, with its run state and devices."""

    def __init__(self, machine_type: MachineType, profile: Profile, progname: str) -> None:
        self.machine_type = machine_type
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
        #: ids of every device (DIMMs, CPUs, other models) created with an id.
        self.device_ids: set[str] = set()
        #: Devices of models the model does not simulate, by id (their driver name).
        self.other_devices: dict[str, str] = {}
        #: ``/machine/peripheral``: devices created with an id, in QOM's listing order.
        self.peripheral = ObjectsContainer()
        #: How QEMU decorates its messages (`-msg`), and the guest's `-name`.
        self.message_style = MessageStyle()
        #: With ``-preconfig``: the start-up steps still to run (None once initialized).
        self.pending_init: _Builder | None = None
        self._anonymous_devices = 0

    # ------------------------------------------------------------------ construction --

    @classmethod
    def from_argv(
        cls, args: Sequence[str], profile: Profile | str = DEFAULT_PROFILE,
        progname: str = "qmpnuma"
    ) -> Machine:
        """Build the machine for ``args`` (argv without argv[0]) or raise ``ConfigError``."""
        profile = get_profile(profile)  # ValueError for an unknown name
        builder = _Builder(args, profile, progname)
        try:
            return builder.build()
        except _StartupFailure as failure:
            raise ConfigError("".join(failure.lines), 1) from None

    # -------------------------------------------------------------------- queries --

    def option_values(self, name: str) -> list[str | None]:
        """Arguments of every recorded occurrence of an unmodelled option (e.g. ``"qmp"``)."""
        return [opt.arg for opt in self.options if opt.name == name]

    @cached_property
    def monitors(self) -> MonitorConfig:
        """The chardevs and monitors of `-chardev`/`-qmp`/`-mon` (read once, on first use;
        raises `MonitorOptionError` for one QEMU refuses)."""
        return monitor_config(self.options, self.profile,
                              board_ports=self.machine_type.family != "none")

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
        """Bytes of hot-pluggable memory devices on a node (``info numa`` "plugged")."""
        return sum(dimm.size for dimm in self.dimms.dimms if dimm.node == node_id)

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

    def add_backend(self, qom_type: str, backend_id: str, props: Mapping[str, Any]) -> None:
        """QMP ``object-add`` of a memory backend (``props`` already type-checked, wire names).

        Raises ``MachineError`` with QEMU's text; failures during completion leave the same
        trace in ``/objects`` as in QEMU (a tombstone), so later listings keep QEMU's order.
        """
        if qom_type not in BACKEND_TYPES:
            self._add_other_object(qom_type, backend_id)
            return
        request = request_from_qmp(qom_type, backend_id, props)
        self._create_backend(request, qmp=True)

    def _add_other_object(self, qom_type: str, object_id: str) -> None:
        check_object_id(object_id)
        if object_id in self.objects:
            raise MachineError(
                f"attempt to add duplicate property '{object_id}' to object (type 'container')"
            )
        self.objects.add(object_id)
        self.other_objects[object_id] = qom_type

    def machine_switch(self, name: str) -> bool:
        """A boolean `-machine` property that defaults to on (`dump-guest-core`, `mem-merge`)."""
        return self.machine_props.get(name, "on") not in ("off", "no", "false", "n")

    def _create_backend(self, request: ObjectRequest, qmp: bool) -> MemoryBackend:
        check_object_id(request.id)
        version = self.machine_type.version
        backend = build_backend(
            request,
            smp_cpus=self.topology.cpus,
            profile=self.profile,
            canonical_ramblock_id=self.machine_type.is_pc_like
            and version is not None
            and version <= (4, 0),
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
            complete_backend(backend)
        except MachineError:
            self.objects.remove(request.id)
            raise
        self.backends[request.id] = backend
        return backend

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
        """``device_add pc-dimm`` (or ``-device`` with ``hotplugged=False``)."""
        request = DimmRequest(device_id, memdev, node, slot, addr)
        dimm = self.dimms.plug(request, self.backends, self.numa.num_nodes, hotplugged,
                               self.device_ids)
        if device_id is not None:
            self.device_ids.add(device_id)
        else:
            self._anonymous_devices += 1
        self.numa.numa_set_mem_node_id(dimm.addr, dimm.size, dimm.node)
        self.numa.ram_block_notify_add(dimm.addr, dimm.size)
        return dimm

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

    def device_add(self, pairs: Sequence[tuple[str, str]], *, hotplugged: bool) -> None:
        """``-device`` / ``device_add`` from QemuOpts pairs (``driver``, ``id`` and properties
        as text), with qdev's order of checks (``qmpnuma.machine.devices``)."""
        add_device(self, pairs, hotplugged=hotplugged, known_models=device_model_names())
        device_id = dict(pairs).get("id")
        if device_id is not None:
            self.peripheral.add(device_id)

    def plug_dimm_without_hotplug(self, memdev: str | None, node: int) -> None:
        """A pc-dimm on a board without a memory hot-plug handler: only realize runs."""
        if memdev is None:
            raise MachineError("'memdev' property is not set")
        backend = self.backends.get(memdev)
        if backend is None:
            raise MachineError(f"Device '{memdev}' not found", "DeviceNotFound")
        if self.machine_type.numa_supported:
            DimmBank.check_node(node, self.numa.num_nodes)
        elif node:
            raise MachineError("machine doesn't support NUMA")
        if backend.mapped:
            raise MachineError(f"can't use already busy memdev: {memdev}")
        backend.mapped = True

    def plug_cpu(
        self, driver: str, device_id: str | None, props: Mapping[str, int]
    ) -> CpuSlot:
        """``device_add`` of a CPU (ids as in QEMU: duplicate device ids are refused)."""
        if device_id is not None and device_id in self.device_ids:
            raise MachineError(f"Duplicate device ID '{device_id}'")
        path = (f"/machine/peripheral/{device_id}" if device_id is not None
                else f"/machine/peripheral-anon/device[{self._anonymous_devices}]")
        slot = self.cpus.plug_cpu(driver, props, path)
        if device_id is not None:
            self.device_ids.add(device_id)
        else:
            self._anonymous_devices += 1
        return slot

    @property
    def machine_ready(self) -> bool:
        """Whether machine initialization has completed (false while in ``-preconfig``)."""
        return self.pending_init is None

    def set_numa_node(self, options: Mapping[str, Any]) -> list[str]:
        """QMP ``set-numa-node`` during ``-preconfig``: the same rules as ``-numa``.

        ``options`` are visited ``NumaOptions`` (wire names); returns lines QEMU prints.
        """
        if self.pending_init is None:
            raise MachineError(
                "The command is permitted only before the machine has been created"
            )
        outcome = self.numa.apply_option(numa_options_text(options), self.cpus, self.backends)
        return list(outcome.messages)

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

    def device_del(self, device_id: str) -> None:
        """``device_del`` by id or QOM path: DIMMs wait for the guest, CPUs as ``cpus`` says."""
        path = device_id
        if not device_id.startswith("/"):
            path = f"/machine/peripheral/{device_id}"
        dimm = self.dimms.find(device_id.removeprefix("/machine/peripheral/"))
        if dimm is not None:
            return
        slot = self.cpus.slot_by_qom_path(path)
        if slot is not None:
            self.cpus.request_unplug(slot)
            return
        raise MachineError(f"Device '{device_id}' not found", "DeviceNotFound")

    def unplug_dimm(self, device_id: str) -> None:
        """``device_del`` of a DIMM: the request goes to the guest; without a running guest OS
        nothing visible happens (the DIMM stays)."""
        if self.dimms.find(device_id) is None:
            raise MachineError(f"Device '{device_id}' not found", "DeviceNotFound")

    def complete_dimm_unplug(self, device_id: str) -> None:
        """What a guest acknowledging the unplug would cause: the DIMM and its range go away."""
        dimm = self.dimms.find(device_id)
        if dimm is None:
            raise MachineError(f"Device '{device_id}' not found", "DeviceNotFound")
        self.dimms.remove(dimm, self.backends)
        self.device_ids.discard(device_id)
        self.peripheral.remove(device_id)
        self.numa.numa_unset_mem_node_id(dimm.addr, dimm.size, dimm.node)
        self.numa.ram_block_notify_remove(dimm.addr, dimm.size)

    # ------------------------------------------------------------------ run state --

    def stop(self) -> None:
        """QMP ``stop``: a running machine pauses (prelaunch stays prelaunch)."""
        if self.run_state == "running":
            self.run_state = "paused"

    def cont(self) -> None:
        """QMP ``cont``: prelaunch and paused machines run."""
        if self.run_state in ("prelaunch", "paused"):
            self.run_state = "running"

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

    def quit(self) -> None:
        self.run_state = "shutdown"


class _Builder:
    """The start-up sequence of ``qemu_init`` for one command line."""

    def __init__(self, args: Sequence[str], profile: Profile, progname: str) -> None:
        self.args = args
        self.profile = profile
        self.out = _Printer(progname)
        self.machine_opts: dict[str, str] = {}
        self.memory_text: MemoryOptionText | None = None
        self.smp_pairs: list[tuple[str, str]] = []
        self.objects: list[tuple[ArgvOption, ObjectRequest]] = []
        self.numa_opts: list[ArgvOption] = []
        self.device_opts: list[tuple[ArgvOption, list[tuple[str, str]]]] = []
        self.cpu_model: str | None = None
        self.recorded: list[RecordedOption] = []
        self.prelaunch = False

    def _guard(self, step: Callable[[], object], location: str | None = None) -> None:
        """Run one step, turning its error into QEMU's stderr text."""
        try:
            step()
        except OptionError as err:
            raise self.out.fail(err.message, location, err.hints) from None
        except MachineError as err:
            raise self.out.fail(err.message, location, err.hints) from None

    def build(self) -> Machine:
        try:
            options = split_argv(self.args, profile=self.profile)
        except ArgvError as err:
            raise _StartupFailure([err.format(self.out.progname)]) from None
        for opt in options:
            location = option_location(opt)
            self._guard(partial(check_supported, opt), location)
            self._guard(partial(self._scan, opt), location)
        self.style = message_style(self.recorded)
        self.out.timestamps = self.style.timestamps
        self.out.guest_name = self.style.guest_name

        machine_type = self._resolve_type()
        machine = Machine(machine_type, self.profile, self.out.progname)
        machine.options = self.recorded
        machine.message_style = self.style
        machine.machine_props = dict(self.machine_opts)
        machine.run_state = "prelaunch" if self.prelaunch else "running"
        if any(opt.name == "incoming" for opt in self.recorded):
            machine.run_state = "inmigrate"
        self._guard(lambda: self._apply_machine_props(machine))
        self._guard(lambda: self._apply_smp(machine))
        self._apply_memory(machine)
        deprecation = self.profile.texts.deprecated_machine
        if machine_type.deprecated and deprecation is not None:
            self.out.warn(deprecation.format(name=machine_type.name))
        self._create_objects(machine)
        self._guard(self._check_cpu_model)
        if self.profile.numa_state is NumaState.GLOBAL_NUMA_INFO:
            self._numa_2_9(machine)
        else:
            self._guard(lambda: self._resolve_ram_memdev(machine))
            for opt in self.numa_opts:
                self._apply_numa(machine, opt)
            if any(opt.name == "preconfig" for opt in self.recorded):
                # -preconfig: stop before board init; QMP finishes it (x-exit-preconfig).
                machine.warnings = list(self.out.lines)
                machine.pending_init = self
                machine.run_state = "prelaunch"
                return machine
            self._board_init_7_2(machine)
        self._create_devices(machine)
        machine.warnings = list(self.out.lines)
        return machine

    def _create_devices(self, machine: Machine) -> None:
        for opt, pairs in self.device_opts:
            self._guard(partial(self._device, machine, pairs), option_location(opt))

    def finish_init(self, machine: Machine) -> list[str]:
        """The rest of start-up after ``-preconfig``: board init, then ``-device``.

        Runs inside a monitor command, so QEMU prints without its program name; returns the
        lines printed, or raises ``ConfigError`` with them when init fails (QEMU exits then).
        """
        self.out = _Printer(progname="")
        try:
            self._board_init_7_2(machine)
            self._create_devices(machine)
        except _StartupFailure as failure:
            raise ConfigError("".join(failure.lines), 1) from None
        return list(self.out.lines)

    # ----------------------------------------------------------------- argv walk --

    def _scan(self, opt: ArgvOption) -> None:
        """Second argv pass: per-option syntax checks QEMU does while walking argv."""
        name, arg = opt.name, opt.arg or ""
        location = option_location(opt)
        if name in ("M", "machine"):
            pairs, warnings = split_qemu_opts(arg, "type")
            for key, value in pairs:
                self.machine_opts[key] = value
        elif name == "m":
            self.memory_text, warnings = scan_memory_option(
                arg, self.memory_text, location, self.profile
            )
        elif name == "smp":
            pairs, warnings = split_qemu_opts(arg, "cpus")
            self.smp_pairs.extend(pairs)
            warnings = []
        elif name == "object":
            seen = [request.id for _, request in self.objects]
            request, warnings = parse_object_option(arg, seen, self.profile)
            self.objects.append((opt, request))
        elif name == "numa":
            _, warnings = split_qemu_opts(arg, "type")
            self.numa_opts.append(opt)
        elif name == "device":
            if self.profile.device_accepts_json and is_json_form(arg):
                # 7.2 reads a `-device` starting with '{' as JSON (libvirt passes it so) and
                # turns the members into option text as qemu_opts_from_qdict does.
                members = parse_json_option(arg).items()
                pairs, warnings = [(key, qmp_value_text(value)) for key, value in members], []
            else:
                pairs, warnings = split_qemu_opts(arg, "driver")
            ids = [value for key, value in pairs if key == "id"]
            if ids:
                if not is_identifier(ids[-1]):
                    raise OptionError(
                        "Parameter 'id' expects an identifier",
                        ("Identifiers consist of letters, digits, '-', '.', '_', "
                         "starting with a letter.",),
                    )
                taken = {dict(p).get("id") for _, p in self.device_opts}
                if ids[-1] in taken:
                    raise OptionError(f"Duplicate ID '{ids[-1]}' for device")
            self.device_opts.append((opt, pairs))
            # recorded too: the monitor description reads the chardev a device claims
            self.recorded.append(RecordedOption(name, opt.arg))
        else:
            warnings = []
            if name == "cpu":
                self.cpu_model = arg
            if name == "S":
                self.prelaunch = True
            self.recorded.append(RecordedOption(name, opt.arg))
        for warning in warnings:
            self.out.warn(warning, location)

    def _resolve_type(self) -> MachineType:
        name = self.machine_opts.get("type")
        try:
            return resolve_machine_type(name, self.profile)
        except MachineError as err:
            raise self.out.fail(err.message, None, err.hints) from None

    def _apply_machine_props(self, machine: Machine) -> None:
        mt = machine.machine_type
        for key, value in self.machine_opts.items():
            if key == "type":
                continue
            known = MACHINE_PROPERTIES if mt.is_pc_like else GENERIC_MACHINE_PROPERTIES
            if mt.family == "microvm":
                known = GENERIC_MACHINE_PROPERTIES | {"hmat", "acpi", "pit", "pic", "rtc"}
            if key not in known:
                raise MachineError(f"Property '{mt.name}-machine.{key}' not found")
            if key == "hmat":
                machine.numa = NumaConfig(mt, self.profile,
                                          hmat_enabled=parse_bool("hmat", value))
            elif key == "memory-backend":
                machine.ram_memdev = value
            elif key == "acpi" and value not in ("on", "off", "auto"):
                raise MachineError(f"Parameter 'acpi' does not accept value '{value}'")
        machine.dimms.acpi = (
            self.machine_opts.get("acpi", "auto") != "off" and mt.family != "isapc"
        )
        if "hmat" not in self.machine_opts:
            machine.numa = NumaConfig(mt, self.profile, hmat_enabled=False)

    def _apply_smp(self, machine: Machine) -> None:
        config: dict[str, int] = {}
        allowed = self.profile.smp_members
        values = dict(self.smp_pairs)
        for key in allowed:
            if key in values:
                try:
                    config[key] = parse_int64(values[key])
                except (ValueError, IndexError):
                    raise MachineError(f"Parameter 'smp.{key}' expects integer") from None
        for key in values:
            if key not in allowed:
                raise MachineError(f"Parameter 'smp.{key}' is unexpected")
        smp_warnings: list[str] = []
        try:
            topology = parse_smp(config, machine.machine_type, self.profile,
                                 smp_warnings)
        finally:
            for warning in smp_warnings:
                self.out.warn(warning)
        machine.topology = topology
        machine.cpus = MachineCpus(topology, machine.machine_type, self.profile,
                                   cpu_model=self.cpu_model)

    def _apply_memory(self, machine: Machine) -> None:
        mt = machine.machine_type
        if self.profile.memory_parser is MemoryParser.SET_MEMORY_OPTIONS:
            location = self.memory_text.location if self.memory_text else None
            try:
                config = resolve_memory_2_9(self.memory_text, mt)
            except OptionError as err:
                raise self.out.fail(err.message, location, err.hints) from None
        else:
            warnings: list[str] = []
            try:
                config = resolve_memory_7_2(self.memory_text, mt, warnings)
            except MachineError as err:
                for warning in warnings:
                    self.out.warn(warning)
                raise self.out.fail(err.message, None, err.hints) from None
            for warning in warnings:
                self.out.warn(warning)
        machine.memory = config
        machine.layout = compute_layout(config, mt)
        machine.dimms = DimmBank(config, machine.layout, mt.enforce_aligned_dimm, self.profile,
                                 acpi=machine.dimms.acpi)

    def _create_objects(self, machine: Machine) -> None:
        """Early objects (everything but memory backends), then the backends, in CLI order.

        7.2 creates them outside any option location; 2.9 creates them while iterating the
        ``-object`` options, so its errors carry the option's location.
        """
        for opt, request in self.objects:
            if not request.is_backend:
                location = option_location(opt) if self.profile.object_errors_located else None
                self._guard(partial(machine._add_other_object, request.qom_type, request.id),
                            location)
        for opt, request in self.objects:
            if request.is_backend:
                location = option_location(opt) if self.profile.object_errors_located else None
                self._guard(partial(machine._create_backend, request, qmp=False), location)

    def _resolve_ram_memdev(self, machine: Machine) -> None:
        if machine.ram_memdev is not None and machine.ram_memdev not in machine.backends:
            raise MachineError(f"Memory backend '{machine.ram_memdev}' not found")

    def _apply_numa(self, machine: Machine, opt: ArgvOption) -> None:
        location = option_location(opt)

        def step() -> None:
            outcome = machine.numa.apply_option(opt.arg or "", machine.cpus, machine.backends)
            for message in outcome.messages:
                if message.startswith("warning: "):
                    self.out.warn(message.removeprefix("warning: "), location)
                else:
                    self.out.info(message, location)

        self._guard(step, location)

    def _board_init_7_2(self, machine: Machine) -> None:
        mt = machine.machine_type
        numa = machine.numa
        memory = machine.memory

        def memory_backend_checks() -> None:
            if machine.ram_memdev is not None:
                backend = machine.backends[machine.ram_memdev]
                if backend.size != memory.ram_size:
                    raise MachineError(
                        "Machine memory size does not match the size of the memory backend"
                    )
                backend.mapped = True
            elif mt.default_ram_id and memory.ram_size and not numa.have_memdevs:
                if mt.default_ram_id in machine.objects:
                    raise MachineError(
                        f"object name '{mt.default_ram_id}' is reserved for the default RAM "
                        "backend, it can't be used for any other purposes. Change the object's "
                        "'id' to something else"
                    )
                backend = MemoryBackend(
                    id=mt.default_ram_id, qom_type="memory-backend-ram",
                    size=memory.ram_size, prealloc_threads=machine.topology.cpus,
                    mapped=True, implicit=True, profile=self.profile,
                    dump=machine.machine_switch("dump-guest-core"),
                    merge=machine.machine_switch("mem-merge"),
                )
                check_guest_memory(backend)
                machine.objects.add(backend.id)
                machine.backends[backend.id] = backend

        self._guard(memory_backend_checks)
        if mt.numa_supported:
            self._guard(lambda: self._complete_numa_7_2(machine))
        if mt.family == "none" and self.cpu_model is not None:
            # `-M none` creates the one CPU asked for without a board to give it an APIC id.
            self._guard(_raise(MachineError("apic-id property was not initialized properly")))
        if not self._asks_for_kvm():
            if self.cpu_model is not None and self.cpu_model.split(",", 1)[0] == "host":
                self._guard(_raise(MachineError("CPU model 'host' requires KVM or HVF")))
            # TCG has no in-kernel x2APIC: QEMU refuses APIC ids from 255 up at CPU creation.
            self._guard(machine.cpus.check_board_cpus)
        for warning in machine.cpus.startup_warnings():
            self.out.warn(warning)
        self._guard(lambda: check_board_memory(memory, mt))

    def _check_cpu_model(self) -> None:
        """`-cpu NAME[,...]` must name a CPU model of this QEMU (checked after -object)."""
        if self.cpu_model is None:
            return
        name = self.cpu_model.split(",", 1)[0]
        if name + CPU_DRIVER_SUFFIX not in device_model_names():
            raise MachineError(f"unable to find CPU model '{name}'")

    def _asks_for_kvm(self) -> bool:
        """Whether the accelerator QEMU would pick is KVM (qmpnuma then acts as if KVM were
        usable). QEMU tries `-accel` options in order and TCG always works, so the first one
        decides; `-enable-kvm` is `-accel kvm`; `-machine accel=A:B` is the legacy spelling."""
        return accelerator_of(self.recorded, self.machine_opts) == "kvm"

    def _complete_numa_7_2(self, machine: Machine) -> None:
        mt = machine.machine_type
        numa = machine.numa
        memory = machine.memory
        if numa.num_nodes == 0 and (
            (memory.ram_slots and mt.auto_enable_numa_with_memhp)
            or (memory.maxram_size > memory.ram_size and mt.auto_enable_numa_with_memdev)
        ):
            numa.add_implicit_node(memory.ram_size)
        numa.check_node_ids()
        if numa.num_nodes > 0:
            numa.check_total(memory.ram_size)
            if numa.have_memdevs and mt.default_ram_id:
                if machine.ram_memdev is not None:
                    raise MachineError(
                        "'-machine memory-backend' and '-numa memdev' properties are "
                        "mutually exclusive"
                    )
                for node_id in range(numa.num_nodes):
                    memdev = numa.nodes[node_id].memdev
                    if memdev is None:
                        continue
                    backend = machine.backends[memdev]
                    if backend.mapped:
                        raise MachineError(f"memory backend {memdev} can't be used multiple times.")
                    backend.mapped = True
            numa.check_distances()
            numa.assign_ram_offsets()
            warnings = machine.cpus.finish_numa(numa.num_nodes, numa.hmat_initiators)
            numa.validate_initiators(machine.cpus)
            for warning in warnings:
                self.out.warn(warning)
        else:
            numa.numa_set_mem_node_id(0, memory.ram_size, 0)

    def _numa_2_9(self, machine: Machine) -> None:
        """2.9 ``parse_numa_opts`` (parse, ids, equal split, total, CPUs) then machine init."""
        for opt in self.numa_opts:
            self._apply_numa(machine, opt)
        numa = machine.numa
        memory = machine.memory
        self._guard(numa.check_node_ids)
        if numa.num_nodes > 0:
            numa.split_memory_2_9(memory.ram_size)
            self._guard(lambda: numa.check_total(memory.ram_size))
            numa.assign_ram_offsets()
            warnings: list[str] = []
            self._guard(lambda: warnings.extend(machine.cpus.finish_numa(numa.num_nodes)))
            for warning in warnings:
                self.out.info(f"warning: {warning}")
        else:
            numa.numa_set_mem_node_id(0, memory.ram_size, 0)

        def allocate() -> None:
            if numa.num_nodes == 0 or not numa.have_memdevs:
                return
            for node_id in sorted(numa.nodes):
                memdev = numa.nodes[node_id].memdev
                if memdev is None:
                    continue
                backend = machine.backends[memdev]
                if backend.mapped:
                    raise MachineError(
                        f"memory backend {memdev} is used multiple times. Each -numa option "
                        "must use a different memdev value."
                    )
                backend.mapped = True

        self._guard(allocate)
        self._guard(lambda: check_board_memory(memory, machine.machine_type))

    # ------------------------------------------------------------------- devices --

    def _device(self, machine: Machine, pairs: list[tuple[str, str]]) -> None:
        machine.device_add(pairs, hotplugged=False)


def _opt_text(value: Any) -> str:
    text = str(value).replace(",", ",,")
    return text


def numa_options_text(options: Mapping[str, Any]) -> str:
    """A visited ``NumaOptions`` written back as ``-numa`` text (lists as repeated keys,
    sizes in bytes), so QMP and the command line share one set of rules."""
    parts = [_opt_text(options["type"])]
    for key, value in options.items():
        if key == "type":
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = f"{item}B" if key in ("mem", "size", "bandwidth") else _opt_text(item)
            parts.append(f"{key}={text}")
    return ",".join(parts)


def _raise(error: Exception) -> Callable[[], None]:
    """A step that fails with ``error`` (for ``_guard``)."""

    def step() -> None:
        raise error

    return step


def accelerator_of(options: Sequence[RecordedOption], machine_opts: Mapping[str, str]) -> str:
    """The accelerator a command line asks for first (`tcg` when it asks for none)."""
    for opt in options:
        if opt.name == "enable-kvm":
            return "kvm"
        if opt.name == "accel" and opt.arg:
            return opt.arg.split(",", 1)[0].removeprefix("accel=")
    legacy = machine_opts.get("accel")
    return legacy.split(":", 1)[0] if legacy else "tcg"


@dataclass(frozen=True)
class MessageStyle:
    """What `-msg` and `-name` change in QEMU's messages (last option wins, as in QEMU)."""

    timestamps: bool = False
    #: The guest name printed when `-msg guest-name=on` (None otherwise).
    guest_name: str | None = None
    #: The `-name` guest name, whether or not messages show it.
    name: str | None = None


def message_timestamp() -> str:
    """The `-msg timestamp=on` prefix: UTC time in ISO 8601 with microseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ ")


def message_style(options: Sequence[RecordedOption]) -> MessageStyle:
    """Read `-msg timestamp=,guest-name=` and `-name [guest=]NAME` from the command line."""
    timestamps = guest_name_on = False
    name: str | None = None
    for opt in options:
        if opt.name == "msg" and opt.arg:
            for key, value in parse_opts(opt.arg, None):
                if key == "timestamp":
                    timestamps = value in ("on", "yes", "true", "y")
                elif key == "guest-name":
                    guest_name_on = value in ("on", "yes", "true", "y")
        elif opt.name == "name" and opt.arg:
            names = [value for key, value in parse_opts(opt.arg, "guest") if key == "guest"]
            name = names[-1] if names else name
    return MessageStyle(timestamps, name if guest_name_on else None, name)
