"""The QEMU 2.9 profile: the seed behaviour of QEMU 2.9's numa.c and vl.c (no binary).

Nothing here was run: the option table is transcribed from the ``DEF(...)`` lines of QEMU 2.9's
``qemu-options.hx`` (plus the ``-h`` entry ``vl.c`` adds in front), assuming a Linux build with
SLIRP and TPM; the machine types are those of 2.9's hw/i386/pc_piix.c and pc_q35.c; the texts
and rules come from the 2.9 sources.
"""

from __future__ import annotations

from typing import Final

from qmpnuma.profiles.profile import (
    ApicIdCheck,
    DimmPlug,
    MachineCatalogue,
    MaxUsedGpa,
    MemoryParser,
    NumaState,
    ObjectProperties,
    OptionSpec,
    Profile,
    SizeSyntax,
    SmpParser,
    Texts,
)

_ROWS: Final[tuple[tuple[str, bool, bool], ...]] = (
    ("h", False, True),
    ("help", False, True),
    ("version", False, True),
    ("machine", True, True),
    ("M", True, True),
    ("cpu", True, True),
    ("accel", True, True),
    ("smp", True, True),
    ("numa", True, True),
    ("add-fd", True, True),
    ("set", True, True),
    ("global", True, True),
    ("boot", True, True),
    ("m", True, True),
    ("mem-path", True, True),
    ("mem-prealloc", False, True),
    ("k", True, True),
    ("audio-help", False, True),
    ("soundhw", True, True),
    ("balloon", True, True),
    ("device", True, True),
    ("name", True, True),
    ("uuid", True, True),
    ("fda", True, True),
    ("fdb", True, True),
    ("hda", True, True),
    ("hdb", True, True),
    ("hdc", True, True),
    ("hdd", True, True),
    ("cdrom", True, True),
    ("blockdev", True, True),
    ("drive", True, True),
    ("mtdblock", True, True),
    ("sd", True, True),
    ("pflash", True, True),
    ("snapshot", False, True),
    ("hdachs", True, True),
    ("fsdev", True, True),
    ("virtfs", True, True),
    ("virtfs_synth", False, True),
    ("usb", False, True),
    ("usbdevice", True, True),
    ("display", True, True),
    ("nographic", False, True),
    ("curses", False, True),
    ("no-frame", False, True),
    ("alt-grab", False, True),
    ("ctrl-grab", False, True),
    ("no-quit", False, True),
    ("sdl", False, True),
    ("spice", True, True),
    ("portrait", False, True),
    ("rotate", True, True),
    ("vga", True, True),
    ("full-screen", False, True),
    ("g", True, False),
    ("vnc", True, True),
    ("win2k-hack", False, True),
    ("rtc-td-hack", False, True),
    ("no-fd-bootchk", False, True),
    ("no-acpi", False, True),
    ("no-hpet", False, True),
    ("acpitable", True, True),
    ("smbios", True, True),
    ("tftp", True, True),
    ("bootp", True, True),
    ("redir", True, True),
    ("smb", True, True),
    ("netdev", True, True),
    ("net", True, True),
    ("chardev", True, True),
    ("iscsi", True, True),
    ("bt", True, True),
    ("tpmdev", True, True),
    ("kernel", True, True),
    ("append", True, True),
    ("initrd", True, True),
    ("dtb", True, True),
    ("fw_cfg", True, True),
    ("serial", True, True),
    ("parallel", True, True),
    ("monitor", True, True),
    ("qmp", True, True),
    ("qmp-pretty", True, True),
    ("mon", True, True),
    ("debugcon", True, True),
    ("pidfile", True, True),
    ("singlestep", False, True),
    ("S", False, True),
    ("realtime", True, True),
    ("gdb", True, True),
    ("s", False, True),
    ("d", True, True),
    ("D", True, True),
    ("dfilter", True, True),
    ("L", True, True),
    ("bios", True, True),
    ("enable-kvm", False, True),
    ("enable-hax", False, True),
    ("xen-domid", True, True),
    ("xen-create", False, True),
    ("xen-attach", False, True),
    ("no-reboot", False, True),
    ("no-shutdown", False, True),
    ("loadvm", True, True),
    ("daemonize", False, True),
    ("option-rom", True, True),
    ("clock", True, True),
    ("localtime", False, True),
    ("startdate", True, True),
    ("rtc", True, True),
    ("icount", True, True),
    ("watchdog", True, True),
    ("watchdog-action", True, True),
    ("echr", True, True),
    ("virtioconsole", True, True),
    ("show-cursor", False, True),
    ("tb-size", True, True),
    ("incoming", True, True),
    ("only-migratable", False, True),
    ("nodefaults", False, True),
    ("chroot", True, True),
    ("runas", True, True),
    ("prom-env", True, False),
    ("semihosting", False, False),
    ("semihosting-config", True, False),
    ("old-param", False, False),
    ("sandbox", True, True),
    ("readconfig", True, True),
    ("writeconfig", True, True),
    ("nodefconfig", False, True),
    ("no-user-config", False, True),
    ("trace", True, True),
    ("qtest", True, True),
    ("qtest-log", True, True),
    ("enable-fips", False, True),
    ("no-kvm", False, True),
    ("no-kvm-pit-reinjection", False, True),
    ("no-kvm-pit", False, True),
    ("no-kvm-irqchip", False, True),
    ("tdf", False, True),
    ("msg", True, True),
    ("dump-vmstate", True, True),
    ("object", True, True),
)


