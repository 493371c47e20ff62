"""QEMU 7.2's QObject input visitor, applied to the ``arguments`` of a QMP command.

A command's arguments are checked by generated marshalling code walking the argument type
member by member.  Which error a bad request gets (and therefore what a client sees) depends on
that walk: members in schema order (base first, then the branch chosen by the discriminator),
a nested object's leftovers reported before the outer object's, several leftovers reported in
the order of a GLib hash table, and each kind of value with its own message:

* ``Parameter 'a.b[0]' is missing`` / ``Invalid parameter type for 'a.b', expected: string``
  use the full path of the member, ``Parameter 'x' is unexpected`` likewise;
* ``Parameter 'x' expects uint64`` for unsigned 64-bit and ``size`` members (full path);
* ``Parameter 'x' expects uint8_t`` (or ``int32_t``...) when a narrower integer is out of range,
  and ``Parameter 'x' does not accept value 'v'`` for enums: these two use the bare member name,
  ``null`` for list elements;
* alternates pick their branch by the value's JSON type (object, array, string, number,
  boolean, null; an array branch, QEMU 7.1+, is visited as a list), and a value of no branch's
  type gets ``Invalid parameter type for 'x', expected: AltName`` (bare name).

Types come from the profile's unmasked ``SCHEMA`` table (introspection shape, see
docs/DESIGN.md).  The visitor returns the arguments with QEMU's conversions applied (negative
numbers wrapped for unsigned types, integers as doubles for ``number``) and absent optional
members left absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from qmpnuma.errors import QmpError
from qmpnuma.qobject.hashing import GHashTableModel, qdict_order

__all__ = ["visit_input"]

Schema = Mapping[str, Mapping[str, Any]]

_SIGNED_RANGES: Final = {
    "int8": (-(1 << 7), (1 << 7) - 1, "int8_t"),
    "int16": (-(1 << 15), (1 << 15) - 1, "int16_t"),
    "int32": (-(1 << 31), (1 << 31) - 1, "int32_t"),
}
_UNSIGNED_RANGES: Final = {
    "uint8": ((1 << 8) - 1, "uint8_t"),
    "uint16": ((1 << 16) - 1, "uint16_t"),
    "uint32": ((1 << 32) - 1, "uint32_t"),
}
_INT64_MIN: Final = -(1 << 63)
_INT64_MAX: Final = (1 << 63) - 1
_UINT64_MAX: Final = (1 << 64) - 1
_BUILTIN_JSON_TYPES: Final = {
    "str": "string",
    "int": "int",
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "int",
    "uint8": "int",
    "uint16": "int",
    "uint32": "int",
    "uint64": "int",
    "size": "int",
    "number": "number",
    "bool": "boolean",
    "null": "null",
    "any": "value",
}


def _generic(desc: str) -> QmpError:
    return QmpError("GenericError", desc)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Frame:
    """One open object or list on the visitor's stack (QEMU's StackObject)."""

    __slots__ = ("consumed", "index", "is_dict", "name", "obj")

    def __init__(self, name: str | None, obj: Any) -> None:
        self.name = name
        self.obj = obj
        self.is_dict = isinstance(obj, dict)
        self.index = 0
        self.consumed: list[str] = []

    def first_unvisited(self) -> str | None:
        """The member QEMU reports as unexpected: replay its hash table of unvisited keys."""
        if len(self.consumed) == len(self.obj):
            return None
        table = GHashTableModel()
        for key in qdict_order(self.obj):
            table.insert(key)
        for key in self.consumed:
            table.remove(key)
        return table.first()


class _Visitor:
    """The walk itself: a stack of open containers, as QEMU's visitor keeps one."""

    def __init__(self, schema: Schema, root: Any) -> None:
        self.schema = schema
        self.root = root
        self.stack: list[_Frame] = []

    # -- naming --------------------------------------------------------------------------
    def full_name(self, name: str | None) -> str:
        path = ""
        for frame in reversed(self.stack):
            if frame.is_dict:
                path = "." + (name if name is not None else "<anonymous>") + path
            else:
                path = f"[{frame.index}]" + path
            name = frame.name
        if name is not None:
            return name + path
        if path.startswith("."):
            return path[1:]
        return path or "<anonymous>"

    # -- object access -------------------------------------------------------------------
    def present(self, name: str) -> bool:
        return name in self.stack[-1].obj

    def take(self, name: str | None) -> Any:
        """QEMU's get_object with consume: the value at ``name`` or a 'missing' error."""
        if not self.stack:
            return self.root
        top = self.stack[-1]
        if top.is_dict:
            assert name is not None
            if name not in top.obj:
                raise _generic(f"Parameter '{self.full_name(name)}' is missing")
            top.consumed.append(name)
            return top.obj[name]
        return top.obj[top.index]

    def peek(self, name: str | None) -> Any:
        """get_object without consuming (alternates look before they visit)."""
        if not self.stack:
            return self.root
        top = self.stack[-1]
        if top.is_dict:
            if name not in top.obj:
                raise _generic(f"Parameter '{self.full_name(name)}' is missing")
            return top.obj[name]
        return top.obj[top.index]

    # -- dispatch ------------------------------------------------------------------------
    def entry(self, type_name: str) -> Mapping[str, Any]:
        found = self.schema.get(type_name)
        if found is not None:
            return found
        if type_name in _BUILTIN_JSON_TYPES:
            return {"meta-type": "builtin", "json-type": _BUILTIN_JSON_TYPES[type_name]}
        if type_name.startswith("[") and type_name.endswith("]"):
            return {"meta-type": "array", "element-type": type_name[1:-1]}
        if type_name == "q_empty":
            return {"meta-type": "object", "members": []}
        raise LookupError(f"type {type_name!r} is not in the schema")

    def visit(self, type_name: str, name: str | None) -> Any:
        entry = self.entry(type_name)
        meta = entry.get("meta-type")
        if meta == "builtin":
            return self.visit_builtin(type_name, name)
        if meta == "enum":
            return self.visit_enum(entry, name)
        if meta == "object":
            return self.visit_struct(entry, name)
        if meta == "array":
            return self.visit_list(str(entry["element-type"]), name)
        if meta == "alternate":
            return self.visit_alternate(type_name, entry, name)
        raise LookupError(f"type {type_name!r} cannot be visited")

    # -- scalars -------------------------------------------------------------------------
    def bad_type(self, name: str | None, expected: str) -> QmpError:
        shown = self.full_name(name)
        return _generic(f"Invalid parameter type for '{shown}', expected: {expected}")

    def visit_builtin(self, type_name: str, name: str | None) -> Any:
        value = self.take(name)
        if type_name == "str":
            if not isinstance(value, str):
                raise self.bad_type(name, "string")
            return value
        if type_name in ("int", "int64") or type_name in _SIGNED_RANGES:
            if not _is_int(value) or not _INT64_MIN <= value <= _INT64_MAX:
                raise self.bad_type(name, "integer")
            signed = _SIGNED_RANGES.get(type_name)
            if signed is not None and not signed[0] <= value <= signed[1]:
                shown = name if name is not None else "null"
                raise _generic(f"Parameter '{shown}' expects {signed[2]}")
            return value
        if type_name in ("uint64", "size") or type_name in _UNSIGNED_RANGES:
            if not _is_int(value) or not _INT64_MIN <= value <= _UINT64_MAX:
                raise _generic(f"Parameter '{self.full_name(name)}' expects uint64")
            number = value & _UINT64_MAX
            unsigned = _UNSIGNED_RANGES.get(type_name)
            if unsigned is not None and number > unsigned[0]:
                shown = name if name is not None else "null"
                raise _generic(f"Parameter '{shown}' expects {unsigned[1]}")
            return number
        if type_name == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.bad_type(name, "number")
            return float(value)
        if type_name == "bool":
            if not isinstance(value, bool):
                raise self.bad_type(name, "boolean")
            return value
        if type_name == "null":
            if value is not None:
                raise self.bad_type(name, "null")
            return None
        return value  # any (and builtins we do not distinguish)

    def visit_enum(self, entry: Mapping[str, Any], name: str | None) -> str:
        value = self.take(name)
        if not isinstance(value, str):
            raise self.bad_type(name, "string")
        values = entry.get("values")
        if values is None:  # introspection also lists enum members as {"name": ...}
            values = [member["name"] for member in entry.get("members", ())]
        if value not in values:
            shown = name if name is not None else "null"
            raise _generic(f"Parameter '{shown}' does not accept value '{value}'")
        return value

    # -- containers ----------------------------------------------------------------------
    def visit_struct(self, entry: Mapping[str, Any], name: str | None) -> dict[str, Any]:
        value = self.take(name)
        if not isinstance(value, dict):
            raise self.bad_type(name, "object")
        frame = _Frame(name, value)
        self.stack.append(frame)
        result: dict[str, Any] = {}
        self.visit_members(entry, result)
        leftover = frame.first_unvisited()
        if leftover is not None:
            raise _generic(f"Parameter '{self.full_name(leftover)}' is unexpected")
        self.stack.pop()
        return result

    def visit_members(self, entry: Mapping[str, Any], result: dict[str, Any]) -> None:
        for member in entry.get("members", ()):
            member_name = str(member["name"])
            if member.get("optional") and not self.present(member_name):
                continue
            result[member_name] = self.visit(str(member["type"]), member_name)
        tag = entry.get("tag")
        if tag is None:
            return
        for variant in entry.get("variants", ()):
            if variant["case"] == result.get(str(tag)):
                self.visit_members(self.entry(str(variant["type"])), result)
                return

    def visit_list(self, element_type: str, name: str | None) -> list[Any]:
        value = self.take(name)
        if not isinstance(value, list):
            raise self.bad_type(name, "array")
        frame = _Frame(name, value)
        self.stack.append(frame)
        result = []
        for index in range(len(value)):
            frame.index = index
            result.append(self.visit(element_type, None))
        self.stack.pop()
        return result

    def visit_alternate(self, type_name: str, entry: Mapping[str, Any], name: str | None) -> Any:
        value = self.peek(name)
        wanted = _json_kind(value)
        for member in entry.get("members", ()):
            branch = str(member["type"])
            if self.kind_of(branch) == wanted:
                return self.visit(branch, name)
        shown = name if name is not None else "null"
        raise _generic(f"Invalid parameter type for '{shown}', expected: {type_name}")

    def kind_of(self, type_name: str) -> str:
        """The QType a value must have to select this alternate branch."""
        entry = self.entry(type_name)
        meta = entry.get("meta-type")
        if meta == "builtin":
            json_type = str(entry.get("json-type", _BUILTIN_JSON_TYPES.get(type_name, "")))
            return {"int": "number", "number": "number", "string": "string"}.get(
                json_type, json_type
            )
        if meta == "enum":
            return "string"
        if meta == "array":
            return "array"
        return "object" if meta == "object" else str(meta)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"


def visit_input(value: Any, type_name: str | None, schema: Schema) -> Any:
    """Check and convert ``value`` (a command's ``arguments``) as QEMU's marshaller would.

    ``type_name`` is the command's argument type (``q_obj_NAME-arg``, a boxed type, or None /
    ``q_empty`` for a command without arguments).  Raises ``QmpError`` with QEMU's text.
    """
    visitor = _Visitor(schema, value)
    return visitor.visit(type_name or "q_empty", None)
