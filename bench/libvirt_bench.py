"""libvirt with qmpnuma versus with the real QEMU: capability probe and domain start.

    python -m bench.libvirt_bench [--repeats N] [--json FILE]

Every pair of a libvirt and a QEMU that the end-to-end tests drive is timed: Debian 12's
libvirt 9.0 with QEMU 7.2, and libvirt 11.3 (from `scripts/fetch_reference_binaries.sh`) with
QEMU 7.2 and with QEMU 10.0.2; the qmpnuma side is the wrapper that runs qmpnuma with that
QEMU's profile (`--profile`). Pairs whose binaries are missing are left out and said so. All go
through `virsh -c 'qemu:///embed?root=DIR'` (libvirt's embedded QEMU driver, no daemon; the
`libvirt-qemu` user is needed, see `.ci/run`):

* probe: `virsh domcapabilities --emulatorbin EMU --virttype qemu` in a fresh embedded root,
  i.e. libvirt's two-pass QMP capability probe plus its own start-up;
* start: `virsh start` of the 2-cell NUMA guest of the end-to-end test, capabilities cached,
  i.e. command-line generation, emulator start, the start-up QMP sequence and `cont`.

qmpnuma and QEMU alternate within each repeat so that drift in the machine's load hits both.
Prints medians and the qmpnuma/QEMU ratio per pair; `--json` also writes every raw time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from libvirt_harness import (
    REAL_QEMU,
    Domain,
    Embed,
    domcapabilities,
    libvirt_missing,
    profile_emulator,
    reference_binary,
)


@dataclass(frozen=True)
class Pair:
    """One libvirt and one real QEMU, with the qmpnuma profile that imitates that QEMU."""

    libvirt: str
    virsh: str | None
    profile: str
    qemu: str | None

    @property
    def label(self) -> str:
        return f"libvirt {self.libvirt} + QEMU {self.profile}"


def pairs() -> list[Pair]:
    """The pairs the end-to-end tests drive (a binary not found is None)."""
    virsh_11_3 = reference_binary("QMPNUMA_VIRSH_11_3", "virsh")
    qemu_10_0 = reference_binary("QMPNUMA_QEMU_10_0", "qemu-system-x86_64")
    return [Pair("9.0", "virsh", "7.2", REAL_QEMU), Pair("11.3", virsh_11_3, "7.2", REAL_QEMU),
            Pair("11.3", virsh_11_3, "10.0", qemu_10_0)]


def time_probe(virsh: str, emulator: str, folder: Path) -> float:
    """Seconds for a capability probe of ``emulator`` in a fresh embedded root."""
    embed = Embed(Path(tempfile.mkdtemp(prefix="probe-", dir=folder)) / "embed", virsh)
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


def measure_pair(pair: Pair, virsh: str, qemu: str, repeats: int,
                 folder: Path) -> dict[str, dict[str, list[float]]]:
    """Raw probe and start times of the pair, per emulator (``qmpnuma``, ``qemu``)."""
    emulators = {"qmpnuma": profile_emulator(folder, pair.profile), "qemu": qemu}
    times: dict[str, dict[str, list[float]]] = {
        "probe": {kind: [] for kind in emulators}, "start": {kind: [] for kind in emulators},
    }
    embed = Embed(folder / "start" / "embed", virsh)
    for number, (kind, emulator) in enumerate(emulators.items()):
        domain = Domain(f"bench-{kind}", 2, uuid=f"6c3c4d9e-0000-4000-8000-00000000b00{number}")
        xml = folder / f"{kind}.xml"
        xml.write_text(domain.xml(emulator))
        # Define and start once first: capabilities get cached, caches get warm.
        embed.virsh(f"define {xml}")
        time_start(embed, domain.name)
    for _ in range(repeats):
        for kind, emulator in emulators.items():
            times["probe"][kind].append(time_probe(virsh, emulator, folder))
            times["start"][kind].append(time_start(embed, f"bench-{kind}"))
    for kind in emulators:
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write raw times here")
    args = parser.parse_args(argv)
    raw: dict[str, Any] = {}
    table: dict[str, dict[str, dict[str, float]]] = {}
    skipped: dict[str, str] = {}
    for pair in pairs():
        reason = None if pair.virsh is None else libvirt_missing(pair.virsh)
        if pair.virsh is None or pair.qemu is None or reason is not None:
            skipped[pair.label] = reason or "binary not found (scripts/fetch_reference_binaries.sh)"
            continue
        with tempfile.TemporaryDirectory(prefix="qmpnuma-libvirt-bench-") as tmp:
            raw[pair.label] = measure_pair(pair, pair.virsh, pair.qemu, args.repeats, Path(tmp))
        table[pair.label] = summarize(raw[pair.label])
    print(f"libvirt embedded driver, median of {args.repeats} (seconds)")
    print(f"{'':26} {'':6} {'qmpnuma':>9} {'QEMU':>9} {'ratio':>7}")
    for label, rows in table.items():
        for name, row in rows.items():
            print(f"{label:26} {name:6} {row['qmpnuma']:9.3f} {row['qemu']:9.3f} "
                  f"{row['ratio']:7.2f}")
    for label, reason in skipped.items():
        print(f"{label}: skipped ({reason})")
    if args.json is not None:
        result: dict[str, Any] = {"repeats": args.repeats, "raw": raw, "median": table,
                                  "skipped": skipped}
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
