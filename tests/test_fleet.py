"""The fleet: many machines behind one event loop, each with its own socket and its own state.

Clients are real: raw unix-socket connections speaking QMP, and the `qmpnuma fleet` command run as
a subprocess. Nothing of qmpnuma is mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from qmpnuma import Fleet
from qmpnuma.errors import ConfigError
from qmpnuma.machine import Machine
from qmpnuma.server.fdlimit import FdLimitError, ensure_open_files
from qmpnuma.server.fleet import FleetStartError
from qmpnuma.server.fleet_spec import FleetSpecError, load_spec_file, specs_from_data
from qmpnuma.server.machine_cache import MachineCache

NUMA_ARGS = [
    "-machine", "pc-q35-7.2", "-m", "2G", "-smp", "2",
    "-object", "memory-backend-ram,id=m0,size=1G",
    "-object", "memory-backend-ram,id=m1,size=1G",
    "-numa", "node,memdev=m0", "-numa", "node,memdev=m1",
]


class Client:
    """A minimal QMP client on a raw unix socket (one JSON message per line)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting: dict[str, Any] = {}

    @classmethod
    async def connect(cls, path: str, negotiate: bool = True) -> Client:
        reader, writer = await asyncio.open_unix_connection(path)
        client = cls(reader, writer)
        client.greeting = await client.receive()
        if negotiate:
            assert await client.execute("qmp_capabilities") == {"return": {}}
        return client

    async def receive(self) -> dict[str, Any]:
        line = await asyncio.wait_for(self.reader.readline(), timeout=10)
        assert line.endswith(b"\r\n"), line
        message: dict[str, Any] = json.loads(line)
        return message

    async def execute(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        request: dict[str, Any] = {"execute": name}
        if arguments is not None:
            request["arguments"] = arguments
        self.writer.write(json.dumps(request).encode())
        await self.writer.drain()
        while True:
            message = await self.receive()
            if "event" not in message:
                return message

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[Fleet]:
    async with Fleet.uniform(5, str(tmp_path / "vms"), NUMA_ARGS) as started:
        yield started


async def test_every_machine_has_its_socket_and_greets(fleet: Fleet, tmp_path: Path) -> None:
    names = sorted(os.listdir(tmp_path / "vms"))
    assert names == [f"vm-{k}.qmp" for k in range(5)]
    assert len(fleet) == 5
    for k in (0, 4):
        client = await Client.connect(str(tmp_path / "vms" / f"vm-{k}.qmp"))
        # the default profile, 10.0
        assert client.greeting["QMP"]["version"]["qemu"] == {"major": 10, "minor": 0, "micro": 2}
        reply = await client.execute("query-memdev")
        assert sorted(item["id"] for item in reply["return"]) == ["m0", "m1"]
        await client.close()


async def test_machines_do_not_share_state(fleet: Fleet, tmp_path: Path) -> None:
    sockets = [str(tmp_path / "vms" / f"vm-{k}.qmp") for k in range(3)]
    first, second, third = [await Client.connect(path) for path in sockets]
    added = await first.execute(
        "object-add", {"qom-type": "memory-backend-ram", "id": "extra", "size": 1 << 30}
    )
    assert added == {"return": {}}
    assert await second.execute("stop") == {"return": {}}
    ids = [[item["id"] for item in (await c.execute("query-memdev"))["return"]]
           for c in (first, second, third)]
    assert "extra" in ids[0]
    assert "extra" not in ids[1] and "extra" not in ids[2]
    states = [(await c.execute("query-status"))["return"]["status"]
              for c in (first, second, third)]
    assert states == ["running", "paused", "running"]
    assert fleet.machine(0).backends.keys() >= {"extra"}
    assert "extra" not in fleet.machine(3).backends
    assert fleet.machine(1).run_state == "paused"
    for client in (first, second, third):
        await client.close()


async def test_quit_ends_one_machine_only(fleet: Fleet, tmp_path: Path) -> None:
    gone = str(tmp_path / "vms" / "vm-2.qmp")
    client = await Client.connect(gone)
    client.writer.write(b'{"execute": "quit"}')
    replies = [await client.receive(), await client.receive()]
    assert {"return": {}} in replies
    shutdown = [m for m in replies if m.get("event") == "SHUTDOWN"]
    assert shutdown and shutdown[0]["data"] == {"guest": False, "reason": "host-qmp-quit"}
    for _ in range(100):
        if not os.path.exists(gone):
            break
        await asyncio.sleep(0.01)
    assert not os.path.exists(gone)
    other = await Client.connect(str(tmp_path / "vms" / "vm-3.qmp"))
    assert (await other.execute("query-status"))["return"]["status"] == "running"
    await other.close()


async def test_fleet_ends_when_every_machine_has_quit(tmp_path: Path) -> None:
    fleet = Fleet.uniform(2, str(tmp_path), ["-m", "512M"])
    await fleet.start()
    for k in range(2):
        client = await Client.connect(str(tmp_path / f"vm-{k}.qmp"))
        client.writer.write(b'{"execute": "quit"}')
        await client.receive()
    await asyncio.wait_for(fleet.wait(), timeout=10)
    await fleet.close()
    assert os.listdir(tmp_path) == []


async def test_spec_file_gives_each_machine_its_arguments(tmp_path: Path) -> None:
    spec = {
        "machines": [
            {"socket": "big.qmp", "args": ["-m", "4G", "-smp", "4"]},
            {"socket": "old.qmp", "args": "-m 1G", "profile": "2.9"},
        ]
    }
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(spec))
    async with Fleet.from_spec_file(str(path)) as fleet:
        big = await Client.connect(str(tmp_path / "big.qmp"))
        old = await Client.connect(str(tmp_path / "old.qmp"))
        assert big.greeting["QMP"]["capabilities"] == ["oob"]
        assert old.greeting["QMP"]["capabilities"] == []
        assert old.greeting["QMP"]["version"]["qemu"]["minor"] == 9
        assert len((await big.execute("query-cpus-fast"))["return"]) == 4
        assert fleet.machine(0).ram_size == 4 << 30
        assert fleet.machine(1).ram_size == 1 << 30
        await big.close()
        await old.close()


