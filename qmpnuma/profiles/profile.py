"""What one emulated QEMU version is, as one frozen object: :class:`Profile`.

A profile is data.  It holds the facts of a QEMU version (greeting, QMP capabilities, option
table, message texts, recorded-facts files, machine-type catalogue) and answers the questions
code has where versions behave differently.  A question is either a plain fact
(``profile.smp_members``, ``profile.cpus_query``), a text (``profile.texts.lacks_execute``) or a
named strategy (``profile.size_syntax is SizeSyntax.STRTOD``) that names the QEMU function
whose rule applies.  Code never compares a version string: a new version answers every question
in its own module (``qemu_X_Y.py``) and nothing else changes unless QEMU's rules changed.

This module imports nothing of qmpnuma at import time but `qmpnuma.records`, so every layer can
import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from qmpnuma.choice import Choice
from qmpnuma.records import record


@record(frozen=True, slots=True)
class OptionSpec:
    """How one QEMU command-line option is spelled (one row of ``qemu_options[]``).

    A record, not a `typing.NamedTuple`: making a named tuple class compiles its ``__new__``
    (about 0.3 ms of every start, issue 12)."""

    takes_argument: bool
    supported_on_x86_64: bool


#: The four spellings there are, shared by every option table (`option_spec`).
_OPTION_SPECS: dict[tuple[bool, bool], OptionSpec] = {}


def option_spec(takes_argument: bool, supported_on_x86_64: bool) -> OptionSpec:
    """The `OptionSpec` of this spelling, one object per spelling: an option table of some
    200 rows then makes four records, not one per row, in every profile it is built for."""
    key = (takes_argument, supported_on_x86_64)
    spec = _OPTION_SPECS.get(key)
    if spec is None:
        spec = _OPTION_SPECS[key] = OptionSpec(takes_argument, supported_on_x86_64)
    return spec


class SizeSyntax(Choice):
    """Which ``qemu_strtosz`` reads sizes (``-m``, ``-numa node,mem=``, backend ``size=``)."""

    #: 5.0 and later: decimal integer part, optional fraction only with a suffix, ``0x`` with a
    #: suffix deprecated, any ``-`` rejected, ERANGE from 2**64 (util/cutils.c ``do_strtosz``).
    STRTOSZ = "do_strtosz"
    #: 2.x: the number is read with ``strtod`` (fractions, exponents, hex floats).
    STRTOD = "strtod"
    #: 8.0 and later (command line, 10.0 work): ``do_strtosz`` on ``parse_uint`` -- hex takes
    #: no suffix and no fraction, a fraction may lack integer digits (``.5G``), a negative
    #: number is out of range like an overflowing one.
    STRTOSZ_PARSE_UINT = "do_strtosz/parse_uint"


class SmpParser(Choice):
    """Which function completes and checks ``-smp``."""

    #: hw/core/machine-smp.c ``machine_parse_smp_config`` (prefer sockets up to 6.1 types).
    MACHINE_PARSE_SMP_CONFIG = "machine_parse_smp_config"
    #: vl.c ``smp_parse`` of 2.x: sockets first, the product is never checked against cpus.
    VL_SMP_PARSE = "smp_parse"


class NumaState(Choice):
    """Where the NUMA configuration lives, which decides the CPU-to-node bookkeeping."""

    #: ``ms->numa_state`` plus ``possible_cpus`` slot properties (hw/core/numa.c, 4.0 on).
    MACHINE_NUMA_STATE = "numa_state"
    #: numa.c's global ``numa_info[]`` with one CPU bitmap per node and the equal RAM split.
    GLOBAL_NUMA_INFO = "numa_info"


class MemoryParser(Choice):
    """Which code turns ``-m`` into RAM size, slots and maxmem."""

    #: softmmu/vl.c ``parse_memory_options`` into ``MemorySizeConfiguration`` (7.x).
    MEMORY_SIZE_CONFIGURATION = "parse_memory_options"
    #: vl.c ``set_memory_options`` of 2.x (strtod sizes, its own texts).
    SET_MEMORY_OPTIONS = "set_memory_options"


class DimmPlug(Choice):
    """Which checks a ``pc-dimm`` goes through when plugged."""

    #: ``pc_dimm_pre_plug`` + ``memory_device_pre_plug`` (ACPI, slot, alignment, busy backend).
    MEMORY_DEVICE_PRE_PLUG = "memory_device_pre_plug"
    #: 2.x ``pc_dimm_memory_plug`` (its own texts and order).
    PC_DIMM_MEMORY_PLUG = "pc_dimm_memory_plug"


class ObjectProperties(Choice):
    """How ``-object`` / ``object-add`` properties are read."""

    #: The QAPI type ``ObjectOptions`` is visited (6.0 on): schema texts, JSON form allowed.
    QAPI_OBJECT_OPTIONS = "ObjectOptions"
    #: ``user_creatable_add_opts`` sets QOM properties one by one (``Property '.x' not found``).
    QOM_PROPERTIES = "user_creatable_add_opts"


# -- command line (10.0 work) ---------------------------------------------------------------
class ApicIdCheck(Choice):
    """Where TCG refuses an x86 APIC id above 254 (one that needs x2APIC)."""

    #: hw/i386/x86.c ``x86_cpus_init`` (7.2): at board init, for any possible CPU, unless
    #: KVM's in-kernel irqchip supports x2APIC.
    X86_CPUS_INIT = "x86_cpus_init"
    #: ``apic_common_set_id`` (TCG emulates x2APIC): while each boot CPU is realized, for a
    #: CPU model without ``x2apic``; the board sets the id under ``error_abort``, so QEMU aborts.
    APIC_COMMON_SET_ID = "apic_common_set_id"


class MaxUsedGpa(Choice):
    """How ``pc_max_used_gpa`` finds the highest guest-physical address of a pc/q35 board."""

    #: 7.2: a CPU of at most 32 physical bits has no 64-bit PCI hole and is given all it can
    #: address; others end at the 64-bit hole.
    PHYS_BITS_32 = "phys_bits <= 32"
    #: 8.2 on: a CPU without long mode ends at the device-memory region (with ``maxmem``) or
    #: at RAM above 4 GiB, unless the machine type keeps ``broken_32bit_mem_addr_check``.
    LONG_MODE = "CPUID_EXT2_LM"


@record(frozen=True)
class Texts:
    """The message table: texts that differ between versions, by what they report."""

    # QMP envelope (qmp_dispatch_check_obj / qmp_check_input_obj)
    not_object: str
    member_not_string: str  # formatted with the member name
    arguments_not_object: str
    unexpected: str  # formatted with the member name
    lacks_execute: str
    #: What replaces a JSON lexer or limit error text (None: the parser's own text is sent).
    json_lexer_error: str | None
    #: ``terminating on signal`` with a sender: formatted with ``signum``, ``pid``, ``name``.
    signal_from_pid: str
    #: Warning for a deprecated machine type (formatted with ``name``); None: never warned.
    deprecated_machine: str | None
    #: Second line of the warning for CPUs left out of an explicit NUMA mapping (W1).
    partial_numa_mapping: str
    #: What ``-version`` prints (``version()`` in vl.c): formatted with ``version`` (the
    #: dotted triple) and ``package`` (`` (PACKAGE)`` or empty).
    version_banner: str
    #: A client-mode unix chardev that cannot connect (``unix_connect_saddr``), formatted with
    #: ``path``; QEMU 5.2 put the address into both connect errors.
    unix_connect_failed: str = "Failed to connect to '{path}'"
    #: The same for TCP (``inet_connect_addr``), formatted with ``host`` and ``port``.
    inet_connect_failed: str = "Failed to connect to '{host}:{port}'"
    #: The line QEMU prints before aborting on an ``error_abort`` in ``qemu_chr_fe_init`` (a
    #: serial port on a chardev already read by a monitor or another port); it names the
    #: build's source path and line (Debian's 7.2 build here; 2.9 keeps it, unverified).
    chardev_fe_abort: str = "Unexpected error in qemu_chr_fe_init() at ../../chardev/char-fe.c:220:"

    # -- command line (10.0 work) -----------------------------------------------------------
    #: An ``-smp`` level above 1 on a board without it, formatted with ``level``.
    smp_level_unsupported: str = "{level} not supported by this machine's CPU topology"
    #: The warning of an AMD CPU model without topoext realized with threads, formatted with
    #: ``threads`` (7.2 put a line break before the advice).
    amd_hyperthreading: str = (
        "This family of AMD CPU doesn't support hyperthreading({threads})\n"
        "Please configure -smp options properly or try enabling topoext feature."
    )
    #: The line ``error_abort`` prints before the APIC id error (strategy
    #: ``ApicIdCheck.APIC_COMMON_SET_ID``): the failed function and its source location in
    #: the binary's build.
    apic_id_abort: str = ""
    #: An existing backing file smaller than the mapping, formatted with ``name`` (the
    #: backend's id), ``file_size``, ``size`` (page-aligned) and ``offset``.
    backing_store_too_small: str = (
        "backing store size 0x{file_size:x} does not match 'size' option 0x{size:x}"
    )
    #: A ``memory-backend`` id equal to the board's default RAM id, formatted with ``id``
    #: (may hold a hint line).
    reserved_ram_id: str = (
        "object name '{id}' is reserved for the default RAM backend, it can't be used for any "
        "other purposes. Change the object's 'id' to something else"
    )
    #: An unknown ``-machine`` type, formatted with ``name``.
    unsupported_machine_type: str = "unsupported machine type"
    #: A chardev a monitor, serial port or device already reads (``qemu_chr_fe_init``),
    #: formatted with ``id``.
    chardev_in_use: str = "Device '{id}' is in use"
    #: A memory device on a board whose device-memory region is empty (no ``maxmem``):
    #: ``memory_device_get_free_addr`` (7.2), ``memory_device_pre_plug`` (10.0).
    no_device_memory: str = (
        "memory devices (e.g. for memory hotplug) are not enabled, please specify the maxmem "
        "option"
    )
    # -- QMP/HMP (10.0 work) ----------------------------------------------------------------
    #: ``query-hotpluggable-cpus`` on a board without CPU hot-plug
    #: (``qmp_query_hotpluggable_cpus``).
    hotpluggable_cpus_unsupported: str = "The feature 'query-hotpluggable-cpus' is not enabled"
    #: ``migrate-pause`` outside post-copy (``qmp_migrate_pause``).
    migrate_pause_refused: str = (
        "migrate-pause is currently only supported during postcopy-active state"
    )
    #: ``device_del`` of an object that is not a device (``find_device_state``), formatted
    #: with ``id`` as given.
    not_a_device: str = "{id} is not a hotpluggable device"
    #: A vCPU's family/model/stepping/tsc-frequency setter refusing a visited value, formatted
    #: with ``name``, ``value``, ``low`` and ``high`` (``x86_cpuid_version_set_*``).
    cpu_property_out_of_range: str = (
        "Property .{name} doesn't take value {value} (minimum: {low}, maximum: {high})"
    )
    #: ``x86_cpuid_set_vendor`` refusing a vendor string that is not 12 characters long,
    #: formatted with ``name`` and ``value``.
    cpu_vendor_length: str = "Property '.{name}' doesn't take value '{value}'"


@record(frozen=True)
class VirtioMemRules:
    """How the profile's QEMU plugs and unplugs a ``virtio-mem-pci`` (``machine.virtio_mem``),
    where 7.2 and 10.0 differ."""

    #: ``memory_device_pre_plug`` asks whether the board has device memory before it asks the
    #: device for its memory region (10.0); 7.2 asks for the region (the memdev) first.
    device_memory_checked_first: bool
    #: Pre-plug aligns the backend size to the block size as well (7.2:
    #: ``get_min_alignment`` joins the alignment of both checks); 10.0 aligns the size to the
    #: backend alone, checks it before the address, and leaves the block size to realize.
    size_aligned_to_block_in_pre_plug: bool
    #: Realize refuses a backend with ``prealloc=on`` (10.0, formatted with ``id``; the text
    #: ends with a space). None: accepted.
    preallocated_backend_refused: str | None
    #: Realize's backend-size check, formatted with ``block`` (10.0's text lacks a space).
    memdev_size_not_multiple: str
    #: ``device_del`` while ``requested-size`` is not 0 (10.0) or always (7.2: virtio-mem
    #: cannot be unplugged at all).
    unplug_refused: str
    #: 10.0 takes the unplug request when ``requested-size`` is 0 (nothing follows without a
    #: guest); 7.2 refuses every request.
    unplug_when_unrequested: bool
    #: The warning realize prints for a private (``share=off``) file or memfd backend, whose
    #: discarded blocks would reach the file (10.0's ``ram_block_discard_range``); None: none.
    private_file_discard_warning: str | None = None


@record(frozen=True)
class CompatRow:
    """One row of QEMU's cumulative machine compat tables (``hw_compat_X_Y``/``pc_compat_X_Y``).

    The row applies to every machine type of ``families`` whose version is ``version`` or
    older and sets the given :class:`~qmpnuma.machine.machine_types.MachineType` fields.  A row
    exists in every QEMU release after ``version`` (the release that changed the default), or
    from ``since`` on when QEMU added the setting to old types later (deprecations).
    """

    version: tuple[int, ...]
    families: frozenset[str]
    settings: Mapping[str, Any]
    since: tuple[int, ...] | None = None

    def exists_in(self, release: tuple[int, ...]) -> bool:
        """True when the QEMU release ``release`` (major, minor) has this row."""
        if self.since is not None:
            return self.since <= release
        return self.version < release


@record(frozen=True)
class MachineCatalogue:
    """The x86_64 machine types of a version and the flags of its newest types.

    ``newest`` maps a family (``pc``, ``q35``) to the flags its newest type has; older types
    get them with every compat row of the release applied, newest row first (see
    :func:`qmpnuma.profiles.compat.compat_rows`).
    """

    pc_versions: tuple[str, ...]
    q35_versions: tuple[str, ...]
    #: Unversioned types, in the order they follow the versioned ones.
    standalone: tuple[str, ...]
    newest: Mapping[str, Mapping[str, Any]]
    #: Order of the ``query-machines`` answer (a GLib hash order, recorded); None when never
    #: observed: then newest first per family, then the stand-alone types.
    query_order: tuple[str, ...] | None
    #: Optional ``MachineInfo`` members the version reports, in QAPI order.
    info_members: tuple[str, ...]


@record(frozen=True, eq=False)
class Profile:
    """One emulated QEMU version.  Compare profiles with ``is``; there is one per version."""

    #: Short name used on the command line (``--profile``), in env and fleet specs.
    name: str
    #: ``qemu`` member of the greeting: major, minor, micro.
    version: tuple[int, int, int]
    #: ``package`` member of the greeting.
    package: str
    qmp_capabilities: tuple[str, ...]
    texts: Texts
    #: name (without the leading dash) -> spelling rules, in QEMU's table order.
    options: Mapping[str, OptionSpec]
    #: Recorded facts of the profile's binary in ``qmpnuma/data`` by kind (``facts``,
    #: ``interface``, ``replies``, ``cpu-qom-set``; see ``qmpnuma.facts``).
    facts_files: Mapping[str, str]
    machines: MachineCatalogue

    # -- strategies -------------------------------------------------------------------------
    size_syntax: SizeSyntax
    smp_parser: SmpParser
    numa_state: NumaState
    memory_parser: MemoryParser
    dimm_plug: DimmPlug
    object_properties: ObjectProperties

    # -- questions --------------------------------------------------------------------------
    #: ``-smp`` members accepted, in ``SMPConfiguration`` order.
    smp_members: tuple[str, ...]
    #: ``-numa`` option types accepted (``NumaOptionsType``).
    numa_types: tuple[str, ...]
    #: ``-numa node,initiator=`` exists (HMAT, 5.0 on).
    numa_node_accepts_initiator: bool
    #: ``-numa`` on a board without NUMA fails (``NUMA is not supported by this machine-type``).
    numa_checks_machine_support: bool
    #: ``-machine`` and ``-smp`` are read with keyval and merged into one machine dictionary
    #: (``machine_parse_property_opt``); before, both were QemuOpts.
    machine_options_keyval: bool
    #: ``-device`` accepts the JSON form (``{...}``).
    device_accepts_json: bool
    #: ``-device``/``device_add`` of a CPU sets every property through its QOM setter, as
    #: recorded from the binary (facts ``replies`` and ``cpu-qom-set``): unknown names are not
    #: found, read-only ones not writable, values visited with the property's type. False
    #: where nothing was recorded: only the topology ids are read.
    cpu_device_properties_checked: bool
    #: Errors while creating ``-object`` objects carry the option's location.
    object_errors_located: bool
    #: QemuOpts warns about short-form booleans (``foo`` / ``nofoo``, 6.0 on).
    qemuopts_flag_warnings: bool
    #: QemuOpts bools take only ``on``/``off`` (not yes/no/true/false/y/n).
    qemuopts_bool_only_on_off: bool
    #: A CPU device's driver must be the machine's CPU type (``Invalid CPU type``).
    cpu_plug_checks_type: bool
    #: CPU slots carry ``node-id`` and ``die-id`` properties.
    cpu_props_node_and_die: bool
    #: HMP ``info cpus`` shows the program counter and the halted state.
    hmp_info_cpus_shows_pc: bool
    #: HMP ``info numa`` shows the plugged (DIMM) memory per node.
    hmp_info_numa_shows_plugged: bool
    #: ``SHUTDOWN``/``RESET`` events carry ``guest`` and ``reason``.
    shutdown_events_carry_reason: bool
    #: The command that lists CPUs (``query-cpus`` was removed in 6.0).
    cpus_query: str
    #: ``query-memdev`` reports ``share`` and ``reserve``.
    memdev_reports_share_reserve: bool
    #: ``query-qmp-schema`` in the old flavour (names, no features, no enum members).
    legacy_introspection: bool
    #: The QOM classes ``-object``/``object-add`` can create in the binary (``qom-list-types``
    #: implementing ``user-creatable``), memory backends first; ``ObjectType`` values not
    #: listed pass the visit and fail as ``invalid object type``.
    creatable_objects: tuple[str, ...]
    #: The memory backend classes among them (those the model simulates).
    memory_backends: tuple[str, ...]

    # -- command line (10.0 work) -----------------------------------------------------------
    #: An explicit 0 for any ``-smp`` member stops start-up (9.0) instead of being warned
    #: about as a deprecated topology.
    smp_zero_values_fatal: bool
    #: The ``-smp`` levels a board may lack, in the order ``machine_parse_smp_config`` checks
    #: them (a value above 1 on a board without the level is refused).
    smp_optional_levels: tuple[str, ...]
    #: Where an APIC id that needs x2APIC is refused without KVM.
    apic_id_check: ApicIdCheck
    #: ``memory-backend-file`` refuses a ``size`` that is not whole 4 KiB pages (after
    #: opening the file).
    file_backend_size_whole_pages: bool
    #: ``memory-backend-memfd``/``-shm``: the page-aligned mapping must fit the descriptor,
    #: which is sized to exactly ``size`` (so a size in part pages is "too small").
    fd_backend_maps_whole_pages: bool
    #: A read-only ``mem-path`` that is a directory cannot be opened (``EISDIR``) rather
    #: than failing to map.
    mem_path_readonly_directory_refused: bool
    #: The monitors exist (``mon_init_func`` in ``qemu_create_late_backends``, right after the
    #: memory backends) before the CPU model, ``-numa``, board init and ``-device`` are
    #: processed, so a monitor on stdio has written its opening words (QMP greeting, HMP
    #: banner) when one of those fails; before 7.x they were created after the devices.
    monitors_open_before_board_init: bool
    #: An HMP monitor writes its ``(qemu) `` prompt with its banner when it is created (7.2),
    #: rather than at the main loop's first turn (10.0: a start that fails never shows it).
    hmp_prompt_at_creation: bool
    #: CPU models without long mode whose definition has PSE36 (36 physical address bits
    #: under TCG); the other models without long mode have 32.
    cpu_models_pse36: tuple[str, ...]
    max_used_gpa: MaxUsedGpa
    #: ``-numa node,mem=`` re-read in MiB (``qemu_strtosz_MiB``) refuses what does not fit
    #: (``could not parse memory size``) instead of keeping the byte value.
    numa_mem_mib_overflow_fatal: bool
    #: ``query-chardev`` names a connected unix client chardev after the path it connected to
    #: (``unix:PATH``); before, after its own unnamed end (``unix:``). Both keep a server's
    #: own path (``qemu_chr_compute_filename``; seen on the binaries).
    chardev_client_named_after_peer: bool
    #: ``-accel`` and ``-machine accel=`` (or ``-enable-kvm``) cannot be combined
    #: (``configure_accelerators``; found while measuring 10.0, 7.2 refuses it too).
    accel_option_excludes_machine_accel: bool
    #: ``-machine`` properties beyond 7.2's, by machine family (``*``: every class), as the
    #: binary's ``-machine TYPE,help`` lists them.
    added_machine_properties: Mapping[str, tuple[str, ...]]
    # -- QMP/HMP (10.0 work) ----------------------------------------------------------------
    #: ``query-status`` reports ``singlestep`` (``qmp_query_status``; the member went in 9.0).
    status_reports_singlestep: bool
    #: QMP ``device_add`` gives its arguments to ``qdev_device_add_from_qdict`` as the JSON
    #: dict (``from_json``, 9.2 on): values strictly typed, the id's syntax unchecked; before,
    #: ``qemu_opts_from_qdict`` turned them into QemuOpts text first.
    device_add_from_json: bool
    #: The children of the QOM root, in ``qom-list /`` order (``backend`` came with 9.2).
    qom_root_children: tuple[str, ...]
    #: What ``memory-backend-file`` adds to a backend's ``qom-list``, in its order (name, type).
    qom_file_backend_properties: tuple[tuple[str, str], ...]
    #: Statistics providers registered whatever the accelerator, by provider: the target
    #: and the names of its cumulative, unscaled counters, in ``query-stats-schemas`` order
    #: (``cryptodev`` registers at start-up since 8.0; ``kvm`` only once KVM runs).
    stats_providers: Mapping[str, tuple[str, tuple[str, ...]]]
    #: microvm's hot-plug handler plugs x86 CPUs (``x86_cpu_plug``) and refuses every unplug
    #: request (``unplug not supported by microvm``); before, its plug callback refused a CPU
    #: after realize (``virt: device plug request for unsupported device type``).
    microvm_plugs_cpus: bool
    #: The file in ``qmpnuma/data`` with each machine type's compatibility properties
    #: (``query-machines`` with ``compat-props``, 9.1 on; ``scripts/record_compat_props.py``).
    compat_props_file: str | None
    #: The CPUID version setters (family, model, stepping) visit a ``uint64`` (a negative
    #: number wraps, anything but a number "expects uint64"); before, an ``int``.
    cpuid_version_visits_uint64: bool
    #: A vCPU's HTT and CmpLegacy features follow the package's logical CPU count when the
    #: features are expanded (9.2 on), so ``qom-get`` shows them; before, only CPUID did.
    cpu_features_follow_package: bool
    #: The board object has an ``smp`` property (``SMPConfiguration``, ``machine_get_smp``,
    #: 6.1 on) with every member of ``smp_members``.
    qom_machine_smp: bool
    #: The containers ``qemu_create_machine`` adds to ``/machine`` right after creating the
    #: board object, in order (``unattached`` for the system bus; 9.2 on also both
    #: ``peripheral`` containers, which the board's instance init made before).
    qom_machine_containers: tuple[str, ...]
    #: By board family, what board init does to ``/machine``'s own properties, in QEMU's
    #: order: (name, QOM type, condition) adds a property when the condition holds (see
    #: ``qmpnuma.commands.machine_object.BOARD_CONDITIONS``); the name ``-`` stands for
    #: ``pc_system_flash_cleanup_unused`` deleting the unused flash children and aliases.
    #: The order matters: it decides where each lands in the GLib hash table ``qom-list``
    #: walks.
    qom_board_init: Mapping[str, tuple[tuple[str, str, str], ...]]
    #: ``qom-get /machine boot`` on a board without a default boot order (``none``,
    #: ``x-remote``, ``microvm``): 7.2 sets an empty ``order``, 10.0 leaves it out.
    qom_board_boot_unset: Mapping[str, str]
    #: The PC boards' default SMBIOS entry point type by machine version, newest first:
    #: (first version, value); older versions get ``32``, unversioned types the newest.
    smbios_entry_point_defaults: tuple[tuple[tuple[int, ...], str], ...]
    #: ``device_add`` of a class that sets ``DeviceClass.hotpluggable`` false, once the
    #: machine runs: 7.2's ``qdev_get_device_class`` refuses it as not pluggable; 10.0 checks
    #: it after the dynamic-sysbus check (``Device '%s' does not support hotplugging``).
    device_not_hotpluggable_text: str
    #: The type-tree ancestors whose classes set ``hotpluggable`` false (what the recorded
    #: type tree can place; leaf classes that clear it one by one are not known).
    not_hotpluggable_ancestors: frozenset[str]
    #: By board family, the system-bus device types the board lets users create
    #: (``machine_class_allow_dynamic_sysbus_dev``); None where no such check exists (7.2
    #: refuses system-bus devices by their bus instead). Any other system-bus type is refused
    #: as not ``a dynamic sysbus device type for the machine``.
    dynamic_sysbus_allowed: Mapping[str, frozenset[str]] | None
    #: ``-device TYPE,help`` shows a default as plain text (10.0: a string unquoted, a
    #: boolean as ``on``/``off``), not as JSON.
    device_help_plain_defaults: bool
    #: How ``virtio-mem-pci`` is plugged as a memory device (``qmpnuma.machine.virtio_mem``;
    #: the device came with QEMU 5.1). None: the model only records the device.
    virtio_mem: VirtioMemRules | None = None

    def __repr__(self) -> str:
        return f"Profile({self.name})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickle by name: an unpickled profile is the registered object itself."""
        return registered_profile, (self.name,)

    @property
    def smp_accepts_dies(self) -> bool:
        """``-smp dies=`` exists (machines then report ``die-id``)."""
        return "dies" in self.smp_members

    def version_text(self) -> str:
        """The complete ``-version`` output of the profile's binary."""
        package = f" ({self.package})" if self.package else ""
        dotted = ".".join(str(part) for part in self.version)
        return self.texts.version_banner.format(version=dotted, package=package)

    @property
    def release(self) -> tuple[int, int]:
        """The (major, minor) release, the key of compat rows and since-symbols."""
        return self.version[0], self.version[1]

    @property
    def since_symbol(self) -> str:
        """The QAPI ``if`` symbol meaning "this release or later" (``SINCE_7_2``)."""
        return "SINCE_{}_{}".format(*self.release)

    @property
    def module_suffix(self) -> str:
        """Suffix of the generated modules of this profile (``tables_7_2``)."""
        return "{}_{}".format(*self.release)


class _Registered(dict[str, "Profile"]):
    """The profiles built so far, by name; a missing one is built by the registry's `build`."""

    build: Callable[[str], Profile] | None = None

    def __missing__(self, name: str) -> Profile:
        if self.build is None:
            raise KeyError(name)
        return self.build(name)


#: Every profile by name. The registry builds each on first use (and sets `build`); the table
#: lives here so that an unpickled profile finds its registered object without this module
#: importing the registry.
REGISTERED = _Registered()


def registered_profile(name: str) -> Profile:
    """The registered profile called ``name`` (the unpickling side of `Profile.__reduce__`)."""
    return REGISTERED[name]

