"""Records made when the start bundle is compiled, not while a start imports them.

`qmpnuma.records.record` builds a record's methods at import without compiling source, but it
still reads the class's fields from its annotations, builds each method as a closure, sets it
on the finished class (each ``setattr`` of a special method on a type updates its slots) and,
for ``slots=True``, makes the class a second time: some 240,000 instructions per record, and a
start makes about sixty (issue 12). The start bundle's compiler (`qmpnuma.start_bundle`)
knows every record class's source, so it can do the reading once, ahead of time: this module
rewrites a record's class statement (`prebuild`) so that its body holds what ``record`` would
add -- ``__init__`` as compiled code; ``__repr__``, ``__eq__``, ``__hash__``, the frozen
``__setattr__``/``__delattr__`` and the pickling methods of a frozen slotted record made by
``record``'s own closures (`records` ``prebuilt.make``, called in the body: compiled, they
cost as much to unmarshal as the closures to make); ``__match_args__``, ``__slots__`` -- and
its decorator only ties the registration to the class (``prebuilt.finish``). The class is then
made once, with its methods in it.

What the rewritten class is and does is what ``record`` makes of the same source (the same
attributes, methods' behaviour, registration, `replace`); ``tests/test_prebuilt_records.py``
compares the two for every record of the package and for synthetic ones. The generated
``__init__`` has the parameters a dataclass's has, so a wrong call fails with CPython's own
message, as a dataclass's does.

Only what can be read from the source alone is rewritten; every other record is left to
``record`` at import (`prebuild` returns why): the decorator must be ``record`` or
``record(frozen=..., eq=..., repr=..., slots=...)`` with constant flags, ``record`` (and
``field``, if used) imported from `qmpnuma.records` under their own names; the module must
use ``from __future__ import annotations`` (annotations stay strings) and bind nothing to
``ClassVar`` under another name; the class must be a module-level one without bases or
keywords, with a docstring, whose body holds only its docstring, annotated fields, methods and
plain assignments; no annotation may mention ``ClassVar``, ``InitVar`` or ``KW_ONLY``; a
field's value is a plain default or ``field(...)`` with constant flags (``default``,
``default_factory``, ``init``, ``repr``, ``hash``, ``compare``); the class must not define
``__init__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``, ``__slots__`` or
``__match_args__`` itself; and a required ``__init__`` parameter may not follow one with a
default.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import CodeType

__all__ = ["PREFIX", "STASH", "WRAPPER", "Plan", "methods_of", "plan_of", "prebuild",
           "qualify"]

#: The prefix of every name the generated code uses for itself; a record with a field of this
#: prefix is left to ``record``.
PREFIX = "_qn_"
#: The init maker the rewritten class body defines, hands to ``prebuilt.make`` and deletes;
#: the ``__init__`` it makes is named as a method of the class (`qualify`).
WRAPPER = "__qmpnuma_record__"
#: The class attribute holding the record's registration until its decorator takes it.
STASH = "_qmpnuma_record_"
#: What the class may not define for its record to be rewritten (``record`` would keep the
#: class's own, and its hash rule reads ``__eq__``/``__hash__``).
_OWN_FORBIDDEN = frozenset(("__init__", "__eq__", "__hash__", "__setattr__", "__delattr__",
                            "__slots__", "__match_args__", "__dataclass_fields__",
                            "__dataclass_params__", STASH, WRAPPER))
_FLAGS = ("frozen", "eq", "repr", "slots")
_FIELD_KEYWORDS = frozenset(("default", "default_factory", "init", "repr", "hash", "compare"))
_SPECIAL_ANNOTATIONS = frozenset(("ClassVar", "InitVar", "KW_ONLY"))


@dataclass
class Field:
    """One annotated name of a record as the source declares it."""

    name: str
    #: The class attribute the body gives it: none, a plain default, or a ``field(...)``.
    has_value: bool = False
    spec: bool = False
    has_default: bool = False
    has_factory: bool = False
    init: bool = True
    repr: bool = True
    compare: bool = True
    hash: bool | None = None

    @property
    def hashed(self) -> bool:
        return self.compare if self.hash is None else self.hash


@dataclass
class Plan:
    """What a record's class statement says, as far as its rewriting needs it."""

    name: str
    frozen: bool = False
    eq: bool = True
    repr: bool = True
    slots: bool = False
    fields: list[Field] = field(default_factory=list)
    #: The special methods the class defines itself.
    own: set[str] = field(default_factory=set)

    @property
    def init(self) -> list[Field]:
        return [one for one in self.fields if one.init]


