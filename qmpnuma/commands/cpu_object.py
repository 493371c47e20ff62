"""The vCPU objects of the QOM tree (`/machine/unattached/device[N]`, hot-plugged ones).

libvirt verifies the guest CPU after start-up by listing the first vCPU's QOM properties and
reading each of them (some 400 `qom-get`s). The property list, the values and the way `qom-set`
treats each property are facts of the CPU model, recorded per model from the profile's own
binary (`scripts/record_qemu_facts.py`); the topology properties (`socket-id`, `core-id`,
`apic-id`, `node-id`, ...) and `hotplugged` come from the model's CPU slot. This module only
describes a vCPU as an object; `qmpnuma.commands.qom` places it in the tree and serves
`qom-list`/`qom-get`/`qom-set` for every object alike.
"""

from __future__ import annotations

from typing import Any, Final

from qmpnuma.errors import QmpError
from qmpnuma.facts import recorded_cpu_object, recorded_cpu_property_kinds
from qmpnuma.machine import Machine
from qmpnuma.machine.cpu_properties import (
    CPU_TYPE_SUFFIX,
    CPUID_VERSION_PROPERTIES,
    FALLBACK_MODEL,
    INTEGER_RANGES,
    setter_refusal,
)
from qmpnuma.machine.cpu_slots import CpuSlot
from qmpnuma.machine.smp import CpuTopology
from qmpnuma.profiles.profile import Profile
from qmpnuma.records import record

STRING_PROPERTIES = frozenset({"vendor", "model-id"})
#: CPUID.1:EDX bit 28 (hyper-threading) and CPUID.80000001h:ECX bit 1 (CmpLegacy).
CPUID_HT = 1 << 28
CPUID_EXT3_CMP_LEG = 1 << 1
#: The properties that show them.
PACKAGE_FEATURES = frozenset({"ht", "cmp_legacy", "cmp-legacy", "feature-words"})
#: Vendors whose CPUs QEMU leaves CmpLegacy off for (``IS_INTEL_CPU``, ``IS_ZHAOXIN_CPU``).
INTEL_LIKE_VENDORS = frozenset({"GenuineIntel", "  Shanghai  ", "CentaurHauls"})
BOOL_PROPERTIES = frozenset({"start-powered-off"})


def package_variant(topology: CpuTopology) -> str | None:
    """Which recorded topology variant a vCPU follows (``x86_cpu_expand_features`` raises the
    CPUID level to 0x1F for several dies; QEMU 10.0 sets HT, and CMP_LEGACY on AMD, for a
    package of several logical CPUs; ``x86_cpu_apic_create`` gives a model without the APIC
    feature a local APIC when there are several CPUs). Each variant was recorded with two
    CPUs present."""
    if topology.dies > 1:
        return "multi-die"
    if topology.threads_per_socket > 1:
        return "multi-cpu-package"
    if topology.cpus > 1:
        return "multi-cpu"
    return None


def _recorded_cpu(profile: Profile, cpu_type: str, variant: str | None = None) -> dict[str, Any]:
    """The recorded vCPU of the model (of the fallback model when the binary had none such),
    with the values of the topology ``variant`` (`package_variant`)."""
    model = cpu_type.removesuffix(CPU_TYPE_SUFFIX)
    chosen = (recorded_cpu_object(profile, model, variant)
              or recorded_cpu_object(profile, FALLBACK_MODEL, variant))
    assert chosen is not None, "the fallback model is always recorded"
    return chosen


#: (profile name, CPU type, variant) -> the recorded listing after ``type``: recorded data,
#: asked for several times by every `qom-get` (libvirt asks some 400 at every start).
_LISTINGS: dict[tuple[str, str, str | None], tuple[tuple[str, str], ...]] = {}


def _listing(profile: Profile, cpu_type: str, variant: str | None) -> tuple[tuple[str, str], ...]:
    """The recorded vCPU ``qom-list`` of ``cpu_type`` after ``type``, as (name, type) pairs."""
    key = (profile.name, cpu_type, variant)
    listing = _LISTINGS.get(key)
    if listing is None:
        recorded: list[dict[str, str]] = _recorded_cpu(profile, cpu_type, variant)["qom-list"]
        listing = _LISTINGS[key] = tuple((entry["name"], entry["type"]) for entry in recorded
                                         if entry["name"] != "type")
    return listing


