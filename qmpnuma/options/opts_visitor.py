"""QEMU's OptsVisitor (``qapi/opts-visitor.c``): QemuOpts pairs read as a QAPI struct.

QEMU 7.2 uses it for ``-numa`` (``NumaOptions``) and for the non-JSON form of ``-object``
(``ObjectOptions``); 2.9 uses it for ``-numa``. Reproduced behaviour:

* members are visited in schema order (base members, then the branch chosen by the union
  tag); the first failure wins, and keys nobody asked for are reported only at the end, as
  ``Invalid parameter 'KEY'`` for the first such key in GLib hash-table order;
* a repeated key: scalars take the last value, lists take every value in order;
* integers go through ``parse_uint``/``strtoll`` with base 0 (decimal, ``0x`` hex, leading-0
  octal); in lists, ``A-B`` is an inclusive range of at most 65536 values
  (``OPTS_VISITOR_RANGE_MAX``); then QAPI's width check, which names list elements ``null``;
* sizes use ``qemu_strtosz`` (bytes by default); bools use on/yes/true/y and off/no/false/n;
  enums must match a value exactly;
* an identifier given as ``id=`` is offered to the visitor as one more key called ``id``.

:func:`visit_opts` returns a plain dict with QAPI wire names (absent optional members left
out) and raises :class:`qmpnuma.errors.OptionError` with QEMU's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qmpnuma.errors import OptionError
from qmpnuma.options.cnum import strtoll
from qmpnuma.options.numbers import (
    NumberError,
    opts_visitor_size,
    parse_uint,
    parse_uint_full,
    qapi_bool,
)
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.qobject.hashing import GHashTableModel

Schema = Mapping[str, Mapping[str, Any]]

#: Longest ``A-B`` range a list element may span.
OPTS_VISITOR_RANGE_MAX = 65536

#: Unsigned QAPI integer builtins: name -> (maximum, C type named in errors).
UNSIGNED_WIDTHS: dict[str, tuple[int, str | None]] = {
    "uint8": (0xFF, "uint8_t"),
    "uint16": (0xFFFF, "uint16_t"),
    "uint32": (0xFFFFFFFF, "uint32_t"),
    "uint64": ((1 << 64) - 1, None),
}
#: Signed QAPI integer builtins: name -> (minimum, maximum, C type named in errors).
SIGNED_WIDTHS: dict[str, tuple[int, int, str | None]] = {
    "int8": (-0x80, 0x7F, "int8_t"),
    "int16": (-0x8000, 0x7FFF, "int16_t"),
    "int32": (-0x80000000, 0x7FFFFFFF, "int32_t"),
    "int64": (-(1 << 63), (1 << 63) - 1, None),
    "int": (-(1 << 63), (1 << 63) - 1, None),
}


def _invalid_value(name: str | None, expected: str) -> OptionError:
    """QEMU's ``Parameter 'NAME' expects WHAT`` (``null`` for unnamed list elements)."""
    return OptionError(f"Parameter '{name if name is not None else 'null'}' expects {expected}")


