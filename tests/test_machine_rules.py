"""Every recorded command-line rule of the real QEMU 7.2 through ``Machine.from_argv``.

``tests/data/recorded-command-lines.json`` holds, per QEMU rule, command lines and what the real
binary did with each (exit status, 0 when it built the machine, and the exact standard error),
recorded by ``scripts/record_test_data.py``. The model must print the same bytes (with QEMU's
program name) and fail or start the same way; a run QEMU accepted must build a machine whose
``warnings`` are exactly the printed lines. Each test is named after the rule it checks.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
from conftest import DATA, recorded_data

from qmpnuma.errors import ConfigError
from qmpnuma.machine import Machine

PROG = "qemu-system-x86_64"
FIXED = ["-accel", "tcg", "-nodefaults", "-display", "none", "-S"]
RECORDING = DATA / "recorded-command-lines.json"
#: Rule names for parametrizing; the tests themselves load the file through ``recorded_data``
#: so that a missing recording skips (or fails under CI) instead of collecting nothing.
RULES = list(json.loads(RECORDING.read_text())["rules"]) if RECORDING.is_file() else []


def outcome(args: list[str]) -> tuple[int, str]:
    """Exit status (0 = started) and stderr of the model for ``args``."""
    try:
        machine = Machine.from_argv([*FIXED, *args], progname=PROG)
    except ConfigError as err:
        return err.status, err.stderr
    return 0, "".join(machine.warnings)


@pytest.fixture(scope="module")
def rules() -> dict[str, list[dict[str, Any]]]:
    recording: dict[str, Any] = recorded_data(RECORDING)
    return recording["rules"]


def test_rules_recorded(rules: dict[str, list[dict[str, Any]]]) -> None:
    """The rule table is there, with accepted and rejected command lines alike."""
    cases = [case for group in rules.values() for case in group]
    assert len(rules) >= 80 and len(cases) >= 135
    assert {case["status"] for case in cases} == {0, 1}
    assert any(case["status"] == 0 and case["stderr"] for case in cases), "no warning recorded"


@pytest.mark.parametrize("rule", RULES or ["(not recorded)"])
def test_rule(rule: str, rules: dict[str, list[dict[str, Any]]]) -> None:
    differences = []
    for case in rules[rule]:
        expected = (case["status"], case["stderr"])
        got = outcome(case["args"])
        if got != expected:
            differences.append(f"{shlex.join(case['args'])}\n  qemu:    {expected}\n"
                               f"  qmpnuma: {got}")
    assert not differences, "\n".join(differences)


def test_default_program_name() -> None:
    with pytest.raises(ConfigError) as info:
        Machine.from_argv(["-m", "4G,slots=4"])
    assert info.value.stderr == "qmpnuma: slots specified but no max-size\n"
    assert info.value.status == 1