async def test_a_fleet_mixing_profiles_answers_each_as_its_own_qemu(tmp_path: Path) -> None:
    """A spec whose default is 7.2 with one 10.0 machine, and one with no profile at all (the
    default, 10.0) and a 7.2 machine: each machine greets, reports its status and refuses a
    its version as the QEMU of its own profile does, on the same machine arguments."""
    args = ["-M", "pc", "-m", "1G", "-smp", "2"]
    specs = {
        "old-default": {"profile": "7.2", "machines": [
            {"socket": "a.qmp", "args": args}, {"socket": "b.qmp", "args": args,
                                                "profile": "10.0"}]},
        "no-default": {"machines": [
            {"socket": "c.qmp", "args": args}, {"socket": "d.qmp", "args": args,
                                                "profile": "7.2"}]},
    }
    expected = {
        "a": ({"major": 7, "minor": 2, "micro": 22}, "Debian 1:7.2+dfsg-7+deb12u18+b3",
              {"status": "running", "singlestep": False, "running": True}),
        "b": ({"major": 10, "minor": 0, "micro": 2}, "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1",
              {"status": "running", "running": True}),  # no singlestep since 9.0
    }
    expected["c"], expected["d"] = expected["b"], expected["a"]
    for name, spec in specs.items():
        directory = tmp_path / name
        directory.mkdir()
        async with Fleet(specs_from_data(spec, str(directory))):
            for machine in spec["machines"]:
                socket_name = str(machine["socket"])
                version, package, status = expected[socket_name.removesuffix(".qmp")]
                client = await Client.connect(str(directory / socket_name))
                assert client.greeting["QMP"]["version"] == {"qemu": version, "package": package}
                assert (await client.execute("query-status"))["return"] == status
                reply = await client.execute("query-version")
                assert reply["return"] == client.greeting["QMP"]["version"]
                await client.close()


def test_toml_spec_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        'profile = "2.9"\n[[machines]]\nsocket = "a.qmp"\nargs = ["-m", "1G"]\n'
        '[[machines]]\nsocket = "/run/b.qmp"\nprofile = "7.2"\n'
    )
    specs = load_spec_file(str(path))
    assert [(s.socket, s.args, s.profile.name) for s in specs] == [
        (str(tmp_path / "a.qmp"), ("-m", "1G"), "2.9"),
        ("/run/b.qmp", (), "7.2"),
    ]
    with pytest.raises(FleetSpecError, match="unknown key"):
        specs_from_data({"machines": [{"socket": "a", "arg": []}]})
    with pytest.raises(FleetSpecError, match="already used"):
        specs_from_data({"machines": [{"socket": "a"}, {"socket": "./a"}]})
    with pytest.raises(FleetSpecError, match="unknown profile"):
        specs_from_data({"machines": [{"socket": "a", "profile": "9.9"}]})


async def test_refused_command_line_names_the_machine(tmp_path: Path) -> None:
    spec = {"machines": [{"socket": "ok.qmp"}, {"socket": "bad.qmp", "args": ["-m", "1X"]}]}
    fleet = Fleet(specs_from_data(spec, str(tmp_path)))
    with pytest.raises(FleetStartError) as caught:
        await fleet.start()
    with pytest.raises(ConfigError) as direct:
        Machine.from_argv(["-m", "1X"])
    assert caught.value.index == 1
    assert caught.value.stderr == direct.value.stderr
    assert os.listdir(tmp_path) == []