def _record_names(module: ast.Module) -> tuple[set[str], str | None]:
    """The names of the module bound to `qmpnuma.records`' ``record``/``field`` by a plain
    ``from qmpnuma.records import ...`` and by nothing else at module level, and why the
    module cannot have its records rewritten, if it cannot."""
    imported: set[str] = set()
    future = False
    for statement in module.body:
        if isinstance(statement, ast.ImportFrom):
            if statement.module == "__future__":
                future = future or any(alias.name == "annotations" for alias in statement.names)
            if any(alias.name == "*" for alias in statement.names):
                return set(), "a star import"
            for alias in statement.names:
                if statement.module == "qmpnuma.records" and alias.asname is None:
                    imported.add(alias.name)
    bound: dict[str, int] = {}
    for node in _module_level(module):
        for name in _bindings(node):
            bound[name] = bound.get(name, 0) + 1
    names: set[str] = {name for name in ("record", "field")
                       if name in imported and bound[name] == 1}
    if not future:
        return names, "no `from __future__ import annotations`"
    for node in ast.walk(module):
        if isinstance(node, ast.alias) and node.name in _SPECIAL_ANNOTATIONS and (
                node.asname not in (None, node.name)):
            return names, f"{node.name} imported as {node.asname}"
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and any(
                name in _SPECIAL_ANNOTATIONS for name in _names_in(node.value)):
            return names, "a name bound to ClassVar, InitVar or KW_ONLY"
    return names, None


def _module_level(module: ast.Module) -> Iterator[ast.AST]:
    """The nodes of the module's own scope and its classes' bodies (not the insides of
    functions, lambdas and comprehensions, whose names are their own)."""
    pending: list[ast.AST] = list(module.body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            pending += node.decorator_list
            continue
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp
                      | ast.GeneratorExp):
            continue
        pending += ast.iter_child_nodes(node)


def _bindings(node: ast.AST) -> Iterator[str]:
    """The names ``node`` binds (assignments, imports, definitions)."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
        yield node.id
    elif isinstance(node, ast.alias):
        yield (node.asname or node.name).split(".")[0]
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name


def _names_in(node: ast.AST) -> Iterator[str]:
    """Every identifier ``node`` mentions (names and attribute names)."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name):
            yield inner.id
        elif isinstance(inner, ast.Attribute):
            yield inner.attr


def _constant_flag(node: ast.expr, allow_none: bool = False) -> bool | None:
    """A flag given as the constant True/False (or None where allowed); ValueError otherwise."""
    if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or (allow_none and node.value is None)):
        return node.value
    raise ValueError("a flag that is not a constant")


def _decorator_flags(decorator: ast.expr, names: set[str]) -> dict[str, bool] | None:
    """The flags of ``@record``/``@record(...)``, or None for another decorator."""
    if isinstance(decorator, ast.Name):
        return {} if decorator.id == "record" and "record" in names else None
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Name)
            and decorator.func.id == "record" and "record" in names):
        return None
    if decorator.args:
        raise ValueError("positional arguments to record")
    flags = {}
    for keyword in decorator.keywords:
        if keyword.arg not in _FLAGS:
            raise ValueError(f"record({keyword.arg}=...)")
        flag = _constant_flag(keyword.value)
        assert flag is not None
        flags[keyword.arg] = flag
    return flags


