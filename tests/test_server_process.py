"""The process around the monitors, side by side with QEMU where QEMU shows the behaviour.

`-daemonize` (the parent leaves once the monitors listen; the pidfile names the server), signals
(SIGTERM, SIGINT, SIGHUP: `SHUTDOWN` with reason `host-signal`, then exit 0), one client per
monitor at a time, several monitors at once, and `-qmp stdio`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Reference
from qmp_endpoints import RawQmp, normalise

QMPNUMA = str(Path(sys.executable).parent / "qmpnuma")
BASE = ["-accel", "tcg", "-nodefaults", "-display", "none", "-S", "-M", "pc", "-m", "1G"]


def _connect(path: str) -> RawQmp:
    deadline = time.monotonic() + 10
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return RawQmp(sock)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            assert time.monotonic() < deadline, f"{path} never accepted"
            time.sleep(0.01)


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="qmpnuma-proc-") as tmp:
        yield Path(tmp)


def _pair(reference: Reference) -> tuple[tuple[str, list[str]], ...]:
    """The real QEMU and qmpnuma with its profile, each by name and command."""
    return (("qemu", [reference.binary]),
            ("qmpnuma", [QMPNUMA, f"--profile={reference.profile}"]))


def _daemonized(binary: str | list[str], workdir: Path) -> tuple[int, str]:
    """Start daemonized; return the served pid and the socket path (asserting QEMU's contract)."""
    sock = str(workdir / "qmp.sock")
    pidfile = workdir / "pid"
    command = [binary] if isinstance(binary, str) else binary
    result = subprocess.run(
        [*command, *BASE, "-qmp", f"unix:{sock},server=on,wait=off", "-daemonize",
         "-pidfile", str(pidfile)],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert os.path.exists(sock), "the parent left before the monitor existed"
    pid = int(pidfile.read_text().strip())
    os.kill(pid, 0)
    return pid, sock


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} still running")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_daemonize_pidfile_and_signal(
    reference: Reference, workdir: Path, signum: signal.Signals
) -> None:
    """Both daemonize the same way and end a signal with the same SHUTDOWN line."""
    lines = []
    for name, command in _pair(reference):
        sub = workdir / name
        sub.mkdir()
        pid, sock = _daemonized(command, sub)
        conn = _connect(sock)
        conn.read_line()
        conn.command({"execute": "qmp_capabilities"})
        os.kill(pid, signum)
        lines.append(normalise(conn.read_line()))
        conn.close()
        _wait_gone(pid)
        assert not (sub / "pid").exists(), "the pidfile outlived the process"
    assert lines[0] == lines[1]
    assert json.loads(lines[1])["data"] == {"guest": False, "reason": "host-signal"}


def test_pidfile_is_owner_only(workdir: Path) -> None:
    pid, sock = _daemonized(QMPNUMA, workdir)
    try:
        assert (workdir / "pid").stat().st_mode & 0o777 == 0o600
        assert os.stat(sock).st_mode & 0o077 == 0
    finally:
        os.kill(pid, signal.SIGTERM)
        _wait_gone(pid)


def test_one_client_per_monitor_at_a_time(workdir: Path) -> None:
    pid, sock = _daemonized(QMPNUMA, workdir)
    try:
        first = _connect(sock)
        assert first.read_line().startswith(b'{"QMP"')
        second = _connect(sock)
        with pytest.raises(TimeoutError):
            second.read_line(timeout=0.3)
        first.close()
        assert second.read_line(timeout=5).startswith(b'{"QMP"')
        second.close()
    finally:
        os.kill(pid, signal.SIGTERM)
        _wait_gone(pid)


