"""`-device` and `device_add`/`device_del`: QEMU's qdev steps for the devices the model knows.

In QEMU 7.2 every path meets in ``qdev_device_add_from_qdict``, which sets the properties with
``object_set_properties_from_keyval``; what differs is the visitor it hands the setters:

* ``-device k=v`` and QMP ``device_add`` come through QemuOpts (QMP's arguments become text
  first: numbers decimal strings, booleans ``on``/``off``), so the id's syntax was checked by
  QemuOpts and each property is parsed from text by the keyval visitor
  (``Parameter 'node' expects integer``);
* ``-device {JSON}`` keeps its dict (``from_json``): the id is never checked for syntax (only
  a string id names the device, any other JSON value leaves it anonymous, as does a non-string
  ``bus``), and each setter reads its member with the strict JSON visitor, so the JSON type must
  already be right (``Parameter 'node' expects uint64``, ``Invalid parameter type for 'unarmed',
  expected: boolean``).

So this module takes ``(key, value)`` pairs in the order QEMU would walk them and applies qdev's
order of checks: the driver, a duplicate id, each property's value (both visitors are
:mod:`qmpnuma.options.qobject_visitor`), then the device's own plug rules (DIMM slots and
addresses, virtio-mem's checks, CPU topology), which live in `dimms.py`, `virtio_mem.py` and
`cpus.py`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from qmpnuma.errors import MachineError, OptionError
from qmpnuma.machine.cpu_properties import (
    CPU_PROPERTY_SCHEMA,
    CPUID_VERSION_PROPERTIES,
    cpu_property_table,
    setter_refusal,
)
from qmpnuma.machine.cpu_slots import peripheral_qom_path
from qmpnuma.machine.device_types import hotplug_refusal, refusal_of_unknown_driver
from qmpnuma.machine.dimms import NVDIMM, PC_DIMM, UNASSIGNED_SLOT, DimmRequest
from qmpnuma.machine.qom_order import ObjectsContainer
from qmpnuma.options.qobject_visitor import visit_keyval, visit_qobject
from qmpnuma.profiles.profile import Profile
from qmpnuma.qobject.hashing import qdict_order
from qmpnuma.qobject.input_visitor import Schema
from qmpnuma.records import record

CPU_DRIVER_SUFFIX = "-x86_64-cpu"
#: The virtio-mem device on x86 boards (``qmpnuma.machine.virtio_mem``).
VIRTIO_MEM_PCI = "virtio-mem-pci"


@functools.cache
def _id_pattern() -> re.Pattern[str]:
    """QEMU's id_wellformed, compiled on the first `-device ...,id=` (not at import)."""
    return re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*\Z")


#: Builtin types need no schema.
_NO_TYPES: Schema = {}
#: The keys ``qdev_device_add_from_qdict`` takes out of the dict before setting properties.
_QDEV_KEYS = ("driver", "bus", "id")

#: pc-dimm's properties and how their setters read them: the QAPI type each one visits
#: (``qdev_prop_uint32``/``int32``/``uint64``), ``link`` for the memory backend (a string
#: resolved as a QOM path).
DIMM_PROPERTIES: dict[str, str] = {
    "memdev": "link",
    "node": "uint32",
    "slot": "int32",
    "addr": "uint64",
}
#: nvdimm adds its namespace label size, a UUID (a string parsed by ``qemu_uuid_parse``) and
#: the write-protect flag to pc-dimm's.
NVDIMM_PROPERTIES: dict[str, str] = {
    **DIMM_PROPERTIES,
    "label-size": "size",
    "uuid": "uuid",
    "unarmed": "bool",
}
DIMM_DRIVERS: dict[str, dict[str, str]] = {
    PC_DIMM: DIMM_PROPERTIES,
    NVDIMM: NVDIMM_PROPERTIES,
}
#: ``MIN_NAMESPACE_LABEL_SIZE``: the smallest label area an nvdimm accepts.
MIN_LABEL_SIZE = 128 << 10
#: The topology properties of an x86 CPU (all ``DEFINE_PROP_INT32`` in QEMU; which exist is
#: the recorded property table's to say where it is checked).
CPU_ID_PROPERTIES = (
    "socket-id", "die-id", "cluster-id", "module-id", "core-id", "thread-id", "node-id",
)


