"""A hand-written slice of the 7.2 SCHEMA table, shaped like the generated one, for QMP tests.

The protocol core takes its command and type tables as arguments, so its tests can run before
(and independently of) the generated ``qmpnuma/types/qapi_7_2.py``.  The entries follow the
introspection shape of docs/DESIGN.md and the member order of QEMU 7.2's schema.  When the
generated module exists, ``test_fragment_matches_generated_schema`` checks that they agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest

from qmpnuma.profiles import Profile
from qmpnuma.qmp.session import CommandInfo, Execute, QmpSession, Send, command_table


def _members(*specs: str) -> list[dict[str, Any]]:
    """``'name:type'`` or ``'*name:type'`` for an optional member."""
    out: list[dict[str, Any]] = []
    for spec in specs:
        name, type_name = spec.split(":", 1)
        member: dict[str, Any] = {"name": name.lstrip("*"), "type": type_name}
        if name.startswith("*"):
            member["optional"] = True
        out.append(member)
    return out


OBJECT_TYPES = [
    "authz-list", "memory-backend-epc", "memory-backend-file", "memory-backend-memfd",
    "memory-backend-ram", "rng-random", "secret", "thread-context",
]  # fmt: skip

SCHEMA: dict[str, dict[str, Any]] = {
    "str": {"meta-type": "builtin", "json-type": "string"},
    "int": {"meta-type": "builtin", "json-type": "int"},
    "uint16": {"meta-type": "builtin", "json-type": "int"},
    "uint32": {"meta-type": "builtin", "json-type": "int"},
    "size": {"meta-type": "builtin", "json-type": "int"},
    "bool": {"meta-type": "builtin", "json-type": "boolean"},
    "any": {"meta-type": "builtin", "json-type": "value"},
    "q_empty": {"meta-type": "object", "members": []},
    "QMPCapability": {"meta-type": "enum", "values": ["oob"]},
    "[QMPCapability]": {"meta-type": "array", "element-type": "QMPCapability"},
    "q_obj_qmp_capabilities-arg": {
        "meta-type": "object",
        "members": _members("*enable:[QMPCapability]"),
    },
    "qmp_capabilities": {
        "meta-type": "command",
        "arg-type": "q_obj_qmp_capabilities-arg",
        "ret-type": "q_empty",
    },
    "q_obj_human-monitor-command-arg": {
        "meta-type": "object",
        "members": _members("command-line:str", "*cpu-index:int"),
    },
    "human-monitor-command": {
        "meta-type": "command",
        "arg-type": "q_obj_human-monitor-command-arg",
        "ret-type": "str",
    },
    "ObjectType": {"meta-type": "enum", "values": OBJECT_TYPES},
    "HostMemPolicy": {
        "meta-type": "enum",
        "values": ["default", "preferred", "bind", "interleave"],
    },
    "[uint16]": {"meta-type": "array", "element-type": "uint16"},
    "MemoryBackendProperties": {
        "meta-type": "object",
        "members": _members(
            "*dump:bool",
            "*host-nodes:[uint16]",
            "*merge:bool",
            "*policy:HostMemPolicy",
            "*prealloc:bool",
            "*prealloc-threads:uint32",
            "*prealloc-context:str",
            "*share:bool",
            "*reserve:bool",
            "size:size",
            "*x-use-canonical-path-for-ramblock-id:bool",
        ),
    },
    "MemoryBackendFileProperties": {
        "meta-type": "object",
        "members": _members(
            "*dump:bool",
            "*host-nodes:[uint16]",
            "*merge:bool",
            "*policy:HostMemPolicy",
            "*prealloc:bool",
            "*prealloc-threads:uint32",
            "*prealloc-context:str",
            "*share:bool",
            "*reserve:bool",
            "size:size",
            "*x-use-canonical-path-for-ramblock-id:bool",
            "*align:size",
            "*discard-data:bool",
            "mem-path:str",
            "*pmem:bool",
            "*readonly:bool",
        ),
    },
    "SecretCommonProperties": {
        "meta-type": "object",
        "members": _members("*format:QCryptoSecretFormat", "*keyid:str", "*iv:str"),
    },
    "QCryptoSecretFormat": {"meta-type": "enum", "values": ["raw", "base64"]},
    "SecretProperties": {
        "meta-type": "object",
        "members": _members(
            "*format:QCryptoSecretFormat", "*keyid:str", "*iv:str", "*data:str", "*file:str"
        ),
    },
    "ObjectOptions": {
        "meta-type": "object",
        "members": _members("qom-type:ObjectType", "id:str"),
        "tag": "qom-type",
        "variants": [
            {"case": "authz-list", "type": "AuthZListProperties"},
            {"case": "memory-backend-file", "type": "MemoryBackendFileProperties"},
            {"case": "memory-backend-ram", "type": "MemoryBackendProperties"},
            {"case": "secret", "type": "SecretProperties"},
        ],
    },
    "object-add": {"meta-type": "command", "arg-type": "ObjectOptions", "ret-type": "q_empty"},
    "q_obj_object-del-arg": {"meta-type": "object", "members": _members("id:str")},
    "object-del": {
        "meta-type": "command",
        "arg-type": "q_obj_object-del-arg",
        "ret-type": "q_empty",
    },
    "query-memdev": {"meta-type": "command", "arg-type": "q_empty", "ret-type": "[Memdev]"},
    "query-status": {"meta-type": "command", "arg-type": "q_empty", "ret-type": "StatusInfo"},
    "stop": {"meta-type": "command", "arg-type": "q_empty", "ret-type": "q_empty"},
    "cont": {"meta-type": "command", "arg-type": "q_empty", "ret-type": "q_empty"},
    "quit": {"meta-type": "command", "arg-type": "q_empty", "ret-type": "q_empty"},
    "migrate-pause": {
        "meta-type": "command",
        "arg-type": "q_empty",
        "ret-type": "q_empty",
        "allow-oob": True,
    },
    "q_obj_migrate-recover-arg": {"meta-type": "object", "members": _members("uri:str")},
    "migrate-recover": {
        "meta-type": "command",
        "arg-type": "q_obj_migrate-recover-arg",
        "ret-type": "q_empty",
        "allow-oob": True,
    },
    "q_obj_x-oob-test-arg": {"meta-type": "object", "members": _members("lock:bool")},
    "x-oob-test": {
        "meta-type": "command",
        "arg-type": "q_obj_x-oob-test-arg",
        "ret-type": "q_empty",
        "allow-oob": True,
    },
    "CpuModelExpansionType": {"meta-type": "enum", "values": ["static", "full"]},
    "CpuModelInfo": {"meta-type": "object", "members": _members("name:str", "*props:any")},
    "q_obj_query-cpu-model-expansion-arg": {
        "meta-type": "object",
        "members": _members("type:CpuModelExpansionType", "model:CpuModelInfo"),
    },
    "query-cpu-model-expansion": {
        "meta-type": "command",
        "arg-type": "q_obj_query-cpu-model-expansion-arg",
        "ret-type": "CpuModelExpansionInfo",
    },
    "QAuthZListPolicy": {"meta-type": "enum", "values": ["deny", "allow"]},
    "QAuthZListFormat": {"meta-type": "enum", "values": ["exact", "glob"]},
    "QAuthZListRule": {
        "meta-type": "object",
        "members": _members("match:str", "policy:QAuthZListPolicy", "*format:QAuthZListFormat"),
    },
    "[QAuthZListRule]": {"meta-type": "array", "element-type": "QAuthZListRule"},
    "AuthZListProperties": {
        "meta-type": "object",
        "members": _members("*policy:QAuthZListPolicy", "*rules:[QAuthZListRule]"),
    },
    "StrOrNull": {"meta-type": "alternate", "members": [{"type": "str"}, {"type": "null"}]},
    "null": {"meta-type": "builtin", "json-type": "null"},
    "number": {"meta-type": "builtin", "json-type": "number"},
}

#: Commands registered in the monitor (x-oob-test is in the schema but not registered).
COMMAND_NAMES = [
    "qmp_capabilities", "human-monitor-command", "object-add", "object-del", "query-memdev",
    "query-status", "stop", "cont", "quit", "migrate-pause", "migrate-recover",
    "query-cpu-model-expansion",
]  # fmt: skip
COMMANDS: dict[str, CommandInfo] = command_table(COMMAND_NAMES, SCHEMA)

def _query_status(profile: Profile, args: dict[str, Any]) -> Any:
    if profile.status_reports_singlestep:  # (gone in 9.0)
        return {"running": False, "singlestep": False, "status": "prelaunch"}
    return {"running": False, "status": "prelaunch"}


def _migrate_pause(profile: Profile, args: dict[str, Any]) -> Any:
    from qmpnuma.errors import QmpError

    raise QmpError("GenericError", profile.texts.migrate_pause_refused)


#: A tiny stand-in for the command layer: what the machine-independent commands answer, as
#: the session's profile answers them.
HANDLERS: dict[str, Callable[[Profile, dict[str, Any]], Any]] = {
    "query-status": _query_status,
    "migrate-pause": _migrate_pause,
}


def run(session: QmpSession, data: bytes) -> list[bytes]:
    """Feed bytes and run the resulting actions, returning the lines written to the client."""
    from qmpnuma.errors import QmpError

    lines: list[bytes] = []
    for action in session.feed(data):
        if isinstance(action, Send):
            lines.append(action.data)
            continue
        assert isinstance(action, Execute)
        handler = HANDLERS.get(action.name)
        if handler is None:
            lines.append(session.reply_error(action, QmpError("GenericError", "not in this test")))
            continue
        try:
            lines.append(session.reply(action, handler(session.profile, action.args)))
        except QmpError as error:
            lines.append(session.reply_error(action, error))
    return lines


def new_session(profile: str = "7.2") -> QmpSession:
    return QmpSession(COMMANDS, SCHEMA, profile=profile)


def test_fragment_matches_generated_schema() -> None:
    """Our hand-written entries must agree with the generated 7.2 table once it exists."""
    try:
        generated = importlib.import_module("qmpnuma.types.qapi_7_2")
    except ImportError:
        pytest.skip("qmpnuma/types/qapi_7_2.py is not generated yet")
    table = generated.SCHEMA
    for name in (
        "q_obj_qmp_capabilities-arg",
        "q_obj_human-monitor-command-arg",
        "MemoryBackendProperties",
    ):
        assert name in table
        ours = [(m["name"], m["type"], bool(m.get("optional"))) for m in SCHEMA[name]["members"]]
        theirs = [(m["name"], m["type"], bool(m.get("optional"))) for m in table[name]["members"]]
        assert ours == theirs, name


# --- talking to the real QEMU -------------------------------------------------------------

SYNC_PREFIX = b"\x00"


def sync_request(tag: str) -> bytes:
    """Bytes that end whatever the lexer was in (NUL is a lexical error everywhere) and then
    ask for a reply carrying ``tag``, so a reader knows the answers to a vector are complete."""
    return SYNC_PREFIX + b'{"execute":"query-status","id":"' + tag.encode() + b'"}\n'


class QemuPeer:
    """A real ``qemu-system-x86_64 -machine none -S`` with one QMP socket (one client at a time)."""

    def __init__(self, binary: str | list[str], workdir: str) -> None:
        import os
        import subprocess
        import time

        command = [binary] if isinstance(binary, str) else binary
        self.path = os.path.join(workdir, "qmp.sock")
        self.process = subprocess.Popen(
            [*command, "-machine", "none", "-S", "-display", "none", "-nodefaults",
             "-qmp", f"unix:{self.path},server=on,wait=off"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not os.path.exists(self.path):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("QEMU did not create its QMP socket")
            time.sleep(0.01)
        self._sock: Any = None
        self._buffer = b""

    def connect(self) -> bytes:
        """Open a fresh client connection (a fresh QMP session); return the greeting line."""

        from qmp_endpoints import connect_unix

        if self._sock is not None:
            self._sock.close()
        # QEMU binds before it listens: wait for the listener, not only for the file
        self._sock = connect_unix(self.path, self.process)
        self._sock.settimeout(120)
        self._buffer = b""
        return self._read_line()

    def _read_line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("QEMU closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line + b"\r\n"

    def exchange(self, chunks: list[bytes], tag: str) -> list[bytes]:
        """Send a vector then the sync request; return every line up to and including its reply."""
        import time

        for chunk in chunks:
            self._sock.sendall(chunk)
            time.sleep(0.002)
        self._sock.sendall(sync_request(tag))
        marker = b'"id": "' + tag.encode() + b'"'
        lines = []
        while True:
            line = self._read_line()
            lines.append(line)
            if marker in line:
                return lines

    def close(self) -> None:
        if getattr(self, "_sock", None) is not None:
            self._sock.close()
        self.process.kill()
        self.process.wait()


def session_exchange(session: QmpSession, chunks: list[bytes], tag: str) -> list[bytes]:
    """The same exchange as ``QemuPeer.exchange`` through our sans-IO session."""
    lines: list[bytes] = []
    for chunk in [*chunks, sync_request(tag)]:
        for out in run(session, chunk):
            lines.extend(part + b"\r\n" for part in out.split(b"\r\n")[:-1])
    return lines
