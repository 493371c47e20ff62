"""The known profiles, oldest first, and the lookup of a profile by name.

Adding a version: write ``qemu_X_Y.py`` (one :class:`Profile` built from data), add its module
to :data:`_MODULES`, add the compat rows its release introduced (``compat.py``) and its data
files (recorded facts, generated wire types via ``make schemas``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from qmpnuma.profiles import qemu_2_9, qemu_7_2, qemu_10_0
from qmpnuma.profiles.profile import REGISTERED, Profile

#: The module of every known profile, oldest first (the order since-symbols follow).
_MODULES: Final[tuple[ModuleType, ...]] = (qemu_2_9, qemu_7_2, qemu_10_0)

#: Every known profile, oldest first.
KNOWN_PROFILES: Final[tuple[Profile, ...]] = tuple(module.PROFILE for module in _MODULES)

#: The profile used when none is asked for: the newest reference binary's (QEMU 10.0.2, what
#: Debian 13 ships); ``--profile=7.2`` and ``--profile=2.9`` choose the older ones.
DEFAULT_PROFILE: Final[Profile] = qemu_10_0.PROFILE

_BY_NAME: Final[dict[str, Profile]] = {profile.name: profile for profile in KNOWN_PROFILES}
REGISTERED.update(_BY_NAME)

#: The names of the known profiles, default first (command-line ``choices``).
PROFILE_NAMES: Final[tuple[str, ...]] = (
    DEFAULT_PROFILE.name,
    *(profile.name for profile in reversed(KNOWN_PROFILES) if profile is not DEFAULT_PROFILE),
)


def get_profile(name_or_profile: str | Profile | None = None) -> Profile:
    """The profile of a name (``"7.2"``); a profile is returned as is, None gives the default.

    Raises ``ValueError`` naming the known profiles for an unknown name.
    """
    if name_or_profile is None:
        return DEFAULT_PROFILE
    if isinstance(name_or_profile, Profile):
        return name_or_profile
    profile = _BY_NAME.get(name_or_profile)
    if profile is None:
        raise ValueError(
            f"unknown profile {name_or_profile!r}; known: {', '.join(PROFILE_NAMES)}"
        )
    return profile


def profile_module(profile: Profile) -> ModuleType:
    """The module that builds ``profile``."""
    return next(module for module in _MODULES if module.PROFILE is profile)


def qapi_symbols(profile: Profile) -> frozenset[str]:
    """The QAPI ``if`` symbols that hold in ``profile``: the since-symbol of its release and
    of every older known release (7.2 has ``SINCE_2_9`` and ``SINCE_7_2``)."""
    older = (known.since_symbol for known in KNOWN_PROFILES if known.release <= profile.release)
    return frozenset(older) | {profile.since_symbol}


def all_qapi_symbols() -> frozenset[str]:
    """Every since-symbol a profile decides (true or false in each profile)."""
    return frozenset(known.since_symbol for known in KNOWN_PROFILES)
