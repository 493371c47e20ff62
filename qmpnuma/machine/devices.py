"""`-device` and `device_add`/`device_del`: QEMU's qdev steps for the devices the model knows.

In QEMU 7.2 both paths meet in the same place: QMP's `device_add` turns its arguments into
QemuOpts (numbers become decimal strings, booleans `on`/`off`) and from there every property is
parsed from text, exactly as on the command line. So this module takes `(key, text)` pairs in the
order QEMU would walk them and applies qdev's order of checks: the id's syntax, the driver, a
duplicate id, each property's value, then the device's own plug rules (DIMM slots and addresses,
CPU topology), which live in `dimms.py` and `cpus.py`.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from qmpnuma.errors import MachineError, OptionError
from qmpnuma.machine.cpu_slots import peripheral_qom_path
from qmpnuma.machine.dimms import NVDIMM, PC_DIMM, UNASSIGNED_SLOT, DimmRequest
from qmpnuma.machine.qom_order import ObjectsContainer
from qmpnuma.options.numbers import NumberError, keyval_size, qapi_bool, qemu_strtou64
from qmpnuma.options.uuid_arg import uuid_wellformed
from qmpnuma.qobject.hashing import qdict_order

CPU_DRIVER_SUFFIX = "-x86_64-cpu"
_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*\Z")

#: pc-dimm's properties: kind of value and, for integers, the C type QEMU names in errors.
DIMM_PROPERTIES: dict[str, tuple[str, str]] = {
    "memdev": ("link", ""),
    "node": ("uint", "uint32_t"),
    "slot": ("int", "int32_t"),
    "addr": ("uint", "uint64_t"),
}
#: nvdimm adds its namespace label size, a UUID and the write-protect flag to pc-dimm's.
NVDIMM_PROPERTIES: dict[str, tuple[str, str]] = {
    **DIMM_PROPERTIES,
    "label-size": ("size", ""),
    "uuid": ("uuid", ""),
    "unarmed": ("bool", ""),
}
DIMM_DRIVERS: dict[str, dict[str, tuple[str, str]]] = {
    PC_DIMM: DIMM_PROPERTIES,
    NVDIMM: NVDIMM_PROPERTIES,
}
#: ``MIN_NAMESPACE_LABEL_SIZE``: the smallest label area an nvdimm accepts.
MIN_LABEL_SIZE = 128 << 10
#: The topology properties of an x86 CPU (all int32 in QEMU).
CPU_ID_PROPERTIES = ("socket-id", "die-id", "cluster-id", "core-id", "thread-id", "node-id")
_RANGES = {
    "uint32_t": (0, (1 << 32) - 1),
    "uint64_t": (0, (1 << 64) - 1),
    "int32_t": (-(1 << 31), (1 << 31) - 1),
}


class PlugRolledBack(MachineError):
    """The device was realized, then its board refused to plug it: QEMU unrealized it again,
    and each child device realize had created announced ``DEVICE_DELETED`` (``deleted``)."""

    def __init__(self, message: str, deleted: tuple[str, ...]) -> None:
        super().__init__(message)
        self.deleted = deleted


@dataclass(frozen=True)
class DeviceRequest:
    """A device as qdev receives it: driver, optional id, and its other properties as text."""

    driver: str
    id: str | None
    properties: tuple[tuple[str, str], ...]


def qmp_value_text(value: Any) -> str:
    """How QEMU's `qemu_opts_from_qdict` turns one JSON value into option text."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.17g}"
    if isinstance(value, str):
        return value
    raise MachineError("Invalid parameter type, expected: string")


def parse_request(pairs: Sequence[tuple[str, str]]) -> DeviceRequest:
    """Check the id's syntax and the driver's presence, as QEMU does before anything else."""
    device_id: str | None = None
    driver: str | None = None
    properties: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "id":
            device_id = value
        elif key == "driver":
            driver = value
        else:
            properties.append((key, value))
    if device_id is not None and not _ID_PATTERN.match(device_id):
        raise MachineError("Parameter 'id' expects an identifier")
    if driver is None:
        raise MachineError("Parameter 'driver' is missing")
    return DeviceRequest(driver, device_id, tuple(properties))


def _integer(key: str, text: str, ctype: str) -> int:
    """A property integer parsed by QEMU's string input visitor, range-checked per C type."""
    low, high = _RANGES[ctype]
    try:
        value = qemu_strtou64(text) if ctype.startswith("u") else _strtoi64(text)
    except (NumberError, ValueError):
        raise MachineError(f"Parameter '{key}' expects integer") from None
    if not low <= value <= high:
        raise MachineError(f"Parameter '{key}' expects {ctype}")
    return value


def _strtoi64(text: str) -> int:
    stripped = text.strip()
    negative = stripped.startswith("-")
    magnitude = qemu_strtou64(stripped[1:] if negative or stripped.startswith("+") else stripped)
    value = -magnitude if negative else magnitude
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(text)
    return value


