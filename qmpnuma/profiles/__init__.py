"""The emulated QEMU versions ("profiles"): one frozen :class:`Profile` per version.

A profile picks QEMU's behaviour as a whole: rules and messages in the machine model, the texts
of the protocol core, the option table, the machine types, and the schema (commands, types,
introspection) generated for it.  Code asks the profile questions (see
:mod:`qmpnuma.profiles.profile`); names given by users (``--profile``, ``QMPNUMA_PROFILE``,
fleet specs, pytest markers) are turned into a profile once, with :func:`get_profile`.

* :mod:`~qmpnuma.profiles.profile` – the :class:`Profile` object and its strategies;
* :mod:`~qmpnuma.profiles.qemu_10_0`, :mod:`~qmpnuma.profiles.qemu_7_2`,
  :mod:`~qmpnuma.profiles.qemu_2_9` – one module per version;
* :mod:`~qmpnuma.profiles.compat` – machine-type compat rows per release;
* :mod:`~qmpnuma.profiles.registry` – the known profiles, lookup by name, since-symbols;
* :mod:`~qmpnuma.profiles.wire` – the generated wire types of a profile.
"""

from typing import TYPE_CHECKING, Any

from qmpnuma.profiles import registry
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import (
    DEFAULT_PROFILE,
    PROFILE_NAMES,
    get_profile,
    qapi_symbols,
)
from qmpnuma.profiles.wire import introspection, wire_models, wire_types

if TYPE_CHECKING:
    from qmpnuma.profiles.registry import KNOWN_PROFILES

#: The names of the known profiles, default first (kept for callers of the old module).
PROFILES = PROFILE_NAMES

__all__ = [
    "DEFAULT_PROFILE",
    "KNOWN_PROFILES",
    "PROFILES",
    "PROFILE_NAMES",
    "Profile",
    "get_profile",
    "introspection",
    "qapi_symbols",
    "wire_models",
    "wire_types",
]


def __getattr__(name: str) -> Any:
    """`KNOWN_PROFILES` builds every profile: only on first use (see the registry)."""
    if name == "KNOWN_PROFILES":
        return registry.KNOWN_PROFILES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
