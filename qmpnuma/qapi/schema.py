"""The schema as a set of typed entities, resolved, checked and pruned for one profile.

Checked definitions (see :mod:`qmpnuma.qapi.check`) become entities: built-in, enum, array,
object (struct, union, implicit argument and base types), alternate, command and event.
Entities, members, enum values, branches and features whose ``if`` condition is false for
the chosen set of true symbols are dropped before anything is resolved, so one schema file
can describe several QEMU versions and each profile is checked on its own.  Generators walk
the result with a :class:`SchemaVisitor`, in QEMU's order: module by module (the built-in
module, the top file, then included files in the order they were first included), and
definitions in the order they were written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qmpnuma.qapi.check import Definition, check_exprs
from qmpnuma.qapi.error import QAPIError, SourceInfo
from qmpnuma.qapi.parser import parse_schema

BUILTIN_MODULE = "./builtin"

#: QAPI built-in type name → the JSON type introspection reports for it.
BUILTIN_JSON_TYPES: dict[str, str] = {
    "str": "string", "number": "number", "int": "int",
    "int8": "int", "int16": "int", "int32": "int", "int64": "int",
    "uint8": "int", "uint16": "int", "uint32": "int", "uint64": "int",
    "size": "int", "bool": "boolean", "null": "null", "any": "value",
}
#: The values of the predefined ``QType`` enum (the JSON type of a QObject).
QTYPE_VALUES = ("none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool")
EMPTY_OBJECT = "q_empty"


def cond_holds(cond: Any, symbols: frozenset[str] | None) -> bool:
    """Evaluate an ``if`` condition; with no symbol set (unpruned checking) all hold."""
    if cond is None or symbols is None:
        return True
    if isinstance(cond, str):
        return cond in symbols
    (op, operand), = cond.items()
    if op == "not":
        return not cond_holds(operand, symbols)
    if op == "all":
        return all(cond_holds(c, symbols) for c in operand)
    return any(cond_holds(c, symbols) for c in operand)


def cond_value(cond: Any, symbols: frozenset[str], known: frozenset[str]) -> bool | None:
    """Three-valued evaluation: symbols in ``known`` are true iff in ``symbols``; any other
    symbol may go either way, and a condition depending on one is None (undecided)."""
    if cond is None:
        return True
    if isinstance(cond, str):
        return (cond in symbols) if cond in known or cond in symbols else None
    (op, operand), = cond.items()
    if op == "not":
        inner = cond_value(operand, symbols, known)
        return None if inner is None else not inner
    values = [cond_value(c, symbols, known) for c in operand]
    if op == "all":
        return False if False in values else (True if all(values) else None)
    return True if True in values else (False if all(v is False for v in values) else None)


def c_name(name: str) -> str:
    """The name with ``-`` and ``.`` made identifier-safe, used to detect member clashes."""
    return name.replace("-", "_").replace(".", "_")


@dataclass(eq=False)
class Feature:
    """A feature flag (``deprecated``, ``unstable`` or a custom one)."""

    name: str
    ifcond: Any = None


@dataclass(eq=False)
class Member:
    """An object member; ``type`` is filled in when the schema is resolved."""

    name: str
    type_ref: Any
    optional: bool
    features: list[Feature]
    info: SourceInfo
    owner: str
    ifcond: Any = None
    type: Type = field(init=False)


@dataclass(eq=False)
class EnumValue:
    """One value of an enum."""

    name: str
    features: list[Feature]
    ifcond: Any = None


@dataclass(eq=False)
class Variant:
    """A union or alternate branch; ``type`` is filled in when the schema is resolved."""

    name: str
    type_ref: Any
    ifcond: Any = None
    type: Type = field(init=False)


@dataclass(eq=False)
class Entity:
    """Something with a name defined in a module."""

    name: str
    info: SourceInfo | None
    features: list[Feature]
    doc: str | None
    module: str

    meta: str = "entity"
    #: The ``if`` condition (kept so that an unpruned schema can be filtered later).
    ifcond: Any = None

    def describe(self) -> str:
        return f"{self.meta} '{self.name}'"


@dataclass(eq=False)
class Type(Entity):
    """Any type; ``json_type`` is the JSON type its values have."""

    def json_type(self) -> str:
        raise NotImplementedError


@dataclass(eq=False)
class BuiltinType(Type):
    """A built-in type such as ``str`` or ``uint16``."""

    json: str = "value"
    meta: str = "built-in type"

    def json_type(self) -> str:
        return self.json


@dataclass(eq=False)
class EnumType(Type):
    """An enum: its (profile-selected) values in definition order."""

    values: list[EnumValue] = field(default_factory=list)
    prefix: str | None = None
    meta: str = "enum"

    def json_type(self) -> str:
        return "string"


@dataclass(eq=False)
class ArrayType(Type):
    """``[T]``: QAPI names it ``TList``; introspection names it ``[T]``."""

    element_name: str = ""
    meta: str = "array"
    element: Type = field(init=False)

    def json_type(self) -> str:
        return "array"


@dataclass(eq=False)
class ObjectType(Type):
    """A struct, union, implicit argument or base type; ``members`` include the base's."""

    base_ref: str | None = None
    local_members: list[Member] = field(default_factory=list)
    tag_name: str | None = None
    variants: list[Variant] = field(default_factory=list)
    implicit: bool = False
    meta: str = "struct"
    base: ObjectType | None = field(init=False, default=None)
    members: list[Member] = field(init=False, default_factory=list)
    tag_member: Member | None = field(init=False, default=None)
    checked: bool = field(init=False, default=False)

    def json_type(self) -> str:
        return "object"

    @property
    def is_union(self) -> bool:
        return self.tag_name is not None


