"""``pc_memory_init``'s checks of the memory configuration (pc, q35, isapc).

In order: ``slots``/``maxmem`` on a board without device memory, the address space (7.2),
the slot count, the maxmem alignment, and a device-memory region that would wrap around 2**64.

QEMU 7.2's ``pc_memory_init`` computes the highest guest-physical address the board will use
(``pc_max_used_gpa``: the end of the 64-bit PCI hole, which follows RAM above 4 GiB or, with
``maxmem``, the device-memory region) and refuses to start when the CPU cannot address it::

    Address space limit 0xffffffffff < 0x... phys-bits too low (40)

Since 7.1, on machine types that enforce it and with an AMD CPU model, RAM above 4 GiB moves to
1 TiB when the board would reach the HyperTransport hole below 1 TiB (``enforce_amd_1tb_hole``).
All arithmetic is 64-bit and wraps as QEMU's does.
"""

from __future__ import annotations

from qmpnuma.errors import MachineError
from qmpnuma.machine.machine_types import MachineType
from qmpnuma.machine.memory import MemoryConfig
from qmpnuma.machine.ram_layout import has_reserved_memory
from qmpnuma.profiles.profile import MaxUsedGpa, Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.records import record

GiB = 1 << 30
FOUR_GIB = 1 << 32
UINT64_MASK = (1 << 64) - 1
#: ``ACPI_MAX_RAM_SLOTS``: pc/q35 refuse more DIMM slots than this.
ACPI_MAX_RAM_SLOTS = 256
#: Target page size used by the maxmem alignment check.
TARGET_PAGE_SIZE = 4096
#: ``AMD_HT_START``: the HyperTransport range just below 1 TiB on AMD hosts.
AMD_HT_START = 0xFD_0000_0000
#: ``AMD_ABOVE_1TB_START``: where RAM above 4 GiB starts when it has to skip that range.
AMD_ABOVE_1TB_START = 0x100_0000_0000
#: ``TCG_PHYS_ADDR_BITS``: the physical address width of 64-bit CPU models under TCG.
TCG_PHYS_BITS = 40
#: CPU models without long mode: 36 bits with PSE36 (``Profile.cpu_models_pse36``), else 32
#: (``x86_cpu_realizefn``); read off the reference binaries by starting each model with a
#: too-large ``maxmem``.
_NO_LONG_MODE_STEMS = (
    "486", "base", "coreduo", "n270", "pentium", "qemu32", "athlon", "kvm32", "pentium2",
    "pentium3",
)
#: Default ``pci-hole64-size`` of the host bridges (i440FX 2 GiB, Q35 32 GiB).
PCI_HOLE64_SIZE = {"pc": 2 * GiB, "q35": 32 * GiB}

#: CPU model name stems whose vendor is AMD (``IS_AMD_CPU``); ``max`` under TCG is AMD too.
_AMD_MODEL_STEMS = ("qemu64", "phenom", "athlon", "max")
_AMD_MODEL_PREFIXES = ("Opteron_G", "EPYC")


def _model_stem(model: str) -> str:
    """A ``-cpu`` value's model name without options, QOM suffix or ``-vN`` version."""
    name = model.split(",", 1)[0].removesuffix("-x86_64-cpu")
    head, _, version = name.rpartition("-v")
    return head if head and version.isdigit() else name


def is_amd_cpu_model(model: str) -> bool:
    """Whether the CPU model has AMD's vendor id (``IS_AMD_CPU``; Hygon's Dhyana does not)."""
    stem = _model_stem(model)
    return stem in _AMD_MODEL_STEMS or stem.startswith(_AMD_MODEL_PREFIXES)


def has_long_mode(model: str) -> bool:
    """Whether the CPU model is a 64-bit one (``CPUID_EXT2_LM``)."""
    return _model_stem(model) not in _NO_LONG_MODE_STEMS


def phys_bits(model: str, profile: Profile = DEFAULT_PROFILE) -> int:
    """The CPU model's physical address width under TCG."""
    stem = _model_stem(model)
    if stem not in _NO_LONG_MODE_STEMS:
        return TCG_PHYS_BITS
    return 36 if stem in profile.cpu_models_pse36 else 32


@record(frozen=True)
class BoardMemory:
    """The memory figures ``pc_memory_init`` works with."""

    ram_size: int
    maxram_size: int
    ram_slots: int
    #: ``PCMachineClass.has_reserved_memory`` (a device-memory region after RAM).
    has_reserved_memory: bool


def _round_up_gib(value: int) -> int:
    return ((value + GiB - 1) & ~(GiB - 1)) & UINT64_MASK


def device_memory_range(
    config: BoardMemory, machine_type: MachineType, above_4g_start: int
) -> tuple[int, int]:
    """``pc_get_device_memory_range``: base and size of the device-memory region."""
    _, above = machine_type.split_ram(config.ram_size)
    size = config.maxram_size - config.ram_size
    if machine_type.enforce_aligned_dimm:
        size += GiB * config.ram_slots
    return _round_up_gib(above_4g_start + above), size & UINT64_MASK  # ram_addr_t wraps


