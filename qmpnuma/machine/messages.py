"""How QEMU prints during start-up: ``error_report``/``warn_report`` lines and ``-msg``.

Every start-up message is ``[TIME ][GUEST ]PROG: [LOCATION: ][warning: ]TEXT`` followed by hint
lines without prefix; ``-msg timestamp=on`` adds the time and ``-msg guest-name=on`` the ``-name``
guest (``error_vprintf``/``vreport`` in ``util/error-report.c``).  Inside a monitor command
(after ``x-exit-preconfig``) QEMU prints neither the program name nor the ``-msg`` prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from qmpnuma.errors import OptionError
from qmpnuma.machine.recorded_options import RecordedOption
from qmpnuma.options.numbers import qapi_bool
from qmpnuma.options.qemuopts import MSG_OPTS, NAME_OPTS, parse_opts
from qmpnuma.records import field, record

__all__ = [
    "MessageStyle", "StartupFailure", "StartupPrinter", "message_style", "message_timestamp",
]


class StartupFailure(Exception):
    """Internal: a start-up error already formatted as stderr lines."""

    def __init__(self, lines: list[str], *, aborts: bool = False) -> None:
        super().__init__("".join(lines))
        self.lines = lines
        #: QEMU aborts after printing (see ``qmpnuma.errors.AbortExit``).
        self.aborts = aborts
        #: The machine whose monitors were created before the failure (see
        #: ``qmpnuma.errors.ConfigError.opened``).
        self.opened: object = None


@record
class StartupPrinter:
    """Collects what QEMU prints on stderr during start-up, prefixed like ``error_report``."""

    progname: str
    lines: list[str] = field(default_factory=list)
    #: `-msg timestamp=on`: each message starts with the UTC time.
    timestamps: bool = False
    #: `-msg guest-name=on` with `-name`: the guest's name follows the time.
    guest_name: str | None = None

    def format(self, message: str, location: str | None = None, *, warning: bool = False,
               hints: Sequence[str] = ()) -> list[str]:
        # Inside a monitor command QEMU prints no program name (e.g. after x-exit-preconfig),
        # and no `-msg` prefix either.
        head = ""
        if self.progname:
            if self.timestamps:
                head += message_timestamp()
            if self.guest_name is not None:
                head += f"{self.guest_name} "
            head += f"{self.progname}: "
        if location is not None:
            head += f"{location}: "
        if warning:
            head += "warning: "
        first, *rest = message.split("\n")
        return [head + first + "\n", *(line + "\n" for line in [*rest, *hints])]

    def warn(self, message: str, location: str | None = None) -> None:
        self.lines.extend(self.format(message, location, warning=True))

    def info(self, message: str, location: str | None = None) -> None:
        self.lines.extend(self.format(message, location))

    def fail(self, message: str, location: str | None = None,
             hints: Sequence[str] = ()) -> StartupFailure:
        return StartupFailure(self.lines + self.format(message, location, hints=hints))

    def abort(self, abort_line: str, message: str, hints: Sequence[str] = ()) -> StartupFailure:
        """An ``error_abort`` failure: the location line of the failed call, then the error."""
        return StartupFailure([*self.lines, abort_line + "\n",
                               *self.format(message, hints=hints)], aborts=True)


@record(frozen=True)
class MessageStyle:
    """What `-msg` and `-name` change in QEMU's messages (last option wins, as in QEMU)."""

    timestamps: bool = False
    #: The guest name printed when `-msg guest-name=on` (None otherwise).
    guest_name: str | None = None
    #: The `-name` guest name, whether or not messages show it.
    name: str | None = None


def message_timestamp() -> str:
    """The `-msg timestamp=on` prefix: UTC time in ISO 8601 with microseconds."""
    from datetime import UTC, datetime  # only with -msg timestamp=on

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ ")


def message_style(options: Sequence[RecordedOption]) -> MessageStyle:
    """Read `-msg timestamp=,guest-name=` and `-name [guest=]NAME` from the command line."""
    timestamps = guest_name_on = False
    name: str | None = None
    for opt in options:
        if opt.name == "msg" and opt.arg:
            for key, value in parse_opts(opt.arg, MSG_OPTS.implied_key):
                if key == "timestamp":
                    timestamps = _is_on(value)
                elif key == "guest-name":
                    guest_name_on = _is_on(value)
        elif opt.name == "name" and opt.arg:
            names = [value for key, value in parse_opts(opt.arg, NAME_OPTS.implied_key)
                     if key == "guest"]
            name = names[-1] if names else name
    return MessageStyle(timestamps, name if guest_name_on else None, name)


def _is_on(value: str) -> bool:
    """A QemuOpts bool that already passed its argv-time check (anything else reads as off)."""
    try:
        return qapi_bool("", value)
    except OptionError:
        return False
