"""`record`: a dataclass whose methods are built at import without compiling any source.

`dataclasses.dataclass` writes each method it adds (``__init__``, ``__repr__``, ``__eq__``,
``__hash__`` and, when frozen, ``__setattr__``/``__delattr__``) as Python source and compiles it
with ``exec`` while the class statement runs: about a tenth of a millisecond per method, five
methods per frozen class. The machine model, the profiles and the option parser declare some
sixty dataclasses on the way to a server's first reply, and that compiling was half of qmpnuma's
import time (issue 12: cold start).

A record is the same class: the fields are read and registered by `dataclasses` itself
(`dataclasses.fields`, `replace`, `asdict`, `is_dataclass`, pickling and ``__match_args__``
work as before), and the methods behave as the generated ones do -- the same keyword and
positional arguments, defaults and ``default_factory``, ``__post_init__``, the same ``repr``
text, equality against the same class only, the same ``__hash__`` values (the hash of the same
tuple), `FrozenInstanceError` on assignment to a frozen record. They are closures over the
field table instead of compiled source, so building a class costs microseconds; calling
``__init__`` costs about twice the generated one, except for a slotted record of up to six
plain fields, whose ``__init__`` has the generated one's own signature and is faster than it
(`_slot_init`: the QMP session's messages, made per request, are such records). Dataclasses
off the start path (fleets, traces, fault plans, replay) stay plain dataclasses.

For the type checker a record *is* a dataclass (the name is bound to `dataclasses.dataclass`
when type checking), so mypy checks construction, `replace` and frozen assignments as it always
did. ``@record(slots=True)`` gives the class `__slots__` as ``dataclass(slots=True)`` does
(`dataclasses` makes the slotted class; that compiles nothing either), and a frozen slotted
record pickles as a frozen slotted dataclass does. Not supported: ``order``, ``kw_only``
(neither is accepted), ``InitVar`` fields and classes inheriting from another dataclass (those
two fall back to `dataclasses.dataclass`).
"""

from __future__ import annotations

import dataclasses
import inspect
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, Field, FrozenInstanceError
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar, cast

__all__ = ["record"]

_C = TypeVar("_C", bound=type)
_set_attribute = object.__setattr__
_Setter = Callable[[Any, Any], None]


def _init_method(
    cls: type[Any], flds: list[Field[Any]], frozen: bool, slots: bool
) -> Callable[..., None]:
    """``__init__``: the init fields positionally or by keyword, then defaults/factories."""
    names = tuple(f.name for f in flds if f.init)
    # (name, default, factory) per init field, in declaration order.
    spec = tuple(
        (f.name, f.default, None if f.default_factory is MISSING else f.default_factory)
        for f in flds if f.init
    )
    # Fields left out of __init__ that a factory fills; their plain defaults stay class
    # attributes, except in a slotted class (whose slots replace them), as in `dataclasses`.
    filled = tuple((f.name, f.default_factory) for f in flds
                   if not f.init and f.default_factory is not MISSING)
    if slots:
        filled += tuple((f.name, _constant(f.default)) for f in flds
                        if not f.init and f.default_factory is MISSING
                        and f.default is not MISSING)
    post_init = hasattr(cls, "__post_init__")
    store = _set_attribute if frozen else setattr
    count = len(names)
    qualname = f"{cls.__qualname__}.__init__()"

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        given = len(args)
        if given > count:
            raise TypeError(f"{qualname} takes {count + 1} positional arguments "
                            f"but {given + 1} were given")
        for name, value in zip(names, args, strict=False):
            store(self, name, value)
        for name, default, factory in spec[given:]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif factory is not None:
                value = factory()
            elif default is not MISSING:
                value = default
            else:
                raise TypeError(f"{qualname} missing 1 required argument: '{name}'")
            store(self, name, value)
        if kwargs:
            name = next(iter(kwargs))
            if name in names:
                raise TypeError(f"{qualname} got multiple values for argument '{name}'")
            raise TypeError(f"{qualname} got an unexpected keyword argument '{name}'")
        for name, factory in filled:
            store(self, name, factory())
        if post_init:
            self.__post_init__()

    return __init__


