"""libvirt 9.0 with qmpnuma versus with QEMU 7.2: capability probe and domain start, one run.

    python -m bench.libvirt_bench [--repeats N] [--json FILE]

Both are timed through `virsh -c 'qemu:///embed?root=DIR'` (libvirt's embedded QEMU driver, no
daemon; the Debian packages libvirt-clients and libvirt-daemon-driver-qemu and the
`libvirt-qemu` user are needed, see `.ci/run`):

* probe: `virsh domcapabilities --emulatorbin EMU --virttype qemu` in a fresh embedded root,
  i.e. libvirt's two-pass QMP capability probe (56 commands) plus its own start-up;
* start: `virsh start` of the 2-cell NUMA guest of the end-to-end test, capabilities cached,
  i.e. command-line generation, emulator start, the ~410-command start-up sequence and `cont`.

qmpnuma and QEMU alternate within each repeat so that drift in the machine's load hits both.
Prints medians and the qmpnuma/QEMU ratio; `--json` also writes every raw time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from libvirt_harness import (
    REAL_QEMU,
    Domain,
    Embed,
    domcapabilities,
    libvirt_missing,
)

QMPNUMA = str(Path(sys.executable).with_name("qmpnuma-system-x86_64"))
EMULATORS = {"qmpnuma": QMPNUMA, "qemu": REAL_QEMU}


def time_probe(emulator: str, folder: Path) -> float:
    """Seconds for a capability probe of ``emulator`` in a fresh embedded root."""
    embed = Embed(Path(tempfile.mkdtemp(prefix="probe-", dir=folder)) / "embed")
    started = time.perf_counter()
    domcapabilities(embed, emulator)
    return time.perf_counter() - started


def time_start(embed: Embed, domain: str) -> float:
    """Seconds for `virsh start` of a defined domain; the domain is destroyed afterwards."""
    started = time.perf_counter()
    embed.virsh(f"start {domain}")
    elapsed = time.perf_counter() - started
    # A monitor command first lets this virsh finish re-attaching before it destroys the guest.
    query = '{"execute":"query-status"}'
    embed.virsh(f"qemu-monitor-command {domain} '{query}'", f"destroy {domain}")
    return elapsed


def measure(repeats: int) -> dict[str, dict[str, list[float]]]:
    """Raw probe and start times per emulator."""
    times: dict[str, dict[str, list[float]]] = {
        "probe": {kind: [] for kind in EMULATORS}, "start": {kind: [] for kind in EMULATORS},
    }
    with tempfile.TemporaryDirectory(prefix="qmpnuma-libvirt-bench-") as tmp:
        folder = Path(tmp)
        embed = Embed(folder / "start" / "embed")
        for number, (kind, emulator) in enumerate(EMULATORS.items()):
            domain = Domain(f"bench-{kind}", 2, uuid=f"6c3c4d9e-0000-4000-8000-00000000b00{number}")
            xml = folder / f"{kind}.xml"
            xml.write_text(domain.xml(emulator))
            # Define and start once first: capabilities get cached, caches get warm.
            embed.virsh(f"define {xml}")
            time_start(embed, domain.name)
        for _ in range(repeats):
            for kind, emulator in EMULATORS.items():
                times["probe"][kind].append(time_probe(emulator, folder))
                times["start"][kind].append(time_start(embed, f"bench-{kind}"))
        for kind in EMULATORS:
            embed.virsh(f"undefine bench-{kind}", check=False)
    return times


def summarize(times: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Median seconds per emulator and the qmpnuma/QEMU ratio, per measurement."""
    out: dict[str, dict[str, float]] = {}
    for name, runs in times.items():
        medians = {kind: statistics.median(values) for kind, values in runs.items()}
        out[name] = {**medians, "ratio": medians["qmpnuma"] / medians["qemu"]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write raw times here")
    args = parser.parse_args(argv)
    reason = libvirt_missing()
    if reason is not None:
        print(f"libvirt benchmark skipped: {reason}")
        return 0
    times = measure(args.repeats)
    table = summarize(times)
    print(f"libvirt 9.0 embedded driver, median of {args.repeats} (seconds)")
    print(f"{'':8} {'qmpnuma':>9} {'QEMU 7.2':>9} {'ratio':>7}")
    for name, row in table.items():
        print(f"{name:8} {row['qmpnuma']:9.3f} {row['qemu']:9.3f} {row['ratio']:7.2f}")
    if args.json is not None:
        result: dict[str, Any] = {"repeats": args.repeats, "raw": times, "median": table}
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
