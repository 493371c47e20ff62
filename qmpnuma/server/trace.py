"""Session recording: every byte in and out of every connection, with timestamps.

A trace is a JSON-lines file, created owner-only. The first line is a header
(`{"qmpnuma-trace": 1, "start": WALL}`); every other line is one record
`{"t": SECONDS_SINCE_START, "conn": N, "dir": "open"|"in"|"out"|"close", "data": TEXT}` where
`data` holds the bytes exactly, as latin-1 text (one character per byte), so that a trace can be
read without a decoder and replayed byte for byte (`qmpnuma.replay`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

__all__ = ["TraceEntry", "TraceRecorder", "read_trace"]

Direction = Literal["open", "in", "out", "close"]


@dataclass(frozen=True)
class TraceEntry:
    """One record of a trace."""

    t: float
    conn: int
    dir: Direction
    data: bytes = b""


class TraceRecorder:
    """Appends records to a trace file (owner-only, created or truncated at start)."""

    def __init__(self, path: str | Path) -> None:
        fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._file: IO[str] = os.fdopen(fd, "w", encoding="ascii")
        self._start = time.monotonic()
        header = {"qmpnuma-trace": 1, "start": time.time()}
        self._file.write(json.dumps(header) + "\n")
        self._file.flush()

    def _write(self, conn: int, direction: Direction, data: bytes) -> None:
        if self._file.closed:
            return
        record = {
            "t": round(time.monotonic() - self._start, 6),
            "conn": conn,
            "dir": direction,
            "data": data.decode("latin-1"),
        }
        self._file.write(json.dumps(record) + "\n")

    def opened(self, conn: int) -> None:
        """A client connected."""
        self._write(conn, "open", b"")

    def record(self, conn: int, direction: Literal["in", "out"], data: bytes) -> None:
        """Bytes read from (``in``) or written to (``out``) a client."""
        self._write(conn, direction, data)

    def closed(self, conn: int) -> None:
        """A connection ended; the file is flushed so the trace survives a crash after it."""
        self._write(conn, "close", b"")
        self.flush()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def read_trace(path: str | Path) -> Iterator[TraceEntry]:
    """The records of a trace file, in order (the header is checked and skipped)."""
    with open(path, encoding="ascii") as handle:
        header = json.loads(handle.readline() or "{}")
        if header.get("qmpnuma-trace") != 1:
            raise ValueError(f"{path}: not a qmpnuma trace")
        for line in handle:
            if line.strip():
                item = json.loads(line)
                yield TraceEntry(
                    float(item["t"]), int(item["conn"]), item["dir"],
                    str(item.get("data", "")).encode("latin-1"),
                )
