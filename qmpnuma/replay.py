"""Replay a recorded trace against any QMP endpoint and report the first difference.

`qmpnuma replay TRACE --connect unix:PATH|HOST:PORT` reconnects once per recorded connection,
sends exactly the bytes the client sent (in the same chunks), and compares the messages that come
back with the recorded ones, byte for byte after two normalisations that differ between runs and
hosts by nature: event timestamps and vCPU thread ids. The endpoint may be qmpnuma or a real QEMU
started on the same command line. `qmpnuma replay TRACE --replies OUT` instead writes the trace as
libvirt's blank-line separated command/reply file (`.replies`).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qmpnuma.qobject.json_parser import JsonError, JsonStreamer
from qmpnuma.server.trace import TraceEntry, read_trace

__all__ = [
    "ConnectionScript",
    "Difference",
    "ReplayResult",
    "normalise",
    "replay",
    "replies_text",
    "scripts_from_trace",
]

_TIMESTAMP = re.compile(rb'"timestamp": \{"seconds": -?\d+, "microseconds": -?\d+\}')
_THREAD_ID = re.compile(rb'"thread-id": \d+')


def normalise(message: bytes) -> bytes:
    """A message with the values that differ between runs (timestamps, thread ids) fixed."""
    message = _TIMESTAMP.sub(b'"timestamp": {"seconds": 0, "microseconds": 0}', message)
    return _THREAD_ID.sub(b'"thread-id": 0', message)


def split_messages(data: bytes) -> list[bytes]:
    """The complete `\\r\\n`-terminated messages in ``data`` (terminators kept)."""
    parts = data.split(b"\r\n")
    return [part + b"\r\n" for part in parts[:-1]]


@dataclass
class Exchange:
    """Bytes the client sent in a row, and the messages that came back before it sent more."""

    sent: bytes
    received: list[bytes]


@dataclass
class ConnectionScript:
    """One recorded connection: its greeting messages, then its exchanges."""

    number: int
    greeting: list[bytes] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)


def scripts_from_trace(entries: Iterable[TraceEntry]) -> list[ConnectionScript]:
    """Group a trace into per-connection scripts, connections in the order they opened."""
    scripts: dict[int, ConnectionScript] = {}
    pending_out: dict[int, bytes] = {}
    for entry in entries:
        script = scripts.setdefault(entry.conn, ConnectionScript(entry.conn))
        if entry.dir == "out":
            pending_out[entry.conn] = pending_out.get(entry.conn, b"") + entry.data
        elif entry.dir in ("in", "close"):
            out = pending_out.pop(entry.conn, b"")
            if out:
                if script.exchanges:
                    script.exchanges[-1].received.extend(split_messages(out))
                else:
                    script.greeting.extend(split_messages(out))
            if entry.dir == "in":
                last = script.exchanges[-1] if script.exchanges else None
                if last is not None and not last.received:
                    last.sent += entry.data
                else:
                    script.exchanges.append(Exchange(entry.data, []))
    for number, out in pending_out.items():
        script = scripts[number]
        target = script.exchanges[-1].received if script.exchanges else script.greeting
        target.extend(split_messages(out))
    return list(scripts.values())


@dataclass(frozen=True)
class Difference:
    """Where a replay first departed from the recording."""

    connection: int
    message: int
    sent: bytes
    expected: bytes | None
    actual: bytes | None

    def describe(self) -> str:
        def show(value: bytes | None) -> str:
            return "(nothing)" if value is None else value.decode("latin-1").rstrip("\r\n")

        return (
            f"connection {self.connection}, message {self.message}"
            f" (after sending {self.sent.decode('latin-1')!r}):\n"
            f"  expected: {show(self.expected)}\n"
            f"  actual:   {show(self.actual)}\n"
        )


@dataclass
class ReplayResult:
    """How far a replay got: connections and messages compared, and the first difference."""

    connections: int = 0
    messages: int = 0
    difference: Difference | None = None


def _connect(target: str, timeout: float) -> socket.socket:
    if target.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(target[5:])
        return sock
    host, _, port = target.removeprefix("tcp:").rpartition(":")
    return socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout)


class _Reader:
    """Reads `\\r\\n`-terminated messages from a socket with a deadline per message."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def message(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line + b"\r\n"


def _compare(
    reader: _Reader, expected: Sequence[bytes], result: ReplayResult, conn: int, sent: bytes,
    timeout: float,
) -> bool:
    for want in expected:
        got = reader.message(timeout)
        result.messages += 1
        if got is None or normalise(got) != normalise(want):
            result.difference = Difference(conn, result.messages, sent, want, got)
            return False
    return True


def replay(trace: str | Path, target: str, *, timeout: float = 5.0) -> ReplayResult:
    """Replay every connection of ``trace`` against ``target``; stop at the first difference."""
    result = ReplayResult()
    for script in scripts_from_trace(read_trace(trace)):
        result.connections += 1
        sock = _connect(target, timeout)
        try:
            reader = _Reader(sock)
            if not _compare(reader, script.greeting, result, script.number, b"", timeout):
                return result
            for exchange in script.exchanges:
                sock.sendall(exchange.sent)
                if not _compare(
                    reader, exchange.received, result, script.number, exchange.sent, timeout
                ):
                    return result
        finally:
            sock.close()
    return result


def _pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def replies_text(entries: Iterable[TraceEntry]) -> str:
    """The trace as libvirt's `.replies` file: each command, then its reply, blank-line separated.

    Greetings and events are left out (libvirt's files hold neither); a request the server could
    not parse has no command to show, so it and its error reply are left out as well.
    """
    blocks: list[str] = []
    for script in scripts_from_trace(entries):
        streamer = JsonStreamer()
        requests: list[object] = []
        replies: list[object] = []
        for exchange in script.exchanges:
            requests.extend(streamer.feed(exchange.sent))
            for raw in exchange.received:
                message = json.loads(raw)
                if isinstance(message, dict) and "event" in message and "timestamp" in message:
                    continue
                replies.append(message)
        for request, reply in zip(requests, replies, strict=False):
            if isinstance(request, JsonError):
                continue
            blocks.append(_pretty(request))
            blocks.append(_pretty(reply))
    return "".join(block + "\n\n" for block in blocks).removesuffix("\n")


def main(args: Sequence[str]) -> int:
    """`qmpnuma replay TRACE (--connect unix:PATH|HOST:PORT | --replies OUT) [--timeout S]`."""
    usage = ("usage: qmpnuma replay TRACE --connect unix:PATH|HOST:PORT [--timeout S]\n"
             "       qmpnuma replay TRACE --replies OUT.replies\n")
    rest = list(args)
    options: dict[str, str] = {}
    positional: list[str] = []
    while rest:
        item = rest.pop(0)
        if item.startswith("--") and "=" in item:
            key, value = item[2:].split("=", 1)
            options[key] = value
        elif item.startswith("--") and rest:
            options[item[2:]] = rest.pop(0)
        else:
            positional.append(item)
    if len(positional) != 1 or not ({"connect", "replies"} & options.keys()):
        sys.stderr.write(usage)
        return 2
    trace = positional[0]
    if "replies" in options:
        Path(options["replies"]).write_text(replies_text(read_trace(trace)), encoding="utf-8")
        return 0
    result = replay(trace, options["connect"], timeout=float(options.get("timeout", "5")))
    if result.difference is not None:
        sys.stdout.write("first difference at " + result.difference.describe())
        return 1
    sys.stdout.write(
        f"identical: {result.connections} connections, {result.messages} messages\n"
    )
    return 0
