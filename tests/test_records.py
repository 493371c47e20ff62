"""`qmpnuma.records.record` behaves as `dataclasses.dataclass` does, method by method.

Each case declares the same class twice, once with each decorator, and compares what the
model relies on: construction (positional, keyword, defaults, factories, errors), repr,
equality, hashes, frozen assignment, `fields`/`replace`/`asdict`, copies, slots, pickling.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import typing
from dataclasses import FrozenInstanceError, field
from typing import Any, ClassVar

import pytest
from fresh_interpreter import probe_lines

from qmpnuma import records
from qmpnuma.records import record

#: The two ways to declare a record's field: `dataclasses.field` and `records.field` (a
#: `records.FieldSpec` until `dataclasses` needs a `Field`).
FIELD_MAKERS = pytest.mark.parametrize("make_field", [field, records.field],
                                       ids=["dataclasses.field", "records.field"])


def _point(decorate: Any, field: Any = field) -> type[Any]:
    @decorate
    class Point:
        """A point."""

        x: int
        y: int = 2
        tags: list[str] = field(default_factory=list)
        hidden: int = field(default=0, repr=False, compare=False)
        made: list[int] = field(default_factory=lambda: [7], init=False)
        fixed: int = field(default=5, init=False)
        unit: ClassVar[str] = "mm"

    return Point


def _pair(frozen: bool, eq: bool = True, slots: bool = False,
          make_field: Any = field) -> tuple[type[Any], type[Any]]:
    return (_point(dataclasses.dataclass(frozen=frozen, eq=eq, slots=slots)),
            _point(record(frozen=frozen, eq=eq, slots=slots), make_field))


def _outcome(call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return ("ok", call(*args, **kwargs))
    except Exception as err:
        return (type(err), str(err))


def _state(obj: Any) -> dict[str, Any]:
    """Every attribute an instance holds (its ``__dict__``, or its filled slots)."""
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    return {name: getattr(obj, name) for name in type(obj).__slots__ if hasattr(obj, name)}


CALLS = [((1,), {}), ((1, 3), {}), ((), {"x": 1, "tags": ["a"]}), ((1, 2, ["b"], 4), {}),
         ((), {}), ((1, 2, [], 0, 9), {}), ((1,), {"x": 2}), ((1,), {"z": 2})]


@FIELD_MAKERS
@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("frozen", [True, False])
@pytest.mark.parametrize("eq", [True, False])
def test_record_matches_dataclass(frozen: bool, eq: bool, slots: bool, make_field: Any) -> None:
    real, ours = _pair(frozen, eq, slots, make_field)
    for args, kwargs in CALLS:
        expected = _outcome(real, *args, **kwargs)
        got = _outcome(ours, *args, **kwargs)
        if expected[0] != "ok":
            assert got[0] is expected[0]
            continue
        a, b = expected[1], got[1]
        assert repr(a).replace("test_record_matches_dataclass.<locals>.", "") == \
            repr(b).replace("test_record_matches_dataclass.<locals>.", "")
        assert _state(a) == _state(b)
        assert dataclasses.asdict(a) == dataclasses.asdict(b)
        assert [(f.name, f.type) for f in dataclasses.fields(a)] == \
            [(f.name, f.type) for f in dataclasses.fields(b)]
        assert (b == ours(*args, **kwargs)) is eq
        assert (b == real(*args, **kwargs)) is False
        assert dataclasses.replace(b, x=5).x == 5
        assert _state(copy.deepcopy(b)) == _state(b)
        if frozen and eq:  # by value (here: unhashable lists); else by identity or refused
            assert _outcome(hash, a) == _outcome(hash, b)
        assert _outcome(hash, a)[0] == _outcome(hash, b)[0]
        assert _outcome(setattr, a, "x", 1)[0] == _outcome(setattr, b, "x", 1)[0]
        assert _outcome(delattr, a, "y")[0] == _outcome(delattr, b, "y")[0]
    assert ours.__match_args__ == real.__match_args__
    assert getattr(ours, "__slots__", None) == getattr(real, "__slots__", None)
    assert ours.__annotations__ == real.__annotations__ and ours.unit == "mm"
    assert dataclasses.is_dataclass(ours)
    params = ours.__dataclass_params__  # type: ignore[attr-defined]
    assert (params.frozen, params.eq) == (frozen, eq)


def test_frozen_record_hashes_the_same_tuple() -> None:
    """Same hash values as dataclasses: sets and dicts of records iterate in the same order."""
    made = []
    for decorate in (dataclasses.dataclass(frozen=True), record(frozen=True)):
        @decorate
        class Key:
            name: str
            index: int = field(default=0, compare=False)

        made.append(Key)
    real, ours = made
    for name in ("a", "node0", ""):
        assert hash(ours(name, 3)) == hash(real(name, 5)) == hash((name,))
    assert list({ours(str(n)) for n in range(50)}) == [ours(k.name) for k in
                                                       {real(str(n)) for n in range(50)}]


def test_frozen_record_refuses_assignment() -> None:
    _, ours = _pair(frozen=True)
    point = ours(1)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        point.x = 2


def test_post_init_and_own_methods_are_kept() -> None:
    @record
    class Counted:
        value: int

        def __post_init__(self) -> None:
            self.value += 1

        def __repr__(self) -> str:
            return "mine"

    assert Counted(1).value == 2
    assert repr(Counted(1)) == "mine"


def test_subclass_of_a_dataclass_falls_back() -> None:
    @record(frozen=True)
    class Base:
        a: int

    @record(frozen=True)
    class Child(Base):
        b: int = 0

    assert Child(1, 2) == Child(1, 2)
    assert repr(Child(1)).endswith("Child(a=1, b=0)")
    with pytest.raises(FrozenInstanceError):
        Child(1).b = 3  # type: ignore[misc]


@record(frozen=True, slots=True)
class _Pickled:
    name: str
    size: int = 0


def test_frozen_slotted_record_pickles() -> None:
    """A frozen slotted record has no ``__dict__`` and refuses `setattr`: it pickles through
    the ``__getstate__``/``__setstate__`` pair a frozen slotted dataclass gets."""
    value = _Pickled("m0", 2)
    copied = pickle.loads(pickle.dumps(value))
    assert copied == value and type(copied) is _Pickled
    assert copy.copy(value) == value
    with pytest.raises(AttributeError):
        value.__dict__  # noqa: B018


def _plain_pair(count: int, defaults: int, *, frozen: bool = True,
                slots: bool = True) -> tuple[type[Any], type[Any]]:
    """The same class of ``count`` fields, the last ``defaults`` with a default, from each
    decorator (``make_dataclass`` declares it; ``record`` is applied to a copy)."""
    specs = [(f"f{index}", int) if index < count - defaults else (f"f{index}", int, index)
             for index in range(count)]
    real = dataclasses.make_dataclass("Plain", specs, frozen=frozen, slots=slots)
    namespace = {"__annotations__": {name: "int" for name, *_ in specs},
                 **{name: rest[1] for name, *rest in specs if len(rest) == 2}}
    ours = record(frozen=frozen, slots=slots)(type("Plain", (), namespace))
    return real, ours


@pytest.mark.parametrize(("frozen", "slots", "fast_up_to"),
                         [(True, True, 6), (True, False, 10), (False, False, 10)])
@pytest.mark.parametrize("count", [1, 2, 3, 6, 7, 10, 11])
def test_plain_record_takes_what_the_dataclass_takes(count: int, frozen: bool, slots: bool,
                                                     fast_up_to: int) -> None:
    """Records of up to ten plain fields (six with slots) get an ``__init__`` renamed after
    the fields (more fall back to the generic one): same binding, defaults, stored values and
    messages as the dataclass's."""
    for defaults in (0, 1, count):
        real, ours = _plain_pair(count, defaults, frozen=frozen, slots=slots)
        calls = [((), {}), (tuple(range(count)), {}), (tuple(range(count + 1)), {}),
                 ((), {f"f{index}": index for index in range(count)}),
                 ((1,), {"f0": 2}), ((), {"nope": 1}), (tuple(range(count - 1)), {}),
                 (tuple(range(count - 1)), {f"f{count - 1}": "last"})]
        for args, kwargs in calls:
            expected, got = _outcome(real, *args, **kwargs), _outcome(ours, *args, **kwargs)
            assert got[0] == expected[0], (args, kwargs)
            if expected[0] == "ok":
                assert repr(got[1]) == repr(expected[1])
                assert _state(got[1]) == _state(expected[1])
                assert got[1] == ours(*(getattr(got[1], f"f{i}") for i in range(count)))
            elif count <= fast_up_to:  # the generic method words some messages its own way
                assert got[1] == expected[1]
        made = ours(*range(count))
        if frozen:
            with pytest.raises(FrozenInstanceError):
                made.f0 = 5
        else:
            made.f0 = 5
            assert made.f0 == 5
        renamed = ours.__init__.__code__.co_varnames[:count + 1]  # type: ignore[misc]
        assert (renamed == ("self", *(f"f{index}" for index in range(count)))) is (
            count <= fast_up_to)
        assert ours.__init__.__qualname__ == "Plain.__init__"  # type: ignore[misc]


