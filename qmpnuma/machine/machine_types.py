"""The x86_64 machine types qmpnuma knows, as data, for both profiles.

QEMU decides many NUMA, memory and CPU rules by looking at flags of the machine *class*
(``-M pc-i440fx-6.1`` prefers sockets, ``pc-i440fx-5.0`` still accepts ``-numa node,mem=``, ...).
This module holds those flags in one immutable table per profile so that every other part of
the model asks the machine type instead of comparing version strings itself.

Sources: ``qemu-system-x86_64 -machine help`` and ``query-machines`` of the real QEMU 7.2.22
binary (names, aliases, ``cpu-max``, ``numa-mem-supported``, ``deprecated``, default CPU / RAM
ids, and the order of the ``query-machines`` answer); the per-version compat settings of
``hw/i386/pc_piix.c`` / ``pc_q35.c`` for the flags that are not visible over QMP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qmpnuma.errors import MachineError

Profile = Literal["7.2", "2.9"]

Family = Literal["pc", "q35", "isapc", "microvm", "none", "x-remote"]

MiB = 1 << 20
GiB = 1 << 30

#: Default ``max-ram-below-4g`` of pc machines: RAM above this goes above 4 GiB.
PC_DEFAULT_LOWMEM = 0xE000_0000

UNSUPPORTED_MACHINE_TYPE = "unsupported machine type"
MACHINE_HELP_HINT = "Use -machine help to list supported machines"

_PC_DESC = "Standard PC (i440FX + PIIX, 1996)"
_Q35_DESC = "Standard PC (Q35 + ICH9, 2009)"


@dataclass(frozen=True)
class MachineType:
    """One machine type (a QEMU machine class) and the class flags that change behaviour.

    ``version`` is ``None`` for the unversioned types (``isapc``, ``microvm``, ``none``,
    ``x-remote``). Field names follow QEMU's ``MachineClass`` / ``PCMachineClass`` members so
    that a reader of QEMU's source finds the rule they implement.
    """

    name: str
    family: Family
    version: tuple[int, ...] | None
    description: str
    #: ``pc`` / ``q35`` for the newest versioned type, otherwise None.
    alias: str | None = None
    is_default: bool = False
    #: ``MachineClass.max_cpus`` (``cpu-max`` of query-machines; at least 1).
    cpu_max: int = 1
    min_cpus: int = 1
    hotpluggable_cpus: bool = False
    #: ``-numa node,mem=`` allowed (pc/q35 up to 5.0).
    numa_mem_supported: bool = False
    deprecated: bool = False
    #: QOM type of the CPUs when ``-cpu`` is absent (None: the board creates no CPU type).
    default_cpu_type: str | None = None
    #: id of the RAM backend created when no memdev is given (None: not set by the board).
    default_ram_id: str | None = None
    default_ram_size: int = 128 * MiB
    #: Machine types up to 6.1 fill a missing -smp value into sockets before cores.
    prefer_sockets: bool = False
    dies_supported: bool = False
    clusters_supported: bool = False
    #: False for boards without NUMA state (``NUMA is not supported by this machine-type``).
    numa_supported: bool = False
    #: Board has ``cpu_index_to_socket_id`` (2.9 default CPU-to-node rule groups sockets).
    has_cpu_index_to_socket_id: bool = False
    auto_enable_numa_with_memhp: bool = False
    auto_enable_numa_with_memdev: bool = False
    #: 2.9 equal split of RAM over nodes aligns each node to ``1 << numa_mem_align_shift``.
    numa_mem_align_shift: int = 23
    #: pc: cap the RAM below 4 GiB at 3 GiB when RAM does not fit below ``max-ram-below-4g``.
    gigabyte_align: bool = False
    #: Memory-device region grows by 1 GiB per slot and DIMMs use the backend alignment.
    enforce_aligned_dimm: bool = False
    #: Name of the family in ``-machine help`` sort order (None: a stand-alone type).
    help_family: str | None = None

    @property
    def is_pc_like(self) -> bool:
        """True for the PC boards (i440FX, Q35, ISA PC) that share ``hw/i386/pc.c``."""
        return self.family in ("pc", "q35", "isapc")

    def split_ram(self, ram_size: int, max_ram_below_4g: int | None = None) -> tuple[int, int]:
        """Return ``(below_4g, above_4g)``: how much guest RAM sits below and above 4 GiB.

        pc: below-4G limit is ``max-ram-below-4g`` (default 3.5 GiB), lowered to 3 GiB when the
        RAM does not fit and the type has ``gigabyte_align``. q35: 2 GiB when RAM is at least
        2.75 GiB, else 2.75 GiB, lowered further by an explicit ``max-ram-below-4g``.
        Other boards keep all RAM below 4 GiB as far as this model is concerned.
        """
        if self.family == "q35":
            lowmem = 0x8000_0000 if ram_size >= 0xB000_0000 else 0xB000_0000
            if max_ram_below_4g and max_ram_below_4g < lowmem:
                lowmem = max_ram_below_4g
        elif self.family in ("pc", "isapc"):
            lowmem = max_ram_below_4g or PC_DEFAULT_LOWMEM
            if ram_size >= lowmem and self.gigabyte_align:
                lowmem = min(lowmem, 0xC000_0000)
        else:
            return ram_size, 0
        if ram_size >= lowmem:
            return lowmem, ram_size - lowmem
        return ram_size, 0

    def machine_info(self, profile: Profile = "7.2") -> dict[str, Any]:
        """One ``MachineInfo`` of ``query-machines`` (wire names, QAPI member order)."""
        info: dict[str, Any] = {"name": self.name}
        if self.alias is not None:
            info["alias"] = self.alias
        if self.is_default:
            info["is-default"] = True
        info["cpu-max"] = self.cpu_max
        info["hotpluggable-cpus"] = self.hotpluggable_cpus
        if profile == "7.2":
            info["numa-mem-supported"] = self.numa_mem_supported
            info["deprecated"] = self.deprecated
            if self.default_cpu_type is not None:
                info["default-cpu-type"] = self.default_cpu_type
            if self.default_ram_id is not None:
                info["default-ram-id"] = self.default_ram_id
        return info


def _version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _pc_type(version: tuple[int, ...], newest: tuple[int, ...], profile: Profile) -> MachineType:
    """An i440FX machine type with the compat flags of its version."""
    name = f"pc-i440fx-{_version_text(version)}"
    if version < (1, 4):
        name = f"pc-{_version_text(version)}"
    return MachineType(
        name=name,
        family="pc",
        version=version,
        description=_PC_DESC,
        alias="pc" if version == newest else None,
        is_default=version == newest,
        cpu_max=255,
        hotpluggable_cpus=True,
        numa_mem_supported=version <= (5, 0),
        deprecated=profile == "7.2" and version <= (1, 7),
        default_cpu_type="qemu64-x86_64-cpu",
        default_ram_id="pc.ram",
        prefer_sockets=version <= (6, 1),
        dies_supported=profile == "7.2",
        numa_supported=True,
        has_cpu_index_to_socket_id=True,
        auto_enable_numa_with_memhp=version >= (2, 11),
        auto_enable_numa_with_memdev=version >= (5, 1),
        gigabyte_align=version >= (2, 0),
        enforce_aligned_dimm=version >= (2, 2),
        help_family="pc_piix",
    )


def _q35_type(version: tuple[int, ...], newest: tuple[int, ...], profile: Profile) -> MachineType:
    """A Q35 machine type with the compat flags of its version (288 CPUs from 2.8 on)."""
    return MachineType(
        name=f"pc-q35-{_version_text(version)}",
        family="q35",
        version=version,
        description=_Q35_DESC,
        alias="q35" if version == newest else None,
        cpu_max=288 if version >= (2, 8) else 255,
        hotpluggable_cpus=True,
        numa_mem_supported=version <= (5, 0),
        default_cpu_type="qemu64-x86_64-cpu",
        default_ram_id="pc.ram",
        prefer_sockets=version <= (6, 1),
        dies_supported=profile == "7.2",
        numa_supported=True,
        has_cpu_index_to_socket_id=True,
        auto_enable_numa_with_memhp=version >= (2, 11),
        auto_enable_numa_with_memdev=version >= (5, 1),
        gigabyte_align=True,
        enforce_aligned_dimm=True,
        help_family="pc_q35",
    )


def _isapc(profile: Profile) -> MachineType:
    return MachineType(
        name="isapc",
        family="isapc",
        version=None,
        description="ISA-only PC",
        cpu_max=1,
        hotpluggable_cpus=True,
        default_cpu_type="486-x86_64-cpu",
        default_ram_id="pc.ram",
        dies_supported=profile == "7.2",
        numa_supported=True,
        has_cpu_index_to_socket_id=True,
        auto_enable_numa_with_memhp=True,
        auto_enable_numa_with_memdev=True,
        gigabyte_align=True,
        enforce_aligned_dimm=True,
    )


def _microvm() -> MachineType:
    return MachineType(
        name="microvm",
        family="microvm",
        version=None,
        description="microvm (i386)",
        cpu_max=288,
        default_cpu_type="qemu64-x86_64-cpu",
        default_ram_id="microvm.ram",
        dies_supported=False,
        numa_supported=True,
        help_family="microvm",
    )


def _none_machine() -> MachineType:
    return MachineType(
        name="none",
        family="none",
        version=None,
        description="empty machine",
        default_ram_id="ram",
        default_ram_size=0,
    )


def _x_remote() -> MachineType:
    return MachineType(
        name="x-remote",
        family="x-remote",
        version=None,
        description="Experimental remote machine",
    )


def _versions(*texts: str) -> list[tuple[int, ...]]:
    return [tuple(int(part) for part in text.split(".")) for text in texts]


_PC_VERSIONS_7_2 = _versions(
    "1.4", "1.5", "1.6", "1.7", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8",
    "2.9", "2.10", "2.11", "2.12", "3.0", "3.1", "4.0", "4.1", "4.2", "5.0", "5.1", "5.2",
    "6.0", "6.1", "6.2", "7.0", "7.1", "7.2",
)
_Q35_VERSIONS_7_2 = _versions(
    "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10", "2.11", "2.12", "3.0", "3.1", "4.0",
    "4.0.1", "4.1", "4.2", "5.0", "5.1", "5.2", "6.0", "6.1", "6.2", "7.0", "7.1", "7.2",
)
_PC_VERSIONS_2_9 = _versions(
    "0.10", "0.11", "0.12", "0.13", "0.14", "0.15", "1.0", "1.1", "1.2", "1.3", "1.4", "1.5",
    "1.6", "1.7", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9",
)
_Q35_VERSIONS_2_9 = _versions("2.4", "2.5", "2.6", "2.7", "2.8", "2.9")

#: Order of the ``query-machines`` answer of the real QEMU 7.2.22 (GLib hash-table order of
#: the machine classes; fixed for a given binary).
QUERY_MACHINES_ORDER_7_2: tuple[str, ...] = (
    "pc-q35-5.2", "pc-i440fx-2.12", "pc-i440fx-2.0", "pc-i440fx-6.2", "pc-q35-4.2",
    "pc-i440fx-2.5", "pc-i440fx-4.2", "pc-i440fx-5.2", "pc-i440fx-1.5", "pc-q35-2.7",
    "pc-q35-7.1", "pc-i440fx-2.2", "none", "pc-i440fx-2.7", "pc-q35-6.1", "pc-q35-2.4",
    "pc-i440fx-7.1", "pc-q35-2.10", "x-remote", "pc-q35-5.1", "pc-i440fx-1.7", "pc-q35-2.9",
    "pc-i440fx-2.11", "pc-q35-3.1", "pc-i440fx-6.1", "pc-q35-4.1", "pc-i440fx-2.4",
    "pc-i440fx-4.1", "pc-i440fx-5.1", "pc-i440fx-2.9", "isapc", "pc-i440fx-1.4", "pc-q35-2.6",
    "pc-i440fx-3.1", "pc-q35-2.12", "pc-q35-7.0", "pc-i440fx-2.1", "pc-q35-6.0",
    "pc-i440fx-2.6", "pc-q35-4.0.1", "pc-i440fx-7.0", "pc-i440fx-1.6", "pc-q35-5.0",
    "pc-q35-2.8", "pc-i440fx-2.10", "pc-q35-3.0", "pc-i440fx-6.0", "pc-q35-7.2", "pc-q35-4.0",
    "microvm", "pc-i440fx-2.3", "pc-i440fx-4.0", "pc-i440fx-5.0", "pc-i440fx-2.8",
    "pc-q35-6.2", "pc-q35-2.5", "pc-i440fx-3.0", "pc-i440fx-7.2", "pc-q35-2.11",
)


def _build_7_2() -> tuple[MachineType, ...]:
    types = [_pc_type(v, _PC_VERSIONS_7_2[-1], "7.2") for v in _PC_VERSIONS_7_2]
    types += [_q35_type(v, _Q35_VERSIONS_7_2[-1], "7.2") for v in _Q35_VERSIONS_7_2]
    types += [_isapc("7.2"), _microvm(), _none_machine(), _x_remote()]
    by_name = {t.name: t for t in types}
    assert sorted(by_name) == sorted(QUERY_MACHINES_ORDER_7_2)
    return tuple(by_name[name] for name in QUERY_MACHINES_ORDER_7_2)


def _build_2_9() -> tuple[MachineType, ...]:
    """QEMU 2.9's x86_64 machine types (no microvm, x-remote; no dies; no 7.2-only flags).

    The order of 2.9's ``query-machines`` answer was never observed; newest first per family
    is used.
    """
    types = [_pc_type(v, _PC_VERSIONS_2_9[-1], "2.9") for v in reversed(_PC_VERSIONS_2_9)]
    types += [_q35_type(v, _Q35_VERSIONS_2_9[-1], "2.9") for v in reversed(_Q35_VERSIONS_2_9)]
    types += [_isapc("2.9"), _none_machine()]
    return tuple(types)


_TABLES: dict[str, tuple[MachineType, ...]] = {"7.2": _build_7_2(), "2.9": _build_2_9()}


def machine_types(profile: Profile = "7.2") -> tuple[MachineType, ...]:
    """Every machine type of the profile, in the order ``query-machines`` lists them."""
    return _TABLES[profile]


def default_machine_type(profile: Profile = "7.2") -> MachineType:
    """The type used when ``-M`` is absent (``pc-i440fx-7.2`` / ``pc-i440fx-2.9``)."""
    return next(t for t in _TABLES[profile] if t.is_default)


def resolve_machine_type(name: str | None, profile: Profile = "7.2") -> MachineType:
    """Find a machine type by name or alias; ``None`` gives the default type.

    Raises ``MachineError`` with QEMU's text (``unsupported machine type`` and the
    ``Use -machine help ...`` hint line) for an unknown name.
    """
    if name is None:
        return default_machine_type(profile)
    for machine_type in _TABLES[profile]:
        if name in (machine_type.name, machine_type.alias):
            return machine_type
    raise MachineError(UNSUPPORTED_MACHINE_TYPE, hints=(MACHINE_HELP_HINT,))


def query_machines(profile: Profile = "7.2") -> list[dict[str, Any]]:
    """The full ``query-machines`` return value of the profile."""
    return [t.machine_info(profile) for t in _TABLES[profile]]


def _help_sort_key(machine_type: MachineType) -> tuple[int, str, list[int]]:
    """QEMU's ``-machine help`` order: families A-Z, newest first inside a family (by
    comparing class names ``NAME-machine`` as byte strings), then stand-alone types A-Z."""
    class_name = f"{machine_type.name}-machine"
    if machine_type.help_family is None:
        return (1, class_name, [])
    return (0, machine_type.help_family, [-ord(ch) for ch in class_name] + [1])


def machine_help_text(profile: Profile = "7.2") -> str:
    """The stdout text of ``-machine help`` (QEMU exits 0 after printing it)."""
    lines = ["Supported machines are:"]
    for machine_type in sorted(_TABLES[profile], key=_help_sort_key):
        if machine_type.alias is not None:
            lines.append(
                f"{machine_type.alias:<20} {machine_type.description} "
                f"(alias of {machine_type.name})"
            )
        suffix = " (default)" if machine_type.is_default else ""
        if machine_type.deprecated:
            suffix += " (deprecated)"
        lines.append(f"{machine_type.name:<20} {machine_type.description}{suffix}")
    return "\n".join(lines) + "\n"