class PlugRolledBack(MachineError):
    """The device was realized, then its board refused to plug it: QEMU unrealized it again,
    and each child device realize had created announced ``DEVICE_DELETED`` (``deleted``)."""

    def __init__(self, message: str, deleted: tuple[str, ...]) -> None:
        super().__init__(message)
        self.deleted = deleted


@record(frozen=True)
class DeviceRequest:
    """A device as qdev receives it: driver, optional id, and its other properties.

    ``from_json`` tells how the properties are read: False for QemuOpts text (``-device k=v``,
    ``device_add``), True for the JSON values of ``-device {...}``.
    """

    driver: str
    id: str | None
    properties: tuple[tuple[str, Any], ...]
    from_json: bool = False


@record(frozen=True)
class DeviceArguments:
    """One ``-device`` as the argv walk keeps it: QemuOpts pairs (text), or the members of a
    JSON dict (``from_json``), which QEMU 7.2 keeps apart and creates after every QemuOpts
    device (``qemu_create_cli_devices``)."""

    pairs: tuple[tuple[str, Any], ...]
    from_json: bool = False


def qmp_value_text(value: Any) -> str | None:
    """How QEMU's `qemu_opts_from_qdict_entry` turns one JSON value into option text (None:
    a null, list or dict, which it skips)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.17g}"
    if isinstance(value, str):
        return value
    return None


def qmp_device_pairs(arguments: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``device_add``'s arguments as the QemuOpts ``qemu_opts_from_qdict`` builds from them:
    walked in QDict order (so later keys of one bucket come first) and turned into text. The
    id is the string ``id`` member (another type names no id); members of other JSON types
    are left out."""
    pairs: list[tuple[str, str]] = []
    for key in qdict_order(arguments):
        text = qmp_value_text(arguments[key])
        if text is None or (key == "id" and not isinstance(arguments[key], str)):
            continue
        pairs.append((key, text))
    return pairs


def parse_request(pairs: Sequence[tuple[str, Any]], *, from_json: bool = False) -> DeviceRequest:
    """The driver, the id and the properties, as ``qdev_device_add_from_qdict`` takes them.

    QemuOpts (text) checked the id's syntax when it was created; that check is repeated here
    for QMP's ``device_add`` (``qemu_opts_from_qdict``). The JSON form has no such check: its
    ``driver`` and ``id`` count only when they are strings (``qdict_get_try_str``), and
    ``driver``, ``bus`` and ``id`` are taken out of the dict whatever their type.
    """
    given = dict(pairs)
    driver = given.get("driver")
    device_id = given.get("id")
    # ``bus`` is not simulated: a string one stays behind as a property (not found)
    properties = tuple(
        (key, value) for key, value in given.items()
        if key not in _QDEV_KEYS or (key == "bus" and isinstance(value, str))
    )
    if from_json:
        if not isinstance(device_id, str):
            device_id = None
    elif device_id is not None and not _id_pattern().match(device_id):
        raise MachineError("Parameter 'id' expects an identifier")
    if not isinstance(driver, str):
        raise MachineError("Parameter 'driver' is missing")
    return DeviceRequest(driver, device_id, properties, from_json)


def property_order(request: DeviceRequest) -> tuple[str, ...]:
    """The order ``object_set_properties_from_qdict`` sets the properties in.

    ``qdev_device_add_from_qdict`` walks ``dev->opts``, a ``qdict_clone_shallow`` of the dict
    it was given, and a shallow clone re-inserts each bucket's keys, newest first: so keys
    sharing a bucket are walked in the order they were given.
    """
    return qdict_order(qdict_order(key for key, _ in request.properties))


