"""-smp completion and checks of every profile, each reference QEMU's texts checked on it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest
from conftest import Reference
from qemu_runner import run_model, run_real

from qmpnuma.errors import MachineError
from qmpnuma.machine.machine_types import resolve_machine_type
from qmpnuma.machine.smp import (
    ZERO_TOPOLOGY_WARNING,
    CpuTopology,
    default_topology,
    hierarchy_text,
    parse_smp,
)
from qmpnuma.profiles import get_profile

P72 = get_profile("7.2")
P29 = get_profile("2.9")

PROG = "qemu-system-x86_64"


def smp_config(text: str) -> dict[str, int]:
    """Test-only stand-in for the options room: ``4,cores=2`` → ``{"cpus": 4, "cores": 2}``."""
    config: dict[str, int] = {}
    for part in text.split(","):
        key, _, value = part.rpartition("=")
        config[key or "cpus"] = int(value, 0)
    return config


def run_7_2(text: str, machine: str = "pc") -> tuple[CpuTopology | None, list[str], str | None]:
    warnings: list[str] = []
    try:
        topology = parse_smp(smp_config(text), resolve_machine_type(machine, P72), P72, warnings)
    except MachineError as error:
        return None, warnings, error.message
    return topology, warnings, None


@pytest.mark.parametrize(
    ("machine", "text", "expected"),
    [
        ("pc", "4", CpuTopology(4, 4, 1, 1, 1, 4, 1)),
        ("pc-i440fx-6.1", "4", CpuTopology(4, 4, 4, 1, 1, 1, 1)),
        ("q35", "4", CpuTopology(4, 4, 1, 1, 1, 4, 1)),
        ("pc-q35-6.1", "4", CpuTopology(4, 4, 4, 1, 1, 1, 1)),
        ("pc", "8,sockets=4,cores=2", CpuTopology(8, 8, 4, 1, 1, 2, 1)),
        ("pc", "12,sockets=3,cores=2,threads=2", CpuTopology(12, 12, 3, 1, 1, 2, 2)),
        ("pc", "4,sockets=2", CpuTopology(4, 4, 2, 1, 1, 2, 1)),
        ("pc-i440fx-6.1", "4,cores=2", CpuTopology(4, 4, 2, 1, 1, 2, 1)),
        ("pc", "4,cores=2", CpuTopology(4, 4, 2, 1, 1, 2, 1)),
        ("pc", "4,sockets=2,cores=1", CpuTopology(4, 4, 2, 1, 1, 1, 2)),
        ("pc", "2,maxcpus=4", CpuTopology(2, 4, 1, 1, 1, 4, 1)),
        ("pc", "maxcpus=4", CpuTopology(4, 4, 1, 1, 1, 4, 1)),
        ("pc", "sockets=2,cores=3", CpuTopology(6, 6, 2, 1, 1, 3, 1)),
        ("pc", "8,dies=2", CpuTopology(8, 8, 1, 2, 1, 4, 1)),
        ("pc", "4,clusters=1", CpuTopology(4, 4, 1, 1, 1, 4, 1)),
        ("pc", "0", CpuTopology(1, 1, 1, 1, 1, 1, 1)),
        ("pc", "4,sockets=0", CpuTopology(4, 4, 1, 1, 1, 4, 1)),
    ],
)
def test_topology_7_2(machine: str, text: str, expected: CpuTopology) -> None:
    topology, _, error = run_7_2(text, machine)
    assert error is None
    assert topology == expected


def test_zero_values_warn_once() -> None:
    for text in ("0", "4,sockets=0", "4,threads=0,cores=0", "maxcpus=0"):
        _, warnings, error = run_7_2(text)
        assert error is None
        assert warnings == [ZERO_TOPOLOGY_WARNING]
    assert run_7_2("4")[1] == []


@pytest.mark.parametrize(
    ("machine", "text", "message"),
    [
        ("pc", "8,maxcpus=4",
         "Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets (1) * "
         "dies (1) * cores (4) * threads (1) == maxcpus (4) < smp_cpus (8)"),
        ("pc", "8,sockets=2,cores=2,threads=1",
         "Invalid CPU topology: product of the hierarchy must match maxcpus: sockets (2) * "
         "dies (1) * cores (2) * threads (1) != maxcpus (8)"),
        ("pc", "4,sockets=2,cores=2,threads=2,maxcpus=4",
         "Invalid CPU topology: product of the hierarchy must match maxcpus: sockets (2) * "
         "dies (1) * cores (2) * threads (2) != maxcpus (4)"),
        ("pc", "1000", "Invalid SMP CPUs 1000. The max CPUs supported by machine "
         "'pc-i440fx-7.2' is 255"),
        ("pc", "1,maxcpus=1000", "Invalid SMP CPUs 1000. The max CPUs supported by machine "
         "'pc-i440fx-7.2' is 255"),
        ("q35", "289", "Invalid SMP CPUs 289. The max CPUs supported by machine "
         "'pc-q35-7.2' is 288"),
        ("pc-q35-2.7", "256", "Invalid SMP CPUs 256. The max CPUs supported by machine "
         "'pc-q35-2.7' is 255"),
        ("none", "2", "Invalid SMP CPUs 2. The max CPUs supported by machine 'none' is 1"),
        ("none", "2,dies=2", "dies not supported by this machine's CPU topology"),
        ("pc", "4,clusters=2", "clusters not supported by this machine's CPU topology"),
        ("pc", "-1", "Invalid SMP CPUs -1. The max CPUs supported by machine "
         "'pc-i440fx-7.2' is 255"),
        ("pc", "4,cores=3",
         "Invalid CPU topology: product of the hierarchy must match maxcpus: sockets (1) * "
         "dies (1) * cores (3) * threads (1) != maxcpus (4)"),
        ("pc", "sockets=2,maxcpus=3",
         "Invalid CPU topology: product of the hierarchy must match maxcpus: sockets (2) * "
         "dies (1) * cores (1) * threads (1) != maxcpus (3)"),
    ],
)
def test_errors_7_2(machine: str, text: str, message: str) -> None:
    assert run_7_2(text, machine)[2] == message


def test_hierarchy_text_omits_unsupported_levels() -> None:
    topology = CpuTopology(2, 2, 2, 1, 1, 1, 1)
    assert hierarchy_text(topology, resolve_machine_type("none")) == (
        "sockets (2) * cores (1) * threads (1)"
    )
    assert default_topology() == CpuTopology()


# --- 2.9 profile (vl.c smp_parse; source-derived) ---------------------------------------------


def run_2_9(text: str, machine: str = "pc") -> CpuTopology | str:
    try:
        return parse_smp(smp_config(text), resolve_machine_type(machine, P29), P29)
    except MachineError as error:
        return error.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4", CpuTopology(4, 4, 1, 1, 1, 1, 1)),
        ("0", CpuTopology(1, 1, 1, 1, 1, 1, 1)),
        ("4,sockets=2", CpuTopology(4, 4, 2, 1, 1, 2, 1)),
        ("4,sockets=2,cores=2", CpuTopology(4, 4, 2, 1, 1, 2, 1)),
        ("4,cores=2", CpuTopology(4, 4, 1, 1, 1, 2, 1)),
        ("8,sockets=4,cores=2", CpuTopology(8, 8, 4, 1, 1, 2, 1)),
        ("4,sockets=3", CpuTopology(4, 4, 3, 1, 1, 1, 1)),
        ("2,maxcpus=4", CpuTopology(2, 4, 1, 1, 1, 1, 1)),
        ("sockets=2,cores=2", CpuTopology(4, 4, 2, 1, 1, 2, 1)),
        ("4,sockets=2,cores=2,threads=1,maxcpus=8", CpuTopology(4, 8, 2, 1, 1, 2, 1)),
    ],
)
def test_topology_2_9(text: str, expected: CpuTopology) -> None:
    assert run_2_9(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5,sockets=2,cores=2,threads=1",
         "cpu topology: sockets (2) * cores (2) * threads (1) < smp_cpus (5)"),
        ("4,maxcpus=2", "maxcpus must be equal to or greater than smp"),
        ("2,sockets=2,cores=2,threads=1,maxcpus=2",
         "cpu topology: sockets (2) * cores (2) * threads (1) > maxcpus (2)"),
        ("300", "Number of SMP CPUs requested (300) exceeds max CPUs supported by machine "
         "'pc-i440fx-2.9' (255)"),
    ],
)
def test_errors_2_9(text: str, message: str) -> None:
    assert run_2_9(text) == message


def test_2_9_q35_limit() -> None:
    assert run_2_9("289", "q35") == (
        "Number of SMP CPUs requested (289) exceeds max CPUs supported by machine "
        "'pc-q35-2.9' (288)"
    )


# --- differential: stderr and exit status of each real QEMU beside its profile -----------------


DIFFERENTIAL_CASES = [
    ("pc", "4,sockets=0"),
    ("pc", "8,maxcpus=4"),
    ("pc", "8,sockets=2,cores=2,threads=1"),
    ("q35", "289"),
    ("pc-q35-2.7", "256"),
    ("none", "2,dies=2"),
    ("pc", "4,clusters=2"),
    ("pc", "-1"),
    ("pc", "6,sockets=2,dies=3"),
    ("pc", "2,maxcpus=3,sockets=3"),
    # members 10.0 added (7.2: unexpected), the levels x86 lacks, modules in the hierarchy
    ("pc", "8,sockets=2,modules=2"),
    ("pc", "8,modules=3"),
    ("q35", "4,books=2"),
    ("q35", "4,drawers=2,books=1"),
    ("none", "4,modules=2,clusters=2,dies=2"),
    ("pc", "4,modules=0"),
    ("q35", "2,maxcpus=300"),
    ("q35", "300"),
]


@pytest.mark.qemu
@pytest.mark.parametrize(("machine", "text"), DIFFERENTIAL_CASES)
def test_against_real_qemu(reference: Reference, machine: str, text: str) -> None:
    args = ["-M", machine, "-smp", text]
    assert run_model(args, reference.profile) == run_real(reference.binary, args)


def test_10_0_rules() -> None:
    """10.0's -smp rules on the model alone (each also compared with the binary above)."""
    p10 = get_profile("10.0")

    def run(text: str, machine: str = "pc") -> tuple[CpuTopology | None, str | None]:
        try:
            return parse_smp(smp_config(text), resolve_machine_type(machine, p10), p10, []), None
        except MachineError as error:
            return None, error.message

    assert run("8,sockets=2,modules=2") == (CpuTopology(8, 8, 2, 1, 1, 2, 1, modules=2), None)
    assert run("0")[1] == "Invalid CPU topology: CPU topology parameters must be greater than zero"
    assert run("4,books=2")[1] == "books > 1 not supported by this machine's CPU topology"
    assert run("4,clusters=2,dies=2", "none")[1] == (
        "clusters > 1 not supported by this machine's CPU topology")
    assert run("8,modules=3")[1] == (
        "Invalid CPU topology: product of the hierarchy must match maxcpus: sockets (1) * "
        "dies (1) * modules (3) * cores (2) * threads (1) != maxcpus (8)")


