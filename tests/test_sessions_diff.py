"""The recorded QMP sessions, side by side with each real QEMU (7.2, 10.0): the same session on
the real binary and on qmpnuma with its profile, reply for reply.

The sessions are those of ``tests/data/qmp-sessions.json`` (the recorder's input, so
``scripts/record_test_data.py`` keeps QEMU's answers to them on file as well, which
``test_schema_transcripts.py`` checks against the wire types): hot-plug and object sessions,
virtio-mem devices cold- and hot-plugged with ``qom-get``/``qom-set`` of their properties and
``device_del`` on q35's root bus, behind a root port and on pc, thread-context objects and the
``prealloc-context`` link to them, and the queries and HMP texts that show them. Raw reply
lines must be equal byte for byte; only event timestamps are normalised. The one request left
out is named in ``KNOWN_DIFFERENCES`` with the README's reason.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import Reference
from qmp_endpoints import normalise, started

SESSIONS = Path(__file__).parent / "data" / "qmp-sessions.json"


#: (session, command) whose answer is known to differ, and why.
KNOWN_DIFFERENCES = {
    ("interface", "query-commands"): "qmpnuma lists its own commands, a subset of QEMU's "
                                     "(README: what qmpnuma does not model)",
}


def all_sessions() -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = json.loads(SESSIONS.read_text())["sessions"]
    return sessions


def virtio_mem_sessions() -> list[dict[str, Any]]:
    return [session for session in all_sessions() if session["name"].startswith("virtio-mem-")]


def _request(item: dict[str, Any]) -> dict[str, Any]:
    """A recorder request as QMP: ``{"hmp": line}`` goes through human-monitor-command."""
    if "hmp" in item:
        return {"execute": "human-monitor-command", "arguments": {"command-line": item["hmp"]}}
    return item


def transcript(command: list[str], session: dict[str, Any]) -> list[bytes]:
    """Every line the server sends for the session (greeting, replies, events)."""
    lines: list[bytes] = []
    with started(command, ["-S", *session["args"]]) as (conn, greeting, _proc):
        lines.append(greeting)
        lines += conn.command({"execute": "qmp_capabilities"})
        for item in session["requests"]:
            request = _request(item)
            if (session["name"], request.get("execute")) not in KNOWN_DIFFERENCES:
                lines += conn.command(request)
    return [normalise(line) for line in lines]


def test_sessions_are_there() -> None:
    """The sessions cover cold plug, hot plug on both boards and every kind of request."""
    sessions = virtio_mem_sessions()
    assert len(sessions) >= 3
    executed = {_request(item)["execute"] for session in sessions
                for item in session["requests"]}
    assert {"device_add", "device_del", "qom-get", "qom-set", "query-memory-devices",
            "query-memory-size-summary", "human-monitor-command"} <= executed


@pytest.mark.parametrize("name", [session["name"] for session in all_sessions()])
def test_session_identical(reference: Reference, name: str) -> None:
    session = next(item for item in all_sessions() if item["name"] == name)
    with ThreadPoolExecutor(max_workers=2) as pool:
        real = pool.submit(transcript, [reference.binary], session)
        mine = pool.submit(transcript, reference.qmpnuma, session)
        ref, ours = real.result(), mine.result()
    differences = [f"line {index}:\n  qemu:    {a!r}\n  qmpnuma: {b!r}"
                   for index, (a, b) in enumerate(zip(ref, ours, strict=False)) if a != b]
    assert len(ref) == len(ours) and not differences, "\n".join(differences[:8])