#: name (without the leading dash) -> its spelling rules, in QEMU's table order.
OPTIONS: Final[dict[str, OptionSpec]] = {
    name: OptionSpec(takes_argument, supported) for name, takes_argument, supported in _ROWS
}


#: Flags of the newest pc / q35 types (pc-i440fx-2.9, pc-q35-2.9); the compat rows of
#: releases up to 2.8 cover the older ones.
_NEWEST: Final = {
    "pc": {"numa_mem_supported": True, "prefer_sockets": True, "deprecated": False,
           "auto_enable_numa_with_memhp": False, "auto_enable_numa_with_memdev": False,
           "gigabyte_align": True, "enforce_aligned_dimm": True, "cpu_max": 255},
    "q35": {"numa_mem_supported": True, "prefer_sockets": True, "deprecated": False,
            "auto_enable_numa_with_memhp": False, "auto_enable_numa_with_memdev": False,
            "gigabyte_align": True, "enforce_aligned_dimm": True, "cpu_max": 288},
}

#: QEMU 2.9's x86_64 machine types (no microvm, no x-remote).  The order of its
#: ``query-machines`` answer was never observed: newest first per family is used.
MACHINES: Final = MachineCatalogue(
    pc_versions=(
        "0.10", "0.11", "0.12", "0.13", "0.14", "0.15", "1.0", "1.1", "1.2", "1.3", "1.4",
        "1.5", "1.6", "1.7", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8",
        "2.9",
    ),
    q35_versions=("2.4", "2.5", "2.6", "2.7", "2.8", "2.9"),
    standalone=("isapc", "none"),
    newest=_NEWEST,
    query_order=None,
    info_members=(),
)

TEXTS: Final = Texts(
    not_object="Expected 'object' in QMP input",
    member_not_string="QMP input object member '{}' expects 'string'",
    arguments_not_object="QMP input object member 'arguments' expects 'object'",
    unexpected="QMP input object member '{}' is unexpected",
    lacks_execute="Expected 'execute' in QMP input",
    # QEMU 2.9 reported lexer errors and limits without a message.
    json_lexer_error="Invalid JSON syntax",
    signal_from_pid="terminating on signal {signum} from pid {pid}",
    deprecated_machine=None,
    partial_numa_mapping="All CPU(s) up to maxcpus should be described in NUMA config",
    version_banner=(
        "QEMU emulator version {version}{package}\n"
        "Copyright (c) 2003-2017 Fabrice Bellard and the QEMU Project developers\n"
    ),
    # before QEMU 5.2 the connect errors named the unix path only, and no TCP address
    unix_connect_failed="Failed to connect socket {path}",
    inet_connect_failed="Failed to connect socket",
    # -- command line (10.0 work)
    # (unused: 2.9 has no optional -smp levels)
    smp_level_unsupported="{level} not supported by this machine's CPU topology",
)

