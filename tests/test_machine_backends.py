"""Memory backends: defaults, the three creation stages and their texts, backing-file checks.

Backing-file checks run against temporary directories and files only; the model must never
create, truncate or write anything, which each test verifies by looking at the directory after.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import Reference

from qmpnuma.errors import ConfigError, MachineError, OptionError
from qmpnuma.host import probe_path
from qmpnuma.machine import Machine
from qmpnuma.machine.backends import build_backend
from qmpnuma.machine.host_facts import HostFacts, PathFacts
from qmpnuma.machine.mem_path import check_mem_path as check_path
from qmpnuma.machine.object_options import ObjectRequest, parse_object_option
from qmpnuma.machine.object_types import creatable_types
from qmpnuma.profiles import Profile, get_profile
from qmpnuma.qobject.hashing import qdict_order, tdb_hash

P29 = get_profile("2.9")
P72 = get_profile("7.2")

GiB = 1 << 30
MiB = 1 << 20


def check_mem_path(path: str, size: int, align: int) -> None:
    """The pure check over the facts the host edge reads for ``path``, with 7.2's texts."""
    check_path(path, size, align, probe_path(path), profile=P72)


def parse_object(text: str, seen: list[str], profile: Profile | str = "7.2") -> tuple[
    ObjectRequest, list[object]
]:
    warnings: list[object] = []
    request = parse_object_option(text, seen, get_profile(profile), warnings)  # type: ignore[arg-type]
    return request, warnings


def test_defaults_of_each_type() -> None:
    machine = Machine.from_argv(
        ["-m", "3G", "-smp", "3", "-object", "memory-backend-ram,id=r,size=1G",
         "-object", "memory-backend-memfd,id=mf,size=1G",
         "-object", "memory-backend-file,id=f,size=1G,mem-path=/dev/shm",
         "-numa", "node,memdev=r", "-numa", "node,memdev=mf", "-numa", "node,memdev=f"]
    )
    r, mf, f = (machine.backends[name] for name in ("r", "mf", "f"))
    assert (r.merge, r.dump, r.prealloc, r.share, r.reserve, r.policy, r.host_nodes) == (
        True, True, False, False, True, "default", [])
    assert r.prealloc_threads == 3
    assert (mf.share, mf.seal, mf.hugetlb, mf.hugetlbsize) == (True, True, False, 0)
    assert (f.share, f.align, f.readonly, f.discard_data, f.pmem) == (False, 0, False, False,
                                                                       False)
    assert not r.x_use_canonical_path_for_ramblock_id


def test_canonical_ramblock_id_default_for_old_machine_types() -> None:
    machine = Machine.from_argv(["-M", "pc-i440fx-4.0", "-m", "1G", "-object",
                                 "memory-backend-ram,id=r,size=1G", "-numa", "node,memdev=r"])
    assert machine.backends["r"].x_use_canonical_path_for_ramblock_id


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("memory-backend-ram,id=m0", "Parameter 'size' is missing"),
        ("memory-backend-ram,size=1G", "Parameter 'id' is missing"),
        ("id=x", "Parameter 'qom-type' is missing"),
        ("memory-backend-file,id=f,size=1G", "Parameter 'mem-path' is missing"),
        ("memory-backend-ram,id=m0,size=1Q", "Parameter 'size' expects a size value"),
        ("memory-backend-ram,id=m0,size=1G,foo=bar", "Invalid parameter 'foo'"),
        ("memory-backend-ram,id=m0,size=1G,policy=foo",
         "Parameter 'policy' does not accept value 'foo'"),
        ("memory-backend-ram,id=m0,size=1G,share=maybe", "Parameter 'share' expects 'on' or 'off'"),
        ("memory-backend-foo,id=x,size=1G",
         "Parameter 'qom-type' does not accept value 'memory-backend-foo'"),
        ("memory-backend-ram,id=1m,size=1G", "Parameter 'id' expects an identifier"),
        ("memory-backend-ram,id=m0,size=1G,host-nodes=3-1",
         "Parameter 'host-nodes' expects a uint64 value or range"),
    ],
)
def test_parse_stage_errors(text: str, message: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_object(text, [])
    assert info.value.message == message


def test_parse_stage_duplicate_id_and_ranges() -> None:
    with pytest.raises(OptionError, match="Duplicate ID 'm0' for object"):
        parse_object("memory-backend-ram,id=m0,size=1G", ["m0"])
    request, warnings = parse_object("memory-backend-ram,id=m0,size=1G,host-nodes=0-2,"
                                            "host-nodes=5,policy=bind", [])
    assert request.props["host-nodes"] == [0, 1, 2, 5]
    assert request.props["size"] == GiB and warnings == []


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"size": 0}, "property 'size' of memory-backend-ram doesn't take value '0'"),
        ({"size": MiB, "prealloc-threads": 0},
         "property 'prealloc-threads' of memory-backend-ram doesn't take value '0'"),
        ({"size": MiB, "host-nodes": [2000], "policy": "bind"}, "Invalid host-nodes value: 2000"),
        ({"size": MiB, "prealloc": True, "reserve": False},
         "'prealloc=on' and 'reserve=off' are incompatible"),
    ],
)
def test_setter_stage_errors(props: dict[str, object], message: str) -> None:
    with pytest.raises(MachineError) as info:
        build_backend(ObjectRequest("memory-backend-ram", "x", dict(props)), smp_cpus=1)
    assert info.value.message == message


