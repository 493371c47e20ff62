"""A record the start bundle's compiler rewrites is the record `record` makes of its source.

`qmpnuma.prebuilt_records` rewrites a record's class statement when the bundle is compiled so
that the class is made once, with its methods, at import. Each test compiles the same source
both ways -- as Python does (`record` runs at import) and as the bundle does
(`start_bundle._compiled_for_start`) -- runs both, and compares the classes: their attributes,
registration (`dataclasses.fields`, params), ``__init__`` signature, and what their instances
do (construction by position and keyword, defaults and factories, repr, equality, hashes,
frozen assignment, `replace`, copies, pickling state). Every record of the package is compared
so, and synthetic ones cover what the package does not use. No timing is asserted.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib
import inspect
import os
import pkgutil
import re
import sys
import types
from functools import partial
from typing import Any

import pytest

import qmpnuma
from qmpnuma import prebuilt_records, records, start_bundle
from qmpnuma.commands import registry

HEAD = "from __future__ import annotations\nfrom qmpnuma.records import field, record\n\n"


def _package_modules_with_records() -> list[str]:
    """Every module of the package that declares a record (but `records` itself)."""
    found = []
    for info in pkgutil.walk_packages(qmpnuma.__path__, "qmpnuma."):
        spec = importlib.util.find_spec(info.name)
        path = getattr(spec, "origin", None)
        if not path or not path.endswith(".py") or info.name == "qmpnuma.records":
            continue
        with open(path, encoding="utf-8") as source:
            if prebuilt_records.prebuild(ast.parse(source.read())):
                found.append(info.name)
    return sorted(found)


#: Where a repr shows an object's address (each run of a module makes its own objects).
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _text(value: Any) -> str:
    """``repr(value)`` without addresses."""
    return _ADDRESS.sub(" at 0x", repr(value))


RECORD_MODULES = _package_modules_with_records()


def _run(code: types.CodeType, name: str, path: str) -> types.ModuleType:
    """A fresh module named ``name`` that ran ``code``: in `sys.modules` while it runs (where
    `dataclasses` looks for a class's module), and then the module it replaced there again."""
    module = types.ModuleType(name)
    module.__file__ = path
    before = sys.modules.get(name)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    finally:
        if before is None:
            del sys.modules[name]
        else:
            sys.modules[name] = before
    return module


def _both(source: str, name: str = "probe_records") -> tuple[Any, Any, dict[str, str | None]]:
    """``source`` run as Python compiles it and as the bundle does, and the rewriting's
    outcome per record class."""
    path = f"/nonexistent/{name}.py"
    plain = _run(compile(source, path, "exec", dont_inherit=True), name, path)
    bundled = _run(start_bundle._compiled_for_start(source.encode(), path), name, path)
    return plain, bundled, prebuilt_records.prebuild(ast.parse(source))


def _same_value(left: Any, right: Any) -> bool:
    """Equal, or the same kind of object shown the same way (functions and classes of the two
    runs of one module are different objects)."""
    if left is right:
        return True
    if isinstance(left, types.FunctionType | type):
        return type(left) is type(right) and left.__qualname__ == right.__qualname__
    inner = getattr(left, "fget", None) or getattr(left, "__func__", None) or getattr(
        left, "func", None)
    if inner is not None:  # property, classmethod, staticmethod, cached_property
        return type(left) is type(right) and _same_value(
            inner, getattr(right, "fget", None) or getattr(right, "__func__", None)
            or getattr(right, "func", None))
    try:
        return bool(left == right)
    except Exception:
        return _text(left) == _text(right)


def _shown(value: Any) -> str:
    """How a default is compared: a function or class by its qualified name (each run of a
    module makes its own), anything else by its repr."""
    if isinstance(value, types.FunctionType | type):
        return f"{type(value).__name__} {value.__qualname__}"
    return _text(value)


def _field_facts(cls: type) -> list[tuple[Any, ...]]:
    facts = []
    for one in dataclasses.fields(cls):
        factory = one.default_factory
        facts.append((one.name, one.type, one.init, one.repr, one.hash, one.compare,
                      one.kw_only, dict(one.metadata),
                      one.default if one.default is dataclasses.MISSING else _shown(one.default),
                      factory if factory is dataclasses.MISSING else _shown(factory)))
    return facts


def _signature(method: Any) -> list[tuple[str, Any, str]]:
    """An ``__init__``'s parameters: name, kind and default as shown (without annotations,
    which the bundle leaves out)."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return []
    return [(one.name, one.kind, _shown(one.default)) for one in parameters]


def _sample(cls: type) -> dict[str, Any]:
    """Keyword arguments for ``cls``: a distinct string for every field without a default."""
    return {one.name: f"<{one.name}>" for one in dataclasses.fields(cls)
            if one.init and one.default is dataclasses.MISSING
            and one.default_factory is dataclasses.MISSING}


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as error:
        return type(error).__name__, str(error)


def assert_same_record(made: Any, prebuilt: Any) -> None:
    """``prebuilt`` (rewritten by the bundle's compiler) is what ``record`` made: ``made``."""
    assert made.__name__ == prebuilt.__name__ and made.__qualname__ == prebuilt.__qualname__
    # (``__slotnames__`` is the cache `copyreg` adds when an instance is first copied)
    assert set(vars(made)) - {"__slotnames__"} == set(vars(prebuilt)) - {"__slotnames__"}
    for name, value in vars(made).items():
        if name == "__slotnames__":
            continue
        other = vars(prebuilt)[name]
        if name in ("__dataclass_fields__", "__dataclass_params__"):
            continue  # lazy until read, which the process may have done already (see below)
        assert type(value) is type(other), name
        if isinstance(value, types.FunctionType):
            # (``__init__``'s defaults are compared with its signature, below)
            assert (value.__name__, value.__qualname__) == (other.__name__, other.__qualname__)
        elif not isinstance(value, types.MemberDescriptorType | types.GetSetDescriptorType):
            assert _same_value(value, other), name
    assert _field_facts(made) == _field_facts(prebuilt)
    assert repr(made.__dataclass_params__) == repr(prebuilt.__dataclass_params__)
    if inspect.Parameter.VAR_POSITIONAL not in [kind for _, kind, _ in _signature(made.__init__)]:
        # `record`'s fast ``__init__`` has a dataclass's signature, its generic one not
        assert _signature(made.__init__) == _signature(prebuilt.__init__)
    kwargs = _sample(made)
    first, second = _outcome(lambda: made(**kwargs)), _outcome(lambda: prebuilt(**kwargs))
    assert first[0] == second[0]
    if first[0] != "ok":
        assert first[1] == second[1]
        return
    left, right = first[1], second[1]
    names = [one.name for one in dataclasses.fields(made)]
    assert _outcome(lambda: _text(left)) == _outcome(lambda: _text(right))
    assert _text([getattr(left, name) for name in names]) == _text(
        [getattr(right, name) for name in names])
    positional = [kwargs[one.name] for one in dataclasses.fields(made) if one.name in kwargs]
    if all(one.name in kwargs or not one.init for one in dataclasses.fields(made)):
        assert _outcome(lambda: _text(made(*positional))) == _outcome(
            lambda: _text(prebuilt(*positional)))
    assert (left == made(**kwargs)) == (right == prebuilt(**kwargs))
    assert (left == object()) == (right == object())
    if isinstance(vars(made).get("__hash__"), types.FunctionType):  # else by identity, or none
        assert _outcome(lambda: hash(left)) == _outcome(lambda: hash(right))
    assert ("__hash__" in vars(made) and vars(made)["__hash__"] is None) == (
        "__hash__" in vars(prebuilt) and vars(prebuilt)["__hash__"] is None)
    assert _outcome(lambda: setattr(left, names[0], "x")) == _outcome(
        lambda: setattr(right, names[0], "x")) if names else True
    assert _outcome(lambda: delattr(left, "absent")) == _outcome(
        lambda: delattr(right, "absent"))
    assert _outcome(lambda: setattr(left, "absent", 1)) == _outcome(
        lambda: setattr(right, "absent", 1))
    assert _outcome(lambda: _text(dataclasses.asdict(left))) == _outcome(
        lambda: _text(dataclasses.asdict(right)))
    assert _outcome(lambda: _text(copy.copy(left))) == _outcome(
        lambda: _text(copy.copy(right)))
    assert _outcome(lambda: _text(left.__getstate__())) == _outcome(
        lambda: _text(right.__getstate__()))
    if kwargs:
        changed = {next(iter(kwargs)): "<changed>"}
        assert _outcome(lambda: _text(records.replace(left, **changed))) == _outcome(
            lambda: _text(records.replace(right, **changed)))
        assert _outcome(lambda: _text(dataclasses.replace(left, **changed))) == _outcome(
            lambda: _text(dataclasses.replace(right, **changed)))


@pytest.mark.parametrize("module_name", RECORD_MODULES)
def test_every_record_of_the_package_is_prebuilt_as_record_makes_it(
    module_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each record of the package the compiler rewrites is what `record` makes of it, and
    the one it leaves (`VisitError`: it has a base) is left as it is."""
    module = importlib.import_module(module_name)
    path = module.__file__
    assert path is not None
    monkeypatch.setattr(registry, "HANDLERS", {})  # a second run registers its handlers again
    with open(path, "rb") as source:
        text = source.read()
    bundled = _run(start_bundle._compiled_for_start(text, path), module_name, path)
    outcome = prebuilt_records.prebuild(ast.parse(text))
    assert outcome, "the module has records"
    for class_name, reason in outcome.items():
        if reason is None:
            assert_same_record(getattr(module, class_name), getattr(bundled, class_name))
        else:
            assert (module_name, class_name) == ("qmpnuma.qobject.input_visitor", "VisitError")


def test_the_package_s_records_are_prebuilt() -> None:
    """All records of the package but one are rewritten: a change that makes the compiler
    leave them to `record` fails here, not only in `make bench`."""
    left = {}
    count = 0
    for module_name in RECORD_MODULES:
        path = importlib.import_module(module_name).__file__
        assert path is not None
        with open(path, encoding="utf-8") as source:
            outcome = prebuilt_records.prebuild(ast.parse(source.read()))
        count += len(outcome)
        left.update({f"{module_name}.{name}": reason for name, reason in outcome.items()
                     if reason is not None})
    assert count >= 60
    assert left == {"qmpnuma.qobject.input_visitor.VisitError": "bases or class keywords"}


CASES = {
    "plain": '''
@record
class Plain:
    """Doc."""

    x: int
    y: int = 2
''',
    "frozen_slots_fields": '''
@record(frozen=True, slots=True)
class Slotted:
    """Doc."""

    name: str
    tags: tuple[str, ...] = ()
    hidden: int = field(default=0, repr=False, compare=False)
    made: list[int] = field(default_factory=lambda: [7], init=False)
    fixed: int = field(default=5, init=False)
    seen: list[str] = field(default_factory=list)
''',
    "fields_without_slots": '''
@record
class Open:
    """Doc."""

    name: str
    hidden: int = field(default=0, repr=False, compare=False, hash=True)
    made: list[int] = field(default_factory=lambda: [7], init=False)
    fixed: int = field(default=5, init=False)
    seen: list[str] = field(default_factory=list, repr=False)
    plain: str = "p"
''',
    "frozen_hash_flags": '''
@record(frozen=True)
class Hashed:
    """Doc."""

    a: int
    b: int = field(default=1, hash=False)
    c: int = field(default=2, compare=False, hash=True)
''',
    "no_eq_no_repr": '''
@record(eq=False, repr=False)
class Bare:
    """Doc."""

    a: int
''',
    "frozen_no_eq": '''
@record(frozen=True, eq=False)
class Identity:
    """Doc."""

    a: int
    b: str = "b"

    def __repr__(self) -> str:
        return "mine"
''',
    "mutable_slots": '''
@record(slots=True)
class MutableSlots:
    """Doc."""

    a: int
    b: list[int] = field(default_factory=list)
''',
    "post_init_and_methods": '''
LIMIT = 3


@record(frozen=True)
class Checked:
    """Doc."""

    size: int
    limit: int = LIMIT

    def __post_init__(self) -> None:
        if self.size > self.limit:
            raise ValueError(f"{self.size} > {self.limit}")

    @property
    def half(self) -> float:
        return self.size / 2

    def grown(self) -> Checked:
        return Checked(self.size + 1, self.limit)
''',
    "no_fields": '''
@record(frozen=True, slots=True)
class Empty:
    """Doc."""
''',
    "many_fields": '@record(frozen=True)\nclass Wide:\n    """Doc."""\n\n' + "".join(
        f"    f{index}: int{' = ' + str(index) if index >= 8 else ''}\n"
        for index in range(14)),
    "field_names_like_the_methods_own": '''
@record(frozen=True, slots=True)
class Named:
    """Doc."""

    name: str
    value: int = 0
    other: int = 0
    state: int = 0
    key: int = 0
    id: object = None
''',
    "own_getstate": '''
@record(frozen=True, slots=True)
class OwnState:
    """Doc."""

    a: int

    def __getstate__(self) -> list[int]:
        return [self.a, 99]
''',
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_synthetic_record_is_prebuilt_as_record_makes_it(case: str) -> None:
    """What the package does not use (frozen or not, slots or not, each `field` flag, no
    fields, many, ``__post_init__``, own methods) is rewritten to what `record` makes too."""
    plain, bundled, outcome = _both(HEAD + CASES[case])
    assert list(outcome.values()) == [None]
    (class_name,) = outcome
    assert_same_record(getattr(plain, class_name), getattr(bundled, class_name))


def test_the_prebuilt_init_is_a_dataclass_s() -> None:
    """The generated ``__init__`` has a dataclass's parameters (``<factory>`` for a factory)
    and fails a wrong call with CPython's own messages, as a dataclass's does; its code is
    named as a method of the class."""
    _plain, bundled, _rewritten = _both(HEAD + CASES["frozen_slots_fields"])
    prebuilt = bundled.Slotted

    # The same class as a dataclass, declared at module level as the record is.
    namespace: dict[str, Any] = {}
    exec(compile(CASES["frozen_slots_fields"].replace(
        "@record(frozen=True, slots=True)", "@dataclass(frozen=True, slots=True)"),
        "dataclass_probe.py", "exec"), {"dataclass": dataclasses.dataclass,
                                        "field": dataclasses.field}, namespace)
    Slotted = namespace["Slotted"]
    assert _signature(prebuilt.__init__) == _signature(Slotted.__init__)
    assert prebuilt.__init__.__code__.co_qualname == "Slotted.__init__"
    for args, kwargs in (((), {}), (("a", (), 0, [], 1), {}), (("a",), {"bogus": 1}),
                         (("a",), {"name": "b"})):
        assert _outcome(partial(prebuilt, *args, **kwargs)) == _outcome(
            partial(Slotted, *args, **kwargs))
    made = prebuilt("n")
    assert made.made == [7] and made.seen == [] and made.fixed == 5
    assert made.seen is not prebuilt("n").seen


#: Records the compiler leaves to `record`, and the reason it gives.
LEFT = {
    "a base": ('''
class Base:
    """Doc."""


@record
class Derived(Base):
    """Doc."""

    x: int
''', "bases or class keywords"),
    "no docstring": ('''
@record
class Bare:
    x: int
''', "no docstring"),
    "a class variable": ('''
from typing import ClassVar


@record
class WithClassVar:
    """Doc."""

    x: int
    unit: ClassVar[str] = "mm"
''', "ClassVar, InitVar or KW_ONLY"),
    "ClassVar under another name": ('''
from typing import ClassVar as Shared


@record
class Aliased:
    """Doc."""

    x: int
''', "ClassVar imported as Shared"),
    "metadata": ('''
@record
class Meta:
    """Doc."""

    x: int = field(default=0, metadata={"a": 1})
''', "field(metadata=...)"),
    "a field named self": ('''
@record
class Selfish:
    """Doc."""

    self: int
''', "a field named self"),
    "a flag that is no constant": ('''
FROZEN = True


@record(frozen=FROZEN)
class Variable:
    """Doc."""

    x: int
''', "a flag that is not a constant"),
    "own __eq__": ('''
@record
class OwnEq:
    """Doc."""

    x: int

    def __eq__(self, other: object) -> bool:
        return True
''', "defines ['__eq__']"),
    "required after default": ('''
@record
class Order:
    """Doc."""

    x: int = 0
    y: int
''', "field y without a default after one with"),
    "record rebound": ('''
record = record


@record
class Rebound:
    """Doc."""

    x: int
''', None),
}


@pytest.mark.parametrize("case", sorted(LEFT))
def test_what_cannot_be_read_from_the_source_is_left_to_record(case: str) -> None:
    """A record whose fields or flags the source alone does not settle keeps its decorator
    (the reason is given), and is then what `record` makes of it at import."""
    source, reason = LEFT[case]
    tree = ast.parse(HEAD + source)
    outcome = prebuilt_records.prebuild(tree)
    assert "prebuilt" not in ast.unparse(tree)
    if reason is None:  # not recognised as a record of `qmpnuma.records` at all
        assert outcome == {}
        return
    assert len(outcome) >= 1 and reason in str(list(outcome.values())[-1])
    plain, bundled = (_both(HEAD + source)[:2] if case != "required after default"
                      else (None, None))
    if plain is not None:
        class_name = list(outcome)[-1]
        made, kept = getattr(plain, class_name), getattr(bundled, class_name)
        assert set(vars(made)) == set(vars(kept))
        assert _outcome(lambda: _text(made(**_sample(made)))) == _outcome(
            lambda: _text(kept(**_sample(kept))))


def test_a_mutable_default_is_refused_as_record_refuses_it() -> None:
    """A rewritten record refuses a mutable default with `dataclasses`' words, as `record`
    does (it hands such a class to `dataclasses`)."""
    source = HEAD + '''
@record
class Mutable:
    """Doc."""

    items: list[int] = []
'''
    path = "/nonexistent/mutable.py"
    with pytest.raises(ValueError) as made:
        _run(compile(source, path, "exec", dont_inherit=True), "mutable", path)
    with pytest.raises(ValueError) as prebuilt:
        _run(start_bundle._compiled_for_start(source.encode(), path), "mutable", path)
    assert str(made.value) == str(prebuilt.value)
    assert "mutable default <class 'list'> for field items" in str(prebuilt.value)


def test_the_bundle_serves_prebuilt_records() -> None:
    """The bundle's code of a module with records holds them rewritten: its records are made
    by ``record.prebuilt`` when a start imports them."""
    path = importlib.import_module("qmpnuma.qmp.session").__file__
    assert path is not None and os.path.exists(path)
    with open(path, "rb") as source:
        code = start_bundle._compiled_for_start(source.read(), path)
    names = set(code.co_names)
    nested = [const for const in code.co_consts if isinstance(const, types.CodeType)]
    assert "record" in names
    assert any(prebuilt_records.WRAPPER in inner.co_names or "prebuilt" in inner.co_names
               for inner in nested)


def test_the_compiler_and_the_runtime_name_the_stash_alike() -> None:
    """`records` keeps its own copy of the stash's name (it must not import the compiler, which
    imports `dataclasses`); the two must agree."""
    assert records.STASH == prebuilt_records.STASH
    assert "prebuilt_records" not in records.__dict__ and "dataclasses" not in vars(records)
