"""`qmpnuma.choice.Choice` behaves as `enum.Enum` in everything the code uses of an enum."""

from __future__ import annotations

import copy
import pickle
from enum import Enum
from typing import Any

import pytest

from qmpnuma import choice
from qmpnuma.profiles import profile


def _declare(base: Any) -> Any:
    class Mode(base):  # type: ignore[misc,valid-type]
        """How fast."""

        FAST = "fast"
        SLOW = "slow"
        ALIAS = "fast"  # the value of FAST: an alias of it
        NUMBER = 3

        def describe(self) -> str:  # a method of the class, not a member
            return f"mode {self.value}"

    return Mode


Mode = _declare(choice._Choice)
#: Picklable by reference: a module-level class of each kind.
EnumMode = _declare(Enum)


def _outcome(call: Any, *args: Any) -> Any:
    try:
        return ("ok", call(*args))
    except Exception as err:
        return (type(err), str(err))


def test_members_are_what_enum_members_are() -> None:
    for real, ours in zip(EnumMode, Mode, strict=True):
        assert (ours.name, ours.value) == (real.name, real.value)
        assert repr(ours) == repr(real) and str(ours) == str(real)
        assert hash(ours) == hash(real)
        assert isinstance(ours, Mode) and ours in Mode
        assert ours.describe() == real.describe()
    assert [m.name for m in Mode] == [m.name for m in EnumMode] == ["FAST", "SLOW", "NUMBER"]
    assert len(Mode) == len(EnumMode) == 3
    assert Mode.ALIAS is Mode.FAST and EnumMode.ALIAS is EnumMode.FAST
    assert Mode.FAST != Mode.SLOW and Mode.FAST != "fast"
    assert "fast" not in Mode and EnumMode.FAST not in Mode


@pytest.mark.parametrize("value", ["fast", "slow", 3, "nope", 4, [1]])
def test_lookup_by_value_is_the_enums(value: Any) -> None:
    expected = _outcome(EnumMode, value)
    got = _outcome(Mode, value)
    if expected[0] == "ok":
        assert got == ("ok", getattr(Mode, expected[1].name))
    else:
        assert got[0] is expected[0] is ValueError
        assert got[1] == expected[1].replace("EnumMode", "Mode") or got[1] == expected[1]
    assert Mode(Mode.SLOW) is Mode.SLOW


def test_members_stay_the_same_objects() -> None:
    """Pickling (the fleet's machine cache pickles profiles) and copying keep identity, and
    members cannot be reassigned or deleted."""
    for member in Mode:
        assert copy.copy(member) is member and copy.deepcopy(member) is member
    for member in profile.SizeSyntax:
        assert pickle.loads(pickle.dumps(member)) is member
    with pytest.raises(AttributeError):
        Mode.FAST = "other"
    with pytest.raises(AttributeError):
        del Mode.SLOW
    with pytest.raises(AttributeError):
        Mode.FAST.extra = 1  # members hold their name and value only


def test_a_choice_with_members_cannot_be_extended() -> None:
    with pytest.raises(TypeError):
        class More(Mode):  # type: ignore[misc,valid-type]
            EXTRA = "extra"


def test_the_profiles_enumerations_are_choices() -> None:
    """The profile and visitor enumerations made at start-up are Choices (issue 12), and each
    profile's settings are members of them."""
    from qmpnuma.profiles import PROFILE_NAMES, get_profile
    from qmpnuma.qobject.input_visitor import VisitErrorKind

    kinds = [profile.SizeSyntax, profile.SmpParser, profile.NumaState, profile.MemoryParser,
             profile.DimmPlug, profile.ObjectProperties, profile.ApicIdCheck,
             profile.MaxUsedGpa, VisitErrorKind]
    assert all(type(kind) is choice._ChoiceType and len(kind) >= 2 for kind in kinds)
    for name in PROFILE_NAMES:
        settings = vars(get_profile(name)).values()
        chosen = {type(value) for value in settings if type(type(value)) is choice._ChoiceType}
        assert len(chosen) == 8, name  # one setting of each profile kind
