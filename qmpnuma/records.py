"""`record`: a dataclass whose methods are built at import without compiling any source.

`dataclasses.dataclass` writes each method it adds (``__init__``, ``__repr__``, ``__eq__``,
``__hash__`` and, when frozen, ``__setattr__``/``__delattr__``) as Python source and compiles it
with ``exec`` while the class statement runs: about a tenth of a millisecond per method, five
methods per frozen class. The machine model, the profiles and the option parser declare some
sixty dataclasses on the way to a server's first reply, and that compiling was half of qmpnuma's
import time (issue 12: cold start).

A record is the same class, and making one runs none of `dataclasses`' class processing
either: that processing (``_process_class``: a `Field` per annotation, each string annotation
parsed three times for ClassVar/InitVar/KW_ONLY, the slotted class remade, abc checks) cost
4-5 ms of the sixty records on the start path even with no method to write. Instead:

- the fields are read here, by `dataclasses`' own rules (`_read_layout`): the class's own
  annotations minus ClassVars (a string annotation is a ClassVar when its first name means
  ``ClassVar`` in the class's module, as `dataclasses` decides; the first names are read
  once per distinct string, and per field only in a class where one may), each default
  the class attribute of that name or a `field` (this module's or `dataclasses.field`: its
  ``default``, ``default_factory``, ``init``, ``repr``, ``hash``, ``compare``), the class
  attribute of a `field` then replaced by its default; what `dataclasses` would refuse (a
  mutable default, a `field` without annotation...) is handed to it to refuse in its own
  words;
- ``@record(slots=True)`` remakes the class with ``__slots__`` as ``dataclass(slots=True)``
  does (`_slotted`), and a frozen slotted record pickles as a frozen slotted dataclass does;
- ``__match_args__`` is set at once (cheap); a class without a docstring gets the one
  `dataclasses` would write (name and ``__init__`` signature);
- ``__dataclass_fields__`` and ``__dataclass_params__`` are LAZY (`_Lazy`, `_Registration`):
  the first read (`dataclasses.fields`, `replace`, `asdict`, `is_dataclass`, copying a
  dataclass field by field...) from the class, an instance or a subclass has `dataclasses`
  itself make the `Field` objects (its decorator on a stand-in class with the same
  annotations and class attributes) and they replace the placeholders for good. So
  `dataclasses.fields`, `replace`, `asdict`, `is_dataclass` and pickling work as before;
- `field` here is `dataclasses.field` (to mypy as well) kept as a `FieldSpec`, so making
  and using records never imports `dataclasses` (with `copy` and a pattern it cost ~1.2 ms
  of a start): only a record's `Field` objects and a frozen record's `FrozenInstanceError`
  need it, and import it then. A `FieldSpec` belongs in a record: a plain dataclass refuses
  it as a mutable default;
- `replace` here is `dataclasses.replace` (to mypy as well) that does not need the Field
  objects of a record whose registration is not made yet: the records replaced on the way
  to the first reply (the 10.0 profile built from 7.2's, machine types, chardevs) keep it
  unmade.

The methods behave as the generated ones do -- the same keyword and positional arguments,
defaults and ``default_factory``, ``__post_init__``, the same ``repr`` text, equality against
the same class only, the same ``__hash__`` values (the hash of the same tuple),
`FrozenInstanceError` on assignment to a frozen record, ``__replace__`` from Python 3.13 on.
They are closures over the field table instead of compiled source, so making a record costs
tens of microseconds (a few hundred for `dataclasses.dataclass`); calling
``__init__`` costs about twice the generated one, except for a record of up to ten plain
fields (six with slots), whose ``__init__`` has the generated one's own signature and is as fast
as it or faster (`_fast_init`: the QMP session's messages, made per request, and most of the
option parser's and the model's, made per option, are such records). Dataclasses
off the start path (fleets, traces, fault plans, replay) stay plain dataclasses.

A record served from the start bundle is made otherwise: the bundle's compiler
(`qmpnuma.prebuilt_records`) reads its fields from the source and writes its ``__init__`` into
its class body, and the body calls ``record.prebuilt`` (`_Prebuilt`) for the other methods and
the lazy registration, so the class is made once, with its methods in it, and no layout is
read at import. The same class results (``tests/test_prebuilt_records.py`` compares every
record of the package made both ways).

For the type checker a record *is* a dataclass (the name is bound to `dataclasses.dataclass`
when type checking), so mypy checks construction, `replace` and frozen assignments as it always
did. Not supported: ``order``, ``kw_only`` (neither is accepted; ``field(kw_only=True)``,
``InitVar``/``KW_ONLY`` annotations and classes inheriting from another dataclass fall back to
`dataclasses.dataclass`, which compiles its methods).
"""

from __future__ import annotations

