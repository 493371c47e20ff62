"""Load: many machines and connections, abrupt and half-closed clients, a very slow client.

Every reply is checked against the reply the same machine gives to the same command when idle
(ids and thread ids aside): no error QEMU would not give, nothing lost, nothing duplicated, and
in order. File descriptors and RSS go back to their baseline once the clients have left.

CI runs a bounded size; `QMPNUMA_LOAD_SCALE=full` runs 1,000 connections over 100 machines,
100,000 requests and a 30 s slow client. Figures are printed (run with `-s` to see them).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import Reference
from qmp_endpoints import connect_unix

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.machine import Machine
from qmpnuma.profiles import get_profile, wire_types
from qmpnuma.qmp.session import QmpSession
from qmpnuma.server.faults import FaultPlan, Instrumentation
from qmpnuma.server.listeners import bind_unix
from qmpnuma.server.runtime import MonitorState, QmpServer

FULL = os.environ.get("QMPNUMA_LOAD_SCALE") == "full"
MACHINES = 100 if FULL else 20
CONNECTIONS_PER_MACHINE = 10 if FULL else 5
REQUESTS_PER_CONNECTION = 106 if FULL else 100  # full: over 100,000 sent
SLOW_SECONDS = 30 if FULL else 3
PIPELINE = 8

ARGS = [
    "-M", "pc", "-m", "2G,slots=2,maxmem=4G", "-smp", "2,maxcpus=4",
    "-object", "memory-backend-ram,id=m0,size=1G", "-object", "memory-backend-ram,id=m1,size=1G",
    "-numa", "node,nodeid=0,memdev=m0", "-numa", "node,nodeid=1,memdev=m1",
]
#: A mix of requests whose replies do not depend on earlier requests of the run.
REQUESTS: list[dict[str, Any]] = [
    {"execute": "query-status"},
    {"execute": "query-memdev"},
    {"execute": "query-cpus-fast"},
    {"execute": "query-hotpluggable-cpus"},
    {"execute": "x-query-numa"},
    {"execute": "query-memory-size-summary"},
    {"execute": "qom-get", "arguments": {"path": "/machine", "property": "type"}},
    {"execute": "human-monitor-command", "arguments": {"command-line": "info numa"}},
    {"execute": "device_del", "arguments": {"id": "no-such-device"}},  # DeviceNotFound
    {"execute": "query-no-such-command"},  # CommandNotFound
]
_ID = re.compile(rb', "id": \d+|"id": \d+, ')
_THREAD = re.compile(rb'"thread-id": \d+')


def _shape(reply: bytes) -> bytes:
    return _THREAD.sub(b'"thread-id": 0', _ID.sub(b"", reply))


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Served:
    servers: list[QmpServer]
    paths: list[str]


@asynccontextmanager
async def machines(
    count: int, plans: list[FaultPlan] | None = None, profile: str | None = None
) -> AsyncIterator[Served]:
    """``count`` machines of ``profile`` (None: the default) served on this loop, one socket
    each; plain (no hooks) unless ``plans`` gives each machine a fault plan."""
    directory = tempfile.mkdtemp(prefix="qmpnuma-load-")
    chosen = get_profile(profile)
    types = wire_types(chosen)
    served = Served([], [])
    try:
        for index in range(count):
            machine = Machine.from_argv(ARGS, profile=chosen)
            registry = CommandRegistry(machine)
            server = QmpServer(
                lambda: QmpSession(types.COMMANDS, types.SCHEMA, profile=chosen), registry
            )
            registry.attach(broadcast=server.broadcast, request_exit=server.request_exit)
            if plans is not None:
                server.hooks = Instrumentation(plan=plans[index], machine=machine)
            path = os.path.join(directory, f"vm{index}.sock")
            await server.start([(bind_unix(path), MonitorState(index=0))])
            served.servers.append(server)
            served.paths.append(path)
        yield served
    finally:
        for server in served.servers:
            await server.close()
        shutil.rmtree(directory, ignore_errors=True)


async def _open(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_unix_connection(path)
    await asyncio.wait_for(reader.readline(), 10)
    writer.write(b'{"execute": "qmp_capabilities"}\n')
    assert await asyncio.wait_for(reader.readline(), 10) == b'{"return": {}}\r\n'
    return reader, writer


async def _reference(path: str) -> list[bytes]:
    reader, writer = await _open(path)
    shapes = []
    for request in REQUESTS:
        writer.write(json.dumps(request).encode() + b"\n")
        shapes.append(_shape(await asyncio.wait_for(reader.readline(), 10)))
    writer.close()
    return shapes


@dataclass
class Tally:
    requests: int = 0
    replies: int = 0
    wrong: list[str] = field(default_factory=list)
    aborted: int = 0
    abandoned: int = 0
    half_closed: int = 0
    latencies: list[float] = field(default_factory=list)


async def _session(path: str, reference: list[bytes], tally: Tally, rng: random.Random) -> None:
    """One connection: pipelined requests with unique ids, every reply checked."""
    reader, writer = await _open(path)
    next_id = 0
    kind = rng.random()
    count = REQUESTS_PER_CONNECTION
    while next_id < count:
        batch = list(range(next_id, min(next_id + PIPELINE, count)))
        next_id = batch[-1] + 1
        started = time.monotonic()
        for ident in batch:
            request = dict(REQUESTS[ident % len(REQUESTS)], id=ident)
            writer.write(json.dumps(request).encode() + b"\n")
        tally.requests += len(batch)
        if kind < 0.1 and next_id >= count // 2:  # abrupt: half a request, then RST
            writer.write(b'{"execute": "query-st')
            writer.transport.abort()
            tally.aborted += 1
            tally.abandoned += len(batch)
            return
        if kind > 0.9 and next_id >= count:  # half-closed: no more input, read what comes
            writer.write_eof()
            tally.half_closed += 1
        for ident in batch:
            line = await asyncio.wait_for(reader.readline(), 30)
            tally.replies += 1
            message = json.loads(line)
            if message.get("id") != ident:
                tally.wrong.append(f"expected id {ident}, got {line!r}")
            elif _shape(line) != reference[ident % len(REQUESTS)]:
                tally.wrong.append(f"unexpected reply {line!r}")
        tally.latencies.append((time.monotonic() - started) / len(batch))
    if kind > 0.9:
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, nothing extra
    writer.close()


async def _slow_client(path: str, seconds: int) -> bytes:
    """Send a request one byte a second for ``seconds``, then the rest at once."""
    reader, writer = await _open(path)
    request = b'{"execute": "query-status", "id": "slow"}\n'
    for byte in request[:seconds]:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1.0)
    writer.write(request[seconds:])
    line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return line


async def _latency(path: str, rounds: int) -> list[float]:
    reader, writer = await _open(path)
    samples = []
    for _ in range(rounds):
        started = time.monotonic()
        writer.write(b'{"execute": "query-status"}\n')
        await asyncio.wait_for(reader.readline(), 10)
        samples.append(time.monotonic() - started)
        await asyncio.sleep(0.01)
    writer.close()
    return samples


@pytest.mark.load
async def test_many_machines_and_connections() -> None:
    gc.collect()
    fds_before_servers = _fds()
    async with machines(MACHINES) as served:
        reference = await _reference(served.paths[0])
        # warm-up round, then the baseline
        warm = Tally()
        await asyncio.gather(*(
            _session(path, reference, warm, random.Random(1)) for path in served.paths
        ))
        await asyncio.sleep(0.1)
        gc.collect()
        fds_baseline, rss_baseline = _fds(), _rss()

        tally = Tally()
        rng = random.Random(20261126)

        async def per_machine(path: str, seed: int) -> None:
            local = random.Random(seed)
            for _ in range(CONNECTIONS_PER_MACHINE):
                await _session(path, reference, tally, local)

        started = time.monotonic()
        await asyncio.gather(*(
            per_machine(path, rng.randrange(1 << 30)) for path in served.paths
        ))
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.2)
        gc.collect()
        fds_after, rss_after = _fds(), _rss()
        connections = MACHINES * CONNECTIONS_PER_MACHINE
        print(
            f"\nload: {MACHINES} machines, {connections} connections, {tally.requests} requests,"
            f" {tally.replies} replies checked, {tally.aborted} aborted mid-request,"
            f" {tally.half_closed} half-closed, {elapsed:.1f}s"
            f" ({tally.requests / elapsed:.0f} req/s), median latency"
            f" {statistics.median(tally.latencies) * 1000:.2f} ms; fds {fds_baseline}->{fds_after},"
            f" RSS {rss_baseline >> 20}->{rss_after >> 20} MiB"
        )
        assert tally.wrong == []
        assert tally.aborted > 0 and tally.half_closed > 0
        # every request got its reply, except the batch a client aborted without reading
        assert tally.replies == tally.requests - tally.abandoned
        assert fds_after == fds_baseline
        assert rss_after - rss_baseline < 32 << 20
        assert all(server.state.connections == [] for server in served.servers)
    gc.collect()
    assert _fds() == fds_before_servers


@pytest.mark.load
async def test_slow_client_does_not_slow_other_monitors() -> None:
    async with machines(4) as served:
        quiet = await _latency(served.paths[1], 20)
        slow = asyncio.create_task(_slow_client(served.paths[0], SLOW_SECONDS))
        await asyncio.sleep(0.5)
        busy = await asyncio.gather(*(
            _latency(path, SLOW_SECONDS * 10) for path in served.paths[1:]
        ))
        # The other monitors were fully served while the slow client was still mid-request.
        assert not slow.done()
        reply = await slow
    assert reply.startswith(b'{"return": {"status": "running"') and reply.endswith(
        b', "id": "slow"}\r\n'
    )
    quiet_p50 = statistics.median(quiet)
    busy_all = [sample for samples in busy for sample in samples]
    busy_p99 = sorted(busy_all)[int(len(busy_all) * 0.99) - 1]
    print(f"\nslow client {SLOW_SECONDS}s: other monitors p50 {quiet_p50 * 1000:.2f} ms idle,"
          f" p99 {busy_p99 * 1000:.2f} ms meanwhile over {len(busy_all)} requests")
    assert len(busy_all) == 3 * SLOW_SECONDS * 10


def test_load_mix_is_what_qemu_answers(reference: Reference) -> None:
    """The replies every load request is checked against are the real QEMU's replies (the load
    runs on the default profile; the mix is checked on each profile with a reference binary)."""
    async def ours() -> list[bytes]:
        async with machines(1, profile=reference.profile) as served:
            return await _reference(served.paths[0])

    expected = asyncio.run(ours())
    with tempfile.TemporaryDirectory(prefix="qmpnuma-load-qemu-") as tmp:
        path = os.path.join(tmp, "q.sock")
        proc = subprocess.Popen(
            [reference.binary, "-accel", "tcg", "-nodefaults", "-display", "none", *ARGS,
             "-qmp", f"unix:{path},server=on,wait=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            with connect_unix(path, proc) as sock:
                stream = sock.makefile("rwb")
                stream.readline()
                stream.write(b'{"execute": "qmp_capabilities"}\n')
                stream.flush()
                stream.readline()
                real = []
                for request in REQUESTS:
                    stream.write(json.dumps(request).encode() + b"\n")
                    stream.flush()
                    line = stream.readline()
                    while line.startswith(b'{"timestamp"'):
                        line = stream.readline()
                    real.append(_shape(line))
        finally:
            proc.kill()
            proc.wait()
    for request, want, got in zip(REQUESTS, real, expected, strict=True):
        assert got == want, request


@pytest.mark.load
async def test_load_under_faults() -> None:
    """Seeded faults on every machine: clients see exactly the faults that fired, nothing else
    is lost, and the monitors keep serving."""
    count = 40 if FULL else 8
    plans = [
        FaultPlan.model_validate({
            "seed": index,
            "split": 7 if index % 2 else 0,
            "rules": [
                {"command": "query-status", "share": 0.1,
                 "error": {"class": "GenericError", "desc": "injected"}},
                {"command": "x-query-numa", "share": 0.05, "delay": 0.002},
                {"command": "query-memdev", "share": 0.02, "close": "during"},
            ],
        })
        for index in range(count)
    ]
    async with machines(1) as plain:
        reference = await _reference(plain.paths[0])
    async with machines(count, plans) as served:
        seen_errors = 0
        cut = 0
        replies = 0
        requests = 0

        async def client(path: str) -> None:
            nonlocal seen_errors, cut, replies, requests
            for _ in range(CONNECTIONS_PER_MACHINE):
                reader, writer = await _open(path)
                for ident in range(REQUESTS_PER_CONNECTION):
                    request = dict(REQUESTS[ident % len(REQUESTS)], id=ident)
                    writer.write(json.dumps(request).encode() + b"\n")
                    requests += 1
                    line = await asyncio.wait_for(reader.readline(), 30)
                    if not line.endswith(b"\r\n"):  # closed during the reply: half of it came
                        assert request["execute"] == "query-memdev"
                        assert line.startswith(b'{"return": [{')
                        assert await reader.read() == b""
                        cut += 1
                        break
                    replies += 1
                    message = json.loads(line)
                    assert message.get("id") == ident
                    if message.get("error", {}).get("desc") == "injected":
                        assert request["execute"] == "query-status"
                        seen_errors += 1
                    else:
                        assert _shape(line) == reference[ident % len(REQUESTS)]
                writer.close()

        await asyncio.gather(*(client(path) for path in served.paths))
        fired = [0, 0, 0]
        for server in served.servers:
            assert isinstance(server.hooks, Instrumentation)
            fired = [a + b for a, b in zip(fired, server.hooks.fired, strict=True)]
        print(f"\nfaults: {count} machines, {requests} requests, {replies} replies,"
              f" {seen_errors} injected errors, {fired[1]} delays, {cut} connections cut"
              f" during a reply (fired: {fired})")
        assert seen_errors > 0 and cut > 0
        assert (seen_errors, cut) == (fired[0], fired[2])  # every fault seen, nothing else
        assert replies + cut == requests
        for path in served.paths:  # every monitor still answers
            reader, writer = await _open(path)
            writer.write(b'{"execute": "query-name"}\n')
            assert await asyncio.wait_for(reader.readline(), 10) == b'{"return": {}}\r\n'
            writer.close()
