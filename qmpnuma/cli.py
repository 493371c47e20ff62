"""`qmpnuma [QEMU ARGS]`: argv to machine to server, with QEMU's messages and exit statuses.

Sub-commands sit in front of the QEMU arguments, which always start with a dash:
`qmpnuma check [--json] [QEMU ARGS]` validates a command line and prints its NUMA topology, and
`qmpnuma demo` serves the demo machine. The profile is chosen with `--profile=P` among qmpnuma's
own leading options or right after a sub-command, or `QMPNUMA_PROFILE=P` in the environment. The
program name in every message is the basename of argv[0], as QEMU prints its own. `qmpnuma
--help` prints qmpnuma's usage; under QEMU's name every argument is QEMU's.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qmpnuma.profiles import Profile
    from qmpnuma.qmp.session import GreetingInfo

# The rest of qmpnuma is imported by the functions that use it, under `_start_up` when the
# process goes on to serve (issue 12: a cold start imports what its first reply needs).

USAGE = """\
usage: qmpnuma [OPTIONS] [QEMU ARGS...]             serve QMP for the machine QEMU would build
       qmpnuma [--profile=P] check [--json] [QEMU ARGS...]  validate and print the NUMA topology
       qmpnuma [--profile=P] demo                       serve the demo machine
       qmpnuma replay TRACE --connect unix:PATH|HOST:PORT  replay a trace, report 1st difference
       qmpnuma replay TRACE --replies OUT               export a trace as libvirt .replies
       qmpnuma [--profile=P] fleet --count N --socket-dir DIR [-- QEMU ARGS]  N machines
       qmpnuma [--profile=P] fleet --spec FILE          serve the machines of a JSON/TOML file
       qmpnuma SUB-COMMAND --help                      the usage of one sub-command

OPTIONS (before the QEMU arguments, in any order):
  --profile=P           QEMU version to imitate: {profiles} (default {default};
                        also QMPNUMA_PROFILE=P in the environment)
  --qmp-version=X.Y.Z   report another QEMU version in the greeting and query-version
  --qmp-package=TEXT    report another package string
  --faults FILE         inject the faults of a fault plan (JSON)
  --control unix:PATH   change faults at run time over a control socket
  --trace FILE          record every byte in and out

QEMU ARGS are qemu-system-x86_64's own; `qmpnuma -help` and `-version` print what the
profile's QEMU prints. Under any other program name (qmpnuma-system-x86_64) every argument,
--help included, is QEMU's.
"""

SUB_USAGE = {
    "check": "usage: qmpnuma [--profile=P] check [--json] [QEMU ARGS...]\n\n"
    "Validate a QEMU command line as the profile's QEMU would (same stderr, same exit\n"
    "status) and print its NUMA topology as HMP `info numa` does, or with --json the\n"
    "answers of every query.\n",
    "demo": "usage: qmpnuma [--profile=P] demo\n\n"
    "Serve a 2-node demo machine on a unix socket and on 127.0.0.1:4444 (the port comes\n"
    "from QMPNUMA_DEMO_TCP_PORT when set; a free one is taken when 4444 is busy) and print\n"
    "how to connect.\n",
    "replay": "usage: qmpnuma replay TRACE --connect unix:PATH|HOST:PORT\n"
    "       qmpnuma replay TRACE --replies OUT\n\n"
    "Send a recorded trace to any QMP endpoint and report the first difference, or export\n"
    "it in libvirt's .replies format.\n",
}

#: The sub-commands, as the first word after qmpnuma's own options.
SUB_COMMANDS = ("check", "fleet", "demo", "replay")
_GREETING_OPTIONS = ("--qmp-version", "--qmp-package")
_INSTRUMENT_OPTIONS = ("--faults", "--control", "--trace")


@contextlib.contextmanager
def _start_up() -> Iterator[None]:
    """Importing qmpnuma and building the machine, with the cyclic collector paused.

    Sub-commands (the fleet and the demo serve for long) run outside it.

    Start-up makes tens of thousands of long-lived objects (classes, functions, the model) and
    no garbage cycles worth collecting, yet the collector would walk them several times on the
    way to the first reply. They are frozen at the end (`gc.freeze`: later collections leave
    them out) and collecting resumes for what the server makes from then on.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if collecting:
            gc.enable()


def usage() -> str:
    from qmpnuma.profiles import DEFAULT_PROFILE, PROFILE_NAMES

    return USAGE.format(profiles=", ".join(PROFILE_NAMES), default=DEFAULT_PROFILE.name)


def _take_profile(rest: list[str]) -> str | None:
    """Remove one leading `--profile=P` / `--profile P` from ``rest``; its value, if any."""
    if rest and rest[0].startswith("--profile="):
        return rest.pop(0).split("=", 1)[1]
    if len(rest) >= 2 and rest[0] == "--profile":
        value = rest[1]
        del rest[:2]
        return value
    return None


