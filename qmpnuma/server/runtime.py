"""The asyncio edge: monitors, connections, event fan-out, signals and orderly exit.

Everything protocol-shaped happens in the sans-IO session (`qmpnuma.qmp`); everything about the
machine happens in the command handlers. This module is the protocol layer over the generic
transport (`qmpnuma.server.transport`): it feeds what a client sends into its session, runs the
requests the session hands back, writes replies and events in the order QEMU would, and ends the
process the way QEMU does on `quit` or a terminating signal. One read loop serves every
connection; faults, traces and command logs plug in through `ServerHooks`, whose defaults do
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from qmpnuma.errors import FatalExit, OptionError, QmpError
from qmpnuma.qmp.session import Execute, GreetingInfo, Run, Send
from qmpnuma.qobject.json_writer import prettify
from qmpnuma.records import field, record
from qmpnuma.server.chardev_names import ChardevNames, connected_name
from qmpnuma.server.qmp_protocol import QmpProtocol, Turns
from qmpnuma.server.transport import READ_CHUNK, DirectOutput, Output, PacedOutput, read_loop

if TYPE_CHECKING:  # a Protocol class only types; making one costs ~30 µs of a start
    class Session(Protocol):
        """What the server needs from a protocol session (see `qmpnuma.qmp.session`)."""

        def greeting(self) -> bytes: ...

        def feed_runs(self, data: bytes) -> list[Any]:
            """Actions in order: `Send`, `Execute`, or a `Run` of lines giving one of them."""
            ...

        def reply(self, execute: Any, value: Any) -> bytes: ...

        def reply_error(self, execute: Any, error: QmpError) -> bytes: ...

        def reply_encoded(self, execute: Any, value: bytes) -> bytes:
            """The success reply around a return value that is already JSON text."""
            ...

        def reply_run(self, run: Any, value: bytes) -> bytes:
            """`reply_encoded` for every line of a run of Executes, joined."""
            ...

        def event(
            self, name: str, data: dict[str, Any] | None, seconds: int, microseconds: int
        ) -> bytes | None: ...

    class Executor(Protocol):
        """Runs one negotiated, argument-checked request against the machine."""

        def execute(self, name: str, args: dict[str, Any], monitor: MonitorState) -> Any: ...

    class EncodingExecutor(Executor, Protocol):
        """An executor that can also give a read-only query's return value as JSON text, cached
        per machine revision (`CommandRegistry.encoded`): None means "run it with `execute`"."""

        def encoded(self, name: str, monitor: MonitorState) -> bytes | None: ...


@record
class MonitorState:
    """Per-monitor facts a command may need (e.g. HMP and `query-commands` answer per monitor).

    ``chardev_names`` (when the server keeps them) holds every socket chardev's current
    `query-chardev` filename.
    """

    index: int
    pretty: bool = False
    chardev_names: ChardevNames | None = None


@record
class Channel:
    """One chardev the server keeps open: what speaks on it and how its connections come.

    ``monitor`` is the QMP monitor running on it, or None when nobody speaks (a serial port,
    a chardev no device reads: its connections are accepted, kept and read, and get nothing).
    ``sock`` is a listening socket (connections are accepted one at a time), a connected one
    (served at once), or None with neither ``dial`` (stdio). ``dial`` connects a client-mode
    chardev (again): with ``reconnect`` seconds it is retried that often after a failure and
    after the peer hangs up, as QEMU's `reconnect=` does; without, a chardev whose peer hung up
    stays closed. ``report`` receives the text of the first failed attempt (QEMU prints it once).
    """

    monitor: MonitorState | None
    sock: socket.socket | None = None
    listening: bool = True
    dial: Callable[[], socket.socket] | None = None
    reconnect: float = 0.0
    report: Callable[[str], None] | None = None
    #: where its `query-chardev` filename is kept (None: nowhere), under ``label``; ``server``
    #: is the chardev's `server=` (it shows in the name), ``disconnected`` its name with no peer
    names: ChardevNames | None = None
    label: str = ""
    server: bool = False
    disconnected: str = ""
    #: ``monitor`` is an HMP monitor (a line editor and `human-monitor-command`), not QMP
    hmp: bool = False
    #: a client connection is named after its peer's address (see `connected_name`)
    named_after_peer: bool = False

    def peer_came(self, sock: socket.socket | None) -> None:
        """A connection started on this chardev: name it after the connection."""
        if self.names is not None:
            name = connected_name(sock, self.server, self.named_after_peer)
            self.names.set(self.label, name if name is not None else self.disconnected)

    def peer_left(self) -> None:
        if self.names is not None:
            self.names.set(self.label, self.disconnected)


#: The HMP prompt, shown after the banner and after each command's output.
HMP_PROMPT = b"(qemu) "


def hmp_banner(greeting: GreetingInfo) -> str:
    """The first line an HMP monitor prints (``monitor_init_hmp``'s banner)."""
    return (f"QEMU {greeting.major}.{greeting.minor}.{greeting.micro} monitor - "
            "type 'help' for more information\r\n")

#: A listening socket (None: stdio) and the monitor on it, as fleets and the harness pass them.
ListenerSpec = tuple[socket.socket | None, MonitorState]


@record
class Connection:
    """One connected client: its protocol session above, its transport output below.

    ``number`` counts connections per server from 1 (traces and fault rules name them by it).
    """

    session: Session
    output: Output
    monitor: MonitorState
    number: int = 0
    #: the last request answered from an encoded value, that value and the reply (`_run`)
    last_action: Any = None
    last_text: bytes | None = None
    last_reply: bytes = b""

    def writer(self, data: bytes) -> None:
        """Queue bytes for the client, after everything written before."""
        self.output.write(data)

    def drop(self) -> None:
        """End the connection once the bytes written before the call have gone out."""
        self.output.close()

    @property
    def closing(self) -> bool:
        return self.output.closing


class ServerHooks:
    """Instrumentation points of a server: traces, fault injection, command logs.

    Every method does what an uninstrumented server does, so a server always has hooks (these
    no-op ones by default) and a subclass overrides only what it needs. ``paced`` asks for the
    ordered output queue that can split and pace writes (`chunk_size`, `chunk_pause`); without
    it, bytes go straight to the stream.
    """

    paced: bool = False

    async def started(self, server: QmpServer) -> None:
        """The server's monitors are listening (a control socket may start here)."""

    async def closed(self, server: QmpServer) -> None:
        """The server stopped; release what `started` took."""

    def connected(self, conn: Connection) -> None:
        """A client connected (before the greeting)."""

    def disconnected(self, conn: Connection) -> None:
        """A client's connection ended, for whatever reason."""

    async def before_greeting(self, conn: Connection) -> None:
        """Called just before the greeting is queued (a delayed greeting sleeps here)."""

    def received(self, conn: Connection, data: bytes) -> None:
        """Bytes read from the client, before the session sees them."""

    def sent(self, conn: Connection, data: bytes) -> None:
        """Bytes handed to the transport (after any splitting)."""

    def chunk_size(self, conn: Connection) -> int:
        """Largest single write to the client; 0 writes each message whole (paced output)."""
        return 0

    def chunk_pause(self, conn: Connection) -> float:
        """Seconds to wait between two split writes (paced output)."""
        return 0.0

    def allow_event(self, name: str, data: dict[str, Any] | None) -> bool:
        """Whether an event the machine emits is sent (False suppresses it everywhere)."""
        return True

    def execute(
        self, server: QmpServer, conn: Connection, action: Any, run: Callable[[], bytes]
    ) -> Awaitable[None] | None:
        """Run one request: ``run()`` executes it and returns the reply, which is then queued.

        A hook that needs to wait (a delayed reply) returns an awaitable the loop awaits before
        the next request; returning None keeps the plain path free of any coroutine.
        """
        conn.writer(run())
        return None


#: The hooks of a server nobody instruments (they hold no state, so one instance serves all).
NO_HOOKS = ServerHooks()


@record
class ServerState:
    """Everything that lives as long as the process: live connections and the exit request."""

    connections: list[Connection] = field(default_factory=list)
    exit_status: int | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)


