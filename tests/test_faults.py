"""Fault injection: each fault happens exactly when the plan says, and only then."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from qemu.qmp import EventListener, ExecuteError, QMPClient

from qmpnuma.pytest_plugin import RunningMachine, start_machine
from qmpnuma.server.faults import FaultPlan, FaultRule, load_plan
from qmpnuma.server.instrument import split_instrument_options
from qmpnuma.server.trace import read_trace

DIMM_ARGS = [
    "-M", "pc", "-m", "1G,slots=2,maxmem=2G", "-S",
    "-object", "memory-backend-ram,id=d0,size=256M",
    "-device", "pc-dimm,id=dimm0,memdev=d0",
]
NEGOTIATE = b'{"execute": "qmp_capabilities"}\n'


async def _next_event(listener: EventListener) -> Any:
    """The next event as a plain dict (within 5 s)."""
    return dict(await asyncio.wait_for(listener.get(), 5))


async def _raw(vm: RunningMachine) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection that has read the greeting and negotiated."""
    reader, writer = await asyncio.open_unix_connection(vm.socket_path)
    await asyncio.wait_for(reader.readline(), 5)
    writer.write(NEGOTIATE)
    assert await asyncio.wait_for(reader.readline(), 5) == b'{"return": {}}\r\n'
    return reader, writer


async def _status_outcomes(vm: RunningMachine, count: int) -> list[str]:
    assert vm.client is not None
    outcomes = []
    for _ in range(count):
        try:
            await vm.client.execute("query-status")
        except ExecuteError as err:
            outcomes.append(err.error_class)
        else:
            outcomes.append("ok")
    return outcomes


async def test_nth_call_gets_the_error() -> None:
    plan = {"rules": [{"command": "query-status", "nth": 2,
                       "error": {"class": "DeviceNotFound", "desc": "gone"}}]}
    vm = await start_machine(["-m", "1G"], faults=plan)
    try:
        assert await _status_outcomes(vm, 4) == ["ok", "DeviceNotFound", "ok", "ok"]
        assert vm.faults.fired == [1]
        assert vm.commands == ["query-status"] * 4
    finally:
        await vm.close()


async def test_a_pipelined_burst_meets_its_faults_line_by_line() -> None:
    """A burst of one request shape with new ids (which qmpnuma otherwise answers as runs, at
    once) still meets a plan's rules call by call: the 5th and 9th replies are the errors and
    the command log holds every call, with the delay rule holding back the lines after it."""
    plan = {"rules": [{"command": "query-memdev", "nth": 5,
                       "error": {"class": "DeviceNotFound", "desc": "gone"}},
                      {"command": "query-memdev", "nth": 9, "delay": 0.1,
                       "error": {"desc": "late"}}]}
    vm = await start_machine(["-m", "1G"], faults=plan, connect=False)
    try:
        reader, writer = await _raw(vm)
        line = b'{"execute": "query-memdev", "id": %d}\n'
        writer.write(b"".join(line % n for n in range(1, 41)))
        replies = [json.loads(await asyncio.wait_for(reader.readline(), 5)) for _ in range(40)]
        assert [reply["id"] for reply in replies] == list(range(1, 41))
        failed = [reply["id"] for reply in replies if "error" in reply]
        assert failed == [5, 9]
        assert replies[4]["error"] == {"class": "DeviceNotFound", "desc": "gone"}
        assert replies[0]["return"] == replies[39]["return"]
        assert vm.commands == ["query-memdev"] * 40
        writer.close()
    finally:
        await vm.close()


async def test_seeded_share_is_reproducible() -> None:
    def plan(seed: int) -> dict[str, Any]:
        return {"seed": seed, "rules": [{"command": "query-status", "share": 0.5,
                                         "error": {"desc": "flaky"}}]}

    runs = []
    for seed in (7, 7, 8):
        vm = await start_machine(["-m", "1G"], faults=plan(seed))
        try:
            runs.append(await _status_outcomes(vm, 24))
        finally:
            await vm.close()
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert 0 < runs[0].count("GenericError") < 24


