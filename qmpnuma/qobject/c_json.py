"""Python's C JSON accelerators, taken without importing the `json` package.

The QMP fast path decodes a well-formed request with the C scanner of the standard library and
quotes reply strings with its C ASCII escaper (`json_parser`, `json_writer`). Importing them
through `json` runs four modules (`json`, `json.decoder`, `json.scanner`, `json.encoder`) and
compiles five regular expressions the server never uses: about 1.5 ms of a cold start, which
the first reply does not need (issue 12). The accelerator module `_json` holds both functions
itself, so they are taken from there.

One thing the C scanner still needs from the package: it reports a malformed value with
`json.decoder.JSONDecodeError`, and CPython 3.11 looks that class up only among the modules
already loaded; without it the scanner fails with a bare `SystemError`. A caller that meets
one calls `load_error_class` and scans again (only the first malformed value of a process
pays for the import).

An interpreter without `_json` gets the same functions from the `json` package (its pure-Python
scanner raises the same exceptions), so nothing but the import cost depends on it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

#: ``scan(text, index) -> (value, end)``: the JSON value that starts at ``index`` of ``text``.
Scanner = Callable[[str, int], tuple[Any, int]]

_accelerator: Any
try:
    import _json as _accelerator
except ImportError:  # pragma: no cover - CPython always builds `_json`
    _accelerator = None

#: The string as a JSON string literal, everything outside printable ASCII escaped.
encode_basestring_ascii: Callable[[str], str]
if _accelerator is not None:
    encode_basestring_ascii = _accelerator.encode_basestring_ascii
else:  # pragma: no cover
    from json.encoder import py_encode_basestring_ascii as encode_basestring_ascii

__all__ = ["Scanner", "encode_basestring_ascii", "load_error_class", "value_scanner"]


class _ScanSettings:
    """What the C scanner reads from its context when it is made: the attributes of a
    `json.JSONDecoder` (the scanner keeps its own memo of keys)."""

    __slots__ = ("object_hook", "object_pairs_hook", "parse_constant", "parse_float",
                 "parse_int", "strict")

    def __init__(self, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any],
                 parse_constant: Callable[[str], Any]) -> None:
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = object_pairs_hook
        # The exact types `float` and `int` let the scanner convert numbers itself.
        self.parse_float = float
        self.parse_int = int
        self.parse_constant = parse_constant


def value_scanner(object_pairs_hook: Callable[[list[tuple[str, Any]]], Any],
                  parse_constant: Callable[[str], Any]) -> Scanner:
    """The scanner of ``json.JSONDecoder(object_pairs_hook=..., parse_constant=...)``
    (its ``scan_once``), made without the `json` package where `_json` exists.

    It raises `StopIteration` (value: the index) when no JSON value starts at the index, and a
    `ValueError` (`json.JSONDecodeError`) when the value is malformed or cut short; hooks may
    raise what they like.
    """
    if _accelerator is None:  # pragma: no cover - see the module docstring
        import json

        decoder: Any = json.JSONDecoder(object_pairs_hook=object_pairs_hook,
                                        parse_constant=parse_constant)
        scan: Scanner = decoder.scan_once
        return scan
    made: Scanner = _accelerator.make_scanner(_ScanSettings(object_pairs_hook, parse_constant))
    return made


def load_error_class() -> bool:
    """Load `json.decoder`, whose `JSONDecodeError` the C scanner raises for a malformed
    value; True when it was not loaded yet (so scanning again can succeed), False when it was
    (so a `SystemError` is a real one)."""
    if "json.decoder" in sys.modules:
        return False
    import json.decoder  # noqa: F401 - what the C scanner looks up

    return True
