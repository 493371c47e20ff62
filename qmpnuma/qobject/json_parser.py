"""QEMU 7.2's JSON input path for QMP: lexer, message streamer and parser, without I/O.

QEMU does not read QMP input as "one JSON document per line".  A byte-level lexer cuts the
stream into tokens; a streamer collects tokens until braces and brackets balance and then
hands them to a recursive-descent parser; any lexical error is reported at once and the lexer
skips ahead to a resynchronisation point.  Clients see the consequences (how many error replies
a bad byte produces, when a message is dispatched, which text an error carries), so this module
reproduces those rules byte for byte:

* lexer states and transitions as in ``qobject/json-lexer.c`` (single-quoted strings, the
  ``\\'`` escape, recovery after an error up to a structural or control character),
* the streamer limits of ``qobject/json-streamer.c`` (token size, token count, nesting) with
  their messages, resetting after each error,
* the parser's first-error-wins messages from ``qobject/json-parser.c``, its number typing
  (int64, then uint64, then double) and its modified-UTF-8 view of strings.

Strings are returned as Python ``str``; the NUL character stands for QEMU's ``\\xC0\\x80``.
The lexer has a regular-expression fast path for complete tokens and falls back to a table
driven byte-at-a-time automaton only at buffer edges and on errors, so the common case is quick
and hostile input can neither raise nor grow memory past QEMU's own limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, TypeAlias

from qmpnuma.qobject.c_json import load_error_class, value_scanner
from qmpnuma.qobject.qemu_text import decode_qemu_bytes, decode_qemu_string
from qmpnuma.records import record

__all__ = [
    "MAX_NESTING",
    "MAX_TOKEN_COUNT",
    "MAX_TOKEN_SIZE",
    "JsonError",
    "JsonStreamer",
    "JsonValue",
    "parse_tokens",
]

JsonValue: TypeAlias = Any
"""A parsed value: dict (input member order), list, str, int, float, bool or None."""

MAX_TOKEN_SIZE: Final = 64 << 20
MAX_TOKEN_COUNT: Final = 2 << 20
MAX_NESTING: Final = 1 << 10
#: QEMU formats parser messages into a 1024-byte buffer, so they are cut at 1023 bytes.
_PARSE_MESSAGE_MAX: Final = 1023


@record(frozen=True, slots=True)
class JsonError:
    """A JSON-level error, to be answered with a GenericError carrying ``text`` and no id."""

    text: str


# --- lexer states and token types (values are ours; only their roles follow QEMU) ------------
_ERROR: Final = 0
_RECOVERY: Final = 1
_DQ_ESCAPE: Final = 2
_DQ: Final = 3
_SQ_ESCAPE: Final = 4
_SQ: Final = 5
_ZERO: Final = 6
_EXP_DIGITS: Final = 7
_EXP_SIGN: Final = 8
_EXP_E: Final = 9
_MANTISSA: Final = 10
_MANTISSA_DIGITS: Final = 11
_DIGITS: Final = 12
_SIGN: Final = 13
_KEYWORD: Final = 14
_START: Final = 15
_STATE_COUNT: Final = 16

T_LCURLY: Final = 100
T_RCURLY: Final = 101
T_LSQUARE: Final = 102
T_RSQUARE: Final = 103
T_COLON: Final = 104
T_COMMA: Final = 105
T_INTEGER: Final = 106
T_FLOAT: Final = 107
T_KEYWORD: Final = 108
T_STRING: Final = 109

_LOOKAHEAD: Final = 0x80
_STRUCTURAL: Final = {
    ord("{"): T_LCURLY,
    ord("}"): T_RCURLY,
    ord("["): T_LSQUARE,
    ord("]"): T_RSQUARE,
    ord(":"): T_COLON,
    ord(","): T_COMMA,
}


def _build_table() -> tuple[tuple[int, ...], ...]:
    """The transition table: per state, per byte, the next state or token (+ lookahead bit)."""
    table = [[_ERROR] * 256 for _ in range(_STATE_COUNT)]

    def fill(state: int, chars: range | str, target: int) -> None:
        for ch in chars:
            table[state][ch if isinstance(ch, int) else ord(ch)] = target

    def terminal(state: int, token: int) -> None:
        fill(state, range(256), token | _LOOKAHEAD)

    restart = _START | _LOOKAHEAD
    fill(_RECOVERY, range(0x00, 0x20), restart)
    fill(_RECOVERY, range(0x20, 0xFE), _RECOVERY)
    fill(_RECOVERY, range(0xFE, 0x100), restart)
    fill(_RECOVERY, "\t", _RECOVERY)
    fill(_RECOVERY, "[]{}:,", restart)

    for escape, body, quote in ((_DQ_ESCAPE, _DQ, '"'), (_SQ_ESCAPE, _SQ, "'")):
        fill(escape, range(0x20, 0xFE), body)
        fill(body, range(0x20, 0xFE), body)
        fill(body, "\\", escape)
        fill(body, quote, T_STRING)

    terminal(_ZERO, T_INTEGER)
    fill(_ZERO, "0123456789", _ERROR)
    fill(_ZERO, ".", _MANTISSA)

    terminal(_EXP_DIGITS, T_FLOAT)
    fill(_EXP_DIGITS, "0123456789", _EXP_DIGITS)
    fill(_EXP_SIGN, "0123456789", _EXP_DIGITS)
    fill(_EXP_E, "-+", _EXP_SIGN)
    fill(_EXP_E, "0123456789", _EXP_DIGITS)

    terminal(_MANTISSA_DIGITS, T_FLOAT)
    fill(_MANTISSA_DIGITS, "0123456789", _MANTISSA_DIGITS)
    fill(_MANTISSA_DIGITS, "eE", _EXP_E)
    fill(_MANTISSA, "0123456789", _MANTISSA_DIGITS)

    terminal(_DIGITS, T_INTEGER)
    fill(_DIGITS, "0123456789", _DIGITS)
    fill(_DIGITS, "eE", _EXP_E)
    fill(_DIGITS, ".", _MANTISSA)

    fill(_SIGN, "0", _ZERO)
    fill(_SIGN, "123456789", _DIGITS)

    terminal(_KEYWORD, T_KEYWORD)
    fill(_KEYWORD, "abcdefghijklmnopqrstuvwxyz", _KEYWORD)

    fill(_START, '"', _DQ)
    fill(_START, "'", _SQ)
    fill(_START, "0", _ZERO)
    fill(_START, "123456789", _DIGITS)
    fill(_START, "-", _SIGN)
    for ch, token in _STRUCTURAL.items():
        table[_START][ch] = token
    fill(_START, "abcdefghijklmnopqrstuvwxyz", _KEYWORD)
    fill(_START, " \t\r\n", _START)
    return tuple(tuple(row) for row in table)


#: `_build_table()`, made by `_table` when the byte automaton first runs: a well-formed request
#: never needs it (the whole-message and token paths below), and building it is most of what
#: importing this module would cost a cold start (issue 12).
_TABLE: tuple[tuple[int, ...], ...] | None = None


def _table() -> tuple[tuple[int, ...], ...]:
    global _TABLE
    if _TABLE is None:
        _TABLE = _build_table()
    return _TABLE


def _self_loop_patterns() -> tuple[re.Pattern[bytes] | None, ...]:
    """Per state, a regex for a run of bytes that leave the state unchanged (bulk consumption)."""
    patterns: list[re.Pattern[bytes] | None] = []
    table = _table()
    for state in range(_STATE_COUNT):
        loop = [b for b in range(256) if table[state][b] == state]
        if not loop:
            patterns.append(None)
            continue
        cls = b"".join(re.escape(bytes([b])) for b in loop)
        patterns.append(re.compile(b"[" + cls + b"]+"))
    return tuple(patterns)


#: `_self_loop_patterns()`, compiled on the first chunk that needs the byte automaton (sixteen
#: regexes are a few milliseconds of start-up that well-formed requests never use).
_self_loops: tuple[re.Pattern[bytes] | None, ...] | None = None


def _loops() -> tuple[re.Pattern[bytes] | None, ...]:
    global _self_loops
    if _self_loops is None:
        _self_loops = _self_loop_patterns()
    return _self_loops

def _fast_token() -> re.Pattern[bytes]:
    """`_FAST_TOKEN`, compiled when a message first needs the token path (the whole-message
    path and whitespace between messages do not; compiling it is half a millisecond)."""
    global _FAST_TOKEN
    if _FAST_TOKEN is None:
        _FAST_TOKEN = re.compile(_FAST_TOKEN_PATTERN)
    return _FAST_TOKEN


# A complete token at the lexer's start state, preceded by optional whitespace.  Number and
# keyword tokens end by lookahead, so they are only taken when the next byte is present and
# certainly terminates them; anything unusual goes through the byte automaton instead.
_FAST_TOKEN_PATTERN: Final = (
    rb"[ \t\r\n]*(?:"
    rb"([\[\]{}:,])"
    rb'|("[\x20\x21\x23-\x5b\x5d-\xfd]*(?:\\[\x20-\xfd][\x20\x21\x23-\x5b\x5d-\xfd]*)*")'
    rb"|('[\x20-\x26\x28-\x5b\x5d-\xfd]*(?:\\[\x20-\xfd][\x20-\x26\x28-\x5b\x5d-\xfd]*)*')"
    rb"|(-?(?:0|[1-9][0-9]*))(?=[^0-9.eE])"
    rb"|(-?(?:(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+]?[0-9]+)?|[1-9][0-9]*[eE][-+]?[0-9]+))"
    rb"(?=[^0-9.eE])"
    rb"|([a-z]+)(?=[^a-z])"
    rb")?"
)
_FAST_TOKEN: re.Pattern[bytes] | None = None
_FAST_TYPES: Final = (0, -1, T_STRING, T_STRING, T_INTEGER, T_FLOAT, T_KEYWORD)

# Whole-message fast path.  An object made only of printable ASCII without backslashes or
# single quotes means the same to Python's C JSON decoder as to QEMU, with three exceptions
# we refuse to take this path for: NaN/Infinity (QEMU: lexical error), duplicate keys (QEMU:
# parse error) and integers beyond 64 bits (QEMU: doubles).  Anything refused or incomplete
# simply goes through the token path, which is the reference.
_MESSAGE_START: Final = re.compile(rb"[ \t\r\n]*\{")
_BLANKS: Final = re.compile(rb"[ \t\r\n]+")
_SAFE_SPAN: Final = re.compile(rb"[\t\n\r\x20-\x26\x28-\x5b\x5d-\x7e]*")
_LONG_DIGITS: Final = re.compile(rb"[0-9]{19}")
_FIRST_WINDOW: Final = 512
_SAFE_WINDOW: Final = 1 << 16
_SAFE_NESTING: Final = 200


class _Decline(Exception):
    """The fast path cannot vouch for this message; use the token path."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _Decline
    return members