def test_several_monitors_share_one_machine(workdir: Path) -> None:
    sock_a, sock_b = str(workdir / "a.sock"), str(workdir / "b.sock")
    proc = subprocess.Popen(
        [QMPNUMA, *BASE, "-qmp", f"unix:{sock_a},server=on,wait=off",
         "-chardev", f"socket,id=mon1,path={sock_b},server=on,wait=off",
         "-mon", "chardev=mon1,mode=control"],
    )  # fmt: skip
    try:
        a, b = _connect(sock_a), _connect(sock_b)
        a.read_line(), b.read_line()
        a.command({"execute": "qmp_capabilities"})
        b.command({"execute": "qmp_capabilities"})
        lines = a.command({"execute": "cont"})
        assert json.loads(lines[0])["event"] == "RESUME"
        assert json.loads(b.read_line())["event"] == "RESUME"
        status = json.loads(b.command({"execute": "query-status"})[-1])
        assert status["return"]["status"] == "running"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_qmp_stdio(reference: Reference) -> None:
    """`-qmp stdio`: the same bytes as the real QEMU of the profile's release (greeting,
    ``query-status`` with 7.2's ``singlestep`` and without it in 10.0, the quit event)."""
    requests = b'{"execute":"qmp_capabilities"}\n{"execute":"query-status","id":1}\n'
    requests += b'{"execute":"quit"}\n'
    outputs = []
    for _name, command in _pair(reference):
        result = subprocess.run(
            [*command, *BASE, "-qmp", "stdio"], input=requests, capture_output=True, timeout=30,
            check=False,
        )
        assert result.returncode == 0
        outputs.append([normalise(line) for line in result.stdout.split(b"\r\n")])
    real, ours = outputs
    assert ours == real
    assert ours[0].startswith(b'{"QMP"')
    status = json.loads(ours[2])
    assert status["id"] == 1 and status["return"]["status"] == "prelaunch"
    assert b'"reason": "host-qmp-quit"' in ours[3]


def _stdio_run(command: list[str], requests: bytes, folder: Path, *, stdin_file: bool,
               quit_: bool) -> tuple[int, list[bytes]]:
    """``-qmp stdio`` with stdout in a regular file and stdin a file or a pipe; without a
    ``quit`` the server is stopped with SIGTERM once it had time to answer."""
    source, sink = folder / "requests", folder / "replies"
    source.write_bytes(requests)
    with source.open("rb") as fin, sink.open("wb") as fout:
        proc = subprocess.Popen([*command, *BASE, "-qmp", "stdio"],
                                stdin=fin if stdin_file else subprocess.PIPE, stdout=fout,
                                stderr=subprocess.DEVNULL)
        if not stdin_file:
            assert proc.stdin is not None
            proc.stdin.write(requests)
            proc.stdin.close()
        if not quit_:
            time.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=30)
    return status, [normalise(line) for line in sink.read_bytes().split(b"\r\n")]


@pytest.mark.parametrize("stdin_file", [True, False], ids=["stdin-file", "stdin-pipe"])
@pytest.mark.parametrize("quit_", [True, False], ids=["quit", "sigterm"])
def test_qmp_stdio_with_files(reference: Reference, workdir: Path, stdin_file: bool,
                              quit_: bool) -> None:
    """`-qmp stdio < requests > replies`, as scripts run QEMU: regular files on stdio (which
    asyncio's pipe transports refuse) give the same bytes as the real QEMU; input at its end
    leaves the monitor writing, so a SIGTERM still brings ``SHUTDOWN``."""
    requests = b'{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n'
    if quit_:
        requests += b'{"execute":"quit"}\n'
    results = [_stdio_run(command, requests, workdir, stdin_file=stdin_file, quit_=quit_)
               for _name, command in _pair(reference)]
    (real_status, real), (our_status, ours) = results
    assert (our_status, ours) == (real_status, real)
    reason = b"host-qmp-quit" if quit_ else b"host-signal"
    assert ours[0].startswith(b'{"QMP"') and reason in ours[3]