def _field_of(statement: ast.AnnAssign, names: set[str]) -> Field:
    """A field as its annotated assignment declares it."""
    assert isinstance(statement.target, ast.Name)
    name = statement.target.id
    if any(word in _SPECIAL_ANNOTATIONS for word in _names_in(statement.annotation)):
        raise ValueError(f"field {name}: ClassVar, InitVar or KW_ONLY")
    value = statement.value
    if value is None:
        return Field(name)
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id == "field"):
        return Field(name, has_value=True, has_default=True)
    if "field" not in names:
        raise ValueError(f"field {name}: a `field` not imported from qmpnuma.records")
    if value.args:
        raise ValueError(f"field {name}: positional arguments to field")
    made = Field(name, has_value=True, spec=True)
    for keyword in value.keywords:
        if keyword.arg not in _FIELD_KEYWORDS:
            raise ValueError(f"field {name}: field({keyword.arg}=...)")
        if keyword.arg == "default":
            made.has_default = True
        elif keyword.arg == "default_factory":
            made.has_factory = True
        elif keyword.arg == "hash":
            made.hash = _constant_flag(keyword.value, allow_none=True)
        else:
            setattr(made, keyword.arg, _constant_flag(keyword.value))
    if made.has_default and made.has_factory:
        raise ValueError(f"field {name}: both default and default_factory")
    return made


def plan_of(node: ast.ClassDef, names: set[str]) -> Plan | None:
    """The plan of a record's class statement, None for a class that is not a record; a
    ValueError says why a record cannot be rewritten."""
    if not node.decorator_list:
        return None
    flags = _decorator_flags(node.decorator_list[-1], names)
    if flags is None:
        return None
    if len(node.decorator_list) != 1:
        raise ValueError("another decorator")
    if node.bases or node.keywords:
        raise ValueError("bases or class keywords")
    if not ast.get_docstring(node, clean=False):
        raise ValueError("no docstring")
    plan = Plan(node.name, frozen=flags.get("frozen", False), eq=flags.get("eq", True),
                repr=flags.get("repr", True), slots=flags.get("slots", False))
    assigned: set[str] = set()
    for statement in node.body[1:]:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            if not statement.simple:
                raise ValueError("a parenthesised field")
            plan.fields.append(_field_of(statement, names))
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            assigned.add(statement.name)
        elif isinstance(statement, ast.Assign) and all(
                isinstance(target, ast.Name) for target in statement.targets):
            assigned.update(target.id for target in statement.targets
                            if isinstance(target, ast.Name))
        elif not isinstance(statement, ast.Pass):
            raise ValueError(f"a {type(statement).__name__} statement in the body")
    fields = [one.name for one in plan.fields]
    if len(set(fields)) != len(fields):
        raise ValueError("a field annotated twice")
    if assigned & set(fields):
        raise ValueError("a field's name assigned or defined in the body")
    if any(name in ("self", "record") or name.startswith(PREFIX) for name in fields) or (
            "record" in assigned):
        raise ValueError(f"a field named self, record or {PREFIX}*, or record assigned")
    if assigned & _OWN_FORBIDDEN:
        raise ValueError(f"defines {sorted(assigned & _OWN_FORBIDDEN)}")
    plan.own = {name for name in assigned if name.startswith("__") and name.endswith("__")}
    defaulted = False
    for one in plan.init:
        if one.has_default or one.has_factory:
            defaulted = True
        elif defaulted:
            raise ValueError(f"field {one.name} without a default after one with")
    return plan


def _tuple(items: list[str]) -> str:
    """Source of a tuple of strings."""
    return "(" + "".join(f"{item!r}, " for item in items) + ")"


def _store(plan: Plan, one: Field, value: str) -> str:
    """How ``__init__`` stores a field: with ``setattr`` (``_qn_set``), or in a frozen
    record past its ``__setattr__`` -- with ``object.__setattr__`` (as a dataclass does; `records`
    passes the one or the other as ``_qn_set``), or, with slots, through the field's slot
    descriptor, which the class statement has not made yet when the method is
    (`_slot_setters`). Never ``self.name = value``: from Python 3.13 on, the compiler would
    list such names in the class's ``__static_attributes__``, which ``record``'s class has
    not."""
    if plan.frozen and plan.slots:
        return f"{PREFIX}s{plan.fields.index(one)}(self, {value})"
    return f"{PREFIX}set(self, {one.name!r}, {value})"


