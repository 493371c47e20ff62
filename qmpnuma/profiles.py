"""The emulated QEMU versions ("profiles") and where each one's generated wire types live.

A profile picks QEMU's behaviour as a whole: rules and messages in the machine model, the texts of
the protocol core, and the schema (commands, types, introspection) generated for it from the same
QAPI files with the profile's `if` conditions.
"""

from __future__ import annotations

import importlib
import json
from functools import cache
from importlib import resources
from types import ModuleType
from typing import Any, Final

DEFAULT_PROFILE: Final = "7.2"
PROFILES: Final = ("7.2", "2.9")


def _suffix(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    return profile.replace(".", "_")


@cache
def wire_types(profile: str) -> ModuleType:
    """The generated tables of a profile (`SCHEMA`, `COMMANDS`, `EVENTS`).

    They carry no pydantic models, so serving never pays for building the model classes;
    `wire_models` has those.
    """
    return importlib.import_module(f"qmpnuma.types.tables_{_suffix(profile)}")


@cache
def wire_models(profile: str) -> ModuleType:
    """The generated pydantic models of a profile (`MODELS`, `TYPES`, one class per type)."""
    return importlib.import_module(f"qmpnuma.types.qapi_{_suffix(profile)}")


@cache
def introspection(profile: str) -> list[dict[str, Any]]:
    """The `query-qmp-schema` answer of a profile, generated from the schema at build time."""
    text = resources.files("qmpnuma.types").joinpath(f"introspect_{_suffix(profile)}.json")
    data: list[dict[str, Any]] = json.loads(text.read_text())
    return data
