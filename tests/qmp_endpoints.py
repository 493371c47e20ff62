"""Start real QEMU or qmpnuma on the same arguments and talk raw QMP to either.

The differential tests compare reply lines byte for byte, so this client works on raw lines: it
sends bytes, reads `\\r\\n`-terminated lines, and tells events from replies. Only the values that
are specific to a host or a run (thread ids, event timestamps) are normalised before comparing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

FIXED_ARGS = ["-accel", "tcg", "-nodefaults", "-display", "none"]
QMPNUMA = [sys.executable, "-m", "qmpnuma.cli"]


@dataclass
class RawQmp:
    """A raw line-oriented QMP connection."""

    sock: socket.socket
    buffer: bytes = b""
    events: list[bytes] = field(default_factory=list)

    def read_line(self, timeout: float = 10.0) -> bytes:
        """Read one `\\r\\n`-terminated line (the terminator is kept)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line within {timeout}s (have {self.buffer!r})")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed (have {self.buffer!r})")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def lines_until_reply(self, timeout: float = 10.0) -> list[bytes]:
        """Lines up to and including the next reply (events before it included)."""
        lines = []
        while True:
            line = self.read_line(timeout)
            lines.append(line)
            if not line.startswith(b'{"timestamp"'):
                return lines

    def command(self, request: dict[str, object] | str | bytes) -> list[bytes]:
        """Send one request and return the lines it produced (events, then the reply)."""
        if isinstance(request, dict):
            data = json.dumps(request).encode() + b"\n"
        elif isinstance(request, str):
            data = request.encode()
        else:
            data = request
        self.sock.sendall(data)
        return self.lines_until_reply()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _wait_for_socket(path: str, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"exited with {proc.returncode} before listening: {err}")
        time.sleep(0.01)
    raise TimeoutError(f"{path} did not appear")


def _connect(path: str, timeout: float = 10.0) -> socket.socket:
    """Connect, retrying while the socket exists but is not listening yet (bind before listen)."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except ConnectionRefusedError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def connect_unix(path: str, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> socket.socket:
    """Wait for a started QEMU or qmpnuma to listen on ``path`` and connect to it.

    QEMU binds its socket before it listens, so a client that connects as soon as the path
    exists can be refused; this waits for both, and fails early if the process died.
    """
    _wait_for_socket(path, proc, timeout)
    return _connect(path, timeout)


@contextlib.contextmanager
def started(
    command: Sequence[str], args: Sequence[str], *, fixed: bool = True
) -> Iterator[tuple[RawQmp, bytes, subprocess.Popen[bytes]]]:
    """Run ``command args -qmp unix:...``; yield the negotiated connection and the greeting."""
    with tempfile.TemporaryDirectory(prefix="qmpnuma-qmp-") as tmp:
        path = os.path.join(tmp, "qmp.sock")
        argv = [*command, *(FIXED_ARGS if fixed else []), *args]
        argv += ["-qmp", f"unix:{path},server=on,wait=off"]
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=tmp)
        conn: RawQmp | None = None
        try:
            _wait_for_socket(path, proc)
            conn = RawQmp(_connect(path))
            greeting = conn.read_line()
            yield conn, greeting, proc
        finally:
            if conn is not None:
                conn.close()
            proc.kill()
            proc.wait()
            if proc.stderr:
                proc.stderr.close()


_THREAD_ID = re.compile(rb'"thread-id": \d+|thread_id=\d+|"thread_id": \d+')
_TIMESTAMP = re.compile(rb'"seconds": -?\d+, "microseconds": -?\d+')


def normalise(line: bytes) -> bytes:
    """Blank out what differs between two runs of the same machine (thread ids, timestamps)."""
    line = _TIMESTAMP.sub(b'"seconds": 0, "microseconds": 0', line)
    return _THREAD_ID.sub(lambda m: re.sub(rb"\d+", b"0", m.group(0)), line)
