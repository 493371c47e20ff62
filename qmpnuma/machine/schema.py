"""The QAPI types the machine reads its options as: the profile's generated ``SCHEMA`` table.

Every option the machine model interprets is read by one of the visitors of
:mod:`qmpnuma.options` against these types (``NumaOptions``, ``ObjectOptions``,
``SMPConfiguration``, ``MemorySizeConfiguration``), so member names, types, order and mandatory
members come from QEMU's own schema instead of tables repeated here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qmpnuma.profiles import Profile, wire_types

Schema = Mapping[str, Mapping[str, Any]]


def option_schema(profile: Profile) -> Schema:
    """The introspection-shaped type table of ``profile`` (names unmasked)."""
    schema: Schema = wire_types(profile).SCHEMA
    return schema
