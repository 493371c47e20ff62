"""The differential suite: each real QEMU (7.2, 10.0) and qmpnuma with its profile on the same
command lines.

The recorded rule table (``tests/data/[qemu-X.Y/]recorded-command-lines.json``, made from the input
list ``tests/data/command-lines.json`` by ``scripts/record_test_data.py``, one recording per
binary) and a few hundred generated command lines (seeded, valid and invalid, every machine type
family of the profile and option kind) must give the same exit status and the same standard
error, byte for byte, after the program name is made the same. The recorded answers must also
still be what the installed binary says.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cmdline_gen import RESIDUE_MUTATIONS, generate, generate_residue
from conftest import DATA, Reference, recorded_data, recording_path
from qemu_runner import Outcome, compare_startups, run_model, run_real

INPUT = DATA / "command-lines.json"
GENERATED_SEED = 20261126
GENERATED_COUNT = 240
RESIDUE_SEED = 20261203
RESIDUE_COUNT = 240


@pytest.fixture(scope="module")
def recording(reference: Reference) -> dict[str, Any]:
    recorded: dict[str, Any] = recorded_data(
        recording_path("recorded-command-lines.json", reference.profile))
    return recorded


def recorded_cases(recording: dict[str, Any]) -> list[dict[str, Any]]:
    """Every recorded command line with its outcome, in the order of the rule table."""
    return [case for group in recording["rules"].values() for case in group]


def _compare(reference: Reference, cases: list[list[str]]) -> list[str]:
    """Run each case on both sides; return a readable report of every difference."""
    return compare_startups(reference.binary, cases, reference.profile)[1]


def _report(kind: str, reference: Reference, diffs: list[str], total: int) -> str:
    print(f"\n{kind} [qemu-{reference.profile}]: identical {total - len(diffs)}/{total}")
    return f"{len(diffs)}/{total} {kind} cases differ:\n" + "\n".join(diffs)


def test_recording_covers_the_input_list(recording: dict[str, Any]) -> None:
    """Every command line of the input list is recorded, under its rule (none stale, none lost)."""
    entries = json.loads(INPUT.read_text())["command-lines"]
    wanted = sorted((entry["rule"], entry["origin"], entry["args"]) for entry in entries)
    got = sorted((rule, case["origin"], case["args"])
                 for rule, group in recording["rules"].items() for case in group)
    assert got == wanted, "re-run scripts/record_test_data.py after editing the input list"
    assert len(got) >= 135


def test_recording_is_from_the_installed_qemu(reference: Reference,
                                              recording: dict[str, Any]) -> None:
    """The header names the binary the tests compare with (version and package)."""
    recorded = recording["header"]["recorded-from"]
    first = subprocess.run([reference.binary, "--version"], capture_output=True, text=True,
                           check=True).stdout.splitlines()[0]
    assert first == f"QEMU emulator version {recorded['version']} ({recorded['package']})"
    assert recorded["version"].startswith(f"{reference.profile}.")


def test_recorded_command_lines(reference: Reference, recording: dict[str, Any]) -> None:
    """The installed QEMU still answers as recorded, and qmpnuma answers the same."""
    cases = recorded_cases(recording)
    with ThreadPoolExecutor(max_workers=2) as pool:
        real = list(pool.map(lambda case: run_real(reference.binary, case["args"]), cases))
    stale, diffs = [], []
    for case, ref in zip(cases, real, strict=True):
        args = shlex.join(case["args"])
        if ref != Outcome(case["status"], case["stderr"]):
            stale.append(f"{args}\n  recorded: {case['status']} {case['stderr']!r}\n"
                         f"  qemu now: {ref}")
        ours = run_model(case["args"], reference.profile)
        if ours != ref:
            diffs.append(f"{args}\n  qemu:    {ref}\n  qmpnuma: {ours}")
    assert not stale, f"{len(stale)} recordings are stale:\n" + "\n".join(stale)
    assert not diffs, _report("recorded", reference, diffs, len(cases))
    _report("recorded", reference, diffs, len(cases))


def test_generated_command_lines(reference: Reference) -> None:
    cases = generate(GENERATED_SEED, GENERATED_COUNT, reference.profile)
    diffs = _compare(reference, cases)
    assert not diffs, _report("generated", reference, diffs, len(cases))
    _report("generated", reference, diffs, len(cases))


def test_generator_reaches_both_outcomes(reference: Reference) -> None:
    """The generated set must exercise accepted and rejected configurations alike."""
    cases = generate(GENERATED_SEED, 40, reference.profile)
    outcomes: list[Outcome] = [run_real(reference.binary, args) for args in cases]
    statuses = {o.status for o in outcomes}
    assert statuses == {0, 1}


def test_generated_residue_classes(reference: Reference) -> None:
    """Random command lines for each syntax residue class: empty option values, exotic size
    spellings, several unknown parameters in one option, DIMMs with -device on `-M none`."""
    cases = generate_residue(RESIDUE_SEED, RESIDUE_COUNT)
    assert len(cases) >= 60 * len(RESIDUE_MUTATIONS)
    diffs = _compare(reference, cases)
    assert not diffs, _report("residue", reference, diffs, len(cases))
    _report("residue", reference, diffs, len(cases))
