"""The generic transport under the QMP server: read a stream in chunks, write bytes out in order.

This is the lower of the two layers qemu.qmp also separates (its `protocol.py` moves bytes, its
`qmp_client.py` knows QMP): nothing here knows about sessions, commands or events. `read_loop`
hands every chunk a client sends to the layer above; an `Output` delivers what that layer writes,
either straight to the stream (`DirectOutput`, the plain path) or through an ordered queue that
may split and pace writes (`PacedOutput`, for fault plans that cut replies into pieces). Both
close the stream only after the bytes written before the close request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

READ_CHUNK = 65536
#: How long a closing connection may take to deliver what it still holds.
CLOSE_TIMEOUT = 5.0

Observer = Callable[[bytes], None]


async def read_loop(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handle: Callable[[bytes], Awaitable[None] | None],
    keep_going: Callable[[], bool],
) -> None:
    """Read until the peer leaves or ``keep_going`` says stop; hand each chunk to ``handle``
    (which returns an awaitable only when it must wait before the next chunk).

    After each chunk the stream is drained, so a client that stops reading slows only itself.
    Sockets of QMP monitors are served by `qmpnuma.server.qmp_protocol` instead (the same
    ``handle``, called from the protocol's ``data_received``); this loop serves stdio,
    client-mode chardevs and HMP.
    """
    while keep_going():
        try:
            data = await reader.read(READ_CHUNK)
        except (ConnectionError, OSError):
            return
        if not data:
            return
        pending = handle(data)
        if pending is not None:
            await pending
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            await writer.drain()


class Output:
    """Where a connection's bytes go; `write` never blocks, `close` ends after what was written."""

    def __init__(self, writer: asyncio.StreamWriter, observe: Observer) -> None:
        self.stream = writer
        self._observe = observe
        self.closing = False

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Close once the bytes written so far have been handed to the stream."""
        raise NotImplementedError

    def hold(self) -> None:
        """Collect the writes from now on (the replies to one chunk) until `release`."""

    def release(self) -> None:
        """Hand what `hold` collected to the stream, in order (one write where possible)."""

    async def finish(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close (if not yet) and wait, at most ``timeout`` seconds, until the bytes are out."""
        self.close()
        with contextlib.suppress(
            ConnectionError, OSError, RuntimeError, asyncio.TimeoutError, asyncio.CancelledError
        ):
            await asyncio.wait_for(self.stream.wait_closed(), timeout=timeout)


class DirectOutput(Output):
    """Writes go straight into the stream's buffer, in call order (asyncio keeps the order);
    between `hold` and `release` they are joined into one write (one `send` per chunk read,
    however many replies it asked for)."""

    def __init__(self, writer: asyncio.StreamWriter, observe: Observer | None) -> None:
        super().__init__(writer, observe if observe is not None else _ignore)
        self._watched = observe is not None
        self._held: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._watched:
            self._observe(data)
        held = self._held
        if held is not None:
            held.append(data)
        else:
            self.stream.write(data)

    def hold(self) -> None:
        if self._held is None:
            self._held = []

    def release(self) -> None:
        held = self._held
        self._held = None
        if held:
            # try/except rather than `contextlib.suppress`: this runs once per chunk read, and
            # the context manager object costs a sequential round trip more than the write
            try:  # noqa: SIM105
                self.stream.write(held[0] if len(held) == 1 else b"".join(held))
            except (ConnectionError, OSError, RuntimeError):
                pass

    def close(self) -> None:
        self.release()
        if not self.closing:
            self.closing = True
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                self.stream.close()


def _ignore(data: bytes) -> None:
    """The observer of an output nobody watches."""


class _Close:
    """Queued on a paced output: close the stream once reached."""


_CLOSE = _Close()


class PacedOutput(Output):
    """Writes go through an ordered queue and may be split into pieces with pauses between.

    ``piece_size()`` (0: whole writes) and ``pause()`` are asked per write, so a plan changed
    while the connection is open applies from the next write on.
    """

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        observe: Observer,
        piece_size: Callable[[], int],
        pause: Callable[[], float],
    ) -> None:
        super().__init__(writer, observe)
        self._queue: asyncio.Queue[bytes | _Close] = asyncio.Queue()
        self._piece_size = piece_size
        self._pause = pause
        self._pump = asyncio.create_task(self._run())

    def write(self, data: bytes) -> None:
        self._queue.put_nowait(data)

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self._queue.put_nowait(_CLOSE)

    async def finish(self, timeout: float = CLOSE_TIMEOUT) -> None:
        self.close()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._pump), timeout=timeout)
        self._pump.cancel()
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            self.stream.close()

    async def _run(self) -> None:
        stream = self.stream
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            while True:
                item = await self._queue.get()
                if isinstance(item, _Close):
                    # a graceful close: what was queued before still reaches the client
                    stream.close()
                    with contextlib.suppress(
                        ConnectionError, OSError, RuntimeError, asyncio.TimeoutError
                    ):
                        await asyncio.wait_for(stream.wait_closed(), timeout=CLOSE_TIMEOUT)
                    return
                size = self._piece_size()
                if size <= 0 or len(item) <= size:
                    self._observe(item)
                    stream.write(item)
                    continue
                pause = self._pause()
                for start in range(0, len(item), size):
                    piece = item[start:start + size]
                    self._observe(piece)
                    stream.write(piece)
                    await stream.drain()
                    if pause > 0:
                        await asyncio.sleep(pause)
