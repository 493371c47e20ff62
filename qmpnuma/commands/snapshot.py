"""The whole model as one JSON document (`qmpnuma check --json`), built from the query answers.

Using the same answers the monitor gives means the snapshot is exactly what a client would learn
by asking, in one place, for scripts and for diffing two command lines.
"""

from __future__ import annotations

from typing import Any

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.machine import Machine

SNAPSHOT_QUERIES = (
    "query-status", "query-memdev", "query-memory-devices", "query-memory-size-summary",
    "query-hotpluggable-cpus", "x-query-numa",
)


def machine_snapshot(machine: Machine) -> dict[str, Any]:
    """Every modelled query's answer for ``machine``, keyed by command name."""
    registry = CommandRegistry(machine)
    snapshot: dict[str, Any] = {
        "profile": machine.profile.name,
        "machine-type": machine.machine_type.name,
        "warnings": list(machine.warnings),
    }
    cpus_query = machine.profile.cpus_query
    for name in (*SNAPSHOT_QUERIES, cpus_query):
        if name in registry.handlers:
            snapshot[name] = registry.execute(name, {})
    return snapshot