@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("name", ["self", "store", "set_0"])
def test_a_field_named_like_a_parameter_of_the_fast_init_gets_the_generic_one(
    name: str, slots: bool
) -> None:
    """A field the renamed ``__init__``'s own names would shadow keeps the generic method."""
    cls = record(frozen=True, slots=slots)(type("Odd", (), {"__annotations__": {
        "first": "int", name: "int"}}))
    made = cls(1, 2)
    assert (made.first, getattr(made, name)) == (1, 2)
    assert cls.__init__.__code__.co_varnames[:2] != ("self", "first")


# Names a string annotation can use for ClassVar, which `dataclasses` looks up in the module.
_CV = ClassVar
_CVInt = ClassVar[int]


class _Mixin:
    """A plain base: its annotations are no fields, its attributes are defaults."""

    inherited: int
    y = 9


class _SlottedBase:
    __slots__ = ("z",)


def _rich(decorate: Any, field: Any = field) -> type[Any]:
    """One class of every kind of annotation `dataclasses` reads."""
    @decorate
    class Rich(_Mixin):
        """Rich."""

        x: int
        y: int  # its default is _Mixin.y, as `getattr` finds it
        tags: list[str] = field(default_factory=list, metadata={"unit": "tag"})
        key: str = field(default="k", hash=True, compare=False)
        quiet: int = field(default=0, hash=False, repr=False)
        later: int = field(default=3, init=False)
        typed_cv: typing.ClassVar[int] = 1
        aliased_cv: _CV = 2
        subscripted_alias_cv: _CVInt = 3
        union: int | None = None
        quoted: "dict[str, int]" = field(default_factory=dict)  # noqa: UP037

    return Rich


