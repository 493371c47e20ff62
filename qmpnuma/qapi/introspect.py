"""The value of ``query-qmp-schema`` for one profile, built the way QEMU builds it.

QEMU first walks the commands and events in schema order; every type they mention is queued
the first time it is used, and the queue (which grows as queued types mention further types)
is walked afterwards.  Integer types are all reported as ``int`` (and their arrays as
``[int]``); type names other than built-ins are replaced by numbers handed out in order of
first use, so clients look at commands and events rather than type names.  Built-ins keep
their names and arrays are named ``[ELEMENT]``.  Only what commands and events can reach is
listed.  Pass ``unmask=True`` to keep the real names (useful when debugging a schema).

QEMU numbers types while walking its whole schema, including entities its build leaves out
by their ``if`` condition, and only then drops those; so the numbers have gaps where such
entities were.  To reproduce that, pass a schema that kept them (see ``Schema``'s ``known``)
and the profile's ``symbols``: numbering then sees them and the output keeps only what
holds.  With a schema pruned for the profile the result has the same structure, numbered
without gaps.

QEMU 2.9 (``legacy=True``) built the same list with three differences: commands and events
were walked in order of name rather than schema order, enums only had ``values``, and
there were neither ``features`` nor ``allow-oob``.
"""

from __future__ import annotations

from typing import Any

from qmpnuma.qapi.error import QAPIError
from qmpnuma.qapi.schema import (
    EMPTY_OBJECT,
    AlternateType,
    ArrayType,
    BuiltinType,
    Command,
    Entity,
    EnumType,
    Event,
    Feature,
    Member,
    ObjectType,
    Schema,
    SchemaVisitor,
    Type,
    Variant,
    cond_holds,
    visit_entity,
)