def test_cloned_machines_equal_built_ones_and_are_independent() -> None:
    cache = MachineCache()
    first = cache.machine(NUMA_ARGS)
    second = cache.machine(NUMA_ARGS)
    built = Machine.from_argv(NUMA_ARGS)
    assert (cache.built, cache.cloned) == (1, 1)
    assert second.query_memdev() == built.query_memdev()
    assert second.query_numa_node_mem() == built.query_numa_node_mem()
    assert second.machine_type is first.machine_type
    second.add_backend("memory-backend-ram", "x", {"size": 1 << 20})
    second.stop()
    assert "x" not in first.backends and first.run_state == "running"
    assert "x" not in cache.machine(NUMA_ARGS).backends


def test_open_file_limit_is_checked_against_the_hard_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard open-file limit here")
    with pytest.raises(FdLimitError, match="hard limit"):
        ensure_open_files(hard)
    budget = ensure_open_files(10)
    assert budget.soft >= 10 + 64


def _limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (100, 200))


def test_cli_says_when_the_fleet_cannot_fit(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qmpnuma.cli", "fleet", "--count", "500",
         "--socket-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, preexec_fn=_limit_open_files, check=False,
    )
    assert done.returncode == 1
    assert "hard limit RLIMIT_NOFILE is 200" in done.stderr
    assert "at most 136 machines fit" in done.stderr
    assert os.listdir(tmp_path) == []


async def test_cli_fleet_serves_until_a_signal(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qmpnuma.cli", "fleet", "--count", "3",
        "--socket-dir", str(tmp_path), "--", "-m", "1G", "-smp", "2",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        ready = await asyncio.wait_for(proc.stderr.readline(), timeout=60)
        assert b"3 machines ready" in ready
        client = await Client.connect(str(tmp_path / "vm-2.qmp"))
        assert len((await client.execute("query-cpus-fast"))["return"]) == 2
        proc.send_signal(signal.SIGTERM)
        event = await client.receive()
        assert event["event"] == "SHUTDOWN"
        assert event["data"] == {"guest": False, "reason": "host-signal"}
        assert await asyncio.wait_for(proc.wait(), timeout=20) == 0
        assert os.listdir(tmp_path) == []
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_built_fleet_listens_member_by_member(tmp_path: Path) -> None:
    """`Fleet.build` makes every machine and server without a socket; each member then listens
    on `start` and goes quiet on `stop` (how bench/fleet_scale.py sweeps 100,000 machines)."""
    fleet = Fleet.uniform(4, str(tmp_path / "vms"), NUMA_ARGS)
    fleet.build()
    try:
        assert len(fleet.members) == 4 and os.listdir(tmp_path / "vms") == []
        replies = []
        for member in fleet.members:
            await member.start()
            client = await Client.connect(member.socket)
            replies.append(await client.execute("query-memdev"))
            await client.close()
            await member.stop()
            assert not os.path.exists(member.socket)
        assert all(reply == replies[0] for reply in replies)
        assert sorted(item["id"] for item in replies[0]["return"]) == ["m0", "m1"]
    finally:
        await fleet.close()


async def test_a_cached_reply_follows_every_change(fleet: Fleet, tmp_path: Path) -> None:
    """Read-only replies are encoded once per machine revision and a remembered request line
    reuses its last reply: the same line asked again after a change (a command, a run-state
    change made on the model directly) must show the change."""
    path = str(tmp_path / "vms" / "vm-1.qmp")
    client = await Client.connect(path)

    async def ask(line: bytes) -> Any:
        client.writer.write(line)  # the very same bytes each time, newline-terminated
        return (await client.receive())["return"]

    memdev = b'{"execute": "query-memdev", "id": 7}\n'
    status = b'{"execute": "query-status"}\n'
    first = await ask(memdev)
    assert await ask(memdev) == first
    assert sorted(item["id"] for item in first) == ["m0", "m1"]
    assert await client.execute(
        "object-add", {"qom-type": "memory-backend-ram", "id": "extra", "size": 1 << 20}
    ) == {"return": {}}
    assert "extra" in [item["id"] for item in await ask(memdev)]
    assert (await ask(status))["status"] == "running"
    assert (await ask(status))["status"] == "running"
    fleet.machine(1).stop()  # a change that comes from no command
    assert (await ask(status))["status"] == "paused"
    assert await client.execute("object-del", {"id": "extra"}) == {"return": {}}
    assert "extra" not in [item["id"] for item in await ask(memdev)]
    await client.close()