# One ``__init__`` per number of fields for `_slot_init`: each stores its arguments through
# the fields' slot descriptors (``set_N``), which is what the generated ``__init__`` of a
# slotted dataclass amounts to, minus its ``object.__setattr__`` lookups by name.
def _takes_1(set_0: _Setter) -> Callable[..., None]:
    def __init__(self: Any, a0: Any) -> None:
        set_0(self, a0)

    return __init__


def _takes_2(set_0: _Setter, set_1: _Setter) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any) -> None:
        set_0(self, a0)
        set_1(self, a1)

    return __init__


def _takes_3(set_0: _Setter, set_1: _Setter, set_2: _Setter) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any, a2: Any) -> None:
        set_0(self, a0)
        set_1(self, a1)
        set_2(self, a2)

    return __init__


def _takes_4(
    set_0: _Setter, set_1: _Setter, set_2: _Setter, set_3: _Setter
) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any, a2: Any, a3: Any) -> None:
        set_0(self, a0)
        set_1(self, a1)
        set_2(self, a2)
        set_3(self, a3)

    return __init__


def _takes_5(
    set_0: _Setter, set_1: _Setter, set_2: _Setter, set_3: _Setter, set_4: _Setter
) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any) -> None:
        set_0(self, a0)
        set_1(self, a1)
        set_2(self, a2)
        set_3(self, a3)
        set_4(self, a4)

    return __init__


def _takes_6(
    set_0: _Setter, set_1: _Setter, set_2: _Setter, set_3: _Setter, set_4: _Setter,
    set_5: _Setter,
) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any) -> None:
        set_0(self, a0)
        set_1(self, a1)
        set_2(self, a2)
        set_3(self, a3)
        set_4(self, a4)
        set_5(self, a5)

    return __init__


_TAKES: tuple[Callable[..., Callable[..., None]], ...] = (
    _takes_1, _takes_2, _takes_3, _takes_4, _takes_5, _takes_6)


def _slot_init(cls: type[Any], flds: list[Field[Any]]) -> Callable[..., None] | None:
    """A slotted record's ``__init__`` with the generated one's signature, or None when it
    needs more than storing its arguments (``default_factory``, ``init=False`` fields,
    ``__post_init__``) or has more fields than `_TAKES` covers.

    It is one of the `_TAKES` functions with its parameters renamed after the fields
    (`types.CodeType.replace`: nothing is compiled) and the fields' defaults as its own, so
    keywords, defaults and the messages of a wrong call are the generated method's; records
    made per request (the QMP session's messages) pay no more than a dataclass for them.
    """
    names = tuple(f.name for f in flds)
    if (not 0 < len(flds) <= len(_TAKES) or hasattr(cls, "__post_init__")
            or any(not f.init or f.default_factory is not MISSING for f in flds)
            or any(name.startswith("set_") for name in names)):
        return None
    setters = [cls.__dict__[name].__set__ for name in names]
    method = _TAKES[len(flds) - 1](*setters)
    method.__code__ = method.__code__.replace(
        co_varnames=("self", *names), co_qualname=f"{cls.__qualname__}.__init__")
    defaults = tuple(f.default for f in flds if f.default is not MISSING)
    if any(f.default is MISSING for f in flds[len(flds) - len(defaults):]):
        return None  # a field without a default after one with (the generic method says so)
    method.__defaults__ = defaults or None
    return method


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _tuple_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of ``names``' values, as the generated methods build it (``(self.a,)``)."""
    if len(names) == 1:
        single = attrgetter(names[0])
        return lambda obj: (single(obj),)
    if not names:
        return lambda obj: ()
    return attrgetter(*names)


