"""QEMU's JSON output, byte for byte: separators, escaping, number format and QDict order.

Clients compare QMP replies as text (and some test suites compare them byte for byte), so
the writer reproduces ``qobject/json-writer.c`` with ``pretty=false``:

* ``", "`` between members and elements, ``": "`` after keys, ``\\r\\n`` after each message;
* ASCII-only strings: ``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, every other code point below
  0x20 or from 0x7F upwards as upper-case ``\\uXXXX`` (surrogate pairs beyond the BMP), and
  anything QEMU's UTF-8 reader finds invalid (lone surrogates, noncharacters) as ``\\uFFFD``;
* integers in decimal, doubles as C's ``%.17g``;
* object members in QDict iteration order: 512 buckets by ``tdb_hash(key) % 512``, and within
  a bucket the most recently inserted member first.  A Python dict's own order is taken as the
  insertion order.  The resulting order is cached per key tuple because replies repeat shapes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from qmpnuma.qobject.c_json import encode_basestring_ascii
from qmpnuma.qobject.hashing import qdict_order
from qmpnuma.qobject.qemu_text import is_valid_codepoint

__all__ = ["encode", "encode_event", "encode_reply", "encode_value", "reply_frame"]

_RECURSION_SWITCH: Final = 200
_LAYOUT_CACHE_LIMIT: Final = 8192
_layout_cache: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}


def _escape_slow(text: str) -> str:
    out = ['"']
    for ch in text:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0x20 <= cp < 0x7F:
            out.append(ch)
        elif cp == 0:
            out.append("\\u0000")
        elif not is_valid_codepoint(cp):
            out.append("\\uFFFD")
        elif cp > 0xFFFF:
            cp -= 0x10000
            out.append(f"\\u{0xD800 + (cp >> 10):04X}\\u{0xDC00 + (cp & 0x3FF):04X}")
        else:
            out.append(f"\\u{cp:04X}")
    out.append('"')
    return "".join(out)


_QUOTE_CACHE_LIMIT: Final = 4096
_QUOTE_CACHE_MAX_LENGTH: Final = 64
_quote_cache: dict[str, str] = {}


def _quote(text: str) -> str:
    """A JSON string literal as QEMU writes it (short plain strings from a cache: replies
    repeat the same ids, paths and enum values)."""
    cached = _quote_cache.get(text)
    if cached is not None and type(text) is str:
        return cached
    quoted = _quote_uncached(text)
    if type(text) is str and len(text) <= _QUOTE_CACHE_MAX_LENGTH:
        if len(_quote_cache) >= _QUOTE_CACHE_LIMIT:
            _quote_cache.clear()
        _quote_cache[text] = quoted
    return quoted


def _quote_uncached(text: str) -> str:
    if text.isascii():
        quoted: str = encode_basestring_ascii(text)
        if "\\u" not in quoted and "\x7f" not in text:
            return quoted
    return _escape_slow(text)


def _number(value: float) -> str:
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return format(value, ".17g")


def _layout(keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Per key tuple: the keys in QDict order, each with the text written before its value."""
    cached = _layout_cache.get(keys)
    if cached is None:
        ordered = qdict_order(keys)
        cached = tuple(
            (key, ("{" if index == 0 else ", ") + _quote(key) + ": ")
            for index, key in enumerate(ordered)
        )
        if len(_layout_cache) >= _LAYOUT_CACHE_LIMIT:
            _layout_cache.clear()
        _layout_cache[keys] = cached
    return cached


def _write(value: Any, out: list[str], depth: int) -> None:
    kind = type(value)
    if kind is str:
        out.append(_quote(value))
    elif kind is dict:
        if not value:
            out.append("{}")
        elif depth > _RECURSION_SWITCH:
            _write_iterative(value, out)
        else:
            depth += 1
            for key, prefix in _layout(tuple(value)):
                out.append(prefix)
                # the common scalar members inline (the same texts as `_write` gives them)
                item = value[key]
                item_kind = type(item)
                if item_kind is str:
                    out.append(_quote(item))
                elif item_kind is int:
                    out.append(str(item))
                elif item_kind is bool:
                    out.append("true" if item else "false")
                else:
                    _write(item, out, depth)
            out.append("}")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(str(value))
    elif kind is list:
        if not value:
            out.append("[]")
        elif depth > _RECURSION_SWITCH:
            _write_iterative(value, out)
        else:
            depth += 1
            out.append("[")
            first = True
            for item in value:
                if first:
                    first = False
                else:
                    out.append(", ")
                _write(item, out, depth)
            out.append("]")
    else:
        _write_other(value, out, depth)


