"""The QEMU 10.0 profile: Debian 13's ``qemu-system-x86_64`` 10.0.2 (from ``bookworm-backports``).

Every fact here was read from that binary (unpacked beside 7.2 by
``scripts/fetch_reference_binaries.sh``): the option table is its ``qemu_options[]`` in QEMU's
order, the machine types and their ``query-machines`` order come from ``-machine help`` and
``query-machines``, the texts from its stderr and QMP answers.  What is not listed here is the
same as in 7.2 (``qemu_7_2.py``) and is shared by reference, not copied.
"""

from __future__ import annotations

from typing import Final

from qmpnuma.profiles import qemu_7_2
from qmpnuma.profiles.profile import (
    ApicIdCheck,
    MachineCatalogue,
    MaxUsedGpa,
    OptionSpec,
    Profile,
    SizeSyntax,
    VirtioMemRules,
    option_spec,
)
from qmpnuma.records import replace

#: Options 10.0 no longer has (``-no-acpi``/``-no-hpet``/``-singlestep``/``-chroot``/
#: ``-async-teardown`` removed in 9.0, ``-runas`` in 10.0, ``-audio-help``, ``-portrait`` and
#: ``-rotate`` as well): they are ``invalid option`` now.
_REMOVED: Final = frozenset(
    {"no-acpi", "no-hpet", "singlestep", "chroot", "async-teardown", "runas", "audio-help",
     "portrait", "rotate"}
)
#: Options 10.0 still parses but refuses on x86_64 (``Option not supported for this target``:
#: this build has no Xen support).
_UNSUPPORTED: Final = frozenset({"xen-attach", "xen-domid-restrict"})
#: Options new in 10.0, each placed after the 7.2 option it follows in ``qemu_options[]``
#: (``-shim`` after ``-kernel``, ``-run-with`` after ``-plugin``, ``-perfmap`` and
#: ``-jitdump`` after ``-enable-sync-profile``, as ``-help`` lists them), with its spelling:
#: whether it takes an argument (probed: ``-X`` alone says ``requires an argument``).
_ADDED_AFTER: Final = {
    "kernel": (("shim", option_spec(True, True)),),
    "plugin": (("run-with", option_spec(True, True)),),
    "enable-sync-profile": (("perfmap", option_spec(False, True)),
                            ("jitdump", option_spec(False, True))),
}


def _options() -> dict[str, OptionSpec]:
    table: dict[str, OptionSpec] = {}
    for name, spec in qemu_7_2.OPTIONS.items():
        if name not in _REMOVED:
            supported = spec.supported_on_x86_64 and name not in _UNSUPPORTED
            table[name] = option_spec(spec.takes_argument, supported)
        for added, added_spec in _ADDED_AFTER.get(name, ()):
            table[added] = added_spec
    return table


#: name (without the leading dash) -> its spelling rules, in QEMU's table order.
OPTIONS: Final[dict[str, OptionSpec]] = _options()

#: The memory backend classes of the binary (``memory-backend-shm`` is new in 9.1).
MEMORY_BACKENDS: Final = (*qemu_7_2.MEMORY_BACKENDS, "memory-backend-shm")
#: Every other user-creatable QOM class of the binary (``qom-list-types`` with ``implements:
#: user-creatable``, 10.0.2).
OTHER_USER_CREATABLE: Final = (
    "acpi-generic-initiator", "acpi-generic-port", "authz-list", "authz-list-file",
    "authz-simple", "can-bus", "can-host-socketcan", "colo-compare", "cryptodev-backend",
    "cryptodev-backend-builtin", "cryptodev-vhost-user", "dbus-display", "dbus-vmstate",
    "filter-buffer", "filter-dump", "filter-mirror", "filter-redirector", "filter-replay",
    "filter-rewriter", "input-barrier", "input-linux", "iommufd", "iothread", "main-loop",
    "pr-manager-helper", "qtest", "rng-builtin", "rng-egd", "rng-random", "secret",
    "secret_keyring", "sev-guest", "sev-snp-guest", "thread-context", "throttle-group",
    "tls-cipher-suites", "tls-creds-anon", "tls-creds-psk", "tls-creds-x509",
    "x-remote-object",
)