def dimm_properties(request: DeviceRequest, host: DeviceHost) -> dict[str, Any]:
    """A DIMM's properties from text, walked in QDict order as QEMU 7.2 sets them.

    Setting the `memdev` link resolves it on the spot, so a missing backend is reported before a
    later bad property, exactly as QEMU does; an nvdimm's label size is checked by its setter.
    """
    values: dict[str, Any] = {
        "memdev": None, "node": 0, "slot": UNASSIGNED_SLOT, "addr": 0, "label-size": 0,
        "unarmed": False,
    }
    given = dict(request.properties)
    table = DIMM_DRIVERS[request.driver]
    for key in qdict_order(given):
        text = given[key]
        kind = table.get(key)
        if kind is None:
            raise MachineError(f"Property '{request.driver}.{key}' not found")
        if kind[0] == "link":
            if text == "":
                # object_set_link_property: an empty path clears the link.
                values[key] = None
                continue
            if host.is_user_object(text):
                raise MachineError(
                    "Invalid parameter type for 'memdev', expected: memory-backend"
                )
            if not host.has_backend(text):
                raise MachineError(f"Device '{text}' not found", "DeviceNotFound")
            values[key] = text
        elif kind[0] in ("size", "bool"):
            values[key] = _nvdimm_value(request.driver, key, kind[0], text)
        elif kind[0] == "uuid":
            if not uuid_wellformed(text):
                raise MachineError(f"Property '{request.driver}.{key}' has invalid value")
        else:
            values[key] = _integer(key, text, kind[1])
    return values


def _nvdimm_value(driver: str, key: str, kind: str, text: str) -> int | bool:
    """An nvdimm size or flag as the keyval visitor reads it, then its setter's own check."""
    try:
        if kind == "bool":
            return qapi_bool(key, text)
        value = keyval_size(key, text)
    except OptionError as err:
        raise MachineError(err.message) from None
    if value < MIN_LABEL_SIZE:
        raise MachineError(
            f"Property '{driver}.{key}' (0x{value:x}) is required at least 0x{MIN_LABEL_SIZE:x}"
        )
    return value


def cpu_properties(request: DeviceRequest) -> dict[str, int]:
    """The topology ids of a CPU device (other CPU properties, e.g. features, pass)."""
    given = dict(request.properties)
    return {
        key: _integer(key, given[key], "int32_t")
        for key in qdict_order(given)
        if key in CPU_ID_PROPERTIES
    }


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


class DeviceHost(Protocol):
    """What adding a device needs from the machine (``Machine`` provides it)."""

    peripherals: Peripherals
    other_devices: dict[str, str]

    @property
    def machine_family(self) -> str: ...

    @property
    def supports_memory_hotplug(self) -> bool: ...

    def is_user_object(self, object_id: str) -> bool: ...

    def has_backend(self, object_id: str) -> bool: ...

    def plug_dimm_request(self, request: DimmRequest, *, hotplugged: bool) -> object: ...

    def plug_dimm_without_hotplug(self, request: DimmRequest) -> None: ...

    def plug_cpu(
        self, driver: str, device_id: str | None, props: Mapping[str, int],
        qom_path: str | None = None,
    ) -> object: ...


def add_device(
    host: DeviceHost,
    pairs: Sequence[tuple[str, str]],
    *,
    hotplugged: bool,
    known_models: Container[str],
) -> None:
    """qdev's `device_add`/`-device` for pc-dimm, x86 CPUs, and (recorded only) other models.

    Checks run in QEMU's order (``qdev_device_add_from_qdict``): id syntax, driver, whether a
    hot-plug handler takes the device, the name (duplicate id), property values, then the
    device's plug rules. A failure after naming unnames the device again.
    """
    request = parse_request(pairs)
    driver = request.driver
    if driver not in known_models:
        raise MachineError(f"'{driver}' is not a valid device model name")
    simulated = driver in DIMM_DRIVERS or is_cpu_driver(driver)
    if hotplugged and simulated and not hotplug_handler_takes(host.machine_family, driver):
        # Neither sits on a bus: without the board's hot-plug handler nothing can take them.
        raise MachineError(f"Device '{driver}' can not be hotplugged on this machine")
    path = host.peripherals.attach(request.id)
    try:
        _create(host, request, path, hotplugged)
    except MachineError:
        host.peripherals.detach(path)
        raise


def _create(host: DeviceHost, request: DeviceRequest, path: str, hotplugged: bool) -> None:
    """Set the named device's properties and plug it."""
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
    if is_cpu_driver(driver):
        host.plug_cpu(driver, request.id, cpu_properties(request), qom_path=path)
        return
    if request.id is not None:
        host.other_devices[request.id] = driver