class IntrospectionBuilder(SchemaVisitor):
    """Collects the SchemaInfo list; use :func:`introspect`."""

    def __init__(self, schema: Schema, unmask: bool = False,
                 symbols: frozenset[str] | None = None, legacy: bool = False) -> None:
        self.schema = schema
        self.unmask = unmask
        self.symbols = symbols
        self.legacy = legacy
        self.entries: list[dict[str, Any]] = []
        self._numbers: dict[str, str] = {}
        self._used: list[Type] = []

    def _name(self, name: str) -> str:
        if self.unmask:
            return name
        if name not in self._numbers:
            self._numbers[name] = str(len(self._numbers))
        return self._numbers[name]

    def _lookup(self, name: str) -> Type:
        typ = self.schema.lookup_type(name)
        assert typ is not None
        return typ

    def _use(self, typ: Type) -> str:
        """Queue ``typ`` if new and return the name introspection shows for it."""
        if typ.json_type() == "int":
            typ = self._lookup("int")
        elif isinstance(typ, ArrayType) and typ.element.json_type() == "int":
            typ = self.schema.array_of(self._lookup("int"))
        if typ not in self._used:
            self._used.append(typ)
        if isinstance(typ, BuiltinType):
            return typ.name
        if isinstance(typ, ArrayType):
            return "[" + self._use(typ.element) + "]"
        return self._name(typ.name)

    def _holds(self, cond: Any) -> bool:
        return cond_holds(cond, self.symbols)

    def _features(self, features: list[Feature]) -> list[str]:
        if self.legacy:
            return []
        return [f.name for f in features if self._holds(f.ifcond)]

    def _entry(self, name: str, meta: str, body: dict[str, Any],
               features: list[Feature], cond: Any) -> None:
        if meta not in ("command", "event", "builtin", "array"):
            name = self._name(name)
        body["name"] = name
        body["meta-type"] = meta
        wanted = self._features(features)
        if wanted:
            body["features"] = wanted
        if self._holds(cond):
            self.entries.append(body)

    def _member(self, member: Member) -> dict[str, Any] | None:
        # The type is used (and numbered) even when the member is left out.
        entry: dict[str, Any] = {"name": member.name, "type": self._use(member.type)}
        if member.optional:
            entry["default"] = None
        wanted = self._features(member.features)
        if wanted:
            entry["features"] = wanted
        return entry if self._holds(member.ifcond) else None

    def _variant(self, variant: Variant) -> dict[str, Any] | None:
        entry = {"case": variant.name, "type": self._use(variant.type)}
        return entry if self._holds(variant.ifcond) else None

    # -- visitor ---------------------------------------------------------------------

    def visit_needed(self, entity: Entity) -> bool:
        # Types are only listed once something uses them (see visit_end).
        return not isinstance(entity, Type)

    def visit_builtin(self, typ: BuiltinType) -> None:
        self._entry(typ.name, "builtin", {"json-type": typ.json}, [], None)

    def visit_enum(self, typ: EnumType) -> None:
        values = [v for v in typ.values if self._holds(v.ifcond)]
        members: list[dict[str, Any]] = []
        for value in values:
            member: dict[str, Any] = {"name": value.name}
            wanted = self._features(value.features)
            if wanted:
                member["features"] = wanted
            members.append(member)
        body: dict[str, Any] = {"values": [v.name for v in values]}
        if not self.legacy:
            body = {"members": members, **body}
        self._entry(typ.name, "enum", body, typ.features, typ.ifcond)

    def visit_array(self, typ: ArrayType) -> None:
        element = self._use(typ.element)
        self._entry(f"[{element}]", "array", {"element-type": element}, [], typ.ifcond)

    def visit_object(self, typ: ObjectType) -> None:
        members = [self._member(m) for m in typ.members]
        body: dict[str, Any] = {"members": [m for m in members if m is not None]}
        if typ.tag_member is not None:
            body["tag"] = typ.tag_member.name
            variants = [self._variant(v) for v in typ.variants]
            body["variants"] = [v for v in variants if v is not None]
        self._entry(typ.name, "object", body, typ.features, typ.ifcond)

    def visit_alternate(self, typ: AlternateType) -> None:
        members = [({"type": self._use(v.type)}, v.ifcond) for v in typ.variants]
        self._entry(typ.name, "alternate",
                    {"members": [m for m, cond in members if self._holds(cond)]},
                    typ.features, typ.ifcond)

    def _arg_type(self, arg_type: ObjectType | None) -> Type:
        """The argument type to show; an implicit one with every member left out is empty."""
        if arg_type is None or (arg_type.implicit and not any(
                self._holds(m.ifcond) for m in arg_type.members)):
            return self._lookup(EMPTY_OBJECT)
        return arg_type

    def visit_command(self, command: Command) -> None:
        empty = self._lookup(EMPTY_OBJECT)
        body: dict[str, Any] = {
            "arg-type": self._use(self._arg_type(command.arg_type)),
            "ret-type": self._use(command.ret_type or empty),
        }
        if command.allow_oob and not self.legacy:
            body["allow-oob"] = True
        self._entry(command.name, "command", body, command.features, command.ifcond)

    def visit_event(self, event: Event) -> None:
        self._entry(event.name, "event", {"arg-type": self._use(self._arg_type(event.arg_type))},
                    event.features, event.ifcond)

    def visit_end(self) -> None:
        # The queue grows while it is walked: each type may use further types.
        index = 0
        while index < len(self._used):
            visit_entity(self._used[index], self)
            index += 1


def introspect(schema: Schema, unmask: bool = False,
               symbols: frozenset[str] | None = None,
               legacy: bool = False) -> list[dict[str, Any]]:
    """Return the ``query-qmp-schema`` value (a list of SchemaInfo objects) for ``schema``.

    ``symbols`` selects what is listed when ``schema`` is unpruned; ``legacy`` asks for
    QEMU 2.9's flavour (see the module text).
    """
    builder = IntrospectionBuilder(schema, unmask, symbols, legacy)
    if legacy:
        for entity in sorted(schema.entity_list(), key=lambda e: e.name):
            if builder.visit_needed(entity):
                visit_entity(entity, builder)
        builder.visit_end()
    else:
        schema.visit(builder)
    return builder.entries


def introspect_profile(fname: str, symbols: frozenset[str], known: frozenset[str],
                       unmask: bool = False, legacy: bool = False) -> list[dict[str, Any]]:
    """Check ``fname`` for the profile ``symbols`` and return its introspection.

    ``known`` are the symbols whose value the profile decides (its version symbols and
    anything defined).  Numbering sees everything not certainly false, as QEMU numbers
    over conditions it leaves to the compiler; the output lists only what holds.  If some
    definitions only coexist because their conditions are undecided (a duplicate name,
    say), the profile's own pruned schema is numbered instead.  Raises
    :class:`QAPIError` on a schema error.
    """
    pruned = Schema(fname, symbols)
    try:
        whole = Schema(fname, symbols, known)
    except QAPIError:
        return introspect(pruned, unmask, legacy=legacy)
    return introspect(whole, unmask, symbols, legacy)
