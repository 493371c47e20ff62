"""``-smp``: from the user's (partial) values to a complete CPU topology, with QEMU's errors.

QEMU fills the values the user left out differently per version and per machine type (7.2:
machine types up to 6.1 fill sockets first, newer ones cores first; 2.9 always sockets first
but never checks that the product matches), and reports a broken topology with texts that
users and tests match literally. The two algorithms live here as plain functions over ints.

Input is the ``-smp`` option already converted to integers, keyed by the wire names of QAPI
``SMPConfiguration`` (``cpus``, ``maxcpus``, ``sockets``, ``dies``, ``clusters``, ``cores``,
``threads``); absent keys are absent from the mapping. Errors are raised as ``MachineError``
(QEMU prints them without an option-location prefix); warnings are appended to the caller's
list as bare message texts (the caller adds ``PROG: warning: ``).
"""

from __future__ import annotations

from collections.abc import Mapping

from qmpnuma.errors import MachineError
from qmpnuma.machine.machine_types import MachineType
from qmpnuma.profiles.profile import Profile, SmpParser
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.records import record

SMP_KEYS_2_9 = ("cpus", "maxcpus", "sockets", "cores", "threads")

ZERO_TOPOLOGY_WARNING = (
    "Deprecated CPU topology (considered invalid): "
    "CPU topology parameters must be greater than zero"
)
#: The same, fatal since 9.0 (``Profile.smp_zero_values_fatal``).
ZERO_TOPOLOGY_ERROR = "Invalid CPU topology: CPU topology parameters must be greater than zero"

_U32 = 0xFFFF_FFFF


@record(frozen=True)
class CpuTopology:
    """The complete CPU topology of a machine (QEMU's ``CpuTopology``).

    ``cpus`` CPUs exist at start-up, ``maxcpus`` slots exist in total. The x86 ids of a slot
    are derived from ``dies``, ``cores`` and ``threads`` only; ``sockets`` is what the
    topology check used (in the 2.9 profile it is not stored by QEMU at all, and socket ids
    simply count up).
    """

    cpus: int = 1
    maxcpus: int = 1
    sockets: int = 1
    dies: int = 1
    clusters: int = 1
    cores: int = 1
    threads: int = 1
    #: Modules per die (10.0's ``-smp modules=``; always 1 where the profile lacks them).
    modules: int = 1

    @property
    def threads_per_socket(self) -> int:
        """How many CPU indexes one socket (package) spans."""
        return self.dies * self.clusters * self.modules * self.cores * self.threads


def _u32(value: int) -> int:
    """QEMU keeps the -smp values in C ``unsigned`` variables: wrap like it does."""
    return value & _U32


def _div(dividend: int, divisor: int) -> int:
    """Unsigned 32-bit division; a product that wrapped to zero yields zero instead of
    QEMU's SIGFPE."""
    divisor = _u32(divisor)
    return dividend // divisor if divisor else 0


def _s32(value: int) -> int:
    """How a ``%d`` conversion prints an unsigned 32-bit value."""
    value &= _U32
    return value - (1 << 32) if value & 0x8000_0000 else value


def hierarchy_text(topology: CpuTopology, machine_type: MachineType) -> str:
    """``sockets (S) * dies (D) * cores (C) * threads (T)`` as QEMU prints it in errors
    (``cpu_hierarchy_to_string``).

    ``dies`` / ``clusters`` / ``modules`` appear only when the machine type supports them.
    """
    parts = [f"sockets ({topology.sockets})"]
    if machine_type.dies_supported:
        parts.append(f"dies ({topology.dies})")
    if machine_type.clusters_supported:
        parts.append(f"clusters ({topology.clusters})")
    if machine_type.modules_supported:
        parts.append(f"modules ({topology.modules})")
    parts.append(f"cores ({topology.cores})")
    parts.append(f"threads ({topology.threads})")
    return " * ".join(parts)


def default_topology() -> CpuTopology:
    """The topology when ``-smp`` is absent: one CPU (``MachineClass.default_cpus``)."""
    return CpuTopology()


def parse_smp(
    config: Mapping[str, int],
    machine_type: MachineType,
    profile: Profile = DEFAULT_PROFILE,
    warnings: list[str] | None = None,
) -> CpuTopology:
    """Complete and check an ``-smp`` configuration the way the profile's QEMU does.

    7.2 follows ``machine_parse_smp_config``; 2.9 follows ``vl.c:smp_parse`` plus the
    ``cpu-max`` check that ``vl.c`` does right after it. Warnings (7.2: explicit zero values)
    are appended to ``warnings`` when given.
    """
    if profile.smp_parser is SmpParser.VL_SMP_PARSE:
        return _parse_smp_2_9(config, machine_type)
    return _parse_smp_7_2(config, machine_type, profile, warnings)


def _level_supported(machine_type: MachineType, level: str) -> bool:
    """Whether the board has the topology level (``MachineClass.smp_props.*_supported``)."""
    return {
        "dies": machine_type.dies_supported,
        "clusters": machine_type.clusters_supported,
        "modules": machine_type.modules_supported,
    }.get(level, False)


