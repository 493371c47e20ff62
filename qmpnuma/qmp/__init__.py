"""The QMP protocol core without I/O: QEMU 7.2's JSON stream, writer, argument visitor, session.

Bytes go in (``QmpSession.feed``), actions come out (``Send`` bytes, ``Execute`` a checked
request; ``QmpSession.feed_runs`` also gives a ``Run`` of lines a pipelining client repeated);
the server owns sockets and runs handlers.  See docs/DESIGN.md for the contract.
"""

from __future__ import annotations

from qmpnuma.qmp.session import (
    Action,
    CommandInfo,
    Execute,
    GreetingInfo,
    QmpSession,
    Run,
    Send,
    command_table,
    default_greeting,
)
from qmpnuma.qmp.visitor import visit_input
from qmpnuma.qobject.hashing import qdict_order
from qmpnuma.qobject.json_parser import JsonError, JsonStreamer
from qmpnuma.qobject.json_writer import encode, encode_event

__all__ = [
    "Action",
    "CommandInfo",
    "Execute",
    "GreetingInfo",
    "JsonError",
    "JsonStreamer",
    "QmpSession",
    "Run",
    "Send",
    "command_table",
    "default_greeting",
    "encode",
    "encode_event",
    "qdict_order",
    "visit_input",
]
