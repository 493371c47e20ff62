"""From QEMU's arguments to a built machine, or QEMU's exit: its stderr, its exit status.

Shared by the CLI and the demo (which only chooses the arguments), so neither imports the other.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qmpnuma.errors import AbortExit, ConfigError, EarlyExit
from qmpnuma.host import this_host
from qmpnuma.machine import Machine
from qmpnuma.profiles import Profile

if TYPE_CHECKING:
    from qmpnuma.qmp.session import GreetingInfo


def _write_out(data: bytes) -> None:
    if data:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def build_machine(
    args: Sequence[str], profile: Profile | str, progname: str,
    greeting: GreetingInfo | None = None,
) -> Machine:
    """Build the machine or leave exactly as QEMU would: its stdout (``-version``, or what
    monitors on stdio said before a later step failed), its stderr, its exit status.
    ``greeting`` is what a QMP monitor would greet with (default: the profile's)."""
    try:
        machine = Machine.from_argv(args, profile=profile, progname=progname, host=this_host())
    except ConfigError as err:
        if isinstance(err, EarlyExit):
            sys.stdout.write(err.stdout)
            sys.stdout.flush()
        before, after = b"", b""
        if err.opened is not None:
            from qmpnuma.server.opening import opening_words  # only a failed start needs it

            before, after = opening_words(err.opened, greeting)
        _write_out(before)
        sys.stderr.write(err.stderr)
        sys.stderr.flush()
        _write_out(after)
        if isinstance(err, AbortExit) and not err.daemonized:
            os.abort()
        raise SystemExit(err.status) from None
    for line in machine.warnings:
        sys.stderr.write(line)
    sys.stderr.flush()
    return machine
