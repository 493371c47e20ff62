"""Recorded facts of QEMU's interface (see `scripts/record_qemu_facts.py`), loaded once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from qmpnuma.profiles.registry import DEFAULT_PROFILE

#: The profile whose binary the facts were recorded from (its ``facts_files``).
REFERENCE_PROFILE = DEFAULT_PROFILE


def _read(kind: str) -> dict[str, Any]:
    name = REFERENCE_PROFILE.facts_files[kind]
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


@cache
def hmp_help() -> dict[str, str]:
    """What QEMU 7.2's HMP prints for `help` and for `info` with no topic (plain newlines)."""
    texts: dict[str, str] = recorded_facts()["hmp-help"]
    return {line: text.replace("\r\n", "\n") for line, text in texts.items()}
