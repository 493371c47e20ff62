"""Which properties each machine class has (``-machine KEY=...``), as QEMU 7.2's QOM lists them.

A key the class does not have is refused as ``Property 'TYPE-machine.KEY' not found`` when the
machine's properties are set.
"""

from __future__ import annotations

from qmpnuma.machine.machine_types import MachineType

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


def machine_properties(machine_type: MachineType) -> frozenset[str]:
    """The property names of ``machine_type``'s class."""
    if machine_type.family == "microvm":
        return MICROVM_PROPERTIES
    return MACHINE_PROPERTIES if machine_type.is_pc_like else GENERIC_MACHINE_PROPERTIES
