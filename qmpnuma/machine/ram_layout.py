"""Where guest RAM and the device-memory (hot-plug) region sit in guest-physical space (pc/q35).

RAM is split around the 32-bit PCI hole (``below_4g``/``above_4g``, per machine type); with
``maxmem`` the device-memory region follows the RAM above 4 GiB at the next 1 GiB boundary
(``pc_get_device_memory_range``).  DIMM addresses and NUMA address ranges are computed from it.
"""

from __future__ import annotations

from qmpnuma.machine.machine_types import MachineType
from qmpnuma.machine.memory import MemoryConfig
from qmpnuma.records import record

GiB = 1 << 30
FOUR_GIB = 1 << 32
UINT64_MASK = (1 << 64) - 1


def has_reserved_memory(machine_type: MachineType) -> bool:
    """``PCMachineClass.has_reserved_memory``: q35, and i440FX from 2.1 on (not isapc)."""
    if machine_type.family == "q35":
        return True
    return (
        machine_type.family == "pc"
        and machine_type.version is not None
        and machine_type.version >= (2, 1)
    )


@record(frozen=True)
class RamLayout:
    """Where guest RAM and the memory-device (hot-plug) region sit in guest-physical space."""

    ram_size: int
    below_4g: int
    above_4g: int
    #: Base of the device-memory region, or None when the board has none (no maxmem).
    device_memory_base: int | None
    device_memory_size: int

    def ram_offset_to_gpa(self, offset: int) -> int:
        """Guest-physical address of a RAM offset (the part above ``below_4g`` moves to 4 GiB)."""
        if offset < self.below_4g:
            return offset
        return FOUR_GIB + (offset - self.below_4g)


def compute_layout(config: MemoryConfig, machine_type: MachineType) -> RamLayout:
    """The pc/q35 split of RAM around the PCI hole and the device-memory region after it.

    The region starts at the first 1 GiB boundary after the RAM above 4 GiB and spans
    ``maxmem - ram`` plus 1 GiB per slot on machine types that enforce aligned DIMMs.
    """
    below, above = machine_type.split_ram(config.ram_size)
    if not has_reserved_memory(machine_type) or config.maxram_size <= config.ram_size:
        return RamLayout(config.ram_size, below, above, None, 0)
    base = _align_up(FOUR_GIB + above, GiB)
    size = config.maxram_size - config.ram_size
    if machine_type.enforce_aligned_dimm:
        size += GiB * config.ram_slots
    size &= UINT64_MASK  # ram_addr_t arithmetic wraps
    return RamLayout(config.ram_size, below, above, base, size)


def _align_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align
