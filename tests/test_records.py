"""`qmpnuma.records.record` behaves as `dataclasses.dataclass` does, method by method.

Each case declares the same class twice, once with each decorator, and compares what the
model relies on: construction (positional, keyword, defaults, factories, errors), repr,
equality, hashes, frozen assignment, `fields`/`replace`/`asdict`, copies, slots, pickling.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import FrozenInstanceError, field
from typing import Any, ClassVar

import pytest

from qmpnuma.records import record


def _pair(frozen: bool, eq: bool = True, slots: bool = False) -> tuple[type[Any], type[Any]]:
    made = []
    for decorate in (dataclasses.dataclass(frozen=frozen, eq=eq, slots=slots),
                     record(frozen=frozen, eq=eq, slots=slots)):
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

        made.append(Point)
    return made[0], made[1]


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


@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("frozen", [True, False])
@pytest.mark.parametrize("eq", [True, False])
def test_record_matches_dataclass(frozen: bool, eq: bool, slots: bool) -> None:
    real, ours = _pair(frozen, eq, slots)
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


def _plain_pair(count: int, defaults: int) -> tuple[type[Any], type[Any]]:
    """The same slotted class of ``count`` fields, the last ``defaults`` with a default, from
    each decorator (``make_dataclass`` declares it; ``record`` is applied to a copy)."""
    specs = [(f"f{index}", int) if index < count - defaults else (f"f{index}", int, index)
             for index in range(count)]
    real = dataclasses.make_dataclass("Plain", specs, frozen=True, slots=True)
    namespace = {"__annotations__": {name: "int" for name, *_ in specs},
                 **{name: rest[1] for name, *rest in specs if len(rest) == 2}}
    ours = record(frozen=True, slots=True)(type("Plain", (), namespace))
    return real, ours


@pytest.mark.parametrize("count", [1, 2, 3, 6, 7])
def test_slotted_record_takes_what_the_dataclass_takes(count: int) -> None:
    """Slotted records of up to six plain fields get an ``__init__`` renamed after the fields
    (seven fall back to the generic one): same binding, defaults and messages."""
    for defaults in (0, 1, count):
        real, ours = _plain_pair(count, defaults)
        calls = [((), {}), (tuple(range(count)), {}), (tuple(range(count + 1)), {}),
                 ((), {f"f{index}": index for index in range(count)}),
                 ((1,), {"f0": 2}), ((), {"nope": 1}), (tuple(range(count - 1)), {})]
        for args, kwargs in calls:
            expected, got = _outcome(real, *args, **kwargs), _outcome(ours, *args, **kwargs)
            assert got[0] == expected[0], (args, kwargs)
            if expected[0] == "ok":
                assert repr(got[1]) == repr(expected[1])
                assert _state(got[1]) == _state(expected[1])
            elif count < 7:  # the generic method words some messages its own way
                assert got[1] == expected[1]
        with pytest.raises(FrozenInstanceError):
            ours(*range(count)).f0 = 5
        renamed = ours.__init__.__code__.co_varnames[:count + 1]  # type: ignore[misc]
        assert (renamed == ("self", *(f"f{index}" for index in range(count)))) is (count < 7)
