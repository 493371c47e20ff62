"""Chardevs, monitors and serial ports: qmpnuma starts, or refuses, exactly as QEMU does.

Every case runs each real QEMU (7.2, 10.0) and qmpnuma with its profile (as a process named
`qemu-system-x86_64`, so the program name in the messages is the same) with `-daemonize`: a
refused command line ends the parent with status 1 and QEMU's lines on stderr, an accepted one
with status 0 once the chardevs are open. Exit status and stderr must be identical. The cases
cover client-mode connections that fail (unix and TCP), socket options QEMU refuses, `-mon`
and `-serial`/`-device` chardev checks, the order in which QEMU reports them, and randomly
generated mixtures of those; the client-mode cases that succeed also check that the peer got a
greeting and that the path it listens on is left alone.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Reference

PROGNAME = "qemu-system-x86_64"
BASE = ["-M", "pc", "-accel", "tcg", "-nodefaults", "-display", "none", "-S"]
#: qmpnuma with QEMU's program name (argv[0] names the program in every message).
QMPNUMA = [
    sys.executable, "-c",
    f"import sys; sys.argv[0] = {PROGNAME!r}; from qmpnuma.cli import main; sys.exit(main())",
]


def profile_env(profile: str) -> dict[str, str]:
    """The environment that makes qmpnuma (run under QEMU's name) imitate ``profile``."""
    return {**os.environ, "QMPNUMA_PROFILE": profile}


def commands(reference: Reference) -> list[tuple[list[str], dict[str, str] | None]]:
    """The real QEMU, then qmpnuma with the same profile: each command and its environment."""
    return [([reference.binary], None), (QMPNUMA, profile_env(reference.profile))]


@dataclass(frozen=True)
class Outcome:
    status: int
    stderr: str


def start(
    command: list[str], args: list[str], workdir: str, timeout: float = 30.0,
    before_kill: Callable[[], None] | None = None, env: dict[str, str] | None = None,
) -> Outcome:
    """Start ``command`` daemonized on ``args``; how start-up ended (the daemon is killed,
    after ``before_kill`` returns)."""
    with tempfile.TemporaryDirectory(prefix="pid-", dir=workdir) as piddir:
        pidfile = os.path.join(piddir, "pid")
        done = subprocess.run(
            [*command, *BASE, *args, "-daemonize", "-pidfile", pidfile],
            capture_output=True, text=True, timeout=timeout, cwd=workdir,
            stdin=subprocess.DEVNULL, check=False, env=env,
        )
        if before_kill is not None:
            before_kill()
        try:
            with open(pidfile) as handle:
                os.kill(int(handle.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    return Outcome(done.returncode, done.stderr)


def closed_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (connecting to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Places:
    """Paths and ports of one case: missing, plain-file and listening ones."""

    def __init__(self, workdir: str) -> None:
        self.dir = workdir
        self.missing = os.path.join(workdir, "nodir", "sock")
        self.plain = os.path.join(workdir, "plain")
        Path(self.plain).write_text("not a socket\n")
        self.port = closed_port()


#: Fixed cases: (name, builder of the arguments from the case's places).
CASES: list[tuple[str, Callable[[Places], list[str]]]] = [
    ("qmp-unix-missing", lambda p: ["-qmp", f"unix:{p.missing}"]),
    ("qmp-unix-plain-file", lambda p: ["-qmp", f"unix:{p.plain}"]),
    ("qmp-tcp-refused", lambda p: ["-qmp", f"tcp:127.0.0.1:{p.port}"]),
    ("qmp-tcp-localhost-refused", lambda p: ["-qmp", f"tcp:localhost:{p.port}"]),
    ("qmp-tcp-no-host", lambda p: ["-qmp", f"tcp::{p.port}"]),
    ("monitor-unix-missing", lambda p: ["-monitor", f"unix:{p.missing}"]),
    ("chardev-unix-missing", lambda p: [
        "-chardev", f"socket,id=mon,path={p.missing}", "-mon", "chardev=mon,mode=control"]),
    ("chardev-tcp-refused", lambda p: [
        "-chardev", f"socket,id=mon,host=127.0.0.1,port={p.port}",
        "-mon", "chardev=mon,mode=control"]),
    ("chardev-unix-missing-no-monitor", lambda p: ["-chardev", f"socket,id=c,path={p.missing}"]),
    ("chardev-no-address", lambda p: ["-chardev", "socket,id=c"]),
    ("chardev-fd-not-number", lambda p: ["-chardev", "socket,id=c,fd=abc"]),
    ("chardev-fd-not-open", lambda p: [
        "-chardev", "socket,id=c,fd=99,server=on,wait=off", "-mon", "chardev=c,mode=control"]),
    ("chardev-two-addresses", lambda p: ["-chardev", f"socket,id=c,path={p.missing},fd=3"]),
    ("chardev-no-port", lambda p: ["-chardev", "socket,id=c,host=127.0.0.1"]),
    ("chardev-reconnect-server", lambda p: [
        "-chardev", f"socket,id=c,path={p.dir}/s,reconnect=1,server=on,wait=off"]),
    ("chardev-server-bind-fails", lambda p: [
        "-chardev", f"socket,id=c,path={p.missing},server=on,wait=off"]),
    ("server-unlinks-a-file", lambda p: ["-qmp", f"unix:{p.plain},server=on,wait=off"]),
    ("server-cannot-unlink-a-directory", lambda p: [
        "-qmp", f"unix:{p.dir},server=on,wait=off"]),
    ("mon-chardev-missing", lambda p: ["-mon", "chardev=nochar"]),
    ("mon-no-chardev", lambda p: ["-mon", "mode=control"]),
    ("mon-bad-mode", lambda p: ["-chardev", "null,id=c", "-mon", "chardev=c,mode=bogus"]),
    ("mon-bad-mode-before-missing", lambda p: ["-mon", "chardev=nochar,mode=bogus"]),
    ("mon-bad-pretty", lambda p: ["-mon", "chardev=nochar,pretty=bogus"]),
    ("mon-pretty-hmp", lambda p: ["-chardev", "null,id=c", "-mon", "chardev=c,pretty=on"]),
    ("mon-unknown-key", lambda p: ["-chardev", "null,id=c", "-mon", "chardev=c,x=y"]),
    ("mon-flag-warning", lambda p: [
        "-chardev", "null,id=c", "-mon", "c,mode=control,nopretty"]),
    ("mon-flag-warning-then-hmp-pretty", lambda p: [
        "-chardev", "null,id=c", "-mon", "chardev=c,pretty"]),
    ("qmp-reconnect-not-a-number", lambda p: ["-qmp", f"unix:{p.missing},reconnect=soon"]),
    ("chardev-reconnect-not-a-number", lambda p: [
        "-chardev", f"socket,id=c,path={p.missing},reconnect=soon"]),
    ("mon-twice", lambda p: [
        "-chardev", "null,id=c", "-mon", "chardev=c", "-mon", "chardev=c,mode=control"]),
    ("mon-duplicate-id", lambda p: [
        "-chardev", "null,id=c", "-chardev", "null,id=d",
        "-mon", "chardev=c,id=m", "-mon", "chardev=d,id=m"]),
    ("mon-bad-id", lambda p: ["-chardev", "null,id=c", "-mon", "chardev=c,id=1m"]),
    ("serial-chardev-missing", lambda p: ["-serial", "chardev:nochar"]),
    ("serial-empty-chardev", lambda p: ["-serial", "chardev:"]),
    ("serial-bogus", lambda p: ["-serial", "bogus"]),
    ("serial-unix-missing", lambda p: ["-serial", f"unix:{p.missing}"]),
    ("device-chardev-missing", lambda p: ["-device", "isa-serial,chardev=nochar"]),
    ("device-chardev-in-use", lambda p: [
        "-chardev", "null,id=c", "-device", "isa-serial,chardev=c", "-mon", "chardev=c"]),
    ("device-chardev-twice", lambda p: [
        "-chardev", "null,id=c", "-device", "isa-serial,chardev=c",
        "-device", "isa-serial,chardev=c"]),
    ("serial-on-monitor-chardev", lambda p: [
        "-chardev", "null,id=c", "-mon", "chardev=c", "-serial", "chardev:c"]),
    ("serial-twice", lambda p: [
        "-chardev", "null,id=c", "-serial", "chardev:c", "-serial", "chardev:c"]),
    ("serial-before-device", lambda p: [
        "-chardev", "null,id=c", "-device", "isa-serial,chardev=c", "-serial", "chardev:c"]),
    ("serial-abort-before-device-check", lambda p: [
        "-chardev", "null,id=c", "-device", "isa-serial,chardev=nochar",
        "-serial", "chardev:c", "-mon", "chardev=c"]),
    # the order QEMU reports in: chardevs, then monitors, then serial ports, then devices
    ("order-connect-before-mon", lambda p: [
        "-mon", "chardev=nochar", "-qmp", f"unix:{p.missing}"]),
    ("order-pretty-before-connect", lambda p: [
        "-qmp", f"unix:{p.missing}", "-mon", "chardev=c,pretty=bogus"]),
    ("order-mon-before-serial", lambda p: ["-serial", "chardev:nochar", "-mon", "chardev=x"]),
    ("order-serial-connect-after-mon", lambda p: [
        "-serial", f"unix:{p.missing}", "-mon", "chardev=nochar"]),
    ("order-serial-before-device", lambda p: [
        "-device", "isa-serial,chardev=nochar", "-serial", "chardev:none2"]),
    # accepted: nothing on stderr, status 0
    ("accepted-serial-null", lambda p: ["-serial", "null"]),
    ("accepted-serial-none", lambda p: ["-serial", "none"]),
    ("accepted-console-server", lambda p: [
        "-chardev", f"socket,id=console,path={p.dir}/console.sock,server=on,wait=off",
        "-serial", "chardev:console"]),
    ("accepted-isa-serial", lambda p: [
        "-chardev", f"socket,id=console,path={p.dir}/console.sock,server=on,wait=off",
        "-device", "isa-serial,chardev=console"]),
    ("accepted-reconnect-later", lambda p: [
        "-chardev", f"socket,id=c,path={p.missing},reconnect=5",
        "-mon", "chardev=c,mode=control"]),
    ("accepted-monitor-before-chardev", lambda p: [
        "-mon", "chardev=c,mode=control",
        "-chardev", f"socket,id=c,path={p.dir}/m.sock,server=on,wait=off"]),
]


def _compare(
    reference: Reference, name: str, build: Callable[[Places], list[str]]
) -> str | None:
    """Run one case on both emulators (each in a fresh directory); a mismatch, or None."""
    outcomes = []
    args: list[str] = []
    for command, env in commands(reference):
        with tempfile.TemporaryDirectory(prefix="chr-") as workdir:
            places = Places(workdir)
            args = build(places)
            outcome = start(command, args, workdir, env=env)
            # paths and ports differ per run: compare with them spelt out
            text = outcome.stderr.replace(workdir, "DIR").replace(str(places.port), "PORT")
            outcomes.append(Outcome(outcome.status, text))
    expected, got = outcomes
    if expected == got:
        return None
    return f"{name} {args}:\n  qemu:    {expected}\n  qmpnuma: {got}"


def _compare_all(
    reference: Reference, cases: list[tuple[str, Callable[[Places], list[str]]]]
) -> list[str]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = pool.map(lambda case: _compare(reference, *case), cases)
        mismatches = [text for text in results if text is not None]
    print(f"\nchardev cases [qemu-{reference.profile}]: identical "
          f"{len(cases) - len(mismatches)}/{len(cases)}")
    return mismatches


@pytest.mark.qemu
def test_fixed_cases_match_qemu(reference: Reference) -> None:
    mismatches = _compare_all(reference, CASES)
    assert not mismatches, "\n".join(mismatches)


def _random_case(rng: random.Random) -> tuple[str, Callable[[Places], list[str]]]:
    """A mixture: some chardevs (good, failing to connect, refused), monitors on them or on
    missing ones, serial ports and devices, in a random order of options."""
    label = rng.choice(["c", "mon", "chr0", "x.y"])
    parts: list[Callable[[Places], list[str]]] = []
    kind = rng.choices(["null", "server", "missing", "refused", "none"], [3, 3, 1, 1, 1])[0]
    if kind == "null":
        parts.append(lambda p: ["-chardev", f"null,id={label}"])
    elif kind == "server":
        parts.append(lambda p: [
            "-chardev", f"socket,id={label},path={p.dir}/{label}.sock,server=on,wait=off"])
    elif kind == "missing":
        parts.append(lambda p: ["-chardev", f"socket,id={label},path={p.missing}"])
    elif kind == "refused":
        parts.append(lambda p: [
            "-chardev", f"socket,id={label},host=127.0.0.1,port={p.port}"])
    mon_target = rng.choices([label, "nochar", None], [4, 1, 2])[0]
    if mon_target is not None:
        mode = rng.choices(["control", "readline", "bogus"], [4, 2, 1])[0]
        parts.append(lambda p: ["-mon", f"chardev={mon_target},mode={mode}"])
        if rng.random() < 0.2:
            parts.append(lambda p: ["-mon", f"chardev={mon_target},mode=control"])
    serial = rng.choices([f"chardev:{label}", "chardev:nochar", "null", "bogus", None],
                        [2, 1, 2, 1, 3])[0]
    if serial is not None:
        parts.append(lambda p: ["-serial", serial])
    parallel = rng.choice([f"chardev:{label}", "chardev:nochar", "null", None, None])
    if parallel is not None:
        parts.append(lambda p: ["-parallel", parallel])
    if rng.random() < 0.4:
        device_target = rng.choice([label, "nochar"])
        parts.append(lambda p: ["-device", f"isa-serial,chardev={device_target}"])
    if rng.random() < 0.2:
        qmp_missing = rng.random() < 0.5
        parts.append(lambda p: ["-qmp", f"unix:{p.missing}" if qmp_missing else "bogus"])
    rng.shuffle(parts)
    order = list(parts)

    def build(places: Places) -> list[str]:
        return [word for part in order for word in part(places)]

    return f"random-{kind}-{mon_target}-{serial}", build


@pytest.mark.qemu
def test_random_mixtures_match_qemu(reference: Reference) -> None:
    seed = int(os.environ.get("QMPNUMA_CHARDEV_SEED", "13"))
    rng = random.Random(seed)
    cases = [_random_case(rng) for _ in range(24)]
    mismatches = _compare_all(reference, cases)
    assert not mismatches, f"seed {seed}:\n" + "\n".join(mismatches)


@pytest.mark.qemu
def test_serial_port_on_a_claimed_chardev_aborts_as_qemu(reference: Reference) -> None:
    """Not daemonized, QEMU dies of its own SIGABRT (`error_abort` while building the board)."""
    seen = []
    for command, env in commands(reference):
        with tempfile.TemporaryDirectory(prefix="chr-") as workdir:
            done = subprocess.run(
                [*command, *BASE, "-chardev", "null,id=c", "-serial", "chardev:c",
                 "-mon", "chardev=c"],
                capture_output=True, text=True, timeout=30, cwd=workdir,
                stdin=subprocess.DEVNULL, check=False, env=env,
            )
        seen.append((done.returncode, done.stderr))
    assert seen[0] == seen[1]
    assert seen[1][0] == -signal.SIGABRT


# -- client mode that succeeds: the peer listens, gets a greeting, keeps its path ---------------


@contextmanager
def listening(kind: str, workdir: str) -> Iterator[tuple[socket.socket, str]]:
    """A listener of the test's own (what QEMU 7.2's QEMUMachine does); its address as text."""
    if kind == "unix":
        path = os.path.join(workdir, "peer.sock")
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)
        spec = f"path={path}"
    else:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        spec = f"host=127.0.0.1,port={sock.getsockname()[1]}"
    sock.listen(2)
    sock.settimeout(20)
    try:
        yield sock, spec
    finally:
        sock.close()


def _first_message(sock: socket.socket) -> bytes:
    conn, _ = sock.accept()
    conn.settimeout(20)
    with conn:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.qemu
@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_client_mode_connects_greets_and_leaves_the_path(reference: Reference, kind: str) -> None:
    seen = []
    for command, env in commands(reference):
        with tempfile.TemporaryDirectory(prefix="chr-") as workdir, \
                listening(kind, workdir) as (listener, spec):
            greeting: list[bytes] = []
            reader = threading.Thread(
                target=lambda out=greeting, sock=listener: out.append(_first_message(sock)))
            reader.start()
            outcome = start(command, [
                "-chardev", f"socket,id=mon,{spec}", "-mon", "chardev=mon,mode=control",
            ], workdir, before_kill=lambda thread=reader: thread.join(30), env=env)
            left = sorted(os.listdir(workdir))
            seen.append((outcome, greeting[0][:9] if greeting else b"", left))
    assert seen[0] == seen[1]
    outcome, greeting_start, left = seen[1]
    assert outcome == Outcome(0, "")
    assert greeting_start == b'{"QMP": {'
    if kind == "unix":
        assert "peer.sock" in left  # the listener's path is not ours to remove


# -- the 2.9 profile (no binary): the connect errors as QEMU worded them before 5.2 ------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("unix:{missing}", "Failed to connect socket {missing}: No such file or directory"),
        ("tcp:127.0.0.1:{port}", "Failed to connect socket: Connection refused"),
    ],
)
def test_profile_2_9_connect_errors(option: str, expected: str) -> None:
    """QEMU 5.2 put the address into both texts (commit "util: include the target address in
    socket connect failures"); 2.9 printed the unix path only and no TCP address."""
    with tempfile.TemporaryDirectory(prefix="chr-") as workdir:
        places = Places(workdir)
        spec = option.format(missing=places.missing, port=places.port)
        env = {**os.environ, "QMPNUMA_PROFILE": "2.9"}
        done = subprocess.run(
            [*QMPNUMA, *BASE, "-qmp", spec], capture_output=True, text=True, timeout=30,
            cwd=workdir, stdin=subprocess.DEVNULL, env=env, check=False,
        )
        text = expected.format(missing=places.missing)
    assert (done.returncode, done.stderr) == (1, f"{PROGNAME}: -qmp {spec}: {text}\n")
