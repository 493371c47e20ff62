#!/usr/bin/env python3
"""Record each machine type's compatibility properties (``query-machines`` with
``compat-props``, QEMU 9.1 on) from a real binary into ``qmpnuma/data``.

A versioned machine type's list is its next newer sibling's list followed by the rows its own
release added (QEMU's ``pc_*_X_Y_machine_options`` call the newer release's function first,
then append ``hw_compat_X_Y``/``pc_compat_X_Y``), so the file keeps, per family, only those
added rows, newest type first; stand-alone types keep their whole list. The recorder checks
that the binary's lists have this shape and stores a whole list where one has not.

Usage: ``python scripts/record_compat_props.py BINARY PROFILE`` (e.g.
``build/reference/bin/qemu-system-x86_64 10.0``) writes ``qemu-PROFILE-compat-props.json``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "qmpnuma" / "data"
_VERSIONED = re.compile(r"^(pc-i440fx|pc-q35)-(\d+(?:\.\d+)+)$")


def query_machines(binary: str) -> list[dict[str, Any]]:
    """``query-machines`` with ``compat-props`` from ``binary`` (over ``-qmp stdio``)."""
    requests = (
        '{"execute":"qmp_capabilities"}\n'
        '{"execute":"query-machines","arguments":{"compat-props":true}}\n'
        '{"execute":"quit"}\n'
    )
    result = subprocess.run(
        [binary, "-M", "none", "-S", "-display", "none", "-nodefaults", "-qmp", "stdio"],
        input=requests, capture_output=True, text=True, timeout=120, check=True,
    )
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if isinstance(message.get("return"), list):
            machines: list[dict[str, Any]] = message["return"]
            return machines
    raise RuntimeError(f"no query-machines answer from {binary}: {result.stderr}")


def _rows(machine: dict[str, Any]) -> list[list[str]]:
    return [[p["qom-type"], p["property"], p["value"]] for p in machine.get("compat-props", [])]


def compress(machines: list[dict[str, Any]]) -> dict[str, Any]:
    """Per family the rows each versioned type adds (newest first), else whole lists."""
    families: dict[str, list[tuple[tuple[int, ...], str, list[list[str]]]]] = {}
    whole: dict[str, list[list[str]]] = {}
    for machine in machines:
        match = _VERSIONED.match(machine["name"])
        if match is None:
            whole[machine["name"]] = _rows(machine)
            continue
        version = tuple(int(part) for part in match.group(2).split("."))
        families.setdefault(match.group(1), []).append((version, machine["name"], _rows(machine)))
    added: dict[str, dict[str, list[list[str]]]] = {}
    for family, members in families.items():
        members.sort(reverse=True)
        previous: list[list[str]] = []
        added[family] = {}
        for _version, name, rows in members:
            if rows[: len(previous)] == previous:
                added[family][name] = rows[len(previous):]
            else:  # not cumulative: keep the whole list
                whole[name] = rows
            previous = rows
    return {"added": added, "whole": whole}


def main(argv: list[str]) -> int:
    binary, profile = argv
    out = DATA / f"qemu-{profile}-compat-props.json"
    out.write_text(json.dumps(compress(query_machines(binary)), indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
