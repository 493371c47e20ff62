"""QEMU's integer and size parsing (``util/cutils.c``) and the error texts built on it.

Reproduced behaviour:

* :func:`qemu_strtou64` – QEMU's wrapper of ``strtoull`` that insists on consuming the whole
  string; like ``strtoull`` it accepts leading blanks, ``+``, and a ``-`` that wraps modulo 2**64.
* :func:`parse_uint` / :func:`parse_uint_full` – ``strtoull`` that refuses negative numbers
  with ERANGE (used by the OptsVisitor with base 0: decimal, ``0x`` hex, leading-0 octal).
* :func:`parse_size` – ``qemu_strtosz``, as the profile's ``size_syntax`` says.
  ``SizeSyntax.STRTOSZ`` (7.2): decimal integer part, optional ``.fraction`` (only with a
  scaling suffix, no exponent, exact 64.64 fixed-point arithmetic, rounded half up), ``0x`` hex
  without fraction (a suffix on hex is accepted with a deprecation warning), any ``-`` rejected,
  results >= 2**64 are ERANGE. ``SizeSyntax.STRTOD`` (2.9): ``strtod`` based, so exponents and
  hex floats pass, negative values and values >= 0xfffffffffffffc00 are ERANGE.
  ``SizeSyntax.STRTOSZ_PARSE_UINT`` (8.0 on): hex with a suffix is invalid, ``.5G`` is
  half a GiB, a whole-text negative number is ERANGE.
  :func:`parse_size_mib` is ``qemu_strtosz_MiB`` (suffix-less means MiB).
* The error texts of the three parsers that report a bad size or number:
  QemuOpts (:func:`qemuopts_size`, :func:`qemuopts_number`, :func:`qemuopts_bool`:
  ``Parameter 'size' expects a non-negative number below 2^64`` + two hint lines, ``Value '%s'
  is out of range for parameter '%s'``), the OptsVisitor (:func:`opts_visitor_size`:
  ``Parameter 'mem' expects a size value``, also ``-object …,size=`` in 7.2) and the keyval
  QObject visitor (:func:`keyval_size`: ``Parameter 'memory.size' expects size``, verified
  with ``-m 18446744073709551615``). They raise :class:`qmpnuma.errors.OptionError`; the
  caller adds the ``-opt ARG: `` location.
"""

from __future__ import annotations

from typing import Literal

from qmpnuma.errors import OptionError
from qmpnuma.options.cnum import UINT64_MAX, strtod, strtoull
from qmpnuma.profiles.profile import Profile, SizeSyntax
from qmpnuma.profiles.registry import DEFAULT_PROFILE

Errno = Literal["EINVAL", "ERANGE"]

#: The hint QemuOpts appends to a bad size (printed on two lines after the error).
SIZE_HINTS: tuple[str, ...] = (
    "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-",
    "and exabytes, respectively.",
)

_SUFFIX_POWER = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


class NumberError(ValueError):
    """A number or size did not parse; ``errno`` says whether it was malformed or too big."""

    def __init__(self, errno: Errno, text: str) -> None:
        super().__init__(f"{errno}: {text!r}")
        self.errno: Errno = errno
        self.text = text


def qemu_strtou64(text: str, base: int = 0) -> int:
    """The whole of ``text`` as an unsigned 64-bit number (``-1`` wraps to 2**64-1)."""
    value, end, error = strtoull(text, base)
    if end == 0:
        raise NumberError("EINVAL", text)
    if error is not None:
        raise NumberError("ERANGE", text)
    if end != len(text):
        raise NumberError("EINVAL", text)
    return value


def parse_uint(text: str, *, base: int = 0) -> tuple[int, int]:
    """QEMU's ``parse_uint``: a non-negative number at the start of ``text``.

    Returns ``(value, end)`` where ``end`` is where the number stopped; raises
    :class:`NumberError` with EINVAL when no digits were found, ERANGE on overflow or when the
    number is negative (a leading ``-`` after optional blanks).
    """
    value, end, error = strtoull(text, base)
    if error is not None:
        raise NumberError("ERANGE", text)
    if end == 0:
        raise NumberError("EINVAL", text)
    if text.lstrip(" \t\n\v\f\r").startswith("-"):
        raise NumberError("ERANGE", text)
    return value, end


def parse_uint_full(text: str, *, base: int = 0) -> int:
    """QEMU's ``parse_uint_full``: like :func:`parse_uint` but the whole text must be used."""
    value, end = parse_uint(text, base=base)
    if end != len(text):
        raise NumberError("EINVAL", text)
    return value


def _suffix_multiplier(char: str, unit: int) -> int | None:
    """The scale of a size suffix letter (case-insensitive), or None if it is not one."""
    power = _SUFFIX_POWER.get(char.upper()) if char else None
    return None if power is None else unit**power


