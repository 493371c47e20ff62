"""Client-mode monitors over time: what happens after a hang-up, and `reconnect=N`.

Run against the real QEMU and qmpnuma alike (the test is the same for both, so a behaviour
that differs fails on one of them):

* a client-mode monitor is a monitor session as soon as it connects (the greeting comes first);
* without `reconnect=`, when the peer hangs up the chardev stays closed and the process runs on;
* with `reconnect=1` it connects again (a new session, a new greeting);
* with `reconnect=1` and nobody listening at start-up, the process starts anyway, says once
  `Unable to connect character device ID: ...`, and connects when a listener appears;
* an inherited, already connected socket (`fd=N`, one end of a socket pair) is a session at
  once, and an inherited listening one accepts clients.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import real_qemu
from qmp_endpoints import QMPNUMA

BASE = ["-M", "pc", "-accel", "tcg", "-nodefaults", "-display", "none", "-S"]


@pytest.fixture(params=["qemu", "qmpnuma"])
def emulator(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "qemu":
        return [real_qemu()]
    return list(QMPNUMA)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    # unix socket paths must stay short: use a short directory of our own
    short = Path(f"/tmp/chc-{os.getpid()}-{time.monotonic_ns() % 10**9}")
    short.mkdir()
    try:
        yield short
    finally:
        for entry in short.iterdir():
            entry.unlink()
        short.rmdir()


def _listener(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.listen(2)
    return sock


def _greeting(conn: socket.socket) -> bytes:
    conn.settimeout(20)
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _accept(sock: socket.socket, timeout: float) -> socket.socket | None:
    sock.settimeout(timeout)
    try:
        conn, _ = sock.accept()
    except TimeoutError:
        return None
    return conn


def _stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    return err


def _start(emulator: list[str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*emulator, *BASE, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.qemu
def test_without_reconnect_a_hung_up_chardev_stays_closed(
    emulator: list[str], workdir: Path
) -> None:
    path = workdir / "peer.sock"
    listener = _listener(path)
    proc = _start(emulator, "-chardev", f"socket,id=mon,path={path}",
                  "-mon", "chardev=mon,mode=control")
    try:
        conn = _accept(listener, 20)
        assert conn is not None
        assert _greeting(conn).startswith(b'{"QMP": {')
        conn.close()
        assert _accept(listener, 2.5) is None  # no second connection
        assert proc.poll() is None  # and the process runs on
        assert path.exists()
    finally:
        _stop(proc)
        listener.close()
    assert path.exists()  # a client's path is not its to remove


@pytest.mark.qemu
def test_reconnect_connects_again_after_a_hang_up(emulator: list[str], workdir: Path) -> None:
    path = workdir / "peer.sock"
    listener = _listener(path)
    proc = _start(emulator, "-chardev", f"socket,id=mon,path={path},reconnect=1",
                  "-mon", "chardev=mon,mode=control")
    try:
        for _ in range(2):
            conn = _accept(listener, 20)
            assert conn is not None
            assert _greeting(conn).startswith(b'{"QMP": {')
            conn.close()
    finally:
        err = _stop(proc)
        listener.close()
    assert "Unable to connect" not in err


@pytest.mark.qemu
def test_reconnect_waits_for_a_listener_and_says_so_once(
    emulator: list[str], workdir: Path
) -> None:
    path = workdir / "late.sock"
    proc = _start(emulator, "-chardev", f"socket,id=mon,path={path},reconnect=1",
                  "-mon", "chardev=mon,mode=control")
    try:
        time.sleep(2.5)
        assert proc.poll() is None
        listener = _listener(path)
        conn = _accept(listener, 20)
        assert conn is not None
        assert _greeting(conn).startswith(b'{"QMP": {')
        conn.close()
        listener.close()
    finally:
        err = _stop(proc)
    lines = [line.split(": ", 1)[1] for line in err.splitlines() if "Unable to connect" in line]
    assert lines == [
        f"Unable to connect character device mon: Failed to connect to '{path}': "
        "No such file or directory"
    ]


@pytest.mark.qemu
@pytest.mark.parametrize("listening", [False, True])
def test_inherited_socket_connected_or_listening(
    emulator: list[str], workdir: Path, listening: bool
) -> None:
    if listening:
        path = workdir / "inherited.sock"
        ours = _listener(path)
        theirs = ours
        server = ",server=on,wait=off"
    else:
        ours, theirs = socket.socketpair()
        server = ""
    fd = theirs.fileno()
    proc = subprocess.Popen(
        [*emulator, *BASE, "-chardev", f"socket,id=mon,fd={fd}{server}",
         "-mon", "chardev=mon,mode=control"],
        pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        if listening:
            ours.close()
            conn = socket.socket(socket.AF_UNIX)
            conn.settimeout(20)
            conn.connect(str(path))
        else:
            theirs.close()
            conn = ours
        with conn:
            assert _greeting(conn).startswith(b'{"QMP": {')
            conn.sendall(b'{"execute": "qmp_capabilities"}\n')
            assert _greeting(conn) == b'{"return": {}}\r\n'
    finally:
        err = _stop(proc)
    assert "Traceback" not in err
