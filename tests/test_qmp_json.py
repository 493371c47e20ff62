"""QEMU 7.2's JSON input path: lexer recovery, streamer limits, parser messages, value typing.

Expected texts and counts come from runs of the real qemu-system-x86_64 7.2.22 (spec §1.3 and
§6.1, plus the extra vectors checked in tests/test_qmp_session.py's differential test).
"""

from __future__ import annotations

import math

from fresh_interpreter import probe_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from qmpnuma.qobject.json_parser import (
    MAX_NESTING,
    MAX_TOKEN_COUNT,
    MAX_TOKEN_SIZE,
    JsonError,
    JsonStreamer,
)


def feed(data: bytes) -> list[object]:
    return JsonStreamer().feed(data)


def errors(data: bytes) -> list[str]:
    out = []
    for item in feed(data):
        assert isinstance(item, JsonError), item
        out.append(item.text)
    return out


def test_values_are_dispatched_as_soon_as_balanced() -> None:
    streamer = JsonStreamer()
    assert streamer.feed(b'{"execute":"query-status"') == []
    assert streamer.feed(b"\n") == []
    assert streamer.feed(b"}") == [{"execute": "query-status"}]
    assert streamer.feed(b'{"a":1}{"b":2}  \n\t') == [{"a": 1}, {"b": 2}]


def test_member_order_is_input_order() -> None:
    (value,) = feed(b'{"z":1,"a":2,"m":{"y":1,"b":2}}')
    assert isinstance(value, dict)
    assert list(value) == ["z", "a", "m"]
    assert list(value["m"]) == ["y", "b"]


def test_scalars_need_a_terminating_byte() -> None:
    streamer = JsonStreamer()
    assert streamer.feed(b"12") == []
    assert streamer.feed(b"3 ") == [123]
    assert streamer.feed(b"tru") == []
    assert streamer.feed(b"e,") == [True, JsonError("JSON parse error, expecting value")]


def test_spec_lexical_error_vectors() -> None:
    assert errors(b"hello\n") == ["JSON parse error, invalid keyword 'hello'"]
    assert errors(b'{"execute":"query-st\\qatus"}\n') == [
        "JSON parse error, invalid escape sequence in string"
    ]
    assert errors(b'{"execute":"\xff\xfe"}\n') == [
        "JSON parse error, stray '\"\ufffd'",
        "JSON parse error, stray '\ufffd'",
        "JSON parse error, expecting value",
    ]
    assert errors(b'{"execute":"query-status","id":"a\x01b"}\n') == [
        "JSON parse error, stray '\"a\x01'",
        "JSON parse error, expecting value",
    ]
    assert errors(b"}\n") == ["JSON parse error, expecting value"]
    assert errors(b"]\n") == ["JSON parse error, expecting value"]


def test_trailing_garbage_and_leading_number() -> None:
    out = feed(b'{"execute":"query-status","id":3} xyz\n')
    assert out == [
        {"execute": "query-status", "id": 3},
        JsonError("JSON parse error, invalid keyword 'xyz'"),
    ]
    assert feed(b'1 {"execute":"x","id":"after"}\n') == [1, {"execute": "x", "id": "after"}]


def test_recovery_skips_to_structural_or_control_bytes() -> None:
    # after "1." the space is swallowed into the error, then recovery skips "- 01" up to \n
    assert errors(b"1. - 01\n") == ["JSON parse error, stray '1. '"]
    assert errors(b"- \n01\n") == ["JSON parse error, stray '- '", "JSON parse error, stray '01'"]
    # a NUL byte inside a string: the message is cut at the NUL (C string)
    assert errors(b'"a\x00b"\n')[0] == "JSON parse error, stray '\"a'"
    # recovery stops at '{' and the object is parsed normally
    assert feed(b"%xyz{}") == [JsonError("JSON parse error, stray '%'"), {}]


