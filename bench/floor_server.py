"""The floor: a bare asyncio `Protocol` server that answers every line with one fixed reply.

    python bench/floor_server.py ... -qmp unix:PATH,server=on,wait=off

It takes a QEMU command line only to find the `-qmp unix:` path (everything else is ignored),
greets like a QMP server and then answers each complete input line with the same bytes. No
parsing, no model, no streams layer: what is left is the interpreter, asyncio's event loop and
the socket, i.e. the fastest any asyncio design on this machine can answer. `make bench`
measures it with the same client and in the same run as qmpnuma and QEMU, so qmpnuma's rates
can be quoted as a share of it. Run as a script (not `-m bench...`) so that its cold start pays
for nothing but `python` and `asyncio`.

With `QMPNUMA_FLOOR_REPLY_BYTES=N` in its environment the fixed reply is N bytes long (a
`{"return": "xxx..."}` line): the floor for a client that reads replies as long as a given
command's, which tells how much of a gap to the plain floor is the client reading more bytes.

With `QMPNUMA_FLOOR_LEAN=1` it is the *lean floor* of the cold-start figure: it defers the
standard library modules asyncio imports that qmpnuma's entry point defers
(`qmpnuma.deferred_stdlib`: `ssl`, `inspect`) and leaves SIGTERM to its default action (a loop
signal handler would run `inspect`, as qmpnuma's entry point avoids too). qmpnuma's cold start
against the plain floor then says how it compares with any asyncio server; against the lean
floor, what its own code costs on top of the same interpreter and asyncio.
"""

import os
import signal
import sys

LEAN = bool(os.environ.get("QMPNUMA_FLOOR_LEAN"))
if LEAN:
    from qmpnuma.deferred_stdlib import defer_unused_stdlib

    defer_unused_stdlib()

import asyncio  # noqa: E402  (after the deferral, which must come first)

GREETING = (b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 0}, '
            b'"package": ""}, "capabilities": []}}\r\n')
REPLY = b'{"return": {}}\r\n'


def sized_reply(size):  # type: ignore[no-untyped-def]
    """A reply line of exactly ``size`` bytes (at least the plain one's)."""
    frame = b'{"return": ""}\r\n'
    return frame[:12] + b"x" * max(0, size - len(frame)) + frame[12:]


if os.environ.get("QMPNUMA_FLOOR_REPLY_BYTES"):
    REPLY = sized_reply(int(os.environ["QMPNUMA_FLOOR_REPLY_BYTES"]))


class LineAnswerer(asyncio.Protocol):
    """Counts newlines in what arrives and writes one fixed reply per line, in one write."""

    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        self.transport = transport
        transport.write(GREETING)

    def data_received(self, data):  # type: ignore[no-untyped-def]
        lines = data.count(b"\n")
        if lines:
            self.transport.write(REPLY * lines)


def socket_path(argv):  # type: ignore[no-untyped-def]
    """The PATH of `-qmp unix:PATH[,options]`."""
    spec = argv[argv.index("-qmp") + 1]
    return spec.split(",", 1)[0].removeprefix("unix:")


async def serve(path):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    if not LEAN:
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    server = await loop.create_unix_server(LineAnswerer, path)
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(serve(socket_path(sys.argv[1:])))
