"""`qmpnuma fleet`: the command-line face of `Fleet`.

    qmpnuma [--profile=P] fleet --count N --socket-dir DIR [--profile P] [--] [QEMU ARGS...]
    qmpnuma fleet --spec FILE

Start-up failures are reported the way QEMU reports them, prefixed with the machine they concern;
a fleet that cannot fit under the open-file limit says so before creating anything. Once every
socket exists a line `qmpnuma fleet: N machines ready` goes to stderr (scripts may wait for it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import Sequence

from qmpnuma.profiles import PROFILE_NAMES, Profile, get_profile
from qmpnuma.server.fdlimit import FdLimitError
from qmpnuma.server.fleet import Fleet, FleetStartError
from qmpnuma.server.fleet_spec import FleetSpecError, load_spec_file, uniform_specs


def _parser(progname: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{progname} fleet",
        description="Serve many independent emulated machines from one process, one QMP unix "
        "socket each.",
        epilog="QEMU arguments follow '--' and are the same for every machine of a --count fleet; "
        "monitor options among them (-qmp, -chardev, -mon) are not served: each machine's "
        "monitor is its fleet socket.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--count", type=int, metavar="N", help="number of identical machines")
    source.add_argument("--spec", metavar="FILE", help="JSON or TOML file listing the machines")
    parser.add_argument("--socket-dir", metavar="DIR", help="where vm-K.qmp sockets are created")
    parser.add_argument("--profile", choices=PROFILE_NAMES, help="QEMU version to emulate")
    return parser


def fleet_main(args: Sequence[str], profile: Profile, progname: str = "qmpnuma") -> int:
    """Run `qmpnuma fleet ARGS`; return the exit status."""
    args = list(args)
    qemu_args: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, qemu_args = args[:cut], args[cut + 1 :]
    parser = _parser(progname)
    options = parser.parse_args(args)
    chosen = get_profile(options.profile) if options.profile else profile
    try:
        if options.spec is not None:
            if qemu_args or options.socket_dir:
                parser.error("--spec takes neither --socket-dir nor QEMU arguments")
            specs = load_spec_file(options.spec)
        else:
            if options.socket_dir is None:
                parser.error("--count needs --socket-dir")
            # A mistyped directory is not silently created as a new tree: say so instead.
            if not os.path.isdir(options.socket_dir):
                parser.error(f"--socket-dir {options.socket_dir}: no such directory")
            specs = uniform_specs(options.count, options.socket_dir, qemu_args, chosen)
    except FleetSpecError as err:
        sys.stderr.write(f"{progname} fleet: {err}\n")
        return 1
    fleet = Fleet(specs, progname=progname)
    return asyncio.run(_serve(fleet, progname))


async def _serve(fleet: Fleet, progname: str) -> int:
    began = time.perf_counter()
    try:
        await fleet.start()
    except FdLimitError as err:
        sys.stderr.write(f"{progname} fleet: {err}\n")
        return 1
    except FleetStartError as err:
        sys.stderr.write(f"{progname} fleet: machine {err.index} ({err.socket}) cannot start:\n")
        sys.stderr.write(err.stderr)
        return 1
    # Signals are handled before "ready" is printed: a launcher may send one right after.
    fleet.handle_signals()
    # The machines live until the process ends: keep the collector from rescanning them.
    gc.freeze()
    for line in dict.fromkeys(fleet.warnings):
        sys.stderr.write(line)
    budget = fleet.fd_budget
    limit = f" (open files: {budget.soft} of {budget.hard})" if budget is not None else ""
    sys.stderr.write(
        f"{progname} fleet: {len(fleet)} machines ready in "
        f"{time.perf_counter() - began:.2f} s{limit}\n"
    )
    sys.stderr.flush()
    return await fleet.serve()