def _variants(frozen: bool, eq: bool, slots: bool,
              make_field: Any = field) -> tuple[type[Any], type[Any]]:
    return (_rich(dataclasses.dataclass(frozen=frozen, eq=eq, slots=slots)),
            _rich(record(frozen=frozen, eq=eq, slots=slots), make_field))


def _described(fld: dataclasses.Field[Any]) -> tuple[Any, ...]:
    """Everything a Field says, a factory by what it makes."""
    return (fld.name, fld.type, fld.default,
            "none" if fld.default_factory is dataclasses.MISSING else fld.default_factory(),
            fld.init, fld.repr, fld.hash, fld.compare, dict(fld.metadata), fld.kw_only)


def _params(cls: type[Any]) -> tuple[Any, ...]:
    params = cls.__dataclass_params__
    return tuple(getattr(params, name) for name in type(params).__slots__)


@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("frozen", [True, False])
@pytest.mark.parametrize("eq", [True, False])
@pytest.mark.parametrize("make", [_pair, _variants])
@FIELD_MAKERS
def test_lazy_registration_is_what_dataclasses_registers(
        make: Any, frozen: bool, eq: bool, slots: bool, make_field: Any) -> None:
    """``__dataclass_fields__`` (ClassVars included, in order) and ``__dataclass_params__``
    are what `dataclasses.dataclass` stores for the same class; the class attributes, the
    slots and ``__match_args__`` too."""
    real, ours = make(frozen, eq, slots, make_field)
    assert isinstance(vars(ours)["__dataclass_fields__"], records._Lazy)  # not made yet
    real_fields = real.__dataclass_fields__  # type: ignore[attr-defined]
    our_fields = ours.__dataclass_fields__  # type: ignore[attr-defined]
    assert list(our_fields) == list(real_fields)
    assert [_described(f) for f in our_fields.values()] == \
        [_described(f) for f in real_fields.values()]
    assert [f.name for f in dataclasses.fields(ours)] == [f.name for f in dataclasses.fields(real)]
    assert _params(ours) == _params(real)
    assert vars(ours)["__dataclass_fields__"] is our_fields  # made once, for good
    assert ours.__match_args__ == real.__match_args__
    assert getattr(ours, "__slots__", None) == getattr(real, "__slots__", None)
    for name in real.__annotations__:
        assert (name in vars(ours)) is (name in vars(real)), name
        if name in vars(real):
            kept, expected = vars(ours)[name], vars(real)[name]
            assert type(kept) is type(expected), name
            if not slots or name not in real.__slots__:
                assert kept == expected, name