def _do_strtosz(text: str, default_suffix: str, unit: int, warnings: list[str] | None) -> int:
    """``do_strtosz`` of QEMU 6.0 … 7.2 with the caller requiring the whole text."""
    value, end, error = strtoull(text, 10)
    if end == 0:
        raise NumberError("EINVAL", text)
    if error is not None:
        # The overflow is only reported when nothing follows the digits.
        raise NumberError("ERANGE" if end == len(text) else "EINVAL", text)
    if "-" in text[:end]:
        raise NumberError("EINVAL", text)
    fraction_bits = 0
    is_hex = False
    rest = text[end:end + 1]
    if value == 0 and rest in ("x", "X"):
        value, end, error = strtoull(text, 16)
        if error is not None:
            raise NumberError("ERANGE" if end == len(text) else "EINVAL", text)
        if text[end:end + 1] == ".":
            raise NumberError("EINVAL", text)
        is_hex = True
    elif rest == ".":
        fraction, used, ferror = strtod(text[end:])
        if ferror is not None or used == 0 or not _finite(fraction):
            # Even "1.k" is fine: the dot alone is skipped.
            end += 1
        else:
            if "e" in text[end:end + used].lower():
                raise NumberError("EINVAL", text)
            fraction_bits = int(fraction * 2.0**64) % (1 << 64)
            end += used
    multiplier, end, suffixed = _read_suffix(text, end, default_suffix, unit)
    if suffixed and is_hex and warnings is not None:
        warnings.append(f"Using a multiplier suffix on hex numbers is deprecated: {text}")
    return _scaled(text, end, value, fraction_bits, multiplier)


def _do_strtosz_parse_uint(text: str, default_suffix: str, unit: int) -> int:
    """``do_strtosz`` of QEMU 8.0 and later with the caller requiring the whole text.

    The integer part is read by ``parse_uint`` (base 10): a negative number or an overflow is
    ERANGE, but only when nothing follows it (QEMU then reports the unused rest as EINVAL).
    ``0x`` hex is re-read in base 16 and takes neither a fraction nor a suffix. A fraction is
    read where a ``.`` follows the digits, or anywhere in a text without digits (``.5G``); an
    ``e``/``E`` ends it (it is the exabyte suffix, not an exponent).
    """
    value, end, error = strtoull(text, 10)
    negative = end > 0 and "-" in text[:end]
    if end > 0 and (error is not None or negative):
        raise NumberError("ERANGE" if end == len(text) else "EINVAL", text)
    fraction_bits = 0
    rest = text[end:end + 1]
    if end > 0 and value == 0 and rest in ("x", "X"):
        value, end, error = strtoull(text, 16)
        if error is not None:
            raise NumberError("ERANGE" if end == len(text) else "EINVAL", text)
        following = text[end:end + 1]
        if following == "." or _suffix_multiplier(following, unit) is not None:
            raise NumberError("EINVAL", text)
    elif rest == "." or (end == 0 and "." in text):
        if end > 0 and rest == "." and not text[end + 1:end + 2].isdigit():
            end += 1  # "1.k": a dot without digits is skipped
        else:
            tail = text[end:]
            cut = min((i for i in (tail.find("e"), tail.find("E")) if i >= 0), default=len(tail))
            fraction, used, ferror = strtod(tail[:cut])
            if used == 0 or ferror is not None or not _finite(fraction):
                raise NumberError("EINVAL", text)
            if fraction < 0 or str(tail[:used]).lstrip().startswith("-"):
                raise NumberError("EINVAL", text)
            end += used
            if fraction >= 1.0:
                value += int(fraction)
                fraction -= int(fraction)
            fraction_bits = int(fraction * 2.0**64) % (1 << 64)
    elif end == 0:
        raise NumberError("EINVAL", text)
    multiplier, end, _suffixed = _read_suffix(text, end, default_suffix, unit)
    return _scaled(text, end, value, fraction_bits, multiplier)


def _finite(number: float) -> bool:
    """True unless ``number`` is an infinity or a NaN."""
    return number == number and abs(number) != float("inf")


def _strtod_strtosz(text: str, default_suffix: str, unit: int) -> int:
    """``do_strtosz`` of QEMU 2.9: one ``strtod`` scan, then the suffix."""
    value, end, error = strtod(text)
    if value != value or end == 0 or error is not None:
        raise NumberError("EINVAL", text)
    has_fraction = value - int(value) != 0 if _finite(value) else False
    multiplier = _suffix_multiplier(text[end:end + 1], unit)
    if multiplier is not None:
        end += 1
    else:
        multiplier = _suffix_multiplier(default_suffix, unit)
        assert multiplier is not None
    outcome: Errno | None = None
    result = 0
    if multiplier == 1 and has_fraction:
        outcome = "EINVAL"
    elif value < 0 or value * multiplier >= float(0xFFFFFFFFFFFFFC00):
        outcome = "ERANGE"
    else:
        result = int(value * multiplier)
    if end != len(text):
        outcome = "EINVAL"
    if outcome is not None:
        raise NumberError(outcome, text)
    return result


