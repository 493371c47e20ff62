"""The two fast paths of QMP input give exactly what the full paths give.

* `QmpSession.feed` answers a request line it has seen before from a memo: random sessions of
  lines (remembered kinds, ids of every JSON type, arguments, negotiation, JSON errors, lines
  split across chunks, multi-line objects) fed in random chunks must produce the same actions,
  in the same order, and the same negotiation state as a session without the memo.
* Lines that differ from a line seen before only in the value of their `"id"` (a short plain
  integer or string) are answered from a template of that line: random sessions of such lines
  with ids inside and outside that lexical class give the same actions and reply bytes.
* `JsonStreamer` parses a whole message with the C `json` decoder only when that provably
  yields what QEMU's lexer and parser yield; messages from the safe subset and from just
  outside its boundary (long digit runs, duplicate keys, escapes QEMU reads differently,
  single quotes, non-ASCII bytes, `NaN`/`Infinity`, deep nesting) must give the same result
  whole as fed one byte at a time, which never takes the fast path.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_qmp_fragment import COMMANDS, SCHEMA

from qmpnuma.qmp.session import Execute, QmpSession, Run, Send
from qmpnuma.qobject.json_parser import JsonStreamer

LINES = [
    b'{"execute": "query-status"}\n',
    b'{"execute":"query-status"}\n',
    b'{"execute": "query-status", "id": 1}\n',
    b'{"execute": "query-status", "id": "a"}\n',
    b'{"execute": "query-status", "id": null}\n',
    b'{"execute": "query-status", "id": 1.5}\n',
    b'{"execute": "query-status", "id": true}\n',
    b'{"execute": "query-status", "id": [1]}\n',
    b'{"execute": "query-status", "id": {"k": 2}}\n',
    b'{"execute": "query-name"}\n',
    b'{"execute": "qmp_capabilities"}\n',
    b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n',
    b'{"execute": "qmp_capabilities", "arguments": {"enable": ["foo"]}}\n',
    b'{"exec-oob": "migrate-pause"}\n',
    b'{"exec-oob": "query-status", "id": 7}\n',
    b'{"execute": "no-such-command"}\n',
    b'{"execute": "query-status", "arguments": {}}\n',
    b'{"execute": "query-status", "arguments": {"x": 1}}\n',
    b'{"execute": "query-status", "execute": "query-name"}\n',
    b'{"execute": 1}\n',
    b'{"foo": 1}\n',
    b"[1, 2]\n",
    b"42\n",
    b"hello\n",
    b"{'execute': 'query-status'}\n",
    b'{"execute": "query-status"\n',
    b"}\n",
    b'{"execute":\n',
    b'"query-status"}\n',
    b"\n",
    b"  \r\n",
    b'{"execute": "query-st\xc3\xa4tus"}\n',
    b"\xff\n",
    b'"unterminated\n',
    b'{"execute": "query-status"}{"execute": "query-name"}\n',
]


def _session(memo: bool) -> QmpSession:
    return QmpSession(COMMANDS, SCHEMA, memo_size=8 if memo else 0)


def _normal(actions: list[Any]) -> list[str]:
    """Comparable text of actions (repr: a NaN id or float/int ids must not compare loosely)."""
    out = []
    for action in actions:
        assert isinstance(action, Send | Execute)
        out.append(repr(action) + repr(type(action.id)) if isinstance(action, Execute)
                   else repr(action))
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(LINES), max_size=40),
    st.lists(st.integers(1, 120), max_size=10),
)
def test_memo_gives_what_the_full_path_gives(lines: list[bytes], cuts: list[int]) -> None:
    data = b"".join(lines)
    chunks = []
    pos = 0
    for cut in cuts:
        chunks.append(data[pos : pos + cut])
        pos += cut
    chunks.append(data[pos:])
    chunks = [chunk for chunk in chunks if chunk]
    plain, memo, memo_whole = _session(False), _session(True), _session(True)
    expected: list[Any] = []
    got: list[Any] = []
    for chunk in chunks:
        expected += plain.feed(chunk)
        got += memo.feed(chunk)
    assert _normal(got) == _normal(expected)
    assert _normal(memo_whole.feed(data)) == _normal(expected)
    assert (memo.negotiated, memo.enabled_capabilities) == (
        plain.negotiated, plain.enabled_capabilities)


def test_memo_hands_out_fresh_arguments_and_follows_negotiation() -> None:
    session = _session(True)
    line = b'{"execute": "query-status"}\n'
    before = session.feed(line * 2)
    assert [type(a) for a in before] == [Send, Send]  # refused before negotiation, twice
    assert session.feed(b'{"execute": "qmp_capabilities"}\n')[0] == Send(b'{"return": {}}\r\n')
    first, second = session.feed(line * 2)
    assert isinstance(first, Execute) and isinstance(second, Execute)
    assert first == second == Execute("query-status", {})
    first.args["changed"] = True  # a handler changing its arguments changes nobody else's
    (third,) = session.feed(line)
    assert isinstance(third, Execute) and third.args == {}


def test_remembered_requests_share_arguments_nobody_can_change() -> None:
    """Every memo hit is the same object (the server reuses its reply), so its empty
    arguments must refuse every change a handler or hook could try."""
    session = _session(True)
    session.feed(b'{"execute": "qmp_capabilities"}\n')
    line = b'{"execute": "query-status", "id": 3}\n'
    session.feed(line)
    first, second = session.feed(line * 2)
    assert first is second and first == Execute("query-status", {}, 3, True)
    for change in (lambda a: a.__setitem__("x", 1), lambda a: a.update(x=1),
                   lambda a: a.setdefault("x", 1), lambda a: a.pop("x"), lambda a: a.clear(),
                   lambda a: a.popitem(), lambda a: a.__delitem__("x")):
        with pytest.raises(TypeError):
            change(first.args)
    assert first.args == {} and dict(first.args) == {}


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(LINES), st.integers(1, 50), st.sampled_from([b"", b"{", b"\n", b"}\n"]))
def test_a_burst_of_one_line_gives_what_the_full_path_gives(
    line: bytes, count: int, tail: bytes
) -> None:
    """A chunk that repeats one remembered line (a pipelining client) gives what the session
    without its memo gives, whatever follows the burst."""
    plain, memo = _session(False), _session(True)
    for session in (plain, memo):
        session.feed(b'{"execute": "qmp_capabilities"}\n')
    expected = plain.feed(line) + plain.feed(line * count + tail)
    got = memo.feed(line) + memo.feed(line * count + tail)
    assert _normal(got) == _normal(expected)


#: Request lines around an id, with and without a slot QEMU's lexer reads plainly (`_ID_SLOT`).
ID_FRAMES = [
    b'{"execute": "query-status", "id": %s}',
    b'{"execute":"query-status","id":%s}',
    b' {"id" : %s ,"execute": "query-name"}\r',
    b'{"execute": "qmp_capabilities", "id": %s}',
    b'{"execute": "qmp_capabilities", "arguments": {"enable": ["foo"]}, "id": %s}',
    b'{"execute": "query-status", "arguments": {"x": 1}, "id": %s}',
    b'{"execute": "query-status", "arguments": {}, "id": %s}',
    b'{"exec-oob": "query-status", "id": %s}',
    b'{"execute": "no-such-command", "id": %s}',
    b'{"execute": "query-status", "k": {"id": %s}}',
    b'{"execute": "query-status", "k": "\\"id\": %s}',
    b'{"execute": "query-status", "id": 1, "id": %s}',
    b'{"execute": "query-status", "id": %s, "id": 2}',
    b'{"execute": "query-status", "id": "qmpnuma-id-slot-probe", "k": {"id": %s}}',
    b'{"execute": "query-status", "id": %s} {"execute": "query-name", "id": %s}',
    b'[{"id": %s}]',
    b'{"execute": "query-status", "id": %s',
    b'{"execute": "object-del", "arguments": {"id": "m0"}, "id": %s}',
    b'{"execute": "object-del", "id": %s, "arguments": {"id": "m0"}}',
    b'{"execute": "object-del", "arguments": {"id": %s}, "id": "x"}',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": "info"}, "id": %s}',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": 5}, "id": %s}',
    b'{"execute": "query-cpu-model-expansion", "arguments": {"type": "static", "model": '
    b'{"name": "max"}}, "id": %s}',
]
ID_TEXTS = st.one_of(
    st.integers(-(10**19), 10**19).map(lambda n: str(n).encode()),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=70).map(
        lambda text: b'"' + text.encode() + b'"'),
    st.sampled_from([b"-0", b"007", b"1.5", b"1e3", b'"\\u00e4"', b'"\xc3\xa4"', b"'a'",
                     b'"\\/"', b'"a\\"b"', b"null", b"true", b"[1]", b'"\x7f"', b'"\x01"',
                     b"9" * 18, b"9" * 19, b"-" + b"9" * 18, b'"' + b"x" * 64 + b'"',
                     b'"' + b"x" * 65 + b'"', b'"qmpnuma-id-slot-probe"', b"7316059213"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ID_FRAMES), ID_TEXTS), max_size=30),
       st.booleans(), st.integers(1, 200))
def test_id_templates_give_what_the_full_path_gives(
    lines: list[tuple[bytes, bytes]], negotiate: bool, cut: int
) -> None:
    """Lines that differ only in their ids (as real clients send them) give, through the
    templates, the actions and reply bytes of the session without memo or templates."""
    data = b"".join(frame.replace(b"%s", text) + b"\n" for frame, text in lines)
    plain, memo = _session(False), _session(True)
    if negotiate:
        for session in (plain, memo):
            session.feed(b'{"execute": "qmp_capabilities"}\n')
    expected = plain.feed(data[:cut]) + plain.feed(data[cut:])
    got = memo.feed(data[:cut]) + memo.feed(data[cut:])
    assert _normal(got) == _normal(expected)
    value = b'[{"size": 1}]'
    for mine, theirs in zip(got, expected, strict=True):
        if isinstance(mine, Execute):
            assert memo.reply_encoded(mine, value) == plain.reply(theirs, [{"size": 1}])
            assert memo.reply_encoded(mine, value) == plain.reply_encoded(theirs, value)


#: Ids of one run: mostly plain slots (a run goes on), sometimes a form outside them (it
#: breaks the run: that line takes the full path, and a new run may start after it).
RUN_IDS = st.one_of(
    st.integers(-(10**18) + 1, 10**18 - 1).map(lambda n: str(n).encode()),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E,
                          blacklist_characters="\\\"'"), max_size=64).map(
        lambda text: b'"' + text.encode() + b'"'),
    ID_TEXTS,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ID_FRAMES), st.lists(RUN_IDS, min_size=1, max_size=60),
       st.sampled_from([b"", b'{"execute": "query-name"}\n', b'{"execute": "query-st']),
       st.integers(1, 4000), st.booleans())
def test_runs_give_what_the_full_path_gives(
    frame: bytes, ids: list[bytes], after: bytes, cut: int, same_line: bool
) -> None:
    """A chunk repeating one line shape with new ids (or one line itself) becomes runs
    (`feed_runs`); line by line they are the actions of the session without memo or
    templates, and answered at once (`reply_run`, `Run.sent`) the same bytes as one by one."""
    if same_line:
        ids = [ids[0]] * len(ids)
    lines = [frame.replace(b"%s", ident) + b"\n" for ident in ids]
    warm = lines[0] + frame.replace(b"%s", b"1") + b"\n"  # the shape, seen twice
    data = b"".join(lines) * 2 + after
    plain, memo = _session(False), _session(True)
    for session in (plain, memo):
        session.feed(b'{"execute": "qmp_capabilities"}\n' + warm)
    expected = plain.feed(data[:cut]) + plain.feed(data[cut:])
    given = memo.feed_runs(data[:cut]) + memo.feed_runs(data[cut:])
    got: list[Any] = []
    for action in given:
        got += action.actions() if isinstance(action, Run) else [action]
    assert _normal(got) == _normal(expected)
    value = b'[{"size": 1}]'
    done = 0
    for action in given:
        if not isinstance(action, Run):
            done += 1
            continue
        assert action.count >= 2
        theirs = expected[done : done + action.count]
        done += action.count
        if isinstance(action.first, Send):
            assert action.sent() == b"".join(one.data for one in theirs)  # type: ignore
        else:
            assert memo.reply_run(action, value) == b"".join(
                plain.reply_encoded(one, value) for one in theirs)


def test_a_long_burst_of_one_shape_is_a_few_runs() -> None:
    """1,000 lines of one shape with new ids give runs of many lines each, and 1,000 of one
    line likewise: the lines are not taken one at a time."""
    session = _session(True)
    session.feed(b'{"execute": "qmp_capabilities"}\n')
    frame = b'{"execute": "query-status", "id": %d}\n'
    session.feed(frame % 0 + frame % 1)
    given = session.feed_runs(b"".join(frame % n for n in range(2, 1002)))
    assert all(isinstance(action, Run) for action in given) and len(given) <= 4
    assert sum(action.count for action in given) == 1000  # type: ignore[union-attr]
    line = b'{"execute": "query-status"}\n'
    session.feed(line)
    given = session.feed_runs(line * 1000 + b'{"execute": "query-st')  # a line cut short
    assert all(isinstance(action, Run) for action in given) and len(given) <= 4
    assert sum(action.count for action in given) == 1000  # type: ignore[union-attr]


def test_id_templates_answer_new_ids_without_the_full_path() -> None:
    """After one line of a shape, further lines of it with other ids are template hits."""
    session = _session(True)
    session.feed(b'{"execute": "qmp_capabilities"}\n')
    session.feed(b'{"execute": "query-status", "id": "libvirt-1"}\n'
                 b'{"execute": "query-status", "id": "libvirt-0"}\n')  # a shape seen twice
    full = session._feed_full
    session._feed_full = lambda data: pytest.fail("took the full path")  # type: ignore
    got = session.feed(b'{"execute": "query-status", "id": "libvirt-2"}\n'
                       b'{"execute": "query-status", "id": 3}\n')
    session._feed_full = full  # type: ignore[method-assign]
    assert got == [Execute("query-status", {}, "libvirt-2", True),
                   Execute("query-status", {}, 3, True)]
    assert [action.id_text for action in got] == [b'"libvirt-2"', b"3"]  # type: ignore
    line = b'{"execute": "object-del", "arguments": {"id": "m0"}, "id": %d}\n'
    _, first, second = session.feed(line % 0 + line % 1 + line % 2)  # the third: a template
    assert isinstance(first, Execute) and isinstance(second, Execute)
    assert second == Execute("object-del", {"id": "m0"}, 2, True) and second.id_text == b"2"
    second.args["changed"] = True  # a handler changing its arguments changes nobody else's
    (third,) = session.feed(line % 3)
    assert isinstance(third, Execute) and third.args == {"id": "m0"}


def test_shapes_that_never_repeat_are_never_probed() -> None:
    """Requests whose arguments change every time (new objects) pay no probes; a shape is
    probed once, on its second line, and a refused one is not probed again."""
    session = _session(True)
    session.feed(b'{"execute": "qmp_capabilities"}\n')
    full = session._feed_full
    calls: list[bytes] = []

    def counted(data: bytes) -> list[Any]:
        calls.append(data)
        return full(data)

    session._feed_full = counted  # type: ignore[method-assign]
    session.feed(b"".join(b'{"execute": "object-del", "arguments": {"id": "o%d"}, "id": %d}\n'
                          % (n, n) for n in range(20)))
    assert len(calls) == 20
    calls.clear()
    nested = b'{"execute": "query-status", "k": {"id": %d}}\n'
    session.feed(b"".join(nested % n for n in range(5)))
    assert 5 < len(calls) <= 5 + 2  # the five lines, and the probes of the second
    calls.clear()
    session.feed(b"".join(nested % n for n in range(5, 10)))
    assert len(calls) == 5  # refused: never probed again


def test_memo_rereads_machine_readiness() -> None:
    ready = [False]
    session = QmpSession(COMMANDS, SCHEMA, machine_ready=lambda: ready[0])
    session.feed(b'{"execute": "qmp_capabilities"}\n')
    line = b'{"execute": "query-status"}\n'
    refused = session.feed(line)
    assert isinstance(refused[0], Send) and b"machine initialization" in refused[0].data
    ready[0] = True
    assert session.feed(line) == [Execute("query-status", {})]


def _json(value: object) -> str:
    return json.dumps(value)


SAFE_SCALARS = (st.none() | st.booleans() | st.integers(-(10**18), 10**18)
                | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E,
                                        blacklist_characters="\\\"'"), max_size=6))
BOUNDARY_TEXTS = st.sampled_from([
    "9" * 18, "9" * 19, "-" + "9" * 19, "9" * 25, "1e400", "-0", "0.1", "1E2", "01",
    '"\\u0000"', '"\\u00e4"', '"\\ud800"', '"\\/"', '"\\\'"', "'single'", '"\\x41"',
    "NaN", "Infinity", "-Infinity", "nan", '"\xe4"', '"\x7f"', '"\x01"', "[" * 199 + "]" * 199,
    "[" * 201 + "]" * 201, "true", "tru", '{"a": 1, "a": 2}', '{"a": 1, "b": 2}',
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["k", "execute", "id", "arguments", "k"]),
                          st.one_of(SAFE_SCALARS.map(_json),
                                    BOUNDARY_TEXTS)), max_size=5))
def test_decoder_fast_path_agrees_with_the_lexer(members: list[tuple[str, str]]) -> None:
    text = "{" + ", ".join(f'"{key}": {value}' for key, value in members) + "}\n"
    data = text.encode("utf-8", "surrogatepass")
    whole = JsonStreamer().feed(data)
    streamer = JsonStreamer()
    bytewise: list[object] = []
    for index in range(len(data)):
        bytewise += streamer.feed(data[index : index + 1])
    assert repr(whole) == repr(bytewise)



JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
    | st.text(max_size=8) | st.sampled_from(["default", "m0", "\x7f", "\u00e4", "\ud800", "a\"b"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_writer_shortcuts_give_the_general_path_bytes(value: object) -> None:
    """The writer's cached string literals and inlined scalar members give the same text as the
    uncached quoting and the explicit-stack walk (which takes none of the shortcuts for
    containers), with the cache cold and warm."""
    from qmpnuma.qobject import json_writer

    json_writer._quote_cache.clear()
    cold = json_writer.encode_value(value)
    warm = json_writer.encode_value(value)
    out: list[str] = []
    json_writer._write_iterative(value, out)
    assert cold == warm == "".join(out)


@given(st.text(max_size=70))
def test_cached_quote_is_the_uncached_quote(text: str) -> None:
    from qmpnuma.qobject import json_writer

    assert json_writer._quote(text) == json_writer._quote_uncached(text)
    assert json_writer._quote(text) == json_writer._quote_uncached(text)
