"""The board object ``/machine``: its ``qom-list`` and the values of its plain properties.

``qom-list`` walks an object's properties with ``object_property_iter_next`` (the object's own
GLib hash table first, then each class's, leaf to ``TYPE_OBJECT``) and prepends each to its
answer, so the answer is that walk reversed: the class properties (``type`` first) and then the
object's own properties in reverse hash-table order. ``qom-list-properties`` of the machine
type walks a freshly created board the same way, so the binary's recorded answer
(``qmpnuma.facts``) already holds the class part and the board's own properties as its
instance init made them. What happens after that is a rule of QEMU's start-up, kept as profile
data: ``qemu_create_machine`` adds its containers (``Profile.qom_machine_containers``), board
init adds children, links and aliases and deletes the unused flash devices
(``Profile.qom_board_init``), and the shared GLib table model
(``qmpnuma.qobject.hashing``) says where each lands.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qmpnuma.machine import Machine

#: The board's own (instance) properties that instance init functions add: ``machine_initfn``
#: (NVDIMM, HMAT and CXL switches), ``pc_machine_initfn`` (the speaker's audiodev alias, the
#: two flash devices and their aliases) and, up to 9.1, the peripheral containers. Everything
#: before the first of these in a fresh board's listing is a class property.
INSTANCE_PROPERTIES = frozenset({
    "nvdimm", "nvdimm-persistence", "hmat", "cxl", "cxl-fmw", "pcspk-audiodev",
    "pflash0", "pflash1", "system.flash0", "system.flash1", "peripheral", "peripheral-anon",
})
#: What ``pc_system_flash_cleanup_unused`` deletes when no flash drive is configured.
FLASH_PROPERTIES = ("pflash0", "pflash1", "system.flash0", "system.flash1")
#: The mark in ``Profile.qom_board_init`` for that deletion.
FLASH_CLEANUP = "-"


#: The conditions of ``Profile.qom_board_init`` entries: the device-memory region exists when
#: ``maxmem`` leaves room for it (``machine_memory_devices_init``), the NVDIMM ACPI I/O region
#: when ``nvdimm=on`` (``nvdimm_init_acpi_state``), pc's ACPI device link only when ACPI is on
#: (``pc_init1`` creates PIIX4's PM only then), q35's SMRAM link (10.0) only with SMM
#: (``mch_realize``).
BOARD_CONDITIONS: dict[str, Callable[[Machine], bool]] = {
    "": lambda machine: True,
    "device-memory": lambda machine: machine.device_memory_base is not None,
    "nvdimm": lambda machine: machine.dimms.nvdimm,
    "acpi": lambda machine: machine.machine_props.get("acpi", "auto") != "off",
    "smm": lambda machine: machine.machine_props.get("smm", "auto") != "off",
}


def recorded_board_listing(machine: Machine) -> list[tuple[str, str]] | None:
    """The binary's ``qom-list-properties`` answer for the board's type (name, type), or None
    when nothing was recorded (a profile without a binary, a type whose question aborted)."""
    from qmpnuma.commands.machine_facts import accelerator
    from qmpnuma.facts import NoRecordedFacts, interface_answer

    type_name = f"{machine.machine_type.name}-machine"
    try:
        answer = interface_answer(machine.profile, accelerator(machine) or "tcg",
                                  "qom-list-properties", type_name)
    except NoRecordedFacts:
        return None
    if answer is None or "return" not in answer:
        return None
    return [(entry["name"], entry["type"]) for entry in answer["return"]]


#: id(machine) -> (the machine, its board listing): the listing follows the command line
#: only, and every QOM path below /machine asks for it (a `qom-get` of a vCPU property too).
_BOARD_LISTINGS: dict[int, tuple[weakref.ref[Machine], list[tuple[str, str]] | None]] = {}


def board_listing(machine: Machine) -> list[tuple[str, str]] | None:
    """``qom-list /machine`` as (name, type) pairs, ``type`` first; None when the profile has
    no recorded listing of the board type to start from. Worked out once per machine."""
    known = _BOARD_LISTINGS.get(id(machine))
    if known is not None and known[0]() is machine:
        return known[1]
    listing = _board_listing(machine)
    _BOARD_LISTINGS[id(machine)] = (weakref.ref(machine), listing)
    weakref.finalize(machine, _BOARD_LISTINGS.pop, id(machine), None)
    return listing


def _board_listing(machine: Machine) -> list[tuple[str, str]] | None:
    from qmpnuma.qobject.hashing import GHashTableModel

    fresh = recorded_board_listing(machine)
    if fresh is None:
        return None
    split = len(fresh)
    while split > 0 and fresh[split - 1][0] in INSTANCE_PROPERTIES:
        split -= 1
    types = dict(fresh)
    table = GHashTableModel()
    for name, _ in reversed(fresh[split:]):  # the fresh board's own table, in its order
        table.insert(name)
    for name in machine.profile.qom_machine_containers:
        types[name] = "child<container>"
        if name not in table:
            table.insert(name)
    steps = machine.profile.qom_board_init.get(machine.machine_type.family, ())
    for name, kind, condition in steps:
        if name == FLASH_CLEANUP:
            for flash in FLASH_PROPERTIES:
                if flash in table:
                    table.remove(flash)
        elif BOARD_CONDITIONS[condition](machine):
            types[name] = kind
            table.insert(name)
    return fresh[:split] + [(name, types[name]) for name in reversed(table.keys())]


#: Values of the board's plain properties as the instance init functions leave them
#: (``machine_initfn``, ``x86_machine_initfn``, ``pc_machine_initfn``), before the command
#: line sets any.
DEFAULT_VALUES: dict[str, Any] = {
    "kernel": "", "dt-compatible": "", "initrd": "", "memory-encryption": "", "dumpdtb": "",
    "dtb": "", "append": "", "shim": "", "confidential-guest-support": "",
    "phandle-start": 0, "graphics": True, "usb": False, "dump-guest-core": True,
    "mem-merge": True, "suppress-vmdesc": False, "aux-ram-share": False,
    "boot": {"order": "cad"}, "smm": "auto", "acpi": "auto", "pit": "auto", "pic": "auto",
    "x-oem-table-id": "BXPC    ", "x-oem-id": "BOCHS ", "bus-lock-ratelimit": 0,
    "sgx-epc": [], "max-fw-size": 8 * 1024 * 1024, "default-bus-bypass-iommu": False,
    "sata": True, "i8042": True, "hpet": True, "fd-bootchk": True, "smbus": True,
    "nvdimm": False, "nvdimm-persistence": "", "cxl-fmw": [], "cxl": False,
    "pcspk-audiodev": "", "hmat": False, "x-south-bridge": "PIIX3",
    # (9.2) every cache level's topology left to the CPU model
    "smp-cache": [{"cache": level, "topology": "default"} for level in ("l1d", "l1i", "l2", "l3")],
}


def _given(kind: str, text: str) -> Any:
    """A ``-machine`` value as the property's getter returns it."""
    if kind == "bool":
        return text in ("on", "yes", "true", "y")
    if kind in ("int", "size", "uint64_t", "uint32", "uint64"):
        from qmpnuma.options.numbers import NumberError, parse_size

        try:
            return parse_size(text)
        except NumberError:
            return 0
    return text


