"""Safe by default: owner-only sockets and pidfiles, nothing else on disk, no file or program
access on a client's behalf (QMP or HMP), `memory-backend-file` never opened for writing."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import Reference
from qmp_endpoints import connect_unix

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.errors import QmpError
from qmpnuma.machine import Machine
from qmpnuma.profiles import wire_types
from qmpnuma.qmp.session import Execute, QmpSession, Send

#: QMP commands of QEMU 7.2 that read or write host files, open sockets or run programs.
FILE_COMMANDS = [
    "dump-guest-memory", "memsave", "pmemsave", "screendump", "migrate", "migrate-incoming",
    "getfd", "add-fd", "blockdev-add", "blockdev-create", "drive-mirror", "drive-backup",
    "blockdev-snapshot-sync", "chardev-add", "chardev-change", "netdev_add", "nbd-server-start",
    "block-export-add", "snapshot-save", "snapshot-load", "xen-save-devices-state",
    "xen-load-devices-state", "dump-skeys", "human-monitor-command-x", "x-colo-lost-heartbeat",
    "trace-event-set-state", "qom-set-file",
]
#: HMP commands that touch files or run programs.
HMP_FILE_COMMANDS = [
    "memsave 0 4096 /tmp/qmpnuma-mem", "pmemsave 0 4096 /tmp/qmpnuma-pmem",
    "dump-guest-memory /tmp/qmpnuma-dump", "screendump /tmp/qmpnuma-screen",
    "migrate exec:touch /tmp/qmpnuma-pwned", "savevm snap", "loadvm snap",
    "drive_add 0 file=/etc/passwd", "chardev-add file,id=f,path=/tmp/qmpnuma-chr",
    "logfile /tmp/qmpnuma-log", "wavcapture /tmp/qmpnuma-wav", "gdbserver tcp::1234",
    "netdev_add user,id=n", "sendkey ctrl-alt-delete", "getfd fd", "trace-file on",
    "snapshot_blkdev disk /tmp/qmpnuma-snap",
]

#: Audit events that would mean a file was changed or a program started.
_AUDITED = ("open", "os.remove", "os.rename", "os.unlink", "os.truncate", "os.chmod",
            "os.mkdir", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
            "subprocess.Popen", "shutil.copyfile", "socket.connect", "socket.bind")
_EVENTS: list[tuple[str, tuple[Any, ...]]] = []
_RECORDING = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDING[0] and event.startswith(_AUDITED):
        _EVENTS.append((event, args))


sys.addaudithook(_audit)


@contextmanager
def audited() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Collect the audited events raised in the block."""
    _EVENTS.clear()
    _RECORDING[0] = True
    try:
        yield _EVENTS
    finally:
        _RECORDING[0] = False