import abc
import inspect
import re
import sys
import typing
from _thread import get_ident
from collections.abc import Callable
from operator import attrgetter, methodcaller
from types import MemberDescriptorType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast, get_origin

if TYPE_CHECKING:
    from dataclasses import Field

__all__ = ["field", "record", "replace"]

_C = TypeVar("_C", bound=type)
_set_attribute = object.__setattr__
_Setter = Callable[[Any, Any], None]
_Store = Callable[[Any, str, Any], None]
#: Python 3.13's `copy.replace` protocol, which `dataclasses` gives every dataclass.
_HAS_REPLACE_PROTOCOL = sys.version_info >= (3, 13)
#: What `dataclasses.replace` raises for an ``init=False`` field given to it (a ValueError
#: until Python 3.13, a TypeError from 3.13 on).
_INIT_FALSE_REPLACED: type[Exception] = TypeError if _HAS_REPLACE_PROTOCOL else ValueError


class _MissingType:
    """"No value given" (a field without a default, a parameter left out): what
    ``dataclasses.MISSING`` is to `dataclasses`, kept apart so that making a record needs
    nothing from that module."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _MissingType()


class FieldSpec:
    """What ``field(...)`` was given for a record's field, until `dataclasses` needs it as a
    `dataclasses.Field` (`made`): when a record's registration is made, or a class is handed
    to `dataclasses` to make (or refuse).

    It is unhashable, so that `dataclasses` refuses one it meets as a plain default (a
    record's `field` used in a plain dataclass) instead of taking it for the default.
    """

    __slots__ = ("compare", "default", "default_factory", "hash", "init", "kw_only",
                 "metadata", "repr")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, default: Any, default_factory: Any, init: bool, repr: bool,
                 hash: bool | None, compare: bool, metadata: Any, kw_only: Any) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.hash = hash
        self.compare = compare
        self.metadata = metadata
        self.kw_only = kw_only

    @classmethod
    def of(cls, value: Any) -> FieldSpec | None:
        """``value`` as a FieldSpec: itself, one read from a `dataclasses.Field` (only if
        `dataclasses` is loaded, as nothing else can have made one), or None for anything
        else."""
        if value.__class__ is cls:
            spec: FieldSpec = value
            return spec
        loaded = sys.modules.get("dataclasses")
        if loaded is None or not isinstance(value, loaded.Field):
            return None
        given = {name: MISSING if getattr(value, name) is loaded.MISSING
                 else getattr(value, name) for name in cls.__slots__}
        return cls(**given)

    def made(self) -> Field[Any]:
        """The `dataclasses.Field` that ``dataclasses.field`` makes of the same arguments."""
        import dataclasses

        given: dict[str, Any] = {name: dataclasses.MISSING if getattr(self, name) is MISSING
                                 else getattr(self, name) for name in self.__slots__}
        made: Field[Any] = dataclasses.field(**given)
        return made


def _field(*, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True,
           repr: bool = True, hash: bool | None = None, compare: bool = True,
           metadata: Any = None, kw_only: Any = MISSING) -> Any:
    """``dataclasses.field`` for records: the same arguments and checks, kept as a
    `FieldSpec` (see the module)."""
    return FieldSpec(default, default_factory, init, repr, hash, compare, metadata, kw_only)


def _init_method(
    cls: type[Any], layout: _Layout, frozen: bool, slots: bool
) -> Callable[..., None]:
    """``__init__``: the init fields positionally or by keyword, then defaults/factories."""
    # (name, default, factory) per init field, in declaration order.
    spec = tuple(layout.init)
    names = tuple(name for name, _, _ in spec)
    # Fields left out of __init__ that a factory fills; their plain defaults stay class
    # attributes, except in a slotted class (whose slots replace them), as in `dataclasses`.
    filled = tuple(layout.filled)
    if slots and layout.constants:
        filled += tuple((name, _constant(default)) for name, default in layout.constants)
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


# One ``__init__`` per number of fields for `_fast_init` of a slotted record: each stores its
# arguments through the fields' slot descriptors (``set_N``), which is what the generated
# ``__init__`` of a slotted dataclass amounts to, minus its ``object.__setattr__`` lookups by
# name.
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


# One ``__init__`` per number of fields for `_fast_init` of a record without slots: each stores
# its arguments with ``store`` (``object.__setattr__`` for a frozen record, ``setattr`` else, as
# the generated ``__init__`` does) under placeholder names, replaced by the fields' names in the
# code's constants.
def _names_1(store: _Store) -> Callable[..., None]:
    def __init__(self: Any, a0: Any) -> None:
        store(self, "\0f0", a0)

    return __init__


def _names_2(store: _Store) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any) -> None:
        store(self, "\0f0", a0)
        store(self, "\0f1", a1)

    return __init__


def _names_3(store: _Store) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any, a2: Any) -> None:
        store(self, "\0f0", a0)
        store(self, "\0f1", a1)
        store(self, "\0f2", a2)

    return __init__


def _names_4(store: _Store) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any, a2: Any, a3: Any) -> None:
        store(self, "\0f0", a0)
        store(self, "\0f1", a1)
        store(self, "\0f2", a2)
        store(self, "\0f3", a3)

    return __init__


def _names_5(store: _Store) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any) -> None:
        store(self, "\0f0", a0)
        store(self, "\0f1", a1)
        store(self, "\0f2", a2)
        store(self, "\0f3", a3)
        store(self, "\0f4", a4)

    return __init__


def _names_6(store: _Store) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any) -> None:
        store(self, "\0f0", a0)
        store(self, "\0f1", a1)
        store(self, "\0f2", a2)
        store(self, "\0f3", a3)
        store(self, "\0f4", a4)
        store(self, "\0f5", a5)

    return __init__


def _names_7(store: _Store) -> Callable[..., None]:
    def __init__(self: Any, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any) -> None:
        store(self, "\0f0", a0)
        store(self, "\0f1", a1)
        store(self, "\0f2", a2)
        store(self, "\0f3", a3)
        store(self, "\0f4", a4)
        store(self, "\0f5", a5)
        store(self, "\0f6", a6)

    return __init__


def _names_8(store: _Store) -> Callable[..., None]:
    def __init__(
        self: Any, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any
    ) -> None:
        store(self, "\0f0", a0)
        store(self, "\0f1", a1)
        store(self, "\0f2", a2)
        store(self, "\0f3", a3)
        store(self, "\0f4", a4)
        store(self, "\0f5", a5)
        store(self, "\0f6", a6)
        store(self, "\0f7", a7)

    return __init__


def _names_9(store: _Store) -> Callable[..., None]:
    def __init__(
        self: Any, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any,
        a8: Any,
    ) -> None:
        store(self, "\0f0", a0)
        store(self, "\0f1", a1)
        store(self, "\0f2", a2)
        store(self, "\0f3", a3)
        store(self, "\0f4", a4)
        store(self, "\0f5", a5)
        store(self, "\0f6", a6)
        store(self, "\0f7", a7)
        store(self, "\0f8", a8)

    return __init__


def _names_10(store: _Store) -> Callable[..., None]:
    def __init__(
        self: Any, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any, a5: Any, a6: Any, a7: Any,
        a8: Any, a9: Any,
    ) -> None:
        store(self, "\0f0", a0)
        store(self, "\0f1", a1)
        store(self, "\0f2", a2)
        store(self, "\0f3", a3)
        store(self, "\0f4", a4)
        store(self, "\0f5", a5)
        store(self, "\0f6", a6)
        store(self, "\0f7", a7)
        store(self, "\0f8", a8)
        store(self, "\0f9", a9)

    return __init__


_NAMES: tuple[Callable[..., Callable[..., None]], ...] = (
    _names_1, _names_2, _names_3, _names_4, _names_5, _names_6, _names_7, _names_8, _names_9,
    _names_10)
#: The constants of the `_NAMES` functions after their first (None): field ``i``'s placeholder.
_PLACEHOLDERS = tuple(f"\0f{index}" for index in range(len(_NAMES)))
#: Field names that the fast ``__init__``'s own names would shadow.
_SHADOWED = frozenset(("self", "store"))


def _fast_init(cls: type[Any], layout: _Layout, frozen: bool,
               slots: bool) -> Callable[..., None] | None:
    """A record's ``__init__`` with the generated one's signature, or None when it needs more
    than storing its arguments (``default_factory``, ``init=False`` fields, ``__post_init__``),
    has more fields than `_TAKES` (slotted) or `_NAMES` cover, or a field whose name the
    function's own names would shadow (``self``, ``store``, ``set_N``).

    It is one of those functions with its parameters renamed after the fields
    (`types.CodeType.replace`: nothing is compiled) and the fields' defaults as its own, so
    keywords, defaults and the messages of a wrong call are the generated method's. A slotted
    record's stores through its slot descriptors; the others' through ``store`` under the
    fields' names, put in its constants. Records made per request (the QMP session's messages)
    or per option (the option parser's) pay no more than a dataclass for them.
    """
    names = tuple(layout.names)
    count = len(names)
    if (not 0 < count <= len(_TAKES if slots else _NAMES)
            or len(layout.init) != count or hasattr(cls, "__post_init__")):
        return None
    defaults = []
    for name, default, factory in layout.init:
        if factory is not None or name in _SHADOWED or name.startswith("set_"):
            return None
        if default is not MISSING:
            defaults.append(default)
        elif defaults:
            return None  # a field without a default after one with (the generic method says so)
    if slots:
        method = _TAKES[count - 1](*[cls.__dict__[name].__set__ for name in names])
        consts = method.__code__.co_consts
    else:
        method = _NAMES[count - 1](_set_attribute if frozen else setattr)
        placeholders = method.__code__.co_consts
        if placeholders[1:] != _PLACEHOLDERS[:count]:
            return None  # compiled otherwise than `_NAMES` expects (see the tests)
        consts = (placeholders[0], *names)
    method.__code__ = method.__code__.replace(
        co_consts=consts, co_varnames=("self", *names),
        co_qualname=f"{cls.__qualname__}.__init__")
    method.__defaults__ = tuple(defaults) or None
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
    # As `reprlib.recursive_repr` (and dataclasses' own copy of it): a record met again
    # while its repr is being made shows as ``...``.
    running: set[tuple[int, int]] = set()

    def __repr__(self: Any) -> str:
        key = id(self), get_ident()
        if key in running:
            return "..."
        running.add(key)
        try:
            shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        finally:
            running.discard(key)
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


def _frozen_methods(
    names: tuple[str, ...]
) -> tuple[dict[str, Callable[..., None]], Callable[[type], None]]:
    """``__setattr__``/``__delattr__`` of a frozen record, and the function that tells them
    their class (`_make_record` calls it at once; a prebuilt record's ``finish`` once the class
    statement has made its class)."""
    field_names = frozenset(names)
    cls: type[Any] = object

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in field_names:
            raise _frozen_error(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in field_names:
            raise _frozen_error(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    def bind(owner: type) -> None:
        nonlocal cls
        cls = owner

    return {"__setattr__": __setattr__, "__delattr__": __delattr__}, bind


def _frozen_error(message: str) -> Exception:
    """``dataclasses.FrozenInstanceError``, the class every frozen dataclass raises."""
    from dataclasses import FrozenInstanceError

    return FrozenInstanceError(message)


def _replace_method(self: Any, /, **changes: Any) -> Any:
    """``__replace__`` (`copy.replace`, Python 3.13+): `dataclasses.replace`."""
    return _replace(self, **changes)


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


class _Layout:
    """A record's fields as its methods and its registration need them, read in one pass
    over its annotations (`_read_layout`)."""

    __slots__ = ("class_variables", "compared", "constants", "filled", "hashed", "init",
                 "names", "shown", "values")

    def __init__(self) -> None:
        #: Every field, in declaration order.
        self.names: list[str] = []
        #: (name, default or MISSING, factory or None) per ``__init__`` parameter.
        self.init: list[tuple[str, Any, Callable[[], Any] | None]] = []
        #: ``init=False`` fields: those a factory fills, those with a plain default.
        self.filled: list[tuple[str, Callable[[], Any]]] = []
        self.constants: list[tuple[str, Any]] = []
        #: The fields in ``repr``, in ``__eq__``, in ``__hash__``.
        self.shown: list[str] = []
        self.compared: list[str] = []
        self.hashed: list[str] = []
        #: The class attribute of every annotation that has one, as `dataclasses` reads it
        #: (a default, a `Field`, a ClassVar's value), and the annotations that are ClassVars.
        self.values: dict[str, Any] = {}
        self.class_variables: list[str] = []


#: The start of a string annotation as `dataclasses` reads it to find ClassVar (its pattern
#: ``^(?:\s*(\w+)\s*\.)?\s*(\w+)``, written without backtracking and matching every
#: string): the first identifier and, if a dot follows, the one after it -- ``("typing",
#: "ClassVar")``, ``("ClassVar", None)``, ``("CV", None)``, ``(None, None)`` for no name.
_FIRST_NAMES = re.compile(r"(?:\s*+(\w++)(?:\s*+\.\s*+(\w++))?)?")
_groups = methodcaller("groups")
#: The `_FIRST_NAMES` groups of every string annotation met so far (the same strings recur
#: from record to record: ``str``, ``int | None``...).
_HEADS: dict[str, tuple[str | None, str | None]] = {}
#: Every attribute a class whose only base is `object` and whose metaclass is `type` has
#: without defining it: the only names `getattr` finds on such a class beyond its own.
_CLASS_ATTRIBUTES = frozenset(vars(type)) | frozenset(vars(object))
_field_spec_of = FieldSpec.of


def _first_names(kind: str) -> tuple[str | None, str | None]:
    """`_FIRST_NAMES`' groups for a string annotation (read once per string)."""
    head = _HEADS.get(kind)
    if head is None:
        head = _HEADS[kind] = _groups(_FIRST_NAMES.match(kind))
    return head


def _means_class_variable(
    head: tuple[str | None, str | None], namespace: dict[str, Any]
) -> bool:
    """Whether a string annotation starting with ``head`` (its `_FIRST_NAMES` groups)
    declares a ClassVar as `dataclasses` decides: its name in the class's module (or in
    `typing` if written ``typing.name``) is ``typing.ClassVar`` itself or subscripted."""
    first, second = head
    if second is not None:
        if first is None or namespace.get(first) is not typing:
            return False
        first, namespace = second, vars(typing)
    named = namespace.get(first) if first is not None else None
    return named is not None and not isinstance(named, type) and (
        named is ClassVar or get_origin(named) is ClassVar)


def _is_class_variable(kind: Any, namespace: dict[str, Any]) -> bool:
    """Whether the annotation ``kind`` declares a ClassVar, not a field (a string: by its
    first names, `_means_class_variable`)."""
    if isinstance(kind, str):
        return _means_class_variable(_first_names(kind), namespace)
    return kind is ClassVar or get_origin(kind) is ClassVar


def _may_mean_class_variable(kinds: set[str], namespace: dict[str, Any]) -> bool:
    """Whether one of these string annotations may declare a ClassVar (`_means_class_variable`
    of their distinct first names; the strings not met before read in one go)."""
    new = kinds.difference(_HEADS)
    if new:
        _HEADS.update(zip(new, map(_groups, map(_FIRST_NAMES.match, new)), strict=True))
    return any(_means_class_variable(head, namespace)
               for head in set(map(_HEADS.__getitem__, kinds)))


def _read_layout(cls: type, annotations: dict[str, Any]) -> _Layout | None:
    """The fields ``cls`` declares, read as `dataclasses.dataclass` reads them: its own
    annotations minus the ClassVars (``typing.ClassVar`` itself or subscripted; for a string,
    what its first name means in the class's module); each default the class attribute of
    that name (inherited ones too; a slot is no default), a `dataclasses.field` giving the
    flags.

    None for what `record` leaves to `dataclasses`: a dataclass base, ``InitVar``/``KW_ONLY``
    annotations, ``field(kw_only=True)``, and every class `dataclasses` refuses (a mutable
    default, a ClassVar with a factory, a `field` without annotation), which it then refuses
    with its own message.
    """
    if cls.__bases__ != (object,) and any(
            hasattr(base, "__dataclass_fields__") for base in cls.__mro__[1:]):
        return None
    own = cls.__dict__
    with_fields = any(map(_field_spec_of, own.values()))
    if with_fields and any(_field_spec_of(value) is not None and name not in annotations
                           for name, value in own.items()):
        return None
    module = sys.modules.get(cls.__module__)
    namespace = vars(module) if module is not None else {}
    # `getattr` finds nothing but the class's own attributes and those of `object`/`type`.
    simple = type(cls) is type and cls.__bases__ == (object,)
    # Every field plain (no `field(...)`): all in __init__, repr, __eq__ and __hash__.
    plain = simple and not with_fields
    layout = _Layout()
    names, init, shown, compared, hashed = (
        layout.names, layout.init, layout.shown, layout.compared, layout.hashed)
    # The annotations read all at once: any mention of InitVar/KW_ONLY falls back; when
    # none of their first names means ClassVar, none is a ClassVar and none is parsed again.
    try:
        text = "\n".join(annotations.values())
    except TypeError:  # not all strings (a module without ``from __future__ import annotations``)
        text = "\n".join(map(str, annotations.values()))
        suspects = True
    else:
        suspects = _may_mean_class_variable(set(annotations.values()), namespace)
    if "InitVar" in text or "KW_ONLY" in text:
        return None
    for name, kind in annotations.items():
        class_variable = suspects and _is_class_variable(kind, namespace)
        value = own.get(name, MISSING)
        if value is MISSING and (not simple or name in _CLASS_ATTRIBUTES):
            value = getattr(cls, name, MISSING)
        if plain and not class_variable:
            if value is not MISSING:
                if value.__class__.__hash__ is None or isinstance(value, MemberDescriptorType):
                    return None  # a mutable default; a slot of the class's own
                layout.values[name] = value
            names.append(name)
            init.append((name, value, None))
            continue
        spec = _field_spec_of(value) if with_fields else None
        if spec is not None:
            value = spec
        if value is MISSING:
            default, factory, in_init, in_repr, in_hash, in_eq = (
                MISSING, None, True, True, None, True)
        elif spec is not None:
            if value.kw_only is True or (class_variable and (
                    value.kw_only is not MISSING or value.default_factory is not MISSING)):
                return None
            default = value.default
            factory = None if value.default_factory is MISSING else value.default_factory
            in_init, in_repr, in_hash, in_eq = value.init, value.repr, value.hash, value.compare
        elif isinstance(value, MemberDescriptorType):
            value = default = MISSING
            factory, in_init, in_repr, in_hash, in_eq = None, True, True, None, True
        else:
            default, factory, in_init, in_repr, in_hash, in_eq = (
                value, None, True, True, None, True)
        if value is not MISSING:
            layout.values[name] = value
        if class_variable:
            layout.class_variables.append(name)
            continue
        if default.__class__.__hash__ is None:
            return None  # a mutable default
        names.append(name)
        if in_init:
            init.append((name, default, factory))
        elif factory is not None:
            layout.filled.append((name, factory))
        elif default is not MISSING:
            layout.constants.append((name, default))
        if not plain:
            if in_repr:
                shown.append(name)
            if in_eq:
                compared.append(name)
            if in_eq if in_hash is None else in_hash:
                hashed.append(name)
    if plain:
        shown[:] = compared[:] = hashed[:] = names
    return layout


def _slots_of(cls: type) -> tuple[str, ...]:
    """The slot names ``cls`` itself declares (as `dataclasses` reads a base's ``__slots__``)."""
    declared = cls.__dict__.get("__slots__")
    if declared is None:
        return ()
    if isinstance(declared, str):
        return (declared,)
    if hasattr(declared, "__next__"):
        raise TypeError(f"Slots of '{cls.__name__}' cannot be determined")
    return tuple(declared)


def _slotted(cls: _C, names: tuple[str, ...]) -> _C:
    """``cls`` made again with ``__slots__`` = its fields, as ``dataclass(slots=True)`` does:
    the fields' class attributes (their defaults) and the ``__dict__``/``__weakref__``
    descriptors left out, slots its bases already have not repeated, the qualname kept."""
    if "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__name__} already specifies __slots__")
    namespace = dict(cls.__dict__)
    inherited = {name for base in cls.__mro__[1:-1] for name in _slots_of(base)}
    namespace["__slots__"] = tuple(name for name in names if name not in inherited)
    for name in (*names, "__dict__", "__weakref__"):
        namespace.pop(name, None)
    made: _C = type(cls)(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    return made


class _Factory:
    """How a dataclass's docstring shows a field's ``default_factory``."""

    def __repr__(self) -> str:
        return "<factory>"


def _docstring(cls: type, layout: _Layout, annotations: dict[str, Any]) -> str:
    """What `dataclasses` writes for a class without a docstring: its name and its
    ``__init__``'s signature (built here from the fields, not read back by `inspect`)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    try:
        signature = inspect.Signature([
            inspect.Parameter(name, kind, annotation=annotations[name],
                              default=_Factory() if factory is not None
                              else inspect.Parameter.empty if default is MISSING else default)
            for name, default, factory in layout.init])
    except (TypeError, ValueError):
        return cls.__name__
    return cls.__name__ + str(signature)


class _Registration:
    """What `dataclasses` stores on a class it processes (``__dataclass_fields__``, the
    `Field` of every annotation, ClassVars included, and ``__dataclass_params__``), for one
    record, made the first time either is read.

    `dataclasses` makes it: its decorator runs (adding no method) on a stand-in class with
    the record's name, module, annotations (each as ``object`` or ``ClassVar``: nothing to
    parse) and class attributes; the Fields get the record's annotations as their ``type``,
    the params the record's flags. Fields do not point at their class, so they are the
    record's own. Both then replace their `_Lazy` in the record's ``__dict__``.
    """

    __slots__ = ("_layout", "_read", "annotations", "cls", "flags", "made")

    def __init__(self, cls: type, annotations: dict[str, Any], layout: _Layout | None,
                 flags: dict[str, bool], read: tuple[Any, ...] = ()) -> None:
        self.cls = cls
        self.annotations = annotations
        #: The record's layout; for a prebuilt record, made from what the compiler ``read``
        #: the first time it is needed (`_Prebuilt.layout`).
        self._layout = layout
        self._read = read
        self.flags = flags
        self.made: tuple[dict[str, Field[Any]], Any] | None = None

    @property
    def layout(self) -> _Layout:
        if self._layout is None:
            self._layout = _Prebuilt.layout(*self._read)
        return self._layout

    def fields_and_params(self) -> tuple[dict[str, Field[Any]], Any]:
        if self.made is None:
            self.made = self._register()
        return self.made

    def _register(self) -> tuple[dict[str, Field[Any]], Any]:
        cls = self.cls
        stand_in = type(cls.__name__, (), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__ or cls.__name__,
            "__annotations__": {name: ClassVar if name in self.layout.class_variables
                                else object for name in self.annotations}})
        import dataclasses

        for name, value in self.layout.values.items():
            if value.__class__ is FieldSpec:
                value = value.made()
            setattr(stand_in, name, value)  # no __set_name__: the values stay as they are
        dataclasses.dataclass(stand_in, init=False, repr=False, eq=False)
        fields: dict[str, Field[Any]] = stand_in.__dataclass_fields__  # type: ignore[attr-defined]
        for name, kind in self.annotations.items():
            fields[name].type = kind
        params = stand_in.__dataclass_params__  # type: ignore[attr-defined]
        for flag, value in self.flags.items():
            if hasattr(params, flag):  # ``slots`` is a param from Python 3.12 on
                setattr(params, flag, value)
        cls.__dataclass_fields__ = fields  # type: ignore[attr-defined]
        cls.__dataclass_params__ = params  # type: ignore[attr-defined]
        return fields, params


class _Lazy:
    """A record's ``__dataclass_fields__`` or ``__dataclass_params__`` until first read (from
    the class, an instance or a subclass: always the record's own, as an inherited attribute
    would be); a non-data descriptor, so `hasattr` (`dataclasses.is_dataclass`) finds it."""

    __slots__ = ("index", "registration")

    def __init__(self, registration: _Registration, index: int) -> None:
        self.registration = registration
        self.index = index

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        return self.registration.fields_and_params()[self.index]


def _make_record(cls: _C, *, frozen: bool, eq: bool, repr: bool, slots: bool) -> _C:
    own = cls.__dict__  # read before each name is set below
    annotations = own.get("__annotations__")
    if not isinstance(annotations, dict):
        annotations = inspect.get_annotations(cls)
    layout = _read_layout(cls, annotations)
    if layout is None:
        import dataclasses

        for name, value in list(own.items()):
            if value.__class__ is FieldSpec:
                setattr(cls, name, value.made())
        return cast(_C, dataclasses.dataclass(cls, frozen=frozen, eq=eq, repr=repr,
                                              slots=slots))
    class_hash = own.get("__hash__", MISSING)
    explicit_hash = not (class_hash is MISSING or (class_hash is None and "__eq__" in own))
    # As `dataclasses`: the class attribute of a `field(...)` becomes its default, or goes.
    for name, value in layout.values.items():
        if value.__class__ is FieldSpec:
            if value.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, value.default)
    if not cls.__doc__:
        cls.__doc__ = _docstring(cls, layout, annotations)
    if "__match_args__" not in own:
        cls.__match_args__ = tuple(  # type: ignore[attr-defined,misc]
            name for name, _, _ in layout.init)
    names = tuple(layout.names)
    if slots:
        cls = _slotted(cls, names)
    registration = _Registration(cls, annotations, layout, {
        "init": True, "repr": repr, "eq": eq, "frozen": frozen, "slots": slots})
    cls.__dataclass_fields__ = _Lazy(registration, 0)  # type: ignore[attr-defined]
    cls.__dataclass_params__ = _Lazy(registration, 1)  # type: ignore[attr-defined]
    fast_init = _fast_init(cls, layout, frozen, slots)
    methods: dict[str, Callable[..., Any]] = {
        "__init__": fast_init or _init_method(cls, layout, frozen, slots)}
    if repr:
        methods["__repr__"] = _repr_method(tuple(layout.shown))
    if eq:
        methods["__eq__"] = _eq_method(_tuple_of(tuple(layout.compared)))
    if frozen:
        frozen_methods, bind = _frozen_methods(names)
        bind(cls)
        methods.update(frozen_methods)
        if slots:
            methods.update(_pickle_methods(names))
    for name, method in methods.items():
        if name not in own:
            method.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, method)
    if _HAS_REPLACE_PROTOCOL and "__replace__" not in own:
        cls.__replace__ = _replace_method  # type: ignore[attr-defined]
    if eq and not explicit_hash:
        # As dataclasses: a mutable record with __eq__ is unhashable, a frozen one hashes
        # the tuple of its hashed fields.
        hashed = _hash_method(_tuple_of(tuple(layout.hashed))) if frozen else None
        if hashed is not None:
            hashed.__qualname__ = f"{cls.__qualname__}.__hash__"
        cls.__hash__ = hashed  # type: ignore[assignment,method-assign]
    abc.update_abstractmethods(cls)
    return cls


class _Prebuilt:
    """What the class statement of a record rewritten by the start bundle's compiler
    (`qmpnuma.prebuilt_records`) calls, as ``record.prebuilt``: the compiler has read the
    fields from the source, so only the methods are left to make, before the class is.

    - ``make(init_maker, qualname, static, values, flags, methods)``: in the class body, the
      record's ``methods`` in the order named (its ``__init__`` from the compiled
      ``init_maker``, which also gives the function that binds a frozen slotted record's
      slot setters once its class is made; the others as `_make_record` makes them), then
      its lazy ``__dataclass_fields__`` and ``__dataclass_params__`` and what ``finish``
      needs.
      ``static`` is what the compiler read (the field names: all, in ``__init__``, filled by
      a factory, constants, in ``repr``, compared, hashed), ``values`` the body's class
      attribute of each field that has one (a default or a `FieldSpec`);
    - ``finish(cls)``: the decorator that replaces ``record(...)``: ties the registration,
      the frozen methods and the slot setters to the class and does what `_make_record` does
      last.
    """

    __slots__ = ()

    @staticmethod
    def make(init_maker: Callable[..., tuple[Callable[..., None], Any]], qualname: str,
             static: tuple[tuple[str, ...], ...], values: dict[str, Any],
             flags: dict[str, bool], methods: tuple[str, ...]) -> tuple[Any, ...]:
        for name, value in values.items():
            default = value.default if value.__class__ is FieldSpec else value
            if default.__class__.__hash__ is None:  # what dataclasses refuses
                raise ValueError(f"mutable default {type(default)} for field {name} is not "
                                 "allowed: use default_factory")
        names, _, _, _, shown, compared, hashed = static
        store = _set_attribute if flags["frozen"] else setattr
        init, bind_slots = init_maker(store, _FACTORY, *values.values())
        made: dict[str, Callable[..., Any]] = {"__init__": init}
        if "__repr__" in methods:
            made["__repr__"] = _repr_method(shown)
        if "__eq__" in methods:
            made["__eq__"] = _eq_method(_tuple_of(compared))
        if "__hash__" in methods:
            made["__hash__"] = _hash_method(_tuple_of(hashed))
        binds = [] if bind_slots is None else [bind_slots]
        if "__setattr__" in methods:
            frozen_methods, bind = _frozen_methods(names)
            made.update(frozen_methods)
            binds.append(bind)
        if "__getstate__" in methods or "__setstate__" in methods:
            made.update(_pickle_methods(names))
        chosen = tuple(made[name] for name in methods)
        for method in chosen:
            method.__qualname__ = f"{qualname}.{method.__name__}"
        registration = _Registration(object, {}, None, flags, (static, values))
        return (*chosen, _Lazy(registration, 0), _Lazy(registration, 1), (registration, binds))

    @staticmethod
    def layout(static: tuple[tuple[str, ...], ...], values: dict[str, Any]) -> _Layout:
        """The `_Layout` `_read_layout` would read, from what the compiler read."""
        names, in_init, filled, constants, shown, compared, hashed = static
        layout = _Layout()
        layout.names[:] = names
        layout.shown[:], layout.compared[:], layout.hashed[:] = shown, compared, hashed
        layout.values = values
        for name in in_init:
            value = values.get(name, MISSING)
            if value.__class__ is FieldSpec:
                factory = value.default_factory
                layout.init.append((name, value.default,
                                    None if factory is MISSING else factory))
            else:
                layout.init.append((name, value, None))
        layout.filled[:] = [(name, values[name].default_factory) for name in filled]
        layout.constants[:] = [(name, values[name].default) for name in constants]
        return layout

    @staticmethod
    def finish(cls: _C) -> _C:
        own = cls.__dict__
        registration, binds = own[STASH]
        delattr(cls, STASH)
        registration.cls = cls
        registration.annotations = own.get("__annotations__", {})  # none without fields
        for bind in binds:
            bind(cls)
        if _HAS_REPLACE_PROTOCOL and "__replace__" not in own:
            cls.__replace__ = _replace_method  # type: ignore[attr-defined]
        abc.update_abstractmethods(cls)
        return cls


#: The default of an ``__init__`` parameter whose field has a ``default_factory`` in a
#: prebuilt record (what a dataclass's signature shows as ``<factory>``).
_FACTORY = _Factory()
#: The class attribute a rewritten record's registration waits in for ``finish``
#: (`prebuilt_records.STASH`).
STASH = "_qmpnuma_record_"


def _unregistered(cls: type) -> _Layout | None:
    """The fields of the record ``cls`` is or inherits from while its registration has not
    been made (None once it has, or for any other class)."""
    for klass in cls.__mro__:
        found = klass.__dict__.get("__dataclass_fields__")
        if found is not None:
            return found.registration.layout if isinstance(found, _Lazy) else None
    return None


def _replace(obj: Any, /, **changes: Any) -> Any:
    """`dataclasses.replace`, without making a record's `Field` objects for it: the same new
    object (``__init__`` of the same class with the changed fields and the others' current
    values) and the same refusal of an ``init=False`` field. The records replaced while a
    server starts (the profiles built from another one, machine types, chardevs) would
    otherwise each have `dataclasses` process a class."""
    layout = _unregistered(type(obj))
    if layout is None:
        import dataclasses

        return dataclasses.replace(obj, **changes)
    in_init = {name for name, _, _ in layout.init}
    for name in layout.names:
        if name not in in_init:
            if name in changes:
                raise _INIT_FALSE_REPLACED(f"field {name} is declared with init=False, it "
                                           "cannot be specified with replace()")
        elif name not in changes:
            changes[name] = getattr(obj, name)
    return obj.__class__(**changes)


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
    from dataclasses import field, replace
else:
    record = _record
    record.prebuilt = _Prebuilt()
    field = _field
    replace = _replace
