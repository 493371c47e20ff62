"""The slice of QEMU 7.2 option syntax the machine model needs to read its own options.

The options room (``qmpnuma.options``) owns QEMU's syntax in general.  The machine model still has
to turn ``-m``/``-numa``/``-object``/``-device``/``-machine`` text into values with QEMU's exact
error texts, and it has to do so with the same quirks QEMU has (QemuOpts splitting, OptsVisitor
number and list rules, ``qemu_strtosz``).  Those few helpers live here, apart from every rule of
the model, so that they can be swapped for the options room's functions without touching rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from qmpnuma.errors import OptionError

SIZE_HINT = (
    "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-",
    "and exabytes, respectively.",
)

_SUFFIX_SHIFT = {"b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}

UINT64_MAX = (1 << 64) - 1


class SizeSyntaxError(ValueError):
    """A size string ``qemu_strtosz`` rejects (EINVAL)."""


class SizeRangeError(ValueError):
    """A size string ``qemu_strtosz`` rejects as too large (ERANGE)."""


@dataclass(frozen=True)
class ParsedSize:
    """A size and whether QEMU would warn about a multiplier suffix on a hex number."""

    value: int
    hex_with_suffix: bool = False


def _strtou64_prefix(text: str, base: int) -> tuple[int, int]:
    """Mimic strtoull: return (value, characters consumed); 0 consumed means no digits."""
    i = 0
    while i < len(text) and text[i] in " \t\n\r\f\v":
        i += 1
    negative = False
    if i < len(text) and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    digits_start = i
    if base == 16 and text[i : i + 2].lower() == "0x":
        i += 2
        digits_start = i
    value = 0
    while i < len(text):
        ch = text[i].lower()
        if ch.isdigit() and int(ch) < base:
            digit = int(ch)
        elif base == 16 and ch in "abcdef":
            digit = ord(ch) - ord("a") + 10
        else:
            break
        value = value * base + digit
        i += 1
    if i == digits_start:
        return 0, 0
    if value > UINT64_MAX:
        raise SizeRangeError(text)
    if negative:
        value = (-value) & UINT64_MAX
    return value, i


def parse_size(text: str, default_suffix: str = "B") -> ParsedSize:
    """Parse a size the way QEMU 7.2's ``qemu_strtosz`` does (decimal, fraction, hex, suffixes)."""
    value, used = _strtou64_prefix(text, 10)
    if used == 0:
        raise SizeSyntaxError(text)
    if "-" in text[:used]:
        raise SizeSyntaxError(text)
    rest = text[used:]
    fraction = 0.0
    hex_form = False
    if value == 0 and rest[:1] in ("x", "X"):
        value, used = _strtou64_prefix(text, 16)
        if used == 0:
            raise SizeSyntaxError(text)
        rest = text[used:]
        if rest[:1] == ".":
            raise SizeSyntaxError(text)
        hex_form = True
    elif rest[:1] == ".":
        j = 1
        while j < len(rest) and rest[j].isdigit():
            j += 1
        if j < len(rest) and rest[j] in "eE":
            raise SizeSyntaxError(text)
        digits = rest[1:j]
        fraction = float("0." + digits) if digits else 0.0
        rest = rest[j:]
    suffix = rest[:1].lower()
    if suffix and suffix in _SUFFIX_SHIFT:
        shift = _SUFFIX_SHIFT[suffix]
        rest = rest[1:]
        explicit_suffix = True
    else:
        shift = _SUFFIX_SHIFT[default_suffix.lower()]
        explicit_suffix = False
    if rest:
        raise SizeSyntaxError(text)
    if shift == 0:
        if fraction:
            raise SizeSyntaxError(text)
        return ParsedSize(value)
    fixed = int(fraction * 2.0**64)
    scaled = (value << shift) + ((fixed << shift) >> 64)
    if (fixed << shift) & ((1 << 64) - 1) >= (1 << 63):
        scaled += 1
    if scaled > UINT64_MAX:
        raise SizeRangeError(text)
    return ParsedSize(scaled, hex_with_suffix=hex_form and explicit_suffix)


def parse_uint(text: str) -> int:
    """QEMU's ``parse_uint`` with base 0: decimal, ``0x`` hex, leading-zero octal; no sign."""
    stripped = text.lstrip(" \t\n\r\f\v")
    if not stripped or stripped[0] == "-":
        raise ValueError(text)
    body = stripped[1:] if stripped[0] == "+" else stripped
    if body[:2].lower() == "0x":
        digits, base = body[2:], 16
    elif body[:1] == "0" and len(body) > 1:
        digits, base = body[1:], 8
    else:
        digits, base = body, 10
    try:
        if not digits or not all(c.isalnum() for c in digits):
            raise ValueError(text)
        value = int(digits, base)
    except ValueError:
        raise ValueError(text) from None
    if value > UINT64_MAX:
        raise ValueError(text)
    return value


def parse_int64(text: str) -> int:
    """``qemu_strtoi64`` with base 0 (sign allowed)."""
    stripped = text.strip()
    sign = 1
    if stripped[:1] in "+-" and stripped:
        sign = -1 if stripped[0] == "-" else 1
        stripped = stripped[1:]
    value = parse_uint(stripped) * sign
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(text)
    return value


def parse_qemu_number(text: str) -> int:
    """QemuOpts NUMBER: ``qemu_strtou64`` base 0, where a minus sign wraps modulo 2**64."""
    stripped = text.strip()
    negative = stripped.startswith("-")
    value = parse_uint(stripped[1:] if negative else stripped)
    return (-value) & UINT64_MAX if negative else value