def _every_kind() -> list[type[Any]]:
    kinds: list[type[Any]] = []
    for frozen in (False, True):
        for slots in (False, True):
            for eq in (False, True):
                decorate = record(frozen=frozen, eq=eq, slots=slots)
                kinds.extend((_point(decorate), _rich(decorate)))
    return kinds


def test_creating_a_record_runs_no_dataclass_processing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Making a record never enters `dataclasses`' class processing (the cost records exist
    to avoid); the first read of its fields does, once."""
    calls: list[type] = []
    process = dataclasses._process_class  # type: ignore[attr-defined]

    def counted(cls: type, *args: Any, **kwargs: Any) -> Any:
        calls.append(cls)
        return process(cls, *args, **kwargs)

    monkeypatch.setattr(dataclasses, "_process_class", counted)
    kinds = _every_kind()
    assert calls == [] and len(kinds) == 16
    for kind in kinds:
        dataclasses.fields(kind)
        dataclasses.fields(kind)
    assert len(calls) == len(kinds)  # the counter sees dataclasses' processing


def test_subclasses_and_instances_read_the_record_registration() -> None:
    """A plain subclass of a record and the instances of both see the record's fields, from
    whichever is read first, and `replace` keeps the subclass."""
    for first in ("class", "instance", "subclass", "sub-instance"):
        _, ours = _pair(frozen=True, slots=True)

        class Sub(ours):  # type: ignore[valid-type,misc]
            extra = 1

        readers = {"class": ours, "instance": ours(1), "subclass": Sub, "sub-instance": Sub(1)}
        assert hasattr(readers[first], "__dataclass_fields__")
        assert all(dataclasses.is_dataclass(reader) for reader in readers.values())
        names = [f.name for f in dataclasses.fields(ours)]
        for reader in readers.values():
            assert [f.name for f in dataclasses.fields(reader)] == names
        assert "__dataclass_fields__" not in vars(Sub)
        assert vars(ours)["__dataclass_fields__"] is Sub.__dataclass_fields__
        changed = dataclasses.replace(Sub(1), x=4)
        assert type(changed) is Sub and changed.x == 4
        assert dataclasses.asdict(Sub(2))["x"] == 2


def test_record_without_docstring_gets_the_dataclass_one() -> None:
    made = []
    for decorate in (dataclasses.dataclass, record):
        @decorate
        class Bare:
            x: int
            y: "list[int]" = field(default_factory=list)  # noqa: UP037
            z: int = field(default=3, init=False)
            w: str = "a"

        made.append(Bare)
    assert made[1].__doc__ == made[0].__doc__ == \
        "Bare(x: 'int', y: \"'list[int]'\" = <factory>, w: 'str' = 'a')"


def _refusal(decorate: Any, namespace: dict[str, Any], bases: tuple[type, ...] = ()) -> Any:
    return _outcome(lambda: decorate(type("Refused", bases, dict(namespace))))


def _refused_namespaces(field: Any) -> list[dict[str, Any]]:
    return [
        {"__annotations__": {"items": "list[int]"}, "items": []},  # mutable default
        {"__annotations__": {}, "loose": field(default=1)},  # a field without annotation
        {"__annotations__": {"pool": "ClassVar[list[int]]"},
         "pool": field(default_factory=list)},  # a ClassVar with a factory
        {"__annotations__": {"x": "int"}, "__slots__": ("x",)},  # slots of its own (with slots)
    ]


@FIELD_MAKERS
@pytest.mark.parametrize("which", range(len(_refused_namespaces(field))))
def test_record_refuses_what_dataclasses_refuses(which: int, make_field: Any) -> None:
    namespace = {"__module__": __name__, **_refused_namespaces(field)[which]}
    ours = {"__module__": __name__, **_refused_namespaces(make_field)[which]}
    for slots in (False, True):
        expected = _refusal(dataclasses.dataclass(slots=slots), namespace)
        got = _refusal(record(slots=slots), ours)
        assert got[0] == expected[0], (got, expected)
        if expected[0] != "ok":
            assert got[1] == expected[1]


def test_inherited_slot_is_no_default() -> None:
    """A field named like a base's slot has no default (the slot descriptor is no value)."""
    made = []
    for decorate in (dataclasses.dataclass, record):
        @decorate
        class Slotted(_SlottedBase):
            z: int

        made.append(Slotted)
    real, ours = made
    assert _outcome(ours)[0] is _outcome(real)[0] is TypeError
    assert ours(3).z == real(3).z == 3
    assert [_described(f) for f in dataclasses.fields(ours)] == \
        [_described(f) for f in dataclasses.fields(real)]


