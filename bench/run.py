"""`make bench`: every figure of the benchmark issue, qmpnuma and QEMU 7.2 in the same run.

The one-connection and cold-start figures also run the floor (`bench/floor_server.py`, a bare
asyncio server answering a fixed line) and, when `scripts/fetch_reference_binaries.sh` has
unpacked it, QEMU 10.0.2, all in the same rounds with the same client.

    python -m bench.run [--quick] [--out DIR]

Writes DIR/results.json (every raw run), DIR/results.md (the table) and DIR/*.png (the curves);
DIR defaults to this folder. `--quick` repeats less and stops at a fleet of 1,000, for a smoke
test; the README quotes a full run.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench import (
    cold_start,
    fleet_scale,
    in_process,
    instructions,
    many_clients,
    memory,
    report,
    scaling,
    throughput,
)
from bench.launchers import QEMU, QEMU10
from bench.machines import STANDARD
from bench.stats import summary

HERE = os.path.dirname(os.path.abspath(__file__))


def _environment() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_text = "?"
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            kib = int(handle.readline().split()[1])
            memory_text = f"{kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    qemu = "QEMU not found"
    if QEMU is not None:
        qemu = subprocess.run([QEMU, "--version"], capture_output=True, text=True,
                              check=False).stdout.splitlines()[0]
    qemu10 = None
    if QEMU10 is not None:
        qemu10 = subprocess.run([QEMU10, "--version"], capture_output=True, text=True,
                                check=False).stdout.splitlines()[0]
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}, {cpu}",
        "cpus": os.cpu_count(),
        "memory": memory_text,
        "python": platform.python_version(),
        "qemu": qemu,
        "qemu10": qemu10,
        "load_average": os.getloadavg(),
    }


def _slope(steps: list[dict[str, Any]], key: str) -> float:
    """Log-log slope of build time between the middle and the last step (1 = linear)."""
    middle, last = steps[len(steps) // 2], steps[-1]
    return math.log(last["build"]["median"] / middle["build"]["median"]) / math.log(
        last[key] / middle[key])


#: The 1-minute load average when each step began (the machine may be shared).
_LOAD: dict[str, float] = {}


def _timed(name: str, step: Callable[[], Any]) -> Any:
    _LOAD[name] = os.getloadavg()[0]
    began = time.perf_counter()
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    value = step()
    print(f"bench: {name} done in {time.perf_counter() - began:.1f} s", file=sys.stderr,
          flush=True)
    return value


def _libvirt_bench(repeats: int) -> dict[str, Any] | None:
    """Run the libvirt developer's benchmark when it exists, keeping its raw times and text."""
    if not os.path.exists(os.path.join(HERE, "libvirt_bench.py")):
        return None
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        raw_path = os.path.join(folder, "libvirt.json")
        done = subprocess.run(
            [sys.executable, "-m", "bench.libvirt_bench", "--repeats", str(repeats),
             "--json", raw_path],
            capture_output=True, text=True, timeout=600, check=False,
        )
        raw: Any = None
        if os.path.exists(raw_path):
            with open(raw_path, encoding="utf-8") as handle:
                raw = json.load(handle)
    return {"status": done.returncode, "text": done.stdout, "stderr": done.stderr[-2000:],
            "raw": raw}


def _compile_bytecode() -> None:
    """Write qmpnuma's bytecode and its start bundle before any start is timed, as `pip
    install` and the Makefile's install step do.

    An editable checkout run with PYTHONDONTWRITEBYTECODE=1 (set on the machine the README
    figures come from) would otherwise compile every module on every start, which measures the
    compiler rather than qmpnuma.
    """
    from qmpnuma import start_bundle

    # as the Makefile's install step does (`python -m qmpnuma.start_bundle`)
    start_bundle.write_start_set()
    start_bundle.compile_package()


