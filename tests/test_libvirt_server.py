"""The server the way libvirt starts a guest, on qmpnuma and on each real QEMU alike.

libvirt binds the monitor socket itself and hands the listening fd to the emulator
(`-chardev socket,id=charmonitor,fd=N,server=on,wait=off -mon ...,mode=control`), starts it
paused (`-S`) with `-msg timestamp=on`, resumes it with `cont`, and ends it with SIGTERM. libvirt
passes no qmpnuma option, so qmpnuma gets its profile from ``QMPNUMA_PROFILE``, as a libvirt
emulator wrapper would set it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Reference

from qmpnuma.profiles import get_profile

QMPNUMA = str(Path(sys.executable).with_name("qmpnuma-system-x86_64"))


class Client:
    """A tiny blocking QMP client that keeps the events it reads."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")
        self.events: list[dict[str, Any]] = []
        self.greeting = json.loads(self.file.readline())

    def read(self) -> dict[str, Any]:
        line = self.file.readline()
        if not line:
            raise EOFError
        message: dict[str, Any] = json.loads(line)
        return message

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {"execute": name}
        if arguments is not None:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode())
        while True:
            message = self.read()
            if "event" in message:
                self.events.append(message)
            else:
                return message

    def event(self) -> dict[str, Any]:
        if self.events:
            return self.events.pop(0)
        return self.read()


def libvirt_style_args(fd: int) -> list[str]:
    return [
        "-name", "guest=t,debug-threads=on", "-S", "-machine", "pc-i440fx-7.2,usb=off",
        "-accel", "tcg", "-m", "256", "-smp", "2,sockets=2,cores=1,threads=1",
        "-object", '{"qom-type":"memory-backend-ram","id":"ram-node0","size":134217728}',
        "-numa", "node,nodeid=0,cpus=0,memdev=ram-node0",
        "-object", '{"qom-type":"memory-backend-ram","id":"ram-node1","size":134217728}',
        "-numa", "node,nodeid=1,cpus=1,memdev=ram-node1",
        "-display", "none", "-no-user-config", "-nodefaults",
        "-chardev", f"socket,id=charmonitor,fd={fd},server=on,wait=off",
        "-mon", "chardev=charmonitor,id=monitor,mode=control",
        "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        "-msg", "timestamp=on",
    ]


@dataclass(frozen=True)
class Emulator:
    """The program libvirt would start, the environment it gets, and the QEMU major it is."""

    path: str
    env: dict[str, str]
    major: int


@pytest.fixture(params=["qmpnuma", "qemu"])
def emulator(request: pytest.FixtureRequest, reference: Reference) -> Emulator:
    major = get_profile(reference.profile).version[0]
    if request.param == "qemu":
        return Emulator(reference.binary, dict(os.environ), major)
    return Emulator(QMPNUMA, {**os.environ, "QMPNUMA_PROFILE": reference.profile}, major)


@pytest.fixture
def guest(
    emulator: Emulator, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Client, str]]:
    path = str(tmp_path / "monitor.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)
    fd = listener.fileno()
    proc = subprocess.Popen(
        [emulator.path, *libvirt_style_args(fd)], pass_fds=(fd,), env=emulator.env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    listener.close()
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(20)
    try:
        sock.connect(path)
        client = Client(sock)
        yield proc, client, path
    finally:
        sock.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_inherited_fd_monitor_cont_and_sigterm(
    emulator: Emulator, guest: tuple[subprocess.Popen[bytes], Client, str]
) -> None:
    proc, client, path = guest
    assert client.greeting["QMP"]["version"]["qemu"]["major"] == emulator.major
    assert client.call("qmp_capabilities") == {"return": {}}
    status = client.call("query-status")["return"]
    assert status["status"] == "prelaunch"
    assert client.call("query-chardev")["return"] == [
        {"label": "charmonitor", "filename": f"unix:{path},server=on", "frontend-open": True}
    ]
    cpus = client.call("query-cpus-fast")["return"]
    own_threads = {int(tid) for tid in os.listdir(f"/proc/{proc.pid}/task")}
    assert {cpu["thread-id"] for cpu in cpus} <= own_threads
    assert client.call("cont") == {"return": {}}
    resume = client.events.pop(0) if client.events else client.event()
    assert resume["event"] == "RESUME"
    proc.send_signal(signal.SIGTERM)
    shutdown = client.event()
    assert shutdown["event"] == "SHUTDOWN"
    assert shutdown["data"] == {"guest": False, "reason": "host-signal"}
    assert proc.wait(timeout=20) == 0
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode()
    name = Path(str(proc.args[0])).name  # type: ignore[index]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z "
        + re.escape(name) + r": terminating on signal 15 from pid \d+ \(\S+\)\n",
        stderr,
    ), stderr
