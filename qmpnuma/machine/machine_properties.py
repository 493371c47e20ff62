"""Which properties each machine class has (``-machine KEY=...``), as QEMU 7.2's QOM lists them.

A key the class does not have is refused as ``Property 'TYPE-machine.KEY' not found`` when the
machine's properties are set.
"""

from __future__ import annotations

from qmpnuma.machine.machine_types import MachineType
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE

#: ``-machine`` properties this model interprets or tolerates (anything else is refused as QEMU
#: refuses an unknown property).
MACHINE_PROPERTIES = frozenset(
    {
        "type", "accel", "hmat", "memory-backend", "acpi", "usb", "dump-guest-core",
        "mem-merge", "max-ram-below-4g", "nvdimm", "smm", "kernel-irqchip", "vmport",
        "graphics", "suppress-vmdesc", "dea-key-wrap", "aes-key-wrap", "firmware",
        "pflash0", "pflash1", "sata", "pit", "hpet", "fd-bootchk", "smbus", "i8042", "pic",
        "default-bus-bypass-iommu", "confidential-guest-support", "sgx-epc", "bus-lock-ratelimit",
        "x-oem-id", "x-oem-table-id", "boot", "memory-encryption", "dt-compatible", "dumpdtb",
        "phandle-start", "dtb", "kernel", "initrd", "append", "smp", "memory",
    }
)

#: Properties every machine class has (``-M none`` has only these).
GENERIC_MACHINE_PROPERTIES = frozenset(
    {
        "type", "accel", "memory-backend", "usb", "dump-guest-core", "mem-merge", "graphics",
        "suppress-vmdesc", "firmware", "confidential-guest-support", "memory-encryption",
        "dt-compatible", "dumpdtb", "phandle-start", "dtb", "kernel", "initrd", "append",
        "boot", "smp", "memory",
    }
)

#: ``microvm`` adds a few of its own to the generic ones.
MICROVM_PROPERTIES = GENERIC_MACHINE_PROPERTIES | {"hmat", "acpi", "pit", "pic", "rtc"}


def machine_properties(
    machine_type: MachineType, profile: Profile = DEFAULT_PROFILE
) -> frozenset[str]:
    """The property names of ``machine_type``'s class in ``profile``'s QEMU (7.2's, plus what
    the profile adds for every class and for the type's family)."""
    if machine_type.family == "microvm":
        names = MICROVM_PROPERTIES
    else:
        names = MACHINE_PROPERTIES if machine_type.is_pc_like else GENERIC_MACHINE_PROPERTIES
    added = profile.added_machine_properties
    return names | frozenset(added.get("*", ())) | frozenset(added.get(machine_type.family, ()))
