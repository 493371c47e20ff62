"""qmpnuma's one-connection rates as a share of the floor, interleaved in one run (issue 12).

    python -m bench.floor_share [--rounds 5] [--sequential 2000] [--burst 10000]

Each round measures, for every command and mode, one after the other with the same client
(`bench.qmp_client` in its own process): the floor (`bench/floor_server.py`, a fixed 17-byte
reply), the *sized* floor (the same server answering a fixed line as long as qmpnuma's reply
to that command, so the client reads as many bytes), and qmpnuma with profiles 7.2 and 10.0,
each with identical request lines and with a unique `"id"` per request. Interleaving keeps a
change of the machine's load on all of them alike; only ratios within one run mean anything on
a shared machine. With `--baseline DIR` (a checkout of another revision's `qmpnuma/` package,
e.g. from `git archive REV qmpnuma | tar -x -C DIR`) that revision runs beside it as "base" and
"base10", for a before/after in the same run. Prints per row the median rate and the median
(min-max) of the per-round shares of the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import site
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from bench.launchers import Running, start
from bench.machines import STANDARD
from bench.throughput import reply_sizes, start_sized_floors

COMMANDS = ("query-memdev", "query-cpus-fast", "qmp_capabilities")
MODES = ("roundtrips", "pipelined")
#: (launcher kind, client sends unique ids)
SERVERS = (("qmpnuma", False), ("qmpnuma", True), ("qmpnuma10", False), ("qmpnuma10", True))


def _client(mode: str, sock: str, count: int, command: str, unique: bool) -> float:
    argv = [sys.executable, "-m", "bench.qmp_client", mode, sock, str(count), command]
    done = subprocess.run([*argv, *(["--unique-ids"] if unique else [])],
                          capture_output=True, text=True, check=True, timeout=300)
    seconds: float = json.loads(done.stdout)["seconds"]
    return count / seconds


def _baseline(folder: str, name: str, baseline: str, profile: list[str]) -> Running:
    """qmpnuma from the package in ``baseline`` (`-S` keeps the editable install's finder and
    `-P` the working directory, which would both load this worktree's package, out of the way).
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([baseline, *site.getsitepackages()]))
    return start("qmpnuma", STANDARD, os.path.join(folder, f"{name}.qmp"), env=env,
                 command_line=[sys.executable, "-S", "-P", "-m", "qmpnuma.cli", *profile])


def measure(
    rounds: int, sequential: int, burst: int,
    commands: Sequence[str] = COMMANDS, modes: Sequence[str] = MODES,
    baseline: str | None = None,
) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {}
    servers_measured = list(SERVERS)
    if baseline is not None:
        servers_measured += [("base", False), ("base", True), ("base10", False),
                             ("base10", True)]
    counts = {"roundtrips": sequential, "pipelined": burst}
    with tempfile.TemporaryDirectory(prefix="qmpnuma-share-") as folder:
        servers: dict[str, Running] = {}
        try:
            for kind in ("qmpnuma", "qmpnuma10", "floor"):
                servers[kind] = start(kind, STANDARD, os.path.join(folder, f"{kind}.qmp"))
            sizes = reply_sizes(servers["qmpnuma"], COMMANDS)
            floors = start_sized_floors(sizes, STANDARD, folder, COMMANDS)
            servers.update({f"sized {command}": floor for command, floor in floors.items()})
            if baseline is not None:
                servers["base"] = _baseline(folder, "base", baseline, [])
                servers["base10"] = _baseline(folder, "base10", baseline, ["--profile=10.0"])
            print("qmpnuma reply bytes:", sizes, file=sys.stderr)
            for _ in range(rounds):
                for command in commands:
                    for mode in modes:
                        count = counts[mode]
                        rows = [("floor", False), ("floor", True), (f"sized {command}", False),
                                *servers_measured]
                        for kind, unique in rows:
                            key = f"{command} {mode} {kind}{' unique-ids' if unique else ''}"
                            sock = servers[kind].socket
                            rates.setdefault(key, []).append(
                                _client(mode, sock, count, command, unique))
        finally:
            for running in servers.values():
                running.stop()
    return rates


def report(rates: dict[str, list[float]]) -> list[str]:
    """Per row: the median rate, and the median (min-max) of its per-round shares of the
    floor measured just before it in the same round (the unique-id floor for unique ids)."""
    lines = []
    for command in COMMANDS:
        for mode in MODES:
            prefix = f"{command} {mode} "
            if prefix + "floor" not in rates:
                continue
            for key, values in rates.items():
                if not key.startswith(prefix):
                    continue
                floor = rates[prefix + ("floor unique-ids" if key.endswith("unique-ids")
                                        else "floor")]
                shares = [value / base for value, base in zip(values, floor, strict=True)]
                lines.append(f"{key:55s} {statistics.median(values):9.0f}/s  share "
                             f"{statistics.median(shares):5.2f} "
                             f"({min(shares):.2f}-{max(shares):.2f})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_share", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sequential", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=10000)
    parser.add_argument("--command", action="append", choices=COMMANDS,
                        help="only this command (repeatable; default: all three)")
    parser.add_argument("--mode", action="append", choices=MODES,
                        help="only this mode (repeatable; default: both)")
    parser.add_argument("--baseline", help="a directory holding another revision's qmpnuma/")
    parser.add_argument("--json", help="also write the raw rates here")
    options = parser.parse_args(argv)
    rates = measure(options.rounds, options.sequential, options.burst,
                    options.command or COMMANDS, options.mode or MODES, options.baseline)
    if options.json:
        with open(options.json, "w", encoding="utf-8") as out:
            json.dump(rates, out, indent=1)
    print("\n".join(report(rates)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