def test_parser_messages() -> None:
    assert errors(b'{"a" 1}') == ["JSON parse error, missing : in object pair"]
    assert errors(b"[1,]") == ["JSON parse error, expecting value"]
    assert errors(b"{,}") == ["JSON parse error, expecting value"]
    assert errors(b"[1 2]") == ["JSON parse error, expected separator in list"]
    assert errors(b'{"a":1 "b":2}') == ["JSON parse error, expected separator in dict"]
    assert errors(b"{1:2}") == ["JSON parse error, key is not a string in object"]
    assert errors(b'{"a":1,"a":2}') == ["JSON parse error, duplicate key"]
    assert errors(b'{"a":}') == ["JSON parse error, expecting value"]
    assert errors(b"[{]}") == ["JSON parse error, expecting value"]
    assert errors(b'"\\x"') == ["JSON parse error, invalid escape sequence in string"]


def test_keyword_message_is_cut_like_qemus_buffer() -> None:
    (text,) = errors(b"x" * 3000 + b"\n")
    assert text == "JSON parse error, " + ("invalid keyword '" + "x" * 3000)[:1023]


def test_numbers_follow_qemus_typing() -> None:
    (value,) = feed(
        b"[1e400,-0,0.1,1.0,-1e400,1e-400,18446744073709551615,18446744073709551616,"
        b"-9223372036854775808,-9223372036854775809,-0.0,1E2]"
    )
    assert isinstance(value, list)
    assert value[0] == math.inf and value[4] == -math.inf
    assert value[1] == 0 and type(value[1]) is int
    assert type(value[3]) is float and type(value[11]) is float
    assert value[6] == 2**64 - 1 and type(value[6]) is int
    assert value[7] == 2.0**64 and type(value[7]) is float
    assert value[8] == -(2**63) and type(value[8]) is int
    assert type(value[9]) is float
    assert math.copysign(1.0, value[10]) == -1.0


def test_zero_then_exponent_is_two_tokens() -> None:
    assert feed(b"0e5\n") == [0, JsonError("JSON parse error, invalid keyword 'e'"), 5]
    assert feed(b"null1\n") == [None, 1]


def test_strings() -> None:
    (value,) = feed(b'["\\u00e9\\ud83d\\ude00", "\\u0000", "\xc0\x80", \'it\\\'s "q"\', "\\/\\b"]')
    assert value == ["\u00e9\U0001f600", "\x00", "\x00", 'it\'s "q"', "/\b"]
    assert errors(b'"\\ud800"') == ["JSON parse error, \\ud800 is not a valid Unicode character"]
    assert errors(b'"\\ud800\\u0041"') == [
        "JSON parse error, \\ud800 is not a valid Unicode character"
    ]
    assert errors(b'"\\uffff"') == ["JSON parse error, \\uffff is not a valid Unicode character"]
    assert errors(b'"\\u12"') == ['JSON parse error, \\u12" is not a valid Unicode character']
    for bad in (b'"\x80"', b'"\xc3"', b'"\xed\xa0\x80"', b'"\xef\xbf\xbf"', b'"\xf4\x90\x80\x80"'):
        assert errors(bad) == ["JSON parse error, invalid UTF-8 sequence in string"], bad


def test_nesting_limit_matches_qemu_counts() -> None:
    out = feed(b'{"execute":"query-status","id":' + b"[" * 1100 + b"]" * 1100 + b"}\n")
    assert out[0] == JsonError("JSON nesting depth limit exceeded")
    assert isinstance(out[1], list)  # the 76 innermost levels parse, QMP then refuses them
    assert out[2:] == [JsonError("JSON parse error, expecting value")] * 1025
    assert len(out) == 1027
    deepest = b"[" * (MAX_NESTING - 1)
    (ok,) = feed(b"{" + b'"id":' + deepest + b"]" * (MAX_NESTING - 1) + b"}")
    assert isinstance(ok, dict)