@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("frozen", [True, False])
def test_records_replace_is_dataclasses_replace(frozen: bool, slots: bool) -> None:
    """`records.replace` gives what `dataclasses.replace` gives (and refuses what it refuses)
    without making the record's Field objects; on anything else it is `dataclasses.replace`."""
    real, ours = _pair(frozen, slots=slots)

    class Sub(ours):  # type: ignore[valid-type,misc]
        pass

    names = ("x", "y", "tags", "hidden", "made", "fixed")
    for changes in ({}, {"x": 5}, {"tags": ["u"], "hidden": 2}, {"made": [1]}, {"fixed": 1},
                    {"nope": 1}, {"unit": "cm"}):
        expected = _outcome(dataclasses.replace, real(1, 3, ["t"]), **changes)
        for made in (ours(1, 3, ["t"]), Sub(1, 3, ["t"])):
            got = _outcome(records.replace, made, **changes)
            assert got[0] == expected[0], (changes, got, expected)
            if expected[0] == "ok":
                assert type(got[1]) is type(made)
                assert [getattr(got[1], name) for name in names] == \
                    [getattr(expected[1], name) for name in names]
            else:
                assert got[1].replace("_pair.<locals>.Point", "Point") == \
                    expected[1].replace("_pair.<locals>.Point", "Point")
    assert isinstance(vars(ours)["__dataclass_fields__"], records._Lazy)  # still not made
    dataclasses.fields(ours)
    assert records.replace(Sub(1), y=7).y == 7  # made: dataclasses.replace from now on
    assert records.replace(real(1), y=8) == real(1, 8)
    with pytest.raises(TypeError, match="dataclass instances"):
        records.replace(object(), x=1)