#: The memory backend classes of the binary.
MEMORY_BACKENDS = ("memory-backend-ram", "memory-backend-file")
#: Every other user-creatable QOM class of the binary (``qom-list-types`` with ``implements:
#: user-creatable``): created and kept in ``/objects``, not modelled further.
OTHER_USER_CREATABLE = (
    "iothread", "rng-random", "rng-egd", "secret", "throttle-group", "tls-creds-anon",
    "tls-creds-x509", "filter-buffer", "filter-dump", "filter-mirror", "filter-redirector",
    "filter-rewriter", "colo-compare", "cryptodev-backend-builtin", "input-linux",
)

PROFILE: Final = Profile(
    name="2.9",
    version=(2, 9, 0),
    package="",
    qmp_capabilities=(),
    texts=TEXTS,
    options=OPTIONS,
    # No 2.9 binary to record: the interface answers, device model names, vCPU objects and
    # HMP command lists of the 7.2 recording stand in; the printed texts have none.
    facts_files={"interface": "qemu-7.2-interface.tsv.gz", "replies": "qemu-7.2-replies.json",
                 "cpu-qom-set": "qemu-7.2-cpu-qom-set.json",
                 "cpu-objects": "qemu-7.2-cpu-objects.json.gz",
                 "device-names": "qemu-7.2-facts.json", "hmp-help": "qemu-7.2-facts.json"},
    machines=MACHINES,
    size_syntax=SizeSyntax.STRTOD,
    smp_parser=SmpParser.VL_SMP_PARSE,
    numa_state=NumaState.GLOBAL_NUMA_INFO,
    memory_parser=MemoryParser.SET_MEMORY_OPTIONS,
    dimm_plug=DimmPlug.PC_DIMM_MEMORY_PLUG,
    object_properties=ObjectProperties.QOM_PROPERTIES,
    smp_members=("cpus", "sockets", "cores", "threads", "maxcpus"),
    numa_types=("node",),
    numa_node_accepts_initiator=False,
    numa_checks_machine_support=False,
    machine_options_keyval=False,
    device_accepts_json=False,
    cpu_device_properties_checked=False,
    object_errors_located=True,
    qemuopts_flag_warnings=False,
    qemuopts_bool_only_on_off=True,
    cpu_plug_checks_type=False,
    cpu_props_node_and_die=False,
    hmp_info_cpus_shows_pc=True,
    hmp_info_numa_shows_plugged=False,
    shutdown_events_carry_reason=False,
    cpus_query="query-cpus",
    memdev_reports_share_reserve=False,
    legacy_introspection=True,
    creatable_objects=MEMORY_BACKENDS + OTHER_USER_CREATABLE,
    memory_backends=MEMORY_BACKENDS,
    # -- command line (10.0 work)
    smp_zero_values_fatal=False,
    # vl.c smp_parse knew no optional levels (its own parser; never asked).
    smp_optional_levels=(),
    apic_id_check=ApicIdCheck.X86_CPUS_INIT,
    file_backend_size_whole_pages=False,
    fd_backend_maps_whole_pages=False,
    mem_path_readonly_directory_refused=False,
    cpu_models_pse36=("athlon", "kvm32", "pentium2", "pentium3"),
    numa_mem_mib_overflow_fatal=False,
    chardev_client_named_after_peer=False,
    accel_option_excludes_machine_accel=False,
    added_machine_properties={},
    max_used_gpa=MaxUsedGpa.PHYS_BITS_32,
    # -- QMP/HMP (10.0 work): 7.2's answers, kept from before (no 2.9 binary to check)
    status_reports_singlestep=True,
    device_add_from_json=False,
    qom_root_children=("objects", "machine", "chardevs"),
    qom_file_backend_properties=(
        ("readonly", "bool"), ("align", "int"), ("pmem", "bool"), ("mem-path", "string"),
        ("discard-data", "bool"),
    ),
    stats_providers={},
    microvm_plugs_cpus=False,
    compat_props_file=None,
    cpuid_version_visits_uint64=False,
    cpu_features_follow_package=False,
    qom_machine_smp=False,
)