def run(quick: bool) -> dict[str, Any]:
    repeats = 3 if quick else 7
    # A cold start is ~0.1 s, and one start is easily moved by a few ms by the machine's
    # other work: 31 alternating rounds cost ~20 s and give a median that holds from run to run.
    cold_repeats = 5 if quick else 31
    figures: dict[str, Any] = {}

    cold = _timed("1 cold start", lambda: cold_start.measure(STANDARD, cold_repeats))
    figures["cold_start"] = {kind: summary(runs) for kind, runs in cold.items()} | {
        "python_floor": summary(cold["python"]),
        "floor_phases": cold_start.phases_of_rounds(cold),
        "imports": cold_start.import_breakdown(STANDARD),
        "instructions": _timed("1 cold start, instructions",
                               lambda: instructions.measure(STANDARD)),
    }
    inproc = _timed("2 in-process start",
                    lambda: in_process.measure(STANDARD, 50 if quick else 300))
    figures["in_process"] = {name: summary(runs) for name, runs in inproc.items()}
    rates = _timed("3+4 one connection",
                   lambda: throughput.measure(STANDARD, repeats, 2000 if quick else 5000, 10000))
    figures["one_connection"] = {
        command: {mode: {kind: summary(runs) for kind, runs in kinds.items()}
                  for mode, kinds in modes.items()}
        for command, modes in rates.items()
    }
    for key in ("roundtrips", "pipelined"):
        figures[key] = figures["one_connection"]["query-memdev"][key]
    machines = 100
    many = _timed("5 many clients",
                  lambda: many_clients.measure(STANDARD, machines, 50 if quick else 200,
                                               2 if quick else 3))
    figures["many_clients"] = {"machines": machines} | {
        kind: {metric: summary([run[metric] for run in runs])
               for metric in ("replies_per_s", "p50_ms", "p99_ms")}
        for kind, runs in many.items()
    }
    sizes = (100, 1000) if quick else (100, 1000, 10000)
    rss = _timed("6 memory", lambda: memory.measure(STANDARD, sizes, 2 if quick else 3))
    base = summary(rss["1"])["median"]
    figures["memory"] = {
        "sizes": list(sizes),
        "qemu_kib": summary(rss["qemu"]),
        "rss_kib": {key: summary(runs) for key, runs in rss.items() if key != "qemu"},
        "per_machine_kib": {
            str(n): {"total": summary(rss[str(n)])["median"] / n,
                     "marginal": (summary(rss[str(n)])["median"] - base) / (n - 1)}
            for n in sizes
        },
    }
    steps = _timed("7 model scaling", lambda: scaling.measure(5 if quick else 15,
                                                              1 if quick else 3))
    for group in steps.values():
        for step in group:
            step["build"] = summary(step["build"])
    figures["scaling"] = steps | {
        "nodes_slope": _slope(steps["nodes"], "nodes"),
        "cpus_slope": _slope(steps["cpus"], "cpus"),
    }
    figures["scaling"]["nodes_linear"] = figures["scaling"]["nodes_slope"] < 1.3
    figures["scaling"]["cpus_linear"] = figures["scaling"]["cpus_slope"] < 1.3
    counts = [1000, 3000] if quick else [1000, 3000, 10000, 30000, 100000]
    figures["fleet_scale"] = _timed("8 fleet of up to 100,000",
                                    lambda: fleet_scale.measure(counts))
    libvirt = _timed("libvirt bench", lambda: _libvirt_bench(1 if quick else 3))
    if libvirt is not None:
        figures["libvirt"] = libvirt
    figures["load"] = dict(_LOAD)
    return {"environment": _environment(), "quick": quick, "figures": figures,
            "rows": report.rows(figures)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, fleets up to 1,000")
    parser.add_argument("--out", default=HERE, help="folder for results.json/.md and the PNGs")
    parser.add_argument("--readme", metavar="PATH",
                        help="also put the table between the bench-results markers of PATH")
    parser.add_argument("--report-only", action="store_true",
                        help="redraw results.md and the plots from an existing results.json")
    options = parser.parse_args(argv)
    if options.report_only:
        with open(os.path.join(options.out, "results.json"), encoding="utf-8") as handle:
            return _write_outputs(json.load(handle), options.out, options.readme)
    if QEMU is None:
        print("bench: qemu-system-x86_64 is needed (apt-get install qemu-system-x86)",
              file=sys.stderr)
        return 1
    _compile_bytecode()
    gc.collect()
    load_before = os.getloadavg()
    results = run(options.quick)
    results["environment"]["load_average_before"] = load_before
    os.makedirs(options.out, exist_ok=True)
    with open(os.path.join(options.out, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
        handle.write("\n")
    return _write_outputs(results, options.out, options.readme)


_README_START = "<!-- bench-results:start -->\n"
_README_END = "<!-- bench-results:end -->"


def _update_readme(path: str, table: str) -> None:
    """Replace what lies between the README's bench-results markers with ``table``."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    head, found, rest = text.partition(_README_START)
    if not found or _README_END not in rest:
        print(f"bench: no bench-results markers in {path}", file=sys.stderr)
        return
    tail = rest[rest.index(_README_END):]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head + _README_START + table + tail)


def _write_outputs(results: dict[str, Any], out: str, readme: str | None = None) -> int:
    """results.md and the PNG files from a results document; the table also goes to stdout."""
    results["rows"] = report.rows(results["figures"])
    table = report.markdown(results)
    with open(os.path.join(out, "results.md"), "w", encoding="utf-8") as handle:
        handle.write(table)
    if readme is not None:
        _update_readme(readme, table)
    try:
        from bench.plots import draw

        for path in draw(results, out):
            print(f"bench: wrote {path}", file=sys.stderr)
    except ImportError:
        print("bench: matplotlib missing (pip install -e '.[bench]'): no plots", file=sys.stderr)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
