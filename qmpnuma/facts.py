"""Recorded facts of each profile's QEMU binary (see `scripts/record_qemu_facts.py`).

Every profile names its own files by kind in ``Profile.facts_files``; each file is read the
first time one of its facts is asked for, so a start-up that never asks pays nothing:

* ``facts``: device model names, HMP help texts, what the printing options print;
* ``interface``: the binary's answer to every static interface question (type lists, QOM and
  device property lists, CPU definitions and expansions, ...), one answer per line, parsed
  only when asked (:func:`interface_answer`);
* ``replies``: the probe's CPU expansions with properties;
* ``cpu-objects``: the first vCPU's QOM view for every CPU model;
* ``cpu-qom-set``: how ``qom-set`` treats each vCPU property.

A profile without a recorded binary has no files: its questions get the neutral answers
documented with each function.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from qmpnuma.profiles.profile import Profile

#: The accelerator whose interface answers are recorded completely; another one's file rows
#: hold only what differs (`scripts/record_qemu_facts.py`).
BASE_ACCELERATOR = "tcg"
#: The name the recorder asked about to learn the binary's "not found" answers.
UNKNOWN_NAME = "qmpnuma-unknown-name"


class NoRecordedFacts(LookupError):
    """The profile has no recorded file of that kind (a version without a binary)."""


def _file_name(profile: Profile, kind: str, *alternatives: str) -> str:
    """The file of ``kind`` (or of the first of ``alternatives`` the profile names: a
    profile may name a file for a single fact, such as ``device-names``, beside ``facts``)."""
    for wanted in (kind, *alternatives):
        if wanted in profile.facts_files:
            return profile.facts_files[wanted]
    raise NoRecordedFacts(f"profile {profile.name} has no recorded {kind} facts")


def _data_bytes(name: str) -> bytes:
    """The bytes of a file of ``qmpnuma/data`` (gunzipped when its name ends in ``.gz``)."""
    from importlib import resources  # only when a fact is asked for (a costly import)

    raw = resources.files("qmpnuma.data").joinpath(name).read_bytes()
    if name.endswith(".gz"):
        import gzip

        return gzip.decompress(raw)
    return raw


@cache
def _read_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_data_bytes(name))
    return data


def profile_facts(profile: Profile, kind: str) -> dict[str, Any]:
    """The JSON facts file of ``kind`` recorded from the profile's binary (read once)."""
    return _read_json(_file_name(profile, kind))


def has_facts(profile: Profile, kind: str) -> bool:
    """Whether the profile has a recorded file of ``kind``."""
    return kind in profile.facts_files


# -- the interface answers --------------------------------------------------------------------


@cache
def _interface_rows(name: str) -> dict[tuple[str, str, str], str]:
    """(accelerator, table, name) -> the recorded answer's JSON text."""
    text = _data_bytes(name).decode()
    rows: dict[tuple[str, str, str], str] = {}
    for line in text.splitlines():
        accel, table, key, answer = line.split("\t", 3)
        rows[(accel, table, key)] = answer
    return rows


def recorded_accelerators(profile: Profile) -> frozenset[str]:
    """The accelerators whose interface answers were recorded for the profile."""
    return frozenset(accel for accel, _, _ in _interface_rows(_file_name(profile, "interface")))


def interface_answer(profile: Profile, accel: str, table: str, name: str) -> dict[str, Any] | None:
    """The binary's reply (``{"return": ...}`` or ``{"error": {...}}``) to the question of
    ``table`` about ``name`` under ``accel``; None when the recording has no such name.

    Tables: ``plain`` (argument-less queries by command name), ``qom-list-properties`` and
    ``device-list-properties`` (by type name), ``query-cpu-model-expansion/static`` and
    ``.../full`` and ``.../base`` (by CPU model).
    """
    reply: dict[str, Any] | None = _interface_value(profile, accel, table, name)
    return reply


def interface_names(profile: Profile, accel: str, table: str, name: str) -> list[str] | None:
    """The recorded list of names of ``table`` for ``name`` (``crashed``: by command, the
    types that made QEMU abort; ``implementors``: by interface type, the types implementing
    it); None when nothing is recorded."""
    names: list[str] | None = _interface_value(profile, accel, table, name)
    return names


def _interface_value(profile: Profile, accel: str, table: str, name: str) -> Any:
    rows = _interface_rows(_file_name(profile, "interface"))
    text = rows.get((accel, table, name))
    if text is None:
        text = rows.get((BASE_ACCELERATOR, table, name))
    return None if text is None else json.loads(text)


def not_found_answer(profile: Profile, accel: str, table: str, name: str) -> dict[str, Any]:
    """The binary's answer for a name it does not know: its answer for `UNKNOWN_NAME` with
    ``name`` put in (QEMU quotes the name it was given)."""
    template = interface_answer(profile, accel, table, UNKNOWN_NAME)
    if template is None:
        raise NoRecordedFacts(f"no {table} answer recorded for an unknown name")
    return {"error": {key: value.replace(UNKNOWN_NAME, name) if isinstance(value, str) else value
                      for key, value in template["error"].items()}}


def crashed_names(profile: Profile, accel: str, command: str) -> frozenset[str]:
    """The type names whose ``command`` made the recorded binary abort."""
    return frozenset(interface_names(profile, accel, "crashed", command) or ())


# -- the other kinds ------------------------------------------------------------------------------


def device_model_names(profile: Profile) -> frozenset[str]:
    """The device models the profile's `-device`/`device_add` accept (`-device help`)."""
    return _device_names(_file_name(profile, "device-names", "facts"))


