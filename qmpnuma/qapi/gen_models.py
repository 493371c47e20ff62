"""Generating the Python module of pydantic models for one profile.

The output follows docs/DESIGN.md: a class per struct and implicit argument/base type,
a class per union branch (base members with the tag narrowed to the branch's value, then
the branch's members), discriminated-union and alternate aliases, enums as ``Literal``
aliases, and the tables ``SCHEMA`` (introspection-shaped, names unmasked), ``COMMANDS``,
``EVENTS``, ``MODELS`` (QAPI name → class) and ``TYPES`` (every QAPI type name used in
``SCHEMA`` → Python annotation, for ``pydantic.TypeAdapter``).  Everything is emitted in a
fixed order so that regenerating an unchanged schema gives the same bytes.
"""

from __future__ import annotations

import json
import keyword
import re
from typing import Any

from qmpnuma.qapi.error import QAPIError, SourceInfo
from qmpnuma.qapi.schema import (
    EMPTY_OBJECT,
    AlternateType,
    ArrayType,
    BuiltinType,
    Command,
    EnumType,
    Event,
    Member,
    ObjectType,
    Schema,
    Type,
)

LINE_WIDTH = 100

#: Built-in QAPI type → the annotation name exported by qmpnuma.types.base.
_BUILTIN_ANNOTATIONS = {
    "str": "QStr", "number": "QNumber", "int": "Int64", "int8": "Int8", "int16": "Int16",
    "int32": "Int32", "int64": "Int64", "uint8": "Uint8", "uint16": "Uint16",
    "uint32": "Uint32", "uint64": "Uint64", "size": "Size", "bool": "QBool", "null": "None",
    "any": "QAny",
}
#: Names the generated module defines or imports itself, which no QAPI type may take.
_MODULE_NAMES = frozenset({
    "Annotated", "Any", "ClassVar", "Literal", "TypeAlias", "Field", "QapiModel",
    "CommandDef", "EventDef", "SCHEMA", "COMMANDS", "EVENTS", "MODELS", "TYPES", "list",
    "annotations",
})
#: Attribute names a field must not take because BaseModel (or QapiModel) uses them.
_RESERVED_ATTRS = frozenset({
    "copy", "dict", "json", "schema", "schema_json", "validate", "construct", "parse_obj",
    "parse_raw", "parse_file", "from_orm", "update_forward_refs", "fields", "to_wire",
    "qapi_nullable", "register",
})


def camel(name: str) -> str:
    """``query-memdev`` → ``QueryMemdev``; all-capital words are tamed (``RESET`` → ``Reset``)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name) if p]
    return "".join(p.capitalize() if p.isupper() else p[:1].upper() + p[1:] for p in parts)


def class_name(qapi_name: str) -> str:
    """The Python name of a QAPI type (implicit ``q_obj_X-arg`` becomes ``QObjXArg``)."""
    if qapi_name == EMPTY_OBJECT:
        return "QEmpty"
    match = re.fullmatch(r"q_obj_(.+)-(arg|base)", qapi_name)
    if match:
        return f"QObj{camel(match.group(1))}{match.group(2).capitalize()}"
    name = re.sub(r"[^A-Za-z0-9_]", "_", qapi_name)
    return f"Q{name}" if name[:1].isdigit() or name.startswith("_") else name


def attr_name(member: str) -> str:
    """The Python attribute for a wire member name: identifier-safe and not a keyword."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", member)
    if name.startswith("_"):
        name = "q" + name
    if keyword.iskeyword(name) or name in _RESERVED_ATTRS or name.startswith("model_"):
        name += "_"
    return name