def _set_fact(profile: Profile, cpu_type: str, table: str, name: str) -> str | None:
    """Per model: ``kind`` of each property (``writable``, ``realized``: a qdev property fixed
    once realized, ``readonly``) and the name a refusal ``reported`` for an alias (the
    profile's ``cpu-qom-set`` facts, recorded from its binary)."""
    facts = recorded_cpu_property_kinds(profile)
    model = cpu_type.removesuffix(CPU_TYPE_SUFFIX)
    found: str | None = (facts.get(model) or facts[FALLBACK_MODEL])[table].get(name)
    return found


def _type_error(name: str, expected: str) -> QmpError:
    return QmpError("GenericError", f"Invalid parameter type for '{name}', expected: {expected}")


def _check_value(name: str, value: Any, profile: Profile) -> None:
    """What the setter of a writable CPU property refuses (the QObject visitor, then the range)."""
    if profile.cpuid_version_visits_uint64 and name in CPUID_VERSION_PROPERTIES:
        # qobject_input_type_uint64: a number that fits uint64 or int64, else "expects"
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**64:
            raise QmpError("GenericError", f"Parameter '{name}' expects uint64")
    elif name in INTEGER_RANGES:
        # an int64 visitor: beyond int64, JSON gave a uint64 or a double (`qnum_get_try_int`)
        if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
            raise _type_error(name, "integer")
    elif name in STRING_PROPERTIES:
        if not isinstance(value, str):
            raise _type_error(name, "string")
    elif name in BOOL_PROPERTIES and not isinstance(value, bool):
        raise _type_error(name, "boolean")
    refusal = setter_refusal(name, value, profile)  # the range/length checks after the visit
    if refusal is not None:
        raise QmpError("GenericError", refusal)