@pytest.mark.parametrize("stdin_file", [True, False], ids=["stdin-file", "stdin-pipe"])
def test_hmp_on_stdio(reference: Reference, workdir: Path, stdin_file: bool) -> None:
    """`-monitor stdio`: the banner, the line editor's echo and each command's text, byte for
    byte as the real QEMU writes them to a file, until `quit` ends the process."""
    requests = b"info status\ninfo numa\ninfo nosuch\nquit\n"
    outputs = []
    for _name, command in _pair(reference):
        source, sink = workdir / "hmp-requests", workdir / "hmp-replies"
        source.write_bytes(requests)
        with source.open("rb") as fin, sink.open("wb") as fout:
            result = subprocess.run(
                [*command, *BASE, "-monitor", "stdio"], stdout=fout, stderr=subprocess.DEVNULL,
                input=None if stdin_file else requests, stdin=fin if stdin_file else None,
                timeout=30, check=False)
        outputs.append((result.returncode, sink.read_bytes()))
    (real_status, real), (our_status, ours) = outputs
    assert (our_status, ours) == (real_status, real)
    assert our_status == 0 and b"(qemu) " in ours and b"VM status: paused (prelaunch)" in ours


def _terminal_settings(command: list[str], *, quit_: bool) -> tuple[list[Any], list[Any]]:
    """The settings of the terminal a `-monitor stdio` runs on, once its banner is out, and
    after the process ended (by `quit` or SIGTERM)."""
    import pty
    import select
    import termios

    master, terminal = pty.openpty()
    try:
        proc = subprocess.Popen([*command, *BASE, "-monitor", "stdio"], stdin=terminal,
                                stdout=terminal, stderr=subprocess.DEVNULL)
        seen, deadline = b"", time.monotonic() + 20
        while b"(qemu) " not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                seen += os.read(master, 4096)
        during = termios.tcgetattr(terminal)
        if quit_:
            os.write(master, b"quit\n")
        else:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        return during, termios.tcgetattr(terminal)
    finally:
        os.close(master)
        os.close(terminal)


@pytest.mark.parametrize("quit_", [True, False], ids=["quit", "sigterm"])
def test_hmp_on_a_terminal_edits_its_own_lines(reference: Reference, quit_: bool) -> None:
    """On a terminal, `-monitor stdio` turns the terminal's echo and line editing off while it
    runs (its line editor echoes), exactly as QEMU does, and puts them back at exit. (After a
    SIGTERM QEMU 7.2 leaves the terminal as it ran, a bug 10.0 fixed; qmpnuma restores it with
    either profile, so only the `quit` case is compared there.)"""
    import pty
    import termios

    master, terminal = pty.openpty()
    initial = termios.tcgetattr(terminal)
    os.close(master)
    os.close(terminal)
    (real_during, real_after), (our_during, our_after) = (
        _terminal_settings(command, quit_=quit_) for _name, command in _pair(reference))
    assert our_during == real_during and our_during != initial
    assert not our_during[3] & (termios.ECHO | termios.ICANON)
    assert our_after == initial
    if quit_:
        assert real_after == initial


@pytest.mark.parametrize("options", [
    ["-qmp", "stdio"], ["-monitor", "stdio"], ["-serial", "stdio"],
    ["-chardev", "stdio,id=c0"], ["-chardev", "stdio,id=c0", "-mon", "chardev=c0"],
], ids=["qmp", "monitor", "serial", "chardev", "mon"])
def test_stdio_refused_with_daemonize(reference: Reference, workdir: Path,
                                      options: list[str]) -> None:
    """A stdio chardev, whoever reads it, cannot be opened by a daemon (QEMU's
    `qemu_chr_open_stdio`): the same message and status as the real QEMU, nothing served."""
    outcomes = []
    for _name, command in _pair(reference):
        result = subprocess.run(
            [*command, *BASE, *options, "-daemonize"], stdin=subprocess.DEVNULL,
            capture_output=True, timeout=30, check=False, cwd=workdir)
        lines = result.stderr.decode().splitlines()
        outcomes.append((result.returncode, [line.split(": ", 1)[1] for line in lines]))
    real, ours = outcomes
    assert ours == real
    assert ours[0] == 1 and ours[1][0].endswith(": cannot use stdio with -daemonize")


