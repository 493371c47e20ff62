"""Differential test of the machine model against each real QEMU (7.2, 10.0) on command lines
of its own.

These lines complement the spec's §6.3 runs and the generated suite: backing-file checks (no
file is ever created by the model; real QEMU only sees paths it cannot or need not create),
backend property setters, -m/-machine/-smp syntax corners, DIMM slot/address conflicts, HMAT
cache rules, deprecated machine types.  Exit status and stderr must be identical after the
program name is made the same.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import Reference
from qemu_runner import compare_startups, run_model


def command_lines(small_file: Path) -> list[str]:
    """The command lines; ``small_file`` is an existing 5-byte file (too small for a backend)."""
    SMALL = str(small_file)
    F = "-M pc -m 1G -object memory-backend-file,id=f,size=1G,"
    R = "-M pc -m 1G -object memory-backend-ram,id=r,size=1G,"
    H = (
        "-M pc,hmat=on -m 2G -smp 2 -object memory-backend-ram,id=m0,size=1G "
        "-object memory-backend-ram,id=m1,size=1G -numa "
        "node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,memdev=m1 -numa "
        "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=5 "
        "-numa "
        "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=200M "
    )
    D = (
        "-M pc -m 2G,slots=2,maxmem=4G -object memory-backend-ram,id=x,size=1G "
        "-object memory-backend-ram,id=y,size=512M "
    )
    lines = [
        F + "mem-path=/nonexistent-qmpnuma/x -numa node,memdev=f",
        F + f"mem-path={SMALL} -numa node,memdev=f",
        F + f"mem-path={SMALL}/sub -numa node,memdev=f",
        F + "mem-path=/proc -numa node,memdev=f",
        F + "mem-path=/dev/shm,align=3M -numa node,memdev=f",
        F + "mem-path=/dev/shm,align=1K -numa node,memdev=f",
        F + "mem-path=/dev/shm,policy=bind -numa node,memdev=f",
        "-M pc -m 1G -object memory-backend-ram,id=1m,size=1G",
        R + "share=maybe",
        R + "prealloc-threads=0",
        R + "host-nodes=1,policy=bind -numa node,memdev=r",
        R + "host-nodes=0-1,policy=preferred -numa node,memdev=r",
        R + "host-nodes=0,policy=interleave,merge=off,dump=off -numa node,memdev=r",
        R + "reserve=off,prealloc=on",
        "-M pc -m 1G,slots=-1,maxmem=2G",
        "-M pc -m 1.5",
        "-M pc -m 0x10M",
        "-M pc -m 1G,slots=x",
        "-M pc,foo=1",
        "-M pc,hmat=maybe",
        "-M pc -smp 2,foo=1",
        "-M pc -m 1G -numa node,foo",
        "-M pc -m 1G -smp 2 -numa node,nodeid=1 -numa node,cpus=5",
        "-M pc -m 1G -machine memory-backend=nosuch",
        "-M pc -m 1G -object iothread,id=io -machine memory-backend=io",
        "-M none -m 1G -numa node",
        D + "-object iothread,id=io -device pc-dimm,memdev=io",
        D + "-device pc-dimm,id=a,memdev=x -device pc-dimm,id=a,memdev=y",
        D + "-device pc-dimm,memdev=x,slot=0 -device pc-dimm,memdev=y,slot=0",
        D + "-device pc-dimm,id=a,memdev=x,addr=0x100000000 -device "
        "pc-dimm,id=b,memdev=y,addr=0x100000000",
        D + "-device pc-dimm,memdev=x,addr=0x300000000",
        D + "-device pc-dimm,memdev=x -device pc-dimm,memdev=y",
        "-M pc,acpi=off -m 2G,slots=2,maxmem=4G -object "
        "memory-backend-ram,id=x,size=1G -device pc-dimm,memdev=x",
        H + "-numa "
        "hmat-cache,node-id=0,size=10K,level=2,associativity=direct,policy=write-back,line=8",
        H + "-numa hmat-lb,initiator=0,target=0,hierarchy=memory,"
        "data-type=access-latency,latency=7",
        H + "-numa "
        "hmat-cache,node-id=0,size=10K,level=4,associativity=direct,policy=write-back,line=8",
        H + "-numa "
        "hmat-cache,node-id=0,size=10K,level=1,associativity=direct,policy=write-back,line=8 "
        "-numa "
        "hmat-cache,node-id=0,size=5K,level=2,associativity=direct,policy=write-back,line=8",
        "-M pc-i440fx-1.4 -m 1G",
        "-M pc -m 1G -object memory-backend-ram,id=pc.ram,size=1G -numa node,memdev=pc.ram",
        "-M pc-i440fx-2.10 -m 1G,slots=2,maxmem=2G -smp 2",
        "-M pc -m 1G -smp 4,sockets=2,dies=2 -numa node,cpus=0-3 -numa cpu,node-id=0,die-id=1",
        "-M q35 -m 3G -smp 3 -object memory-backend-ram,id=m0,size=1G -object "
        "memory-backend-ram,id=m1,size=1G -object "
        "memory-backend-ram,id=m2,size=1G -numa node,memdev=m0 -numa "
        "node,memdev=m1 -numa node,memdev=m2 -numa dist,src=0,dst=1,val=20 "
        "-numa dist,src=1,dst=2,val=20 -numa dist,src=2,dst=0,val=30",
        "-M pc -m 1G -object "
        "memory-backend-memfd,id=x,size=1G,seal=off,hugetlb=off -numa "
        "node,memdev=x",
        "-M pc -m 1G -object memory-backend-ram,id=x,size=1G -object "
        "memory-backend-ram,id=y,size=1G,prealloc-context=nosuch",
    ]
    json_head = '"qom-type":"memory-backend-ram","id":"m0"'
    for extra in ('"size":1048576,"prealloc-threads":"x"', '"size":1048576,"policy":5',
                  '"size":1048576,"host-nodes":"0"', '"size":1.5', '"size":true',
                  '"size":1048576,"prealloc-threads":-1', '"size":1048576,"share":"on"',
                  '"size":1048576,"foo":1', '"size":1073741824'):
        lines.append(f"-m 1G -object '{{{json_head},{extra}}}' -numa node,memdev=m0")
    lines.append("-m 1G -object '{\"id\":\"m0\",\"size\":1}'")
    lines.append("-m 1G -object '{\"qom-type\":\"memory-backend-ram\",\"id\":\"1m\","
                 "\"size\":1048576}'")
    twice = "-object '{\"qom-type\":\"memory-backend-ram\",\"id\":\"m0\",\"size\":1048576}'"
    lines.append(f"-m 1G {twice} {twice}")
    lines += residue_lines()
    return lines


def residue_lines() -> list[str]:
    """The examples each syntax residue class was found with, and the rule found behind it."""
    return [
        # empty option values: no element at all (QemuOpts, keyval), so no implied key either
        "-m ''", "-numa ''", "-smp ''", "-machine ''", "-M ''", "-object ''", "-device ''",
        "-M pc -m 2G,slots=2,maxmem=4G -device pc-dimm,memdev=",
        # exotic sizes: qemu_strtosz (a fraction with E, hex with a suffix and junk, wrap)
        "-m 1.5E", "-m 0.5E", "-m 1536M,slots=2,maxmem=0XffKB", "-M pc -m 18446744073709551615B",
        "-M pc -m 1G -numa node,mem=0x1M",
        # several unknown parameters: GHashTable order (OptsVisitor, QObject visitor, keyval
        # leftovers), QDict order (machine properties, -device), list order (-m)
        "-object memory-backend-ram,id=a,size=1G,foo=1,bar=2",
        "-object '{\"qom-type\":\"memory-backend-ram\",\"id\":\"a\",\"size\":1048576,"
        "\"foo\":1,\"bar\":2}'",
        "-numa node,foo=1,bar=2", "-smp 2,foo=1,bar=2", "-M pc,foo=1,hmat=x",
        "-M pc,foo=1 -smp x", "-m 1G,zz=1,aa=2", "-M pc,memory.foo=1,smp.bar=2",
        "-object authz-list,id=x,rules=1", "-object pef-guest,id=x",
        # -M none: no hot-plug handler, pc_dimm_realize checks the node before the backend
        "-M none -m 512M -device pc-dimm,id=d0,node=0x100000",
        "-M none -object memory-backend-ram,id=a,size=128M -device pc-dimm,memdev=a "
        "-device pc-dimm,memdev=a",
        # pc_memory_init: phys-bits per CPU model, the AMD 1 TiB hole, device-memory overflow
        "-M pc -m 1G,slots=2,maxmem=1020G", "-M pc -m 1G,slots=2,maxmem=1020G -cpu Conroe",
        "-M pc -m 1G,slots=2,maxmem=1020G -cpu qemu32",
        "-M pc -m 1G,slots=2,maxmem=1020G -cpu pentium3",
        "-M pc-i440fx-7.0 -m 1G,slots=2,maxmem=1100G",
        "-M pc-i440fx-2.9 -m 4096M,slots=2,maxmem=17179869183G",
    ]


@pytest.fixture()
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "small"
    path.write_bytes(b"hello")
    return path


def test_machine_model_matches_qemu(reference: Reference, small_file: Path) -> None:
    cases = [shlex.split(line) for line in command_lines(small_file)]
    assert len(cases) >= 30
    real, diffs = compare_startups(reference.binary, cases, reference.profile)
    print(f"\nmachine lines [qemu-{reference.profile}]: identical "
          f"{len(cases) - len(diffs)}/{len(cases)}")
    assert not diffs, f"{len(diffs)} differ:\n" + "\n".join(diffs)
    assert {ref.status for ref in real} == {0, 1}


def test_model_never_creates_backing_files(tmp_path: Path) -> None:
    """A missing file in a writable directory is accepted without being created."""
    target = tmp_path / "guest-ram"
    args = ["-M", "pc", "-m", "1G", "-object",
            f"memory-backend-file,id=f,size=1G,mem-path={target}", "-numa", "node,memdev=f"]
    assert run_model(args).status == 0
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