async def test_every_call_and_limit() -> None:
    plan = {"rules": [{"command": "*", "limit": 2, "error": {"desc": "no"}}]}
    vm = await start_machine(["-m", "1G"], faults=plan)
    try:
        assert await _status_outcomes(vm, 3) == ["GenericError", "GenericError", "ok"]
    finally:
        await vm.close()


async def test_delayed_reply_and_greeting() -> None:
    plan = {"greeting_delay": 0.3, "rules": [{"command": "query-name", "delay": 0.3}]}
    vm = await start_machine(["-m", "1G"], faults=plan, connect=False)
    try:
        started = time.monotonic()
        reader, writer = await asyncio.open_unix_connection(vm.socket_path)
        await asyncio.wait_for(reader.readline(), 5)
        assert time.monotonic() - started >= 0.3
        writer.write(NEGOTIATE)
        await reader.readline()
        started = time.monotonic()
        writer.write(b'{"execute": "query-name", "id": 1}\n')
        assert await asyncio.wait_for(reader.readline(), 5) == b'{"return": {}, "id": 1}\r\n'
        assert time.monotonic() - started >= 0.3
        writer.close()
    finally:
        await vm.close()


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("before", b""),
        ("during", b'{"return": {'),  # the first half of the 25 bytes
        ("after", b'{"return": {}, "id": 1}\r\n'),
    ],
)
async def test_close_around_the_reply(when: str, expected: bytes) -> None:
    plan = {"rules": [{"command": "query-name", "close": when}]}
    vm = await start_machine(["-m", "1G"], faults=plan, connect=False)
    try:
        reader, writer = await _raw(vm)
        writer.write(b'{"execute": "query-name", "id": 1}\n')
        received = await asyncio.wait_for(reader.read(), 5)  # read() returns at EOF
        assert received == expected
        writer.close()
        # the monitor accepts the next client as usual
        reader, writer = await _raw(vm)
        writer.write(b'{"execute": "query-name", "id": 2}\n')
        if when == "after":
            assert await reader.read() == b'{"return": {}, "id": 2}\r\n'
        writer.close()
    finally:
        await vm.close()


async def test_split_replies_arrive_whole(tmp_path: Path) -> None:
    trace = str(tmp_path / "t.jsonl")
    vm = await start_machine(["-m", "1G"], faults={"split": 3}, connect=False, trace=trace)
    try:
        reader, writer = await _raw(vm)
        writer.write(b'{"execute": "query-status", "id": "s"}\n')
        line = await asyncio.wait_for(reader.readline(), 5)
        assert json.loads(line)["return"]["status"] == "running"
        writer.close()
    finally:
        await vm.close()
    outs = [entry.data for entry in read_trace(trace) if entry.dir == "out"]
    assert len(outs) > 20
    assert max(len(piece) for piece in outs) == 3


async def test_events_twice_later_and_suppressed() -> None:
    plan = {
        "suppress_events": ["STOP"],
        "rules": [{"command": "stop", "events": [
            {"event": "RESUME", "before_reply": True},
            {"event": "POWERDOWN", "delay": 0.05, "times": 2, "interval": 0.05},
        ]}],
    }
    vm = await start_machine(["-m", "1G"], faults=plan, connect=False)
    try:
        reader, writer = await _raw(vm)
        writer.write(b'{"execute": "stop", "id": 1}\n')
        lines = [await asyncio.wait_for(reader.readline(), 5) for _ in range(4)]
        names = [json.loads(line).get("event", "reply") for line in lines]
        assert names == ["RESUME", "reply", "POWERDOWN", "POWERDOWN"]
        with pytest.raises(asyncio.TimeoutError):  # no STOP, nothing more
            await asyncio.wait_for(reader.readline(), 0.2)
        writer.close()
    finally:
        await vm.close()