def read_property(
    request: DeviceRequest, key: str, value: Any, qapi_type: str, schema: Schema = _NO_TYPES
) -> Any:
    """One property setter's visit of its member ``key`` (``visit_type_<qapi_type>``).

    JSON values go through the strict QObject visitor, text through its keyval mode, exactly
    as ``object_set_properties_from_keyval`` chooses; the visitor's refusal is the error.
    """
    try:
        if request.from_json:
            return visit_qobject(value, qapi_type, schema, root=key)
        return visit_keyval(value, qapi_type, schema, root=key)
    except OptionError as err:
        raise MachineError(err.message) from None


def dimm_properties(request: DeviceRequest, host: DeviceHost) -> dict[str, Any]:
    """A DIMM's properties, set in ``dev->opts`` order as QEMU 7.2 sets them.

    Setting the `memdev` link resolves it on the spot, so a missing backend is reported before a
    later bad property, exactly as QEMU does; an nvdimm's label size is checked by its setter.
    """
    values: dict[str, Any] = {
        "memdev": None, "node": 0, "slot": UNASSIGNED_SLOT, "addr": 0, "label-size": 0,
        "unarmed": False,
    }
    given = dict(request.properties)
    table = DIMM_DRIVERS[request.driver]
    for key in property_order(request):
        kind = table.get(key)
        if kind is None:
            raise MachineError(f"Property '{request.driver}.{key}' not found")
        if kind == "link":
            values[key] = _memdev(read_property(request, key, given[key], "str"), host)
        elif kind == "uuid":
            from qmpnuma.options.uuid_arg import uuid_wellformed  # only -device ...,uuid=

            if not uuid_wellformed(read_property(request, key, given[key], "str")):
                raise MachineError(f"Property '{request.driver}.{key}' has invalid value")
        else:
            values[key] = read_property(request, key, given[key], kind)
            if key == "label-size" and values[key] < MIN_LABEL_SIZE:
                raise MachineError(
                    f"Property '{request.driver}.{key}' (0x{values[key]:x}) is required at "
                    f"least 0x{MIN_LABEL_SIZE:x}"
                )
    return values


def virtio_mem_properties(request: DeviceRequest, host: DeviceHost) -> dict[str, Any]:
    """A virtio-mem-pci's properties, set in ``dev->opts`` order.

    The ones the model reads (``virtio_mem.VIRTIO_MEM_PROPERTIES``) are visited and checked by
    their setters (the ``memdev`` link resolved on the spot, ``block-size`` refused below
    1 MiB or when not a power of two); the others the binary lists (PCI address, virtio
    flags...) are taken without a look at their value; any other name is not found.
    """
    from qmpnuma.machine.virtio_mem import VIRTIO_MEM_PROPERTIES, check_block_size

    values: dict[str, Any] = {
        "memdev": None, "node": 0, "requested-size": 0, "block-size": 0, "memaddr": 0,
        "prealloc": False,
    }
    given = dict(request.properties)
    listed = host.device_property_names(request.driver)
    for key in property_order(request):
        kind = VIRTIO_MEM_PROPERTIES.get(key)
        if kind is None:
            if key == "bus":
                continue  # (its bus is not simulated)
            if key not in listed:
                raise MachineError(f"Property '{request.driver}.{key}' not found")
            if key == "size":  # (an alias of the virtio-mem device's read-only property)
                raise MachineError("Property 'virtio-mem.size' is not writable")
            continue
        if kind == "link":
            values[key] = _memdev(read_property(request, key, given[key], "str"), host)
            continue
        values[key] = read_property(request, key, given[key], kind)
        if key == "block-size":
            check_block_size(values[key])
    return values


def _memdev(path: str, host: DeviceHost) -> str | None:
    """``object_set_link_property``: an empty path clears the link, else it must resolve to a
    memory backend."""
    if path == "":
        return None
    if host.is_user_object(path):
        raise MachineError("Invalid parameter type for 'memdev', expected: memory-backend")
    if not host.has_backend(path):
        raise MachineError(f"Device '{path}' not found", "DeviceNotFound")
    return path