class QmpServer:
    """Serves QMP for one machine on any number of monitors: the protocol layer.

    It feeds what the transport reads into each connection's session, runs the requests the
    session hands back and writes replies and events in the order QEMU would. ``hooks`` (no-op
    `ServerHooks` unless set before `start`) see every connection, chunk and request;
    ``default_hooks``, when set, gives every server created afterwards its hooks (the CLI's
    `--faults`/`--trace`/`--control` use it).
    """

    default_hooks: ClassVar[Callable[[], ServerHooks | None] | None] = None

    def __init__(
        self,
        session_factory: Callable[[], Session],
        executor: Executor,
        *,
        output_filter: Callable[[bytes, MonitorState], bytes] | None = None,
    ) -> None:
        self._new_session = session_factory
        self._executor = executor
        self._encoded: Callable[[str, MonitorState], bytes | None] | None = getattr(
            executor, "encoded", None)
        self._filter = output_filter
        self.state = ServerState()
        self._servers: list[asyncio.Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        factory = QmpServer.default_hooks
        hooks = factory() if factory is not None else None
        self.hooks: ServerHooks = hooks if hooks is not None else NO_HOOKS
        self._connections_made = 0
        #: what an HMP monitor says first (`monitor_init_hmp` prints it with QEMU's version)
        self.hmp_banner = "QEMU monitor - type 'help' for more information\r\n"

    # -- events -------------------------------------------------------------------------------

    def broadcast(self, name: str, data: dict[str, Any] | None) -> None:
        """Send an event to every negotiated client, stamped with the host time as QEMU does."""
        if not self.hooks.allow_event(name, data):
            return
        now = time.time()
        seconds = int(now)
        microseconds = int((now - seconds) * 1_000_000)
        for conn in list(self.state.connections):
            payload = conn.session.event(name, data, seconds, microseconds)
            if payload is not None and not conn.closing:
                conn.writer(self._out(payload, conn.monitor))

    def request_exit(self, status: int = 0) -> None:
        """Ask the server to stop after the current reply has been written."""
        if self.state.exit_status is None:
            self.state.exit_status = status
        self.state.stopped.set()

    @property
    def executor(self) -> Executor:
        """What runs the commands (a `CommandRegistry`, which knows the machine)."""
        return self._executor

    def _out(self, payload: bytes, monitor: MonitorState) -> bytes:
        if monitor.pretty and payload:
            payload = b"".join(prettify(line + b"\n") for line in payload.splitlines())
        return self._filter(payload, monitor) if self._filter is not None else payload

    # -- one connection -----------------------------------------------------------------------

    def _handle(self, conn: Connection, data: bytes) -> Awaitable[None] | None:
        """Feed one chunk into the session and answer every request it completes, in order.

        Everything runs synchronously, and the replies to one chunk leave in one write, unless
        a hook has to wait (a delayed reply): then what is left of the chunk is returned as an
        awaitable, which the transport awaits before it reads on.
        """
        hooks = self.hooks
        if hooks is not NO_HOOKS:
            hooks.received(conn, data)
        actions = conn.session.feed_runs(data)
        if not actions:
            return None
        output = conn.output
        output.hold()
        try:
            return self._answer(conn, actions, 0)
        finally:
            output.release()

    def _answer(self, conn: Connection, actions: list[Any], start: int) -> Awaitable[None] | None:
        """Answer ``actions[start:]``; an awaitable for the rest when a hook has to wait.

        A `Run` (lines a pipelining client repeated) of an argument-less read-only query is
        answered in one piece when nothing watches single requests (no hook, filter or pretty
        printing); any other run is put back into ``actions`` line by line and answered so.
        """
        hooks = self.hooks
        plain = type(hooks).execute is ServerHooks.execute  # no hook wraps the requests
        plain_out = self._filter is None and not conn.monitor.pretty
        state = self.state
        write = conn.output.write
        index = start
        while index < len(actions):
            if conn.output.closing:
                return None
            action = actions[index]
            index += 1
            if type(action) is Run:
                if isinstance(action.first, Send):
                    sent = action.sent()
                    write(sent if plain_out else self._out(sent, conn.monitor))
                    continue
                replies = self._run_all(conn, action) if plain and plain_out else None
                if replies is not None:
                    write(replies)
                    conn.output.release()  # out now: the client reads them while the rest
                    conn.output.hold()     # of the chunk is worked out
                    continue
                actions[index:index] = action.actions()
                continue
            if isinstance(action, Send):  # a reply the session made itself (errors, negotiation)
                write(action.data if plain_out else self._out(action.data, conn.monitor))
                continue
            if plain:
                write(self._run(conn, action))
            else:
                pending = hooks.execute(self, conn, action,
                                        functools.partial(self._run, conn, action))
                if pending is not None:
                    return self._resume(conn, actions, index, pending)
            if state.exit_status is not None:
                return None
        return None

    def _run_all(self, conn: Connection, run: Run) -> bytes | None:
        """The replies to every line of ``run`` at once, when its command is an argument-less
        read-only query whose value the executor has as JSON text (the same text for each
        line: nothing runs between them that could change the machine); else None."""
        first = run.first
        encoded = self._encoded
        if encoded is None or not isinstance(first, Execute) or first.args:
            return None
        try:
            text = encoded(first.name, conn.monitor)
        except Exception:  # answered line by line instead, where errors get their reply
            return None
        if text is None:
            return None
        return conn.session.reply_run(run, text)

    async def _resume(
        self, conn: Connection, actions: list[Any], start: int, pending: Awaitable[None]
    ) -> None:
        await pending
        if self.state.exit_status is not None:
            return
        conn.output.hold()
        try:
            more = self._answer(conn, actions, start)
        finally:
            conn.output.release()
        if more is not None:
            await more

    def _run(self, conn: Connection, action: Any) -> bytes:
        """Execute one request and return its reply bytes, as the monitor prints them.

        An argument-less read-only query is answered from the executor's `encoded` text (one
        encoding per machine revision) when the executor offers it; when the session hands
        the same remembered request again and that text is the same object, the reply made
        last time is written again (same request bytes, same value: the same reply).
        """
        session = conn.session
        try:
            encoded = self._encoded
            text = None
            if encoded is not None and not action.args:
                text = encoded(action.name, conn.monitor)
                if text is not None and text is conn.last_text and action is conn.last_action:
                    return conn.last_reply
            if text is None:
                value = self._executor.execute(action.name, action.args, conn.monitor)
        except QmpError as err:
            reply = session.reply_error(action, err)
        except FatalExit as fatal:  # QEMU exits here without replying
            self.request_exit(fatal.status)
            return b""
        except Exception as err:  # a bug of ours must not end the monitor for everyone
            traceback.print_exc(file=sys.stderr)
            reply = session.reply_error(
                action, QmpError("GenericError", f"qmpnuma internal error: {err!r}")
            )
        else:
            if text is None:
                reply = session.reply(action, value)
            else:
                reply = session.reply_encoded(action, text)
                if self._filter is not None or conn.monitor.pretty:
                    reply = self._out(reply, conn.monitor)
                conn.last_action, conn.last_text, conn.last_reply = action, text, reply
                return reply
        if self._filter is None and not conn.monitor.pretty:
            return reply
        return self._out(reply, conn.monitor)

    def open_connection(self, writer: asyncio.StreamWriter, monitor: MonitorState) -> Connection:
        """A new client on ``writer``: its session and output, registered and announced."""
        hooks = self.hooks
        self._connections_made += 1
        # the closures below run only once `conn` exists (the first write is the greeting)
        output: Output
        if hooks.paced:
            output = PacedOutput(
                writer, lambda data: hooks.sent(conn, data),
                lambda: hooks.chunk_size(conn), lambda: hooks.chunk_pause(conn),
            )
        elif type(hooks).sent is ServerHooks.sent:
            output = DirectOutput(writer, None)
        else:
            output = DirectOutput(writer, lambda data: hooks.sent(conn, data))
        conn = Connection(self._new_session(), output, monitor, self._connections_made)
        self.state.connections.append(conn)
        hooks.connected(conn)
        return conn

    def greeting_waits(self) -> bool:
        """Whether a hook delays greetings (`ServerHooks.before_greeting` is overridden)."""
        return type(self.hooks).before_greeting is not ServerHooks.before_greeting

    def greet(self, conn: Connection) -> None:
        """Queue the greeting (after `ServerHooks.before_greeting`)."""
        conn.writer(self._out(conn.session.greeting(), conn.monitor))

    def serving(self, conn: Connection) -> bool:
        """Whether the server still reads what ``conn``'s client sends."""
        return self.state.exit_status is None and not conn.closing

    async def close_connection(self, conn: Connection) -> None:
        """The client is gone or dropped: deliver what is queued, then forget it."""
        state = self.state
        if conn in state.connections:
            state.connections.remove(conn)
        await conn.output.finish()
        self.hooks.disconnected(conn)

    async def serve_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, monitor: MonitorState,
        *, output_after_eof: bool = False,
    ) -> None:
        """Serve one client until it leaves or the server stops (stdio, client-mode sockets;
        listening QMP sockets go through `qmpnuma.server.qmp_protocol`, same steps).

        ``output_after_eof``: the end of the input does not end the monitor, which goes on
        writing its events until the server stops (QEMU's stdio chardev: stdin at its end
        leaves stdout open, so ``SHUTDOWN`` still comes when QEMU is stopped by a signal).
        """
        conn = self.open_connection(writer, monitor)
        try:
            await self.hooks.before_greeting(conn)
            self.greet(conn)
            await read_loop(reader, writer, functools.partial(self._handle, conn),
                            functools.partial(self.serving, conn))
            if output_after_eof and self.serving(conn):
                await self.state.stopped.wait()
        finally:
            await self.close_connection(conn)

    # -- monitors -----------------------------------------------------------------------------

    async def _serve_listener(self, sock: socket.socket, channel: Channel) -> asyncio.Server:
        """Accept clients on a bound socket, one at a time per chardev, like a QEMU chardev.

        A QMP monitor is served from an asyncio `Protocol` (`QmpProtocol`: each chunk goes
        through the session and out in one write within ``data_received``); HMP and chardevs
        nobody speaks on keep the streams path.
        """
        sock.setblocking(False)
        if channel.monitor is not None and not channel.hmp:
            turns = Turns()
            loop = asyncio.get_running_loop()
            if sock.family == socket.AF_UNIX:
                return await loop.create_unix_server(
                    lambda: QmpProtocol(self, channel, turns), sock=sock)
            return await loop.create_server(lambda: QmpProtocol(self, channel, turns), sock=sock)
        turn = asyncio.Lock()

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            async with turn:
                channel.peer_came(writer.get_extra_info("socket"))
                try:
                    await self._serve_peer(reader, writer, channel)
                finally:
                    channel.peer_left()

        if sock.family == socket.AF_UNIX:
            return await asyncio.start_unix_server(client, sock=sock)
        return await asyncio.start_server(client, sock=sock)

    async def _serve_stdio(self, monitor: MonitorState, *, hmp: bool = False) -> None:
        from qmpnuma.server.stdio import editor_terminal, stdio_streams  # stdio monitors only

        reader, writer = await stdio_streams()
        if hmp:
            editor_terminal()
            await self._serve_hmp(reader, writer, monitor)
        else:
            await self.serve_stream(reader, writer, monitor, output_after_eof=True)

    async def _serve_peer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, channel: Channel
    ) -> None:
        """A monitor session, or (nobody speaking) read and drop what the peer sends."""
        monitor = channel.monitor
        if monitor is not None and channel.hmp:
            await self._serve_hmp(reader, writer, monitor)
            return
        if monitor is not None:
            await self.serve_stream(reader, writer, monitor)
            return
        try:
            while await reader.read(READ_CHUNK):
                pass
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _serve_hmp(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, monitor: MonitorState
    ) -> None:
        """An HMP session: the banner and prompt, the line editor's echo, each line's output.

        The commands run through `human-monitor-command`, whose text already has HMP's `\r\n`.
        """
        from qmpnuma.server.readline import LineEditor  # HMP monitors only

        editor = LineEditor()
        state = self.state

        def write(data: bytes) -> None:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.write(data)

        ended = False

        async def handle(data: bytes) -> None:
            nonlocal ended
            for item in editor.feed(data):
                if isinstance(item, bytes):
                    write(item)
                    continue
                try:
                    text = self._executor.execute(
                        "human-monitor-command", {"command-line": item.text}, monitor)
                except QmpError as err:
                    text = f"{err.desc}\r\n"
                except FatalExit as fatal:
                    self.request_exit(fatal.status)
                    ended = True
                    return
                if state.exit_status is not None:
                    ended = True  # `quit`: QEMU ends without another prompt
                    return
                write(str(text).encode() + HMP_PROMPT)

        write(self.hmp_banner.encode() + HMP_PROMPT)
        try:
            await read_loop(reader, writer, handle,
                            lambda: state.exit_status is None and not ended)
        finally:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.close()

    async def _serve_connected(self, sock: socket.socket, channel: Channel) -> None:
        """Serve a socket that is already connected (client mode, an inherited socket pair)."""
        sock.setblocking(False)
        channel.peer_came(sock)
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
        except (ConnectionError, OSError):
            sock.close()
            channel.peer_left()
            return
        try:
            await self._serve_peer(reader, writer, channel)
        finally:
            channel.peer_left()

    async def _serve_client(self, channel: Channel) -> None:
        """A client-mode chardev: serve its connection; with `reconnect`, connect again."""
        sock = channel.sock
        reported = False
        while True:
            if sock is None and channel.dial is not None:
                try:
                    sock = await asyncio.to_thread(channel.dial)
                except OptionError as err:
                    if not reported and channel.report is not None:
                        channel.report(err.message)
                    reported = True
            if sock is not None:
                await self._serve_connected(sock, channel)
                sock = None
            if channel.reconnect <= 0 or channel.dial is None:
                return
            await asyncio.sleep(channel.reconnect)

    async def _flush_all(self) -> None:
        """Deliver what is queued (the `quit` reply, the last `SHUTDOWN`) before exiting."""
        for conn in list(self.state.connections):
            await conn.output.finish(timeout=2.0)

    async def start(self, listeners: Sequence[Channel | ListenerSpec]) -> None:
        """Begin serving the chardevs on the running loop and return at once.

        Each is a `Channel`, or a ``(listening socket or None for stdio, monitor)`` pair. A
        process serving one machine then waits with `run`; a fleet starts many servers on one
        loop and stops them with `close`.
        """
        for item in listeners:
            channel = item if isinstance(item, Channel) else Channel(item[1], item[0])
            sock, monitor = channel.sock, channel.monitor
            if sock is not None and channel.listening:
                self._servers.append(await self._serve_listener(sock, channel))
            elif sock is not None or channel.dial is not None:
                self._tasks.append(asyncio.create_task(self._serve_client(channel)))
            elif monitor is not None:
                self._tasks.append(
                    asyncio.create_task(self._serve_stdio(monitor, hmp=channel.hmp)))
        await self.hooks.started(self)

    async def close(self) -> None:
        """Stop accepting, deliver what is queued, and drop every connection."""
        for server in self._servers:
            server.close()
        for task in self._tasks:
            task.cancel()
        await self._flush_all()
        self._servers.clear()
        self._tasks.clear()
        await self.hooks.closed(self)

    async def run(self, listeners: Sequence[Channel | ListenerSpec]) -> int:
        """Serve every monitor until `quit` or `request_exit`; return the exit status.

        Terminating signals are the caller's: the console entry point blocks them in every
        thread and its waiter thread (`signal_report`) reports them as QEMU does and asks for
        the exit. No loop signal handler is registered here: it could never run there, and
        asyncio's `add_signal_handler` checks its callback with `inspect.iscoroutinefunction`,
        which would run the `inspect` a start defers (`deferred_stdlib`, ~10 ms).
        """
        await self.start(listeners)
        try:
            await self.state.stopped.wait()
        finally:
            await self.close()
        return self.state.exit_status or 0
