"""QEMU's QObject input visitor (``qapi/qobject-input-visitor.c``) for command-line values.

Two modes, as in QEMU:

* **keyval** (:func:`visit_keyval`): every scalar is a string from :func:`keyval_parse`
  and is converted per the QAPI type: integers with ``qemu_strtoi64``/``qemu_strtou64`` base 0
  (``Parameter 'smp.cpus' expects integer``), sizes with ``qemu_strtosz``
  (``Parameter 'memory.size' expects size``), bools with on/yes/true/y and off/no/false/n
  (``Parameter 'hmat' expects 'on' or 'off'`` – this one names the member only), numbers with
  ``strtod``. A dict or list where a scalar belongs gives ``Parameters 'NAME.*' are
  unexpected``. Used for ``-smp``, ``-machine`` and the ``-m`` memory dict in 7.2.
* **JSON** (:func:`visit_qobject`): values must already have the right JSON type
  (``Invalid parameter type for 'share', expected: boolean``); unsigned integers and sizes
  report ``Parameter 'size' expects uint64`` and accept negative numbers (wrapping), as QEMU
  does. Used for ``-object {...}`` and ``-device {...}``.

Common to both: members in schema order, ``Parameter 'NAME' is missing``, enum values must
match exactly (``Parameter 'policy' does not accept value 'foo'``), QAPI width checks naming
list elements ``null``, and after a struct the first unvisited key – in QEMU's QDict-then-
GHashTable order – as ``Parameter 'NAME' is unexpected``. Names in messages are full paths:
``smp.cpus`` (``root`` names the outermost member), list elements ``.0`` in keyval mode and
``[0]`` in JSON mode. Raises :class:`qmpnuma.errors.OptionError`; returns plain dicts with
wire names (absent optional members left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qmpnuma.errors import OptionError
from qmpnuma.options.cnum import INT64_MAX, INT64_MIN, UINT64_MAX, strtod, strtoll, strtoull
from qmpnuma.options.numbers import NumberError, parse_size, qapi_bool
from qmpnuma.options.opts_visitor import SIGNED_WIDTHS, UNSIGNED_WIDTHS
from qmpnuma.qobject.hashing import GHashTableModel, qdict_order

Schema = Mapping[str, Mapping[str, Any]]


@dataclass
class _Frame:
    """One level of the visitor's stack: a dict (with unvisited keys) or a list position."""

    name: str | None
    value: Any
    unvisited: GHashTableModel | None = None
    index: int = 0


