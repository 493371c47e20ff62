"""Deferred standard library modules: imported as usual, run at their first use (issue 12).

`qmpnuma.deferred_stdlib` keeps `ssl`, `asyncio.sslproto` and `inspect` from running while a
server starts. These tests check the other half of the promise, each in a fresh interpreter
(a test process has run them long ago): after the deferral, asyncio imports, TLS and `inspect`
work as they do without it, a deferred module runs once however many threads reach it first,
and a module whose code fails behaves as a failed import. `tests/test_lazy_imports.py` checks
that a real start reaches its first reply without running them.
"""

from __future__ import annotations

from pathlib import Path

from tests.fresh_interpreter import probe_lines

TLS_PROBE = """
import sys, types
from qmpnuma.deferred_stdlib import DeferredModule, defer_unused_stdlib
defer_unused_stdlib()
import asyncio, asyncio.sslproto
print(sorted(name for name in ("ssl", "asyncio.sslproto", "inspect")
             if type(sys.modules.get(name)) is DeferredModule))

async def main():
    # A TCP peer that answers a TLS hello with plain text: the handshake must fail in `ssl`.
    async def answer(reader, writer):
        await reader.read(1)
        writer.write(b"HTTP/1.0 400 not TLS\\r\\n\\r\\n" * 4)
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    import ssl
    context = ssl.create_default_context()
    try:
        await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="x")
    except ssl.SSLError as err:
        print("handshake failed in ssl:", type(err).__name__)
    server.close()

asyncio.run(main())
print(type(asyncio.sslproto) is types.ModuleType, asyncio.sslproto.SSLProtocol.__name__,
      sys.modules["ssl"].SSLContext.__name__)
import inspect
print(str(inspect.signature(lambda a, b=2: None)), asyncio.iscoroutinefunction(main))
print(sorted(name for name in ("ssl", "asyncio.sslproto", "inspect")
             if type(sys.modules.get(name)) is DeferredModule))
"""


def test_tls_and_inspect_work_after_the_deferral() -> None:
    lines = probe_lines(TLS_PROBE)
    assert lines[0] == "['asyncio.sslproto', 'inspect', 'ssl']"  # deferred by the imports
    assert lines[1].startswith("handshake failed in ssl: SSL")
    assert lines[2] == "True SSLProtocol SSLContext"  # bound in its package, then run
    assert lines[3] == "(a, b=2) True"
    assert lines[4] == "[]"  # each ran at its first use


MODULES_PROBE = """
import sys, threading
sys.path.insert(0, sys.argv[1])
from qmpnuma.deferred_stdlib import DeferredModule, defer_unused_stdlib
defer_unused_stdlib(("counted", "broken", "selfish"))

import counted
print(type(counted).__name__, counted.__name__, counted.__file__.endswith("counted.py"))
import counted  # the second import finds it deferred in sys.modules and does not run it
barrier = threading.Barrier(4)
values = []
def read():
    barrier.wait()
    values.append(counted.VALUE)
threads = [threading.Thread(target=read) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(values, counted.RUNS, type(counted).__name__)

import broken
try:
    broken.ANYTHING
except ZeroDivisionError:
    print("raised", "broken" in sys.modules)

import selfish
print(selfish.OUTCOME)
"""


def test_a_deferred_module_runs_once_and_fails_as_an_import(tmp_path: Path) -> None:
    (tmp_path / "counted.py").write_text(
        "import time\nRUNS = globals().get('RUNS', 0) + 1\ntime.sleep(0.05)\nVALUE = 42\n")
    (tmp_path / "broken.py").write_text("VALUE = 1 / 0\n")
    (tmp_path / "selfish.py").write_text(
        "import sys\n"
        "try:\n    sys.modules[__name__].LATER\n"
        "except AttributeError as err:\n    OUTCOME = str(err)\n"
        "LATER = 1\n")
    lines = probe_lines(MODULES_PROBE, str(tmp_path))
    assert lines[0] == "DeferredModule counted True"
    assert lines[1] == "[42, 42, 42, 42] 1 module"  # four threads, one run
    assert lines[2] == "raised False"  # a failed run leaves sys.modules, as a failed import
    assert lines[3] == "partially initialized module 'selfish' has no attribute 'LATER'"


WITHOUT_OPENSSL_PROBE = """
import sys
sys.modules["_ssl"] = None  # as an interpreter built without OpenSSL: `import _ssl` fails
from qmpnuma.deferred_stdlib import DeferredModule, defer_unused_stdlib
defer_unused_stdlib()
import asyncio, asyncio.base_events
print(sorted(name for name in ("ssl", "asyncio.sslproto", "inspect")
             if type(sys.modules.get(name)) is DeferredModule), asyncio.base_events.ssl)

async def main():
    # `open_connection` goes through the loop's `sock_connect`, which reads `ssl.SSLSocket`
    # when asyncio holds a module for `ssl`.
    async def answer(reader, writer):
        writer.write(b"hello\\n")
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
    print((await reader.readline()).decode().strip())
    writer.close()
    server.close()

asyncio.run(main())
"""


def test_without_openssl_ssl_is_not_deferred() -> None:
    """Where `ssl` cannot run, it is left to fail at import as before (asyncio holds None)
    rather than deferred to fail at a later attribute read; the rest is still deferred."""
    lines = probe_lines(WITHOUT_OPENSSL_PROBE)
    assert lines[0] == "['inspect'] None"
    assert lines[1] == "hello"