def _class_default(machine: Machine, name: str) -> Any:
    """The values the board's class chooses (``pc_i440fx_*_machine_options`` and friends),
    by family and version; None when the instance init's default stands."""
    mt = machine.machine_type
    pc_like = mt.family in ("pc", "q35", "isapc")
    version = mt.version
    if name == "firmware":
        # the 256 KiB BIOS since the 2.0 types (older ones and isapc name none)
        newer = mt.family in ("pc", "q35") and version is not None and version >= (2, 0)
        return "bios-256k.bin" if newer else ""
    if name == "suppress-vmdesc":
        # the 2.0 to 2.2 PC types set it (``pc_compat_2_2`` and older)
        return version is not None and (2, 0) <= version <= (2, 2)
    if name == "smbios-entry-point-type":
        for first, value in machine.profile.smbios_entry_point_defaults:
            if version is None or version >= first:
                return value
        return "32"
    if name == "max-ram-below-4g":
        return 4 << 30 if mt.family == "q35" else 0xE000_0000
    if name == "hpet":
        return mt.family != "isapc"
    if name == "vmport":
        return "on"  # ``auto`` resolves to on without Xen (``pc_basic_device_init``)
    if name == "boot":
        return {"order": "cad"} if pc_like else dict(machine.profile.qom_board_boot_unset)
    if name == "device-memory-region-size":
        return machine.layout.device_memory_size
    return None


def _memory(machine: Machine) -> dict[str, int]:
    """``machine_get_mem``: the RAM size, and slots and maximum once ``maxmem`` leaves room."""
    memory = machine.memory
    if memory.maxram_size > memory.ram_size:
        return {"size": memory.ram_size, "slots": memory.ram_slots, "max-size": memory.maxram_size}
    return {"size": memory.ram_size}


def board_value(machine: Machine, name: str, kind: str) -> Any:
    """``qom-get /machine NAME`` for a property that is not a child: the command line's value,
    else the class's or the instance init's; a child's or link's path."""
    if kind.startswith("child<"):
        return f"/machine/{name}"
    if name == "memory-backend":
        memdev = machine.ram_memdev or machine.machine_type.default_ram_id
        return f"/objects/{memdev}" if memdev and machine.memory.ram_size else ""
    if name == "memory":
        return _memory(machine)
    given = machine.machine_props.get(name)
    if given is not None and not kind.startswith("link<"):
        return _given(kind, given)
    chosen = _class_default(machine, name)
    return DEFAULT_VALUES.get(name, "") if chosen is None else chosen