def cpu_properties(request: DeviceRequest, profile: Profile) -> dict[str, int]:
    """A CPU device's properties, set in ``dev->opts`` order; returns its topology ids.

    With the profile's ``cpu_device_properties_checked`` every property goes through QOM's
    setter as recorded from its binary (:mod:`qmpnuma.machine.cpu_properties`); else only the
    topology ids are read and other properties (features...) pass.
    """
    given = dict(request.properties)
    checked = profile.cpu_device_properties_checked
    table = cpu_property_table(profile, request.driver) if checked else None
    ids: dict[str, int] = {}
    for key in property_order(request):
        if table is not None:
            found = table.get(key)
            if found is None:
                raise MachineError(f"Property '{request.driver}.{key}' not found")
            if not found.writable:
                raise MachineError(f"Property '{request.driver}.{key}' is not writable")
            if found.visit_type is not None:
                visit_type = found.visit_type
                if profile.cpuid_version_visits_uint64 and key in CPUID_VERSION_PROPERTIES:
                    visit_type = "uint64"  # (the property is listed as an int)
                value = read_property(request, key, given[key], visit_type, CPU_PROPERTY_SCHEMA)
                refusal = setter_refusal(key, value, profile)
                if refusal is not None:
                    raise MachineError(refusal)
                if key in CPU_ID_PROPERTIES:
                    ids[key] = value
                continue
        if key in CPU_ID_PROPERTIES:
            ids[key] = read_property(request, key, given[key], "int32")
    return ids


def _apic_id(request: DeviceRequest) -> int | None:
    """The ``apic-id`` a CPU device was given (read again: its setter already accepted it)."""
    given = dict(request.properties)
    if "apic-id" not in given:
        return None
    value: int = read_property(request, "apic-id", given["apic-id"], "uint32")
    return None if value == UNASSIGNED_APIC_ID else value


def is_cpu_driver(driver: str) -> bool:
    return driver.endswith(CPU_DRIVER_SUFFIX)


#: The bus-less devices each board's hot-plug handler takes (``get_hotplug_handler``): pc boards
#: take DIMMs and CPUs, microvm only CPUs, ``none`` has no handler at all.
HOTPLUG_HANDLER_TAKES: dict[str, frozenset[str]] = {
    "pc": frozenset({PC_DIMM, NVDIMM, "cpu"}),
    "q35": frozenset({PC_DIMM, NVDIMM, "cpu"}),
    "isapc": frozenset({PC_DIMM, NVDIMM, "cpu"}),
    "microvm": frozenset({"cpu"}),
}


#: The buses each board creates (``-nodefaults`` or not), by name, with the name of their
#: QOM type as ``Device 'X' can't go on TYPE bus`` words it; recorded from the binary with
#: each board's default options. The bus-less devices simulated here go on none of them.
BOARD_BUSES: dict[str, dict[str, str]] = {
    "pc": {"main-system-bus": "System", "pci.0": "PCI", "isa.0": "ISA", "ide.0": "IDE",
           "ide.1": "IDE", "i2c": "i2c-bus", "floppy-bus.0": "floppy-bus"},
    "q35": {"main-system-bus": "System", "pcie.0": "PCIE", "isa.0": "ISA", "i2c": "i2c-bus",
            **{f"ide.{unit}": "IDE" for unit in range(6)}},
    "isapc": {"main-system-bus": "System", "isa.0": "ISA", "ide.0": "IDE", "ide.1": "IDE",
              "floppy-bus.0": "floppy-bus"},
    "microvm": {"main-system-bus": "System", "isa.0": "ISA",
                **{f"virtio-mmio-bus.{index}": "virtio-mmio-bus" for index in range(24)}},
}  # fmt: skip
#: Every board has the root bus.
ROOT_BUSES: dict[str, str] = {"main-system-bus": "System"}


def has_pci_bus(family: str) -> bool:
    """Whether the boards of ``family`` have a PCI (or PCI Express) root bus."""
    return any(kind in ("PCI", "PCIE") for kind in BOARD_BUSES.get(family, ROOT_BUSES).values())