def test_setters_run_in_qdict_order() -> None:
    """host-nodes is set before size (QDict bucket order), so its error wins (observed)."""
    assert qdict_order(["host-nodes", "size"]).index("host-nodes") < qdict_order(
        ["host-nodes", "size"]).index("size")
    with pytest.raises(MachineError, match="Invalid host-nodes value: 2000"):
        build_backend(ObjectRequest("memory-backend-ram", "x",
                                    {"size": 0, "host-nodes": [2000], "policy": "bind"}),
                      smp_cpus=1)
    assert tdb_hash("") == 12345


def test_completion_errors_leave_no_object() -> None:
    machine = Machine.from_argv(["-m", "1G"])
    with pytest.raises(MachineError, match="host-nodes must be set for policy interleave"):
        machine.add_backend("memory-backend-ram", "x", {"size": MiB, "policy": "interleave"})
    with pytest.raises(MachineError, match="host-nodes must be empty for policy default"):
        machine.add_backend("memory-backend-ram", "y", {"size": MiB, "host-nodes": [0]})
    assert [b.id for b in machine.memdev_order()] == ["pc.ram"]
    with pytest.raises(MachineError, match="Parameter 'size' is missing"):
        machine.add_backend("memory-backend-ram", "z", {})
    machine.add_backend("memory-backend-ram", "x", {"size": MiB})
    assert {b.id for b in machine.memdev_order()} == {"pc.ram", "x"}
    with pytest.raises(MachineError, match=r"object 'pc\.ram' is in use, can not be deleted"):
        machine.del_backend("pc.ram")
    machine.del_backend("x")
    with pytest.raises(MachineError, match="object 'x' not found"):
        machine.del_backend("x")


def test_numa_backend_in_use() -> None:
    machine = Machine.from_argv(["-m", "1G", "-object", "memory-backend-ram,id=m0,size=1G",
                                 "-numa", "node,memdev=m0"])
    with pytest.raises(MachineError, match="object 'm0' is in use, can not be deleted"):
        machine.del_backend("m0")


def _listing(path: Path) -> list[str]:
    return sorted(os.listdir(path))


def test_mem_path_missing_file_in_writable_dir_is_accepted(tmp_path: Path) -> None:
    check_mem_path(str(tmp_path / "ram"), GiB, 0)
    check_mem_path(str(tmp_path), GiB, 0)
    assert _listing(tmp_path) == []


def test_mem_path_errors(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"hello")
    cases = [
        (str(tmp_path / "nodir" / "ram"),
         f"can't open backing store {tmp_path}/nodir/ram for guest RAM: No such file or directory"),
        (f"{small}/sub", f"can't open backing store {small}/sub for guest RAM: Not a directory"),
        ("", "can't open backing store  for guest RAM: No such file or directory"),
        ("/proc", "can't open backing store /proc for guest RAM: No such file or directory"),
        (str(small), "backing store size 0x5 does not match 'size' option 0x40000000"),
    ]
    for path, message in cases:
        with pytest.raises(MachineError) as info:
            check_mem_path(path, GiB, 0)
        assert info.value.message == message
    assert small.read_bytes() == b"hello"
    assert _listing(tmp_path) == ["small"]


def test_mem_path_alignment(tmp_path: Path) -> None:
    with pytest.raises(MachineError, match="alignment 0x400 must be multiples of page size 0x1000"):
        check_mem_path(str(tmp_path), GiB, 1024)
    with pytest.raises(MachineError, match="alignment 0x300000 must be a power of two"):
        check_mem_path(str(tmp_path), GiB, 3 * MiB)
    check_mem_path(str(tmp_path), GiB, 2 * MiB)


