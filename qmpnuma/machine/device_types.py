"""What the binary's QOM type tree says about a ``-device``/``device_add`` driver name.

``qdev_get_device_class`` refuses a driver in three ways before looking at any property: a
name that is no device type, an abstract device type, and a device type users may not create
(``DeviceClass.user_creatable`` false: not in ``-device help``). ``qdev_device_add_from_qdict``
then looks for the bus of the device's bus type, and once the machine runs refuses a bus
without hot-plug (``Bus '%s' does not support hotplugging``): ISA devices on ``isa.0``, plain
system-bus devices on ``main-system-bus``, PCI devices on q35's ``pcie.0``, and so on. The type
tree is the binary's recorded ``qom-list-types`` answer (with abstract types and parents), read
only when a driver is not one the model plugs itself.
"""

from __future__ import annotations

from functools import cache

from qmpnuma.profiles.profile import Profile

#: The boards whose ISA bus is ``isa.0`` (PIIX or ICH9 bridge, or isapc's own).
ISA_BOARDS = frozenset({"pc", "q35", "isapc"})
#: The IDE bus ``qbus_find_recursive`` settles on for a bus-less IDE device: the last of the
#: board's built-in controller (PIIX3's second channel, ICH9 AHCI's sixth port). IDE buses
#: take no hot-plug.
IDE_BUS = {"pc": "ide.1", "q35": "ide.5"}


@cache
def _type_tree(profile: Profile) -> dict[str, tuple[str | None, bool]]:
    """Type name -> (parent, abstract) from the recorded ``qom-list-types``; empty when the
    profile has no recording."""
    from qmpnuma.facts import NoRecordedFacts, interface_answer

    try:
        answer = interface_answer(profile, "tcg", "plain", "qom-list-types")
    except NoRecordedFacts:
        return {}
    if answer is None or "return" not in answer:
        return {}
    return {entry["name"]: (entry.get("parent"), bool(entry.get("abstract", False)))
            for entry in answer["return"]}


def ancestry(profile: Profile, name: str) -> tuple[str, ...]:
    """``name`` and its parents up to ``object`` (empty for an unknown type)."""
    tree = _type_tree(profile)
    chain: list[str] = []
    current: str | None = name
    while current is not None and current in tree and current not in chain:
        chain.append(current)
        current = tree[current][0]
    return tuple(chain)


def refusal_of_unknown_driver(profile: Profile, driver: str) -> str:
    """``qdev_get_device_class``'s error for a driver that is not a user-creatable model."""
    chain = ancestry(profile, driver)
    if "device" not in chain:
        return f"'{driver}' is not a valid device model name"
    if _type_tree(profile)[driver][1]:
        return "Parameter 'driver' expects a non-abstract device type"
    return "Parameter 'driver' expects a pluggable device type"


def hotplug_refusal(profile: Profile, family: str, driver: str) -> str | None:
    """Why a running machine refuses to hot-plug the user-creatable ``driver`` before any
    property is looked at, or None: a system-bus type the board does not allow
    (``device_type_is_dynamic_sysbus``), a class that is not hot-pluggable, a bus without
    hot-plug (in that order)."""
    chain = ancestry(profile, driver)
    allowed = profile.dynamic_sysbus_allowed
    if (allowed is not None and family in allowed and "sys-bus-device" in chain
            and driver not in allowed[family]):
        return "Parameter 'driver' expects a dynamic sysbus device type for the machine"
    if profile.not_hotpluggable_ancestors.intersection(chain):
        return profile.device_not_hotpluggable_text.format(driver=driver)
    bus = bus_without_hotplug(profile, family, driver)
    return None if bus is None else f"Bus '{bus}' does not support hotplugging"


def bus_without_hotplug(profile: Profile, family: str, driver: str) -> str | None:
    """The bus a running machine would put ``driver`` on when that bus takes no hot-plug
    (``qbus_is_hotpluggable`` false), or None: ISA devices on a board's ``isa.0``, plain
    system-bus devices (not the dynamic kind) on ``main-system-bus``, IDE devices on the board's
    last IDE bus, I2C devices on the SMBus ``i2c``, floppy drives on pc's
    ``floppy-bus.0``, PCI devices on q35's
    PCI Express root bus ``pcie.0`` (no hot-plug handler: devices are hot-plugged behind a
    root port)."""
    chain = ancestry(profile, driver)
    if "pci-device" in chain and family == "q35":
        return "pcie.0"
    if "ide-device" in chain and family in IDE_BUS:
        return IDE_BUS[family]
    if "floppy" in chain and family == "pc":
        return "floppy-bus.0"  # the board's ISA floppy controller
    if "i2c-slave" in chain and family in IDE_BUS:
        return "i2c"  # the PIIX4 / ICH9 SMBus
    if "isa-device" in chain and family in ISA_BOARDS:
        return "isa.0"
    if "sys-bus-device" in chain and "dynamic-sysbus-device" not in chain:
        return "main-system-bus"
    return None