def _repr_method(names: tuple[str, ...]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _eq_method(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _hash_method(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(values(self))

    return __hash__


def _frozen_methods(cls: type[Any], names: tuple[str, ...]) -> dict[str, Callable[..., None]]:
    field_names = frozenset(names)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in field_names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in field_names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return {"__setattr__": __setattr__, "__delattr__": __delattr__}


def _pickle_methods(names: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
    """``__getstate__``/``__setstate__`` of a frozen slotted class (no ``__dict__`` to pickle,
    and its ``__setattr__`` refuses): the field values in order, as `dataclasses` does."""
    values = _tuple_of(names)

    def __getstate__(self: Any) -> list[Any]:
        return list(values(self))

    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state, strict=False):
            _set_attribute(self, name, value)

    return {"__getstate__": __getstate__, "__setstate__": __setstate__}


def _falls_back(cls: type) -> bool:
    """Cases `record` leaves to `dataclasses`: dataclass bases, InitVar or KW_ONLY fields."""
    if any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:]):
        return True
    annotations = inspect.get_annotations(cls)
    return any("InitVar" in str(kind) or "KW_ONLY" in str(kind) for kind in annotations.values())


def _registered(cls: _C, slots: bool) -> _C:
    """``cls`` with its fields read and registered by `dataclasses` (and made slotted).

    With these flags `dataclasses` adds no method. Meanwhile the class's annotations read as
    ``object``: under ``from __future__ import annotations`` they are strings, which
    `dataclasses` parses three times per field to rule out ``ClassVar``/``InitVar``/``KW_ONLY``
    (the second are left to `_falls_back`, annotations naming the first are kept), most of
    what registering costs. The fields get their own annotations back as their ``type``.
    """
    annotations = inspect.get_annotations(cls)
    if not annotations:
        return cast(_C, dataclasses.dataclass(cls, init=False, repr=False, eq=False, slots=slots))
    cls.__annotations__ = {name: kind if "ClassVar" in str(kind) else object
                           for name, kind in annotations.items()}
    try:
        made = cast(_C, dataclasses.dataclass(cls, init=False, repr=False, eq=False,
                                              slots=slots))
    finally:
        cls.__annotations__ = annotations
    made.__annotations__ = annotations  # the slotted class copied the stand-ins
    for fld in dataclasses.fields(made):
        fld.type = annotations[fld.name]
    return made


def _make_record(cls: _C, *, frozen: bool, eq: bool, repr: bool, slots: bool) -> _C:
    if _falls_back(cls):
        return cast(_C, dataclasses.dataclass(cls, frozen=frozen, eq=eq, repr=repr,
                                              slots=slots))
    own = dict(cls.__dict__)
    class_hash = own.get("__hash__", MISSING)
    explicit_hash = not (class_hash is MISSING or (class_hash is None and "__eq__" in own))
    cls = _registered(cls, slots)
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    params.init, params.repr, params.eq, params.frozen = True, repr, eq, frozen
    flds = list(dataclasses.fields(cls))
    fast_init = _slot_init(cls, flds) if slots else None
    methods: dict[str, Callable[..., Any]] = {
        "__init__": fast_init if fast_init is not None else _init_method(cls, flds, frozen, slots)}
    if repr:
        methods["__repr__"] = _repr_method(tuple(f.name for f in flds if f.repr))
    compared = _tuple_of(tuple(f.name for f in flds if f.compare))
    if eq:
        methods["__eq__"] = _eq_method(compared)
    if frozen:
        methods.update(_frozen_methods(cls, tuple(f.name for f in flds)))
    if frozen and slots:
        methods.update(_pickle_methods(tuple(f.name for f in flds)))
    for name, method in methods.items():
        if name not in own:
            method.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, method)
    if eq and not explicit_hash:
        # As dataclasses: a mutable record with __eq__ is unhashable, a frozen one hashes
        # the tuple of its hashed fields.
        hashed = _tuple_of(tuple(f.name for f in flds
                                 if (f.compare if f.hash is None else f.hash)))
        cls.__hash__ = _hash_method(hashed) if frozen else None  # type: ignore[assignment]
    return cls


def _record(
    cls: _C | None = None, /, *, frozen: bool = False, eq: bool = True, repr: bool = True,
    slots: bool = False,
) -> _C | Callable[[_C], _C]:
    """``@record``, ``@record(frozen=True, slots=True)``, ``@record(eq=False)``: see the
    module."""
    if cls is None:
        return lambda inner: _make_record(inner, frozen=frozen, eq=eq, repr=repr, slots=slots)
    return _make_record(cls, frozen=frozen, eq=eq, repr=repr, slots=slots)


if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:
    record = _record
