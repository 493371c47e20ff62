"""The compatibility properties of each machine type (``query-machines`` with ``compat-props``).

They are facts of the binary, recorded by ``scripts/record_compat_props.py`` into the profile's
``compat_props_file``: per family the rows each versioned type adds to its next newer sibling's
list (QEMU's ``pc_*_X_Y_machine_options`` call the newer release's options first, then append
``hw_compat_X_Y`` and ``pc_compat_X_Y``), and the whole list of every other type.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from qmpnuma.profiles import Profile


@cache
def _lists(file_name: str) -> dict[str, tuple[dict[str, str], ...]]:
    recorded: dict[str, Any] = json.loads(
        resources.files("qmpnuma.data").joinpath(file_name).read_text()
    )
    lists: dict[str, list[list[str]]] = dict(recorded["whole"])
    for members in recorded["added"].values():
        inherited: list[list[str]] = []
        for name, rows in members.items():  # newest type first
            inherited = inherited + rows
            lists[name] = inherited
    return {
        name: tuple({"qom-type": t, "property": p, "value": v} for t, p, v in rows)
        for name, rows in lists.items()
    }


def compat_props(profile: Profile, machine_type: str) -> list[dict[str, str]]:
    """The ``compat-props`` of ``machine_type`` in the profile's binary, in QEMU's order."""
    if profile.compat_props_file is None:
        return []
    return [dict(row) for row in _lists(profile.compat_props_file).get(machine_type, ())]
