"""The ``-uuid`` argument: QEMU's strict UUID syntax (``qemu_uuid_parse``).

QEMU accepts exactly 36 characters: hex digits (either case) in groups of 8-4-4-4-12 joined
by ``-``; anything else fails with ``failed to parse UUID string: wrong format`` (printed with
the ``-uuid ARG`` location).
"""

from __future__ import annotations

from qmpnuma.errors import OptionError

_DASHES = (8, 13, 18, 23)
_HEX = "0123456789abcdefABCDEF"


def uuid_wellformed(text: str) -> bool:
    """True when ``text`` has the 8-4-4-4-12 hex form QEMU insists on."""
    if len(text) != 36:
        return False
    return all(
        (char == "-") if index in _DASHES else (char in _HEX) for index, char in enumerate(text)
    )


def parse_uuid(text: str) -> str:
    """The UUID in the lower-case form QEMU prints it back, or QEMU's error."""
    if not uuid_wellformed(text):
        raise OptionError("failed to parse UUID string: wrong format")
    return text.lower()
