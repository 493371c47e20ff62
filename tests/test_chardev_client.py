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

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Reference, reference_pair

BASE = ["-M", "pc", "-accel", "tcg", "-nodefaults", "-display", "none", "-S"]


#: The client-mode and stdio tests compare with QEMU 7.2 under the 7.2 profile (named, so that
#: the default profile does not decide it); the query-chardev names, default chardevs and the
#: HMP socket run against every reference binary.
PINNED = "7.2"


@pytest.fixture(params=["qemu", "qmpnuma"])
def emulator(request: pytest.FixtureRequest) -> list[str]:
    pair = reference_pair(PINNED)
    if request.param == "qemu":
        return [pair.binary]
    return pair.qmpnuma


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


# -- query-chardev names a socket chardev after its connection, or `disconnected:` ------------


def _query_chardev(conn: socket.socket) -> list[tuple[str, str]]:
    _greeting(conn)
    conn.sendall(b'{"execute": "qmp_capabilities"}\n')
    _greeting(conn)
    conn.sendall(b'{"execute": "query-chardev"}\n')
    reply = json.loads(_greeting(conn))["return"]
    return sorted((dev["label"], dev["filename"]) for dev in reply)


def _chardev_scenarios(emulator: list[str], workdir: Path) -> dict[str, list[tuple[str, str]]]:
    """query-chardev as seen in a few arrangements; ports and the directory spelt out."""
    seen: dict[str, list[tuple[str, str]]] = {}
    ports: list[int] = []

    def keep(name: str, listing: list[tuple[str, str]]) -> None:
        text = json.dumps(listing).replace(str(workdir), "DIR")
        text = re.sub(r":\d{2,5}\b", ":PORT", text)
        seen[name] = [tuple(pair) for pair in json.loads(text)]  # type: ignore[misc]

    # a client-mode unix monitor (7.2's QEMUMachine) and a console nobody is connected to
    listener = _listener(workdir / "l.sock")
    proc = _start(emulator, "-chardev", f"socket,id=mon,path={workdir}/l.sock",
                  "-mon", "chardev=mon,mode=control",
                  "-chardev", f"socket,id=console,path={workdir}/c.sock,server=on,wait=off",
                  "-serial", "chardev:console", "-serial", "null",
                  "-chardev", "null,id=n1", "-device", "isa-serial,chardev=n1")
    try:
        conn = _accept(listener, 20)
        assert conn is not None
        with conn:
            keep("unix-client", _query_chardev(conn))
    finally:
        _stop(proc)
        listener.close()
        (workdir / "l.sock").unlink()
    # a client-mode TCP monitor
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    proc = _start(emulator, "-chardev",
                  f"socket,id=mon,host=127.0.0.1,port={tcp.getsockname()[1]}",
                  "-mon", "chardev=mon,mode=control")
    try:
        conn = _accept(tcp, 20)
        assert conn is not None
        with conn:
            listing = _query_chardev(conn)
            ports.append(conn.getsockname()[1])
            # the emulator's end first, then ours
            assert listing[0][1].endswith(f" <-> 127.0.0.1:{ports[-1]}")
            keep("tcp-client", listing)
    finally:
        _stop(proc)
        tcp.close()
    # an inherited socket pair (10.0's QEMUMachine), and clients that wait to reconnect
    ours, theirs = socket.socketpair()
    fd = theirs.fileno()
    proc = subprocess.Popen(
        [*emulator, *BASE, "-chardev", f"socket,id=mon,fd={fd}", "-mon", "chardev=mon,mode=control",
         "-chardev", f"socket,id=r,path={workdir}/none.sock,reconnect=5",
         "-chardev", "socket,id=t,host=127.0.0.1,port=1,reconnect=5",
         "-chardev", "socket,id=t2,host=127.0.0.1,port=0,server=on,wait=off"],
        pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )
    theirs.close()
    try:
        with ours:
            ours.settimeout(20)
            keep("socketpair", _query_chardev(ours))
    finally:
        _stop(proc)
    return seen


@pytest.mark.qemu
def test_query_chardev_names_follow_the_connections(
    reference: Reference, workdir: Path
) -> None:
    expected = _chardev_scenarios([reference.binary], workdir)
    assert "unix-client" in expected  # sanity: the scenario ran
    assert _chardev_scenarios(reference.qmpnuma, workdir) == expected


def _chardevs_with_defaults(emulator: list[str], workdir: Path, extra: list[str]) -> list[str]:
    sock = workdir / "q.sock"
    proc = subprocess.Popen(
        [*emulator, "-accel", "tcg", "-display", "none", "-S", *extra,
         "-qmp", f"unix:{sock},server=on,wait=off"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(20)
            conn.connect(str(sock))
            _greeting(conn)
            conn.sendall(b'{"execute": "qmp_capabilities"}\n')
            _greeting(conn)
            conn.sendall(b'{"execute": "query-chardev"}\n')
            reply = json.loads(_greeting(conn))["return"]
    finally:
        _stop(proc)
    return [f"{dev['label']}={dev['filename']}".replace(str(workdir), "DIR") for dev in reply]


@pytest.mark.qemu
@pytest.mark.parametrize("extra", [
    [], ["-M", "none"], ["-M", "q35"], ["-device", "isa-serial"], ["-serial", "none"],
    ["-parallel", "none"], ["-serial", "null", "-parallel", "null"], ["-monitor", "none"],
    ["-nodefaults"], ["-nographic", "-monitor", "none"],
], ids=lambda extra: "_".join(extra) or "defaults")
def test_default_chardevs_as_qemu_adds_them(
    reference: Reference, workdir: Path, extra: list[str]
) -> None:
    """Without `-nodefaults` QEMU adds a serial and a parallel port on virtual consoles (null
    and stdio with `-nographic`), unless the command line has its own, or `-M none`."""
    expected = _chardevs_with_defaults([reference.binary], workdir, extra)
    assert _chardevs_with_defaults(reference.qmpnuma, workdir, extra) == expected


# -- an HMP monitor on a socket: banner, prompt, the line editor's echo, the output ------------


def _drain(conn: socket.socket, quiet: float = 0.6) -> bytes:
    """Everything the peer writes until it has been quiet for ``quiet`` seconds."""
    conn.settimeout(quiet)
    data = b""
    try:
        while chunk := conn.recv(4096):
            data += chunk
    except TimeoutError:
        pass
    return data


def _hmp_transcript(emulator: list[str], workdir: Path) -> list[bytes]:
    sock = workdir / "hmp.sock"
    proc = _start(emulator, "-smp", "2", "-monitor", f"unix:{sock},server=on,wait=off")
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        seen = []
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(20)
            conn.connect(str(sock))
            seen.append(_drain(conn))
            for line in (b"info status\n", b"info numa\r\n", b"nosuchcmd\n",
                         b"info statuz\x7fs\n", b"info cpus extra\n", b"\n"):
                conn.sendall(line)
                seen.append(_drain(conn))
    finally:
        _stop(proc)
    return seen


@pytest.mark.qemu
def test_hmp_monitor_on_a_socket_as_qemu(reference: Reference, workdir: Path) -> None:
    expected = _hmp_transcript([reference.binary], workdir)
    assert expected[0].endswith(b"(qemu) ")
    assert _hmp_transcript(reference.qmpnuma, workdir) == expected