#: Order of the ``query-machines`` answer of the real QEMU 10.0.2 (GLib hash-table order).
_QUERY_MACHINES_ORDER: Final = (
    "pc-q35-5.2", "pc-i440fx-2.12", "pc-i440fx-6.2", "pc-q35-4.2", "pc-i440fx-2.5",
    "pc-i440fx-4.2", "pc-i440fx-5.2", "pc-q35-2.7", "pc-q35-9.1", "pc-q35-7.1", "pc-q35-8.1",
    "none", "pc-i440fx-8.1", "pc-i440fx-2.7", "pc-q35-6.1", "pc-i440fx-9.1", "pc-q35-2.4",
    "pc-q35-10.0", "pc-i440fx-7.1", "pc-q35-2.10", "x-remote", "pc-q35-5.1", "pc-q35-2.9",
    "pc-i440fx-2.11", "pc-q35-3.1", "pc-i440fx-6.1", "pc-q35-4.1", "pc-i440fx-2.4",
    "pc-i440fx-4.1", "pc-i440fx-5.1", "pc-i440fx-2.9", "isapc", "pc-q35-2.6", "pc-i440fx-3.1",
    "pc-q35-9.0", "pc-q35-2.12", "pc-q35-7.0", "pc-q35-8.0", "pc-i440fx-8.0", "pc-q35-6.0",
    "pc-i440fx-2.6", "pc-i440fx-9.0", "pc-q35-4.0.1", "pc-i440fx-7.0", "pc-q35-5.0",
    "pc-q35-2.8", "pc-i440fx-10.0", "pc-q35-9.2", "pc-i440fx-2.10", "pc-q35-3.0",
    "pc-i440fx-6.0", "pc-q35-7.2", "pc-q35-4.0", "microvm", "pc-q35-8.2", "pc-i440fx-4.0",
    "pc-i440fx-8.2", "pc-i440fx-5.0", "pc-i440fx-2.8", "pc-q35-6.2", "pc-i440fx-9.2",
    "pc-i440fx-3.0", "pc-q35-2.5", "pc-i440fx-7.2", "pc-q35-2.11",
)

#: Flags of the newest pc / q35 types (pc-i440fx-10.0, pc-q35-10.0); older types get the compat
#: rows of release 10.0 (qmpnuma/profiles/compat.py).
_NEWEST: Final = {
    "pc": {**qemu_7_2.MACHINES.newest["pc"], "broken_32bit_mem_addr_check": False},
    "q35": {**qemu_7_2.MACHINES.newest["q35"], "cpu_max": 4096,
            "broken_32bit_mem_addr_check": False},
}

_PC_VERSIONS: Final = (
    "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10", "2.11", "2.12", "3.0", "3.1", "4.0", "4.1",
    "4.2", "5.0", "5.1", "5.2", "6.0", "6.1", "6.2", "7.0", "7.1", "7.2", "8.0", "8.1", "8.2",
    "9.0", "9.1", "9.2", "10.0",
)

MACHINES: Final = MachineCatalogue(
    pc_versions=_PC_VERSIONS,
    q35_versions=(*_PC_VERSIONS[:12], "4.0.1", *_PC_VERSIONS[12:]),
    standalone=("isapc", "microvm", "none", "x-remote"),
    newest=_NEWEST,
    query_order=_QUERY_MACHINES_ORDER,
    info_members=(*qemu_7_2.MACHINES.info_members, "acpi"),
)

#: The counters of the ``cryptodev`` statistics provider (backends/cryptodev.c), in the
#: order ``query-stats-schemas`` lists them.
CRYPTODEV_STATS: Final = (
    "asym-verify-bytes", "asym-sign-bytes", "asym-decrypt-bytes", "asym-encrypt-bytes",
    "asym-verify-ops", "asym-sign-ops", "asym-decrypt-ops", "asym-encrypt-ops",
    "sym-decrypt-bytes", "sym-encrypt-bytes", "sym-decrypt-ops", "sym-encrypt-ops",
)

