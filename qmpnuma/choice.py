"""`Choice`: an `enum.Enum` for closed sets of named constants, made in microseconds.

The profiles say how each QEMU version behaves with members of small enumerations (which
function parses sizes, which checks a DIMM goes through...), and the input visitor names its
error kinds the same way. All of them are made while a server starts, and `enum.EnumType`
spends about a tenth of a millisecond making each (it checks names, builds its maps, resolves
``auto()``, looks for ``_missing_``...): most of a millisecond of a cold start (issue 12) for
nine classes of two to six constants.

For the type checker a `Choice` *is* an `enum.Enum` (the name is bound to it when type
checking), so mypy checks members and exhaustiveness as it does for an enum. At run time a
subclass's public class attributes become its members, each an instance of it, with what the
code and its tests use of an enum: ``name`` and ``value``, identity comparison and the enum's
hash, ``Kind(value)`` to find a member by value, iteration in declaration order, ``len``, the
enum's ``repr``/``str``, members that cannot be reassigned, and pickling and copying that keep
a member the very same object; methods of the class work on its members. Anything else
(``auto()``, flags, ``_missing_``, subclassing a class that has members, unhashable values) is
not supported: use `enum.Enum`. A constant with the value of an earlier one is an alias of it,
as in an enum.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

__all__ = ["Choice"]


class _ChoiceType(type):
    """Makes the members of each `Choice` subclass (the class's public non-callable
    attributes, in declaration order)."""

    _members_: dict[str, Any]
    _by_value_: dict[Any, Any]

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        if any(getattr(base, "_members_", None) for base in bases):
            raise TypeError(f"{name}: cannot extend a Choice that has members")
        namespace.setdefault("__slots__", ())  # members hold their name and value only
        cls = super().__new__(mcs, name, bases, namespace)
        members: dict[str, Any] = {}
        by_value: dict[Any, Any] = {}
        for key, value in namespace.items():
            if key.startswith("_") or callable(value) or hasattr(value, "__get__"):
                continue
            member: Any = object.__new__(cast(type, cls))
            member._name_ = key
            member._value_ = value
            members[key] = by_value.setdefault(value, member)
            type.__setattr__(cls, key, members[key])
        type.__setattr__(cls, "_members_", members)
        type.__setattr__(cls, "_by_value_", by_value)
        return cls

    def __call__(cls, value: Any) -> Any:
        """The member whose value is ``value`` (`enum.Enum`'s lookup and its error)."""
        if isinstance(value, cls):
            return value
        try:
            return cls._by_value_[value]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid {cls.__qualname__}") from None

    def __iter__(cls) -> Iterator[Any]:
        """The members in declaration order, aliases (a value met before) left out."""
        return iter(cls._by_value_.values())

    def __len__(cls) -> int:
        return len(cls._by_value_)

    def __contains__(cls, member: Any) -> bool:
        return isinstance(member, cls)

    def __setattr__(cls, name: str, value: Any) -> None:
        if name in cls.__dict__.get("_members_", ()):
            raise AttributeError(f"cannot reassign member {name!r}")
        super().__setattr__(name, value)

    def __delattr__(cls, name: str) -> None:
        if name in cls.__dict__.get("_members_", ()):
            raise AttributeError(f"cannot delete member {name!r}")
        super().__delattr__(name)


class _Choice(metaclass=_ChoiceType):
    """The members' own behaviour (that of an `enum.Enum` member)."""

    __slots__ = ("_name_", "_value_")
    _name_: str
    _value_: Any

    @property
    def name(self) -> str:
        return self._name_

    @property
    def value(self) -> Any:
        return self._value_

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self._name_}: {self._value_!r}>"

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self._name_}"

    def __hash__(self) -> int:
        return hash(self._name_)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, tuple[Any]]:
        return type(self), (self._value_,)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


if TYPE_CHECKING:
    from enum import Enum as Choice
else:
    Choice = _Choice