@record
class CpuObject:
    """One realized vCPU as QOM shows it: its type, its listed properties, get and set."""

    machine: Machine
    slot: CpuSlot
    path: str

    @property
    def type_name(self) -> str:
        return self.machine.cpus.cpu_type or f"{FALLBACK_MODEL}{CPU_TYPE_SUFFIX}"

    @property
    def properties(self) -> tuple[tuple[str, str], ...]:
        """The recorded `qom-list` after `type`, in QEMU's order.

        The variants differ in their listing only by the ``lapic`` child a model without the
        APIC feature gets when the machine starts with several CPUs (``x86_cpu_realizefn``
        asks ``smp.cpus > 1``, not the package): one CPU present in a package of several
        keeps the plain listing with the package's values."""
        topology = self.machine.topology
        listed_variant = package_variant(topology) if topology.cpus > 1 else None
        return _listing(self.machine.profile, self.type_name, listed_variant)

    def _slot_value(self, name: str) -> tuple[bool, Any]:
        """The model's value of a position-dependent property, as (known, value)."""
        slot = self.slot
        values: dict[str, Any] = {
            "socket-id": slot.socket_id, "die-id": slot.die_id, "core-id": slot.core_id,
            "thread-id": slot.thread_id, "apic-id": slot.apic_id, "hotplugged": slot.hotplugged,
            "node-id": slot.node_id if slot.node_id is not None else -1,
            "module-id": slot.module_id,
        }
        if name in values:
            return True, values[name]
        if name in slot.qom_values:
            return True, slot.qom_values[name]
        return False, None

    def get(self, name: str) -> Any:
        known, value = self._slot_value(name)
        if known:
            return value
        cpu_type = self.type_name
        variant = package_variant(self.machine.topology)
        reply = _recorded_cpu(self.machine.profile, cpu_type, variant)["qom-get"].get(name)
        if reply is None:
            raise QmpError("GenericError", f"qmpnuma has no recorded value for {cpu_type}.{name}")
        if "error" in reply:
            desc = str(reply["error"]["desc"]).replace(
                f"{FALLBACK_MODEL}{CPU_TYPE_SUFFIX}", cpu_type
            )
            raise QmpError(reply["error"]["class"], desc)
        return self._with_package_features(name, self._with_compat(name, reply["return"]))

    def _with_compat(self, name: str, value: Any) -> Any:
        """A recorded value (from the newest machine type) as an older type has it: a type's
        compatibility properties are global defaults of the classes they name, applied in
        order when a vCPU is created (``object_apply_compat_props``), so a row for the CPU's
        own class or for ``x86_64-cpu`` sets the property back (10.0's types up to 9.0 turn
        ``x-amd-topoext-features-only`` off, for instance)."""
        from qmpnuma.commands.compat_props import compat_props  # only for vCPU questions

        classes = (self.type_name, X86_CPU_TYPE)
        for row in compat_props(self.machine.profile, self.machine.machine_type.name):
            if row["property"] == name and row["qom-type"] in classes:
                value = _compat_value(row["value"], value)
        return value

    def _with_package_features(self, name: str, value: Any) -> Any:
        """A recorded value (from a one-CPU machine) as this vCPU has it: with several logical
        CPUs per package, QEMU 9.2 on sets HTT, and CmpLegacy unless the vendor follows Intel,
        when it expands the features (``x86_cpu_expand_features``)."""
        if name not in PACKAGE_FEATURES or not self.machine.profile.cpu_features_follow_package:
            return value
        if self.machine.cpus.topology.threads_per_socket <= 1:
            return value
        cmp_legacy = self.get("vendor") not in INTEL_LIKE_VENDORS
        if name == "ht" or (name in ("cmp_legacy", "cmp-legacy") and cmp_legacy):
            return True
        if name != "feature-words":
            return value
        words = [dict(word) for word in value]
        for word in words:
            leaf, register = word["cpuid-input-eax"], word["cpuid-register"]
            if (leaf, register) == (1, "EDX"):
                word["features"] |= CPUID_HT
            elif (leaf, register) == (0x8000_0001, "ECX") and cmp_legacy:
                word["features"] |= CPUID_EXT3_CMP_LEG
        return words

    def set(self, name: str, value: Any) -> None:
        """`qom-set`: qdev properties are fixed once realized (`qdev_prop_set_after_realize`),
        a few object properties take a new value, the rest are read-only."""
        cpu_type = self.type_name
        kind = _set_fact(self.machine.profile, cpu_type, "kind", name)
        if kind == "readonly":
            raise QmpError("GenericError", f"Property '{cpu_type}.{name}' is not writable")
        if kind == "realized":
            device_id = self.path.removeprefix("/machine/peripheral/")
            device = f"device '{device_id}'" if device_id != self.path else "anonymous device"
            target = _set_fact(self.machine.profile, cpu_type, "reported", name) or name
            raise QmpError(
                "GenericError",
                f"Attempt to set property '{target}' on {device} (type '{cpu_type}') "
                "after it was realized",
            )
        if kind != "writable":
            raise QmpError("GenericError", f"qmpnuma does not model setting {cpu_type}.{name}")
        _check_value(name, value, self.machine.profile)
        if name == "tsc-frequency":  # kept in kHz (`x86_cpuid_set_tsc_freq`)
            value -= value % 1000
        self.slot.qom_values[name] = value


def cpu_objects(machine: Machine) -> list[CpuObject]:
    """The realized vCPUs, each at its QOM path, in CPU index order."""
    return [
        CpuObject(machine, slot, slot.qom_path)
        for slot in machine.cpus.slots
        if slot.qom_path is not None
    ]


#: The class every x86 vCPU model derives from (``TYPE_X86_CPU`` of the 64-bit target).
X86_CPU_TYPE: Final = "x86_64-cpu"


def _compat_value(text: str, recorded: Any) -> Any:
    """A compat property's string value, parsed as the property's type (the recorded value's
    type tells which: the string visitor of ``object_property_parse``)."""
    if isinstance(recorded, bool):
        return text in ("on", "true", "yes", "y")
    if isinstance(recorded, int):
        return int(text, 0)
    return text
