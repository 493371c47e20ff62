"""`qmpnuma [QEMU ARGS]`: argv to machine to server, with QEMU's messages and exit statuses.

Sub-commands sit in front of the QEMU arguments, which always start with a dash:
`qmpnuma check [--json] [QEMU ARGS]` validates a command line and prints its NUMA topology, and
`qmpnuma demo` serves the demo machine. The profile is chosen with `--profile=P` as the very first
argument or `QMPNUMA_PROFILE=P` in the environment; 7.2 is the default. The program name in every
message is the basename of argv[0], as QEMU prints its own.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from qmpnuma.errors import ConfigError
from qmpnuma.host import this_host
from qmpnuma.machine import Machine
from qmpnuma.profiles import DEFAULT_PROFILE, PROFILES
from qmpnuma.qmp.session import DEFAULT_GREETINGS, GreetingInfo

USAGE = """\
usage: qmpnuma [--profile=7.2|2.9] [QEMU ARGS...]        serve QMP for the machine QEMU would build
       qmpnuma [--qmp-version=X.Y.Z] [--qmp-package=TEXT] [QEMU ARGS...]  another reported version
       qmpnuma [--profile=P] check [--json] [QEMU ARGS...]  validate and print the NUMA topology
       qmpnuma demo                                        serve the demo machine
       qmpnuma [--faults F] [--control unix:P] [--trace F] [QEMU ARGS...]  instrumented server
       qmpnuma replay TRACE --connect unix:PATH|HOST:PORT  replay a trace, report 1st difference
       qmpnuma replay TRACE --replies OUT                  export a trace as libvirt .replies
       qmpnuma fleet --count N --socket-dir DIR [-- QEMU ARGS]  serve N machines, DIR/vm-K.qmp
       qmpnuma fleet --spec FILE                           serve the machines of a JSON/TOML file
"""


def split_profile(args: Sequence[str]) -> tuple[str, list[str]]:
    """Take the profile from a leading `--profile=P` (or `--profile P`) or the environment."""
    rest = list(args)
    profile = os.environ.get("QMPNUMA_PROFILE", DEFAULT_PROFILE)
    if rest and rest[0].startswith("--profile="):
        profile = rest.pop(0).split("=", 1)[1]
    elif len(rest) >= 2 and rest[0] == "--profile":
        profile = rest[1]
        del rest[:2]
    if profile not in PROFILES:
        raise SystemExit(f"qmpnuma: unknown profile '{profile}' (known: {', '.join(PROFILES)})")
    return profile, rest


def split_greeting(args: Sequence[str], profile: str) -> tuple[GreetingInfo, list[str]]:
    """Take leading `--qmp-version=MAJOR.MINOR.MICRO` / `--qmp-package=TEXT` options.

    They change what the greeting, `query-version` and HMP `info version` report, for clients
    that branch on QEMU's version; the profile's reference binary is the default.
    """
    rest = list(args)
    greeting = DEFAULT_GREETINGS[profile]
    while rest and rest[0].partition("=")[0] in ("--qmp-version", "--qmp-package"):
        name, _, value = rest.pop(0).partition("=")
        if name == "--qmp-package":
            greeting = replace(greeting, package=value)
            continue
        parts = value.split(".")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            raise SystemExit(f"qmpnuma: --qmp-version wants MAJOR.MINOR.MICRO, not '{value}'")
        major, minor, micro = (int(part) for part in parts)
        greeting = replace(greeting, major=major, minor=minor, micro=micro)
    return greeting, rest


def build_machine(args: Sequence[str], profile: str, progname: str) -> Machine:
    """Build the machine or leave exactly as QEMU would: its stderr, its exit status."""
    try:
        machine = Machine.from_argv(args, profile=profile, progname=progname, host=this_host())
    except ConfigError as err:
        sys.stderr.write(err.stderr)
        sys.stderr.flush()
        raise SystemExit(err.status) from None
    for line in machine.warnings:
        sys.stderr.write(line)
    sys.stderr.flush()
    return machine


def check(args: Sequence[str], profile: str, progname: str) -> int:
    """`qmpnuma check`: the same verdict as starting, then the topology instead of a server."""
    from qmpnuma.commands.snapshot import machine_snapshot
    from qmpnuma.commands.topology import numa_text

    as_json = bool(args) and args[0] == "--json"
    machine = build_machine(args[1:] if as_json else args, profile, progname)
    if as_json:
        json.dump(machine_snapshot(machine), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(numa_text(machine))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point of `qmpnuma` and `qmpnuma-system-x86_64`."""
    argv = list(sys.argv if argv is None else argv)
    progname = os.path.basename(argv[0]) if argv else "qmpnuma"
    profile, args = split_profile(argv[1:])
    if args == ["--qmpnuma-help"]:
        sys.stdout.write(USAGE)
        return 0
    if args and args[0] == "check":
        return check(args[1:], profile, progname)
    if args and args[0] == "fleet":
        from qmpnuma.server.fleet_cli import fleet_main

        return fleet_main(args[1:], profile, progname)
    if args and args[0] == "demo":
        from qmpnuma.demo import run_demo

        return run_demo(profile)
    if args and args[0] == "replay":
        from qmpnuma.replay import main as replay_main

        return replay_main(args[1:])
    greeting, args = split_greeting(args, profile)
    instrument = None
    if args and args[0].partition("=")[0] in ("--faults", "--control", "--trace"):
        from qmpnuma.server.instrument import split_instrument_options

        instrument, args = split_instrument_options(args)
    from qmpnuma.server.launch import serve_machine

    machine = build_machine(args, profile, progname)
    if instrument is not None:
        from qmpnuma.server.instrument import install_or_exit

        install_or_exit(instrument, progname)
    return serve_machine(machine, progname, greeting=greeting)


if __name__ == "__main__":
    raise SystemExit(main())