def test_token_count_limit() -> None:
    out = feed(b"[" + b"1," * (MAX_TOKEN_COUNT // 2) + b"1]\n")
    assert out == [
        JsonError("JSON token count limit exceeded"),
        1,
        JsonError("JSON parse error, expecting value"),
    ]


def test_token_size_limit_restarts_lexing_inside_the_token() -> None:
    data = b'"' + b"a" * (MAX_TOKEN_SIZE + 10) + b'bc true"\n'
    streamer = JsonStreamer()
    out: list[object] = []
    for start in range(0, len(data), 1 << 22):
        out += streamer.feed(data[start : start + (1 << 22)])
    assert out == [
        JsonError("JSON token size limit exceeded"),
        JsonError("JSON parse error, invalid keyword 'aaaaaaaaaabc'"),
        True,
        JsonError("JSON parse error, stray '\"\n'"),
    ]


def test_token_size_limit_counts_the_whole_message() -> None:
    just_fits = b'"' + b"a" * (MAX_TOKEN_SIZE - 3) + b'"\n'
    assert feed(just_fits) == ["a" * (MAX_TOKEN_SIZE - 3)]
    too_big = b'"' + b"a" * (MAX_TOKEN_SIZE - 2) + b'"\n'
    assert feed(too_big) == [JsonError("JSON token size limit exceeded")]


SAMPLES = [
    b'{"execute":"query-status","id":"a\x01b"}\n',
    b'{"execute":"\xff\xfe"}\n1 {"a":[1,2.5e3,-0,"x\\u00e9"]}',
    b"{'execute':'q','id':'it\\'s'} xyz\n[[[]]]]}",
    b'{"a":{"b":[true,false,null]},"c":"\xc3\xa9\xc0\x80"}{"a":1,"a":2}',
    b"0e5 1.5. 01 - nullx\n%",
]


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.sampled_from(SAMPLES),
        st.lists(st.sampled_from(SAMPLES), max_size=4).map(b"".join),
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_any_split_gives_the_same_output(data: bytes, cuts: list[int]) -> None:
    whole = JsonStreamer().feed(data)
    streamer = JsonStreamer()
    pieces: list[object] = []
    last = 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        pieces += streamer.feed(data[last:cut])
        last = cut
    assert pieces == whole


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4),
        max_leaves=12,
    )
)
def test_fast_path_agrees_with_byte_at_a_time_lexing(value: object) -> None:
    import json

    data = json.dumps({"v": value}, ensure_ascii=False).encode("utf-8", "surrogatepass")
    whole = JsonStreamer().feed(data)
    streamer = JsonStreamer()
    bytewise: list[object] = []
    for index in range(len(data)):
        bytewise += streamer.feed(data[index : index + 1])
    assert repr(whole) == repr(bytewise)


def test_flush_ends_pending_tokens_like_qemus_end_of_input() -> None:
    cases = {
        b"12": [12],
        b'{"a":1': [JsonError("JSON parse error, premature EOI")],
        b'"abc': [JsonError("JSON parse error, stray '\"abc'")],
        b"tru": [JsonError("JSON parse error, invalid keyword 'tru'")],
        b"[1,": [JsonError("JSON parse error, premature EOI")],
        b"": [],
    }
    for data, expected in cases.items():
        streamer = JsonStreamer()
        assert streamer.feed(data) == []
        assert streamer.flush() == expected, data
        assert streamer.feed(b"{}") == [{}]


def test_bytearray_and_memoryview_input() -> None:
    assert JsonStreamer().feed(memoryview(b'{"a":"\\u00e9"} [1] 2 ')) == [{"a": "\u00e9"}, [1], 2]
    assert JsonStreamer().feed(bytearray(b'"x\\n" ')) == ["x\n"]