async def test_emit_now_and_later_from_python() -> None:
    vm = await start_machine(["-m", "1G"])
    try:
        assert vm.client is not None
        listener = EventListener()
        with vm.client.listen(listener):
            vm.faults.emit("RESET", {"guest": True, "reason": "guest-reset"})
            vm.faults.emit_later(0.05, "POWERDOWN")
            first = await _next_event(listener)
            second = await _next_event(listener)
        assert first["event"] == "RESET" and first["data"]["reason"] == "guest-reset"
        assert second["event"] == "POWERDOWN"
    finally:
        await vm.close()


async def _memory_device_ids(client: QMPClient) -> list[str]:
    devices = await client.execute("query-memory-devices")
    assert isinstance(devices, list)
    return [device["data"]["id"] for device in devices]


async def test_cold_device_del_sends_nothing_without_faults() -> None:
    vm = await start_machine(DIMM_ARGS)
    try:
        assert vm.client is not None
        listener = EventListener()
        with vm.client.listen(listener):
            assert await vm.client.execute("device_del", {"id": "dimm0"}) == {}
            await asyncio.sleep(0.1)
            assert listener.empty()
        assert await _memory_device_ids(vm.client) == ["dimm0"]
    finally:
        await vm.close()


async def test_guest_accepts_unplug() -> None:
    plan = {"rules": [{"command": "device_del", "guest": "accept", "guest_delay": 0.05}]}
    vm = await start_machine(DIMM_ARGS, faults=plan)
    try:
        assert vm.client is not None
        listener = EventListener()
        with vm.client.listen(listener):
            await vm.client.execute("device_del", {"id": "dimm0"})
            deleted = await _next_event(listener)
            ost = await _next_event(listener)
        assert deleted["event"] == "DEVICE_DELETED"
        assert deleted["data"] == {"device": "dimm0", "path": "/machine/peripheral/dimm0"}
        assert ost["data"]["info"]["status"] == 0
        assert await _memory_device_ids(vm.client) == []
    finally:
        await vm.close()


async def test_guest_rejects_unplug() -> None:
    plan = {"rules": [{"command": "device_del", "guest": "reject"}]}
    vm = await start_machine(DIMM_ARGS, faults=plan)
    try:
        assert vm.client is not None
        listener = EventListener()
        with vm.client.listen(listener):
            await vm.client.execute("device_del", {"id": "dimm0"})
            ost = await _next_event(listener)
            await asyncio.sleep(0.1)
            assert listener.empty()
        assert ost["event"] == "ACPI_DEVICE_OST"
        assert ost["data"]["info"] == {"device": "dimm0", "slot": "0", "slot-type": "DIMM",
                                       "source": 3, "status": 1}
        assert await _memory_device_ids(vm.client) == ["dimm0"]
    finally:
        await vm.close()


async def test_event_data_from_arguments() -> None:
    plan = {"rules": [{"command": "device_del", "events": [
        {"event": "DEVICE_DELETED", "data": {"device": "$id", "path": "/machine/peripheral/$id"}},
    ]}]}
    vm = await start_machine(DIMM_ARGS, faults=plan)
    try:
        assert vm.client is not None
        listener = EventListener()
        with vm.client.listen(listener):
            await vm.client.execute("device_del", {"id": "dimm0"})
            event = await _next_event(listener)
        assert event["data"] == {"device": "dimm0", "path": "/machine/peripheral/dimm0"}
    finally:
        await vm.close()


async def test_rules_added_at_run_time_and_cleared() -> None:
    vm = await start_machine(["-m", "1G"])
    try:
        vm.faults.add_rule(FaultRule(command="query-status", error=None, close=None, delay=0))
        vm.faults.add_rule(FaultRule.model_validate(
            {"command": "query-status", "error": {"desc": "now failing"}}))
        assert await _status_outcomes(vm, 1) == ["GenericError"]
        vm.faults.clear()
        assert await _status_outcomes(vm, 1) == ["ok"]
    finally:
        await vm.close()


def test_plan_files_are_validated(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"seed": 4, "rules": [{"command": "stop", "close": "during"}]}')
    assert load_plan(good) == FaultPlan(seed=4, rules=[FaultRule(command="stop", close="during")])
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": [{"command": "stop", "close": "sometimes"}]}')
    with pytest.raises(ValidationError):
        load_plan(bad)
    with pytest.raises(ValidationError):
        FaultPlan.model_validate({"rulez": []})