def _slot_setters(plan: Plan) -> list[str]:
    """For a frozen slotted record: the cells of its fields' slot setters (as `record`'s fast
    ``__init__`` of such a record stores through them; ~a third cheaper than
    ``object.__setattr__`` by name, and the QMP session makes its messages per request), and
    the function `records`' ``finish`` calls with the class to fill them. Empty otherwise."""
    if not (plan.frozen and plan.slots and plan.fields):
        return []
    cells = [f"{PREFIX}s{index}" for index in range(len(plan.fields))]
    return [f"    {' = '.join(cells)} = None",
            f"    def {PREFIX}bind(cls):",
            f"        nonlocal {', '.join(cells)}",
            "        slots = cls.__dict__",
            *(f"        {cell} = slots[{one.name!r}].__set__"
              for cell, one in zip(cells, plan.fields, strict=True))]


def _default(one: Field, valued: dict[str, int]) -> str:
    """The name the init maker holds a field's default under: the class attribute it was
    given, or the ``default`` of its ``field(...)``."""
    return f"{PREFIX}{'d' if one.spec else 'v'}{valued[one.name]}"


def _init_source(plan: Plan, valued: dict[str, int]) -> list[str]:
    """``__init__``, as a dataclass's generated one: each field's parameter (its default, or
    ``<factory>`` for a factory) stored in order, then the ``init=False`` fields a factory
    fills, the ``init=False`` constants of a slotted class, ``__post_init__``."""
    parameters = ["self"]
    body = []
    for one in plan.init:
        if one.has_factory:
            parameters.append(f"{one.name}={PREFIX}factory")
            body.append(_store(plan, one, f"{PREFIX}f{valued[one.name]}() if {one.name} "
                                               f"is {PREFIX}factory else {one.name}"))
        else:
            parameters.append(f"{one.name}={_default(one, valued)}" if one.has_default
                              else one.name)
            body.append(_store(plan, one, one.name))
    for one in plan.fields:
        if not one.init and one.has_factory:
            body.append(_store(plan, one, f"{PREFIX}f{valued[one.name]}()"))
    if plan.slots:
        for one in plan.fields:
            if not one.init and one.has_default:
                body.append(_store(plan, one, _default(one, valued)))
    if "__post_init__" in plan.own:
        body.append("self.__post_init__()")
    return [f"    def __init__({', '.join(parameters)}):",
            *(f"        {line}" for line in body or ["pass"])]


def _init_maker_source(plan: Plan, valued: dict[str, int]) -> list[str]:
    """The source of the function that makes the record's ``__init__`` (`records`'
    ``prebuilt.make`` calls it): its parameters are what ``__init__`` uses besides its own
    and the body's class attribute of each field that has one, in declaration order, from
    which it takes the defaults (and factories, from a ``field(...)``)."""
    lines = [f"def {WRAPPER}({PREFIX}set, {PREFIX}factory, "
             f"{''.join(f'{PREFIX}v{index}, ' for index in valued.values())}):"]
    for one in plan.fields:
        if one.name not in valued:
            continue
        index = valued[one.name]
        if one.spec:
            lines.append(f"    {PREFIX}d{index} = {PREFIX}v{index}.default")
            if one.has_factory:
                lines.append(f"    {PREFIX}f{index} = {PREFIX}v{index}.default_factory")
    setters = _slot_setters(plan)
    return [*lines, *setters, *_init_source(plan, valued),
            f"    return __init__, {PREFIX + 'bind' if setters else None}"]


def methods_of(plan: Plan) -> list[str]:
    """The methods ``record`` would add to the record, in the order `records`' ``make``
    returns them: those the class does not define itself."""
    methods = ["__init__"]
    if plan.repr:
        methods.append("__repr__")
    if plan.eq:
        methods.append("__eq__")
        if plan.frozen:
            methods.append("__hash__")
    if plan.frozen:
        methods += ["__setattr__", "__delattr__"]
        if plan.slots:
            methods += ["__getstate__", "__setstate__"]
    return [name for name in methods if name not in plan.own]


