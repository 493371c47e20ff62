"""The differential suite: real QEMU 7.2 and qmpnuma on the same command lines.

Every validation run recorded in the spec's §6.3 and a few hundred generated command lines (seeded,
valid and invalid, every machine type family and option kind) must give the same exit status and
the same standard error, byte for byte, after the program name is made the same.
"""

from __future__ import annotations

import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cmdline_gen import RESIDUE_MUTATIONS, generate, generate_residue
from qemu_runner import Outcome, run_model, run_real

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "qemu-numa-spec.md"
GENERATED_SEED = 20261126
GENERATED_COUNT = 240
RESIDUE_SEED = 20261203
RESIDUE_COUNT = 240


def spec_cases() -> list[tuple[str, list[str]]]:
    """The named command lines of spec §6.3 (their recorded output is not used: QEMU decides)."""
    if not SPEC.exists():
        return []
    text = SPEC.read_text()
    section = text[text.index("### 6.3") : text.index("## 7.")]
    cases = []
    for match in re.finditer(r"^=== (\S+)\n\$ qemu-system-x86_64 (.*)$", section, re.M):
        cases.append((match.group(1), shlex.split(match.group(2))))
    return cases


def _compare(qemu: str, cases: list[list[str]]) -> list[str]:
    """Run each case on both sides; return a readable report of every difference."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        real = list(pool.map(lambda args: run_real(qemu, args), cases))
    diffs = []
    for args, ref in zip(cases, real, strict=True):
        ours = run_model(args)
        if ours != ref:
            diffs.append(f"{shlex.join(args)}\n  qemu:    {ref}\n  qmpnuma: {ours}")
    return diffs


def test_spec_cases_present() -> None:
    if not SPEC.exists():
        pytest.skip(f"spec not found at {SPEC}")
    assert len(spec_cases()) >= 100


def test_spec_validation_runs(qemu_binary: str) -> None:
    cases = [args for _, args in spec_cases()]
    if not cases:
        pytest.skip(f"spec not found at {SPEC}")
    diffs = _compare(qemu_binary, cases)
    assert not diffs, f"{len(diffs)}/{len(cases)} spec cases differ:\n" + "\n".join(diffs)


def test_generated_command_lines(qemu_binary: str) -> None:
    cases = generate(GENERATED_SEED, GENERATED_COUNT)
    diffs = _compare(qemu_binary, cases)
    assert not diffs, f"{len(diffs)}/{len(cases)} generated cases differ:\n" + "\n".join(diffs)


def test_generator_reaches_both_outcomes(qemu_binary: str) -> None:
    """The generated set must exercise accepted and rejected configurations alike."""
    cases = generate(GENERATED_SEED, 40)
    outcomes: list[Outcome] = [run_real(qemu_binary, args) for args in cases]
    statuses = {o.status for o in outcomes}
    assert statuses == {0, 1}


def test_generated_residue_classes(qemu_binary: str) -> None:
    """Random command lines for each syntax residue class: empty option values, exotic size
    spellings, several unknown parameters in one option, DIMMs with -device on `-M none`."""
    cases = generate_residue(RESIDUE_SEED, RESIDUE_COUNT)
    assert len(cases) >= 60 * len(RESIDUE_MUTATIONS)
    diffs = _compare(qemu_binary, cases)
    assert not diffs, f"{len(diffs)}/{len(cases)} residue cases differ:\n" + "\n".join(diffs)