@dataclass(eq=False)
class AlternateType(Type):
    """A value that may be one of several types, told apart by JSON type."""

    variants: list[Variant] = field(default_factory=list)
    meta: str = "alternate"

    def json_type(self) -> str:
        return "value"


@dataclass(eq=False)
class Command(Entity):
    """A QMP command; ``arg_type``/``ret_type`` are None when it takes / returns nothing."""

    arg_ref: str | None = None
    ret_ref: Any = None
    boxed: bool = False
    allow_oob: bool = False
    allow_preconfig: bool = False
    success_response: bool = True
    coroutine: bool = False
    gen: bool = True
    meta: str = "command"
    arg_type: ObjectType | None = field(init=False, default=None)
    ret_type: Type | None = field(init=False, default=None)


@dataclass(eq=False)
class Event(Entity):
    """A QMP event; ``arg_type`` is None when it carries no data."""

    arg_ref: str | None = None
    boxed: bool = False
    meta: str = "event"
    arg_type: ObjectType | None = field(init=False, default=None)


class SchemaVisitor:
    """Base class for generators; override the ``visit_*`` methods needed."""

    def visit_needed(self, entity: Entity) -> bool:
        return True

    def visit_builtin(self, typ: BuiltinType) -> None:
        pass

    def visit_enum(self, typ: EnumType) -> None:
        pass

    def visit_array(self, typ: ArrayType) -> None:
        pass

    def visit_object(self, typ: ObjectType) -> None:
        pass

    def visit_alternate(self, typ: AlternateType) -> None:
        pass

    def visit_command(self, command: Command) -> None:
        pass

    def visit_event(self, event: Event) -> None:
        pass

    def visit_end(self) -> None:
        pass


def visit_entity(entity: Entity, visitor: SchemaVisitor) -> None:
    """Dispatch one entity to the matching ``visit_*`` method."""
    if isinstance(entity, BuiltinType):
        visitor.visit_builtin(entity)
    elif isinstance(entity, EnumType):
        visitor.visit_enum(entity)
    elif isinstance(entity, ArrayType):
        visitor.visit_array(entity)
    elif isinstance(entity, ObjectType):
        visitor.visit_object(entity)
    elif isinstance(entity, AlternateType):
        visitor.visit_alternate(entity)
    elif isinstance(entity, Command):
        visitor.visit_command(entity)
    elif isinstance(entity, Event):
        visitor.visit_event(entity)


def _features(raw: list[dict[str, Any]], schema: Schema) -> list[Feature]:
    return [Feature(f["name"], f["if"]) for f in raw if schema.keep(f["if"])]


def _alternate_kind(typ: Type) -> str:
    """The JSON category an alternate uses to pick a branch."""
    kind = typ.json_type()
    return "number" if kind == "int" else kind


