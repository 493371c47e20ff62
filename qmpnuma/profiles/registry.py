"""The known profiles, oldest first, and the lookup of a profile by name.

Adding a version: write ``qemu_X_Y.py`` (one :class:`Profile` built from data), add its module
to :data:`_MODULE_NAMES`, add the compat rows its release introduced (``compat.py``) and its data
files (recorded facts, generated wire types via ``make schemas``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from qmpnuma.profiles.profile import REGISTERED, Profile

#: Profile name -> the module that builds it, oldest first. A profile's module is imported the
#: first time the profile is asked for: a process serving one version does not build the others
#: (10.0 is built from 7.2, so asking for 10.0 builds both).
_MODULE_NAMES: Final[dict[str, str]] = {
    "2.9": "qmpnuma.profiles.qemu_2_9",
    "7.2": "qmpnuma.profiles.qemu_7_2",
    "10.0": "qmpnuma.profiles.qemu_10_0",
}
#: The profile used when none is asked for: the newest reference binary's (QEMU 10.0.2, what
#: Debian 13 ships); ``--profile=7.2`` and ``--profile=2.9`` choose the older ones.
_DEFAULT_NAME: Final = "10.0"

#: The names of the known profiles, default first (command-line ``choices``).
PROFILE_NAMES: Final[tuple[str, ...]] = (
    _DEFAULT_NAME, *(name for name in reversed(_MODULE_NAMES) if name != _DEFAULT_NAME),
)


def _module(name: str) -> ModuleType:
    return importlib.import_module(_MODULE_NAMES[name])


def _load(name: str) -> Profile:
    """The profile called ``name``, building it (importing its module) on first use."""
    profile = REGISTERED.get(name)
    if profile is None:
        profile = _module(name).PROFILE
        if profile.name != name:
            raise RuntimeError(f"{_MODULE_NAMES[name]} builds profile {profile.name!r}")
        REGISTERED[name] = profile
    return profile


REGISTERED.build = _load
#: The default profile itself (`_DEFAULT_NAME`), built at import.
DEFAULT_PROFILE: Final[Profile] = _load(_DEFAULT_NAME)

if TYPE_CHECKING:
    #: Every known profile, oldest first (building each: see `_MODULE_NAMES`).
    KNOWN_PROFILES: tuple[Profile, ...]


def __getattr__(name: str) -> Any:
    """`KNOWN_PROFILES` is built on first use, so that looking up one profile builds one."""
    if name == "KNOWN_PROFILES":
        return tuple(_load(known) for known in _MODULE_NAMES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_profile(name_or_profile: str | Profile | None = None) -> Profile:
    """The profile of a name (``"7.2"``); a profile is returned as is, None gives the default.

    Raises ``ValueError`` naming the known profiles for an unknown name.
    """
    if name_or_profile is None:
        return DEFAULT_PROFILE
    if isinstance(name_or_profile, Profile):
        return name_or_profile
    if name_or_profile not in _MODULE_NAMES:
        raise ValueError(
            f"unknown profile {name_or_profile!r}; known: {', '.join(PROFILE_NAMES)}"
        )
    return _load(name_or_profile)


def profile_module(profile: Profile) -> ModuleType:
    """The module that builds ``profile``."""
    module = _module(profile.name)
    if module.PROFILE is not profile:
        raise ValueError(f"{profile!r} is not a registered profile")
    return module


def qapi_symbols(profile: Profile) -> frozenset[str]:
    """The QAPI ``if`` symbols that hold in ``profile``: the since-symbol of its release and
    of every older known release (7.2 has ``SINCE_2_9`` and ``SINCE_7_2``)."""
    known_profiles: tuple[Profile, ...] = __getattr__("KNOWN_PROFILES")
    older = (known.since_symbol for known in known_profiles if known.release <= profile.release)
    return frozenset(older) | {profile.since_symbol}


def all_qapi_symbols() -> frozenset[str]:
    """Every since-symbol a profile decides (true or false in each profile)."""
    known_profiles: tuple[Profile, ...] = __getattr__("KNOWN_PROFILES")
    return frozenset(known.since_symbol for known in known_profiles)
