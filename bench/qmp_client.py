"""A small synchronous QMP client on a unix socket, the same for qmpnuma and for QEMU.

The benchmarks must not favour either side, so both are driven by this one client: it connects,
reads the greeting, negotiates, and sends one command (`query-memdev` unless told otherwise)
either one at a time (round trips) or as one burst (pipelined). Run as a program it measures in
its own process, so that the server under test never shares an interpreter with its client:

    python -m bench.qmp_client roundtrips SOCKET COUNT [COMMAND] [--unique-ids]
    python -m bench.qmp_client pipelined SOCKET COUNT [COMMAND] [--unique-ids]
                                                           -> {"seconds": ..., "count": ...}

By default every request is the same line (`{"execute": "query-memdev"}`); with `--unique-ids`
each carries its own `"id"` (1, 2, ...), as real clients such as libvirt and qemu.qmp send them,
so no server can answer a burst by recognising one repeated line.

After negotiation `qmp_capabilities` is answered with QEMU's "already complete" error: still one
request and one reply line, which is what is timed.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

QUERY = b'{"execute": "query-memdev"}\n'
NEGOTIATE = b'{"execute": "qmp_capabilities"}\n'


class QmpLineClient:
    """QMP over a unix socket, reading one reply line at a time (events are skipped)."""

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self._buffer = b""
        self._pos = 0

    def read_line(self) -> bytes:
        """The next line; the buffer is consumed by position, so a chunk holding thousands of
        replies costs one pass over it rather than one copy of its rest per line."""
        while True:
            buffer = self._buffer
            cut = buffer.find(b"\n", self._pos)
            if cut >= 0:
                line = buffer[self._pos : cut + 1]
                self._pos = cut + 1
                return line
            chunk = self.sock.recv(262144)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._buffer = buffer[self._pos :] + chunk
            self._pos = 0

    def read_reply(self) -> bytes:
        while True:
            line = self.read_line()
            if not line.startswith(b'{"event"') and line.strip():
                return line

    def handshake(self) -> None:
        self.read_line()
        self.sock.sendall(NEGOTIATE)
        self.read_reply()

    def query(self, request: bytes = QUERY) -> bytes:
        self.sock.sendall(request)
        return self.read_reply()

    def close(self) -> None:
        self.sock.close()


def connect_when_ready(path: str, deadline: float) -> QmpLineClient:
    """Connect as soon as the socket accepts (polling every 0.5 ms), or raise at ``deadline``."""
    while True:
        try:
            return QmpLineClient(path)
        except (FileNotFoundError, ConnectionRefusedError):
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.0005)


def request_line(command: str) -> bytes:
    """The request line the client sends for ``command`` (argument-less)."""
    return b'{"execute": "' + command.encode("ascii") + b'"}\n'


def request_with_id(command: str, ident: int) -> bytes:
    """The request line for ``command`` with ``"id": ident`` (as unique-id clients send)."""
    return b'{"execute": "%s", "id": %d}\n' % (command.encode("ascii"), ident)


def requests(command: str, count: int, unique_ids: bool, first: int = 1) -> list[bytes]:
    """``count`` request lines: the same line, or each with its own id from ``first`` on."""
    if not unique_ids:
        return [request_line(command)] * count
    return [request_with_id(command, ident) for ident in range(first, first + count)]


def round_trips(
    path: str, count: int, command: str = "query-memdev", unique_ids: bool = False
) -> float:
    """Seconds for ``count`` sequential round trips of ``command`` on one connection."""
    client = QmpLineClient(path)
    client.handshake()
    for request in requests(command, 50, unique_ids, first=count + 1):
        client.query(request)
    lines = requests(command, count, unique_ids)
    began = time.perf_counter()
    for request in lines:
        client.query(request)
    elapsed = time.perf_counter() - began
    client.close()
    return elapsed


def pipelined(
    path: str, count: int, command: str = "query-memdev", unique_ids: bool = False
) -> float:
    """Seconds from sending a burst of ``count`` requests to reading the last reply."""
    client = QmpLineClient(path)
    client.handshake()
    burst = b"".join(requests(command, count, unique_ids))
    began = time.perf_counter()
    sender = threading.Thread(target=client.sock.sendall, args=(burst,))
    sender.start()
    for _ in range(count):
        client.read_reply()
    elapsed = time.perf_counter() - began
    sender.join()
    client.close()
    return elapsed


def main(argv: list[str]) -> int:
    unique_ids = "--unique-ids" in argv
    argv = [arg for arg in argv if arg != "--unique-ids"]
    mode, path, count = argv[0], argv[1], int(argv[2])
    command = argv[3] if len(argv) > 3 else "query-memdev"
    measure = round_trips if mode == "roundtrips" else pipelined
    seconds = measure(path, count, command, unique_ids)
    print(json.dumps({"seconds": seconds, "count": count}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