TEXTS: Final = replace(
    qemu_7_2.TEXTS,
    deprecated_machine=(
        "Machine type '{name}' is deprecated: machines more than 3 years old are subject to "
        "deletion after 6 years"
    ),
    version_banner=(
        "QEMU emulator version {version}{package}\n"
        "Copyright (c) 2003-2025 Fabrice Bellard and the QEMU Project developers\n"
    ),
    # -- command line (10.0 work)
    smp_level_unsupported="{level} > 1 not supported by this machine's CPU topology",
    amd_hyperthreading=(
        "This family of AMD CPU doesn't support hyperthreading({threads}). "
        "Please configure -smp options properly or try enabling topoext feature."
    ),
    apic_id_abort="Unexpected error in apic_common_set_id() at hw/intc/apic_common.c:447:",
    backing_store_too_small=(
        "{name} backing store size 0x{file_size:x} is too small for 'size' option 0x{size:x} "
        "plus 'offset' option 0x{offset:x}"
    ),
    reserved_ram_id=(
        "object's id '{id}' is reserved for the default RAM backend, it can't be used for any "
        "other purposes\nChange the object's 'id' to something else or disable automatic "
        "creation of the default RAM backend by setting 'memory-backend={id}' with '-machine'."
    ),
    unsupported_machine_type='unsupported machine type: "{name}"',
    chardev_in_use="chardev '{id}' is already in use",
    no_device_memory=(
        "the configuration is not prepared for memory devices (e.g., for memory hotplug), "
        "consider specifying the maxmem option"
    ),
    chardev_fe_abort="Unexpected error in qemu_chr_fe_init() at chardev/char-fe.c:204:",
    # -- QMP/HMP (10.0 work)
    hotpluggable_cpus_unsupported="machine does not support hot-plugging CPUs",
    not_a_device="{id} is not a device",
    cpu_property_out_of_range="parameter '{name}' can be at most {high}",
    cpu_vendor_length="value of property '{name}' must consist of exactly 12 characters",
    migrate_pause_refused=(
        "migrate-pause is currently only supported during postcopy-active or postcopy-recover "
        "state"
    ),
)

#: 10.0's board init (``Profile.qom_board_init``): the RTC no longer links itself as
#: ``rtc_state``; pc's device memory comes after the firmware (``pc_memory_init``); isapc adds
#: its two DMA controllers as children.
_MR = "child<memory-region>"
QOM_BOARD_INIT: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    **qemu_7_2.QOM_BOARD_INIT,
    "pc": (
        ("-", "", ""), ("fw_cfg", "child<fw_cfg_io>", ""),
        ("device-memory[0]", _MR, "device-memory"), ("smram", "link<memory-region>", ""),
        ("rtc-time", "struct tm", ""), ("acpi-device", "link<hotplug-handler>", "acpi"),
        ("i440fx", "child<i440FX-pcihost>", ""), ("nvdimm-acpi-io[0]", _MR, "nvdimm"),
    ),
    "q35": (
        ("device-memory[0]", _MR, "device-memory"), ("-", "", ""),
        ("fw_cfg", "child<fw_cfg_io>", ""), ("q35", "child<q35-pcihost>", ""),
        ("smram", "link<memory-region>", "smm"), ("rtc-time", "struct tm", ""),
        ("acpi-device", "link<hotplug-handler>", ""), ("nvdimm-acpi-io[0]", _MR, "nvdimm"),
    ),
    "isapc": (
        ("fw_cfg", "child<fw_cfg_io>", ""), ("dma[0]", "child<i8257>", ""),
        ("dma[1]", "child<i8257>", ""), ("rtc-time", "struct tm", ""),
        ("nvdimm-acpi-io[0]", _MR, "nvdimm"),
    ),
}