def test_reported_version_can_be_chosen(workdir: Path) -> None:
    sock = str(workdir / "v.sock")
    proc = subprocess.Popen(
        [QMPNUMA, "--qmp-version=8.1.3", "--qmp-package=lab build", *BASE,
         "-qmp", f"unix:{sock},server=on,wait=off"],
    )  # fmt: skip
    try:
        conn = _connect(sock)
        greeting = json.loads(conn.read_line())
        assert greeting["QMP"]["version"] == {
            "qemu": {"micro": 3, "minor": 1, "major": 8}, "package": "lab build"}
        conn.command({"execute": "qmp_capabilities"})
        version = json.loads(conn.command({"execute": "query-version"})[-1])["return"]
        assert version == greeting["QMP"]["version"]
        hmp = conn.command({"execute": "human-monitor-command",
                            "arguments": {"command-line": "info version"}})
        assert json.loads(hmp[-1])["return"] == "8.1.3lab build\r\n"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("flags", ["server=on,wait=off", "server,nowait", "server=on,nowait"])
def test_tcp_monitor_and_old_spellings(workdir: Path, flags: str) -> None:
    port = _free_port()
    proc = subprocess.Popen([QMPNUMA, *BASE, "-qmp", f"tcp:127.0.0.1:{port},{flags}"])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "the TCP monitor never listened"
                time.sleep(0.02)
        conn = RawQmp(sock)
        assert conn.read_line().startswith(b'{"QMP"')
        conn.command({"execute": "qmp_capabilities"})
        reply = json.loads(conn.command({"execute": "query-status"})[-1])
        assert reply["return"]["status"] == "prelaunch"
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_profile_2_9_speaks_qemu_2_9(workdir: Path) -> None:
    """The seed's QEMU: no oob, query-cpus instead of query-cpus-fast, SHUTDOWN without data,
    and the implicit equal memory split of 2.9's numa.c."""
    sock = str(workdir / "p.sock")
    proc = subprocess.Popen(
        [QMPNUMA, "--profile=2.9", "-M", "pc", "-m", "1000M", "-smp", "4", "-numa", "node",
         "-numa", "node", "-numa", "node", "-S", "-qmp", f"unix:{sock},server=on,wait=off"],
    )  # fmt: skip
    try:
        conn = _connect(sock)
        greeting = json.loads(conn.read_line())
        assert greeting["QMP"] == {
            "version": {"qemu": {"micro": 0, "minor": 9, "major": 2}, "package": ""},
            "capabilities": [],
        }
        conn.command({"execute": "qmp_capabilities"})
        cpus = json.loads(conn.command({"execute": "query-cpus"})[-1])["return"]
        assert [cpu["CPU"] for cpu in cpus] == [0, 1, 2, 3]
        missing = json.loads(conn.command({"execute": "query-cpus-fast"})[-1])
        assert missing["error"]["class"] == "CommandNotFound"
        numa = json.loads(conn.command({"execute": "human-monitor-command",
                                        "arguments": {"command-line": "info numa"}})[-1])
        assert "node 0 size: 328 MB\r\nnode 1 cpus:" in numa["return"]
        assert "node 2 size: 344 MB\r\n" in numa["return"]
        lines = conn.command({"execute": "quit"})
        event = json.loads(lines[0])
        assert event["event"] == "SHUTDOWN" and "data" not in event
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_monitor_socket_removed_at_exit_like_qemu(reference: Reference, workdir: Path) -> None:
    for name, command in _pair(reference):
        sub = workdir / name
        sub.mkdir()
        pid, sock = _daemonized(command, sub)
        os.kill(pid, signal.SIGTERM)
        _wait_gone(pid)
        assert not os.path.exists(sock), f"{name} left its monitor socket behind"


