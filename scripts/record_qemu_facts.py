#!/usr/bin/env python3
"""Record facts of QEMU 7.2's interface that the model does not compute, from the real binary.

The output, `qmpnuma/data/qemu-7.2-facts.json`, holds plain facts (names of device models and
the like) read from `qemu-system-x86_64` itself; it is data about QEMU's interface, not QEMU's
code. Run it again with the reference binary installed to refresh the file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parents[1] / "qmpnuma" / "data" / "qemu-7.2-facts.json"


def device_names(qemu: str) -> list[str]:
    """Every device model `-device help` lists (the names `device_add` accepts)."""
    text = subprocess.run(
        [qemu, "-device", "help"], capture_output=True, text=True, check=True
    ).stdout
    return sorted(set(re.findall(r'^name "([^"]+)"', text, re.M)))


def main() -> int:
    qemu = sys.argv[1] if len(sys.argv) > 1 else "qemu-system-x86_64"
    facts: dict[str, object] = {}
    if OUTPUT.exists():
        facts = json.loads(OUTPUT.read_text())
    facts["device-names"] = device_names(qemu)
    OUTPUT.write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
