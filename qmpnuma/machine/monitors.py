"""The machine's character devices and monitors, read once from `-chardev`, `-qmp`, `-mon`.

QEMU accepts a monitor either as a one-option shorthand (`-qmp unix:PATH,server=on,wait=off`,
`-qmp tcp:HOST:PORT,server,nowait`, `-qmp stdio`, `-qmp-pretty ...`, the HMP `-monitor ...`),
which creates a chardev named `compat_monitorN` (`monitor_parse` in softmmu/vl.c, counted across
`-qmp` and `-monitor`), or as a character device plus a monitor that names it
(`-chardev socket,id=c,path=PATH,server=on,wait=off -mon chardev=c,mode=control,pretty=on`), the
latter also with an already listening socket inherited on a file descriptor (`fd=N`), which is how
libvirt hands QEMU its monitor.

`monitor_config` turns the recorded options into plain data, once, at start-up: the server binds
its listeners from it and `query-chardev` reports from it. Nothing here opens a socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from qmpnuma.errors import OptionError
from qmpnuma.options.numbers import qapi_bool
from qmpnuma.options.qemuopts import parse_opts

MonitorMode = Literal["control", "readline"]

#: Shorthands `qemu_chr_parse_compat` (chardev/char.c) knows by name, and by prefix; anything
#: else is "not a valid char driver".
COMPAT_NAMES = frozenset({"null", "pty", "msmouse", "wctablet", "braille", "testdev", "stdio"})
COMPAT_PREFIXES = (
    "vc", "con:", "COM", "file:", "pipe:", "udp:", "tcp:", "telnet:", "tn3270:", "websocket:",
    "unix:", "/dev/",
)


class _Option(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def arg(self) -> str | None: ...


@dataclass(frozen=True)
class Chardev:
    """One character device as the command line describes it.

    ``label`` is its id (`compat_monitorN` for a shorthand); ``backend`` QEMU's backend name
    (`socket`, `stdio`, `file`, ...); ``values`` the parsed options (a shorthand's address is
    spelt as `path` or `host`/`port`, as `-chardev socket` would give it); ``error`` the
    message QEMU gives when the shorthand is no character device it knows.
    """

    label: str
    backend: str
    values: dict[str, str] = field(default_factory=dict)
    server: bool = False
    wait: bool = True
    source: str = ""
    shorthand: bool = False


@dataclass(frozen=True)
class Monitor:
    """One monitor: the chardev it runs on, QMP (`control`) or HMP (`readline`), pretty JSON."""

    chardev: str
    mode: MonitorMode
    pretty: bool = False
    source: str = ""


@dataclass(frozen=True)
class MonitorConfig:
    """Every chardev (creation order) and monitor (command-line order) of the machine."""

    chardevs: tuple[Chardev, ...] = ()
    monitors: tuple[Monitor, ...] = ()

    def chardev(self, label: str) -> Chardev | None:
        return next((dev for dev in self.chardevs if dev.label == label), None)

    @property
    def qmp_monitors(self) -> tuple[Monitor, ...]:
        """The QMP monitors, in the order the server numbers them."""
        return tuple(mon for mon in self.monitors if mon.mode == "control")


def _socket_flags(pairs: Sequence[tuple[str, str]]) -> tuple[bool, bool]:
    """Read QEMU's `server`/`wait` switches (also the old bare `server`, `nowait` spellings)."""
    server, wait = False, True
    for key, value in pairs:
        if key == "server":
            server = qapi_bool(key, value)
        elif key == "wait":
            wait = qapi_bool(key, value)
        elif key == "nowait":
            wait = not qapi_bool(key, value)
    return server, wait


def parse_chardev(arg: str) -> Chardev:
    """`-chardev BACKEND,id=ID,...`."""
    pairs = parse_opts(arg, "backend")
    values = dict(pairs)
    server, wait = _socket_flags(pairs)
    return Chardev(
        values.get("id", ""), values.get("backend", ""), values, server, wait,
        source=f"-chardev {arg}",
    )


def parse_shorthand(label: str, spec: str, option: str) -> Chardev:
    """The chardev of `-qmp SPEC` / `-monitor SPEC` (QEMU's compat chardev syntax).

    Unix and TCP sockets and stdio are read in full; any other shorthand (`pty`, `vc`,
    `file:PATH`, ...) keeps its text as ``backend``, which is all `query-chardev` shows of it.
    """
    source = f"-{option} {spec}"
    head, _, rest = spec.partition(",")
    if head not in COMPAT_NAMES and not head.startswith(COMPAT_PREFIXES):
        # `monitor_parse` adds its own line after the chardev layer's refusal
        raise OptionError(f"'{spec}' is not a valid char driver", (f"parse error: {spec}",))
    if not head.startswith(("unix:", "tcp:")):
        return Chardev(label, head, source=source, shorthand=True)
    pairs = parse_opts(rest, None) if rest else []
    server, wait = _socket_flags(pairs)
    values = dict(pairs)
    if head.startswith("unix:"):
        values["path"] = head[5:]
    else:
        host, _, port = head[4:].rpartition(":")
        if not port.isdigit():
            raise OptionError(f"'{spec}' is not a valid char driver")
        values.update(host=host, port=port)
    return Chardev(label, "socket", values, server, wait, source, True)


class MonitorOptionError(OptionError):
    """A `-chardev`/`-qmp`/`-mon` QEMU refuses; ``source`` is the option as given."""

    def __init__(self, source: str, message: str, more: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.source = source
        self.more = more

    def lines(self) -> list[str]:
        """What QEMU prints, one `PROG: SOURCE: TEXT` line each (without PROG)."""
        return [f"{self.source}: {text}" for text in (self.message, *self.more)]


def monitor_config(options: Sequence[_Option]) -> MonitorConfig:
    """Read the chardevs and monitors of a command line (QEMU creates the chardevs first).

    Raises `MonitorOptionError` for an option QEMU refuses at start-up.
    """
    chardevs: list[Chardev] = []
    compat: list[Chardev] = []
    monitors: list[Monitor] = []
    for opt in options:
        if opt.arg is None or opt.name not in ("chardev", "qmp", "qmp-pretty", "monitor", "mon"):
            continue
        try:
            _read_option(opt.name, opt.arg, chardevs, compat, monitors)
        except OptionError as err:
            raise MonitorOptionError(f"-{opt.name} {opt.arg}", err.message, err.hints) from None
    return MonitorConfig(tuple(chardevs + compat), tuple(monitors))


def _read_option(
    name: str, arg: str, chardevs: list[Chardev], compat: list[Chardev], monitors: list[Monitor]
) -> None:
    if name == "chardev":
        chardevs.append(parse_chardev(arg))
    elif name in ("qmp", "qmp-pretty", "monitor"):
        if arg == "none" and name == "monitor":
            return
        label = f"compat_monitor{len(compat)}"
        compat.append(parse_shorthand(label, arg, name))
        mode: MonitorMode = "readline" if name == "monitor" else "control"
        monitors.append(Monitor(label, mode, name == "qmp-pretty", source=f"-{name} {arg}"))
    else:
        values = dict(parse_opts(arg, "chardev"))
        mode = "control" if values.get("mode", "readline") == "control" else "readline"
        pretty = qapi_bool("pretty", values["pretty"]) if "pretty" in values else False
        monitors.append(Monitor(values.get("chardev", ""), mode, pretty, source=f"-mon {arg}"))


__all__ = ["Chardev", "Monitor", "MonitorConfig", "MonitorOptionError", "monitor_config"]