def bus_refusal(family: str, driver: str, bus: str) -> MachineError:
    """What ``qbus_find`` and the bus type check of ``qdev_device_add_from_qdict`` say of a
    bus-less device given ``bus=NAME`` (a plain name: a path with ``/`` names devices on the
    way, which the model does not walk)."""
    bus_type = BOARD_BUSES.get(family, ROOT_BUSES).get(bus)
    if bus_type is None:
        return MachineError(f"Bus '{bus}' not found")
    return MachineError(f"Device '{driver}' can't go on {bus_type} bus")


#: ``UNASSIGNED_APIC_ID``: an x86 CPU's ``apic-id`` until a board's pre-plug assigns one.
UNASSIGNED_APIC_ID = 0xFFFFFFFF


def hotplug_handler_takes(family: str, driver: str) -> bool:
    """Whether the board of ``family`` has a hot-plug handler for a device of ``driver``."""
    kind = "cpu" if is_cpu_driver(driver) else driver
    return kind in HOTPLUG_HANDLER_TAKES.get(family, frozenset())


class Peripherals:
    """``/machine/peripheral`` and ``/machine/peripheral-anon``: how ``qdev_set_id`` names a
    user-created device.

    A device with an id becomes ``peripheral/ID`` (a taken id is refused); one without takes
    ``peripheral-anon/device[N]``, N counting every id-less device QEMU ever named, including
    those whose properties or realize then failed (QEMU names a device before it sets its
    properties, and unparents it again on failure, so the name is used up).
    """

    def __init__(self) -> None:
        self.named = ObjectsContainer()
        self.anonymous = ObjectsContainer()
        #: The ids in ``named`` (QOM child names of ``/machine/peripheral``).
        self.ids: set[str] = set()
        self.anonymous_count = 0

    def attach(self, device_id: str | None) -> str:
        """``qdev_set_id``: name the device and return its QOM path."""
        if device_id is not None:
            if device_id in self.ids:
                raise MachineError(f"Duplicate device ID '{device_id}'")
            self.ids.add(device_id)
            self.named.add(device_id)
            return peripheral_qom_path(device_id)
        index = self.anonymous_count
        self.anonymous_count += 1
        self.anonymous.add(f"device[{index}]")
        return peripheral_qom_path(None, index)

    def detach(self, qom_path: str) -> None:
        """The device at ``qom_path`` is unparented (failed realize, or unplugged)."""
        container, _, name = qom_path.rpartition("/")
        if container == "/machine/peripheral":
            self.ids.discard(name)
            self.named.remove(name)
        elif container == "/machine/peripheral-anon":
            self.anonymous.remove(name)

    @contextmanager
    def naming(self, device_id: str | None, qom_path: str | None) -> Iterator[str]:
        """The device's QOM path for the body; unnamed again if the body fails.

        ``qom_path`` is the name already given by ``add_device`` (then a failure is that
        caller's to undo); None names the device here.
        """
        if qom_path is not None:
            yield qom_path
            return
        path = self.attach(device_id)
        try:
            yield path
        except MachineError:
            self.detach(path)
            raise

    def walk_containers(self) -> dict[str, list[str]]:
        """Each container's children in QEMU's visiting order (``qom_order.device_walk_order``)."""
        return {
            "peripheral": self.named.iteration_order(),
            "peripheral-anon": self.anonymous.iteration_order(),
        }


if TYPE_CHECKING:  # a Protocol class only types; making one costs ~30 µs of a start
    from qmpnuma.machine.virtio_mem import VirtioMemRequest

    class DeviceHost(Protocol):
        """What adding a device needs from the machine (``Machine`` provides it)."""

        peripherals: Peripherals
        other_devices: dict[str, str]
        profile: Profile

        @property
        def machine_family(self) -> str: ...

        @property
        def supports_memory_hotplug(self) -> bool: ...

        def is_user_object(self, object_id: str) -> bool: ...

        def has_backend(self, object_id: str) -> bool: ...

        def plug_dimm_request(self, request: DimmRequest, *, hotplugged: bool) -> object: ...

        def plug_dimm_without_hotplug(self, request: DimmRequest) -> None: ...

        def plug_virtio_mem(
            self, request: VirtioMemRequest, *, hotplugged: bool, warnings: list[str]
        ) -> object: ...

        def device_property_names(self, driver: str) -> frozenset[str]: ...

        def plug_cpu(
            self, driver: str, device_id: str | None, props: Mapping[str, int],
            qom_path: str | None = None,
        ) -> object: ...