class _QObjectVisitor:
    """Shared walk over a schema type; the two modes differ only in scalar reading."""

    def __init__(self, schema: Schema, *, keyval: bool, warnings: list[str] | None) -> None:
        self.schema = schema
        self.keyval = keyval
        self.stack: list[_Frame] = []
        self.warnings = warnings
        self.root_value: Any = None

    # -- naming -------------------------------------------------------------------------
    def full_name(self, name: str | None) -> str:
        """QEMU's ``full_name``: the path of ``name`` inside the values being visited."""
        text = ""
        current = name
        for frame in reversed(self.stack):
            if isinstance(frame.value, dict):
                text = "." + (current if current is not None else "<anonymous>") + text
            else:
                text = (f".{frame.index}" if self.keyval else f"[{frame.index}]") + text
            current = frame.name
        if current is not None:
            return current + text
        if text.startswith("."):
            return text[1:]
        return text or "<anonymous>"

    # -- fetching -----------------------------------------------------------------------
    def fetch(self, name: str | None) -> Any:
        """The value for ``name`` in the current dict (consuming it) or the next list item."""
        if not self.stack:
            return self.root_value
        top = self.stack[-1]
        if isinstance(top.value, dict):
            assert name is not None
            if name not in top.value:
                raise OptionError(f"Parameter '{self.full_name(name)}' is missing")
            assert top.unvisited is not None
            top.unvisited.remove(name)
            return top.value[name]
        if top.index >= len(top.value):
            raise OptionError(f"Parameter '{self.full_name(name)}' is missing")
        return top.value[top.index]

    def present(self, name: str) -> bool:
        if not self.stack:
            return False
        top = self.stack[-1]
        return isinstance(top.value, dict) and name in top.value

    def push(self, name: str | None, value: Any) -> None:
        frame = _Frame(name, value)
        if isinstance(value, dict):
            frame.unvisited = GHashTableModel()
            for key in qdict_order(value):
                frame.unvisited.insert(key)
        self.stack.append(frame)

    def check_struct(self) -> None:
        top = self.stack[-1]
        assert top.unvisited is not None
        leftover = top.unvisited.keys()
        if leftover:
            raise OptionError(f"Parameter '{self.full_name(leftover[0])}' is unexpected")

    # -- walking ------------------------------------------------------------------------
    def entity(self, type_name: str) -> Mapping[str, Any]:
        try:
            return self.schema[type_name]
        except KeyError:
            raise KeyError(f"type {type_name!r} is not in the schema") from None

    def visit(self, name: str | None, type_name: str) -> Any:
        if type_name.startswith("[") and type_name.endswith("]"):
            return self.visit_list(name, type_name[1:-1])
        entity = self.entity(type_name)
        meta = entity.get("meta-type")
        if meta == "object":
            return self.visit_struct(name, type_name)
        if meta == "array":
            return self.visit_list(name, entity["element-type"])
        if meta == "enum":
            text = self.read_str(name)
            if text not in entity.get("values", []):
                label = name if name is not None else "null"
                raise OptionError(f"Parameter '{label}' does not accept value '{text}'")
            return text
        if meta == "alternate":
            chosen = self.fetch(name)
            self.advance()
            return chosen
        return self.read_builtin(name, type_name)

    def visit_struct(self, name: str | None, type_name: str) -> dict[str, Any]:
        value = self.fetch(name)
        if not isinstance(value, dict):
            raise OptionError(
                f"Invalid parameter type for '{self.full_name(name)}', expected: object"
            )
        self.push(name, value)
        result = self.visit_members(type_name)
        self.check_struct()
        self.stack.pop()
        self.advance()
        return result

    def visit_members(self, type_name: str) -> dict[str, Any]:
        entity = self.entity(type_name)
        result: dict[str, Any] = {}
        for member in entity.get("members", []):
            member_name = member["name"]
            if member.get("optional") and not self.present(member_name):
                continue
            result[member_name] = self.visit(member_name, member["type"])
        tag = entity.get("tag")
        if tag is not None and tag in result:
            for variant in entity.get("variants", []):
                if variant["case"] == result[tag]:
                    result.update(self.visit_members(variant["type"]))
                    break
        return result

    def visit_list(self, name: str | None, element_type: str) -> list[Any]:
        value = self.fetch(name)
        if not isinstance(value, list):
            raise OptionError(
                f"Invalid parameter type for '{self.full_name(name)}', expected: array"
            )
        self.push(name, value)
        items: list[Any] = []
        top = self.stack[-1]
        while top.index < len(value):
            items.append(self.visit(None, element_type))
        self.stack.pop()
        self.advance()
        return items

    def advance(self) -> None:
        """After a value was read from a list, move to the next element."""
        if self.stack and isinstance(self.stack[-1].value, list):
            self.stack[-1].index += 1

    def read_str(self, name: str | None) -> str:
        value = self.fetch(name)
        if self.keyval:
            self.expect_keyval_scalar(name, value)
        elif not isinstance(value, str):
            raise OptionError(
                f"Invalid parameter type for '{self.full_name(name)}', expected: string"
            )
        self.advance()
        result: str = value
        return result

    def expect_keyval_scalar(self, name: str | None, value: Any) -> None:
        if isinstance(value, dict | list):
            raise OptionError(f"Parameters '{self.full_name(name)}.*' are unexpected")
        if not isinstance(value, str):
            raise OptionError(
                f"Invalid parameter type for '{self.full_name(name)}', expected: string"
            )

    def read_builtin(self, name: str | None, type_name: str) -> Any:
        if type_name in ("str",):
            return self.read_str(name)
        if type_name == "any":
            value = self.fetch(name)
            self.advance()
            return value
        if type_name == "null":
            value = self.fetch(name)
            if value is not None:
                raise OptionError(
                    f"Invalid parameter type for '{self.full_name(name)}', expected: null"
                )
            self.advance()
            return None
        value = self.fetch(name)
        if self.keyval:
            self.expect_keyval_scalar(name, value)
            result = self.convert_keyval(name, type_name, value)
        else:
            result = self.convert_json(name, type_name, value)
        self.advance()
        return self.check_width(name, type_name, result)

    def convert_keyval(self, name: str | None, type_name: str, text: str) -> Any:
        full = self.full_name(name)
        if type_name in UNSIGNED_WIDTHS:
            number, end, error = strtoull(text, 0)
            if end == 0 or error is not None or end != len(text):
                raise OptionError(f"Parameter '{full}' expects integer")
            return number
        if type_name in SIGNED_WIDTHS:
            signed, end, error = strtoll(text, 0)
            if end == 0 or error is not None or end != len(text):
                raise OptionError(f"Parameter '{full}' expects integer")
            return signed
        if type_name == "size":
            try:
                return parse_size(text, warnings=self.warnings)
            except NumberError:
                raise OptionError(f"Parameter '{full}' expects size") from None
        if type_name == "bool":
            return qapi_bool(name if name is not None else "null", text)
        if type_name == "number":
            real, end, error = strtod(text)
            if end == 0 or error is not None or end != len(text) or real != real:
                raise OptionError(f"Parameter '{full}' expects a number")
            return real
        raise TypeError(f"cannot read builtin {type_name}")

    def convert_json(self, name: str | None, type_name: str, value: Any) -> Any:
        full = self.full_name(name)
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if type_name in UNSIGNED_WIDTHS or type_name == "size":
            if is_int and 0 <= value <= UINT64_MAX:
                return value
            if is_int and INT64_MIN <= value < 0:
                return value & UINT64_MAX
            raise OptionError(f"Parameter '{full}' expects uint64")
        if type_name in SIGNED_WIDTHS:
            if is_int and INT64_MIN <= value <= INT64_MAX:
                return value
            raise OptionError(f"Invalid parameter type for '{full}', expected: integer")
        if type_name == "bool":
            if isinstance(value, bool):
                return value
            raise OptionError(f"Invalid parameter type for '{full}', expected: boolean")
        if type_name == "number":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            raise OptionError(f"Invalid parameter type for '{full}', expected: number")
        raise TypeError(f"cannot read builtin {type_name}")

    @staticmethod
    def check_width(name: str | None, type_name: str, value: Any) -> Any:
        label = name if name is not None else "null"
        if type_name in UNSIGNED_WIDTHS:
            maximum, c_type = UNSIGNED_WIDTHS[type_name]
            if c_type is not None and value > maximum:
                raise OptionError(f"Parameter '{label}' expects {c_type}")
        elif type_name in SIGNED_WIDTHS:
            minimum, maximum, s_type = SIGNED_WIDTHS[type_name]
            if s_type is not None and not minimum <= value <= maximum:
                raise OptionError(f"Parameter '{label}' expects {s_type}")
        return value

    def visit_root(self, value: Any, type_name: str, root: str | None) -> Any:
        """Visit ``value`` as the member ``root`` of an outer dict (or as the top value)."""
        if root is None:
            self.root_value = value
            return self.visit(None, type_name)
        self.push(None, {root: value})
        result = self.visit(root, type_name)
        self.stack.pop()
        return result


def visit_keyval(
    tree: Any,
    type_name: str,
    schema: Schema,
    *,
    root: str | None = None,
    warnings: list[str] | None = None,
) -> Any:
    """Read a keyval tree (strings in nested dicts/lists) as QAPI type ``type_name``.

    ``root`` is the member name the value is visited under, so that messages carry QEMU's
    path (``root="smp"`` gives ``Parameter 'smp.cpus' expects integer``). Size values written
    in hex with a suffix append QEMU's deprecation text to ``warnings``.
    """
    return _QObjectVisitor(schema, keyval=True, warnings=warnings).visit_root(
        tree, type_name, root
    )


def visit_qobject(
    value: Any, type_name: str, schema: Schema, *, root: str | None = None
) -> Any:
    """Read a JSON value (from :func:`parse_json_option`) as QAPI type ``type_name``."""
    return _QObjectVisitor(schema, keyval=False, warnings=None).visit_root(value, type_name, root)
