"""Machine-type table: names, aliases, class flags, RAM split, -machine help, query-machines.

The differential tests compare the whole ``query-machines`` answer and the ``-machine help``
text with each reference QEMU (7.2 and 10.0), through the profile of its release.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
from typing import Any

import pytest
from conftest import Reference

from qmpnuma.errors import MachineError
from qmpnuma.machine.machine_types import (
    default_machine_type,
    machine_help_text,
    machine_types,
    query_machines,
    resolve_machine_type,
)
from qmpnuma.profiles import get_profile

P72 = get_profile("7.2")
P29 = get_profile("2.9")

GiB = 1 << 30
MiB = 1 << 20


def test_table_holds_every_7_2_type_in_query_machines_order() -> None:
    names = [t.name for t in machine_types(P72)]
    assert names == list(P72.machines.query_order or ())
    assert len(names) == 59
    assert "pc-i440fx-1.4" in names and "pc-i440fx-1.3" not in names
    assert "pc-q35-4.0.1" in names and "pc-q35-2.3" not in names


def test_aliases_and_default() -> None:
    assert resolve_machine_type("pc", P72).name == "pc-i440fx-7.2"
    assert resolve_machine_type("q35", P72).name == "pc-q35-7.2"
    assert resolve_machine_type(None, P72).name == "pc-i440fx-7.2"
    assert default_machine_type(P72).is_default
    assert [t.name for t in machine_types(P72) if t.alias] == ["pc-q35-7.2", "pc-i440fx-7.2"]


def test_default_profile_is_10_0() -> None:
    """Without a profile the tables are QEMU 10.0's (the default profile)."""
    assert resolve_machine_type(None).name == "pc-i440fx-10.0"
    assert resolve_machine_type("q35").name == "pc-q35-10.0"
    assert "pc-i440fx-1.7" not in {t.name for t in machine_types()}  # removed in 10.0


def test_unknown_machine_type_error() -> None:
    with pytest.raises(MachineError) as info:
        resolve_machine_type("foo", P72)
    assert info.value.message == "unsupported machine type"
    assert info.value.hints == ("Use -machine help to list supported machines",)


@pytest.mark.parametrize(
    ("name", "cpu_max", "prefer_sockets", "numa_mem", "memhp", "memdev"),
    [
        ("pc-i440fx-7.2", 255, False, False, True, True),
        ("pc-i440fx-6.2", 255, False, False, True, True),
        ("pc-i440fx-6.1", 255, True, False, True, True),
        ("pc-i440fx-5.1", 255, True, False, True, True),
        ("pc-i440fx-5.0", 255, True, True, True, False),
        ("pc-i440fx-2.11", 255, True, True, True, False),
        ("pc-i440fx-2.10", 255, True, True, False, False),
        ("pc-q35-7.2", 288, False, False, True, True),
        ("pc-q35-6.1", 288, True, False, True, True),
        ("pc-q35-2.8", 288, True, True, False, False),
        ("pc-q35-2.7", 255, True, True, False, False),
    ],
)
def test_versioned_flags(
    name: str, cpu_max: int, prefer_sockets: bool, numa_mem: bool, memhp: bool, memdev: bool
) -> None:
    machine_type = resolve_machine_type(name, P72)
    assert machine_type.cpu_max == cpu_max
    assert machine_type.prefer_sockets is prefer_sockets
    assert machine_type.numa_mem_supported is numa_mem
    assert machine_type.auto_enable_numa_with_memhp is memhp
    assert machine_type.auto_enable_numa_with_memdev is memdev
    assert machine_type.numa_mem_align_shift == 23
    assert machine_type.default_ram_size == 128 * MiB
    assert machine_type.dies_supported and not machine_type.clusters_supported


def test_unversioned_types() -> None:
    none = resolve_machine_type("none", P72)
    assert not none.numa_supported and not none.dies_supported and none.cpu_max == 1
    assert none.default_cpu_type is None and none.default_ram_id == "ram"
    isapc = resolve_machine_type("isapc", P72)
    assert isapc.default_cpu_type == "486-x86_64-cpu" and isapc.cpu_max == 1
    microvm = resolve_machine_type("microvm", P72)
    assert microvm.default_ram_id == "microvm.ram" and not microvm.hotpluggable_cpus
    assert resolve_machine_type("x-remote", P72).default_ram_id is None


def test_deprecated_and_alignment_flags() -> None:
    assert resolve_machine_type("pc-i440fx-1.7", P72).deprecated
    assert not resolve_machine_type("pc-i440fx-2.0", P72).deprecated
    assert not resolve_machine_type("pc-i440fx-1.7", P72).gigabyte_align
    assert resolve_machine_type("pc-i440fx-2.0", P72).gigabyte_align
    assert not resolve_machine_type("pc-i440fx-2.1", P72).enforce_aligned_dimm
    assert resolve_machine_type("pc-i440fx-2.2", P72).enforce_aligned_dimm


@pytest.mark.parametrize(
    ("name", "ram", "below", "above"),
    [
        ("pc", 4 * GiB, 3 * GiB, 1 * GiB),
        ("pc", 3584 * MiB, 3 * GiB, 512 * MiB),
        ("pc", 1 * GiB, 1 * GiB, 0),
        ("pc-i440fx-1.7", 4 * GiB, 0xE000_0000, 4 * GiB - 0xE000_0000),
        ("q35", 4 * GiB, 2 * GiB, 2 * GiB),
        ("q35", 2 * GiB, 2 * GiB, 0),
        ("q35", 0xB000_0000, 2 * GiB, 0x3000_0000),
    ],
)
def test_split_ram(name: str, ram: int, below: int, above: int) -> None:
    assert resolve_machine_type(name, P72).split_ram(ram) == (below, above)