PROFILE: Final[Profile] = replace(
    qemu_7_2.PROFILE,
    name="10.0",
    version=(10, 0, 2),
    package="Debian 1:10.0.2+ds-2+deb13u1~bpo12+1",
    facts_files={"facts": "qemu-10.0-facts.json", "interface": "qemu-10.0-interface.tsv.gz",
                 "replies": "qemu-10.0-replies.json",
                 "cpu-qom-set": "qemu-10.0-cpu-qom-set.json",
                 "cpu-objects": "qemu-10.0-cpu-objects.json.gz"},
    texts=TEXTS,
    options=OPTIONS,
    machines=MACHINES,
    # -- command line (10.0 work)
    # SMPConfiguration of 10.0: drawers/books (8.2) and modules (9.1) beside 7.2's members.
    smp_members=("cpus", "drawers", "books", "sockets", "dies", "clusters", "modules", "cores",
                 "threads", "maxcpus"),
    size_syntax=SizeSyntax.STRTOSZ_PARSE_UINT,
    smp_zero_values_fatal=True,
    smp_optional_levels=("modules", "clusters", "dies", "books", "drawers"),
    apic_id_check=ApicIdCheck.APIC_COMMON_SET_ID,
    file_backend_size_whole_pages=True,
    fd_backend_maps_whole_pages=True,
    mem_path_readonly_directory_refused=True,
    hmp_prompt_at_creation=False,
    # qemu32, coreduo and n270 gained PSE36 after 7.2 (observed: 36 phys-bits).
    cpu_models_pse36=(*qemu_7_2.PROFILE.cpu_models_pse36, "coreduo", "n270", "qemu32"),
    numa_mem_mib_overflow_fatal=True,
    chardev_client_named_after_peer=True,
    accel_option_excludes_machine_accel=True,
    added_machine_properties={"*": ("aux-ram-share", "shim", "smp-cache"),
                              "pc": ("x-south-bridge",)},
    max_used_gpa=MaxUsedGpa.LONG_MODE,
    creatable_objects=MEMORY_BACKENDS + OTHER_USER_CREATABLE,
    memory_backends=MEMORY_BACKENDS,
    # -- QMP/HMP (10.0 work)
    status_reports_singlestep=False,
    device_add_from_json=True,
    qom_root_children=("backend", "machine", "objects", "chardevs"),
    qom_file_backend_properties=(
        ("pmem", "bool"), ("align", "int"), ("offset", "int"), ("mem-path", "string"),
        ("rom", "OnOffAuto"), ("discard-data", "bool"), ("readonly", "bool"),
    ),
    stats_providers={"cryptodev": ("cryptodev", CRYPTODEV_STATS)},
    microvm_plugs_cpus=True,
    compat_props_file="qemu-10.0-compat-props.json",
    cpuid_version_visits_uint64=True,
    cpu_features_follow_package=True,
    qom_machine_smp=True,
    qom_machine_containers=("unattached", "peripheral", "peripheral-anon"),
    qom_board_init=QOM_BOARD_INIT,
    qom_board_boot_unset={},
    smbios_entry_point_defaults=(((9, 0), "auto"), ((8, 1), "64")),
    device_not_hotpluggable_text="Device '{driver}' does not support hotplugging",
    not_hotpluggable_ancestors=frozenset({"x86-iommu", "dynamic-sysbus-device"}),
    device_help_plain_defaults=True,
    dynamic_sysbus_allowed={
        "pc": frozenset({"ramfb", "vmbus-bridge", "uefi-vars-x64"}),
        "q35": frozenset({"ramfb", "vmbus-bridge", "uefi-vars-x64", "intel-iommu",
                          "amd-iommu"}),
    },
    virtio_mem=VirtioMemRules(
        device_memory_checked_first=True,
        size_aligned_to_block_in_pre_plug=False,
        preallocated_backend_refused=(
            "'memdev' property specifies a memdev with preallocation enabled: {id}. Instead, "
            "specify 'prealloc=on' for the virtio-mem device. "
        ),
        memdev_size_not_multiple=(
            "'memdev' property memdev size has to be multiples of'block-size' (0x{block:x})"
        ),
        unplug_refused="virtio-mem device cannot get unplugged while 'requested-size' != '0'",
        unplug_when_unrequested=True,
        private_file_discard_warning=(
            "ram_block_discard_range: Discarding RAM in private file mappings is possibly "
            "dangerous, because it will modify the underlying file and will affect other users "
            "of the file"
        ),
    ),
)