def test_well_formed_requests_never_build_the_byte_automaton() -> None:
    """The lexer's transition table and token pattern are made on first need (issue 12: cold
    start): a fresh interpreter that only reads well-formed requests and the blanks between
    them never makes them, and the first malformed byte makes both and is answered as QEMU's
    lexer answers it."""
    probe = (
        "from qmpnuma.qobject import json_parser as p\n"
        "s = p.JsonStreamer()\n"
        "got = s.feed(b'{\"execute\": \"qmp_capabilities\"}\\r\\n \\t{\"execute\": \"x\", "
        "\"id\": 1}\\n')\n"
        "print(len(got), p._TABLE is None, p._FAST_TOKEN is None)\n"
        "got = s.feed(b'\\x01{\"a\": 1}')\n"
        "print([getattr(x, 'text', x) for x in got], p._TABLE is None, p._FAST_TOKEN is None)\n"
    )
    assert probe_lines(probe) == [
        "2 True True",
        "[\"JSON parse error, stray '\\x01'\", {'a': 1}] False False",
    ]


_SCANNER_CASES = [
    '{"execute": "query-memdev", "id": [1, 2.5, -3e2, true, false, null]}',
    '{"a": {"b": ["c", "\\u00e9\\n"]}}',
    '{"a": 1, "a": 2}',  # duplicate key: the pairs hook refuses
    '{"a": NaN}',  # a constant: the constant hook refuses
    '{"a": ',  # cut short
    '{"a" 1}',  # malformed
    '',  # no value at all
    '   {}',  # no value at the index (the scanner skips nothing)
    '"\x01"',  # a control character in a string (strict)
]


class _Refused(Exception):
    pass


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise _Refused
    return dict(pairs)


def _constant(name: str) -> object:
    raise _Refused(name)


def _outcome(scan: object, text: str) -> tuple[str, object]:
    try:
        return "value", scan(text, 0)  # type: ignore[operator]
    except StopIteration as stop:
        return "StopIteration", stop.value
    except ValueError as error:
        return type(error).__name__, str(error)
    except _Refused as refused:
        return "refused", refused.args


def test_value_scanner_is_the_json_decoders_scanner() -> None:
    """`c_json.value_scanner` (the C scanner taken from `_json`) answers every case as the
    `json` package's decoder with the same hooks does: values, the hooks' refusals, and the
    exceptions the fast path must take as "not for me": `StopIteration` where no value starts
    (also where a member's value is cut short) and `ValueError` where one is malformed."""
    import json

    from qmpnuma.qobject.c_json import value_scanner

    ours = value_scanner(_pairs, _constant)
    theirs = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant).scan_once
    outcomes = [_outcome(ours, text) for text in _SCANNER_CASES]
    assert outcomes == [_outcome(theirs, text) for text in _SCANNER_CASES]
    assert [kind for kind, _ in outcomes] == [
        "value", "value", "refused", "refused", "StopIteration", "JSONDecodeError",
        "StopIteration", "StopIteration", "JSONDecodeError"]


def test_serving_well_formed_requests_never_imports_the_json_package() -> None:
    """The fast path and the writer take Python's C JSON functions from `_json` (issue 12:
    cold start): a fresh interpreter that reads well-formed requests and writes a reply with
    escapes never imports `json`; a message the C scanner finds cut short still parses, and
    the first malformed one (which needs the scanner's error class) is read as QEMU reads it."""
    probe = (
        "import sys\n"
        "from qmpnuma.qobject import json_parser as p, json_writer as w\n"
        "s = p.JsonStreamer()\n"
        "got = s.feed(b'{\"execute\": \"query-memdev\", \"id\": [1, 2.5]}\\n{\"a\": ')\n"
        "got += s.feed(b'\"x\"}')\n"
        "reply = w.encode({'return': [{'id': 'm\\u00e9\\n'}]})\n"
        "print(got, reply, 'json' in sys.modules)\n"
        "got = s.feed(b'{\"execute\":\"query-status\"\\n') + s.feed(b'}\\n{\"a\" 1}')\n"
        "print([getattr(x, 'text', x) for x in got], 'json.decoder' in sys.modules)\n"
    )
    assert probe_lines(probe) == [
        "[{'execute': 'query-memdev', 'id': [1, 2.5]}, {'a': 'x'}] "
        "b'{\"return\": [{\"id\": \"m\\\\u00E9\\\\n\"}]}\\r\\n' False",
        "[{'execute': 'query-status'}, 'JSON parse error, missing : in object pair'] True"]
