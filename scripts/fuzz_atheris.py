"""Coverage-guided fuzzing of the QMP protocol core with atheris (optional; `pip install atheris`).

Each input is split into chunks (the first byte chooses the chunk size) and fed to a negotiated
session whose requests run against a NUMA machine, as the server would run them. The run fails on
any exception other than a QMP error reply, and on any reply that is not one `\\r\\n`-terminated
ASCII JSON object with exactly one of `return`/`error`.

    .venv/bin/python scripts/fuzz_atheris.py -runs=100000          # bounded
    .venv/bin/python scripts/fuzz_atheris.py -max_total_time=600   # ten minutes
"""

from __future__ import annotations

import json
import sys

import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

with atheris.instrument_imports():
    from qmpnuma.commands.dispatch import CommandRegistry
    from qmpnuma.errors import QmpError
    from qmpnuma.machine import Machine
    from qmpnuma.profiles import wire_types
    from qmpnuma.qmp import Execute, QmpSession, Send

ARGS = [
    "-M", "pc", "-m", "2G,slots=2,maxmem=4G", "-smp", "2,maxcpus=4",
    "-object", "memory-backend-ram,id=m0,size=1G", "-object", "memory-backend-ram,id=m1,size=1G",
    "-numa", "node,nodeid=0,memdev=m0", "-numa", "node,nodeid=1,memdev=m1",
]
TYPES = wire_types("7.2")


def _check(reply: bytes) -> None:
    if not reply.endswith(b"\r\n") or reply.count(b"\r\n") != 1:
        raise AssertionError(f"badly terminated reply {reply!r}")
    message = json.loads(reply.decode("ascii"))
    if not isinstance(message, dict) or ("return" in message) == ("error" in message):
        raise AssertionError(f"malformed reply {reply!r}")


def test_one_input(data: bytes) -> None:
    """Feed one input in chunks; run what the session hands over; check every reply."""
    if not data:
        return
    size = data[0] % 16 + 1
    body = data[1:]
    session = QmpSession(TYPES.COMMANDS, TYPES.SCHEMA, profile="7.2")
    registry = CommandRegistry(Machine.from_argv(ARGS))
    session.feed(b'{"execute": "qmp_capabilities"}')
    for start in range(0, len(body), size):
        for action in session.feed(body[start:start + size]):
            if isinstance(action, Send):
                _check(action.data)
                continue
            assert isinstance(action, Execute)
            try:
                reply = session.reply(action, registry.execute(action.name, action.args))
            except QmpError as err:
                reply = session.reply_error(action, err)
            _check(reply)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