@cache
def _device_names(name: str) -> frozenset[str]:
    return frozenset(_read_json(name)["device-names"])


def recorded_replies(profile: Profile) -> dict[str, Any]:
    """The ``replies`` facts: ``probe`` maps an accelerator to recorded exchanges (``execute``,
    optional ``arguments``, then ``return`` or ``error``)."""
    return profile_facts(profile, "replies")


def recorded_cpu_object(profile: Profile, model: str,
                        variant: str | None = None) -> dict[str, Any] | None:
    """The first vCPU's ``qom-list`` answer and its ``qom-get`` answers by property name for
    the CPU model ``model`` (with TCG), or None when the binary had no such model.
    ``variant``: the topology, when it changes the vCPU (``multi-cpu``: several CPUs;
    ``multi-cpu-package``: a package of several logical CPUs; ``multi-die``: of several
    dies), as recorded from the binary."""
    return _cpu_object(_file_name(profile, "cpu-objects"), model, variant)


@cache
def _cpu_object(name: str, model: str, variant: str | None) -> dict[str, Any] | None:
    recorded = _read_json(name)
    entry: dict[str, Any] | None = recorded["models"].get(model)
    if entry is None:
        return None
    base: dict[str, Any] = recorded["models"][recorded["base"]]
    values = {**base["qom-get"], **entry["qom-get"]}
    listing = entry.get("qom-list", base["qom-list"])
    if variant is not None:
        values.update(entry["variants"][variant]["qom-get"])
        listing = entry["variants"][variant].get("qom-list", listing)
    return {"qom-list": listing, "qom-get": values}


def recorded_cpu_property_kinds(profile: Profile) -> dict[str, Any]:
    """Per CPU model, how QOM sets each vCPU property (``cpu-qom-set``): ``kind``
    (``writable``, ``realized``: settable until realize, ``readonly``) by name."""
    return profile_facts(profile, "cpu-qom-set")


#: The usage line of the recorded ``-help`` text names the binary as it was installed.
RECORDED_PROGRAM = "qemu-system-x86_64"


def recorded_text(profile: Profile, option: str) -> str | None:
    """What a printing option (``-help``, ``-device help``, ``-cpu help``, ...) printed on the
    profile's binary (None without a recording)."""
    if not has_facts(profile, "facts"):
        return None
    texts: dict[str, str] = profile_facts(profile, "facts")["command-line-texts"]
    return texts.get(option)


def command_line_help(profile: Profile, progname: str) -> str:
    """What ``-help``/``-h``/``--help`` print (``help()`` in vl.c): the recorded text of the
    profile's binary, its usage line naming ``progname`` as QEMU names the basename of its
    argv[0]. A profile without a recorded binary gets its version line and the usage line.
    """
    text = recorded_text(profile, "-help")
    if text is not None:
        return text.replace(f"usage: {RECORDED_PROGRAM} ", f"usage: {progname} ", 1)
    first = profile.version_text().splitlines()[0]
    return (f"{first}\nusage: {progname} [options] [disk_image]\n\n"
            "'disk_image' is a raw hard disk image for IDE hard disk 0\n")


def machine_property_help(profile: Profile, machine_type: str) -> str | None:
    """What ``-machine TYPE,help`` prints for a machine type of the profile's binary (None
    when the profile has no recorded binary or the binary had no such type)."""
    if not has_facts(profile, "facts"):
        return None
    recorded = profile_facts(profile, "facts")["machine-property-help"]
    index = recorded["types"].get(machine_type)
    if index is None:
        return None
    body: str = recorded["bodies"][index]
    return f"{machine_type}-machine options:\n{body}"


def hmp_help(profile: Profile) -> dict[str, str]:
    """What the profile's HMP prints for ``help`` and for ``info`` with no topic (plain
    newlines)."""
    return _hmp_help(_file_name(profile, "hmp-help", "facts"))


@cache
def _hmp_help(name: str) -> dict[str, str]:
    texts: dict[str, str] = _read_json(name)["hmp-help"]
    return {line: text.replace("\r\n", "\n") for line, text in texts.items()}


def device_property_help(profile: Profile, accel: str, driver: str) -> str | None:
    """What ``-device DRIVER,help`` prints (``qdev_device_help``): one ``name=<type>`` line
    per property of the binary's recorded ``device-list-properties`` answer, padded to column
    24 before `` - description`` and ``(default: ...)`` when it has either, the lines sorted
    as text; None when the recording has no such type. A type that is no device model raises
    ``LookupError`` with the binary's recorded refusal."""
    answer = interface_answer(profile, accel, "device-list-properties", driver)
    if answer is None:
        return None
    if "error" in answer:
        raise LookupError(answer["error"]["desc"])
    if not answer["return"]:
        return f"There are no options for {driver}.\n"
    lines = []
    for prop in answer["return"]:
        line = f"  {prop['name']}=<{prop['type']}>"
        if "description" in prop or "default-value" in prop:
            line = line.ljust(24) + f" - {prop.get('description', '')}"
            if "default-value" in prop:
                line += f" (default: {_help_default(profile, prop['default-value'])})"
        lines.append(line)
    return "\n".join([f"{driver} options:", *sorted(lines)]) + "\n"


def _help_default(profile: Profile, value: Any) -> str:
    """A property default as the help line shows it: JSON text, or plain text (a string
    unquoted, a boolean as on/off) where the profile's help prints it so."""
    if profile.device_help_plain_defaults:
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, str):
            return value
    return json.dumps(value)