def test_cli_options_split() -> None:
    options, rest = split_instrument_options(
        ["--faults", "f.json", "--control=unix:/x", "--trace", "t", "-m", "1G"]
    )
    assert (options.faults, options.control, options.trace) == ("f.json", "unix:/x", "t")
    assert rest == ["-m", "1G"]


def test_faults_file_and_control_socket_in_another_process(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"rules": [{"command": "query-name", "nth": 1,
                                           "error": {"desc": "from file"}}]}))
    qmp, control = str(tmp_path / "q.sock"), str(tmp_path / "c.sock")
    trace = tmp_path / "session.trace"
    proc = subprocess.Popen(
        [sys.executable, "-m", "qmpnuma.cli", "--faults", str(plan), "--control",
         f"unix:{control}", "--trace", str(trace),
         "-m", "1G", "-qmp", f"unix:{qmp},server=on,wait=off"],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not (os.path.exists(qmp) and os.path.exists(control)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert oct(os.stat(control).st_mode & 0o777) == "0o600"
        with socket.socket(socket.AF_UNIX) as ctl, socket.socket(socket.AF_UNIX) as mon:
            ctl.connect(control)
            ctl_file = ctl.makefile("rwb")
            mon.connect(qmp)
            mon_file = mon.makefile("rwb")
            mon_file.readline()
            for request in (NEGOTIATE, b'{"execute": "query-name"}\n'):
                mon_file.write(request)
                mon_file.flush()
            assert mon_file.readline() == b'{"return": {}}\r\n'
            assert b"from file" in mon_file.readline()
            ctl_file.write(b'{"op": "add", "rule": {"command": "query-name", '
                           b'"error": {"class": "CommandNotFound", "desc": "by control"}}}\n'
                           b'{"op": "fired"}\n{"op": "nonsense"}\n')
            ctl_file.flush()
            assert json.loads(ctl_file.readline()) == {"ok": True}
            assert json.loads(ctl_file.readline()) == {"ok": True, "fired": [1, 0]}
            assert json.loads(ctl_file.readline())["ok"] is False
            mon_file.write(b'{"execute": "query-name"}\n')
            mon_file.flush()
            assert b"by control" in mon_file.readline()
            mon_file.write(b'{"execute": "quit"}\n')
            mon_file.flush()
        assert proc.wait(timeout=10) == 0
        assert not os.path.exists(control)
        assert oct(trace.stat().st_mode & 0o777) == "0o600"
        entries = list(read_trace(trace))
        assert [e.dir for e in entries][:2] == ["open", "out"] and entries[-1].dir == "close"
        assert b"by control" in b"".join(e.data for e in entries if e.dir == "out")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_guest_fails_to_online_a_hot_added_dimm() -> None:
    plan = {"rules": [{"command": "device_add", "guest": "reject"}]}
    vm = await start_machine(
        ["-M", "pc", "-m", "1G,slots=2,maxmem=2G", "-object", "memory-backend-ram,id=d1,size=256M"],
        faults=plan,
    )
    try:
        assert vm.client is not None
        listener = EventListener()
        with vm.client.listen(listener):
            await vm.client.execute(
                "device_add", {"driver": "pc-dimm", "id": "hot", "memdev": "d1"}
            )
            ost = await _next_event(listener)
        assert ost["event"] == "ACPI_DEVICE_OST"
        assert ost["data"]["info"]["device"] == "hot"
        assert (ost["data"]["info"]["source"], ost["data"]["info"]["status"]) == (1, 1)
        assert await _memory_device_ids(vm.client) == ["hot"]  # QEMU keeps the DIMM plugged
    finally:
        await vm.close()


async def test_close_after_a_large_reply_delivers_all_of_it() -> None:
    plan = {"rules": [{"command": "query-qmp-schema", "close": "after"}]}
    vm = await start_machine(["-m", "1G"], faults=plan, connect=False)
    try:
        reader, writer = await _raw(vm)
        writer.write(b'{"execute": "query-qmp-schema", "id": 1}\n')
        received = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        await vm.close()
    assert len(received) > 60_000
    assert received.endswith(b', "id": 1}\r\n') and received.count(b"\r\n") == 1
    assert isinstance(json.loads(received)["return"], list)


VIRTIO_MEM_ARGS = [
    "-M", "pc", "-m", "1G,slots=2,maxmem=4G", "-S", "-smp", "2",
    "-object", "memory-backend-ram,id=n0,size=512M",
    "-object", "memory-backend-ram,id=n1,size=512M",
    "-numa", "node,memdev=n0,cpus=0", "-numa", "node,memdev=n1,cpus=1",
    "-object", "memory-backend-ram,id=vmem0,size=2G",
    "-device", "virtio-mem-pci,id=vm0,memdev=vmem0,node=1",
]


async def _virtio_mem_sizes(client: QMPClient) -> list[tuple[int, int]]:
    devices = await client.execute("query-memory-devices")
    assert isinstance(devices, list)
    return [(item["data"]["requested-size"], item["data"]["size"]) for item in devices]


async def test_virtio_mem_size_stays_without_a_guest() -> None:
    vm = await start_machine(VIRTIO_MEM_ARGS)
    try:
        assert vm.client is not None
        listener = EventListener()
        with vm.client.listen(listener):
            await vm.client.execute("qom-set", {"path": "vm0", "property": "requested-size",
                                                "value": 1 << 30})
            await asyncio.sleep(0.1)
            assert listener.empty()
        assert await _virtio_mem_sizes(vm.client) == [(1 << 30, 0)]
    finally:
        await vm.close()


async def test_guest_follows_virtio_mem_requested_size() -> None:
    plan = {"rules": [{"command": "qom-set", "guest": "accept", "guest_delay": 0.05},
                      {"command": "device_add", "guest": "accept"}]}
    vm = await start_machine(VIRTIO_MEM_ARGS, faults=plan)
    try:
        client = vm.client
        assert client is not None
        listener = EventListener()
        with client.listen(listener):
            await client.execute("qom-set", {"path": "vm0", "property": "requested-size",
                                             "value": 1 << 30})
            grown = await _next_event(listener)
            assert await _virtio_mem_sizes(client) == [(1 << 30, 1 << 30)]
            summary = await client.execute("query-memory-size-summary")
            numa = await client.execute("x-query-numa")
            # the same size again: the guest has nothing to plug, QEMU reports nothing
            await client.execute("qom-set", {"path": "/machine/peripheral/vm0/virtio-backend",
                                             "property": "requested-size", "value": 1 << 30})
            await asyncio.sleep(0.15)
            assert listener.empty()
            await client.execute("qom-set", {"path": "vm0", "property": "requested-size",
                                             "value": 0})
            shrunk = await _next_event(listener)
            await client.execute("object-add", {"qom-type": "memory-backend-ram", "id": "vmem1",
                                                 "size": 1 << 29})
            await client.execute("device_add", {"driver": "virtio-mem-pci", "memdev": "vmem1",
                                                "id": "vm1", "requested-size": 1 << 28})
            added = await _next_event(listener)
        assert grown["event"] == "MEMORY_DEVICE_SIZE_CHANGE"
        assert grown["data"] == {"id": "vm0", "size": 1 << 30,
                                 "qom-path": "/machine/peripheral/vm0"}
        assert summary == {"base-memory": 1 << 30, "plugged-memory": 1 << 30}
        assert isinstance(numa, dict) and "node 1 plugged: 1024 MB" in numa["human-readable-text"]
        assert shrunk["data"]["size"] == 0
        assert added["data"] == {"id": "vm1", "size": 1 << 28,
                                 "qom-path": "/machine/peripheral/vm1"}
        assert await _virtio_mem_sizes(client) == [(0, 0), (1 << 28, 1 << 28)]
    finally:
        await vm.close()
