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
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from qmpnuma.errors import MachineError
from qmpnuma.machine.dimms import UNASSIGNED_SLOT
from qmpnuma.options.numbers import NumberError, qemu_strtou64
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
#: The topology properties of an x86 CPU (all int32 in QEMU).
CPU_ID_PROPERTIES = ("socket-id", "die-id", "cluster-id", "core-id", "thread-id", "node-id")
_RANGES = {
    "uint32_t": (0, (1 << 32) - 1),
    "uint64_t": (0, (1 << 64) - 1),
    "int32_t": (-(1 << 31), (1 << 31) - 1),
}


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
    """pc-dimm's properties from text, walked in QDict order as QEMU 7.2 sets them.

    Setting the `memdev` link resolves it on the spot, so a missing backend is reported before a
    later bad property, exactly as QEMU does.
    """
    values: dict[str, Any] = {"memdev": None, "node": 0, "slot": UNASSIGNED_SLOT, "addr": 0}
    given = dict(request.properties)
    for key in qdict_order(given):
        text = given[key]
        kind = DIMM_PROPERTIES.get(key)
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
        else:
            values[key] = _integer(key, text, kind[1])
    return values


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


class DeviceHost(Protocol):
    """What adding a device needs from the machine (``Machine`` provides it)."""

    device_ids: set[str]
    other_devices: dict[str, str]

    @property
    def supports_memory_hotplug(self) -> bool: ...

    def is_user_object(self, object_id: str) -> bool: ...

    def has_backend(self, object_id: str) -> bool: ...

    def plug_dimm(
        self, device_id: str | None = None, memdev: str | None = None, node: int = 0,
        slot: int = UNASSIGNED_SLOT, addr: int = 0, *, hotplugged: bool = True,
    ) -> object: ...

    def plug_dimm_without_hotplug(self, memdev: str | None, node: int) -> None: ...

    def plug_cpu(self, driver: str, device_id: str | None, props: Mapping[str, int]) -> object: ...


def add_device(
    host: DeviceHost,
    pairs: Sequence[tuple[str, str]],
    *,
    hotplugged: bool,
    known_models: Container[str],
) -> None:
    """qdev's `device_add`/`-device` for pc-dimm, x86 CPUs, and (recorded only) other models.

    Checks run in QEMU's order: id syntax, driver, duplicate id, property values, then the
    device's plug rules.
    """
    request = parse_request(pairs)
    driver = request.driver
    if driver not in known_models:
        raise MachineError(f"'{driver}' is not a valid device model name")
    if request.id is not None and request.id in host.device_ids:
        raise MachineError(f"Duplicate device ID '{request.id}'")
    if driver == "pc-dimm":
        values = dimm_properties(request, host)
        memdev = values["memdev"]
        if not host.supports_memory_hotplug:
            host.plug_dimm_without_hotplug(memdev, values["node"])
            return
        host.plug_dimm(
            request.id, memdev, values["node"], values["slot"], values["addr"],
            hotplugged=hotplugged,
        )
        return
    if is_cpu_driver(driver):
        host.plug_cpu(driver, request.id, cpu_properties(request))
        return
    if request.id is not None:
        host.device_ids.add(request.id)
        host.other_devices[request.id] = driver