def _parse_smp_7_2(
    config: Mapping[str, int], machine_type: MachineType, profile: Profile,
    warnings: list[str] | None,
) -> CpuTopology:
    if any(config.get(key) == 0 for key in profile.smp_members):
        if profile.smp_zero_values_fatal:
            raise MachineError(ZERO_TOPOLOGY_ERROR)
        if warnings is not None:
            warnings.append(ZERO_TOPOLOGY_WARNING)

    cpus = _u32(config.get("cpus", 0))
    maxcpus = _u32(config.get("maxcpus", 0))
    sockets = _u32(config.get("sockets", 0))
    cores = _u32(config.get("cores", 0))
    threads = _u32(config.get("threads", 0))

    # The levels a board may lack, each checked in the profile's order and then defaulted.
    levels: dict[str, int] = {}
    for level in profile.smp_optional_levels:
        value = _u32(config.get(level, 0))
        if not _level_supported(machine_type, level) and value > 1:
            raise MachineError(profile.texts.smp_level_unsupported.format(level=level))
        levels[level] = value or 1
    dies = levels.get("dies", 1)
    modules = levels.get("modules", 1)
    # Every level the fill rule does not complete, as one factor (books and drawers are 1 on
    # x86 once the check above passed).
    fixed = _u32(dies * levels.get("clusters", 1) * modules * levels.get("books", 1)
                 * levels.get("drawers", 1))

    if cpus == 0 and maxcpus == 0:
        sockets = sockets or 1
        cores = cores or 1
        threads = threads or 1
    else:
        maxcpus = maxcpus or cpus
        if machine_type.prefer_sockets:
            if sockets == 0:
                cores = cores or 1
                threads = threads or 1
                sockets = _div(maxcpus, fixed * cores * threads)
            elif cores == 0:
                threads = threads or 1
                cores = _div(maxcpus, sockets * fixed * threads)
        else:
            if cores == 0:
                sockets = sockets or 1
                threads = threads or 1
                cores = _div(maxcpus, sockets * fixed * threads)
            elif sockets == 0:
                threads = threads or 1
                sockets = _div(maxcpus, fixed * cores * threads)
        if threads == 0:
            threads = _div(maxcpus, sockets * fixed * cores)

    product = _u32(sockets * fixed * cores * threads)
    maxcpus = maxcpus or product
    cpus = cpus or maxcpus
    topology = CpuTopology(
        cpus=cpus, maxcpus=maxcpus, sockets=sockets, dies=dies,
        clusters=levels.get("clusters", 1), cores=cores, threads=threads, modules=modules,
    )

    if product != maxcpus:
        raise MachineError(
            "Invalid CPU topology: product of the hierarchy must match maxcpus: "
            f"{hierarchy_text(topology, machine_type)} != maxcpus ({maxcpus})"
        )
    if maxcpus < cpus:
        raise MachineError(
            "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
            f"{hierarchy_text(topology, machine_type)} == maxcpus ({maxcpus}) "
            f"< smp_cpus ({cpus})"
        )
    if cpus < machine_type.min_cpus:
        raise MachineError(
            f"Invalid SMP CPUs {_s32(cpus)}. The min CPUs supported by machine "
            f"'{machine_type.name}' is {machine_type.min_cpus}"
        )
    if maxcpus > machine_type.cpu_max:
        raise MachineError(
            f"Invalid SMP CPUs {_s32(maxcpus)}. The max CPUs supported by machine "
            f"'{machine_type.name}' is {machine_type.cpu_max}"
        )
    return topology


def _parse_smp_2_9(config: Mapping[str, int], machine_type: MachineType) -> CpuTopology:
    """QEMU 2.9: fill sockets first; only 'too small' products are errors."""
    cpus = _u32(config.get("cpus", 0))
    sockets = _u32(config.get("sockets", 0))
    cores = _u32(config.get("cores", 0))
    threads = _u32(config.get("threads", 0))

    if cpus == 0 or sockets == 0:
        sockets = sockets or 1
        cores = cores or 1
        threads = threads or 1
        if cpus == 0:
            cpus = _u32(cores * threads * sockets)
    elif cores == 0:
        threads = threads or 1
        cores = (_div(cpus, sockets * threads)) or 1
    elif threads == 0:
        threads = (_div(cpus, cores * sockets)) or 1
    elif _u32(sockets * cores * threads) < cpus:
        raise MachineError(
            f"cpu topology: sockets ({sockets}) * cores ({cores}) * threads ({threads}) "
            f"< smp_cpus ({cpus})"
        )

    maxcpus = _u32(config["maxcpus"]) if "maxcpus" in config else cpus
    if maxcpus < cpus:
        raise MachineError("maxcpus must be equal to or greater than smp")
    if _u32(sockets * cores * threads) > maxcpus:
        raise MachineError(
            f"cpu topology: sockets ({sockets}) * cores ({cores}) * threads ({threads}) "
            f"> maxcpus ({maxcpus})"
        )
    if maxcpus > machine_type.cpu_max:
        raise MachineError(
            f"Number of SMP CPUs requested ({_s32(maxcpus)}) exceeds max CPUs supported by "
            f"machine '{machine_type.name}' ({machine_type.cpu_max})"
        )
    return CpuTopology(
        cpus=cpus, maxcpus=maxcpus, sockets=sockets, dies=1, clusters=1, cores=cores,
        threads=threads,
    )
