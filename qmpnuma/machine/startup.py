"""QEMU's start-up order (``qemu_init``) for one command line, step by step.

QEMU reports the *first* problem it meets, so the model must meet problems in the same order:
argv walk (unknown options, per-option syntax of ``-m``/``-object``/``-numa``/..., see
:mod:`~qmpnuma.machine.option_scan`), machine type, the machine's properties (7.2: one keyval
dict with ``smp`` and ``memory``, set in QDict order), memory backends, ``-machine
memory-backend``, each ``-numa`` in order, board initialisation (default RAM backend, NUMA
completion, CPU mapping, board memory checks), then ``-device``.  Each step's rules live in the
module that owns them; this module only runs them in order and turns their errors into stderr.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from qmpnuma.errors import AbortError, ConfigError, EarlyExit, MachineError, OptionError
from qmpnuma.machine.backends import FILE, RAM, MemoryBackend, complete_backend
from qmpnuma.machine.board_memory import check_board_memory
from qmpnuma.machine.cpus import MachineCpus
from qmpnuma.machine.devices import CPU_DRIVER_SUFFIX, DeviceArguments
from qmpnuma.machine.dimms import DimmBank
from qmpnuma.machine.host_facts import HostFacts
from qmpnuma.machine.machine_properties import machine_properties, recorded_machine_property
from qmpnuma.machine.machine_types import MachineType, machine_help_text, resolve_machine_type
from qmpnuma.machine.memory import (
    MemoryConfig,
    memory_option_text,
    memory_property,
    resolve_memory_2_9,
    resolve_memory_7_2,
)
from qmpnuma.machine.messages import StartupFailure, StartupPrinter, message_style
from qmpnuma.machine.numa import NumaConfig
from qmpnuma.machine.numa_options import read_numa_option
from qmpnuma.machine.option_scan import OptionScan
from qmpnuma.machine.ram_layout import compute_layout
from qmpnuma.machine.recorded_options import accel_options_conflict, accelerator_of
from qmpnuma.machine.schema import option_schema
from qmpnuma.machine.smp import parse_smp
from qmpnuma.machine.state import MachineState
from qmpnuma.options.argv import ArgvError, ArgvOption, check_supported, option_location, split_argv
from qmpnuma.options.cnum import strtoll
from qmpnuma.options.diagnostics import OptionWarning
from qmpnuma.options.keyval import keyval_merge
from qmpnuma.options.numbers import qapi_bool
from qmpnuma.options.qobject_visitor import visit_keyval
from qmpnuma.profiles.profile import MemoryParser, NumaState, Profile
from qmpnuma.qobject.hashing import qdict_order

#: ``-smp`` members QEMU 2.9 knew.
SMP_MEMBERS_2_9 = ("cpus", "sockets", "cores", "threads", "maxcpus")
#: Machine-dict members that are not QOM properties of the machine (taken out before).
NOT_PROPERTIES = ("type",)

MachineFactory = Callable[[MachineType, Profile, str, HostFacts], MachineState]


class Startup:
    """The start-up sequence of ``qemu_init`` for one command line."""

    def __init__(
        self, args: Sequence[str], profile: Profile, progname: str, host: HostFacts
    ) -> None:
        self.args = args
        self.profile = profile
        self.host = host
        self.out = StartupPrinter(progname)
        self.scan = OptionScan(profile)
        self.memory_config: MemoryConfig | None = None
        self.hmat = False
        self.nvdimm = False

    @property
    def prelaunch(self) -> bool:
        return self.scan.prelaunch

    def _guard(self, step: Callable[[], object], location: str | None = None) -> None:
        """Run one step, turning its error into QEMU's stderr text."""
        try:
            step()
        except AbortError as err:
            raise self.out.abort(err.abort_line, err.message, err.hints) from None
        except (OptionError, MachineError) as err:
            raise self.out.fail(err.message, location, err.hints) from None

    def _print_warnings(self, warnings: list[OptionWarning], location: str | None) -> None:
        for warning in warnings:
            self.out.warn("\n".join((warning.message, *warning.hints)), location)
        warnings.clear()

    def build(self, factory: MachineFactory) -> MachineState:
        """Run start-up up to a ready machine (or up to ``-preconfig``'s stop)."""
        try:
            options = split_argv(self.args, profile=self.profile)
        except ArgvError as err:
            raise StartupFailure([err.format(self.out.progname)]) from None
        for opt in options:
            location = option_location(opt)
            warnings: list[OptionWarning] = []
            try:
                check_supported(opt)
                self.scan.scan(opt, location, warnings)
            except OptionError as err:
                self._print_warnings(warnings, location)
                raise self.out.fail(err.message, location, err.hints) from None
            self._print_warnings(warnings, location)
            self._exit_if_asked(opt)
        self._exit_if_help_asked()
        scan = self.scan
        if self.profile.memory_parser is MemoryParser.MEMORY_SIZE_CONFIGURATION:
            memory = memory_property(scan.memory, self.profile)
            self._guard(lambda: keyval_merge(scan.machine_opts, {"memory": memory}))
        style = message_style(scan.recorded)
        self.out.timestamps = style.timestamps
        self.out.guest_name = style.guest_name

        machine_type = self._resolve_type()
        machine = factory(machine_type, self.profile, self.out.progname, self.host)
        machine.options = scan.recorded
        machine.message_style = style
        machine.machine_props = {
            key: value for key, value in scan.machine_opts.items() if isinstance(value, str)
        }
        machine.run_state = "prelaunch" if scan.prelaunch else "running"
        if any(opt.name == "incoming" for opt in scan.recorded):
            machine.run_state = "inmigrate"
        if not self.profile.machine_options_keyval:
            self._guard(lambda: self._apply_machine_props_2_9(machine))
            self._guard(lambda: self._apply_smp_2_9(machine))
            self._apply_memory_2_9(machine)
        else:
            self._guard(lambda: self._set_machine_properties(machine))
        self._finish_machine_setup(machine)
        if self.profile.accel_option_excludes_machine_accel and accel_options_conflict(
                scan.recorded, scan.machine_opts):
            # configure_accelerators, right after the machine options were applied
            raise self.out.fail('The -accel and "-machine accel=" options are incompatible')
        deprecation = self.profile.texts.deprecated_machine
        if machine_type.deprecated and deprecation is not None:
            self.out.warn(deprecation.format(name=machine_type.name))
        self._create_objects(machine)
        try:
            return self._after_monitors(machine)
        except StartupFailure as failure:
            if self.profile.monitors_open_before_board_init:
                failure.opened = machine
            raise

    def _after_monitors(self, machine: MachineState) -> MachineState:
        """What ``qemu_init`` does once the monitors exist: the CPU model, ``-numa``, board
        init, ``-device``."""
        scan = self.scan
        self._guard(self._check_cpu_model)
        if self.profile.numa_state is NumaState.GLOBAL_NUMA_INFO:
            self._numa_2_9(machine)
        else:
            self._guard(lambda: self._resolve_ram_memdev(machine))
            for opt in scan.numa_opts:
                self._apply_numa(machine, opt)
            if any(opt.name == "preconfig" for opt in scan.recorded):
                # -preconfig: stop before board init; QMP finishes it (x-exit-preconfig).
                machine.warnings = list(self.out.lines)
                machine.pending_init = self
                machine.run_state = "prelaunch"
                return machine
            self._board_init_7_2(machine)
        self._create_devices(machine)
        machine.warnings = list(self.out.lines)
        return machine

    def _exit_if_asked(self, opt: ArgvOption) -> None:
        """Options that print and exit 0 when their turn comes in ``qemu_init``'s option loop
        (``-version``, ``-h``/``-help``, ``-machine help``): later options are not looked at,
        earlier ones have been (their errors and warnings come first)."""
        if opt.name == "version":
            text = self.profile.version_text()
        elif opt.name in ("h", "help"):
            from qmpnuma.facts import command_line_help  # recorded facts: read when asked

            text = command_line_help(self.profile, self.out.progname)
        elif self.scan.machine_help:
            text = self._machine_help()
        else:
            return
        raise EarlyExit(text, "".join(self.out.lines))

    def _exit_if_help_asked(self) -> None:
        """``qemu_process_help_options``, once every option is parsed and before a machine is
        chosen: ``-cpu help`` (the last ``-cpu``) lists the CPU models, else the first QemuOpts
        ``-device`` whose driver is ``help`` lists the device models; each prints the
        profile binary's recorded text and exits 0."""
        text: str | None = None
        if self.scan.cpu_model in ("help", "?"):
            from qmpnuma.facts import recorded_text  # recorded facts: read when asked
            text = recorded_text(self.profile, "-cpu help")
        else:
            for opt, device in self.scan.device_opts:
                pairs = dict(device.pairs)
                if device.from_json:
                    continue
                if pairs.get("driver") in ("help", "?"):
                    from qmpnuma.facts import recorded_text  # recorded facts: read when asked
                    text = recorded_text(self.profile, "-device help")
                    break
                if "help" in pairs or "?" in pairs:
                    # a driver's properties (``qdev_device_help``)
                    driver = str(pairs.get("driver"))
                    from qmpnuma.facts import BASE_ACCELERATOR, device_property_help
                    try:
                        text = device_property_help(self.profile, BASE_ACCELERATOR, driver)
                        refusal = None if text is not None else f"Device '{driver}' not found"
                    except LookupError as err:
                        refusal = str(err.args[0])
                    if refusal is not None:
                        # reported, and still the help exit (status 0)
                        self.out.lines += self.out.format(refusal, option_location(opt))
                        text = ""
                    break
        if text is not None:
            raise EarlyExit(text, "".join(self.out.lines))

    def _machine_help(self) -> str:
        """``machine_help_func``: the properties of the type given so far (recorded from the
        binary), else (no type, or one QEMU does not know) the list of machine types."""
        from qmpnuma.facts import machine_property_help  # recorded facts: read when asked

        name = self.scan.machine_opts.get("type")
        if isinstance(name, str) and name not in ("help", "?"):
            with contextlib.suppress(MachineError):
                machine_type = resolve_machine_type(name, self.profile)
                properties = machine_property_help(self.profile, machine_type.name)
                if properties is not None:
                    return properties
        return machine_help_text(self.profile)

    def _create_devices(self, machine: MachineState) -> None:
        # qemu_create_cli_devices: every QemuOpts -device first, then the JSON ones, each
        # group in command-line order.
        ordered = sorted(self.scan.device_opts, key=lambda entry: entry[1].from_json)
        for opt, device in ordered:
            self._guard(partial(self._create_device, machine, device, option_location(opt)),
                        option_location(opt))

    def _create_device(self, machine: MachineState, device: DeviceArguments,
                       location: str) -> None:
        """One ``-device``; its warnings are printed before an error that follows them."""
        warnings: list[str] = []
        try:
            machine.device_add(device.pairs, hotplugged=False, from_json=device.from_json,
                               warnings=warnings)
        finally:
            for warning in warnings:
                self.out.warn(warning, location)

    def finish_init(self, machine: MachineState) -> list[str]:
        """The rest of start-up after ``-preconfig``: board init, then ``-device``.

        Runs inside a monitor command, so QEMU prints without its program name; returns the
        lines printed, or raises ``ConfigError`` with them when init fails (QEMU exits then).
        """
        self.out = StartupPrinter(progname="")
        try:
            self._board_init_7_2(machine)
            self._create_devices(machine)
        except StartupFailure as failure:
            raise ConfigError("".join(failure.lines), 1) from None
        return list(self.out.lines)

    # ------------------------------------------------------------ machine properties --

    def _resolve_type(self) -> MachineType:
        name = self.scan.machine_opts.get("type")
        try:
            if name is not None and not isinstance(name, str):
                raise MachineError("Parameters 'type.*' are unexpected")
            return resolve_machine_type(name, self.profile)
        except MachineError as err:
            raise self.out.fail(err.message, None, err.hints) from None

    def _set_machine_properties(self, machine: MachineState) -> None:
        """7.2 ``qemu_apply_machine_options``: every member of the machine dict, QDict order.

        ``parse_memory_options`` always merges ``memory`` in (empty without ``-m``); ``smp`` is
        there once ``-smp`` or ``-machine smp.*`` was given.  Each setter checks its value at
        once, so the first failing member in QDict order is the error QEMU prints.
        """
        opts = self.scan.machine_opts
        for key in qdict_order(opts):
            if key in NOT_PROPERTIES:
                continue
            value = opts[key]
            if key == "smp":
                self._apply_smp_7_2(machine, value)
            elif key == "memory":
                self._apply_memory_7_2(machine, value)
            else:
                self._set_property(machine, key, value)
        if "smp" not in opts:
            # No -smp: the machine's default topology, with the -cpu model for its CPUs.
            self._set_topology(machine, {})

    def _set_property(self, machine: MachineState, key: str, value: Any) -> None:
        mt = machine.machine_type
        if key not in machine_properties(mt, self.profile) and not recorded_machine_property(
            mt, self.profile, key
        ):
            raise MachineError(f"Property '{mt.name}-machine.{key}' not found")
        if key == "smp-cache":
            # the cache topology (9.2): a list, otherwise accepted and not modelled
            if isinstance(value, str):
                raise MachineError("Invalid parameter type for 'smp-cache', expected: array")
            return
        if not isinstance(value, str):
            raise MachineError(f"Parameters '{key}.*' are unexpected")
        if key == "hmat":
            self.hmat = qapi_bool("hmat", value)
        elif key == "memory-backend":
            machine.ram_memdev = value
        elif key == "acpi" and value not in ("on", "off", "auto"):
            raise MachineError(f"Parameter 'acpi' does not accept value '{value}'")
        elif key == "nvdimm":
            self.nvdimm = qapi_bool("nvdimm", value)

    def _apply_machine_props_2_9(self, machine: MachineState) -> None:
        for key in self.scan.machine_opts:
            if key not in NOT_PROPERTIES:
                self._set_property(machine, key, self.scan.machine_opts[key])

    def _finish_machine_setup(self, machine: MachineState) -> None:
        """What the setters leave behind: NUMA state (hmat), memory layout, DIMM bank, ACPI."""
        mt = machine.machine_type
        machine.numa = NumaConfig(mt, self.profile, hmat_enabled=self.hmat)
        config = self.memory_config or MemoryConfig(mt.default_ram_size, mt.default_ram_size, 0)
        machine.memory = config
        machine.layout = compute_layout(config, mt)
        acpi = self.scan.machine_opts.get("acpi", "auto") != "off" and mt.family != "isapc"
        machine.dimms = DimmBank(config, machine.layout, mt.enforce_aligned_dimm, self.profile,
                                 acpi=acpi, nvdimm=self.nvdimm)

    def _apply_smp_7_2(self, machine: MachineState, tree: Any) -> None:
        """``machine_set_smp``: the ``smp`` member read as ``SMPConfiguration``, then checked."""
        config = visit_keyval(tree, "SMPConfiguration", option_schema(self.profile), root="smp")
        self._set_topology(machine, config)

    def _apply_smp_2_9(self, machine: MachineState) -> None:
        values = dict(self.scan.smp_pairs)
        config: dict[str, int] = {}
        for key in SMP_MEMBERS_2_9:
            if key in values:
                number, end, error = strtoll(values[key].strip(), 0)
                if end == 0 or error is not None or end != len(values[key].strip()):
                    raise MachineError(f"Parameter 'smp.{key}' expects integer")
                config[key] = number
        for key in values:
            if key not in SMP_MEMBERS_2_9:
                raise MachineError(f"Parameter 'smp.{key}' is unexpected")
        self._set_topology(machine, config)

    def _set_topology(self, machine: MachineState, config: Mapping[str, int]) -> None:
        smp_warnings: list[str] = []
        try:
            topology = parse_smp(dict(config), machine.machine_type, self.profile,
                                 smp_warnings)
        finally:
            for warning in smp_warnings:
                self.out.warn(warning)
        machine.topology = topology
        machine.cpus = MachineCpus(topology, machine.machine_type, self.profile,
                                   cpu_model=self.scan.cpu_model)

    def _apply_memory_7_2(self, machine: MachineState, prop: Any) -> None:
        warnings: list[str] = []
        try:
            self.memory_config = resolve_memory_7_2(prop, machine.machine_type, self.profile,
                                                    warnings)
        finally:
            for warning in warnings:
                self.out.warn(warning)

    def _apply_memory_2_9(self, machine: MachineState) -> None:
        location = self.scan.memory_location if self.scan.memory is not None else None
        text = memory_option_text(self.scan.memory, self.scan.memory_location)
        try:
            self.memory_config = resolve_memory_2_9(text, machine.machine_type)
        except OptionError as err:
            raise self.out.fail(err.message, location, err.hints) from None

    # --------------------------------------------------------------------- objects --

    def _create_objects(self, machine: MachineState) -> None:
        """Early objects (everything but memory backends), then the backends, in CLI order.

        7.2 creates them outside any option location; 2.9 creates them while iterating the
        ``-object`` options, so its errors carry the option's location.
        """
        for opt, request in self.scan.objects:
            if not request.is_backend:
                location = option_location(opt) if self.profile.object_errors_located else None
                self._guard(partial(machine.add_other_object, request.qom_type, request.id),
                            location)
        for opt, request in self.scan.objects:
            if request.is_backend:
                location = option_location(opt) if self.profile.object_errors_located else None
                self._guard(partial(machine.create_backend, request, qmp=False), location)

    def _resolve_ram_memdev(self, machine: MachineState) -> None:
        if machine.ram_memdev is not None and machine.ram_memdev not in machine.backends:
            raise MachineError(f"Memory backend '{machine.ram_memdev}' not found")

    # ------------------------------------------------------------------------ numa --

    def _apply_numa(self, machine: MachineState, opt: ArgvOption) -> None:
        location = option_location(opt)

        def step() -> None:
            warnings: list[str] = []
            try:
                options = read_numa_option(opt.arg or "", self.profile, warnings)
            finally:
                for warning in warnings:
                    self.out.warn(warning, location)
            outcome = machine.numa.apply(options, machine.cpus, machine.backends)
            for message in outcome.messages:
                if message.startswith("warning: "):
                    self.out.warn(message.removeprefix("warning: "), location)
                else:
                    self.out.info(message, location)

        self._guard(step, location)
    def _board_init_7_2(self, machine: MachineState) -> None:
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
                        self.profile.texts.reserved_ram_id.format(id=mt.default_ram_id))
                # ``create_default_memdev``: a file backend on ``-mem-path`` when given.
                mem_paths = machine.option_values("mem-path")
                backend = MemoryBackend(
                    id=mt.default_ram_id, qom_type=FILE if mem_paths else RAM,
                    size=memory.ram_size, prealloc_threads=machine.topology.cpus,
                    mapped=True, implicit=True, profile=self.profile,
                    dump=machine.machine_switch("dump-guest-core"),
                    merge=machine.machine_switch("mem-merge"),
                    mem_path=mem_paths[-1] if mem_paths else None,
                    prealloc=machine.has_option("mem-prealloc"),
                )
                complete_backend(backend, machine.host, machine.backends.values())
                machine.objects.add(backend.id)
                machine.backends[backend.id] = backend

        self._guard(memory_backend_checks)
        if mt.numa_supported:
            self._guard(lambda: self._complete_numa_7_2(machine))
        if mt.family == "none" and self.scan.cpu_model is not None:
            # `-M none` creates the one CPU asked for without a board to give it an APIC id.
            self._guard(_raise(MachineError("apic-id property was not initialized properly")))
        if not self._asks_for_kvm():
            if self.scan.cpu_model is not None and self.scan.cpu_model.split(",", 1)[0] == "host":
                self._guard(_raise(MachineError("CPU model 'host' requires KVM or HVF")))
            # TCG has no in-kernel x2APIC: 7.2 refuses APIC ids from 255 up at board init.
            self._guard(machine.cpus.check_board_cpus)
        for warning in machine.cpus.startup_warnings():
            self.out.warn(warning)
        if not self._asks_for_kvm():
            # 10.0 realizes the boot CPUs and aborts on one whose APIC id needs x2APIC.
            self._guard(machine.cpus.check_realized_cpus)
        cpu = self.scan.cpu_model
        phys_bits = not self._asks_for_kvm()
        self._guard(lambda: check_board_memory(memory, mt, cpu, check_phys_bits=phys_bits,
                                                       profile=self.profile))

    def _check_cpu_model(self) -> None:
        """`-cpu NAME[,...]` must name a CPU model of this QEMU (checked after -object)."""
        if self.scan.cpu_model is None:
            return
        from qmpnuma.facts import device_model_names  # recorded facts: read when asked

        name = self.scan.cpu_model.split(",", 1)[0]
        if name + CPU_DRIVER_SUFFIX not in device_model_names(self.profile):
            raise MachineError(f"unable to find CPU model '{name}'")

    def _asks_for_kvm(self) -> bool:
        """Whether the accelerator QEMU would pick is KVM (qmpnuma then acts as if KVM were
        usable). QEMU tries `-accel` options in order and TCG always works, so the first one
        decides; `-enable-kvm` is `-accel kvm`; `-machine accel=A:B` is the legacy spelling."""
        return accelerator_of(self.scan.recorded, self.scan.machine_opts) == "kvm"

    def _complete_numa_7_2(self, machine: MachineState) -> None:
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
                _map_node_memdevs(machine, "memory backend {} can't be used multiple times.")
            numa.check_distances()
            numa.assign_ram_offsets()
            warnings = machine.cpus.finish_numa(numa.num_nodes, numa.hmat_initiators)
            numa.validate_initiators(machine.cpus)
            for warning in warnings:
                self.out.warn(warning)
        else:
            numa.numa_set_mem_node_id(0, memory.ram_size, 0)

    def _numa_2_9(self, machine: MachineState) -> None:
        """2.9 ``parse_numa_opts`` (parse, ids, equal split, total, CPUs) then machine init."""
        for opt in self.scan.numa_opts:
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
            _map_node_memdevs(
                machine,
                "memory backend {} is used multiple times. Each -numa option must use a "
                "different memdev value.",
            )

        self._guard(allocate)
        self._guard(lambda: check_board_memory(memory, machine.machine_type))



def _map_node_memdevs(machine: MachineState, busy_text: str) -> None:
    """Map each node's backend in node order; a backend already mapped is refused
    (``busy_text`` with the backend's id: 7.2 and 2.9 word it differently)."""
    numa = machine.numa
    for node_id in sorted(numa.nodes):
        memdev = numa.nodes[node_id].memdev
        if memdev is None:
            continue
        backend = machine.backends[memdev]
        if backend.mapped:
            raise MachineError(busy_text.format(memdev))
        backend.mapped = True


def _raise(error: Exception) -> Callable[[], None]:
    """A step that fails with ``error`` (for ``_guard``)."""

    def step() -> None:
        raise error

    return step