def _tail_source(plan: Plan) -> str:
    """The statements appended to the class body: the methods and the registration that
    ``record`` would add, the class attributes it would leave."""
    valued = {one.name: index for index, one in enumerate(plan.fields) if one.has_value}
    lines = _init_maker_source(plan, valued)
    names = [one.name for one in plan.fields]
    static = (
        f"({_tuple(names)}, {_tuple([one.name for one in plan.init])}, "
        f"{_tuple([one.name for one in plan.fields if not one.init and one.has_factory])}, "
        f"{_tuple([one.name for one in plan.fields if not one.init and one.has_default])}, "
        f"{_tuple([one.name for one in plan.fields if one.repr])}, "
        f"{_tuple([one.name for one in plan.fields if one.compare])}, "
        f"{_tuple([one.name for one in plan.fields if one.hashed])})")
    flags = {"init": True, "repr": plan.repr, "eq": plan.eq, "frozen": plan.frozen,
             "slots": plan.slots}
    values = "{" + "".join(f"{name!r}: {name}, " for name in valued) + "}"
    methods = methods_of(plan)
    lines.append(f"({''.join(f'{name}, ' for name in methods)}"
                 f"__dataclass_fields__, __dataclass_params__, {STASH}) = "
                 f"record.prebuilt.make({WRAPPER}, {plan.name!r}, {static}, {values}, "
                 f"{flags!r}, {_tuple(methods)})")
    lines.append(f"del {WRAPPER}")
    if plan.eq and not plan.frozen:
        lines.append("__hash__ = None")
    if "__match_args__" not in plan.own:
        lines.append(f"__match_args__ = {_tuple([one.name for one in plan.init])}")
    # As `record`: the class attribute of a `field(...)` becomes its default or goes; a
    # slotted class keeps none (its slots replace them).
    kept = [one.name for one in plan.fields
            if one.spec and one.has_default and not plan.slots]
    lines += [f"{name} = {name}.default" for name in kept]
    gone = [one.name for one in plan.fields if one.has_value and (
        plan.slots or (one.spec and not one.has_default))]
    if gone:
        lines.append(f"del {', '.join(gone)}")
    if plan.slots:
        lines.append(f"__slots__ = {_tuple(names)}")
    return "\n".join(lines) + "\n"


def _placed(statements: list[ast.stmt], line: int) -> list[ast.stmt]:
    """``statements`` with every node on ``line`` (the class statement's)."""
    for statement in statements:
        for node in ast.walk(statement):
            if "lineno" in node._attributes:
                node.lineno = node.end_lineno = line  # type: ignore[attr-defined]
                node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
    return statements


def prebuild(module: ast.Module) -> dict[str, str | None]:
    """Rewrite the module's records that can be made ahead of time (see the module); per
    record class, None when rewritten, else why not."""
    names, module_reason = _record_names(module)
    outcome: dict[str, str | None] = {}
    for node in module.body:
        if not isinstance(node, ast.ClassDef):
            continue
        try:
            plan = plan_of(node, names)
        except ValueError as reason:
            outcome[node.name] = str(reason)
            continue
        if plan is None:
            continue
        if module_reason is not None:
            outcome[node.name] = module_reason
            continue
        node.body += _placed(ast.parse(_tail_source(plan)).body, node.lineno)
        decorator = ast.parse("record.prebuilt.finish", mode="eval").body
        for inner in ast.walk(decorator):
            ast.copy_location(inner, node.decorator_list[0])
        node.decorator_list = [decorator]
        outcome[node.name] = None
    return outcome


def qualify(code: CodeType) -> CodeType:
    """``code`` with the methods a rewritten record's wrapper defines named as methods of
    the class (``Point.__init__``, not ``Point.__qmpnuma_record__.<locals>.__init__``), as
    ``record`` names the methods it sets: their names are settled here, at compile time."""
    inner = f".{WRAPPER}.<locals>."
    consts = tuple(qualify(const) if isinstance(const, CodeType) else const
                   for const in code.co_consts)
    qualname = code.co_qualname.replace(inner, ".", 1)
    if qualname == code.co_qualname and all(
            new is old for new, old in zip(consts, code.co_consts, strict=True)):
        return code
    return code.replace(co_consts=consts, co_qualname=qualname)