class Schema:
    """A resolved, checked schema for one set of true ``if`` symbols (None: keep everything).

    Without ``known``, whatever is false for ``symbols`` is left out.  With ``known`` (the
    symbols whose value is decided: a profile's version symbols), only what is certainly
    false is left out; conditions on other symbols (build options, in QEMU's terms) are
    kept, as QEMU keeps them until the C compiler sees them.
    """

    def __init__(self, fname: str, symbols: frozenset[str] | None = None,
                 known: frozenset[str] | None = None) -> None:
        self.fname = fname
        self.symbols = symbols
        self.known = known
        parsed = parse_schema(fname)
        self.pragma = parsed.pragma
        self.modules: dict[str, list[Entity]] = {BUILTIN_MODULE: [], fname: []}
        self.entities: dict[str, Entity] = {}
        self._define_builtins()
        for definition in check_exprs(parsed.exprs):
            if definition.meta == "include":
                self.modules.setdefault(definition.name, [])
            elif self.keep(definition.ifcond):
                self._define(definition)
        self._check()

    # -- lookup and iteration ----------------------------------------------------------

    def keep(self, cond: Any) -> bool:
        """Whether something under ``cond`` is part of this schema."""
        if self.symbols is None or self.known is None:
            return cond_holds(cond, self.symbols)
        return cond_value(cond, self.symbols, self.known) is not False

    def lookup_type(self, name: str) -> Type | None:
        entity = self.entities.get(name)
        return entity if isinstance(entity, Type) else None

    def entity_list(self) -> list[Entity]:
        """All entities, module by module, in definition order."""
        return [e for entities in self.modules.values() for e in entities]

    def visit(self, visitor: SchemaVisitor) -> None:
        for entity in self.entity_list():
            if visitor.visit_needed(entity):
                visit_entity(entity, visitor)
        visitor.visit_end()

    # -- definition ----------------------------------------------------------------------

    def _add(self, entity: Entity) -> None:
        previous = self.entities.get(entity.name)
        if previous is not None:
            assert entity.info is not None
            where = f"at {previous.info}" if previous.info else "as a built-in type"
            raise QAPIError.at(entity.info, f"'{entity.name}' is already defined {where}")
        self.entities[entity.name] = entity
        self.modules.setdefault(entity.module, []).append(entity)

    def _define_builtins(self) -> None:
        for name, json in BUILTIN_JSON_TYPES.items():
            self._add(BuiltinType(name, None, [], None, BUILTIN_MODULE, json=json))
        self._add(EnumType("QType", None, [], None, BUILTIN_MODULE,
                           values=[EnumValue(v, []) for v in QTYPE_VALUES], prefix="QTYPE"))
        self._add(ObjectType(EMPTY_OBJECT, None, [], None, BUILTIN_MODULE, implicit=True))

    def _members(self, raw: list[dict[str, Any]], owner: str) -> list[Member]:
        return [Member(m["name"], m["type"], m["optional"], _features(m["features"], self),
                       m["info"], owner, m["if"])
                for m in raw if self.keep(m["if"])]

    def _variants(self, raw: list[dict[str, Any]]) -> list[Variant]:
        return [Variant(b["name"], b["type"], b["if"])
                for b in raw if self.keep(b["if"])]

    def _implicit(self, owner: Definition, role: str, raw: list[dict[str, Any]]) -> str | None:
        """Define ``q_obj_OWNER-ROLE`` for an anonymous member list; None when it is empty.

        Like QEMU, no type is made for an empty list.  An argument list whose members are
        all compiled out for the profile counts as empty too, so that a command or event
        that had no data in an older version has none in that profile.
        """
        name = f"q_obj_{owner.name}-{role}"
        members = self._members(raw, name)
        if not raw or (role == "arg" and not members):
            return None
        self._add(ObjectType(name, owner.info, [], None, owner.info.fname,
                             local_members=members, implicit=True, ifcond=owner.ifcond))
        return name

    def _define(self, d: Definition) -> None:
        features = _features(d.features, self)
        module = d.info.fname
        extra = d.extra
        entity: Entity
        if d.meta == "enum":
            values = [EnumValue(v["name"], _features(v["features"], self), v["if"])
                      for v in extra["values"] if self.keep(v["if"])]
            entity = EnumType(d.name, d.info, features, d.doc, module, values=values,
                              prefix=d.expr.get("prefix"))
        elif d.meta == "struct":
            entity = ObjectType(d.name, d.info, features, d.doc, module, base_ref=extra["base"],
                                local_members=self._members(extra["members"], d.name))
        elif d.meta == "union":
            base = extra["base"]
            if isinstance(base, list):
                base = self._implicit(d, "base", base)
                if base is None:
                    raise QAPIError.at(d.info, f"union '{d.name}' has an empty base")
            entity = ObjectType(d.name, d.info, features, d.doc, module, base_ref=base,
                                tag_name=extra["discriminator"],
                                variants=self._variants(extra["branches"]), meta="union")
        elif d.meta == "alternate":
            entity = AlternateType(d.name, d.info, features, d.doc, module,
                                   variants=self._variants(extra["branches"]))
        else:
            data = extra["data"]
            arg = self._implicit(d, "arg", data) if isinstance(data, list) else data
            expr = d.expr
            if d.meta == "command":
                entity = Command(d.name, d.info, features, d.doc, module, arg_ref=arg,
                                 ret_ref=extra.get("returns"),
                                 boxed=expr.get("boxed", False),
                                 allow_oob=expr.get("allow-oob", False),
                                 allow_preconfig=expr.get("allow-preconfig", False),
                                 success_response=expr.get("success-response", True),
                                 coroutine=expr.get("coroutine", False),
                                 gen=expr.get("gen", True))
            else:
                entity = Event(d.name, d.info, features, d.doc, module, arg_ref=arg,
                               boxed=expr.get("boxed", False))
        entity.ifcond = d.ifcond
        self._add(entity)

    # -- resolution and checks -----------------------------------------------------------

    def array_of(self, element: Type, info: SourceInfo | None = None) -> ArrayType:
        """The array type of ``element`` (named ``ELEMENTList``), made the first time needed."""
        name = f"{element.name}List"
        existing = self.lookup_type(name)
        if isinstance(existing, ArrayType):
            return existing
        builtin = isinstance(element, BuiltinType) or info is None
        array = ArrayType(name, info, [], None,
                          BUILTIN_MODULE if builtin or info is None else info.fname,
                          element_name=element.name, ifcond=element.ifcond)
        array.element = element
        self.entities[name] = array
        self.modules.setdefault(array.module, []).append(array)
        return array

    def _resolve(self, ref: Any, info: SourceInfo, what: str) -> Type:
        """Find the type ``ref`` names (``['T']`` makes the array type ``TList`` on demand)."""
        if isinstance(ref, list):
            return self.array_of(self._resolve(ref[0], info, what), info)
        typ = self.lookup_type(ref)
        if typ is None:
            kind = "uses unknown type" if ref not in self.entities else "uses a non-type"
            raise QAPIError.at(info, f"{what} {kind} '{ref}'")
        return typ

    def _check(self) -> None:
        for entity in list(self.entity_list()):
            if isinstance(entity, ObjectType):
                self._check_object(entity)
            elif isinstance(entity, AlternateType):
                self._check_alternate(entity)
            elif isinstance(entity, Command):
                self._check_command(entity)
            elif isinstance(entity, Event):
                entity.arg_type = self._check_args(entity, entity.arg_ref, entity.boxed)

    def _check_object(self, obj: ObjectType) -> None:
        if obj.checked:
            return
        if obj.members is None:  # marker set below while the base chain is being walked
            assert obj.info is not None
            raise QAPIError.at(obj.info, f"{obj.describe()} contains itself")
        info = obj.info or SourceInfo(BUILTIN_MODULE, 0)
        what = obj.describe()
        members: list[Member] = []
        if obj.base_ref is not None:
            base = self._resolve(obj.base_ref, info, f"base of {what}")
            if not isinstance(base, ObjectType) or base.is_union:
                raise QAPIError.at(info, f"base of {what} must be a struct type, "
                                         f"not {base.describe()}")
            obj.members = None  # type: ignore[assignment]
            self._check_object(base)
            obj.base = base
            members = list(base.members)
        for member in obj.local_members:
            member.type = self._resolve(member.type_ref, member.info,
                                        f"member '{member.name}' of {what}")
        seen = {c_name(m.name): m for m in members}
        for member in obj.local_members:
            clash = seen.get(c_name(member.name))
            if clash is not None:
                other = (f"member '{clash.name}'" if clash.owner == obj.name
                         else f"member '{clash.name}' of base type '{clash.owner}'")
                raise QAPIError.at(member.info, f"member '{member.name}' of {what} "
                                                f"collides with {other}")
            seen[c_name(member.name)] = member
            members.append(member)
        obj.members = members
        obj.checked = True
        if obj.is_union:
            self._check_union(obj, info)

    def _check_union(self, union: ObjectType, info: SourceInfo) -> None:
        what = union.describe()
        tag = next((m for m in union.members if m.name == union.tag_name), None)
        if tag is None:
            raise QAPIError.at(info, f"discriminator '{union.tag_name}' of {what} "
                                     "is not a member of its base")
        if tag.optional:
            raise QAPIError.at(info, f"discriminator member '{tag.name}' of {what} "
                                     "must not be optional")
        if not isinstance(tag.type, EnumType):
            raise QAPIError.at(info, f"discriminator member '{tag.name}' of {what} "
                                     "must be of enum type")
        union.tag_member = tag
        values = [v.name for v in tag.type.values]
        base_names = {c_name(m.name): m for m in union.members}
        for variant in union.variants:
            bwhat = f"branch '{variant.name}' of {what}"
            if variant.name not in values:
                raise QAPIError.at(info, f"{bwhat} is not a value of {tag.type.describe()}")
            branch = self._resolve(variant.type_ref, info, bwhat)
            if not isinstance(branch, ObjectType):
                raise QAPIError.at(info, f"{bwhat} must be an object type, "
                                         f"not {branch.describe()}")
            self._check_object(branch)
            if branch.is_union:
                raise QAPIError.at(info, f"{bwhat} cannot use {branch.describe()}")
            variant.type = branch
            for member in branch.members:
                clash = base_names.get(c_name(member.name))
                if clash is not None:
                    raise QAPIError.at(info, f"member '{member.name}' of {bwhat} "
                                             f"collides with base member '{clash.name}'")
        covered = {v.name for v in union.variants}
        empty = self.lookup_type(EMPTY_OBJECT)
        assert empty is not None
        for value in tag.type.values:
            if value.name not in covered:
                variant = Variant(value.name, EMPTY_OBJECT, value.ifcond)
                variant.type = empty
                union.variants.append(variant)

    def _check_alternate(self, alt: AlternateType) -> None:
        assert alt.info is not None
        what = alt.describe()
        if not alt.variants:
            raise QAPIError.at(alt.info, f"{what} has no branches")
        seen: dict[str, Variant] = {}
        for variant in alt.variants:
            bwhat = f"branch '{variant.name}' of {what}"
            variant.type = self._resolve(variant.type_ref, alt.info, bwhat)
            if isinstance(variant.type, AlternateType) or variant.type.name == "any":
                raise QAPIError.at(alt.info, f"{bwhat} cannot use {variant.type.describe()}")
            kind = _alternate_kind(variant.type)
            if kind in seen:
                raise QAPIError.at(alt.info, f"{bwhat} can't be distinguished from "
                                             f"'{seen[kind].name}'")
            seen[kind] = variant

    def _check_args(self, entity: Command | Event, ref: str | None,
                    boxed: bool) -> ObjectType | None:
        if ref is None:
            return None
        assert entity.info is not None
        what = f"'data' of {entity.describe()}"
        typ = self._resolve(ref, entity.info, what)
        if not isinstance(typ, ObjectType):
            raise QAPIError.at(entity.info, f"{what} must be an object type, "
                                            f"not {typ.describe()}")
        self._check_object(typ)
        if typ.is_union and not boxed:
            raise QAPIError.at(entity.info, f"{what} cannot use {typ.describe()} "
                                            "unless 'boxed' is true")
        return typ

    def _check_command(self, command: Command) -> None:
        command.arg_type = self._check_args(command, command.arg_ref, command.boxed)
        if command.ret_ref is not None:
            assert command.info is not None
            command.ret_type = self._resolve(command.ret_ref, command.info,
                                             f"'returns' of {command.describe()}")
