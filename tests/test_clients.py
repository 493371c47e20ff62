"""Real clients against a real qmpnuma process: qemu.qmp's QMPClient and qmp-shell.

`QMPClient` is what Python users script QEMU with: it enables `oob` by itself when the greeting
offers it, it may run several commands at once, and it hands out events through listeners.
`qmp-shell` is what people type into. Both must work against qmpnuma as they do against QEMU.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from qemu.qmp import EventListener, QMPClient
from qemu.qmp.qmp_client import ExecuteError
from qmp_endpoints import connect_unix

VENV_BIN = Path(sys.executable).parent
DEMO_ARGS = [
    "-M", "pc", "-m", "4G,slots=4,maxmem=16G", "-smp", "4,maxcpus=8",
    "-object", "memory-backend-ram,id=m0,size=2G", "-object", "memory-backend-ram,id=m1,size=2G",
    "-numa", "node,nodeid=0,cpus=0-3,memdev=m0", "-numa", "node,nodeid=1,cpus=4-7,memdev=m1",
    "-S",
]  # fmt: skip


@pytest.fixture
def qmpnuma_socket() -> Iterator[str]:
    """A qmpnuma process serving the demo-like machine on a private unix socket."""
    with tempfile.TemporaryDirectory(prefix="qmpnuma-client-") as tmp:
        path = os.path.join(tmp, "qmp.sock")
        proc = subprocess.Popen(
            [str(VENV_BIN / "qmpnuma"), *DEMO_ARGS, "-qmp", f"unix:{path},server=on,wait=off"],
            stderr=subprocess.PIPE,
        )
        # the file exists from bind() on; a probe connection shows it listens (a loaded
        # machine can run the test between the two)
        connect_unix(path, proc).close()
        try:
            yield path
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stderr:
                proc.stderr.close()


async def test_qmpclient_negotiates_oob_and_queries(qmpnuma_socket: str) -> None:
    client = QMPClient("qmpnuma-test")
    await client.connect(qmpnuma_socket)
    try:
        assert client.greeting is not None
        assert client.greeting.QMP.capabilities == ["oob"]
        memdevs = await client.execute("query-memdev")
        assert isinstance(memdevs, list)
        assert sorted(m["id"] for m in memdevs) == ["m0", "m1"]
        numa = await client.execute("x-query-numa")
        assert isinstance(numa, dict)
        assert numa["human-readable-text"].startswith("2 nodes\n")
    finally:
        await client.disconnect()


async def test_qmpclient_concurrent_commands_and_errors(qmpnuma_socket: str) -> None:
    client = QMPClient("qmpnuma-test")
    await client.connect(qmpnuma_socket)
    try:
        names = ["query-status", "query-memdev", "query-cpus-fast", "query-hotpluggable-cpus",
                 "query-memory-size-summary", "query-memory-devices"] * 5
        answers = await asyncio.gather(*(client.execute(name) for name in names))
        assert len(answers) == len(names)
        # the default profile's (10.0's) query-status, without 7.2's singlestep
        assert answers[0] == {"status": "prelaunch", "running": False}
        assert all(len(cpus) == 4 for cpus in answers[2::6])
        with pytest.raises(ExecuteError) as caught:
            await client.execute("object-del", {"id": "m0"})
        assert caught.value.error_class == "GenericError"
        assert caught.value.error.error.desc == "object 'm0' is in use, can not be deleted"
    finally:
        await client.disconnect()


async def test_qmpclient_events_and_hotplug(qmpnuma_socket: str) -> None:
    client = QMPClient("qmpnuma-test")
    await client.connect(qmpnuma_socket)
    try:
        listener = EventListener(("RESUME", "STOP"))
        with client.listen(listener):
            await client.execute("cont")
            resumed = await asyncio.wait_for(listener.get(), timeout=5)
            await client.execute("stop")
            stopped = await asyncio.wait_for(listener.get(), timeout=5)
        assert (resumed["event"], stopped["event"]) == ("RESUME", "STOP")
        assert set(resumed["timestamp"]) == {"seconds", "microseconds"}
        await client.execute("object-add", {
            "qom-type": "memory-backend-ram", "id": "hp0", "size": 1 << 30})
        await client.execute("device_add", {
            "driver": "pc-dimm", "id": "dimm0", "memdev": "hp0", "node": 1})
        devices = await client.execute("query-memory-devices")
        assert isinstance(devices, list)
        assert devices[0]["data"]["node"] == 1
        assert devices[0]["data"]["addr"] == 0x140000000
        summary = await client.execute("query-memory-size-summary")
        assert summary == {"base-memory": 4 << 30, "plugged-memory": 1 << 30}
        text = await client.execute("human-monitor-command", {"command-line": "info numa"})
        assert isinstance(text, str)
        assert "node 1 size: 3072 MB\r\nnode 1 plugged: 1024 MB\r\n" in text
    finally:
        await client.disconnect()


def test_qmp_shell_session(qmpnuma_socket: str) -> None:
    """qmp-shell, typed into as a person would, gets qmpnuma's answers."""
    script = "\n".join([
        "query-status",
        "object-add qom-type=memory-backend-ram id=hp1 size=536870912",
        "device_add driver=pc-dimm id=d1 memdev=hp1",
        "query-memory-size-summary",
        "device_del id=nosuch",
    ]) + "\n"
    result = subprocess.run(
        [str(VENV_BIN / "qmp-shell"), qmpnuma_socket], input=script, capture_output=True,
        text=True, timeout=30, check=False,
    )
    out = result.stdout
    assert '"status": "prelaunch"' in out
    assert '"plugged-memory": 536870912' in out
    assert "Device 'nosuch' not found" in out


def test_qmp_shell_hmp_mode(qmpnuma_socket: str) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "qmp-shell"), "-H", qmpnuma_socket], input="info status\ninfo numa\n",
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert "VM status: paused (prelaunch)" in result.stdout
    assert "node 0 cpus: 0 1 2 3" in result.stdout