def split_profile(args: Sequence[str]) -> tuple[Profile, list[str]]:
    """Take `--profile=P` (or `--profile P`) from among qmpnuma's leading options, or from
    right after a sub-command; else the environment's `QMPNUMA_PROFILE`; else the default.

    qmpnuma's own options (`--profile`, `--qmp-version`, `--qmp-package`, `--faults`,
    `--control`, `--trace`) may come in any order before the QEMU arguments.
    """
    from qmpnuma.profiles import DEFAULT_PROFILE, PROFILE_NAMES, get_profile

    rest = list(args)
    chosen: str | None = None
    leading: list[str] = []
    while rest:
        value = _take_profile(rest)
        if value is not None:
            chosen = value
            continue
        name, eq, _ = rest[0].partition("=")
        if name in _GREETING_OPTIONS or (name in _INSTRUMENT_OPTIONS and eq):
            leading.append(rest.pop(0))
        elif name in _INSTRUMENT_OPTIONS and len(rest) >= 2:
            leading += rest[:2]
            del rest[:2]
        else:
            break
    if rest and rest[0] in SUB_COMMANDS:
        command = rest.pop(0)
        value = _take_profile(rest)
        chosen = value if value is not None else chosen
        rest.insert(0, command)
    name = chosen if chosen is not None else os.environ.get("QMPNUMA_PROFILE", DEFAULT_PROFILE.name)
    try:
        return get_profile(name), leading + rest
    except ValueError:
        known = ", ".join(PROFILE_NAMES)
        raise SystemExit(f"qmpnuma: unknown profile '{name}' (known: {known})") from None


def split_greeting(
    args: Sequence[str], profile: Profile, greeting: GreetingInfo | None = None
) -> tuple[GreetingInfo, list[str]]:
    """Take leading `--qmp-version=MAJOR.MINOR.MICRO` / `--qmp-package=TEXT` options.

    They change what the greeting, `query-version` and HMP `info version` report, for clients
    that branch on QEMU's version; the profile's reference binary is the default.
    """
    from qmpnuma.qmp.session import default_greeting
    from qmpnuma.records import replace

    rest = list(args)
    greeting = default_greeting(profile) if greeting is None else greeting
    while rest and rest[0].partition("=")[0] in _GREETING_OPTIONS:
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


def check(args: Sequence[str], profile: Profile, progname: str) -> int:
    """`qmpnuma check`: the same verdict as starting, then the topology instead of a server."""
    import json

    from qmpnuma.commands.snapshot import machine_snapshot
    from qmpnuma.commands.topology import numa_text
    from qmpnuma.start import build_machine

    as_json = bool(args) and args[0] == "--json"
    machine = build_machine(args[1:] if as_json else args, profile, progname)
    try:
        if as_json:
            json.dump(machine_snapshot(machine), sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(numa_text(machine))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`qmpnuma check --json | head`): no traceback, as a filter should;
        # stdout goes to /dev/null so that the interpreter's final flush fails no more.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point of `qmpnuma` and `qmpnuma-system-x86_64`.

    The rest of the package is imported through the start bundle (`qmpnuma.start_bundle`: its
    modules' bytecode read from one file), which is brought up to date on the way out when a
    module had to come from its own file. The standard library modules asyncio imports that no
    start needs (`ssl`, `inspect`) run only when used (`qmpnuma.deferred_stdlib`).
    """
    from qmpnuma.deferred_stdlib import defer_unused_stdlib

    defer_unused_stdlib()
    with _start_up():
        from qmpnuma import start_bundle

        bundle = start_bundle.install()
    try:
        return _main(argv)
    finally:
        start_bundle.uninstall(bundle)
        start_bundle.refresh(bundle)


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv if argv is None else argv)
    progname = os.path.basename(argv[0]) if argv else "qmpnuma"
    with _start_up():
        profile, args = split_profile(argv[1:])
    if progname == "qmpnuma" and args[:1] in (["--help"], ["-h"], ["--qmpnuma-help"]):
        sys.stdout.write(usage())
        return 0
    if len(args) >= 2 and args[0] in SUB_USAGE and args[1] in ("--help", "-h"):
        sys.stdout.write(SUB_USAGE[args[0]])
        return 0
    if args and args[0] in SUB_COMMANDS:
        return _sub_command(args, profile, progname)
    with _start_up():
        greeting, args = split_greeting(args, profile)
        instrument = None
        if args and args[0].partition("=")[0] in _INSTRUMENT_OPTIONS:
            from qmpnuma.server.instrument import split_instrument_options

            instrument, args = split_instrument_options(args)
            greeting, args = split_greeting(args, profile, greeting)
        from qmpnuma.server.launch import serve_machine
        from qmpnuma.start import build_machine

        machine = build_machine(args, profile, progname, greeting)
        if instrument is not None:
            from qmpnuma.server.instrument import install_or_exit

            install_or_exit(instrument, progname)
        from qmpnuma.start_bundle import note_start

        note_start()
    return serve_machine(machine, progname, greeting=greeting)


def _sub_command(args: list[str], profile: Profile, progname: str) -> int:
    """`check`, `fleet`, `demo` or `replay` (``args[0]``)."""
    if args[0] == "check":
        return check(args[1:], profile, progname)
    if args[0] == "fleet":
        from qmpnuma.server.fleet_cli import fleet_main

        return fleet_main(args[1:], profile, progname)
    if args[0] == "demo":
        from qmpnuma.demo import run_demo

        return run_demo(profile)
    from qmpnuma.replay import main as replay_main

    return replay_main(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
