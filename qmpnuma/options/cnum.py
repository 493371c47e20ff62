"""C library number scanning as glibc does it, for the QEMU parsers built on top of it.

QEMU's number and size parsers call ``strtoull``/``strtoll``/``strtod`` and then look at where
the scan stopped, so to reproduce their decisions we need the scans themselves: which prefix is
consumed, what value results, and when ``ERANGE`` is reported. Every function returns
``(value, end, error)`` where ``end`` is the index in ``text`` where scanning stopped (0 when
nothing was converted) and ``error`` is ``None`` or ``"ERANGE"``.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import Literal

UINT64_MAX = (1 << 64) - 1
INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)

_C_SPACE = " \t\n\v\f\r"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

ScanError = Literal["ERANGE"] | None


def _skip_space(text: str, pos: int) -> int:
    """Index of the first character at or after ``pos`` that C's isspace() rejects."""
    while pos < len(text) and text[pos] in _C_SPACE:
        pos += 1
    return pos


def _scan_magnitude(text: str, base: int) -> tuple[int, int, bool, int]:
    """Scan sign, base prefix and digits; return (magnitude, end, negative, used base)."""
    pos = _skip_space(text, 0)
    negative = False
    if pos < len(text) and text[pos] in "+-":
        negative = text[pos] == "-"
        pos += 1
    if base in (0, 16) and text[pos : pos + 2].lower() == "0x":
        # "0x" only counts as a prefix when a hex digit follows; otherwise the "0" alone is
        # the number and scanning stops at the "x".
        if pos + 2 < len(text) and text[pos + 2].lower() in _DIGITS[:16]:
            pos += 2
            base = 16
        else:
            return 0, pos + 1, negative, 16
    elif base == 0:
        base = 8 if text[pos : pos + 1] == "0" else 10
    start = pos
    value = 0
    allowed = _DIGITS[:base]
    while pos < len(text) and text[pos].lower() in allowed:
        value = value * base + allowed.index(text[pos].lower())
        pos += 1
    if pos == start:
        return 0, 0, False, base
    return value, pos, negative, base


def strtoull(text: str, base: int = 10) -> tuple[int, int, ScanError]:
    """glibc ``strtoull``: a leading ``-`` negates modulo 2**64; overflow gives ERANGE."""
    magnitude, end, negative, _ = _scan_magnitude(text, base)
    if end == 0:
        return 0, 0, None
    if magnitude > UINT64_MAX:
        return UINT64_MAX, end, "ERANGE"
    value = (-magnitude) & UINT64_MAX if negative else magnitude
    return value, end, None


def strtoll(text: str, base: int = 10) -> tuple[int, int, ScanError]:
    """glibc ``strtoll``: saturates at the int64 limits with ERANGE."""
    magnitude, end, negative, _ = _scan_magnitude(text, base)
    if end == 0:
        return 0, 0, None
    value = -magnitude if negative else magnitude
    if value > INT64_MAX:
        return INT64_MAX, end, "ERANGE"
    if value < INT64_MIN:
        return INT64_MIN, end, "ERANGE"
    return value, end, None


@cache
def _float_forms() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The literals ``strtod`` reads: hex, decimal, inf/nan (compiled when first needed: most
    command lines have no fraction to read)."""
    return (
        re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?"),
        re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"),
        re.compile(r"[+-]?(?:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)", re.IGNORECASE),
    )


def strtod(text: str) -> tuple[float, int, ScanError]:
    """glibc ``strtod`` on the C locale: decimal and hex floats, ``inf`` and ``nan``."""
    pos = _skip_space(text, 0)
    hex_float, dec_float, special_float = _float_forms()
    for pattern in (hex_float, dec_float, special_float):
        match = pattern.match(text, pos)
        if match is None:
            continue
        literal = match.group(0)
        if pattern is hex_float:
            try:
                value = float.fromhex(literal)
            except OverflowError:
                inf = -math.inf if literal.startswith("-") else math.inf
                return inf, match.end(), "ERANGE"
        elif pattern is special_float:
            value = float(literal.split("(")[0])
        else:
            value = float(literal)
        if math.isinf(value) and pattern is not special_float:
            return value, match.end(), "ERANGE"
        if value == 0.0 and pattern is dec_float and _has_nonzero_digit(literal):
            return value, match.end(), "ERANGE"
        return value, match.end(), None
    return 0.0, 0, None


def _has_nonzero_digit(literal: str) -> bool:
    """True when a decimal literal's mantissa is not zero (so a 0.0 result is an underflow)."""
    mantissa = re.split("[eE]", literal)[0]
    return re.search("[1-9]", mantissa) is not None