def _pretty(value: Any, indent: int, lead: int = 0) -> str:
    """Render JSON-like data as Python source, one line when it fits, else one item a line.

    ``indent`` is the indentation of the line the value starts on and ``lead`` the number of
    characters already written on it after the indentation (a key, say).
    """
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            head = f"{json.dumps(key)}: "
            items.append(head + _pretty(item, indent + 4, len(head)))
        open_, close = "{", "}"
    elif isinstance(value, list):
        items = [_pretty(v, indent + 4) for v in value]
        open_, close = "[", "]"
    elif isinstance(value, bool) or value is None:
        return repr(value)
    else:
        return json.dumps(value)
    flat = open_ + ", ".join(items) + close
    if indent + lead + len(flat) + 1 <= LINE_WIDTH and "\n" not in flat:
        return flat
    pad = " " * (indent + 4)
    return open_ + "\n" + "".join(f"{pad}{item},\n" for item in items) + " " * indent + close


def _wrap(head: str, items: list[str], tail: str, indent: int = 0) -> str:
    """``head`` + items joined by ``, `` + ``tail``, split one item a line if too long."""
    flat = head + ", ".join(items) + tail
    if indent + len(flat) <= LINE_WIDTH:
        return flat
    pad = " " * (indent + 4)
    return head + "\n" + "".join(f"{pad}{item},\n" for item in items) + " " * indent + tail


def _join_union(items: list[str], prefix: str) -> str:
    flat = prefix + " | ".join(items)
    if len(flat) <= LINE_WIDTH:
        return flat
    return prefix + "(\n" + "".join(
        f"    {'| ' if i else ''}{item}\n" for i, item in enumerate(items)) + ")"


