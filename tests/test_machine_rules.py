"""Every command-line validation run of spec §6.3 through ``Machine.from_argv``.

The spec records, for each run of the real QEMU 7.2.22, the exit status and the exact standard
error.  The model must print the same bytes (with QEMU's program name) and fail or start the same
way; a run QEMU accepted must build a machine whose ``warnings`` are exactly the printed lines.
A few cases are repeated inline so the rules stay covered even without the spec file.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from qmpnuma.errors import ConfigError
from qmpnuma.machine import Machine

PROG = "qemu-system-x86_64"
FIXED = ["-accel", "tcg", "-nodefaults", "-display", "none", "-S"]
SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "qemu-numa-spec.md"


def outcome(args: list[str]) -> tuple[int, str]:
    """Exit status (0 = started) and stderr of the model for ``args``."""
    try:
        machine = Machine.from_argv([*FIXED, *args], progname=PROG)
    except ConfigError as err:
        return err.status, err.stderr
    return 0, "".join(machine.warnings)


def spec_runs() -> list[tuple[str, list[str], int, str]]:
    """(name, args, status, stderr) of each §6.3 run; status 0 for "still running"."""
    if not SPEC.exists():
        return []
    text = SPEC.read_text()
    section = text[text.index("### 6.3") : text.index("## 7.")]
    runs = []
    for block in section.split("\n=== ")[1:]:
        lines = block.split("\n")
        name, argline, status_line = lines[0], lines[1], lines[2]
        assert argline.startswith("$ qemu-system-x86_64 ")
        rc = int(status_line.split()[0].removeprefix("rc="))
        err_lines = []
        for line in lines[3:]:
            if not line or line.startswith("```"):
                break
            err_lines.append(line + "\n")
        args = shlex.split(argline.removeprefix("$ qemu-system-x86_64 "))
        runs.append((name, args, 0 if rc == -9 else rc, "".join(err_lines)))
    return runs


RUNS = spec_runs()


def test_spec_runs_found() -> None:
    if not SPEC.exists():
        pytest.skip(f"spec not found at {SPEC}")
    assert len(RUNS) >= 100


@pytest.mark.parametrize(("name", "args", "status", "stderr"), RUNS, ids=[r[0] for r in RUNS])
def test_spec_validation_run(name: str, args: list[str], status: int, stderr: str) -> None:
    assert outcome(args) == (status, stderr)


INLINE = [
    (
        ["-M", "pc", "-m", "4G", "-smp", "4", "-object", "memory-backend-ram,id=m0,size=2G",
         "-object", "memory-backend-ram,id=m1,size=2G", "-numa", "node,nodeid=0,memdev=m0",
         "-numa", "node,nodeid=0,memdev=m1"],
        1,
        f"{PROG}: -numa node,nodeid=0,memdev=m1: Duplicate NUMA nodeid: 0\n",
    ),
    (
        ["-M", "pc-i440fx-5.0", "-m", "4G", "-smp", "4", "-numa", "node,nodeid=0,mem=2G",
         "-numa", "node,nodeid=1,mem=1G"],
        1,
        f"{PROG}: -numa node,nodeid=0,mem=2G: warning: Parameter -numa node,mem is deprecated, "
        "use -numa node,memdev instead\n"
        f"{PROG}: -numa node,nodeid=1,mem=1G: warning: Parameter -numa node,mem is deprecated, "
        "use -numa node,memdev instead\n"
        f"{PROG}: total memory for NUMA nodes (0xc0000000) should equal RAM size (0x100000000)\n",
    ),
    (
        ["-M", "pc", "-m", "4G", "-numa", "node,nodeid=0,mem=4G"],
        1,
        f"{PROG}: -numa node,nodeid=0,mem=4G: Parameter -numa node,mem is not supported by this "
        "machine type\nUse -numa node,memdev instead\n",
    ),
    (
        ["-M", "pc", "-m", "4G", "-smp", "4", "-object", "memory-backend-ram,id=m0,size=2G",
         "-object", "memory-backend-ram,id=m1,size=2G", "-numa",
         "node,nodeid=0,cpus=0,memdev=m0", "-numa", "node,nodeid=1,cpus=2,memdev=m1"],
        0,
        f"{PROG}: warning: CPU(s) not present in any NUMA nodes: CPU 1 [socket-id: 0, core-id: 1, "
        "thread-id: 0], CPU 3 [socket-id: 0, core-id: 3, thread-id: 0]\n"
        f"{PROG}: warning: All CPU(s) up to maxcpus should be described in NUMA config, ability "
        "to start up with partial NUMA mappings is obsoleted and will be removed in future\n",
    ),
    (
        ["-M", "pc", "-m", "4G", "-smp", "4", "-object", "memory-backend-ram,id=m0,size=2G",
         "-numa", "node,nodeid=0,memdev=m0", "-numa", "node,nodeid=1,memdev=m0"],
        1,
        f"{PROG}: memory backend m0 can't be used multiple times.\n",
    ),
    (
        ["-M", "pc", "-m", "1G", "-object", "memory-backend-ram,id=pc.ram,size=1G"],
        1,
        f"{PROG}: object name 'pc.ram' is reserved for the default RAM backend, it can't be "
        "used for any other purposes. Change the object's 'id' to something else\n",
    ),
    (
        ["-M", "pc", "-m", "abc"],
        1,
        f"{PROG}: -m abc: Parameter 'size' expects a non-negative number below 2^64\n"
        "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
        "and exabytes, respectively.\n",
    ),
    (
        ["-M", "pc", "-m", "2G,slots=2,maxmem=4G", "-object", "memory-backend-ram,id=m0,size=2G",
         "-numa", "node,memdev=m0", "-device", "pc-dimm,memdev=m0"],
        1,
        f"{PROG}: -device pc-dimm,memdev=m0: can't use already busy memdev: m0\n",
    ),
    (["-M", "pc", "-m", "4G,slots=4"], 1, f"{PROG}: slots specified but no max-size\n"),
    (["-M", "pc", "-m", "4G,maxmem=8G"], 0, ""),
]


@pytest.mark.parametrize(("args", "status", "stderr"), INLINE)
def test_inline_validation_run(args: list[str], status: int, stderr: str) -> None:
    assert outcome(args) == (status, stderr)


def test_order_argv_syntax_before_machine_rules() -> None:
    """A -m syntax error wins over an -smp error anywhere on the line (argv walk first)."""
    status, err = outcome(["-smp", "1000", "-m", "abc"])
    assert status == 1
    assert err.startswith(f"{PROG}: -m abc: Parameter 'size'")


def test_order_smp_before_memory_before_backends_before_numa() -> None:
    assert outcome(["-m", "4G,slots=4", "-smp", "1000"])[1].startswith(f"{PROG}: Invalid SMP")
    assert outcome(["-m", "4G,slots=4", "-object", "memory-backend-ram,id=m0,size=0"]) == (
        1, f"{PROG}: slots specified but no max-size\n")
    assert outcome(["-object", "memory-backend-ram,id=m0,size=0", "-numa", "foo"]) == (
        1, f"{PROG}: property 'size' of memory-backend-ram doesn't take value '0'\n")


def test_hex_size_with_suffix_warns_twice() -> None:
    """QEMU reads ``-m 0x10M`` twice (QemuOpts check with location, machine property without)."""
    assert outcome(["-m", "0x10M"]) == (
        0,
        f"{PROG}: -m 0x10M: warning: Using a multiplier suffix on hex numbers is deprecated: "
        "0x10M\n"
        f"{PROG}: warning: Using a multiplier suffix on hex numbers is deprecated: 0x10M\n",
    )


def test_default_program_name() -> None:
    with pytest.raises(ConfigError) as info:
        Machine.from_argv(["-m", "4G,slots=4"])
    assert info.value.stderr == "qmpnuma: slots specified but no max-size\n"
    assert info.value.status == 1