def _write_other(value: Any, out: list[str], depth: int) -> None:
    """Subclasses and other mappings/sequences, by their abstract kind."""
    if isinstance(value, str):
        out.append(_quote(str(value)))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        _write(dict(value), out, depth)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        _write(list(value), out, depth)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as QMP JSON")


def _write_iterative(root: Any, out: list[str]) -> None:
    """The same output as ``_write`` with an explicit stack, for very deep values."""
    pending: list[Any] = [root]
    marker = object()
    while pending:
        item = pending.pop()
        if isinstance(item, tuple) and len(item) == 2 and item[0] is marker:
            out.append(item[1])
            continue
        if isinstance(item, Mapping) and item:
            keys = qdict_order(item)
            pending.append((marker, "}"))
            for index in range(len(keys) - 1, -1, -1):
                key = keys[index]
                pending.append(item[key])
                prefix = "{" if index == 0 else ", "
                pending.append((marker, prefix + _quote(key) + ": "))
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes | bytearray) and item:
            pending.append((marker, "]"))
            for index in range(len(item) - 1, -1, -1):
                pending.append(item[index])
                pending.append((marker, "[" if index == 0 else ", "))
        else:
            _write(item, out, 0)


def encode_value(value: Any) -> str:
    """The JSON text of ``value`` (no line terminator)."""
    out: list[str] = []
    _write(value, out, 0)
    return "".join(out)


def encode(value: Any) -> bytes:
    """One QMP message: ``value`` as QEMU prints it, ``\\r\\n`` terminated."""
    out: list[str] = []
    _write(value, out, 0)
    out.append("\r\n")
    return "".join(out).encode("ascii")


def encode_reply(value: bytes, has_id: bool, ident: Any) -> bytes:
    """``encode({"return": v})`` (with ``"id"`` when ``has_id``) for a ``v`` whose JSON text
    ``value`` is already known: the same bytes, since a compact value's text does not depend on
    where it stands."""
    if not has_id:
        return b'{"return": ' + value + b"}\r\n"
    out: list[str] = []
    for key, prefix in _layout(("return", "id")):
        out.append(prefix)
        if key == "id":
            _write(ident, out, 1)
        else:
            out.append(value.decode("ascii"))
    out.append("}\r\n")
    return "".join(out).encode("ascii")


def reply_frame(value: bytes) -> tuple[bytes, bytes]:
    """The bytes of ``encode_reply(value, True, ident)`` before and after the id's text: the
    members in QDict order around a value whose text is already known."""
    before: list[str] = []
    after: list[str] = []
    out = before
    for key, prefix in _layout(("return", "id")):
        out.append(prefix)
        if key == "id":
            out = after
        else:
            out.append(value.decode("ascii"))
    out.append("}\r\n")
    return "".join(before).encode("ascii"), "".join(after).encode("ascii")


def encode_event(
    name: str, data: Mapping[str, Any] | None, seconds: int, microseconds: int
) -> bytes:
    """An event message; ``data`` None leaves the ``data`` member out (events without data)."""
    message: dict[str, Any] = {
        "event": name,
        "timestamp": {"seconds": seconds, "microseconds": microseconds},
    }
    if data is not None:
        message["data"] = data
    return encode(message)


_INDENT = "    "


def prettify(message: bytes) -> bytes:
    """A compact message (as `encode` writes it) in the layout of a pretty monitor.

    `-qmp-pretty` and `-mon ...,pretty=on` make QEMU's JSON writer break after every opening
    bracket and member, indent four spaces a level, and keep `{}`/`[]` open on two lines; the
    monitor turns each newline into CRLF. The member order and value texts stay exactly those
    of the compact form, so this only re-lays the bytes (strings are copied untouched).
    """
    text = message.decode("ascii").rstrip("\r\n")
    out: list[str] = []
    depth = 0
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == '"':
            end = index + 1
            while text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[index : end + 1])
            index = end + 1
            continue
        if char in "{[":
            depth += 1
            out.append(char + "\n" + _INDENT * depth)
        elif char in "}]":
            depth -= 1
            if out and out[-1].endswith("\n" + _INDENT * (depth + 1)) and out[-1][:1] in "{[":
                out[-1] = out[-1][:1] + "\n" + _INDENT * depth
            else:
                out.append("\n" + _INDENT * depth)
            out.append(char)
        elif char == "," and text.startswith(", ", index):
            out.append(",\n" + _INDENT * depth)
            index += 2
            continue
        else:
            out.append(char)
        index += 1
    return ("".join(out) + "\n").replace("\n", "\r\n").encode("ascii")
