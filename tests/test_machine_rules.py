"""Every recorded command-line rule of each real QEMU (7.2, 10.0) through ``Machine.from_argv``
with the profile of that binary.

``tests/data/[qemu-X.Y/]recorded-command-lines.json`` holds, per QEMU rule, command lines and
what the real binary did with each (exit status, 0 when it built the machine, and the exact standard
error), recorded by ``scripts/record_test_data.py``. The model must print the same bytes (with
QEMU's program name) and fail or start the same way; a run QEMU accepted must build a machine
whose ``warnings`` are exactly the printed lines. Each test is named after the profile and the
rule it checks.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
from conftest import REFERENCE_PROFILES, recorded_data, recording_path

from qmpnuma.errors import AbortExit, ConfigError
from qmpnuma.machine import Machine

PROG = "qemu-system-x86_64"
FIXED = ["-accel", "tcg", "-nodefaults", "-display", "none", "-S"]
RECORDING = "recorded-command-lines.json"


def _rule_names(profile: str) -> list[str]:
    path = recording_path(RECORDING, profile)
    return list(json.loads(path.read_text())["rules"]) if path.is_file() else []


#: (profile, rule) pairs for parametrizing; the tests themselves load the file through
#: ``recorded_data`` so that a missing recording skips (or fails under CI) instead of
#: collecting nothing.
PROFILE_RULES = [(profile, rule) for profile in REFERENCE_PROFILES
                 for rule in _rule_names(profile) or ["(not recorded)"]]


def outcome(args: list[str], profile: str) -> tuple[int, str]:
    """Exit status (0 = started) and stderr of the model for ``args``.

    An abort is reported as the recording saw it: QEMU ran daemonized, so its waiting parent
    exited 1.
    """
    try:
        machine = Machine.from_argv([*FIXED, *args], profile=profile, progname=PROG)
    except AbortExit as err:
        return 1, err.stderr
    except ConfigError as err:
        return err.status, err.stderr
    return 0, "".join(machine.warnings)


def profile_rules(profile: str) -> dict[str, list[dict[str, Any]]]:
    recording: dict[str, Any] = recorded_data(recording_path(RECORDING, profile))
    rules: dict[str, list[dict[str, Any]]] = recording["rules"]
    return rules


@pytest.mark.parametrize("profile", REFERENCE_PROFILES)
def test_rules_recorded(profile: str) -> None:
    """The rule table is there, with accepted and rejected command lines alike."""
    rules = profile_rules(profile)
    cases = [case for group in rules.values() for case in group]
    assert len(rules) >= 80 and len(cases) >= 135
    assert {case["status"] for case in cases} == {0, 1}
    assert any(case["status"] == 0 and case["stderr"] for case in cases), "no warning recorded"


@pytest.mark.parametrize(("profile", "rule"), PROFILE_RULES)
def test_rule(profile: str, rule: str) -> None:
    differences = []
    for case in profile_rules(profile)[rule]:
        expected = (case["status"], case["stderr"])
        got = outcome(case["args"], profile)
        if got != expected:
            differences.append(f"{shlex.join(case['args'])}\n  qemu:    {expected}\n"
                               f"  qmpnuma: {got}")
    assert not differences, "\n".join(differences)


def test_default_program_name() -> None:
    with pytest.raises(ConfigError) as info:
        Machine.from_argv(["-m", "4G,slots=4"])
    assert info.value.stderr == "qmpnuma: slots specified but no max-size\n"
    assert info.value.status == 1
