"""The QEMU 10.0 profile: Debian 13's ``qemu-system-x86_64`` 10.0.2 (from ``bookworm-backports``).

Every fact here was read from that binary (unpacked beside 7.2 by
``scripts/fetch_reference_binaries.sh``): the option table is its ``qemu_options[]`` in QEMU's
order, the machine types and their ``query-machines`` order come from ``-machine help`` and
``query-machines``, the texts from its stderr and QMP answers.  What is not listed here is the
same as in 7.2 (``qemu_7_2.py``) and is shared by reference, not copied.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from qmpnuma.profiles import qemu_7_2
from qmpnuma.profiles.profile import MachineCatalogue, OptionSpec, Profile

#: Options 10.0 no longer has (``-no-acpi``/``-no-hpet``/``-singlestep``/``-chroot``/
#: ``-async-teardown`` removed in 9.0, ``-runas`` in 10.0): they are ``invalid option`` now.
_REMOVED: Final = frozenset(
    {"no-acpi", "no-hpet", "singlestep", "chroot", "async-teardown", "runas"}
)

#: name (without the leading dash) -> its spelling rules, in QEMU's table order.
OPTIONS: Final[dict[str, OptionSpec]] = {
    name: spec for name, spec in qemu_7_2.OPTIONS.items() if name not in _REMOVED
}

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
    "pc": {**qemu_7_2.MACHINES.newest["pc"]},
    "q35": {**qemu_7_2.MACHINES.newest["q35"], "cpu_max": 4096},
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

PROFILE: Final[Profile] = replace(
    qemu_7_2.PROFILE,
    name="10.0",
    version=(10, 0, 2),
    package="Debian 1:10.0.2+ds-2+deb13u1~bpo12+1",
    texts=TEXTS,
    options=OPTIONS,
    machines=MACHINES,
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
)