def _writes(events: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
    bad = []
    for event, args in events:
        if event == "open":
            mode = args[1] if len(args) > 1 else "r"
            flags = args[2] if len(args) > 2 else 0
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
            if writing:
                bad.append((event, args))
        else:
            bad.append((event, args))
    return bad


def _run(session: QmpSession, registry: CommandRegistry, data: bytes) -> list[dict[str, Any]]:
    """Feed bytes, run what the session hands over, return the decoded replies."""
    out: list[bytes] = []
    for action in session.feed(data):
        if isinstance(action, Send):
            out.append(action.data)
        elif isinstance(action, Execute):
            try:
                out.append(session.reply(action, registry.execute(action.name, action.args)))
            except QmpError as err:
                out.append(session.reply_error(action, err))
    return [json.loads(line) for line in out]


def _negotiated(machine: Machine) -> tuple[QmpSession, CommandRegistry]:
    types = wire_types(machine.profile)
    session = QmpSession(types.COMMANDS, types.SCHEMA, profile=machine.profile)
    registry = CommandRegistry(machine)
    session.feed(b'{"execute": "qmp_capabilities"}')
    return session, registry


def test_memory_backend_file_is_never_opened_for_writing(tmp_path: Path) -> None:
    backing = tmp_path / "backing"
    backing.write_bytes(b"guest memory must stay as it is")
    os.truncate(backing, 1 << 30)  # sparse: the size QEMU would demand, no disk used
    backing.chmod(0o400)
    before = backing.stat()
    missing = tmp_path / "missing-dir" / "file"
    args = [
        "-M", "pc", "-m", "1G,slots=2,maxmem=4G",
        "-object", f"memory-backend-file,id=f0,size=1G,mem-path={backing},share=on",
        "-numa", "node,memdev=f0",
    ]
    with audited() as events:
        machine = Machine.from_argv(args)
        session, registry = _negotiated(machine)
        replies = _run(session, registry, json.dumps({
            "execute": "object-add", "id": 1,
            "arguments": {"qom-type": "memory-backend-file", "id": "f1", "size": 1 << 30,
                          "mem-path": str(backing), "share": True, "prealloc": False},
        }).encode() + json.dumps({
            "execute": "object-add", "id": 2,
            "arguments": {"qom-type": "memory-backend-file", "id": "f2", "size": 1 << 20,
                          "mem-path": str(tmp_path), "share": False},
        }).encode() + b'{"execute": "query-memdev", "id": 3}')
    assert _writes(events) == []
    assert replies[0] == {"return": {}, "id": 1}
    assert [dev["id"] for dev in replies[-1]["return"]].count("f1") == 1
    after = backing.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    with open(backing, "rb") as handle:
        assert handle.read(31) == b"guest memory must stay as it is"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backing"]
    assert not missing.parent.exists()


def test_file_and_program_commands_are_not_found() -> None:
    machine = Machine.from_argv(["-m", "1G"])
    session, registry = _negotiated(machine)
    with audited() as events:
        for name in FILE_COMMANDS:
            request = {"execute": name, "arguments": {"filename": "/tmp/x"}, "id": name}
            (reply,) = _run(session, registry, json.dumps(request).encode())
            assert reply == {
                "id": name,
                "error": {"class": "CommandNotFound",
                          "desc": f"The command {name} has not been found"},
            }
        for line in HMP_FILE_COMMANDS:
            request = {"execute": "human-monitor-command", "arguments": {"command-line": line}}
            (reply,) = _run(session, registry, json.dumps(request).encode())
            assert reply == {"return": f"unknown command: '{line.split()[0]}'\r\n"}
    assert _writes(events) == []
    assert not any(os.path.exists(f"/tmp/qmpnuma-{name}") for name in ("mem", "pwned", "log"))


def test_real_qemu_unavailable_command_texts(reference: Reference, tmp_path: Path) -> None:
    """The texts above are QEMU's own for a command it does not have (QMP and HMP)."""
    path = str(tmp_path / "q.sock")
    proc = subprocess.Popen(
        [reference.binary, "-accel", "tcg", "-nodefaults", "-display", "none", "-S",
         "-qmp", f"unix:{path},server=on,wait=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        with connect_unix(path, proc) as sock:
            stream = sock.makefile("rwb")
            stream.readline()
            stream.write(b'{"execute": "qmp_capabilities"}\n'
                         b'{"execute": "qmpnuma-no-such", "id": 1}\n'
                         b'{"execute": "human-monitor-command", '
                         b'"arguments": {"command-line": "qmpnuma-no-such 1 2"}}\n')
            stream.flush()
            stream.readline()
            assert json.loads(stream.readline()) == {"id": 1, "error": {
                "class": "CommandNotFound",
                "desc": "The command qmpnuma-no-such has not been found",
            }}
            assert json.loads(stream.readline()) == {
                "return": "unknown command: 'qmpnuma-no-such'\r\n"}
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("daemonize", [False, True])
def test_sockets_and_pidfile_owner_only_and_nothing_else_written(
    tmp_path: Path, daemonize: bool
) -> None:
    work = tmp_path / "cwd"
    home = tmp_path / "home"
    run = tmp_path / "run"
    for folder in (work, home, run):
        folder.mkdir()
    sock, pidfile = run / "q.sock", run / "q.pid"
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home), "TMPDIR": str(home)}
    argv = [sys.executable, "-m", "qmpnuma.cli", "-m", "1G", "-pidfile", str(pidfile),
            "-qmp", f"unix:{sock},server=on,wait=off", "-chardev",
            f"socket,id=c,path={run / 'c.sock'},server=on,wait=off",
            "-mon", "chardev=c,mode=control", "-D", str(run / "qemu.log")]
    if daemonize:
        argv.append("-daemonize")
    old_umask = os.umask(0o022)  # a permissive umask must not widen what qmpnuma creates
    try:
        proc = subprocess.Popen(argv, cwd=work, env=env, stderr=subprocess.PIPE)
    finally:
        os.umask(old_umask)
    try:
        if daemonize:
            assert proc.wait(timeout=20) == 0
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and sock.exists()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for path in (sock, run / "c.sock", pidfile):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        pid = int(pidfile.read_text())
        with socket.socket(socket.AF_UNIX) as client:  # serving: signals are handled now
            client.connect(str(sock))
            assert client.makefile("rb").readline().startswith(b'{"QMP"')
        assert sorted(p.name for p in run.iterdir()) == ["c.sock", "q.pid", "q.sock"]
        assert list(work.iterdir()) == [] and list(home.iterdir()) == []
    finally:
        if daemonize:
            os.kill(pid, 15)
        else:
            proc.terminate()
            proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pidfile.exists()
    assert list(work.iterdir()) == [] and list(home.iterdir()) == []
