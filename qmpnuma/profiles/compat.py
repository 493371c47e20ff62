"""Machine-type compatibility as QEMU keeps it: cumulative rows per release.

When a QEMU release changes a default of the pc or q35 boards, it adds a compat row for the
previous release (``hw_compat_5_0``/``pc_compat_5_0`` in hw/core/machine.c and hw/i386/pc.c,
and the ``pc_*_X_Y_machine_options`` functions of hw/i386/pc_piix.c / pc_q35.c) that puts the
old value back for the types of that release and older.  A machine type's flags are therefore
the newest type's flags of its profile, then every row of the profile's release that covers
the type applied, newest row first.

Adding a version: add the rows for the releases between the last known one and the new one
(the settings the new release changed), with ``version`` = the release whose types keep the
old value.  Field names are those of :class:`qmpnuma.machine.machine_types.MachineType`.
"""

from __future__ import annotations

from typing import Final

from qmpnuma.profiles.profile import CompatRow

PC: Final = frozenset({"pc"})
Q35: Final = frozenset({"q35"})
PC_AND_Q35: Final = frozenset({"pc", "q35"})

#: Every compat row qmpnuma models, newest first.
COMPAT_ROWS: Final[tuple[CompatRow, ...]] = (
    # 8.2: 32-bit CPUs are checked against the memory they can really reach (before, against
    # all they could address: pc_max_used_gpa's broken_32bit_mem_addr_check).
    CompatRow((8, 1), PC_AND_Q35, {"broken_32bit_mem_addr_check": True}),
    # 9.0: q35 grows from 1024 to 4096 CPUs.
    CompatRow((8, 2), Q35, {"cpu_max": 1024}),
    # 8.1: q35 grows from 288 to 1024 CPUs.
    CompatRow((8, 0), Q35, {"cpu_max": 288}),
    # By 10.0 every type of 7.0 and older is deprecated (MACHINE_VER_DEPRECATION: "machines
    # more than 3 years old"); 8.2 and 9.1 removed the 1.x and 2.0-2.3 types altogether.
    CompatRow((7, 0), PC_AND_Q35, {"deprecated": True}, since=(10, 0)),
    # 6.2 made new types fill a missing -smp value into cores (smp_props.prefer_sockets).
    CompatRow((6, 1), PC_AND_Q35, {"prefer_sockets": True}),
    # 5.1: -numa node,mem= only for old types; memdev makes NUMA auto-enabled for new ones.
    CompatRow((5, 0), PC_AND_Q35,
              {"numa_mem_supported": True, "auto_enable_numa_with_memdev": False}),
    # 2.11: memory hot-plug auto-enables NUMA (auto_enable_numa_with_memhp).
    CompatRow((2, 10), PC_AND_Q35, {"auto_enable_numa_with_memhp": False}),
    # 2.8: q35 grows from 255 to 288 CPUs.
    CompatRow((2, 7), Q35, {"cpu_max": 255}),
    # 2.2: DIMMs aligned to the backend page size, region grows per slot.
    CompatRow((2, 1), PC, {"enforce_aligned_dimm": False}),
    # 2.0: RAM below 4 GiB capped at 3 GiB when it does not fit (gigabyte_align).
    CompatRow((1, 7), PC, {"gigabyte_align": False}),
    # 7.0 deprecated the i440FX types 1.4 to 1.7 ("old and unattended").
    CompatRow((1, 7), PC, {"deprecated": True}, since=(7, 0)),
)


def compat_rows(release: tuple[int, ...]) -> tuple[CompatRow, ...]:
    """The rows the QEMU release ``release`` has, newest first."""
    return tuple(row for row in COMPAT_ROWS if row.exists_in(release))
