"""From QEMU's arguments to a built machine, or QEMU's exit: its stderr, its exit status.

Shared by the CLI and the demo (which only chooses the arguments), so neither imports the other.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from qmpnuma.errors import AbortExit, ConfigError, EarlyExit
from qmpnuma.host import this_host
from qmpnuma.machine import Machine
from qmpnuma.profiles import Profile


def build_machine(args: Sequence[str], profile: Profile | str, progname: str) -> Machine:
    """Build the machine or leave exactly as QEMU would: its stderr, its exit status."""
    try:
        machine = Machine.from_argv(args, profile=profile, progname=progname, host=this_host())
    except ConfigError as err:
        if isinstance(err, EarlyExit):
            sys.stdout.write(err.stdout)
            sys.stdout.flush()
        sys.stderr.write(err.stderr)
        sys.stderr.flush()
        if isinstance(err, AbortExit) and not err.daemonized:
            os.abort()
        raise SystemExit(err.status) from None
    for line in machine.warnings:
        sys.stderr.write(line)
    sys.stderr.flush()
    return machine
