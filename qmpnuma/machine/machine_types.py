"""The x86_64 machine types of a profile, built from its machine catalogue.

QEMU decides many NUMA, memory and CPU rules by looking at flags of the machine *class*
(``-M pc-i440fx-6.1`` prefers sockets, ``pc-i440fx-5.0`` still accepts ``-numa node,mem=``, ...).
This module builds those flags into one immutable table per profile so that every other part of
the model asks the machine type instead of comparing version strings itself.

The data lives in the profile (``Profile.machines``: the versions of each family, the flags of
the newest types, the ``query-machines`` order) and in the cumulative compat rows of
:mod:`qmpnuma.profiles.compat`; a type's flags are its profile's newest flags with every compat
row covering its version applied, newest row first, as QEMU's ``*_machine_options`` chain does.
The fixed parts (descriptions, default CPU and RAM ids) come from ``-machine help`` and
``query-machines`` of the real QEMU 7.2.22 binary.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from typing import Any, Literal

from qmpnuma.errors import MachineError
from qmpnuma.profiles.compat import compat_rows
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.records import record, replace

__all__ = [
    "MachineType",
    "Profile",
    "default_machine_type",
    "machine_help_text",
    "machine_types",
    "query_machines",
    "resolve_machine_type",
]

Family = Literal["pc", "q35", "isapc", "microvm", "none", "x-remote"]

MiB = 1 << 20
GiB = 1 << 30

#: Default ``max-ram-below-4g`` of pc machines: RAM above this goes above 4 GiB.
PC_DEFAULT_LOWMEM = 0xE000_0000

MACHINE_HELP_HINT = "Use -machine help to list supported machines"

_PC_DESC = "Standard PC (i440FX + PIIX, 1996)"
_Q35_DESC = "Standard PC (Q35 + ICH9, 2009)"


@record(frozen=True)
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
    #: ``-smp modules=`` above 1 (the x86 PC boards of profiles that have modules).
    modules_supported: bool = False
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
    #: ``pc_max_used_gpa`` gives a CPU without long mode all it can address (types <= 8.1).
    broken_32bit_mem_addr_check: bool = False
    #: Name of the family in ``-machine help`` sort order (None: a stand-alone type).
    help_family: str | None = None

    @property
    def has_acpi_property(self) -> bool:
        """The board class has an ``acpi`` property (``MachineInfo.acpi``, 8.0 on): the x86
        boards of ``x86_machine_class_init`` have it, ``none`` and ``x-remote`` do not."""
        return self.family in ("pc", "q35", "isapc", "microvm")

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

    def machine_info(self, profile: Profile = DEFAULT_PROFILE) -> dict[str, Any]:
        """One ``MachineInfo`` of ``query-machines`` (wire names, QAPI member order).

        The optional members after ``hotpluggable-cpus`` are those the profile reports.
        """
        info: dict[str, Any] = {"name": self.name}
        if self.alias is not None:
            info["alias"] = self.alias
        if self.is_default:
            info["is-default"] = True
        info["cpu-max"] = self.cpu_max
        info["hotpluggable-cpus"] = self.hotpluggable_cpus
        optional = {
            "numa-mem-supported": self.numa_mem_supported,
            "deprecated": self.deprecated,
            "default-cpu-type": self.default_cpu_type,
            "default-ram-id": self.default_ram_id,
            "acpi": self.has_acpi_property,
        }
        for member in profile.machines.info_members:
            if optional[member] is not None:
                info[member] = optional[member]
        return info


def _version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _with_compat(machine_type: MachineType, profile: Profile) -> MachineType:
    """The newest flags of the family, then every compat row that covers the type's version,
    newest row first (QEMU's ``pc_*_X_Y_machine_options`` call the next version's first)."""
    assert machine_type.version is not None
    settings = dict(profile.machines.newest[machine_type.family])
    for row in compat_rows(profile.release):
        if machine_type.family in row.families and machine_type.version <= row.version:
            settings.update(row.settings)
    return replace(machine_type, **settings)


def _pc_name(version: tuple[int, ...]) -> str:
    if version < (1, 4):
        return f"pc-{_version_text(version)}"
    return f"pc-i440fx-{_version_text(version)}"


def _q35_name(version: tuple[int, ...]) -> str:
    return f"pc-q35-{_version_text(version)}"


def _pc_type(version: tuple[int, ...], newest: tuple[int, ...], profile: Profile) -> MachineType:
    """An i440FX machine type with the compat flags of its version."""
    return _with_compat(MachineType(
        name=_pc_name(version),
        family="pc",
        version=version,
        description=_PC_DESC,
        alias="pc" if version == newest else None,
        is_default=version == newest,
        hotpluggable_cpus=True,
        default_cpu_type="qemu64-x86_64-cpu",
        default_ram_id="pc.ram",
        dies_supported=profile.smp_accepts_dies,
        modules_supported="modules" in profile.smp_members,
        numa_supported=True,
        has_cpu_index_to_socket_id=True,
        help_family="pc_piix",
    ), profile)


def _q35_type(version: tuple[int, ...], newest: tuple[int, ...], profile: Profile) -> MachineType:
    """A Q35 machine type with the compat flags of its version."""
    return _with_compat(MachineType(
        name=_q35_name(version),
        family="q35",
        version=version,
        description=_Q35_DESC,
        alias="q35" if version == newest else None,
        hotpluggable_cpus=True,
        default_cpu_type="qemu64-x86_64-cpu",
        default_ram_id="pc.ram",
        dies_supported=profile.smp_accepts_dies,
        modules_supported="modules" in profile.smp_members,
        numa_supported=True,
        has_cpu_index_to_socket_id=True,
        help_family="pc_q35",
    ), profile)


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
        dies_supported=profile.smp_accepts_dies,
        modules_supported="modules" in profile.smp_members,
        numa_supported=True,
        has_cpu_index_to_socket_id=True,
        auto_enable_numa_with_memhp=True,
        auto_enable_numa_with_memdev=True,
        gigabyte_align=True,
        enforce_aligned_dimm=True,
    )


def _microvm(profile: Profile) -> MachineType:
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


def _none_machine(profile: Profile) -> MachineType:
    return MachineType(
        name="none",
        family="none",
        version=None,
        description="empty machine",
        default_ram_id="ram",
        default_ram_size=0,
    )


def _x_remote(profile: Profile) -> MachineType:
    return MachineType(
        name="x-remote",
        family="x-remote",
        version=None,
        description="Experimental remote machine",
    )


_STANDALONE = {"isapc": _isapc, "microvm": _microvm, "none": _none_machine, "x-remote": _x_remote}


class _Catalogue:
    """How to build each machine type of a profile, by name, and the names in list order.

    A type is built the first time it is asked for: starting a machine builds its own type
    (and the default one), not the whole catalogue that `query-machines` and `-machine help`
    list (issue 12: cold start). Each type is built once, so every lookup returns the same
    object.
    """

    def __init__(self, profile: Profile) -> None:
        catalogue = profile.machines
        pc_versions = [_version(text) for text in catalogue.pc_versions]
        q35_versions = [_version(text) for text in catalogue.q35_versions]
        self._build: dict[str, Callable[[], MachineType]] = {}
        for version in reversed(pc_versions):
            self._build[_pc_name(version)] = partial(_pc_type, version, pc_versions[-1], profile)
        for version in reversed(q35_versions):
            self._build[_q35_name(version)] = partial(
                _q35_type, version, q35_versions[-1], profile)
        for name in catalogue.standalone:
            self._build[name] = partial(_STANDALONE[name], profile)
        #: Newest first per family, then the stand-alone types; or the recorded order.
        self.order: tuple[str, ...] = tuple(self._build)
        if catalogue.query_order is not None:
            assert sorted(self.order) == sorted(catalogue.query_order)
            self.order = catalogue.query_order
        #: The newest type of each versioned family answers to the family's name.
        self.aliases = {"pc": _pc_name(pc_versions[-1]), "q35": _q35_name(q35_versions[-1])}
        self.default = self.aliases["pc"]
        self._built: dict[str, MachineType] = {}

    def get(self, name: str) -> MachineType | None:
        """The type called ``name`` (not an alias), built on first use; None if unknown."""
        built = self._built.get(name)
        if built is None:
            build = self._build.get(name)
            if build is None:
                return None
            built = self._built[name] = build()
        return built


@cache
def _catalogue(profile: Profile) -> _Catalogue:
    return _Catalogue(profile)


@cache
def machine_types(profile: Profile = DEFAULT_PROFILE) -> tuple[MachineType, ...]:
    """Every machine type of the profile, in the order ``query-machines`` lists them.

    Without a recorded order: newest first per family (i440FX, Q35), then the stand-alone
    types in catalogue order.
    """
    catalogue = _catalogue(profile)
    types = []
    for name in catalogue.order:
        machine_type = catalogue.get(name)
        assert machine_type is not None
        types.append(machine_type)
    return tuple(types)


def default_machine_type(profile: Profile = DEFAULT_PROFILE) -> MachineType:
    """The type used when ``-M`` is absent (the newest i440FX type of the profile)."""
    catalogue = _catalogue(profile)
    machine_type = catalogue.get(catalogue.default)
    assert machine_type is not None and machine_type.is_default
    return machine_type


def resolve_machine_type(name: str | None, profile: Profile = DEFAULT_PROFILE) -> MachineType:
    """Find a machine type by name or alias; ``None`` gives the default type.

    Raises ``MachineError`` with QEMU's text (``unsupported machine type`` and the
    ``Use -machine help ...`` hint line) for an unknown name.
    """
    if name is None:
        return default_machine_type(profile)
    catalogue = _catalogue(profile)
    machine_type = catalogue.get(catalogue.aliases.get(name, name))
    if machine_type is None:
        raise MachineError(profile.texts.unsupported_machine_type.format(name=name),
                           hints=(MACHINE_HELP_HINT,))
    return machine_type


def query_machines(profile: Profile = DEFAULT_PROFILE) -> list[dict[str, Any]]:
    """The full ``query-machines`` return value of the profile."""
    return [t.machine_info(profile) for t in machine_types(profile)]


def _help_sort_key(machine_type: MachineType) -> tuple[int, str, list[int]]:
    """QEMU's ``-machine help`` order: families A-Z, newest first inside a family (by
    comparing class names ``NAME-machine`` as byte strings), then stand-alone types A-Z."""
    class_name = f"{machine_type.name}-machine"
    if machine_type.help_family is None:
        return (1, class_name, [])
    return (0, machine_type.help_family, [-ord(ch) for ch in class_name] + [1])


def machine_help_text(profile: Profile = DEFAULT_PROFILE) -> str:
    """The stdout text of ``-machine help`` (QEMU exits 0 after printing it)."""
    lines = ["Supported machines are:"]
    for machine_type in sorted(machine_types(profile), key=_help_sort_key):
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