def test_file_backend_errors_print_without_location(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Machine.from_argv(["-m", "1G", "-object",
                           f"memory-backend-file,id=f,size=1G,mem-path={tmp_path}/x/y",
                           "-numa", "node,memdev=f"], progname="qemu-system-x86_64")
    assert info.value.stderr == (
        f"qemu-system-x86_64: can't open backing store {tmp_path}/x/y for guest RAM: "
        "No such file or directory\n")


def test_profile_2_9_backend_properties() -> None:
    request, _ = parse_object("memory-backend-file,id=f,size=1G,mem-path=/tmp,share=on",
                                     [], profile=P29)
    assert request.props == {"size": GiB, "share": True, "mem-path": "/tmp"}
    with pytest.raises(OptionError, match=r"Property '\.reserve' not found"):
        parse_object("memory-backend-ram,id=r,size=1G,reserve=off", [], profile=P29)


def test_host_facts_are_handed_in() -> None:
    """The model asks only the facts it is given: a tiny host refuses a big RAM backend, and a
    fixed probe decides what a mem-path is."""
    tiny = HostFacts(reservable_bytes=512 * MiB)
    with pytest.raises(ConfigError, match=r"cannot set up guest memory 'pc\.ram'"):
        Machine.from_argv(["-m", "1G"], host=tiny)
    Machine.from_argv(["-m", "256M"], host=tiny)
    # the texts of a file too small differ: 7.2 "does not match", 10.0 "is too small ... plus
    # 'offset'" (checked in test_10_0_file_backend_offset_rom_and_pages)
    regular = HostFacts(probe_path=lambda path: PathFacts(is_regular=True, size=5,
                                                          can_read_write=True))
    with pytest.raises(ConfigError, match="backing store size 0x5 does not match"):
        Machine.from_argv(["-m", "1G", "-object",
                           "memory-backend-file,id=f,size=1G,mem-path=/anything",
                           "-numa", "node,memdev=f"], host=regular, profile=P72)


def test_creatable_object_types_are_the_binarys(reference: Reference) -> None:
    """The classes `-object` can create are the reference binary's user-creatable QOM types
    (the schema's ObjectType enum names more, e.g. pef-guest, which fail at creation), and its
    memory backends are among them."""
    requests = [
        {"execute": "qmp_capabilities"},
        {"execute": "qom-list-types",
         "arguments": {"implements": "user-creatable", "abstract": False}},
        {"execute": "quit"},
    ]
    proc = subprocess.run(
        [reference.binary, "-nodefaults", "-display", "none", "-S", "-accel", "tcg", "-qmp",
         "stdio"],
        input="".join(json.dumps(r) + "\n" for r in requests), capture_output=True, text=True,
        timeout=30, check=False,
    )
    replies = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    listing = next(r["return"] for r in replies if isinstance(r.get("return"), list))
    profile = get_profile(reference.profile)
    names = {item["name"] for item in listing}
    assert names == set(creatable_types(profile))
    assert {name for name in names if name.startswith("memory-backend-")} == set(
        profile.memory_backends)
    with pytest.raises(ConfigError, match="invalid object type: pef-guest"):
        Machine.from_argv(["-object", "pef-guest,id=p"], profile=profile)


P10 = get_profile("10.0")


def start_10_0(*args: str) -> str:
    """stderr of the 10.0 model for ``args`` ('' when it started)."""
    try:
        machine = Machine.from_argv(list(args), profile=P10, progname="qemu-system-x86_64")
    except ConfigError as err:
        return err.stderr
    return "".join(machine.warnings)


def test_10_0_file_backend_offset_rom_and_pages(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"hello")
    file_backend = "memory-backend-file,id=f,size=1M,mem-path="
    assert start_10_0("-object", f"{file_backend}{small},offset=4096") == (
        "qemu-system-x86_64: f backing store size 0x5 is too small for 'size' option 0x100000 "
        "plus 'offset' option 0x1000\n")
    assert start_10_0("-object", f"{file_backend}{tmp_path},offset=100") == (
        "qemu-system-x86_64: offset 0x64 must be multiples of page size 0x1000\n")
    assert start_10_0("-object", f"{file_backend}{tmp_path},rom=on") == (
        "qemu-system-x86_64: property 'rom' = 'on' is not supported with 'readonly' = 'off'\n")
    assert start_10_0("-object", f"memory-backend-file,id=f,size=1000,mem-path={tmp_path}") == (
        "qemu-system-x86_64: backend 'memory-backend-file' memory size must be multiple of "
        "4 KiB\n")
    # 7.2 has neither member
    with pytest.raises(ConfigError, match="Invalid parameter 'offset'"):
        Machine.from_argv(["-object", f"{file_backend}{tmp_path},offset=4096"], profile=P72)


def test_10_0_shm_backend() -> None:
    assert start_10_0("-M", "pc", "-m", "1G", "-object", "memory-backend-shm,id=s,size=1G",
                      "-numa", "node,memdev=s") == ""
    assert start_10_0("-object", "memory-backend-shm,id=s,size=1M,share=off") == (
        "qemu-system-x86_64: can't create shm backend with `share=off`\n")
    assert start_10_0("-object", "memory-backend-shm,id=s,size=1000") == (
        "qemu-system-x86_64: s backing store size 0x3e8 is too small for 'size' option 0x1000 "
        "plus 'offset' option 0x0\n")
    with pytest.raises(ConfigError, match="does not accept value 'memory-backend-shm'"):
        Machine.from_argv(["-object", "memory-backend-shm,id=s,size=1M"], profile=P72)
