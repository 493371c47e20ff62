"""Fuzzing the protocol core: arbitrary bytes at arbitrary split points, near-valid requests,
and streams that push the token and nesting limits. Nothing may raise, hang or grow unbounded.

The large-stream cases carry the `load` marker and stay bounded for CI;
`QMPNUMA_LOAD_SCALE=full` runs them at full size (a 1 GiB stream).
"""

from __future__ import annotations

import json
import os
import resource
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.errors import QmpError
from qmpnuma.machine import Machine
from qmpnuma.profiles import wire_types
from qmpnuma.qmp.session import Execute, QmpSession, Send
from qmpnuma.qobject.json_parser import JsonError, JsonStreamer

FULL = os.environ.get("QMPNUMA_LOAD_SCALE") == "full"
FUZZ = settings(
    max_examples=2000 if FULL else 100, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ARGS = [
    "-M", "pc", "-m", "2G,slots=2,maxmem=4G", "-smp", "2,maxcpus=4",
    "-object", "memory-backend-ram,id=m0,size=1G", "-object", "memory-backend-ram,id=m1,size=1G",
    "-numa", "node,nodeid=0,memdev=m0", "-numa", "node,nodeid=1,memdev=m1",
]
#: The profiles whose protocol core is fuzzed (each with its own schema and machine).
PROFILES = ("7.2", "10.0")
COMMANDS = sorted({name for profile in PROFILES for name in wire_types(profile).COMMANDS})

#: Byte material that keeps the lexer busy: JSON punctuation, quotes, escapes, bad UTF-8.
PIECES = [b"{", b"}", b"[", b"]", b'"', b"'", b":", b",", b"\\", b"\\u00", b"\xff", b"\xc3",
          b"\x01", b" ", b"\n", b"1", b"-", b"e", b"true", b"null", b'"execute"', b'"id"',
          b'"arguments"', b'"qmp_capabilities"', b'"query-status"', b"\\'"]
stream_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(st.sampled_from(PIECES), max_size=120).map(b"".join),
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


def _feed_all(streamer: JsonStreamer, pieces: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for piece in pieces:
        out.extend(streamer.feed(piece))
    return out


@FUZZ
@given(stream_bytes, st.lists(st.integers(min_value=0, max_value=1000), max_size=12))
def test_split_points_do_not_matter(data: bytes, cuts: list[int]) -> None:
    whole = JsonStreamer().feed(data)
    pieces = _feed_all(JsonStreamer(), _split(data, cuts))
    assert pieces == whole


def _check_replies(sends: list[bytes]) -> list[dict[str, Any]]:
    replies = []
    for data in sends:
        assert data.endswith(b"\r\n") and data.count(b"\r\n") == 1
        data.decode("ascii")  # the writer escapes everything else
        message = json.loads(data)
        assert set(message) <= {"return", "error", "id"}
        assert ("return" in message) != ("error" in message)
        if "error" in message:
            assert set(message["error"]) == {"class", "desc"}
        replies.append(message)
    return replies


class _Harness:
    """A session and a registry run together the way the server runs them, without sockets."""

    def __init__(self, negotiated: bool, profile: str) -> None:
        self.machine = Machine.from_argv(ARGS, profile=profile)
        types = wire_types(profile)
        self.session = QmpSession(types.COMMANDS, types.SCHEMA, profile=profile)
        self.registry = CommandRegistry(self.machine)
        if negotiated:
            self.run(b'{"execute": "qmp_capabilities"}')

    def run(self, data: bytes) -> list[bytes]:
        out = []
        for action in self.session.feed(data):
            if isinstance(action, Send):
                out.append(action.data)
                continue
            assert isinstance(action, Execute)
            try:
                value = self.registry.execute(action.name, action.args)
            except QmpError as err:
                out.append(self.session.reply_error(action, err))
            else:
                out.append(self.session.reply(action, value))
        return out


@pytest.mark.parametrize("profile", PROFILES)
@FUZZ
@given(stream_bytes, st.lists(st.integers(min_value=0, max_value=1000), max_size=8),
       st.booleans())
def test_arbitrary_bytes_never_raise(
    profile: str, data: bytes, cuts: list[int], negotiated: bool
) -> None:
    harness = _Harness(negotiated, profile)
    sends = []
    for piece in _split(data, cuts):
        sends.extend(harness.run(piece))
    _check_replies(sends)


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ARG_NAMES = ["id", "qom-type", "size", "path", "property", "value", "driver", "memdev",
             "node", "command-line", "enable", "typename", "host-nodes", "policy", "share",
             "nodeid", "socket-id", "core-id", "thread-id", "type", "model", "name"]
arguments = st.dictionaries(
    st.one_of(st.sampled_from(ARG_NAMES), st.text(max_size=6)), json_values, max_size=5
)
requests = st.fixed_dictionaries(
    {"execute": st.one_of(st.sampled_from(COMMANDS), st.text(max_size=10), json_scalars)},
    optional={
        "arguments": st.one_of(arguments, json_values),
        "id": json_values,
        "exec-oob": st.sampled_from(COMMANDS),
        "extra": json_values,
    },
)


@pytest.mark.parametrize("profile", PROFILES)
@FUZZ
@given(st.lists(st.one_of(requests, json_values), min_size=1, max_size=6))
def test_near_valid_requests_get_one_reply_each(profile: str, messages: list[Any]) -> None:
    harness = _Harness(negotiated=True, profile=profile)
    # a newline ends a bare keyword or number, as QEMU's lexer needs a delimiter after them
    data = b"".join(json.dumps(message).encode() + b"\n" for message in messages)
    replies = _check_replies(harness.run(data))
    # one reply per top-level value (a bare string or number is one value too)
    assert len(replies) == len(messages)
    for message, reply in zip(messages, replies, strict=True):
        parse_error = "JSON parse error" in str(reply.get("error", {}).get("desc", ""))
        if isinstance(message, dict) and "id" in message and not parse_error:
            # (a message the parser refused, e.g. for a noncharacter, is answered without id)
            assert reply.get("id") == message["id"] or reply.get("id") != reply.get("id")
        else:
            assert "id" not in reply


@pytest.mark.parametrize("profile", PROFILES)
@FUZZ
@given(st.lists(requests, min_size=1, max_size=4))
def test_requests_before_negotiation_are_refused(profile: str, messages: list[Any]) -> None:
    harness = _Harness(negotiated=False, profile=profile)
    data = b"".join(
        json.dumps(m).encode() for m in messages if m.get("execute") != "qmp_capabilities"
    )
    replies = _check_replies(harness.run(data))
    assert all("error" in reply for reply in replies)


# -- limits under large streams ---------------------------------------------------------------

def _peak_while(feed: Any) -> tuple[list[Any], int]:
    """Run ``feed`` and return its results and how far it raised the process's peak RSS
    (bytes; ru_maxrss only grows, so this bounds what the feed itself needed)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = feed()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return results, (after - before) * 1024


@pytest.mark.load
def test_token_size_limit_under_a_large_stream() -> None:
    """A string that never ends: one size error per 64 MiB, memory bounded by the limit."""
    total_mib = 1024 if FULL else 70
    chunk = b"a" * (1 << 20)

    def feed() -> list[Any]:
        streamer = JsonStreamer()
        out = list(streamer.feed(b'"'))
        for _ in range(total_mib):
            out.extend(streamer.feed(chunk))
        # 0xff is the recovery byte QEMU's spec recommends after a lexical error
        out.extend(streamer.feed(b'"\xff{"execute": "qmp_capabilities"}'))
        return out

    results, peak = _peak_while(feed)
    errors = [r for r in results if isinstance(r, JsonError)]
    assert errors and {e.text for e in errors} >= {"JSON token size limit exceeded"}
    # one error each time the token passes 64 MiB (a bit more than 64 MiB apart)
    size_errors = len([e for e in errors if "size limit" in e.text])
    assert max(1, total_mib // 64 - 1) <= size_errors <= total_mib // 64
    # bounded by the token limit, not by the stream: 1 GiB raised the peak by ~257 MiB
    assert peak < 320 << 20
    assert results[-1] == {"execute": "qmp_capabilities"}


@pytest.mark.load
def test_nesting_limit_under_a_large_stream() -> None:
    """Openers only: a nesting error per 1025 brackets, then the stream recovers."""
    size = (64 << 20) if FULL else (256 << 10)

    def feed() -> list[Any]:
        streamer = JsonStreamer()
        out: list[Any] = []
        for start in range(0, size, 1 << 16):
            out.extend(streamer.feed(b"[" * min(1 << 16, size - start)))
        out.extend(streamer.feed(b"\xff{}"))
        return out

    results, peak = _peak_while(feed)
    nesting = [r for r in results if isinstance(r, JsonError) and "nesting" in r.text]
    assert len(nesting) == size // 1025
    assert results[-1] == {}
    assert peak < 64 << 20


@pytest.mark.load
def test_token_count_limit() -> None:
    """Two million small tokens in one value: one count error, then the stream recovers."""
    data = b"[" + b"1," * (1 << 20) + b"1]"

    def feed() -> list[Any]:
        streamer = JsonStreamer()
        return [*streamer.feed(data), *streamer.feed(b"\xff{}")]

    results, peak = _peak_while(feed)
    assert JsonError("JSON token count limit exceeded") in results
    assert results[-1] == {}
    assert peak < 768 << 20
