# ruff: noqa: E501  (transcripts and vectors below are verbatim QEMU bytes)
"""The sans-IO QMP session: spec §6.1 transcripts byte for byte, a differential run against the
real QEMU, profile 2.9 texts, negotiation and OOB state, events.

The transcripts were recorded from qemu-system-x86_64 7.2.22 (Debian 12).  Commands whose answer
needs a machine are played by a tiny dict of callables standing in for the command layer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Reference
from test_qmp_fragment import COMMANDS, SCHEMA, QemuPeer, new_session, run, session_exchange

from qmpnuma.errors import QmpError
from qmpnuma.qmp.session import Execute, GreetingInfo, QmpSession, Send, command_table

GREETING_7_2 = (
    b'{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, '
    b'"package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}\r\n'
)

TRANSCRIPT_6_1: list[tuple[str, bytes, list[bytes]]] = [
    ('cmd before negotiation', b'{"execute":"query-status"}\n', [
        b'{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with \'qmp_capabilities\'"}}\r\n',
    ]),
    ('cmd before negotiation with id', b'{"execute":"query-status","id":"x1"}\n', [
        b'{"id": "x1", "error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with \'qmp_capabilities\'"}}\r\n',
    ]),
    ('unknown cmd before negotiation', b'{"execute":"no-such"}\n', [
        b'{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with \'qmp_capabilities\'"}}\r\n',
    ]),
    ('non-json', b'hello\n', [
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword \'hello\'"}}\r\n',
    ]),
    ('json array', b'[1,2]\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}\r\n',
    ]),
    ('json number', b'42\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}\r\n',
    ]),
    ('json string', b'"abc"\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}\r\n',
    ]),
    ('object without execute', b'{"foo":1}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input member \'foo\' is unexpected"}}\r\n',
    ]),
    ('execute not string', b'{"execute":1}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input member \'execute\' must be a string"}}\r\n',
    ]),
    ('qmp_capabilities bad enable', b'{"execute":"qmp_capabilities","arguments":{"enable":["foo"]}}\n', [
        b'{"error": {"class": "GenericError", "desc": "Parameter \'null\' does not accept value \'foo\'"}}\r\n',
    ]),
    ('qmp_capabilities enable not list', b'{"execute":"qmp_capabilities","arguments":{"enable":"oob"}}\n', [
        b'{"error": {"class": "GenericError", "desc": "Invalid parameter type for \'enable\', expected: array"}}\r\n',
    ]),
    ('qmp_capabilities unexpected arg', b'{"execute":"qmp_capabilities","arguments":{"foo":1}}\n', [
        b'{"error": {"class": "GenericError", "desc": "Parameter \'foo\' is unexpected"}}\r\n',
    ]),
    ('qmp_capabilities with id', b'{"execute":"qmp_capabilities","id":{"a":[1,2]}}\n', [
        b'{"return": {}, "id": {"a": [1, 2]}}\r\n',
    ]),
    ('qmp_capabilities again', b'{"execute":"qmp_capabilities"}\n', [
        b'{"error": {"class": "CommandNotFound", "desc": "Capabilities negotiation is already complete, command ignored"}}\r\n',
    ]),
    ('unknown command', b'{"execute":"no-such-cmd"}\n', [
        b'{"error": {"class": "CommandNotFound", "desc": "The command no-such-cmd has not been found"}}\r\n',
    ]),
    ('unknown command with id', b'{"execute":"no-such-cmd","id":7}\n', [
        b'{"id": 7, "error": {"class": "CommandNotFound", "desc": "The command no-such-cmd has not been found"}}\r\n',
    ]),
    ('id string echo', b'{"execute":"query-status","id":"abc"}\n', [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": "abc"}\r\n',
    ]),
    ('id null', b'{"execute":"query-status","id":null}\n', [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": null}\r\n',
    ]),
    ('id number float', b'{"execute":"query-status","id":1.5}\n', [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": 1.5}\r\n',
    ]),
    ('missing args', b'{"execute":"human-monitor-command"}\n', [
        b'{"error": {"class": "GenericError", "desc": "Parameter \'command-line\' is missing"}}\r\n',
    ]),
    ('missing args id', b'{"execute":"object-add","id":"m"}\n', [
        b'{"id": "m", "error": {"class": "GenericError", "desc": "Parameter \'qom-type\' is missing"}}\r\n',
    ]),
    ('wrong type', b'{"execute":"human-monitor-command","arguments":{"command-line":1}}\n', [
        b'{"error": {"class": "GenericError", "desc": "Invalid parameter type for \'command-line\', expected: string"}}\r\n',
    ]),
    ('wrong type bool for int', b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":true}}\n', [
        b'{"error": {"class": "GenericError", "desc": "Parameter \'size\' expects uint64"}}\r\n',
    ]),
    ('wrong type str for int', b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":"1G"}}\n', [
        b'{"error": {"class": "GenericError", "desc": "Parameter \'size\' expects uint64"}}\r\n',
    ]),
    ('extra arg', b'{"execute":"query-memdev","arguments":{"x":1}}\n', [
        b'{"error": {"class": "GenericError", "desc": "Parameter \'x\' is unexpected"}}\r\n',
    ]),
    ('arguments not object', b'{"execute":"query-memdev","arguments":[]}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input member \'arguments\' must be an object"}}\r\n',
    ]),
    ('arguments null', b'{"execute":"query-memdev","arguments":null}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input member \'arguments\' must be an object"}}\r\n',
    ]),
    ('unknown top-level key', b'{"execute":"query-status","foo":1}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input member \'foo\' is unexpected"}}\r\n',
    ]),
    ('execute and exec-oob both', b'{"execute":"query-status","exec-oob":"query-status"}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input member \'exec-oob\' is unexpected"}}\r\n',
    ]),
    ('exec-oob without oob cap', b'{"exec-oob":"query-status"}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input member \'exec-oob\' is unexpected"}}\r\n',
    ]),
    ('exec-oob migrate-recover without cap', b'{"exec-oob":"migrate-recover","arguments":{"uri":"x"}}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input member \'exec-oob\' is unexpected"}}\r\n',
    ]),
    ('empty object', b'{}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input lacks member \'execute\'"}}\r\n',
    ]),
    ('empty line', b'\n', [
    ]),
    ('whitespace', b'   \n', [
    ]),
    ('two objects one line', b'{"execute":"query-status","id":1}{"execute":"query-status","id":2}\n', [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": 1}\r\n',
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": 2}\r\n',
    ]),
    ('trailing garbage', b'{"execute":"query-status","id":3} xyz\n', [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": 3}\r\n',
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword \'xyz\'"}}\r\n',
    ]),
    ('unterminated object then newline', b'{"execute":"query-status"\n', [
    ]),
    ('close it', b'}\n', [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}}\r\n',
    ]),
    ('single quotes (QEMU extension)', b"{'execute':'query-status','id':'sq'}\n", [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": "sq"}\r\n',
    ]),
    ('bad escape', b'{"execute":"query-st\\qatus"}\n', [
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, invalid escape sequence in string"}}\r\n',
    ]),
    ('invalid utf8', b'{"execute":"\xff\xfe"}\n', [
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\"\\uFFFD\'"}}\r\n',
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\uFFFD\'"}}\r\n',
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}\r\n',
    ]),
    ('big int id', b'{"execute":"query-status","id":123456789012345678901234567890}\n', [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": 1.2345678901234568e+29}\r\n',
    ]),
    ('lowercase true', b'{"execute":"query-status","id":true}\n', [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": true}\r\n',
    ]),
    ('command name with underscore alias', b'{"execute":"query_status"}\n', [
        b'{"error": {"class": "CommandNotFound", "desc": "The command query_status has not been found"}}\r\n',
    ]),
    ('stray close brace', b'}\n', [
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}\r\n',
    ]),
    ('stray close bracket', b']\n', [
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}\r\n',
    ]),
    ('number followed by object', b'1 {"execute":"query-status","id":"after"}\n', [
        b'{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}\r\n',
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": "after"}\r\n',
    ]),
    ('control char in string', b'{"execute":"query-status","id":"a\x01b"}\n', [
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'\\"a\\u0001\'"}}\r\n',
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}\r\n',
    ]),
    ('hmp info version', b'{"execute":"human-monitor-command","arguments":{"command-line":"info version"}}\n', [
        b'{"return": "7.2.22Debian 1:7.2+dfsg-7+deb12u18+b3\\r\\n"}\r\n',
    ]),
    ('hmp bad command', b'{"execute":"human-monitor-command","arguments":{"command-line":"nosuch"}}\n', [
        b'{"return": "unknown command: \'nosuch\'\\r\\n"}\r\n',
    ]),
    ('hmp empty', b'{"execute":"human-monitor-command","arguments":{"command-line":""}}\n', [
        b'{"return": ""}\r\n',
    ]),
    ('cont', b'{"execute":"cont"}\n', [
        b'{"timestamp": {"seconds": 1795730463, "microseconds": 707677}, "event": "RESUME"}\r\n',
        b'{"return": {}}\r\n',
    ]),
    ('stop', b'{"execute":"stop"}\n', [
        b'{"timestamp": {"seconds": 1795730464, "microseconds": 508842}, "event": "STOP"}\r\n',
        b'{"return": {}}\r\n',
    ]),
    ('stop again', b'{"execute":"stop"}\n', [
        b'{"return": {}}\r\n',
    ]),
    ('query-status', b'{"execute":"query-status"}\n', [
        b'{"return": {"status": "paused", "singlestep": false, "running": false}}\r\n',
    ]),
    ('quit', b'{"execute":"quit","id":"q"}\n', [
        b'{"timestamp": {"seconds": 1795730467, "microseconds": 913900}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}\r\n',
        b'{"return": {}, "id": "q"}\r\n',
    ]),
    ('exec-oob non-oob cmd', b'{"exec-oob":"query-status","id":"o1"}\n', [
        b'{"id": "o1", "error": {"class": "GenericError", "desc": "The command query-status does not support OOB"}}\r\n',
    ]),
    ('exec-oob without id', b'{"exec-oob":"migrate-pause"}\n', [
        b'{"error": {"class": "GenericError", "desc": "migrate-pause is currently only supported during postcopy-active state"}}\r\n',
    ]),
    ('exec-oob migrate-pause', b'{"exec-oob":"migrate-pause","id":"o2"}\n', [
        b'{"id": "o2", "error": {"class": "GenericError", "desc": "migrate-pause is currently only supported during postcopy-active state"}}\r\n',
    ]),
    ('exec-oob x-oob-test', b'{"exec-oob":"x-oob-test","arguments":{"lock":false},"id":"o3"}\n', [
        b'{"id": "o3", "error": {"class": "CommandNotFound", "desc": "The command x-oob-test has not been found"}}\r\n',
    ]),
    ('execute normal', b'{"execute":"query-status","id":"n1"}\n', [
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": "n1"}\r\n',
    ]),
]  # fmt: skip

#: Event timestamps as recorded in the transcript, in emission order.
TRANSCRIPT_TIMES = [(1795730463, 707677), (1795730464, 508842), (1795730467, 913900)]


class TranscriptMachine:
    """Just enough of a machine to replay §6.1: run state, three HMP lines, events."""

    def __init__(self, session: QmpSession) -> None:
        self.session = session
        self.status = "prelaunch"
        self.times: Iterator[tuple[int, int]] = iter(TRANSCRIPT_TIMES)
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "query-status": lambda args: {
                "running": self.status == "running", "singlestep": False, "status": self.status,
            },
            "human-monitor-command": self.hmp,
            "cont": self.cont,
            "stop": self.stop,
            "quit": self.quit,
            "migrate-pause": self.migrate_pause,
        }  # fmt: skip
        self.out: list[bytes] = []

    def emit(self, name: str, data: dict[str, Any] | None = None) -> None:
        seconds, microseconds = next(self.times)
        event = self.session.event(name, data, seconds, microseconds)
        if event is not None:
            self.out.append(event)

    def hmp(self, args: dict[str, Any]) -> str:
        line = args["command-line"]
        if line == "info version":
            return "7.2.22Debian 1:7.2+dfsg-7+deb12u18+b3\r\n"
        return f"unknown command: '{line}'\r\n" if line else ""

    def cont(self, args: dict[str, Any]) -> dict[str, Any]:
        self.status = "running"
        self.emit("RESUME")
        return {}

    def stop(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.status == "running":
            self.status = "paused"
            self.emit("STOP")
        return {}

    def quit(self, args: dict[str, Any]) -> dict[str, Any]:
        self.emit("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
        return {}

    def migrate_pause(self, args: dict[str, Any]) -> Any:
        raise QmpError(
            "GenericError", "migrate-pause is currently only supported during postcopy-active state"
        )

    def feed(self, data: bytes) -> list[bytes]:
        self.out = []
        for action in self.session.feed(data):
            if isinstance(action, Send):
                self.out.append(action.data)
                continue
            try:
                value = self.handlers[action.name](action.args)
            except QmpError as error:
                self.out.append(self.session.reply_error(action, error))
            else:
                self.out.append(self.session.reply(action, value))
        return self.out


def test_greeting() -> None:
    assert new_session().greeting() == GREETING_7_2
    assert new_session("2.9").greeting() == (
        b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 9, "major": 2}, "package": ""}, '
        b'"capabilities": []}}\r\n'
    )
    custom = QmpSession(COMMANDS, SCHEMA, greeting=GreetingInfo(7, 2, 0, "v7.2.0", ("oob",)))
    assert b'"package": "v7.2.0"' in custom.greeting()


def test_transcript_6_1_byte_for_byte() -> None:
    split = [title for title, _, _ in TRANSCRIPT_6_1].index("exec-oob non-oob cmd")
    machine = TranscriptMachine(new_session())
    for title, sent, expected in TRANSCRIPT_6_1[:split]:
        assert machine.feed(sent) == expected, title
    # second part: a fresh connection that enabled OOB ("caps oob")
    machine = TranscriptMachine(new_session())
    enable = b'{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}\n'
    assert machine.feed(enable) == [b'{"return": {}}\r\n']
    for title, sent, expected in TRANSCRIPT_6_1[split:]:
        assert machine.feed(sent) == expected, title


def test_transcript_deep_nesting() -> None:
    session = new_session()
    run(session, b'{"execute":"qmp_capabilities"}')
    lines = run(session, b'{"execute":"query-status","id":' + b"[" * 1100 + b"]" * 1100 + b"}\n")
    assert len(lines) == 1027
    assert lines[0] == (
        b'{"error": {"class": "GenericError", "desc": "JSON nesting depth limit exceeded"}}\r\n'
    )
    assert lines[1] == (
        b'{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}\r\n'
    )
    assert set(lines[2:]) == {
        b'{"error": {"class": "GenericError", "desc": "JSON parse error, expecting value"}}\r\n'
    }
    (echo,) = run(session, b'{"execute":"query-status","id":' + b"[" * 1000 + b"]" * 1000 + b"}")
    assert echo.endswith(b', "id": ' + b"[" * 1000 + b"]" * 1000 + b"}\r\n")


def test_events_wait_for_negotiation() -> None:
    session = new_session()
    assert session.event("STOP", None, 1, 2) is None
    run(session, b'{"execute":"qmp_capabilities"}')
    assert session.event("STOP", None, 1, 2) == (
        b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}\r\n'
    )


def test_events_can_interleave_with_pending_requests() -> None:
    session = new_session()
    run(session, b'{"execute":"qmp_capabilities"}')
    actions = session.feed(b'{"execute":"query-status","id":1}{"execute":"stop","id":2}')
    assert [type(action) for action in actions] == [Execute, Execute]
    first, second = actions
    assert isinstance(first, Execute) and isinstance(second, Execute)
    assert session.event("RESUME", None, 3, 4) is not None
    assert session.reply(second, {}) == b'{"return": {}, "id": 2}\r\n'
    assert first.name == "query-status" and first.has_id and first.id == 1 and not first.oob


def test_execute_carries_visited_arguments_and_explicit_null_id() -> None:
    session = new_session()
    run(session, b'{"execute":"qmp_capabilities"}')
    (action,) = session.feed(
        b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"m","size":-1},'
        b'"id":null}'
    )
    assert isinstance(action, Execute)
    assert action.args == {"qom-type": "memory-backend-ram", "id": "m", "size": 2**64 - 1}
    assert action.has_id and action.id is None
    failure = session.reply_error(action, QmpError("GenericError", "nope"))
    assert failure == b'{"id": null, "error": {"class": "GenericError", "desc": "nope"}}\r\n'


def test_capability_not_offered() -> None:
    session = QmpSession(COMMANDS, SCHEMA, greeting=GreetingInfo(7, 2, 22, "", ()))
    assert run(session, b'{"execute":"qmp_capabilities","arguments":{"enable":["oob","oob"]}}') == [
        b'{"error": {"class": "GenericError", "desc": "Capability oob, oob not available"}}\r\n'
    ]
    assert not session.negotiated
    assert run(session, b'{"execute":"qmp_capabilities","id":1}') == [b'{"return": {}, "id": 1}\r\n']
    assert session.negotiated and not session.oob_enabled


def test_oob_state() -> None:
    session = new_session()
    run(session, b'{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}')
    assert session.oob_enabled
    (action,) = session.feed(b'{"exec-oob":"migrate-recover","arguments":{"uri":"x"},"id":"r"}')
    assert isinstance(action, Execute) and action.oob and action.args == {"uri": "x"}
    assert run(session, b'{"execute":"query-status","exec-oob":"query-status"}') == [
        b'{"error": {"class": "GenericError", '
        b"\"desc\": \"QMP input member 'execute' clashes with 'exec-oob'\"}}\r\n"
    ]


def test_profile_2_9_texts() -> None:
    session = new_session("2.9")
    expected = {
        b"[1]": "Expected 'object' in QMP input",
        b'{"execute":1}': "QMP input object member 'execute' expects 'string'",
        b'{"execute":"x","arguments":[]}': "QMP input object member 'arguments' expects 'object'",
        b'{"execute":"x","foo":1}': "QMP input object member 'foo' is unexpected",
        b'{"exec-oob":"x"}': "QMP input object member 'exec-oob' is unexpected",
        b"{}": "Expected 'execute' in QMP input",
        b'{"execute":"x"}': "Expecting capabilities negotiation with 'qmp_capabilities'",
        b"%\n": "Invalid JSON syntax",
        b"[1,]": "JSON parse error, expecting value",
    }
    for sent, desc in expected.items():
        (line,) = run(session, sent)
        assert desc.encode() in line, sent
    (line,) = run(session, b'{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}')
    assert b"Capability oob not available" in line  # our 7.2 fragment still has 'enable'


def test_arbitrary_input_never_raises() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.binary(max_size=60), max_size=6))
    def check(chunks: list[bytes]) -> None:
        session = new_session()
        whole = new_session()
        split_out: list[bytes] = []
        for chunk in [b'{"execute":"qmp_capabilities"}', *chunks]:
            split_out += run(session, chunk)
        joined = run(whole, b'{"execute":"qmp_capabilities"}' + b"".join(chunks))
        assert split_out == joined

    check()



# --- differential run against the real QEMU --------------------------------------------------

def _caps_with(keys: list[str]) -> bytes:
    members = b",".join(b'"%s":1' % key.encode() for key in keys)
    return b'{"execute":"qmp_capabilities","arguments":{' + members + b"}}"


BEFORE_NEGOTIATION: list[bytes | list[bytes]] = [
    b'{"execute":"query-status"}',
    b'{"execute":"query-status","id":"x1"}',
    b'hello\n',
    b'[1,2]',
    b'42\n',
    b'"abc"',
    b'{"foo":1}',
    b'{"execute":1}',
    b'{"execute":"qmp_capabilities","arguments":{"enable":["foo"]}}',
    b'{"execute":"qmp_capabilities","arguments":{"enable":"oob"}}',
    b'{"execute":"qmp_capabilities","arguments":{"foo":1}}',
    b'{"exec-oob":"qmp_capabilities"}',
    b'{"execute":"qmp_capabilities","arguments":{"enable":[1]}}',
    b'{"execute":"qmp_capabilities","arguments":{"enable":["oob","x","y"]}}',
    b'{"execute":"qmp_capabilities","arguments":{"b":1,"a":2,"c":3,"d":4}}',
    b'{"execute":"qmp_capabilities","arguments":{"enable":null}}',
    b'{"execute":"qmp_capabilities","arguments":{"enable":[null]}}',
    b'{"execute":"query-status","arguments":{"x":1}}',
    b'{"execute":"no-such","foo":1,"id":5}',
    _caps_with(["zeta", "alpha", "mid"]),
    _caps_with([f"key{i}" for i in range(9)]),
    _caps_with([f"opt-{i}" for i in range(20)]),
    _caps_with([f"k{i * 7919 % 1000}-x" for i in range(40)]),
]  # fmt: skip

AFTER_NEGOTIATION: list[bytes | list[bytes]] = [
    b'{"execute":"qmp_capabilities"}',
    b'{"execute":"qmp_capabilities","arguments":{"enable":["foo"]}}',
    b'{"execute":"no-such-cmd","id":7}',
    b'{"execute":"query-status","id":1.5}',
    b'{"execute":"query-status","id":null}',
    b'{"execute":"query-status","id":{"b":[1,{"c":null}],"a":"\\u00e9\\ud83d\\ude00\\u0000\\u007f\\/"}}',
    b'{"execute":"human-monitor-command"}',
    b'{"execute":"object-add","id":"m"}',
    b'{"execute":"human-monitor-command","arguments":{"command-line":1}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":true}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":-1.5}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x"}}',
    b'{"execute":"object-add","arguments":{"qom-type":"foo","id":"x"}}',
    b'{"execute":"object-add","arguments":{"qom-type":1,"id":"x"}}',
    b'{"execute":"object-add","arguments":{"id":"x"}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram"}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"host-nodes":[1,"a"]}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"host-nodes":[1,70000]}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"host-nodes":[-1]}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"prealloc-threads":4294967296}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"policy":"nope"}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"policy":3}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"zz":1,"aa":2,"mm":3}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":18446744073709551616}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"host-nodes":{}}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"share":"yes"}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-file","id":"x","size":1}}',
    b'{"execute":"object-add","arguments":{"qom-type":"secret","id":"x","format":"hex"}}',
    b'{"execute":"object-add","arguments":{"qom-type":"secret","id":"x","data":"a","bogus":1}}',
    b'{"execute":"query-memdev","arguments":{"x":1}}',
    b'{"execute":"query-memdev","arguments":[]}',
    b'{"execute":"query-memdev","arguments":null}',
    b'{"execute":"query-status","foo":1}',
    b'{"execute":"query-status","exec-oob":"query-status"}',
    b'{"exec-oob":"query-status"}',
    b'{}',
    b'\n',
    b'   \n',
    b'{"execute":"query-status","id":1}{"execute":"query-status","id":2}',
    b'{"execute":"query-status","id":3} xyz\n',
    [b'{"execute":"query-status"\n', b'}\n'],
    b"{'execute':'query-status','id':'sq'}",
    b'{"execute":"query-st\\qatus"}',
    b'{"execute":"\xff\xfe"}\n',
    b'{"execute":"query-status","id":123456789012345678901234567890}',
    b'{"execute":"query_status"}',
    b'}\n',
    b']\n',
    b'1 {"execute":"query-status","id":"after"}\n',
    b'{"execute":"query-status","id":"a\x01b"}',
    b'{"a" 1}',
    b'[1,]',
    b'{,}',
    b'1. \n',
    b'- \n',
    b'01\n',
    b'{"execute":"query-status","id":[1e400,-0,0.1,1.0,-1e400,1e-400,18446744073709551615,18446744073709551616,-9223372036854775809,-0.0,1E2,2.5e-3]}',
    b'{"execute":"query-status","id":"a","id":"b"}',
    b'{"execute":"query-status","id":"\\ud800"}',
    b'{"execute":"query-status","id":"\\ud800\\u0041"}',
    b'{"execute":"query-status","id":"\\uffff"}',
    b'{"execute":"query-status","id":"\\u12"}',
    b'{"execute":"query-status","id":"\xc0\x80\xed\xa0\x80\xef\xbf\xbf"}',
    b'{"execute":"query-status","id":"\xc0\x80"}',
    b'{"execute":"query-status","id":"caf\xc3\xa9 \xf0\x9f\x98\x80"}',
    b'{"execute":"query-status","id":"a\x00b"}',
    b'{"execute":"query-status","id":"' + b'x' * 3000 + b'"}',
    b'x' * 3000 + b'\n',
    b'{"execute":"query-status","id":[1 2]}',
    b'{"execute":"query-status","id":{"a":1 "b":2}}',
    b'{"execute":"query-status","id":{1:2}}',
    b'{"execute":"query-status","id":{"a":}}',
    b'{"execute":"query-status","id":[}',
    b'{"execute":"query-status","id":{]}',
    b'[{]}',
    b'{"execute":"query-status","id":True}',
    b'nullx\n',
    b'null1\n',
    b'0e5\n',
    b'-0e5 ',
    b'1.5.\n',
    b'{"execute":"query-status","id":"\\x"}',
    b'{\'execute\':\'query-status\',\'id\':\'it\\\'s "q"\'}',
    b'{"execute":"query-status","id":"\x7f\xf4\x90\x80\x80\xf8\x88\x80\x80\x80"}',
    b'\t\r{"execute" : "query-status" , "id" : [ ] }',
    b'{"execute":"query-status","id":{"":{}}}',
    b'{"execute":"query-status","arguments":{},"id":{}}',
    b'{"id":1,"arguments":{},"foo":2,"execute":"query-status"}',
    b'{"arguments":{"x":1},"execute":"nosuch"}',
    b'{"execute":"query-status","id":"\x80"}',
    [b'{"execute":"query', b'-status","id":', b'"split"}'],
    [b'{"execute":"query-status","id":1', b'2}'],
    [b'tr', b'ue\n'],
    [b'{"id":"\\u00', b'e9","execute":"query-status"}'],
    b'%\n',
    b'{"execute":"query-status","id":%d}',
    b'{"execute":"query-status","id":"\xc3"}',
    b'{"execute":"query-cpu-model-expansion","arguments":{"type":"static","model":{"name":"x","bogus":1},"zz":2}}',
    b'{"execute":"query-cpu-model-expansion","arguments":{"type":"static","model":{"name":1}}}',
    b'{"execute":"query-cpu-model-expansion","arguments":{"type":"static","model":{}}}',
    b'{"execute":"query-cpu-model-expansion","arguments":{"type":"static","model":[]}}',
    b'{"execute":"query-cpu-model-expansion","arguments":{"type":"bad","model":{}}}',
    b'{"execute":"query-cpu-model-expansion","arguments":{"model":{"name":"x"}}}',
    b'{"execute":"object-add","arguments":{"qom-type":"authz-list","id":"a","rules":[{"match":"x","policy":"allow"},{"match":1}]}}',
    b'{"execute":"object-add","arguments":{"qom-type":"authz-list","id":"a","rules":[{"match":"x","policy":"allow"},{"match":"y"}]}}',
    b'{"execute":"object-add","arguments":{"qom-type":"authz-list","id":"a","rules":[{"match":"x","policy":"allow","q":1}]}}',
    b'{"execute":"object-add","arguments":{"qom-type":"authz-list","id":"a","rules":[{"match":"x","policy":"nope"}]}}',
    b'{"execute":"object-add","arguments":{"qom-type":"authz-list","id":"a","rules":[3]}}',
    b'{"execute":"object-add","arguments":{"qom-type":"authz-list","id":"a","rules":[{"match":"x","policy":"allow","format":"x"}]}}',
    b'{"execute":"migrate_set_downtime","arguments":{"value":"x"}}',
    b'{"execute":"migrate_set_downtime","arguments":{"value":true}}',
    b'{"execute":"human-monitor-command","arguments":{"command-line":"x","cpu-index":"a"}}',
    b'{"execute":"human-monitor-command","arguments":{"command-line":"x","cpu-index":1.0}}',
    b'{"execute":"human-monitor-command","arguments":{"command-line":"x","cpu-index":9223372036854775808}}',
    b'{"execute":"human-monitor-command","arguments":{"cpu-index":1}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":-1,"host-nodes":[65536]}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":-9223372036854775809}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"prealloc-threads":-1}}',
    b'{"execute":"object-add","arguments":{"qom-type":"memory-backend-ram","id":"x","size":1,"host-nodes":[]}, "arguments2":1}',
    b'{"execute":"object-add","arguments":{"qom-type":"secret","id":"s","q":1,"format":"nope"}}',
    b'{"execute":"query-status","id":' + b'[' * 1100 + b']' * 1100 + b'}',
    b'{"execute":"query-status","id":' + b'[' * 1000 + b']' * 1000 + b'}',
    b'{"execute":"query-status","id' + b'":{"a' * 1024 + b'":1' + b'}' * 1025,
    b'{"execute":"query-status","id":' + b'[' * 1023 + b']' * 1023 + b'}',
    b'{"execute":"query-status","id":' + b'[' * 1024 + b']' * 1024 + b'}',
    b'{"execute":"query-status","id":"\xff\xff\xff"}',
    b'\xed\xa0\x80 \xc0\x80x\xf0\x9f\x98\x80\xef\xbf\xbe\n',
    b'"\xc3\xa9\x01\n',
    b'"\xed\xa0\x80\x01\n',
    b'"\xe0\x80\x80\x01\n',
    b'"\xc0\x80\xf4\x90\x80\x80\x01\n',
    b'"\xef\xbf\xbf\xef\xb7\x90\x02\n',
    b'[' + b'a' * 2000 + b']\n',
]  # fmt: skip

#: Brackets and braces that close the wrong way: QEMU parses as soon as either count drops.
MISMATCHED_CLOSERS: list[bytes | list[bytes]] = [
    b"[}\n", b"[}}}]]\n", b'{"a":[}]}\n', b"{]", b"[[]}", b'{"execute":"query-status","id":[{]}',
]  # fmt: skip

WITH_OOB: list[bytes | list[bytes]] = [
    b'{"exec-oob":"query-status","id":"o1"}',
    b'{"exec-oob":"migrate-pause"}',
    b'{"exec-oob":"migrate-pause","id":"o2"}',
    b'{"exec-oob":"x-oob-test","arguments":{"lock":false},"id":"o3"}',
    b'{"execute":"query-status","exec-oob":"query-status"}',
    b'{"exec-oob":"query-status","execute":"query-status"}',
    b'{"exec-oob":1}',
    b'{"exec-oob":"nosuch","id":9}',
    b'{"exec-oob":"migrate-recover","arguments":{"uri":1},"id":"r"}',
    b'{"exec-oob":"qmp_capabilities"}',
    b'{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}',
]  # fmt: skip


def _session_factory(tables: str, profile: str) -> Callable[[], QmpSession]:
    """Our hand-written fragment (7.2's), or the profile's generated tables."""
    if tables == "fragment":
        return new_session
    from qmpnuma.profiles import wire_types

    generated = wire_types(profile)
    return lambda: QmpSession(generated.COMMANDS, generated.SCHEMA, profile=profile)


@pytest.mark.qemu
def test_differential_against_real_qemu(reference: Reference) -> None:
    """Send the same bytes to QEMU and to a session over the profile's generated tables; every
    reply line must be identical."""
    _differential(reference.binary, _session_factory("generated", reference.profile))


@pytest.mark.qemu
def test_fragment_differential_against_real_qemu(qemu_binary: str) -> None:
    """The same with the hand-written fragment, which is QEMU 7.2's slice of the schema."""
    _differential(qemu_binary, _session_factory("fragment", "7.2"))


def _differential(binary: str, make_session: Callable[[], QmpSession]) -> None:
    phases: list[tuple[list[bytes], list[bytes | list[bytes]]]] = [
        ([], BEFORE_NEGOTIATION),
        ([b'{"execute":"qmp_capabilities"}'], AFTER_NEGOTIATION + MISMATCHED_CLOSERS),
        ([b'{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}'], WITH_OOB),
    ]
    assert sum(len(vectors) for _, vectors in phases) >= 60
    mismatches = []
    with tempfile.TemporaryDirectory() as workdir:
        peer = QemuPeer(binary, workdir)
        try:
            count = 0
            for setup, vectors in phases:
                session = make_session()
                assert peer.connect() == session.greeting()
                for chunk in setup:
                    tag = f"setup{count}"
                    assert peer.exchange([chunk], tag) == session_exchange(session, [chunk], tag)
                for vector in vectors:
                    count += 1
                    chunks = vector if isinstance(vector, list) else [vector]
                    tag = f"v{count}"
                    theirs = peer.exchange(chunks, tag)
                    ours = session_exchange(session, chunks, tag)
                    if theirs != ours:
                        mismatches.append((chunks, theirs, ours))
        finally:
            peer.close()
    assert mismatches == []


def test_deeply_nested_recursive_argument_types_do_not_raise() -> None:
    schema: dict[str, Any] = {
        **SCHEMA,
        "Node": {
            "meta-type": "object",
            "members": [
                {"name": "name", "type": "str"},
                {"name": "child", "type": "Node", "optional": True},
            ],
        },
        "q_obj_deep-arg": {"meta-type": "object", "members": [{"name": "tree", "type": "Node"}]},
        "deep": {"meta-type": "command", "arg-type": "q_obj_deep-arg", "ret-type": "q_empty"},
    }
    commands = {**COMMANDS, **command_table(["deep"], schema)}
    session = QmpSession(commands, schema)
    run(session, b'{"execute":"qmp_capabilities"}')
    depth = 1020
    opening = b'{"execute":"deep","arguments":{"tree":' + b'{"name":"a","child":' * depth
    (ok,) = session.feed(opening + b'{"name":"z"}' + b"}" * depth + b"}}")
    assert isinstance(ok, Execute)
    (bad,) = run(session, opening + b'{"name":1}' + b"}" * depth + b"}}")
    assert bad.endswith(b".child.name', expected: string\"}}\r\n")