@pytest.mark.parametrize("how", ["qmp-pretty", "mon-pretty"])
def test_pretty_monitor_like_qemu(reference: Reference, workdir: Path, how: str) -> None:
    """`-qmp-pretty` / `-mon pretty=on`: the same bytes as QEMU's pretty monitor."""
    requests = [b'{"execute":"qmp_capabilities"}\n', b'{"execute":"query-status","id":[1,{}]}\n',
                b'{"execute":"query-memdev"}\n', b'{"execute":"nosuch"}\n',
                b'{"execute":"query-memory-devices"}\n', b'{"execute":"cont"}\n']
    outputs = []
    for name, command in _pair(reference):
        sock = str(workdir / f"{name}-{how}.sock")
        monitor = (["-qmp-pretty", f"unix:{sock},server=on,wait=off"] if how == "qmp-pretty" else
                   ["-chardev", f"socket,id=m,path={sock},server=on,wait=off",
                    "-mon", "chardev=m,mode=control,pretty=on"])
        proc = subprocess.Popen([*command, *BASE, *monitor])
        try:
            conn = _connect(sock)
            data = b""
            for request in requests:
                conn.sock.sendall(request)
                time.sleep(0.05)
            conn.sock.settimeout(5)
            while data.count(b"\r\n}\r\n") < len(requests) + 2:
                data += conn.sock.recv(65536)
            conn.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        outputs.append(re.sub(rb'("(?:micro)?seconds": )\d+', rb"\1N", data))
    assert outputs[0] == outputs[1]


#: Start-up errors and whether QEMU has created its monitors when it meets them: a memory
#: backend fails before (backends come first in `qemu_create_late_backends`), the CPU model,
#: `-numa`, board init and `-device` after.
FAILED_STARTS = {
    "backend": (["-object", "memory-backend-ram,id=m,size=0"], False),
    "cpu-model": (["-cpu", "nosuch"], True),
    "numa": (["-smp", "2", "-numa", "node,cpus=0-5"], True),
    "board": (["-object", "memory-backend-ram,id=m,size=2G", "-machine", "memory-backend=m"],
              True),
    "device": (["-device", "nosuch"], True),
}
STDIO_MONITORS = {
    "qmp": ["-qmp", "stdio"],
    "qmp-pretty": ["-chardev", "stdio,id=s", "-mon", "chardev=s,mode=control,pretty=on"],
    "hmp": ["-monitor", "stdio"],
    "hmp-and-qmp": ["-chardev", "stdio,id=s", "-mon", "chardev=s", "-qmp",
                    "unix:{sock},server=on,wait=off"],
}


@pytest.mark.parametrize("monitor", list(STDIO_MONITORS))
@pytest.mark.parametrize("failure", list(FAILED_STARTS))
def test_failed_start_after_monitors_greets_on_stdio(
    reference: Reference, workdir: Path, failure: str, monitor: str,
) -> None:
    """A start that fails once QEMU has created its monitors leaves their opening words on
    stdout (the QMP greeting, the HMP banner and, in 7.2, its prompt) beside the error on
    stderr; one that fails before leaves nothing. Standard output and standard error are
    compared apart: QEMU's QMP monitor greets from its own thread as the main one exits, and
    about one run in ten the exit comes first, so a real run with no greeting or only its first
    lines is let pass (qmpnuma's greeting must then begin with what QEMU wrote)."""
    args, after_monitors = FAILED_STARTS[failure]
    monitor_args = [arg.replace("{sock}", str(workdir / "m.sock"))
                    for arg in STDIO_MONITORS[monitor]]
    runs = []
    for _name, command in _pair(reference):
        done = subprocess.run([*command, *BASE, *monitor_args, *args], input=b"",
                              capture_output=True, timeout=30, check=False)
        program = re.compile(rb"^[^\s:]+: ", re.MULTILINE)
        runs.append((done.returncode, program.sub(b"PROG: ", done.stderr), done.stdout))
    (real_status, real_err, real_out), (our_status, our_err, our_out) = runs
    assert (our_status, our_err) == (real_status, real_err)
    assert real_status == 1
    if not after_monitors:
        assert our_out == real_out == b""
        return
    greets = monitor.startswith("qmp")
    if greets:
        # the race's other outcomes on QEMU's side: no greeting, or its first lines
        assert our_out.startswith(real_out) and our_out.endswith(b"}\r\n")
    else:
        assert our_out == real_out
    assert our_out.startswith(b"{" if greets else b"QEMU ")
