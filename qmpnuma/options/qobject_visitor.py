"""The command line's use of QEMU's QObject input visitor (``qapi/qobject-input-visitor.c``).

The walk (members in schema order, ``Parameter 'NAME' is missing``, enum values, alternates,
QAPI width checks naming list elements ``null``, the first unvisited key in QEMU's
QDict-then-GHashTable order as ``Parameter 'NAME' is unexpected``, full names such as
``smp.cpus``) is :mod:`qmpnuma.qobject.input_visitor`, the same visitor QMP arguments go
through. The command line uses it in two modes, as QEMU does:

* **JSON** (:func:`visit_qobject`): values must already have the right JSON type
  (``Invalid parameter type for 'share', expected: boolean``); unsigned integers and sizes
  report ``Parameter 'size' expects uint64`` and accept negative numbers (wrapping). Used for
  ``-object {...}`` (and by QEMU for ``-blockdev {...}``); list elements are named ``[0]``.
* **keyval** (:func:`visit_keyval`): every scalar is a string from :func:`keyval_parse`
  and is converted per the QAPI type here: integers with ``qemu_strtoi64``/``qemu_strtou64``
  base 0 (``Parameter 'smp.cpus' expects integer``), sizes with ``qemu_strtosz``
  (``Parameter 'memory.size' expects size``), bools with on/yes/true/y and off/no/false/n
  (``Parameter 'file.drop-cache' expects 'on' or 'off'``), numbers with ``qemu_strtod_finite``
  (``Invalid parameter type for 'x', expected: number``). A dict or list where a scalar
  belongs gives ``Parameters 'NAME.*' are unexpected``; list elements are named ``.0``. Used
  for ``-smp``, ``-machine`` and the ``-m`` memory dict in 7.2 (and by QEMU for ``-blockdev
  k=v``). A keyval scalar is a string, so it selects an alternate's string branch.

Raises :class:`qmpnuma.errors.OptionError` with the visitor's text (the caller adds the
``PROG: -OPTION ARG:`` location); returns plain dicts with wire names (absent optional members
left out).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from qmpnuma.errors import OptionError
from qmpnuma.options.cnum import strtod, strtoll, strtoull
from qmpnuma.options.numbers import NumberError, parse_size, qapi_bool
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.qobject.input_visitor import (
    SIGNED_WIDTHS,
    UNSIGNED_WIDTHS,
    Schema,
    VisitError,
    VisitErrorKind,
    visit,
)


class _KeyvalScalars:
    """The keyval mode (``qobject_input_type_*_keyval``): scalars are strings to convert."""

    keyval = True

    def __init__(self, warnings: list[str] | None, profile: Profile) -> None:
        self.warnings = warnings
        self.profile = profile

    def read(
        self, type_name: str, value: Any, name: str | None, full_name: Callable[[], str]
    ) -> Any:
        text = self.string(value, full_name)
        if type_name == "str":
            return text
        if type_name == "size":
            try:
                return parse_size(text, profile=self.profile, warnings=self.warnings)
            except NumberError:
                raise VisitError(VisitErrorKind.INVALID_VALUE, full_name(), "size") from None
        if type_name in UNSIGNED_WIDTHS or type_name in SIGNED_WIDTHS:
            scan = strtoull if type_name in UNSIGNED_WIDTHS else strtoll
            number, end, error = scan(text, 0)
            if end == 0 or error is not None or end != len(text):
                raise VisitError(VisitErrorKind.INVALID_VALUE, full_name(), "integer")
            return number
        if type_name == "bool":
            try:
                return qapi_bool(full_name(), text)
            except OptionError:
                raise VisitError(
                    VisitErrorKind.INVALID_VALUE, full_name(), "'on' or 'off'"
                ) from None
        if type_name == "number":
            real, end, error = strtod(text)
            if end == 0 or error is not None or end != len(text) or not math.isfinite(real):
                raise VisitError(VisitErrorKind.INVALID_TYPE, full_name(), "number")
            return real
        raise TypeError(f"cannot read builtin {type_name}")

    @staticmethod
    def string(value: Any, full_name: Callable[[], str]) -> str:
        """``qobject_input_get_keyval``: the string at this place, or why there is none."""
        if isinstance(value, dict | list):
            raise VisitError(VisitErrorKind.UNEXPECTED_SUBTREE, full_name())
        if not isinstance(value, str):
            raise VisitError(VisitErrorKind.INVALID_TYPE, full_name(), "string")
        return value


def visit_keyval(
    tree: Any,
    type_name: str,
    schema: Schema,
    *,
    root: str | None = None,
    warnings: list[str] | None = None,
    profile: Profile = DEFAULT_PROFILE,
) -> Any:
    """Read a keyval tree (strings in nested dicts/lists) as QAPI type ``type_name``.

    ``root`` is the member name the value is visited under, so that messages carry QEMU's
    path (``root="smp"`` gives ``Parameter 'smp.cpus' expects integer``). Size values written
    in hex with a suffix append QEMU's deprecation text to ``warnings``; sizes are read with
    ``profile``'s ``qemu_strtosz``.
    """
    try:
        return visit(tree, type_name, schema, scalars=_KeyvalScalars(warnings, profile),
                     root=root)
    except VisitError as refused:
        raise OptionError(refused.text) from None


def visit_qobject(value: Any, type_name: str, schema: Schema, *, root: str | None = None) -> Any:
    """Read a JSON value (from :func:`parse_json_option`) as QAPI type ``type_name``."""
    try:
        return visit(value, type_name, schema, root=root)
    except VisitError as refused:
        raise OptionError(refused.text) from None