def split_qemu_opts(text: str, implied_key: str | None) -> tuple[list[tuple[str, str]], list[str]]:
    """Split ``a=b,c=d`` the QemuOpts way: ``,,`` escapes, implied first key, bare flags.

    Returns the pairs in order and the deprecation warnings QEMU prints for short-form booleans
    (one string per warning; a hint line QEMU prints unprefixed follows after a newline).
    """
    pairs: list[tuple[str, str]] = []
    warnings: list[str] = []
    pos = 0
    first = True
    while pos < len(text) or (first and text == ""):
        # Read one "key[=value]" element honouring ",," inside values.
        eq = -1
        j = pos
        while j < len(text) and text[j] != "," and text[j] != "=":
            j += 1
        if j < len(text) and text[j] == "=":
            eq = j
        if eq >= 0:
            key = text[pos:eq]
            value, pos = _read_value(text, eq + 1)
        else:
            raw, pos = _read_value(text, pos)
            if first and implied_key is not None:
                key, value = implied_key, raw
            elif raw.startswith("no") and raw != "no":
                key, value = raw[2:], "off"
                warnings.append(
                    f"short-form boolean option '{raw}' deprecated\nPlease use {key}=off instead"
                )
            else:
                key, value = raw, "on"
                warnings.append(
                    f"short-form boolean option '{key}' deprecated\nPlease use {key}=on instead"
                )
        pairs.append((key, value))
        first = False
        if pos >= len(text):
            break
    return pairs, warnings


def _read_value(text: str, pos: int) -> tuple[str, int]:
    """Read up to the next single comma; ``,,`` stands for one comma."""
    out: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == ",":
            if text[pos + 1 : pos + 2] == ",":
                out.append(",")
                pos += 2
                continue
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    return "".join(out), pos


@dataclass
class OptsReader:
    """An OptsVisitor-like view over QemuOpts pairs: last value wins, lists gather every value."""

    pairs: list[tuple[str, str]]
    visited: set[str] = field(default_factory=set)

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.pairs)

    def scalar(self, name: str) -> str | None:
        self.visited.add(name)
        found: str | None = None
        for key, value in self.pairs:
            if key == name:
                found = value
        return found

    def values(self, name: str) -> list[str]:
        self.visited.add(name)
        return [value for key, value in self.pairs if key == name]

    def require(self, name: str) -> str:
        value = self.scalar(name)
        if value is None:
            raise OptionError(f"Parameter '{name}' is missing")
        return value

    def check_all_visited(self) -> None:
        for key, _ in self.pairs:
            if key not in self.visited:
                raise OptionError(f"Invalid parameter '{key}'")

    def uint(self, name: str, bits: int, ctype: str) -> int | None:
        raw = self.scalar(name)
        if raw is None:
            return None
        try:
            value = parse_uint(raw)
        except ValueError:
            raise OptionError(f"Parameter '{name}' expects a uint64 value") from None
        if value >= (1 << bits):
            raise OptionError(f"Parameter '{name}' expects {ctype}")
        return value

    def int64(self, name: str) -> int | None:
        raw = self.scalar(name)
        if raw is None:
            return None
        try:
            return parse_int64(raw)
        except ValueError:
            raise OptionError(f"Parameter '{name}' expects an int64 value") from None

    def size(self, name: str) -> int | None:
        raw = self.scalar(name)
        if raw is None:
            return None
        try:
            return parse_size(raw).value
        except (SizeSyntaxError, SizeRangeError):
            raise OptionError(f"Parameter '{name}' expects a size value") from None

    def boolean(self, name: str) -> bool | None:
        raw = self.scalar(name)
        if raw is None:
            return None
        return parse_bool(name, raw)

    def enum(self, name: str, allowed: Sequence[str]) -> str | None:
        raw = self.scalar(name)
        if raw is None:
            return None
        if raw not in allowed:
            raise OptionError(f"Parameter '{name}' does not accept value '{raw}'")
        return raw

    def uint16_list(self, name: str) -> list[int]:
        """A list of uint16 with OptsVisitor's ``A-B`` ranges (at most 65536 wide)."""
        result: list[int] = []
        for raw in self.values(name):
            result.extend(parse_uint16_range(name, raw))
        return result


def parse_bool(name: str, raw: str) -> bool:
    """``qapi_bool_parse``: on/yes/true/y and off/no/false/n."""
    if raw in ("on", "yes", "true", "y"):
        return True
    if raw in ("off", "no", "false", "n"):
        return False
    raise OptionError(f"Parameter '{name}' expects 'on' or 'off'")


def parse_uint16_range(name: str, raw: str) -> list[int]:
    """One list value: ``N`` or ``A-B`` inclusive, each element checked as uint16."""
    bad = OptionError(f"Parameter '{name}' expects a uint64 value or range")
    try:
        return _check_uint16s([parse_uint(raw)])
    except ValueError:
        pass
    if "-" not in raw:
        raise bad
    low_text, _, high_text = raw.partition("-")
    try:
        low = parse_uint(low_text)
        high = parse_uint(high_text)
    except ValueError:
        raise bad from None
    if low > high or high - low >= 65536:
        raise bad
    return _check_uint16s(range(low, high + 1))


def _check_uint16s(values: Iterable[int]) -> list[int]:
    out = list(values)
    for value in out:
        if value > 0xFFFF:
            raise OptionError("Parameter 'null' expects uint16_t")
    return out


def is_identifier(text: str) -> bool:
    """QemuOpts ``id_wellformed``: a letter, then letters, digits, '-', '.', '_'."""
    if not text or not text[0].isascii() or not text[0].isalpha():
        return False
    return all(c.isascii() and (c.isalnum() or c in "-._") for c in text)