@pytest.mark.parametrize("annotation", ["typing\n .ClassVar[int]", "\nClassVar", " _CV",
                                        "typing . ClassVar", "int", "\n"])
def test_class_variables_are_found_as_dataclasses_finds_them(annotation: str) -> None:
    """String annotations as `dataclasses` reads them (its pattern spans lines)."""
    namespace = {"__module__": __name__, "__annotations__": {"x": "int", "odd": annotation},
                 "odd": 1}
    real = dataclasses.dataclass(type("Odd", (), dict(namespace)))
    ours = record(type("Odd", (), dict(namespace)))
    assert [f.name for f in dataclasses.fields(ours)] == \
        [f.name for f in dataclasses.fields(real)]
    assert ours.__match_args__ == real.__match_args__


def test_records_field_checks_as_dataclasses_field_does() -> None:
    """`records.field` takes `dataclasses.field`'s arguments and refuses what it refuses."""
    expected = _outcome(field, default=1, default_factory=list)
    assert _outcome(records.field, default=1, default_factory=list) == expected
    assert expected[0] is ValueError
    assert _outcome(records.field, 1)[0] is _outcome(field, 1)[0] is TypeError


def test_a_records_field_in_a_plain_dataclass_is_refused() -> None:
    """A `records.field` meant for a record but put in a plain dataclass is refused (it is
    unhashable, so `dataclasses` takes it for a mutable default), never taken for a default."""
    with pytest.raises(ValueError, match="mutable default"):
        @dataclasses.dataclass
        class Plain:
            items: list[int] = records.field(default_factory=list)  # noqa: RUF009


def test_a_record_falling_back_to_dataclasses_gets_real_fields() -> None:
    """A record `dataclasses` must make (here: an ``InitVar``) has its `records.field`s
    turned into `dataclasses.Field`s first, so it behaves as the same dataclass."""
    def declare(decorate: Any, make_field: Any) -> Any:
        @decorate
        class Scaled:
            """Scaled."""

            base: int
            factor: dataclasses.InitVar[int] = 2
            tags: list[str] = make_field(default_factory=list)
            value: int = make_field(default=0, init=False)

            def __post_init__(self, factor: int) -> None:
                self.value = self.base * factor

        return Scaled

    real = declare(dataclasses.dataclass, field)
    ours = declare(record, records.field)
    assert repr(ours(3, 4)).split("(")[1] == repr(real(3, 4)).split("(")[1]
    assert [_described(f) for f in dataclasses.fields(ours)] == \
        [_described(f) for f in dataclasses.fields(real)]


def test_making_and_using_records_never_imports_dataclasses() -> None:
    """Records and `records.field` need nothing from `dataclasses` (issue 12: its import, with
    `copy` and a pattern, cost ~1.2 ms of a start) until something asks for what only it has:
    the `Field` objects, or the error a frozen record raises."""
    probe = (
        "import sys\n"
        "from qmpnuma.records import field, record, replace\n"
        "@record(frozen=True, slots=True)\n"
        "class P:\n"
        "    x: int\n"
        "    tags: tuple = field(default_factory=tuple)\n"
        "p = replace(P(1), x=2)\n"
        "print(p, p == P(2), hash(p) == hash(P(2)), 'dataclasses' in sys.modules)\n"
        "try:\n"
        "    p.x = 3\n"
        "except Exception as error:\n"
        "    print(type(error).__module__, type(error).__name__, 'dataclasses' in sys.modules)\n"
    )
    assert probe_lines(probe) == [
        "P(x=2, tags=()) True True False",
        "dataclasses FrozenInstanceError True",
    ]
