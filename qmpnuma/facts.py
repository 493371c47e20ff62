"""Recorded facts of QEMU's interface (see `scripts/record_qemu_facts.py`), loaded once."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE

#: The profile whose binary the facts were recorded from (its ``facts_files``).
REFERENCE_PROFILE = DEFAULT_PROFILE


def _read(kind: str) -> dict[str, Any]:
    name = REFERENCE_PROFILE.facts_files[kind]
    from importlib import resources  # only when a fact is asked for (costly import)

    data: dict[str, Any] = json.loads(resources.files("qmpnuma.data").joinpath(name).read_text())
    return data


@cache
def recorded_facts() -> dict[str, Any]:
    """The facts recorded from the reference QEMU 7.2 binary."""
    return _read("facts")


@cache
def device_model_names() -> frozenset[str]:
    """The device models QEMU 7.2's `-device`/`device_add` accept."""
    return frozenset(recorded_facts()["device-names"])


@cache
def recorded_replies() -> dict[str, Any]:
    """QMP answers of the reference binary to interface queries (`qemu-7.2-replies.json`).

    `probe` maps an accelerator to a list of recorded exchanges (`execute`, optional
    `arguments`, then `return` or `error`); `cpu-objects` maps an accelerator and a CPU model to
    the first vCPU's `qom-list` answer and its `qom-get` answers by property name.
    """
    return _read("replies")


#: The usage line of the recorded ``-help`` text names the binary as it was installed.
RECORDED_PROGRAM = "qemu-system-x86_64"


def command_line_help(profile: Profile, progname: str) -> str:
    """What ``-help``/``-h``/``--help`` print (``help()`` in vl.c): the recorded text of the
    profile's binary, its usage line naming ``progname`` as QEMU names the basename of its
    argv[0]. A profile without a recorded binary gets its version line and the usage line.
    """
    if profile is REFERENCE_PROFILE:
        text: str = recorded_facts()["command-line-texts"]["-help"]
        return text.replace(f"usage: {RECORDED_PROGRAM} ", f"usage: {progname} ", 1)
    first = profile.version_text().splitlines()[0]
    return (f"{first}\nusage: {progname} [options] [disk_image]\n\n"
            "'disk_image' is a raw hard disk image for IDE hard disk 0\n")


def machine_property_help(profile: Profile, machine_type: str) -> str | None:
    """What ``-machine TYPE,help`` prints for a machine type of the profile's binary (None
    when the profile has no recorded binary)."""
    if profile is not REFERENCE_PROFILE:
        return None
    recorded = recorded_facts()["machine-property-help"]
    body: str = recorded["bodies"][recorded["types"][machine_type]]
    return f"{machine_type}-machine options:\n{body}"


@cache
def hmp_help() -> dict[str, str]:
    """What QEMU 7.2's HMP prints for `help` and for `info` with no topic (plain newlines)."""
    texts: dict[str, str] = recorded_facts()["hmp-help"]
    return {line: text.replace("\r\n", "\n") for line, text in texts.items()}


@cache
def recorded_cpu_property_kinds() -> dict[str, Any]:
    """Per CPU model, how QOM sets each property of a vCPU (`qemu-7.2-cpu-qom-set.json`):
    ``kind`` (``writable``, ``realized``: settable until realize, ``readonly``) by name."""
    return _read("cpu-qom-set")
