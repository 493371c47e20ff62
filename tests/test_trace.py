"""Traces: byte-exact recording, replay with the first difference, libvirt `.replies` export."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import Reference
from qmp_endpoints import connect_unix

from qmpnuma.cli import main as cli_main
from qmpnuma.profiles import get_profile
from qmpnuma.pytest_plugin import start_machine
from qmpnuma.replay import ReplayResult, normalise, replay, replies_text, scripts_from_trace
from qmpnuma.server.trace import TraceEntry, read_trace

FIXED = ["-accel", "tcg", "-nodefaults", "-display", "none"]
ARGS = [
    *FIXED, "-M", "pc", "-m", "2G,slots=2,maxmem=4G", "-smp", "2", "-S",
    "-object", "memory-backend-ram,id=m0,size=1G",
    "-object", "memory-backend-ram,id=m1,size=1G",
    "-numa", "node,nodeid=0,cpus=0,memdev=m0",
    "-numa", "node,nodeid=1,cpus=1,memdev=m1",
]
#: What the recorded client sends, in chunks that do not line up with messages.
CHUNKS = [
    b'{"execute": "query-status"}\n',  # before negotiation
    b'{"execute": "qmp_capa', b'bilities"}\n',
    b'{"execute": "query-status", "id": 1}{"execute": "query-memdev", "id": 2}\n',
    b'{"execute": "no-such-command", "id": [3]}\n',
    b'hello\n',
    b'{"execute": "object-add", "arguments": {"qom-type": "memory-backend-ram", '
    b'"id": "hp", "size": 536870912}, "id": "add"}\n',
    b'{"execute": "query-memory-size-summary"}\n',
    b'{"execute": "x-query-numa", "id": 5}\n',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "info numa"}}\n',
    b'{"execute": "device_del", "arguments": {"id": "nope"}, "id": 6}\n',
    b'{"execute": "stop", "id": 7}\n',
    b'{"execute": "query-cpus-fast", "id": 8}\n',
]


async def _record(trace: str, args: list[str], profile: str | None) -> None:
    vm = await start_machine(args, connect=False, trace=trace, profile=get_profile(profile))
    try:
        reader, writer = await asyncio.open_unix_connection(vm.socket_path)
        await reader.readline()
        for chunk in CHUNKS:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(b'{"execute": "query-name", "id": "last"}\n')
        while b'"last"' not in await asyncio.wait_for(reader.readline(), 5):
            pass
        writer.close()
        await asyncio.sleep(0.05)
    finally:
        await vm.close()


def _recorded(tmp_path: Path, profile: str | None = None, name: str = "session") -> str:
    """A trace of the CHUNKS client, recorded on qmpnuma with ``profile`` (None: the default)."""
    trace = str(tmp_path / f"{name}.trace")
    asyncio.run(_record(trace, ARGS, profile))
    return trace


def _message_count(trace: str) -> int:
    scripts = scripts_from_trace(read_trace(trace))
    return sum(
        len(script.greeting) + sum(len(ex.received) for ex in script.exchanges)
        for script in scripts
    )


def test_trace_holds_every_byte(tmp_path: Path) -> None:
    trace = _recorded(tmp_path)
    assert stat.S_IMODE(os.stat(trace).st_mode) == 0o600
    entries = list(read_trace(trace))
    sent = b"".join(entry.data for entry in entries if entry.dir == "in")
    assert sent == b"".join(CHUNKS) + b'{"execute": "query-name", "id": "last"}\n'
    out = b"".join(entry.data for entry in entries if entry.dir == "out")
    assert out.startswith(b'{"QMP": {"version": ')
    assert b'"desc": "JSON parse error, invalid keyword \'hello\'"' in out
    assert entries[0].dir == "open"
    assert entries[-1].dir == "close"
    times = [entry.t for entry in entries]
    assert times == sorted(times)


def test_replay_against_qmpnuma_is_identical_and_finds_a_change(tmp_path: Path) -> None:
    trace = _recorded(tmp_path)

    async def against(args: list[str]) -> str:
        vm = await start_machine(args, connect=False)
        try:
            result = await asyncio.to_thread(replay, trace, f"unix:{vm.socket_path}", timeout=3)
        finally:
            await vm.close()
        if result.difference is None:
            return f"identical {result.messages}"
        return result.difference.describe()

    assert _message_count(trace) == 15
    assert asyncio.run(against(ARGS)) == "identical 15"
    changed = [arg for arg in ARGS if arg != "-S"]  # running instead of prelaunch
    report = asyncio.run(against(changed))
    assert report.startswith(
        "connection 1, message 4 (after sending '{\"execute\": \"query-status\""
    )
    assert '  expected: {"return": {"status": "prelaunch", ' in report
    assert '  actual:   {"return": {"status": "running", ' in report


@contextmanager
def _real_qemu(qemu: str, args: list[str]) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="qmpnuma-replay-") as tmp:
        path = os.path.join(tmp, "qmp.sock")
        proc = subprocess.Popen(
            [qemu, *args, "-qmp", f"unix:{path},server=on,wait=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            connect_unix(path, proc).close()  # listening, not only bound
            yield path
        finally:
            proc.kill()
            proc.wait()


def test_replay_against_real_qemu(reference: Reference, tmp_path: Path) -> None:
    """A trace recorded on a profile replays identically against the real QEMU of its release."""
    trace = _recorded(tmp_path, reference.profile)
    with _real_qemu(reference.binary, ARGS) as path:
        result = replay(trace, f"unix:{path}", timeout=5)
    assert result.difference is None, result.difference.describe()
    assert result.messages == _message_count(trace)


def _replayed_on_profile(trace: str, profile: str | None) -> ReplayResult:
    async def run() -> ReplayResult:
        vm = await start_machine(ARGS, connect=False, profile=get_profile(profile))
        try:
            return await asyncio.to_thread(replay, trace, f"unix:{vm.socket_path}", timeout=3)
        finally:
            await vm.close()

    return asyncio.run(run())


def test_trace_follows_the_profile(tmp_path: Path) -> None:
    """The default profile (10.0) records 10.0's greeting and ``query-status`` (no
    ``singlestep``); its trace replays identically on 10.0 and departs at the greeting on 7.2,
    and a 7.2 trace the other way round."""
    default_trace = _recorded(tmp_path, None, "default")
    out = b"".join(entry.data for entry in read_trace(default_trace) if entry.dir == "out")
    assert out.startswith(b'{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}')
    assert b'{"return": {"status": "prelaunch", "running": false}, "id": 1}' in out
    assert _replayed_on_profile(default_trace, "10.0").difference is None
    crossed = _replayed_on_profile(default_trace, "7.2").difference
    assert crossed is not None
    assert (crossed.connection, crossed.message) == (1, 1)
    assert crossed.expected is not None and b'"major": 10' in crossed.expected
    assert crossed.actual is not None and b'"minor": 2, "major": 7' in crossed.actual

    old_trace = _recorded(tmp_path, "7.2", "old")
    out = b"".join(entry.data for entry in read_trace(old_trace) if entry.dir == "out")
    assert b'"singlestep": false' in out
    assert _replayed_on_profile(old_trace, "7.2").difference is None
    assert _replayed_on_profile(old_trace, None).difference is not None


def test_replay_cli_reports_difference(tmp_path: Path, capsys: object) -> None:
    trace = _recorded(tmp_path)

    async def run() -> int:
        vm = await start_machine(["-m", "1G"], connect=False)
        try:
            return await asyncio.to_thread(
                cli_main, ["qmpnuma", "replay", trace, "--connect", f"unix:{vm.socket_path}"]
            )
        finally:
            await vm.close()

    assert asyncio.run(run()) == 1


def test_replies_export(tmp_path: Path) -> None:
    trace = _recorded(tmp_path)
    text = replies_text(read_trace(trace))
    blocks = text.split("\n\n")
    assert blocks[0] == '{\n  "execute": "query-status"\n}'
    assert json.loads(blocks[1])["error"]["class"] == "CommandNotFound"
    assert blocks[2] == '{\n  "execute": "qmp_capabilities"\n}'
    assert blocks[3] == '{\n  "return": {}\n}'
    assert '"execute": "stop"' in text and '"event"' not in text
    assert "hello" not in text  # an unparsable request has no command to show
    assert len(blocks) % 2 == 0
    out = tmp_path / "session.replies"
    assert cli_main(["qmpnuma", "replay", trace, "--replies", str(out)]) == 0
    assert out.read_text() == text


def test_scripts_group_exchanges() -> None:
    entries = [
        TraceEntry(0.0, 1, "open"),
        TraceEntry(0.1, 1, "out", b'{"QMP": {}}\r\n'),
        TraceEntry(0.2, 1, "in", b'{"exe'),
        TraceEntry(0.3, 1, "in", b'cute": "x"}'),
        TraceEntry(0.4, 1, "out", b'{"return": {}}\r\n{"timestamp": {"sec'),
        TraceEntry(0.5, 1, "out", b'onds": 1, "microseconds": 2}, "event": "E"}\r\n'),
        TraceEntry(0.6, 1, "close"),
    ]
    (script,) = scripts_from_trace(entries)
    assert script.greeting == [b'{"QMP": {}}\r\n']
    assert len(script.exchanges) == 1
    assert script.exchanges[0].sent == b'{"execute": "x"}'
    assert len(script.exchanges[0].received) == 2
    assert normalise(script.exchanges[0].received[1]) == (
        b'{"timestamp": {"seconds": 0, "microseconds": 0}, "event": "E"}\r\n'
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _qmpnuma_tcp(extra: list[str]) -> Iterator[int]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qmpnuma.cli", *extra, "-m", "1G",
         "-qmp", f"tcp:127.0.0.1:{port},server=on,wait=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_trace_over_tcp_replays_over_tcp(tmp_path: Path) -> None:
    trace = tmp_path / "tcp.trace"
    with _qmpnuma_tcp(["--trace", str(trace)]) as port:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        stream = sock.makefile("rwb")
        stream.readline()
        stream.write(b'{"execute": "qmp_capabilities"}\n{"execute": "query-name", "id": 1}\n')
        stream.flush()
        assert stream.readline() == b'{"return": {}}\r\n'
        assert stream.readline() == b'{"return": {}, "id": 1}\r\n'
        stream.close()
        sock.close()
        time.sleep(0.3)  # let the server see the close before SIGTERM (or it records SHUTDOWN)
    with _qmpnuma_tcp([]) as port:
        result = replay(trace, f"127.0.0.1:{port}", timeout=5)
    assert result.difference is None
    assert (result.connections, result.messages) >= (2, 3)  # the probe connection counts too