def _constant(name: str) -> Any:
    raise _Decline


#: The C decoder's scanner (``json.JSONDecoder(...).scan_once``) with the two refusals above.
_scan_value: Final = value_scanner(_pairs, _constant)

Token = tuple[int, bytes]


class _ParseFailure(Exception):
    """Internal: the parser's first error (QEMU keeps only the first one)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _fail(message: str) -> _ParseFailure:
    return _ParseFailure("JSON parse error, " + message[:_PARSE_MESSAGE_MAX])


_INT64_MIN: Final = -(1 << 63)
_UINT64_MAX: Final = (1 << 64) - 1


def _integer(text: bytes) -> int | float:
    """A JSON integer: int64 or uint64 when it fits, otherwise the nearest double."""
    value = int(text)
    if _INT64_MIN <= value <= _UINT64_MAX:
        return value
    return float(text)


def _scalar(token: Token) -> JsonValue:
    kind, text = token
    if kind == T_STRING:
        result = decode_qemu_string(text)
        if isinstance(result, str):
            return result
        raise _fail(result.message)
    if kind == T_INTEGER:
        return _integer(text)
    if kind == T_FLOAT:
        return float(text)
    if text == b"true":
        return True
    if text == b"false":
        return False
    if text == b"null":
        return None
    raise _fail("invalid keyword '" + decode_qemu_bytes(text) + "'")


_LIST: Final = 0
_DICT_KEY: Final = 1
_DICT_VALUE: Final = 2


def parse_tokens(tokens: list[Token]) -> JsonValue:
    """Parse one streamer message as QEMU's parser does; raise ``_ParseFailure`` on error.

    The parser is iterative (QEMU allows 1024 levels, deeper than Python's default recursion)
    but visits tokens and reports errors in the order of QEMU's recursive descent.
    """
    count = len(tokens)
    pos = 0
    # Frames: [kind, container, pending key]
    stack: list[list[Any]] = []
    while True:
        # -- parse a value starting at pos
        if pos >= count:
            raise _fail("premature EOI")
        kind = tokens[pos][0]
        value: JsonValue
        if kind in (T_LCURLY, T_LSQUARE):
            pos += 1
            if pos >= count:
                raise _fail("premature EOI")
            closer = T_RCURLY if kind == T_LCURLY else T_RSQUARE
            if tokens[pos][0] == closer:
                pos += 1
                value = {} if kind == T_LCURLY else []
            else:
                if kind == T_LCURLY:
                    stack.append([_DICT_KEY, {}, None])
                else:
                    stack.append([_LIST, [], None])
                continue
        elif kind >= T_INTEGER:
            value = _scalar(tokens[pos])
            pos += 1
        else:
            raise _fail("expecting value")
        # -- hand the finished value to the enclosing containers
        while True:
            if not stack:
                return value
            frame = stack[-1]
            if frame[0] == _LIST:
                frame[1].append(value)
                if pos >= count:
                    raise _fail("premature EOI")
                kind = tokens[pos][0]
                pos += 1
                if kind == T_RSQUARE:
                    value = stack.pop()[1]
                    continue
                if kind != T_COMMA:
                    raise _fail("expected separator in list")
                break
            if frame[0] == _DICT_KEY:
                if not isinstance(value, str):
                    raise _fail("key is not a string in object")
                if pos >= count:
                    raise _fail("premature EOI")
                kind = tokens[pos][0]
                pos += 1
                if kind != T_COLON:
                    raise _fail("missing : in object pair")
                frame[0] = _DICT_VALUE
                frame[2] = value
                break
            members = frame[1]
            key = frame[2]
            if key in members:
                raise _fail("duplicate key")
            members[key] = value
            if pos >= count:
                raise _fail("premature EOI")
            kind = tokens[pos][0]
            pos += 1
            if kind == T_RCURLY:
                value = stack.pop()[1]
                continue
            if kind != T_COMMA:
                raise _fail("expected separator in dict")
            frame[0] = _DICT_KEY
            break


class JsonStreamer:
    """Bytes in, parsed QMP messages (or JSON errors) out, exactly as QEMU 7.2 splits them.

    ``feed`` never raises; each call returns what became complete with the new bytes.  State
    (a partial token, queued tokens of an unbalanced message) carries over between calls, so
    input split at any point gives the same results as the whole input at once.
    """

    __slots__ = ("_brace", "_bracket", "_out", "_state", "_token", "_token_size", "_tokens")

    def __init__(self) -> None:
        self._state = _START
        self._token = bytearray()
        self._tokens: list[Token] = []
        self._token_size = 0
        self._brace = 0
        self._bracket = 0
        self._out: list[JsonValue | JsonError] = []

    # -- streamer -------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """True between messages: no partial token, no queued tokens, not recovering.

        From an idle streamer, ``feed(data)`` is a pure function of ``data``.
        """
        return self._state == _START and not self._tokens and not self._token

    def _reset(self) -> None:
        self._brace = 0
        self._bracket = 0
        self._tokens = []
        self._token_size = 0

    def _error(self, text: str) -> None:
        self._reset()
        self._out.append(JsonError(text))

    def _token_in(self, kind: int, text: bytes) -> None:
        """QEMU's json_message_process_token for one complete token."""
        if kind == T_LCURLY:
            self._brace += 1
        elif kind == T_RCURLY:
            self._brace -= 1
        elif kind == T_LSQUARE:
            self._bracket += 1
        elif kind == T_RSQUARE:
            self._bracket -= 1
        size = len(text)
        if self._token_size + size + 1 > MAX_TOKEN_SIZE:
            self._error("JSON token size limit exceeded")
            return
        if len(self._tokens) + 1 > MAX_TOKEN_COUNT:
            self._error("JSON token count limit exceeded")
            return
        if self._bracket + self._brace > MAX_NESTING:
            self._error("JSON nesting depth limit exceeded")
            return
        self._tokens.append((kind, text))
        self._token_size += size
        brace = self._brace
        bracket = self._bracket
        if (brace > 0 or bracket > 0) and brace >= 0 and bracket >= 0:
            return
        tokens = self._tokens
        self._reset()
        try:
            self._out.append(parse_tokens(tokens))
        except _ParseFailure as failure:
            self._out.append(JsonError(failure.message))

    # -- lexer ----------------------------------------------------------------------------
    def _overflow(self) -> None:
        """A token outgrew MAX_TOKEN_SIZE: QEMU flushes it (and the streamer refuses it)."""
        self._token.clear()
        self._state = _START
        self._error("JSON token size limit exceeded")

    def _byte(self, ch: int) -> None:
        """QEMU's json_lexer_feed_char for one byte."""
        token = self._token
        state = self._state
        table = _TABLE or _table()
        while True:
            target = table[state][ch]
            consumed = not target & _LOOKAHEAD
            if consumed:
                token.append(ch)
            state = self._transition(target & ~_LOOKAHEAD)
            if consumed:
                break
        self._state = state
        if len(token) > MAX_TOKEN_SIZE:
            self._overflow()

    def _transition(self, target: int) -> int:
        """Act on a table entry (emit a token or an error); return the lexer's next state."""
        token = self._token
        if target >= T_LCURLY:
            self._token_in(target, bytes(token))
            token.clear()
            return _START
        if target == _START:
            token.clear()
        elif target == _ERROR:
            self._error("JSON parse error, stray '" + decode_qemu_bytes(bytes(token)) + "'")
            token.clear()
            return _RECOVERY
        elif target == _RECOVERY:
            token.clear()
        return target

    def flush(self) -> list[JsonValue | JsonError]:
        """End of input (QEMU's json_message_parser_flush): finish or refuse what is pending.

        A QMP connection never flushes (QEMU drops the state when the client goes away);
        parsing a complete JSON text, such as ``-object '{...}'``, does.
        """
        out = self._out = []
        state = self._state
        while state != _START:
            self._state = state = self._transition(_table()[state][0] & ~_LOOKAHEAD)
        if self._tokens:
            tokens = self._tokens
            self._reset()
            try:
                out.append(parse_tokens(tokens))
            except _ParseFailure as failure:
                out.append(JsonError(failure.message))
        self._out = []
        return out

    def _whole_message(self, data: bytes, start: int) -> int:
        """Try the decoder fast path on the object at ``start``; return its end offset or 0."""
        size = len(data)
        window = _FIRST_WINDOW
        while True:
            limit = min(size, start + window)
            try:
                value, length = _scan_value(data[start:limit].decode("latin-1"), 0)
                break
            except (_Decline, RecursionError):
                return 0
            except SystemError:
                if load_error_class():  # the scanner could not say "malformed": scan again
                    continue
                raise
            except (ValueError, StopIteration):  # malformed, or cut off by the window
                if limit >= size or window >= _SAFE_WINDOW:
                    return 0
                window *= 4
        end = start + length
        if _SAFE_SPAN.match(data, start, end).end() != end:  # type: ignore[union-attr]
            return 0
        if _LONG_DIGITS.search(data, start, end) is not None:
            return 0
        if data.count(b"{", start, end) + data.count(b"[", start, end) > _SAFE_NESTING:
            return 0
        self._out.append(value)
        return end

    def feed(self, data: bytes) -> list[JsonValue | JsonError]:
        """Consume ``data``; return the messages and errors completed by it, in order."""
        if type(data) is not bytes:
            data = bytes(data)  # bytearray / memoryview from a transport
        out = self._out = []
        size = len(data)
        pos = 0
        fast: Callable[[bytes, int], re.Match[bytes] | None] | None = None
        starts = _MESSAGE_START.match
        token = self._token
        while pos < size:
            state = self._state
            if state == _START:
                if not self._tokens:
                    opening = starts(data, pos)
                    if opening is not None:
                        consumed = self._whole_message(data, opening.end() - 1)
                        if consumed:
                            pos = consumed
                            continue
                    else:
                        blanks = _BLANKS.match(data, pos)
                        if blanks is not None:  # between messages, as the token path skips
                            pos = blanks.end()
                            continue
                if fast is None:
                    fast = (_FAST_TOKEN or _fast_token()).match
                match = fast(data, pos)
                if match is not None:
                    group = match.lastindex
                    if group is None:
                        if match.end() > pos:
                            pos = match.end()
                            continue
                    else:
                        start, end = match.span(group)
                        if end - start <= MAX_TOKEN_SIZE:
                            if group == 1:
                                self._token_in(_STRUCTURAL[data[start]], data[start:end])
                            else:
                                self._token_in(_FAST_TYPES[group], data[start:end])
                            pos = end
                            continue
            loop = (_self_loops or _loops())[state]
            if loop is not None:
                match = loop.match(data, pos)
                if match is not None:
                    end = match.end()
                    if state == _RECOVERY:
                        pos = end
                        continue
                    if state == _START:
                        pos = end
                        continue
                    room = MAX_TOKEN_SIZE + 1 - len(token)
                    if end - pos > room:
                        end = pos + room
                    token += data[pos:end]
                    pos = end
                    if len(token) > MAX_TOKEN_SIZE:
                        self._overflow()
                    continue
            self._byte(data[pos])
            pos += 1
        self._out = []
        return out
