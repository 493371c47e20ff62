"""Where each profile's generated wire types live (``qmpnuma/types/*_X_Y``).

The schema (commands, types, introspection) of a profile is generated from the same QAPI files
with the profile's since-symbols (``make schemas``).  Each function takes a profile or its name.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import Any

from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import get_profile


def _suffix(profile: str | Profile) -> str:
    return get_profile(profile).module_suffix


@cache
def wire_types(profile: str | Profile) -> ModuleType:
    """The generated tables of a profile (`SCHEMA`, `COMMANDS`, `EVENTS`).

    They carry no pydantic models, so serving never pays for building the model classes;
    `wire_models` has those.
    """
    return importlib.import_module(f"qmpnuma.types.tables_{_suffix(profile)}")


@cache
def wire_models(profile: str | Profile) -> ModuleType:
    """The generated pydantic models of a profile (`MODELS`, `TYPES`, one class per type)."""
    return importlib.import_module(f"qmpnuma.types.qapi_{_suffix(profile)}")


@cache
def introspection(profile: str | Profile) -> list[dict[str, Any]]:
    """The `query-qmp-schema` answer of a profile, generated from the schema at build time."""
    import json  # only here, as the rest of a start never needs the package (issue 12)
    from importlib import resources  # only here: it pulls in tempfile, zipfile, ...

    text = resources.files("qmpnuma.types").joinpath(f"introspect_{_suffix(profile)}.json")
    data: list[dict[str, Any]] = json.loads(text.read_text())
    return data