#: qmpnuma under QEMU's program name (the profile comes from QMPNUMA_PROFILE).
QMPNUMA_AS_QEMU = [
    sys.executable, "-c",
    f"import sys; sys.argv[0] = {PROG!r}; from qmpnuma.cli import main; sys.exit(main())",
]


@pytest.mark.qemu
@pytest.mark.parametrize("text", ["256", "300", "2,maxcpus=300"])
def test_apic_id_limit_without_daemonize(reference: Reference, text: str) -> None:
    """Not daemonized, the process's own end: 7.2 refuses APIC ids from 255 up at board init
    (status 1), 10.0 aborts realizing the boot CPU with APIC id 255 (SIGABRT), or starts when
    no boot CPU needs x2APIC."""
    args = ["-accel", "tcg", "-nodefaults", "-display", "none", "-S", "-M", "q35", "-smp", text]
    seen = []
    for command, env in (([reference.binary], None),
                         (QMPNUMA_AS_QEMU, {**os.environ, "QMPNUMA_PROFILE": reference.profile})):
        with tempfile.TemporaryDirectory(prefix="smp-") as workdir:
            try:
                done = subprocess.run([*command, *args], capture_output=True, text=True,
                                      timeout=10, cwd=workdir, stdin=subprocess.DEVNULL,
                                      env=env, check=False)
                seen.append((done.returncode, done.stderr))
            except subprocess.TimeoutExpired:
                seen.append((0, "started"))
    assert seen[1] == seen[0]
