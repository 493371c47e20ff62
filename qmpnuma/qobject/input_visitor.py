"""QEMU's one QObject input visitor (``qapi/qobject-input-visitor.c``), for every caller.

QEMU reads QMP command arguments, ``-object {JSON}``, ``-blockdev {JSON}`` and the keyval
forms of ``-smp``/``-machine``/``-m`` (and ``-blockdev k=v``) with the same visitor; only two
things change with the caller, and both are parameters here:

* how a scalar is read: from JSON values (:data:`JSON_SCALARS`: a member must already have the
  right JSON type) or from the strings keyval produced (a :class:`ScalarReader` the caller
  gives, since the number and size syntaxes belong to the option layer);
* how list elements are named in messages: ``a[0]`` for JSON, ``a.0`` in keyval mode.

Everything else is one walk, checked against qemu-system-x86_64 7.2 both over QMP and on the
command line (``tests/test_visitor_contexts.py``):

* members in schema order, base first, then the branch the discriminator selects;
* names in messages are full paths (``rules[1].match``, ``file.file.filename``), built as
  QEMU's ``full_name()`` builds them from its stack; enum values, integer widths and alternates
  name the bare member instead (``null`` for a list element), as ``qapi-visit-core.c`` and the
  generated alternate visitors do;
* integers are checked for the QAPI width after they are read (``Parameter 'x' expects
  uint16_t``); unsigned members accept negative 64-bit numbers and wrap them;
* an alternate looks at its value without consuming it and picks the branch whose QType matches
  (object, array, string, number, boolean, null), in every context: a keyval scalar is a
  string, so it selects a string (or enum) branch;
* after a struct, the keys it did not visit are looked up in a GLib hash table filled in QDict
  order; the first one the table yields is ``Parameter 'NAME' is unexpected``.

The walk raises :class:`VisitError`, which carries what went wrong and the text QEMU's visitor
sets (the ``QERR_*`` texts are the visitor's own, the same for every caller, as the binary
shows); each caller frames it: QMP as a ``GenericError`` reply, the command line behind
``PROG: -OPTION ARG:``. Types come as plain data, the introspection shape of
``qmpnuma.types`` (``meta-type``, ``members``, ``tag``, ``variants``, ``element-type``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from qmpnuma.choice import Choice
from qmpnuma.qobject.hashing import GHashTableModel, qdict_order
from qmpnuma.records import record

__all__ = [
    "JSON_SCALARS",
    "SIGNED_WIDTHS",
    "UNSIGNED_WIDTHS",
    "Schema",
    "VisitError",
    "VisitErrorKind",
    "bare_name",
    "check_width",
    "visit",
]

Schema = Mapping[str, Mapping[str, Any]]

INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1
UINT64_MAX: Final = (1 << 64) - 1

#: Signed QAPI integers: name -> (minimum, maximum, C type named when out of range, or None
#: when the 64-bit read itself bounds it).
SIGNED_WIDTHS: Final[Mapping[str, tuple[int, int, str | None]]] = {
    "int8": (-(1 << 7), (1 << 7) - 1, "int8_t"),
    "int16": (-(1 << 15), (1 << 15) - 1, "int16_t"),
    "int32": (-(1 << 31), (1 << 31) - 1, "int32_t"),
    "int64": (INT64_MIN, INT64_MAX, None),
    "int": (INT64_MIN, INT64_MAX, None),
}
#: Unsigned QAPI integers (``size`` reads as ``uint64``): name -> (maximum, C type or None).
UNSIGNED_WIDTHS: Final[Mapping[str, tuple[int, str | None]]] = {
    "uint8": ((1 << 8) - 1, "uint8_t"),
    "uint16": ((1 << 16) - 1, "uint16_t"),
    "uint32": ((1 << 32) - 1, "uint32_t"),
    "uint64": (UINT64_MAX, None),
    "size": (UINT64_MAX, None),
}
#: The JSON type of each builtin, for schemas that leave builtins out.
_BUILTIN_JSON_TYPES: Final = {
    "str": "string",
    **{name: "int" for name in (*SIGNED_WIDTHS, *UNSIGNED_WIDTHS)},
    "number": "number",
    "bool": "boolean",
    "null": "null",
    "any": "value",
}
#: The QType an alternate branch of each JSON type accepts (integers are numbers, QNum).
_BRANCH_QTYPE: Final = {"int": "number", "number": "number", "string": "string"}


class VisitErrorKind(Choice):
    """What went wrong, with the text ``qapi/qmp/qerror.h`` gives it (``name``, ``expected``)."""

    MISSING = "Parameter '{name}' is missing"
    INVALID_TYPE = "Invalid parameter type for '{name}', expected: {expected}"
    INVALID_VALUE = "Parameter '{name}' expects {expected}"
    ENUM_VALUE = "Parameter '{name}' does not accept value '{expected}'"
    UNEXPECTED = "Parameter '{name}' is unexpected"
    UNEXPECTED_SUBTREE = "Parameters '{name}.*' are unexpected"


@record(eq=False)
class VisitError(Exception):
    """A value the visitor refused; ``name`` is the name QEMU prints (full path or bare).

    ``expected`` is the type word (``integer``, ``uint16_t``, ``BlockdevRef``...) or, for
    :attr:`VisitErrorKind.ENUM_VALUE`, the refused value.
    """

    kind: VisitErrorKind
    name: str
    expected: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.text)

    @property
    def text(self) -> str:
        """QEMU's message, without the caller's frame (error class, program and location)."""
        return self.kind.value.format(name=self.name, expected=self.expected)


def bare_name(name: str | None) -> str:
    """The name ``qapi-visit-core.c`` prints: the member itself, ``null`` for list elements."""
    return name if name is not None else "null"


if TYPE_CHECKING:  # a Protocol class only types; making one costs ~30 µs of a start
    class ScalarReader(Protocol):
        """How one mode of the visitor reads ``str``, integers, ``size``, ``number`` and ``bool``.

        ``full_name`` gives the member's full path for a message; ``name`` is the bare member
        name (None inside a list). Integers come back unchecked for width (the walk checks it).
        """

        keyval: bool

        def read(
            self, type_name: str, value: Any, name: str | None, full_name: Callable[[], str]
        ) -> Any: ...


class _JsonScalars:
    """The JSON mode (``qobject_input_type_*``): values must have the right QObject type."""

    keyval = False

    def read(
        self, type_name: str, value: Any, name: str | None, full_name: Callable[[], str]
    ) -> Any:
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if type_name in UNSIGNED_WIDTHS:
            # qnum_get_try_uint, then a negative int64 wraps "for backward compatibility".
            if is_int and INT64_MIN <= value <= UINT64_MAX:
                return value & UINT64_MAX
            raise VisitError(VisitErrorKind.INVALID_VALUE, full_name(), "uint64")
        if type_name in SIGNED_WIDTHS:
            if is_int and INT64_MIN <= value <= INT64_MAX:
                return value
            raise VisitError(VisitErrorKind.INVALID_TYPE, full_name(), "integer")
        if type_name == "str":
            if isinstance(value, str):
                return value
            raise VisitError(VisitErrorKind.INVALID_TYPE, full_name(), "string")
        if type_name == "bool":
            if isinstance(value, bool):
                return value
            raise VisitError(VisitErrorKind.INVALID_TYPE, full_name(), "boolean")
        if type_name == "number":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            raise VisitError(VisitErrorKind.INVALID_TYPE, full_name(), "number")
        return value  # a builtin with no check of its own


#: The reader for QMP arguments and ``-object``/``-blockdev`` JSON.
JSON_SCALARS: Final[ScalarReader] = _JsonScalars()


class _Frame:
    """One open dict or list (QEMU's StackObject): the keys visited so far or the list position.

    A plain slotted class (one is made per visited dict or list; a dataclass's generated
    methods would be compiled at import, on the way to a cold start's first reply).
    """

    __slots__ = ("consumed", "index", "is_dict", "name", "value")

    def __init__(self, name: str | None, value: Any) -> None:
        self.name = name
        self.value = value
        self.consumed: list[str] = []
        self.index = 0
        self.is_dict = isinstance(value, dict)

    def first_unvisited(self) -> str | None:
        """The key ``qobject_input_check_struct`` reports, or None when all were visited.

        QEMU copies the dict's keys (in QDict order) into a GHashTable when the struct starts
        and removes each key as it is visited; replaying that on demand gives the same table,
        and costs nothing in the common case where every key was visited.
        """
        if len(self.consumed) == len(self.value):
            return None
        table = GHashTableModel()
        for key in qdict_order(self.value):
            table.insert(key)
        for key in self.consumed:
            table.remove(key)
        return table.first()


class _Walk:
    """The visit of one value: a stack of open containers, as QEMU's visitor keeps it."""

    def __init__(self, schema: Schema, scalars: ScalarReader, root: Any) -> None:
        self.schema = schema
        self.scalars = scalars
        self.root = root
        self.stack: list[_Frame] = []

    # -- naming (full_name_nth) ---------------------------------------------------------------
    def full_name(self, name: str | None) -> str:
        path = ""
        for frame in reversed(self.stack):
            if frame.is_dict:
                path = "." + (name if name is not None else "<anonymous>") + path
            else:
                path = (f".{frame.index}" if self.scalars.keyval else f"[{frame.index}]") + path
            name = frame.name
        if name is not None:
            return name + path
        if path.startswith("."):
            return path[1:]
        return path or "<anonymous>"

    # -- fetching (qobject_input_try_get_object) -------------------------------------------
    def peek(self, name: str | None) -> Any:
        """The value for ``name`` in the open dict, the current list element or the root."""
        if not self.stack:
            return self.root
        top = self.stack[-1]
        if top.is_dict:
            assert name is not None
            if name not in top.value:
                raise VisitError(VisitErrorKind.MISSING, self.full_name(name))
            return top.value[name]
        if top.index >= len(top.value):
            raise VisitError(VisitErrorKind.MISSING, self.full_name(name))
        return top.value[top.index]

    def take(self, name: str | None) -> Any:
        """:meth:`peek`, consuming a dict member (it is no longer unvisited)."""
        value = self.peek(name)
        if self.stack and self.stack[-1].is_dict:
            assert name is not None
            self.stack[-1].consumed.append(name)
        return value

    def present(self, name: str) -> bool:
        return bool(self.stack) and self.stack[-1].is_dict and name in self.stack[-1].value

    # -- dispatch ---------------------------------------------------------------------------
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

    # -- scalars ----------------------------------------------------------------------------
    def visit_builtin(self, type_name: str, name: str | None) -> Any:
        value = self.take(name)
        if type_name == "null" and value is not None:
            raise VisitError(VisitErrorKind.INVALID_TYPE, self.full_name(name), "null")
        if type_name not in ("any", "null"):
            value = self.scalars.read(type_name, value, name, lambda: self.full_name(name))
        self.advance()
        return check_width(type_name, value, name)

    def visit_enum(self, entry: Mapping[str, Any], name: str | None) -> str:
        text: str = self.scalars.read("str", self.take(name), name, lambda: self.full_name(name))
        self.advance()
        values = entry.get("values")
        if values is None:  # introspection also lists enum members as {"name": ...}
            values = [member["name"] for member in entry.get("members", ())]
        if text not in values:
            raise VisitError(VisitErrorKind.ENUM_VALUE, bare_name(name), text)
        return text

    # -- containers -------------------------------------------------------------------------
    def visit_struct(self, entry: Mapping[str, Any], name: str | None) -> dict[str, Any]:
        value = self.take(name)
        if not isinstance(value, dict):
            raise VisitError(VisitErrorKind.INVALID_TYPE, self.full_name(name), "object")
        frame = _Frame(name, value)
        self.stack.append(frame)
        result: dict[str, Any] = {}
        self.visit_members(entry, result)
        leftover = frame.first_unvisited()
        if leftover is not None:
            raise VisitError(VisitErrorKind.UNEXPECTED, self.full_name(leftover))
        self.stack.pop()
        self.advance()
        return result

    def visit_members(self, entry: Mapping[str, Any], result: dict[str, Any]) -> None:
        for member in entry.get("members", ()):
            member_name = str(member["name"])
            if member.get("optional") and not self.present(member_name):
                continue
            result[member_name] = self.visit(str(member["type"]), member_name)
        tag = entry.get("tag")
        if tag is None or str(tag) not in result:
            return
        for variant in entry.get("variants", ()):
            if variant["case"] == result[str(tag)]:
                self.visit_members(self.entry(str(variant["type"])), result)
                return

    def visit_list(self, element_type: str, name: str | None) -> list[Any]:
        value = self.take(name)
        if not isinstance(value, list):
            raise VisitError(VisitErrorKind.INVALID_TYPE, self.full_name(name), "array")
        frame = _Frame(name, value)
        self.stack.append(frame)
        items = []
        while frame.index < len(value):
            items.append(self.visit(element_type, None))
        self.stack.pop()
        self.advance()
        return items

    def advance(self) -> None:
        """A value read from a list moves it to the next element (its index names it)."""
        if self.stack and not self.stack[-1].is_dict:
            self.stack[-1].index += 1

    def visit_alternate(self, type_name: str, entry: Mapping[str, Any], name: str | None) -> Any:
        """``visit_start_alternate`` peeks; the generated switch picks a branch by QType."""
        wanted = _qtype(self.peek(name))
        for member in entry.get("members", ()):
            branch = str(member["type"])
            if self.branch_qtype(branch) == wanted:
                return self.visit(branch, name)
        raise VisitError(VisitErrorKind.INVALID_TYPE, bare_name(name), type_name)

    def branch_qtype(self, type_name: str) -> str:
        """The QType a value must have to select this alternate branch."""
        entry = self.entry(type_name)
        meta = entry.get("meta-type")
        if meta == "builtin":
            json_type = str(entry.get("json-type", _BUILTIN_JSON_TYPES.get(type_name, "")))
            return _BRANCH_QTYPE.get(json_type, json_type)
        if meta == "enum":
            return "string"
        return str(meta)  # object, array

    def visit_root(self, type_name: str, root: str | None) -> Any:
        if root is None:
            return self.visit(type_name, None)
        # The value is visited as member ``root`` of an outer dict that is never checked.
        self.stack.append(_Frame(None, {root: self.root}))
        result = self.visit(type_name, root)
        self.stack.pop()
        return result


def check_width(type_name: str, number: Any, name: str | None) -> Any:
    """``visit_type_uintN``/``intN``: a 64-bit read narrowed to the QAPI width (bare name)."""
    if type_name in UNSIGNED_WIDTHS:
        maximum, c_type = UNSIGNED_WIDTHS[type_name]
        if c_type is not None and number > maximum:
            raise VisitError(VisitErrorKind.INVALID_VALUE, bare_name(name), c_type)
    elif type_name in SIGNED_WIDTHS:
        minimum, maximum, s_type = SIGNED_WIDTHS[type_name]
        if s_type is not None and not minimum <= number <= maximum:
            raise VisitError(VisitErrorKind.INVALID_VALUE, bare_name(name), s_type)
    return number


def _qtype(value: Any) -> str:
    """``qobject_type`` of a parsed JSON (or keyval) value."""
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


def visit(
    value: Any,
    type_name: str,
    schema: Schema,
    *,
    scalars: ScalarReader = JSON_SCALARS,
    root: str | None = None,
) -> Any:
    """Check and convert ``value`` as QAPI type ``type_name``; raise :class:`VisitError`.

    ``root`` is the member name the value is visited under (``smp`` gives ``smp.cpus`` in
    messages); None visits it as the top value, as QMP arguments are. The result has wire
    names, QEMU's conversions applied and absent optional members left absent.
    """
    return _Walk(schema, scalars, value).visit_root(type_name, root)