def add_device(
    host: DeviceHost,
    pairs: Sequence[tuple[str, Any]],
    *,
    hotplugged: bool,
    known_models: Container[str],
    from_json: bool = False,
    warnings: list[str] | None = None,
) -> None:
    """qdev's `device_add`/`-device` for pc-dimm and nvdimm, virtio-mem-pci (where the profile
    models it and the board has PCI), x86 CPUs, and (recorded only) other models.

    Checks run in QEMU's order (``qdev_device_add_from_qdict``): id syntax (text only), driver,
    whether a hot-plug handler takes the device, the name (duplicate id), property values, then
    the device's plug rules. A failure after naming unnames the device again. ``from_json``:
    the pairs are the members of a ``-device {JSON}`` (see :func:`parse_request`).
    """
    request = parse_request(pairs, from_json=from_json)
    driver = request.driver
    if driver not in known_models:
        raise MachineError(refusal_of_unknown_driver(host.profile, driver))
    simulated = driver in DIMM_DRIVERS or is_cpu_driver(driver)
    bus = dict(request.properties).get("bus")
    if hotplugged and not simulated and bus is None:
        refusal = hotplug_refusal(host.profile, host.machine_family, driver)
        if refusal is not None:
            raise MachineError(refusal)
    if simulated and isinstance(bus, str) and "/" not in bus:
        raise bus_refusal(host.machine_family, driver, bus)
    if hotplugged and simulated and not hotplug_handler_takes(host.machine_family, driver):
        # Neither sits on a bus: without the board's hot-plug handler nothing can take them.
        raise MachineError(f"Device '{driver}' can not be hotplugged on this machine")
    path = host.peripherals.attach(request.id)
    try:
        _create(host, request, path, hotplugged, [] if warnings is None else warnings)
    except MachineError:
        host.peripherals.detach(path)
        raise


def _create(
    host: DeviceHost, request: DeviceRequest, path: str, hotplugged: bool, warnings: list[str]
) -> None:
    """Set the named device's properties and plug it (its warnings go to ``warnings``)."""
    driver = request.driver
    if driver in DIMM_DRIVERS:
        values = dimm_properties(request, host)
        dimm = DimmRequest(
            request.id, values["memdev"], values["node"], values["slot"], values["addr"], path,
            driver, values["label-size"], values["unarmed"],
        )
        if host.supports_memory_hotplug:
            host.plug_dimm_request(dimm, hotplugged=hotplugged)
        else:
            host.plug_dimm_without_hotplug(dimm)
        return
    if (driver == VIRTIO_MEM_PCI and host.profile.virtio_mem is not None
            and has_pci_bus(host.machine_family)):
        from qmpnuma.machine.virtio_mem import VirtioMemRequest

        values = virtio_mem_properties(request, host)
        bus = dict(request.properties).get("bus")
        host.plug_virtio_mem(VirtioMemRequest(
            request.id, values["memdev"], values["node"], values["requested-size"],
            values["block-size"], values["memaddr"], path, values["prealloc"],
            bus if isinstance(bus, str) else None,
        ), hotplugged=hotplugged, warnings=warnings)
        return
    if is_cpu_driver(driver):
        props = cpu_properties(request, host.profile)
        if not hotplug_handler_takes(host.machine_family, driver) and _apic_id(request) is None:
            # no board pre-plug assigns the APIC id, so x86_cpu_realizefn finds none
            raise MachineError("apic-id property was not initialized properly")
        host.plug_cpu(driver, request.id, props, qom_path=path)
        return
    if request.id is not None:
        host.other_devices[request.id] = driver