def _natural(name: str) -> list[Any]:
    """Sort key matching isort's: case-insensitive, digit runs compared as numbers."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class ModelGenerator:
    """Builds the source text of one generated module; use :func:`generate_models`."""

    def __init__(self, schema: Schema, header: str, tables_module: str | None = None) -> None:
        self.tables_module = tables_module
        self.schema = schema
        self.header = header
        self.types = [e for e in schema.entity_list() if isinstance(e, Type)]
        self.py_names: dict[str, str] = {}
        self._taken: dict[str, str] = {}
        self.imports: set[str] = set()
        for typ in self.types:
            if isinstance(typ, (ObjectType, EnumType, AlternateType)):
                self.py_names[typ.name] = self._claim(class_name(typ.name), typ.name, typ.info)

    def _claim(self, py: str, owner: str, info: SourceInfo | None) -> str:
        where = info or SourceInfo(self.schema.fname, 1)
        if py in _MODULE_NAMES or py in _BUILTIN_ANNOTATIONS.values():
            raise QAPIError.at(where, f"'{owner}' would become Python name '{py}', which the "
                                      "generated module uses itself")
        if py in self._taken:
            raise QAPIError.at(where, f"'{owner}' and '{self._taken[py]}' both "
                                      f"become Python name '{py}'")
        self._taken[py] = owner
        return py

    # -- annotations -------------------------------------------------------------------

    def annotation(self, typ: Type) -> str:
        if isinstance(typ, BuiltinType):
            ann = _BUILTIN_ANNOTATIONS[typ.name]
            if ann != "None":
                self.imports.add(ann)
            return ann
        if isinstance(typ, ArrayType):
            return f"list[{self.annotation(typ.element)}]"
        return self.py_names[typ.name]

    @staticmethod
    def _nullable(typ: Type) -> bool:
        if isinstance(typ, BuiltinType):
            return typ.name in ("any", "null")
        if isinstance(typ, AlternateType):
            return any(v.type.name == "null" for v in typ.variants)
        return False

    def _field(self, member: Member, annotation: str | None = None) -> str:
        attr = attr_name(member.name)
        ann = annotation or self.annotation(member.type)
        args: list[str] = []
        if member.optional:
            if ann not in ("None", "QAny"):
                ann = f"{ann} | None"
            args.append("default=None")
        if attr != member.name:
            args.append(f"alias={json.dumps(member.name)}")
        if not args:
            return f"    {attr}: {ann}"
        if args == ["default=None"]:
            return f"    {attr}: {ann} = None"
        self.imports.add("Field")
        return _wrap(f"    {attr}: {ann} = Field(", args, ")", 0)

    # -- pieces ------------------------------------------------------------------------

    def _class(self, py: str, what: str, members: list[tuple[Member, str | None]]) -> list[str]:
        """A model class; a member paired with an annotation uses it instead of its type's."""
        lines = [f"class {py}(QapiModel):", f'    """QAPI {what}."""', ""]
        nullable = sorted(attr_name(m.name) for m, _ in members
                          if m.optional and self._nullable(m.type))
        if nullable:
            self.imports.add("ClassVar")
            lines.append(_wrap("    qapi_nullable: ClassVar[frozenset[str]] = frozenset({",
                               [json.dumps(n) for n in nullable], "})", 4))
        for member, ann in members:
            lines.append(self._field(member, ann))
        if not members and not nullable:
            lines.pop()
        return lines

    def _branch_classes(self, union: ObjectType) -> tuple[list[str], list[str]]:
        """The classes of a union's branches and their Python names, in branch order."""
        assert union.tag_member is not None
        out: list[str] = []
        names: list[str] = []
        self.imports.add("Literal")
        union_py = self.py_names[union.name]
        for variant in union.variants:
            py = union_py + camel(variant.name)
            if py in self._taken:
                py += "Branch"
            self._claim(py, f"{union.name} branch {variant.name}", union.info)
            members: list[tuple[Member, str | None]] = []
            for member in union.members:
                narrowed = (f"Literal[{json.dumps(variant.name)}]"
                            if member is union.tag_member else None)
                members.append((member, narrowed))
            assert isinstance(variant.type, ObjectType)
            members.extend((m, None) for m in variant.type.members)
            out += self._class(py, f"union {union.name}, branch {variant.name}", members)
            out += ["", ""]
            names.append(py)
        return out, names

    def generate(self) -> str:
        enums: list[str] = []
        classes: list[str] = []
        unions: list[str] = []
        alternates: list[str] = []
        models: list[str] = []
        for typ in self.types:
            if isinstance(typ, EnumType):
                enums += self._enum(typ)
            elif isinstance(typ, ObjectType):
                py = self.py_names[typ.name]
                if typ.is_union:
                    body, branch_names = self._branch_classes(typ)
                    classes += body
                    unions += self._union(typ, branch_names)
                else:
                    kind = "implicit type" if typ.implicit else "struct"
                    classes += self._class(py, f"{kind} {typ.name}",
                                           [(m, None) for m in typ.members])
                    classes += ["", ""]
                    models.append(f"    {json.dumps(typ.name)}: {py},")
            elif isinstance(typ, AlternateType):
                alts = [self.annotation(v.type) for v in typ.variants]
                alternates.append(_join_union(alts, f"{self.py_names[typ.name]}: TypeAlias = "))
        tables = self._tables(models)
        return self._assemble(enums, classes, unions, alternates, tables)

    def _enum(self, typ: EnumType) -> list[str]:
        py = self.py_names[typ.name]
        if not typ.values:
            return [f"{py}: TypeAlias = str", ""]
        self.imports.add("Literal")
        return [_wrap(f"{py}: TypeAlias = Literal[", [json.dumps(v.name) for v in typ.values],
                      "]"), ""]

    def _union(self, union: ObjectType, branch_names: list[str]) -> list[str]:
        py = self.py_names[union.name]
        assert union.tag_member is not None
        if len(branch_names) == 1:
            return [f"{py}: TypeAlias = {branch_names[0]}", ""]
        self.imports.update(("Annotated", "Field"))
        tag = json.dumps(attr_name(union.tag_member.name))
        items = [*branch_names]
        flat = f"{py}: TypeAlias = Annotated[{' | '.join(items)}, Field(discriminator={tag})]"
        if len(flat) <= LINE_WIDTH:
            return [flat, ""]
        body = "".join(f"        {'| ' if i else ''}{b}\n" for i, b in enumerate(items))
        return [f"{py}: TypeAlias = Annotated[\n    (\n{body}    ),\n"
                f"    Field(discriminator={tag}),\n]", ""]

    # -- tables ------------------------------------------------------------------------

    def schema_table(self) -> dict[str, dict[str, Any]]:
        table: dict[str, dict[str, Any]] = {}
        for entity in self.schema.entity_list():
            entry = schema_entry(entity)
            if entry is not None:
                table[schema_name(entity)] = entry
        return table

    def table_lines(self) -> list[str]:
        """SCHEMA, COMMANDS and EVENTS: what a server needs, with no pydantic in sight."""
        out = ["SCHEMA: dict[str, dict[str, Any]] = " + _pretty(self.schema_table(), 0), ""]
        out.append("COMMANDS: dict[str, CommandDef] = {")
        for entity in self.schema.entity_list():
            if isinstance(entity, Command):
                args = [json.dumps(entity.name), _py_str(entity.arg_type),
                        _py_str(entity.ret_type)]
                for flag, value, default in (("boxed", entity.boxed, False),
                                             ("allow_oob", entity.allow_oob, False),
                                             ("allow_preconfig", entity.allow_preconfig, False),
                                             ("success_response", entity.success_response, True),
                                             ("gen", entity.gen, True)):
                    if value != default:
                        args.append(f"{flag}={value!r}")
                if entity.features:
                    args.append("features=(" + "".join(
                        f"{json.dumps(f.name)}, " for f in entity.features).rstrip() + ")")
                out.append(_wrap(f"    {json.dumps(entity.name)}: CommandDef(", args, "),", 4))
        out += ["}", "", "EVENTS: dict[str, EventDef] = {"]
        for entity in self.schema.entity_list():
            if isinstance(entity, Event):
                args = [json.dumps(entity.name), _py_str(entity.arg_type)]
                if entity.boxed:
                    args.append("boxed=True")
                if entity.features:
                    args.append("features=(" + "".join(
                        f"{json.dumps(f.name)}, " for f in entity.features).rstrip() + ")")
                out.append(_wrap(f"    {json.dumps(entity.name)}: EventDef(", args, "),", 4))
        out += ["}", ""]
        return out

    def _model_tables(self, models: list[str]) -> list[str]:
        out = ["MODELS: dict[str, type[QapiModel]] = {", *models, "}", ""]
        out.append("TYPES: dict[str, Any] = {")
        for entity in self.schema.entity_list():
            if isinstance(entity, Type) and entity.name != "null":
                out.append(f"    {json.dumps(schema_name(entity))}: {self.annotation(entity)},")
        out.append('    "null": None,')
        out += ["}", ""]
        return out

    def _tables(self, models: list[str]) -> list[str]:
        if self.tables_module is not None:
            return self._model_tables(models)
        return self.table_lines() + self._model_tables(models)

    def generate_tables(self) -> str:
        """The pydantic-free module holding SCHEMA, COMMANDS and EVENTS."""
        lines = [f'"""{self.header}"""', "", "from __future__ import annotations", "",
                 "from typing import Any", "",
                 "from qmpnuma.types.defs import CommandDef, EventDef", "", "",
                 *self.table_lines()]
        return "\n".join(lines).rstrip("\n") + "\n"

    def _assemble(self, enums: list[str], classes: list[str], unions: list[str],
                  alternates: list[str], tables: list[str]) -> str:
        typing_names = sorted({"Any", "TypeAlias"} | (self.imports & {
            "Annotated", "ClassVar", "Literal"}))
        base_names = sorted((self.imports & set(_BUILTIN_ANNOTATIONS.values()))
                            | {"QapiModel"}, key=_natural)
        lines = [f'"""{self.header}"""', "", "from __future__ import annotations", ""]
        lines.append(_wrap("from typing import ", typing_names, ""))
        lines.append("")
        if "Field" in self.imports:
            lines += ["from pydantic import Field", ""]
        lines.append(_wrap("from qmpnuma.types.base import (", base_names, ")")
                     if len(base_names) > 1 else f"from qmpnuma.types.base import {base_names[0]}")
        if self.tables_module is None:
            lines.append("from qmpnuma.types.defs import CommandDef, EventDef")
        else:
            lines.append(f"from {self.tables_module} import COMMANDS, EVENTS, SCHEMA")
        lines += ["", "# Enums", "", *enums, "", "# Object types", "", *classes,
                  "# Discriminated unions", "", *unions, "", "# Alternates", "", *alternates,
                  "", ""]
        rebuild = [self.py_names[t.name] for t in self.types
                   if isinstance(t, ObjectType) and not t.is_union]
        rebuild += [n for n in self._taken if n not in self.py_names.values()]
        lines.append("for _model in (")
        lines += [f"    {n}," for n in sorted(rebuild)]
        lines += ["):", "    _model.model_rebuild()", "", ""]
        lines += tables
        text = "\n".join(lines)
        text = re.sub(r"\n{4,}", "\n\n\n", text)
        return text.rstrip("\n") + "\n"


