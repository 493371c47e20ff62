"""A listening QMP monitor's connections, served from an asyncio `Protocol`.

Streams cost a QMP round trip a second event-loop turn: the reader's data wakes the task that
awaits `StreamReader.read`, which runs one turn later, and `drain` adds coroutine frames on top.
Here `data_received` hands each chunk straight to the server (`QmpServer._handle`: the sans-IO
session, the handlers and one write for all the replies of the chunk), so a request is read,
answered and written within the one turn that saw it arrive. Only what must wait leaves that
path: a hook's delayed reply (the rest of the chunk then runs in a task, reading paused until
it is done) and a client that does not read its replies (reading pauses while the transport's
buffer is over its high-water mark, so a slow client slows only itself). The connection steps
are the server's own (`open_connection`, `greet`, `serving`, `close_connection`), shared with
the streams path of stdio and client-mode chardevs, and one client at a time is served per
chardev (`Turns`), the others waiting unread as QEMU leaves them.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qmpnuma.server.runtime import Channel, Connection, QmpServer


#: Bytes of unsent replies above which a connection stops reading (asyncio's default: 64 KiB).
WRITE_BUFFER_HIGH = 1 << 20


class Turns:
    """Which connection of one chardev is served; the rest wait in arrival order."""

    def __init__(self) -> None:
        self.current: QmpProtocol | None = None
        self.waiting: collections.deque[QmpProtocol] = collections.deque()

    def join(self, proto: QmpProtocol) -> None:
        if self.current is None:
            self.current = proto
            proto.start()
        else:
            self.waiting.append(proto)

    def leave(self, proto: QmpProtocol) -> None:
        if self.current is not proto:
            if proto in self.waiting:
                self.waiting.remove(proto)
            return
        self.current = None
        while self.waiting:
            following = self.waiting.popleft()
            if not following.lost:
                self.current = following
                following.start()
                return


class QmpProtocol(asyncio.streams.FlowControlMixin, asyncio.Protocol):
    """One client of a QMP monitor socket (see the module text)."""

    _loop: asyncio.AbstractEventLoop  # set by FlowControlMixin
    _paused: bool  # FlowControlMixin: the transport asked us to stop writing

    def __init__(self, server: QmpServer, channel: Channel, turns: Turns) -> None:
        super().__init__()
        self._server = server
        self._channel = channel
        self._turns = turns
        self._transport: asyncio.Transport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._conn: Connection | None = None
        #: chunks read while not ready (turn not yet come, greeting or a reply pending)
        self._queued: list[bytes] = []
        self._busy = True
        self._eof = False
        self.lost = False
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        # Reading pauses while more than this waits to be sent: room for the replies of a few
        # chunks of pipelined requests, so a client that reads keeps finding bytes to read.
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH, low=WRITE_BUFFER_HIGH // 4)
        self._writer = asyncio.StreamWriter(transport, self, None, self._loop)
        self._turns.join(self)

    def data_received(self, data: bytes) -> None:
        if self._busy:
            self._queued.append(data)
            assert self._transport is not None
            self._transport.pause_reading()
            return
        self._feed(data)

    def eof_received(self) -> bool:
        self._eof = True
        conn = self._conn
        if conn is not None and not self._busy:
            conn.output.close()  # after what was written; the transport then closes
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.lost = True
        if not self._closed.done():
            self._closed.set_result(None)
        conn = self._conn
        if conn is None:
            self._turns.leave(self)
            return
        conn.output.close()
        self._spawn(self._finish(conn))

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._read_on()

    def _get_close_waiter(self, stream: asyncio.StreamWriter) -> asyncio.Future[None]:
        return self._closed

    # -- serving ------------------------------------------------------------------------------

    def start(self) -> None:
        """This connection's turn: announce it, greet (after any hook's delay), then serve."""
        assert self._writer is not None and self._transport is not None
        channel = self._channel
        monitor = channel.monitor
        assert monitor is not None
        channel.peer_came(self._transport.get_extra_info("socket"))
        server = self._server
        conn = self._conn = server.open_connection(self._writer, monitor)
        if not server.greeting_waits():
            server.greet(conn)  # no hook delays it: greet within this turn
            self._ready()
        else:
            self._spawn(self._greet_later(conn))

    async def _greet_later(self, conn: Connection) -> None:
        await self._server.hooks.before_greeting(conn)
        self._server.greet(conn)
        self._ready()

    def _ready(self) -> None:
        """Nothing pending: serve what arrived meanwhile, then read on."""
        self._busy = False
        if self._queued:
            data = b"".join(self._queued)
            self._queued.clear()
            self._feed(data)
            return
        self._after()

    def _feed(self, data: bytes) -> None:
        conn = self._conn
        assert conn is not None
        server = self._server
        if not server.serving(conn):
            self._after()
            return
        pending = server._handle(conn, data)
        if pending is not None:
            self._busy = True
            assert self._transport is not None
            self._transport.pause_reading()
            self._spawn(self._wait(pending))
            return
        self._after()

    async def _wait(self, pending: Awaitable[None]) -> None:
        try:
            await pending
        finally:
            if not self.lost:
                self._ready()

    def _after(self) -> None:
        """After a chunk: stop when the server or the connection ends, else read on."""
        conn = self._conn
        assert conn is not None
        if not self._server.serving(conn) or self._eof:
            conn.output.close()
            return
        self._read_on()

    def _read_on(self) -> None:
        transport = self._transport
        if transport is not None and not self._busy and not self._paused and not self.lost:
            transport.resume_reading()

    async def _finish(self, conn: Connection) -> None:
        try:
            await self._server.close_connection(conn)
        finally:
            self._channel.peer_left()
            self._turns.leave(self)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

