"""The properties of an x86 CPU device, as ``-device`` and ``device_add`` set them.

Before a device is realized qdev sets each given property with ``object_property_set``
(``qom/object.c``): the property must exist (``Property 'TYPE.NAME' not found``), must have a
setter (``Property 'TYPE.NAME' is not writable``), and its setter then visits the value with
the property's own type: a CPUID feature flag is a ``bool``, ``level`` a ``uint32``,
``family`` an ``int``, ``hv-no-nonarch-coresharing`` the ``OnOffAuto`` enum...

Names and types are facts recorded from the binary: the first vCPU's ``qom-list`` (facts
``cpu-objects``) and which properties QOM lets one set (facts ``cpu-qom-set``).
A vCPU gains its APIC and address-space children only when it is realized, so those are not
there yet when ``-device`` sets properties; a link without a check function (``parent_bus``)
has no setter.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from qmpnuma.profiles.profile import Profile
from qmpnuma.records import record

#: The model whose recorded properties stand for a CPU model that was not recorded (the
#: x86 CPU models share their class's properties).
FALLBACK_MODEL: Final = "qemu64"
CPU_TYPE_SUFFIX: Final = "-x86_64-cpu"
#: ``qom-list`` type names and the QAPI type their setters visit (others, such as links and
#: structures, are set without a check of the model's).
_VISITED_TYPES: Final[Mapping[str, str]] = {
    "bool": "bool",
    "int": "int",
    "int32": "int32",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "string": "str",
    "str": "str",
    "OnOffAuto": "OnOffAuto",
}
#: The enums among those types, for the visitor (``OnOffAuto`` in ``qapi/common.json``).
CPU_PROPERTY_SCHEMA: Final[Mapping[str, Mapping[str, Any]]] = {
    "OnOffAuto": {"meta-type": "enum", "values": ["auto", "on", "off"]},
}
#: Links added without a check function, hence without a setter.
_LINKS_WITHOUT_SETTER: Final = frozenset({"parent_bus"})
#: The plain object properties whose setters check a range after the visit
#: (``x86_cpuid_version_set_family``, ``..._set_model``, ``..._set_stepping``,
#: ``x86_cpuid_set_tsc_freq`` in target/i386/cpu.c); the refusal omits the type name.
INTEGER_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "family": (0, 0xFF + 0xF),
    "model": (0, 0xFF),
    "stepping": (0, 0xF),
    "tsc-frequency": (0, 2**63 - 1),
}
#: The CPUID version properties among them (``Profile.cpuid_version_visits_uint64``).
CPUID_VERSION_PROPERTIES: Final = frozenset({"family", "model", "stepping"})
#: ``x86_cpuid_set_vendor``: the vendor string is exactly 12 characters (three CPUID words).
VENDOR_LENGTH: Final = 12


@record(frozen=True)
class CpuProperty:
    """One property of an unrealized vCPU: the QAPI type its setter visits (None: not checked
    here) and whether it has a setter at all."""

    visit_type: str | None
    writable: bool


@cache
def cpu_property_table(profile: Profile, driver: str) -> Mapping[str, CpuProperty]:
    """The properties a CPU device of ``driver`` has before it is realized (the profile's
    recorded facts)."""
    from qmpnuma.facts import recorded_cpu_object, recorded_cpu_property_kinds  # when asked

    model = driver.removesuffix(CPU_TYPE_SUFFIX)
    recorded = recorded_cpu_object(profile, model) or recorded_cpu_object(profile, FALLBACK_MODEL)
    assert recorded is not None, "the fallback model is always recorded"
    listing: list[dict[str, str]] = recorded["qom-list"]
    all_kinds = recorded_cpu_property_kinds(profile)
    kinds: dict[str, str] = (all_kinds.get(model) or all_kinds[FALLBACK_MODEL])["kind"]
    table: dict[str, CpuProperty] = {}
    for entry in listing:
        name, type_name = entry["name"], entry["type"]
        if type_name.startswith("child<"):
            continue  # created by realize
        writable = kinds.get(name) != "readonly" and name not in _LINKS_WITHOUT_SETTER
        table[name] = CpuProperty(_VISITED_TYPES.get(type_name), writable)
    return table


def setter_refusal(name: str, value: Any, profile: Profile | None = None) -> str | None:
    """What a CPU property's setter says of a value its visit accepted (None: it takes it);
    ``profile`` gives the texts and how the version setters visit (default: 7.2's)."""
    if name in INTEGER_RANGES:
        low, high = INTEGER_RANGES[name]
        if profile is not None and profile.cpuid_version_visits_uint64 and (
            name in CPUID_VERSION_PROPERTIES
        ):
            value %= 2**64  # visit_type_uint64 takes a negative int64 as it is stored
        if not low <= value <= high:
            text = (profile.texts.cpu_property_out_of_range if profile is not None else
                    "Property .{name} doesn't take value {value} (minimum: {low}, maximum: {high})")
            return text.format(name=name, value=value, low=low, high=high)
    elif name == "vendor" and len(value) != VENDOR_LENGTH:
        text = (profile.texts.cpu_vendor_length if profile is not None else
                "Property '.{name}' doesn't take value '{value}'")
        return text.format(name=name, value=value)
    return None