def max_used_gpa(
    config: BoardMemory, machine_type: MachineType, above_4g_start: int, model: str,
    profile: Profile = DEFAULT_PROFILE,
) -> int:
    """``pc_max_used_gpa``: the last byte of the 64-bit PCI hole (``pc_pci_hole64_start`` on).

    A CPU without that hole (``Profile.max_used_gpa``: 7.2 at most 32 bits, later no long
    mode) uses all it can address (7.2, and later types with ``broken_32bit_mem_addr_check``)
    or, later, what the board really maps: device memory with ``maxmem``, else RAM above 4 GiB.
    """
    bits = phys_bits(model, profile)
    if profile.max_used_gpa is MaxUsedGpa.PHYS_BITS_32:
        if bits <= 32:
            return (1 << bits) - 1
    elif not has_long_mode(model):
        if machine_type.broken_32bit_mem_addr_check:
            return (1 << bits) - 1
        if config.has_reserved_memory and config.ram_size < config.maxram_size:
            base, size = device_memory_range(config, machine_type, above_4g_start)
            return (base + size - 1) & UINT64_MASK
        return above_4g_start + machine_type.split_ram(config.ram_size)[1] - 1
    if config.has_reserved_memory and config.ram_size < config.maxram_size:
        base, size = device_memory_range(config, machine_type, above_4g_start)
        start = (base + size) & UINT64_MASK
    else:
        start = above_4g_start + machine_type.split_ram(config.ram_size)[1]
    hole = PCI_HOLE64_SIZE.get(machine_type.family, 2 * GiB)
    return (_round_up_gib(start) + hole - 1) & UINT64_MASK


def enforces_amd_1tb_hole(machine_type: MachineType) -> bool:
    """``enforce_amd_1tb_hole``: pc/q35 machine types from 7.1 on."""
    return (
        machine_type.family in ("pc", "q35")
        and machine_type.version is not None
        and machine_type.version >= (7, 1)
    )


def first_cpu_model(machine_type: MachineType, cpu_model: str | None) -> str:
    """The model of the first CPU: ``-cpu``'s, else the machine type's default."""
    return cpu_model or machine_type.default_cpu_type or "qemu64"


def above_4g_start(
    config: BoardMemory, machine_type: MachineType, cpu_model: str,
    profile: Profile = DEFAULT_PROFILE,
) -> int:
    """Where RAM above 4 GiB starts: 4 GiB, or 1 TiB when the AMD HyperTransport hole says so."""
    start = FOUR_GIB
    if (
        is_amd_cpu_model(cpu_model)
        and enforces_amd_1tb_hole(machine_type)
        and max_used_gpa(config, machine_type, start, cpu_model, profile) >= AMD_HT_START
    ):
        start = AMD_ABOVE_1TB_START
    return start


def check_address_space(
    config: BoardMemory, machine_type: MachineType, start: int, cpu_model: str,
    profile: Profile = DEFAULT_PROFILE,
) -> None:
    """The phys-bits check of ``pc_memory_init`` under TCG (pc and q35 only)."""
    if machine_type.family not in ("pc", "q35"):
        return
    bits = phys_bits(cpu_model, profile)
    used = max_used_gpa(config, machine_type, start, cpu_model, profile)
    limit = (1 << bits) - 1
    if limit < used:
        raise MachineError(
            f"Address space limit 0x{limit:x} < 0x{used:x} phys-bits too low ({bits})"
        )


def check_device_memory_end(config: BoardMemory, machine_type: MachineType, start: int) -> None:
    """``pc_memory_init``: the device-memory region must not wrap around 2**64."""
    base, size = device_memory_range(config, machine_type, start)
    if ((base + size) & UINT64_MASK) < size:
        raise MachineError(f"unsupported amount of maximum memory: {config.maxram_size:x}")


def check_board_memory(
    config: MemoryConfig,
    machine_type: MachineType,
    cpu_model: str | None = None,
    *,
    check_phys_bits: bool = False,
    profile: Profile = DEFAULT_PROFILE,
) -> None:
    """``pc_memory_init``'s checks of the memory configuration (pc, q35, isapc only).

    ``check_phys_bits`` (7.2 under TCG) adds the phys-bits check for the first CPU's model
    ``cpu_model`` (``-cpu``, else the machine type's default).
    """
    if not machine_type.is_pc_like:
        return
    reserved = has_reserved_memory(machine_type)
    if not reserved and (config.ram_slots or config.maxram_size > config.ram_size):
        raise MachineError(
            f"\"-memory 'slots|maxmem'\" is not supported by: {machine_type.name}"
        )
    board = BoardMemory(config.ram_size, config.maxram_size, config.ram_slots, reserved)
    model = first_cpu_model(machine_type, cpu_model)
    start = above_4g_start(board, machine_type, model, profile) if check_phys_bits else FOUR_GIB
    if check_phys_bits:
        check_address_space(board, machine_type, start, model, profile)
    if config.ram_size >= config.maxram_size:
        return
    if config.ram_slots > ACPI_MAX_RAM_SLOTS:
        raise MachineError(f"unsupported amount of memory slots: {config.ram_slots}")
    if config.maxram_size % TARGET_PAGE_SIZE:
        raise MachineError(
            "maximum memory size must by aligned to multiple of "
            f"{TARGET_PAGE_SIZE} bytes"
        )
    check_device_memory_end(board, machine_type, start)
