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


def recorded_machine_property(
    machine_type: MachineType, profile: Profile, key: str
) -> bool:
    """Whether the profile's binary lists ``key`` as a settable property of the type (its
    recorded ``qom-list-properties``, children excluded): the properties the table above does
    not interpret (``cxl``, ``aux-ram-share``, ...) are accepted as QEMU accepts them. Read only
    when a key is not in the table, so a start-up that sets none pays nothing."""
    from qmpnuma.facts import NoRecordedFacts, interface_answer

    try:
        answer = interface_answer(profile, "tcg", "qom-list-properties",
                                  f"{machine_type.name}-machine")
    except NoRecordedFacts:
        return False
    if answer is None or "return" not in answer:
        return False
    return any(entry["name"] == key and not entry["type"].startswith("child<")
               for entry in answer["return"])
