"""The streams of a monitor on stdio (``-qmp stdio``, ``-mon chardev=...`` on ``-chardev stdio``),
whatever stdin and stdout are.

asyncio's pipe transports take pipes, sockets and character devices only: epoll cannot watch a
regular file, so a script's ``qemu ... -qmp stdio < requests.json > replies.json`` would leave
the monitor without streams. QEMU reads and writes such files as it does pipes (its stdio
chardev polls what it can and reads regular files at once), so here a regular stdin is read by a
thread that feeds the reader as the data comes, and a regular stdout is written at once (a file
never makes a write wait).

An HMP monitor echoes what is typed itself (its line editor), so on a terminal QEMU switches the
terminal's own echo and line editing off while it runs (``qemu_chr_set_echo_stdio``) and puts
them back at exit; `editor_terminal` does the same. A QMP monitor leaves the terminal as it is.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
import threading
from typing import Any

#: Bytes one read of a regular stdin takes (what a pipe's read would bring at most).
READ_SIZE = 1 << 16


class FileOutput(asyncio.WriteTransport):
    """stdout redirected to a regular file: every write goes out whole, at once."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def abort(self) -> None:
        self._closing = True


def _pump(fd: int, loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader) -> None:
    """Feed ``reader`` what a regular file holds, then its end (from a thread)."""
    try:
        while chunk := os.read(fd, READ_SIZE):
            loop.call_soon_threadsafe(reader.feed_data, chunk)
    except OSError:
        pass
    finally:
        loop.call_soon_threadsafe(reader.feed_eof)


async def stdio_streams() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A reader of stdin and a writer to stdout, through pipe transports where asyncio has
    them and directly for regular files."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except ValueError:  # a regular file
        threading.Thread(target=_pump, args=(sys.stdin.fileno(), loop, reader),
                         name="qmpnuma-stdin", daemon=True).start()
    transport: asyncio.BaseTransport
    protocol: asyncio.streams.FlowControlMixin
    try:
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, sys.stdout
        )
    except ValueError:  # a regular file
        transport, protocol = FileOutput(sys.stdout.fileno()), asyncio.streams.FlowControlMixin()
        protocol.connection_made(transport)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


def editor_terminal() -> None:
    """Hand a terminal on stdin to a line editor, as ``qemu_chr_set_echo_stdio`` does: no echo,
    no canonical line editing or extended input processing, no CR-to-NL or flow control, 8-bit
    bytes one at a time (signal keys still signal); the settings come back at exit."""
    fd = sys.stdin.fileno()
    if not os.isatty(fd):
        return
    import termios  # a terminal only

    saved = termios.tcgetattr(fd)
    raw = termios.tcgetattr(fd)
    raw[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    raw[1] |= termios.OPOST
    raw[2] = (raw[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    raw[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.IEXTEN)
    raw[6][termios.VMIN] = 1
    raw[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, raw)
    atexit.register(termios.tcsetattr, fd, termios.TCSANOW, saved)
