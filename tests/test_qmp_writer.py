"""QEMU's JSON writer: member order (QDict hashing), separators, escaping, number format.

The member orders below are the ones printed by the real QEMU 7.2.22 in the spec's transcripts;
each dict is built in QAPI schema member order, which is QEMU's insertion order.
"""

from __future__ import annotations

import math

import pytest

from qmpnuma.qobject.hashing import qdict_order, tdb_hash
from qmpnuma.qobject.json_parser import JsonStreamer
from qmpnuma.qobject.json_writer import encode, encode_event, encode_value


@pytest.mark.parametrize(
    ("insertion", "printed"),
    [
        (
            ["id", "size", "merge", "dump", "prealloc", "share", "reserve", "host-nodes", "policy"],
            ["share", "reserve", "prealloc", "host-nodes", "size", "merge", "dump", "policy", "id"],
        ),
        (["major", "minor", "micro"], ["micro", "minor", "major"]),
        (["return", "id"], ["return", "id"]),
        (["error", "id"], ["id", "error"]),
        (["class", "desc"], ["class", "desc"]),
        (["event", "timestamp", "data"], ["timestamp", "event", "data"]),
        (["running", "singlestep", "status"], ["status", "singlestep", "running"]),
        (
            ["type", "vcpus-count", "props", "qom-path"],
            ["props", "vcpus-count", "qom-path", "type"],
        ),
        (
            ["cpu-index", "qom-path", "thread-id", "props", "target"],
            ["thread-id", "props", "qom-path", "cpu-index", "target"],
        ),
        (
            ["id", "addr", "size", "slot", "node", "memdev", "hotplugged", "hotpluggable"],
            ["memdev", "hotplugged", "addr", "hotpluggable", "size", "slot", "node", "id"],
        ),
        (["qemu", "package"], ["qemu", "package"]),
        (["version", "capabilities"], ["version", "capabilities"]),
    ],
)
def test_member_order_matches_qemu(insertion: list[str], printed: list[str]) -> None:
    assert list(qdict_order(insertion)) == printed
    assert encode_value(dict.fromkeys(insertion, 0)) == (
        "{" + ", ".join(f'"{key}": 0' for key in printed) + "}"
    )


def test_same_bucket_most_recent_first() -> None:
    assert tdb_hash("status") % 512 == tdb_hash("singlestep") % 512
    assert list(qdict_order(["status", "singlestep"])) == ["singlestep", "status"]


def test_status_reply_bytes() -> None:
    reply = {"return": {"running": False, "singlestep": False, "status": "prelaunch"}, "id": "abc"}
    assert encode(reply) == (
        b'{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": "abc"}'
        b"\r\n"
    )


def test_empty_containers_and_scalars() -> None:
    assert encode({}) == b"{}\r\n"
    assert encode_value([[], {}, None, True, False, -5, 2**64 - 1]) == (
        "[[], {}, null, true, false, -5, 18446744073709551615]"
    )


def test_floats_use_percent_17g() -> None:
    values = [1.5, 0.1, 1.0, 1.2345678901234568e29, -0.0, math.inf, -math.inf, 1e-300, 2.0**64]
    assert encode_value(values) == (
        "[1.5, 0.10000000000000001, 1, 1.2345678901234568e+29, -0, inf, -inf, "
        "1e-300, 1.8446744073709552e+19]"
    )


def test_string_escaping_is_ascii_only() -> None:
    text = 'a"b\\c/\b\f\n\r\t\x01\x1f\x7f\u00e9\u2028\U0001f600\x00'
    assert encode_value(text) == (
        '"a\\"b\\\\c/\\b\\f\\n\\r\\t\\u0001\\u001F\\u007F\\u00E9\\u2028\\uD83D\\uDE00\\u0000"'
    )


def test_strings_qemu_cannot_hold_become_replacement_characters() -> None:
    assert encode_value("\ud800x\ufffe\ufdd0") == '"\\uFFFDx\\uFFFD\\uFFFD"'


def test_keys_are_escaped_too() -> None:
    assert encode_value({"\u00e9": 1}) == '{"\\u00E9": 1}'


def test_event_layout() -> None:
    assert encode_event("STOP", None, 1795730464, 508842) == (
        b'{"timestamp": {"seconds": 1795730464, "microseconds": 508842}, "event": "STOP"}\r\n'
    )
    assert encode_event(
        "SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"}, 1795730467, 913900
    ) == (
        b'{"timestamp": {"seconds": 1795730467, "microseconds": 913900}, "event": "SHUTDOWN", '
        b'"data": {"guest": false, "reason": "host-qmp-quit"}}\r\n'
    )


def test_deep_values_do_not_hit_the_recursion_limit() -> None:
    deep: object = 1
    for _ in range(3000):
        deep = [deep]
    assert encode_value(deep) == "[" * 3000 + "1" + "]" * 3000
    nested: object = {}
    for index in range(2000):
        nested = {"k": nested, "a": index}
    text = encode_value(nested)
    assert text.startswith('{"a": 1999, "k": {"a": 1998, ') or text.startswith('{"k": ')
    assert text.count("{") == 2001


def test_mappings_and_tuples_are_accepted() -> None:
    from types import MappingProxyType

    assert encode_value(MappingProxyType({"b": (1, 2)})) == '{"b": [1, 2]}'
    with pytest.raises(TypeError):
        encode_value(object())


def test_parse_then_write_round_trip() -> None:
    (value,) = JsonStreamer().feed(
        b'{"b":[1,{"c":null}],"a":"\\u00e9\\ud83d\\ude00\\u0000\\u007f\\/"}'
    )
    assert (
        encode_value(value)
        == '{"a": "\\u00E9\\uD83D\\uDE00\\u0000\\u007F/", "b": [1, {"c": null}]}'
    )
