"""``Machine``: the whole modelled machine, built from a QEMU command line in QEMU's own order.

:meth:`Machine.from_argv` runs QEMU's start-up sequence (:mod:`qmpnuma.machine.startup`) over
the state and hot-plug operations of :class:`~qmpnuma.machine.state.MachineState`; after
start-up the same object answers queries and takes hot-plug requests.
"""

from __future__ import annotations

from collections.abc import Sequence

from qmpnuma.errors import AbortExit, ConfigError
from qmpnuma.machine.host_facts import HostFacts
from qmpnuma.machine.machine_types import MachineType
from qmpnuma.machine.messages import MessageStyle, StartupFailure, message_timestamp
from qmpnuma.machine.recorded_options import (
    MODELLED_OPTIONS,
    UNMODELLED_OPTIONS,
    RecordedOption,
    accelerator_of,
)
from qmpnuma.machine.startup import Startup
from qmpnuma.machine.state import MachineState, NodeSummary, RunState
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE, get_profile

__all__ = [
    "MODELLED_OPTIONS", "UNMODELLED_OPTIONS", "Machine", "MessageStyle", "NodeSummary",
    "RecordedOption", "RunState", "accelerator_of", "message_timestamp",
]


class Machine(MachineState):
    """A machine as QEMU 7.2 (or 2.9) would have built it, with its run state and devices."""

    @classmethod
    def from_argv(
        cls,
        args: Sequence[str],
        profile: Profile | str = DEFAULT_PROFILE,
        progname: str = "qmpnuma",
        host: HostFacts | None = None,
    ) -> Machine:
        """Build the machine for ``args`` (argv without argv[0]) or raise ``ConfigError``.

        ``host`` holds the host facts QEMU's checks consult (see :mod:`qmpnuma.host`, which
        reads them at the edge); without it, the facts of the host this process runs on.
        """
        profile = get_profile(profile)
        if host is None:
            from qmpnuma.host import this_host  # the edge; callers normally hand facts in

            host = this_host()

        def create(machine_type: MachineType, prof: Profile, prog: str,
                   facts: HostFacts) -> Machine:
            return cls(machine_type, prof, prog, facts)

        try:
            machine = Startup(args, profile, progname, host).build(create)
        except StartupFailure as failure:
            if failure.aborts:
                raise AbortExit("".join(failure.lines),
                                daemonized="-daemonize" in args) from None
            raise ConfigError("".join(failure.lines), 1, opened=failure.opened) from None
        assert isinstance(machine, Machine)
        return machine
