"""QEMU's view of text: modified UTF-8 decoding with its exact validity rules.

QEMU keeps strings as NUL-terminated modified UTF-8 (the NUL character is ``\\xC0\\x80``) and
judges code points with ``util/unicode.c``: surrogates, noncharacters, overlong forms and values
beyond U+10FFFF are invalid.  Two places need this on the wire:

* the JSON parser turning a string token into a value (``decode_qemu_string``), which rejects
  invalid sequences with QEMU's messages, and
* the JSON writer, which prints any invalid sequence in a C string as U+FFFD and stops at a NUL
  byte; ``decode_qemu_bytes`` gives the text the writer would print for raw bytes, e.g. the
  stray bytes quoted in a lexer error.

In Python the NUL character ``"\\x00"`` stands for ``\\xC0\\x80``.
"""

from __future__ import annotations

import functools
import re
from typing import Final

from qmpnuma.records import record

__all__ = ["StringError", "decode_qemu_bytes", "decode_qemu_string", "is_valid_codepoint"]


# The noncharacter patterns are compiled on the first non-ASCII text (ASCII, what clients
# nearly always send, never needs them; compiling both is ~0.4 ms of a cold start).
@functools.cache
def _noncharacters() -> re.Pattern[str]:
    return re.compile(
        "[\ufdd0-\ufdef"
        + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))
        + "]"
    )


@functools.cache
def _noncharacter_bytes() -> re.Pattern[bytes]:
    """The same noncharacters as UTF-8 byte patterns (searching bytes is much faster)."""
    return re.compile(
        rb"\xef\xb7[\x90-\xaf]|\xef\xbf[\xbe\xbf]|[\xf0-\xf4][\x8f\x9f\xaf\xbf]\xbf[\xbe\xbf]"
    )


_MIN_CODEPOINT: Final = (0x80, 0x800, 0x10000, 0x200000, 0x4000000)
_REPLACEMENT: Final = "\ufffd"


@record(frozen=True, slots=True)
class StringError:
    """Why a string token was refused; ``message`` follows ``JSON parse error, ``."""

    message: str


def is_valid_codepoint(cp: int) -> bool:
    """QEMU's is_valid_codepoint: Unicode scalar value and not a noncharacter."""
    if cp < 0 or cp > 0x10FFFF:
        return False
    if 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE:
        return False
    return not 0xD800 <= cp <= 0xDFFF


def _codepoint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """QEMU's mod_utf8_codepoint at ``pos`` (bytes at or after ``end`` read as NUL).

    Returns the code point (-1 if invalid) and the position after the bytes it consumed.
    """
    byte = data[pos]
    pos += 1
    if byte < 0x80:
        return byte, pos
    if byte >= 0xFE or not byte & 0x40:
        return -1, pos
    length = 0
    mask = 0x80
    while byte & mask:
        length += 1
        mask >>= 1
    cp = byte & (mask - 1)
    for _ in range(1, length):
        nxt = data[pos] if pos < end else 0
        if nxt & 0xC0 != 0x80:
            return -1, pos
        pos += 1
        cp = cp << 6 | (nxt & 0x3F)
    overlong = cp < _MIN_CODEPOINT[length - 2] and not (cp == 0 and length == 2)
    if overlong or not is_valid_codepoint(cp):
        return -1, pos
    return cp, pos


def decode_qemu_bytes(data: bytes) -> str:
    """The text QEMU's writer prints for the C string ``data`` (cut at NUL, bad bytes → U+FFFD)."""
    nul = data.find(0)
    if nul >= 0:
        data = data[:nul]
    if data.isascii():
        return data.decode("ascii")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if _noncharacters().search(text) is None:
            return text
    out: list[str] = []
    pos = 0
    end = len(data)
    while pos < end:
        cp, pos = _codepoint(data, pos, end)
        out.append(_REPLACEMENT if cp < 0 else chr(cp))
    return "".join(out)


def _hex4(token: bytes, pos: int) -> int:
    """QEMU's cvt4hex: four hex digits at ``pos`` or -1."""
    digits = token[pos : pos + 4]
    if len(digits) != 4:
        return -1
    value = 0
    for ch in digits:
        if 0x30 <= ch <= 0x39:
            value = value << 4 | (ch - 0x30)
        elif 0x61 <= ch <= 0x66:
            value = value << 4 | (ch - 0x57)
        elif 0x41 <= ch <= 0x46:
            value = value << 4 | (ch - 0x37)
        else:
            return -1
    return value


_SIMPLE_ESCAPES: Final = {
    ord('"'): '"',
    ord("'"): "'",
    ord("\\"): "\\",
    ord("/"): "/",
    ord("b"): "\b",
    ord("f"): "\f",
    ord("n"): "\n",
    ord("r"): "\r",
    ord("t"): "\t",
}
_INVALID_UTF8: Final = StringError("invalid UTF-8 sequence in string")


def _plain(body: bytes) -> str | StringError:
    """Decode an escape-free string body (no raw control bytes: the lexer refuses them)."""
    if body.isascii():
        return body.decode("ascii")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        if b"\xc0\x80" not in body:
            return _INVALID_UTF8
        try:
            text = body.replace(b"\xc0\x80", b"\x00").decode("utf-8")
        except UnicodeDecodeError:
            return _INVALID_UTF8
    if _noncharacter_bytes().search(body) is not None:
        return _INVALID_UTF8
    return text


def decode_qemu_string(token: bytes) -> str | StringError:
    """The value of a lexed string token (quotes included), or QEMU's reason to refuse it."""
    quote = token[0]
    end = len(token) - 1
    if b"\\" not in token:
        return _plain(token[1:end])
    out: list[str] = []
    pos = 1
    while pos < end and token[pos] != quote:
        ch = token[pos]
        if ch != 0x5C:
            cp, pos = _codepoint(token, pos, end)
            if cp < 0:
                return _INVALID_UTF8
            out.append(chr(cp))
            continue
        begin = pos
        escape = token[pos + 1]
        pos += 2
        simple = _SIMPLE_ESCAPES.get(escape)
        if simple is not None:
            out.append(simple)
            continue
        if escape != 0x75:  # 'u'
            return StringError("invalid escape sequence in string")
        cp = _hex4(token, pos)
        pos += 4
        if 0xD800 <= cp <= 0xDBFF and token[pos : pos + 2] == b"\\u":
            cp = 0x10000 + ((cp & 0x3FF) << 10)
            trailing = _hex4(token, pos + 2)
            if 0xDC00 <= trailing <= 0xDFFF:
                cp |= trailing & 0x3FF
                pos += 6
            else:
                cp = -1
        if not is_valid_codepoint(cp):
            shown = decode_qemu_bytes(token[begin:pos])
            return StringError(f"{shown} is not a valid Unicode character")
        out.append(chr(cp))
    return "".join(out)