def test_machine_info_of_e6_rows() -> None:
    rows = {row["name"]: row for row in query_machines(P72)}
    assert rows["pc-i440fx-7.2"] == {
        "name": "pc-i440fx-7.2", "alias": "pc", "is-default": True, "cpu-max": 255,
        "hotpluggable-cpus": True, "numa-mem-supported": False, "deprecated": False,
        "default-cpu-type": "qemu64-x86_64-cpu", "default-ram-id": "pc.ram",
    }
    assert rows["none"] == {
        "name": "none", "cpu-max": 1, "hotpluggable-cpus": False,
        "numa-mem-supported": False, "deprecated": False, "default-ram-id": "ram",
    }
    assert rows["pc-q35-5.0"]["numa-mem-supported"] is True


def test_help_text_layout() -> None:
    lines = machine_help_text(P72).splitlines()
    assert lines[:4] == [
        "Supported machines are:",
        "microvm              microvm (i386)",
        "pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)",
        "pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)",
    ]
    assert lines.index("pc-i440fx-2.12       Standard PC (i440FX + PIIX, 1996)") < lines.index(
        "pc-i440fx-2.1        Standard PC (i440FX + PIIX, 1996)"
    )
    assert lines[-3:] == [
        "isapc                ISA-only PC",
        "none                 empty machine",
        "x-remote             Experimental remote machine",
    ]


def test_profile_2_9_table() -> None:
    names = {t.name for t in machine_types(P29)}
    assert resolve_machine_type("pc", P29).name == "pc-i440fx-2.9"
    assert resolve_machine_type("q35", P29).name == "pc-q35-2.9"
    assert {"pc-1.3", "pc-0.10", "pc-i440fx-1.4", "pc-q35-2.4", "isapc", "none"} <= names
    assert not {"microvm", "x-remote", "pc-i440fx-2.10", "pc-q35-2.10"} & names
    with pytest.raises(MachineError):
        resolve_machine_type("pc-i440fx-7.2", P29)
    row = next(r for r in query_machines(P29) if r["name"] == "pc-i440fx-2.9")
    assert row == {
        "name": "pc-i440fx-2.9", "alias": "pc", "is-default": True, "cpu-max": 255,
        "hotpluggable-cpus": True,
    }
    assert resolve_machine_type("pc-q35-2.7", P29).cpu_max == 255
    assert not resolve_machine_type("pc", P29).dies_supported


# --- differential tests against the real QEMU ----------------------------------------------


def greeted_stream(path: str, proc: subprocess.Popen[Any], deadline: float) -> Any:
    """Connect to QEMU's QMP socket once it listens and read the greeting; retry while the
    socket is not ready yet. Returns the socket's binary stream, or None if QEMU exited."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(path)
            stream = sock.makefile("rwb")
            if stream.readline():
                sock.close()  # the stream keeps the connection open
                return stream
        except OSError:
            pass
        sock.close()
        time.sleep(0.02)
    raise AssertionError("QEMU did not offer QMP in time")


def _qmp_session(qemu: str, args: list[str], commands: list[dict[str, Any]]) -> list[Any]:
    """Start QEMU with a QMP socket, run the commands after negotiation, return replies."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "q.sock")
        proc = subprocess.Popen(
            [qemu, "-accel", "tcg", "-nodefaults", "-display", "none", "-S", *args,
             "-qmp", f"unix:{path},server=on,wait=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            stream = greeted_stream(path, proc, time.monotonic() + 20)
            assert stream is not None, proc.stderr.read() if proc.stderr else ""
            replies = []
            with stream:
                for command in [{"execute": "qmp_capabilities"}, *commands]:
                    stream.write(json.dumps(command).encode() + b"\n")
                    stream.flush()
                    reply = json.loads(stream.readline())
                    while "event" in reply:
                        reply = json.loads(stream.readline())
                    replies.append(reply)
            return replies[1:]
        finally:
            proc.kill()
            proc.wait()


@pytest.mark.qemu
def test_query_machines_matches_real_qemu(reference: Reference) -> None:
    (reply,) = _qmp_session(reference.binary, ["-M", "pc"], [{"execute": "query-machines"}])
    assert reply["return"] == query_machines(get_profile(reference.profile))


@pytest.mark.qemu
def test_machine_help_matches_real_qemu(reference: Reference) -> None:
    real = subprocess.run(
        [reference.binary, "-machine", "help"], capture_output=True, text=True, timeout=30
    )
    assert real.returncode == 0
    assert real.stdout == machine_help_text(get_profile(reference.profile))


@pytest.mark.qemu
def test_unknown_machine_matches_real_qemu(reference: Reference) -> None:
    real = subprocess.run(
        [reference.binary, "-M", "foo", "-display", "none"], capture_output=True, text=True,
        timeout=30,
    )
    with pytest.raises(MachineError) as info:
        resolve_machine_type("foo", get_profile(reference.profile))
    expected = "".join(
        f"{line}\n" for line in (f"qemu-system-x86_64: {info.value.message}", *info.value.hints)
    )
    assert (real.returncode, real.stderr) == (1, expected)