def _py_str(typ: Type | None) -> str:
    """A type's ``SCHEMA`` name as a Python string literal, or ``None``."""
    return "None" if typ is None else json.dumps(schema_name(typ))


def schema_name(typ: Any) -> str:
    """The unmasked introspection name: ``[T]`` for arrays, the QAPI name otherwise."""
    if isinstance(typ, ArrayType):
        return f"[{schema_name(typ.element)}]"
    return str(typ.name)


def _members_entry(members: list[Member]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for member in members:
        entry: dict[str, Any] = {"name": member.name, "type": schema_name(member.type)}
        if member.optional:
            entry["optional"] = True
        if member.features:
            entry["features"] = [f.name for f in member.features]
        out.append(entry)
    return out


def schema_entry(entity: Any) -> dict[str, Any] | None:
    """One ``SCHEMA`` table entry (introspection shape, real names) for an entity."""
    entry: dict[str, Any]
    if isinstance(entity, BuiltinType):
        entry = {"meta-type": "builtin", "json-type": entity.json}
    elif isinstance(entity, EnumType):
        entry = {"meta-type": "enum", "values": [v.name for v in entity.values]}
    elif isinstance(entity, ArrayType):
        entry = {"meta-type": "array", "element-type": schema_name(entity.element)}
    elif isinstance(entity, ObjectType):
        entry = {"meta-type": "object", "members": _members_entry(entity.members)}
        if entity.tag_member is not None:
            entry["tag"] = entity.tag_member.name
            entry["variants"] = [{"case": v.name, "type": v.type.name}
                                 for v in entity.variants]
    elif isinstance(entity, AlternateType):
        entry = {"meta-type": "alternate",
                 "members": [{"type": schema_name(v.type)} for v in entity.variants]}
    elif isinstance(entity, Command):
        entry = {"meta-type": "command",
                 "arg-type": entity.arg_type.name if entity.arg_type else EMPTY_OBJECT,
                 "ret-type": schema_name(entity.ret_type) if entity.ret_type else EMPTY_OBJECT}
        if entity.allow_oob:
            entry["allow-oob"] = True
        if entity.allow_preconfig:
            entry["allow-preconfig"] = True
        if entity.boxed:
            entry["boxed"] = True
        if not entity.success_response:
            entry["success-response"] = False
    elif isinstance(entity, Event):
        entry = {"meta-type": "event",
                 "arg-type": entity.arg_type.name if entity.arg_type else EMPTY_OBJECT}
        if entity.boxed:
            entry["boxed"] = True
    else:
        return None
    features = getattr(entity, "features", [])
    if features:
        entry["features"] = [f.name for f in features]
    return {"name": schema_name(entity), **entry}


def generate_models(schema: Schema, header: str, tables_module: str | None = None) -> str:
    """Return the generated module's source text; ``header`` becomes its docstring.

    With ``tables_module`` the module imports SCHEMA, COMMANDS and EVENTS from there (see
    `generate_tables`) instead of defining them.
    """
    return ModelGenerator(schema, header, tables_module).generate()


def generate_tables(schema: Schema, header: str) -> str:
    """The pydantic-free companion module: SCHEMA, COMMANDS and EVENTS only."""
    return ModelGenerator(schema, header).generate_tables()
