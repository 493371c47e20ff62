"""Figure 1, in instructions: what a cold start executes up to its first `query-memdev` reply.

    python -m bench.instructions [KIND...]   -> per kind, millions of instructions (JSON)

A cold start's wall-clock time on this shared two-core VM moves by several milliseconds from
one round to the next, more than a change to qmpnuma's start path is worth, so two revisions
can only be told apart by many alternating rounds. The number of instructions a start executes
does not move: each kind (the floor, the lean floor, qmpnuma with each profile) is started once
under valgrind's callgrind (`launchers.start` with a prefix, string hashing seeded with 0 so that
dictionaries fill alike), and once its first reply is read and its client gone,
``callgrind_control --dump`` writes the count so far. qmpnuma's count less the lean floor's is
what qmpnuma's own code executes on top of the same interpreter and asyncio.

Instructions are not time: page faults (~4 µs each on this VM) and cache misses are left out,
and a start that touches more memory costs more than its count says. QEMU is not counted (a
C program under valgrind starts in minutes, not seconds). Without valgrind the figure is None.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from bench.launchers import COLD_KINDS, ENV_OF_KIND, QEMU_KIND_OF_PROFILE, start
from bench.machines import STANDARD

#: The kinds counted: those of the cold-start figure but the real QEMUs (the floors and
#: qmpnuma with each profile).
KINDS = tuple(kind for kind in COLD_KINDS if kind not in QEMU_KIND_OF_PROFILE.values())


def _total(dump: str) -> int:
    """The ``totals:`` line of a callgrind dump: instructions executed up to the dump."""
    with open(dump, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError(f"{dump} has no totals line")


def count(kind: str, args: Sequence[str], folder: str) -> int:
    """Instructions ``kind`` executes from its start to its first reply (and its client's
    close, which `launchers.start` does before returning)."""
    out = os.path.join(folder, f"{kind}.callgrind")
    prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no"]
    env = os.environ | ENV_OF_KIND.get(kind, {}) | {"PYTHONHASHSEED": "0"}
    running = start(kind, args, os.path.join(folder, f"{kind}.qmp"), prefix=prefix, env=env)
    try:
        subprocess.run(["callgrind_control", "--dump=first-reply", str(running.process.pid)],
                       check=True, capture_output=True, timeout=60)
    finally:
        running.stop()
    return _total(f"{out}.1")


def measure(args: Sequence[str] = STANDARD,
            kinds: Sequence[str] = KINDS) -> dict[str, int] | None:
    """Per kind, the instructions of one start to the first reply; None without valgrind."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        return {kind: count(kind, args, folder) for kind in kinds}


def main(argv: Sequence[str]) -> int:
    counts = measure(STANDARD, argv or KINDS)
    if counts is None:
        print("valgrind (callgrind) is not installed", file=sys.stderr)
        return 1
    print(json.dumps({kind: round(total / 1e6, 2) for kind, total in counts.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