class _OptsState:
    """The visitor's bookkeeping: unvisited keys with their queued values, and list mode."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.values: dict[str, list[str]] = {}
        self.table = GHashTableModel()
        for key, value in pairs:
            if key not in self.values:
                self.values[key] = []
                self.table.insert(key)
            self.values[key].append(value)

    def present(self, name: str) -> bool:
        return name in self.values

    def scalar(self, name: str) -> str:
        """The last value of ``name`` (it must be present)."""
        queue = self.values.get(name)
        if queue is None:
            raise OptionError(f"Parameter '{name}' is missing")
        return queue[-1]

    def processed(self, name: str) -> None:
        del self.values[name]
        self.table.remove(name)

    def first_unvisited(self) -> str | None:
        keys = self.table.keys()
        return keys[0] if keys else None


class _OptsVisitor:
    """Walks a schema type over the options, as the generated ``visit_type_*`` code does."""

    def __init__(
        self,
        pairs: Sequence[tuple[str, str]],
        schema: Schema,
        profile: Profile,
        warnings: list[str] | None,
    ) -> None:
        self.state = _OptsState(pairs)
        self.schema = schema
        self.profile = profile
        self.warnings = warnings

    def entity(self, type_name: str) -> Mapping[str, Any]:
        try:
            return self.schema[type_name]
        except KeyError:
            raise KeyError(f"type {type_name!r} is not in the schema") from None

    def visit_top(self, type_name: str) -> dict[str, Any]:
        result = self.visit_members(type_name)
        leftover = self.state.first_unvisited()
        if leftover is not None:
            raise OptionError(f"Invalid parameter '{leftover}'")
        return result

    def visit_members(self, type_name: str) -> dict[str, Any]:
        """Visit an object type's members (and its union branch) into one flat dict."""
        entity = self.entity(type_name)
        if entity.get("meta-type") != "object":
            raise TypeError(f"{type_name} is not an object type")
        result: dict[str, Any] = {}
        for member in entity.get("members", []):
            name = member["name"]
            if member.get("optional") and not self.state.present(name):
                continue
            result[name] = self.visit_member(name, member["type"])
        tag = entity.get("tag")
        if tag is not None and tag in result:
            for variant in entity.get("variants", []):
                if variant["case"] == result[tag]:
                    result.update(self.visit_members(variant["type"]))
                    break
        return result

    def visit_member(self, name: str, type_name: str) -> Any:
        if type_name.startswith("[") and type_name.endswith("]"):
            return self.visit_list(name, type_name[1:-1])
        entity = self.entity(type_name)
        meta = entity.get("meta-type")
        if meta == "object":
            return self.visit_members(type_name)
        if meta == "array":
            return self.visit_list(name, entity["element-type"])
        value = self.scalar_value(name, self.state.scalar(name), type_name, in_list=False)
        self.state.processed(name)
        return value[0]

    def visit_list(self, name: str, element_type: str) -> list[Any]:
        queue = self.state.values.get(name)
        if queue is None:
            raise OptionError(f"Parameter '{name}' is missing")
        items: list[Any] = []
        for raw in list(queue):
            if self.entity(element_type).get("meta-type") == "object":
                items.append(self.struct_element(element_type, raw))
                continue
            items.extend(self.scalar_value(name, raw, element_type, in_list=True))
        self.state.processed(name)
        return items

    def struct_element(self, type_name: str, raw: str) -> dict[str, Any]:
        """A struct inside a list: in list mode ``lookup_scalar`` ignores the member name, so
        every mandatory scalar member reads the same list value (``authz-list,rules=X`` fails
        on the ``policy`` enum with X).  QEMU asserts on an optional member there
        (``opts_optional``); such members are left out here.
        """
        entity = self.entity(type_name)
        result: dict[str, Any] = {}
        for member in entity.get("members", []):
            if member.get("optional"):
                continue
            name = member["name"]
            result[name] = self.scalar_value(name, raw, member["type"], in_list=False)[0]
        return result

    def scalar_value(self, key: str, raw: str, type_name: str, *, in_list: bool) -> list[Any]:
        """Convert one raw value; a list element may expand to a range of values.

        ``key`` is the option's own name (used by the scanners' errors); the width check names
        the element ``null`` inside lists, as QAPI's generated code passes no name there.
        """
        entity = self.entity(type_name)
        meta = entity.get("meta-type")
        label = None if in_list else key
        if meta == "enum":
            if raw not in entity.get("values", []):
                raise OptionError(
                    f"Parameter '{label if label is not None else 'null'}' "
                    f"does not accept value '{raw}'"
                )
            return [raw]
        if meta != "builtin":
            raise TypeError(f"the OptsVisitor cannot read {type_name}")
        if type_name in UNSIGNED_WIDTHS:
            maximum, c_type = UNSIGNED_WIDTHS[type_name]
            values = self.unsigned(key, raw, in_list=in_list)
            for number in values:
                if number > maximum:
                    raise _invalid_value(label, c_type or "uint64")
            return values
        if type_name in SIGNED_WIDTHS:
            minimum, maximum, s_type = SIGNED_WIDTHS[type_name]
            values = self.signed(key, raw, in_list=in_list)
            for number in values:
                if not minimum <= number <= maximum:
                    raise _invalid_value(label, s_type or "int64")
            return values
        if type_name == "size":
            return [opts_visitor_size(key, raw, profile=self.profile, warnings=self.warnings)]
        if type_name == "bool":
            return [qapi_bool(key, raw)]
        if type_name == "str":
            return [raw]
        raise TypeError(f"the OptsVisitor cannot read {type_name}")

    @staticmethod
    def unsigned(key: str, raw: str, *, in_list: bool) -> list[int]:
        """``opts_type_uint64``: one number, or (in a list) an ``A-B`` range."""
        expected = "a uint64 value or range" if in_list else "a uint64 value"
        try:
            first, end = parse_uint(raw, base=0)
        except NumberError:
            raise _invalid_value(key, expected) from None
        if end == len(raw):
            return [first]
        if raw[end] == "-" and in_list:
            try:
                last = parse_uint_full(raw[end + 1 :], base=0)
            except NumberError:
                raise _invalid_value(key, expected) from None
            if first <= last and last - first < OPTS_VISITOR_RANGE_MAX:
                return list(range(first, last + 1))
        raise _invalid_value(key, expected)

    @staticmethod
    def signed(key: str, raw: str, *, in_list: bool) -> list[int]:
        """``opts_type_int64``: one number, or (in a list) an ``A-B`` range."""
        expected = "an int64 value or range" if in_list else "an int64 value"
        first, end, error = strtoll(raw, 0)
        if error is None and end > 0:
            if end == len(raw):
                return [first]
            if raw[end] == "-" and in_list:
                rest = raw[end + 1 :]
                last, end2, error2 = strtoll(rest, 0)
                if (
                    error2 is None
                    and end2 > 0
                    and end2 == len(rest)
                    and first <= last
                    and (
                        first > (1 << 63) - 1 - OPTS_VISITOR_RANGE_MAX
                        or last < first + OPTS_VISITOR_RANGE_MAX
                    )
                ):
                    return list(range(first, last + 1))
        raise _invalid_value(key, expected)


def split_id(pairs: Sequence[tuple[str, str]]) -> tuple[str | None, list[tuple[str, str]]]:
    """Separate ``id`` pairs as QemuOpts does: the first ``id`` value, and the other pairs."""
    ident = next((value for key, value in pairs if key == "id"), None)
    return ident, [(key, value) for key, value in pairs if key != "id"]


def visit_opts(
    pairs: Sequence[tuple[str, str]],
    type_name: str,
    schema: Schema,
    *,
    profile: Profile = DEFAULT_PROFILE,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """Read QemuOpts ``pairs`` (from ``parse_opts``) as the QAPI type ``type_name``.

    ``schema`` is the introspection-shaped SCHEMA table (see docs/DESIGN.md). ``id`` pairs
    are handled as QemuOpts does (the first one becomes the options' identifier and is seen by
    the visitor as a key ``id`` after all others). Sizes written in hex with a suffix append
    QEMU's deprecation text to ``warnings`` (printed with the option's location). Raises
    :class:`OptionError`.
    """
    ident, rest = split_id(pairs)
    if ident is not None:
        rest.append(("id", ident))
    return _OptsVisitor(rest, schema, profile, warnings).visit_top(type_name)
