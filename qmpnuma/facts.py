"""Recorded facts of QEMU's interface (see `scripts/record_qemu_facts.py`), loaded once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def recorded_facts() -> dict[str, Any]:
    """The facts recorded from the reference QEMU 7.2 binary."""
    text = resources.files("qmpnuma.data").joinpath("qemu-7.2-facts.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


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
    text = resources.files("qmpnuma.data").joinpath("qemu-7.2-replies.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def hmp_help() -> dict[str, str]:
    """What QEMU 7.2's HMP prints for `help` and for `info` with no topic (plain newlines)."""
    texts: dict[str, str] = recorded_facts()["hmp-help"]
    return {line: text.replace("\r\n", "\n") for line, text in texts.items()}