def parse_size(
    text: str,
    default_suffix: str = "B",
    *,
    profile: Profile = DEFAULT_PROFILE,
    syntax: SizeSyntax | None = None,
    unit: int = 1024,
    warnings: list[str] | None = None,
) -> int:
    """``qemu_strtosz``: a byte count with an optional B/K/M/G/T/P/E suffix.

    ``default_suffix`` applies when no suffix is written; ``syntax`` overrides the profile's
    ``size_syntax``. With ``SizeSyntax.STRTOSZ`` a hex number with a suffix appends QEMU's
    deprecation warning text (without program name or location) to ``warnings`` when a list is
    given. Raises :class:`NumberError`.
    """
    chosen = syntax or profile.size_syntax
    if chosen is SizeSyntax.STRTOD:
        return _strtod_strtosz(text, default_suffix, unit)
    if chosen is SizeSyntax.STRTOSZ_PARSE_UINT:
        return _do_strtosz_parse_uint(text, default_suffix, unit)
    return _do_strtosz(text, default_suffix, unit, warnings)


def parse_size_mib(
    text: str, *, profile: Profile = DEFAULT_PROFILE, warnings: list[str] | None = None
) -> int:
    """``qemu_strtosz_MiB``: like :func:`parse_size` but a bare number counts MiB."""
    return parse_size(text, "M", profile=profile, warnings=warnings)


def qemuopts_size(
    name: str,
    value: str,
    *,
    profile: Profile = DEFAULT_PROFILE,
    warnings: list[str] | None = None,
) -> int:
    """A QemuOpts size option (``-m size=``, ``maxmem=``) with QemuOpts' error texts."""
    try:
        return parse_size(value, profile=profile, warnings=warnings)
    except NumberError as exc:
        if exc.errno == "ERANGE":
            raise OptionError(f"Value '{value}' is out of range for parameter '{name}'") from exc
        raise OptionError(
            f"Parameter '{name}' expects a non-negative number below 2^64", SIZE_HINTS
        ) from exc


def qemuopts_number(name: str, value: str) -> int:
    """A QemuOpts number option (``-m slots=``): ``qemu_strtou64`` base 0 and its texts."""
    try:
        return qemu_strtou64(value, 0)
    except NumberError as exc:
        if exc.errno == "ERANGE":
            raise OptionError(f"Value '{value}' is too large for parameter '{name}'") from exc
        raise OptionError(f"Parameter '{name}' expects a number") from exc


_TRUE_WORDS = ("on", "yes", "true", "y")
_FALSE_WORDS = ("off", "no", "false", "n")


def qapi_bool(name: str, value: str) -> bool:
    """``qapi_bool_parse``: on/yes/true/y and off/no/false/n, case-sensitive."""
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise OptionError(f"Parameter '{name}' expects 'on' or 'off'")


def qemuopts_bool(name: str, value: str) -> bool:
    """A QemuOpts bool option; same words and text as :func:`qapi_bool`."""
    return qapi_bool(name, value)


def opts_visitor_size(
    name: str,
    value: str,
    *,
    profile: Profile = DEFAULT_PROFILE,
    warnings: list[str] | None = None,
) -> int:
    """A size read by the OptsVisitor (``-numa node,mem=``): bytes by default."""
    try:
        return parse_size(value, profile=profile, warnings=warnings)
    except NumberError as exc:
        raise OptionError(f"Parameter '{name}' expects a size value") from exc


def keyval_size(
    name: str,
    value: str,
    *,
    profile: Profile = DEFAULT_PROFILE,
    warnings: list[str] | None = None,
) -> int:
    """A size read by the keyval QObject visitor (``-m`` memory dict, ``-machine``).

    QEMU 7.2 words it ``Parameter 'memory.size' expects size``; ``name`` is the full path.
    (``-object`` in 7.2 goes through the OptsVisitor, see :func:`opts_visitor_size`.)
    """
    try:
        return parse_size(value, profile=profile, warnings=warnings)
    except NumberError as exc:
        raise OptionError(f"Parameter '{name}' expects size") from exc


def _read_suffix(text: str, end: int, default_suffix: str, unit: int) -> tuple[int, int, bool]:
    """The multiplier of the suffix at ``end`` (or of ``default_suffix`` when none is there),
    the position after it, and whether the text had one (``do_strtosz``)."""
    multiplier = _suffix_multiplier(text[end:end + 1], unit)
    if multiplier is not None:
        return multiplier, end + 1, True
    multiplier = _suffix_multiplier(default_suffix, unit)
    assert multiplier is not None
    return multiplier, end, False


def _scaled(text: str, end: int, value: int, fraction_bits: int, multiplier: int) -> int:
    """The end of ``do_strtosz``: anything left after ``end`` is EINVAL; then the integer and
    its 64-bit binary fraction times the suffix's multiplier, rounded to nearest; a fraction
    without a suffix is EINVAL, and a result beyond 64 bits ERANGE."""
    if end != len(text):
        raise NumberError("EINVAL", text)
    if multiplier == 1:
        if fraction_bits:
            raise NumberError("EINVAL", text)
        if value > UINT64_MAX:
            raise NumberError("ERANGE", text)
        return value
    scaled_fraction = fraction_bits * multiplier
    result = value * multiplier + (scaled_fraction >> 64)
    result += ((scaled_fraction & UINT64_MAX) >> 63)
    if result > UINT64_MAX:
        raise NumberError("ERANGE", text)
    return result
