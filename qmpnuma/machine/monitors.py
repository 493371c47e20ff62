"""The machine's character devices and monitors, read once from `-chardev`, `-qmp`, `-mon`.

QEMU accepts a monitor either as a one-option shorthand (`-qmp unix:PATH,server=on,wait=off`,
`-qmp tcp:HOST:PORT,server,nowait`, `-qmp stdio`, `-qmp-pretty ...`, the HMP `-monitor ...`),
which creates a chardev named `compat_monitorN` (`monitor_parse` in softmmu/vl.c, counted across
`-qmp` and `-monitor`), or as a character device plus a monitor that names it
(`-chardev socket,id=c,path=PATH,server=on,wait=off -mon chardev=c,mode=control,pretty=on`), the
latter also with a socket inherited on a file descriptor (`fd=N`): a listening one is how libvirt
hands QEMU its monitor, a connected one (one end of a socket pair) is how QEMU's own 10.0
`QEMUMachine` does. A socket chardev without `server=on` is a client: QEMU connects to its address
at start-up (`reconnect=N`: and again every N seconds after a failure or a hang-up).

Guest devices read chardevs too: `-serial chardev:ID` (or `-serial SPEC`, which creates a chardev
`serialN`) and `-device isa-serial,chardev=ID`. A chardev has at most one reader; who claims one
twice, or one that does not exist, is refused with QEMU's message (`check_monitors`,
`check_serial`, `check_devices`).

`monitor_config` turns the recorded options into plain data, once, at start-up: the server opens
or connects its sockets from it and `query-chardev` reports from it. Nothing here opens a socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from qmpnuma.errors import OptionError
from qmpnuma.options.diagnostics import OptionWarning
from qmpnuma.options.numbers import qapi_bool, qemuopts_bool, qemuopts_number
from qmpnuma.options.qemuopts import OptsList, parse_opts, parse_qemu_opts
from qmpnuma.profiles.profile import Profile, Texts
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.records import field, record, replace

MonitorMode = Literal["control", "readline"]
#: Which option created a chardev: QEMU creates `-chardev`/`-qmp`/`-monitor` ones early
#: (`qemu_create_early_backends`), the `-serial SPEC` ones late, after the monitors
#: (`serial_parse` in `qemu_create_late_backends`).
ChardevOrigin = Literal["chardev", "monitor", "serial", "parallel"]

#: Shorthands `qemu_chr_parse_compat` (chardev/char.c) knows by name, and by prefix; anything
#: else is "not a valid char driver".
COMPAT_NAMES = frozenset({"null", "pty", "msmouse", "wctablet", "braille", "testdev", "stdio"})
COMPAT_PREFIXES = (
    "vc", "con:", "COM", "file:", "pipe:", "udp:", "tcp:", "telnet:", "tn3270:", "websocket:",
    "unix:", "/dev/",
)
#: QEMU's `-mon` options (`qemu_mon_opts`): anything else is an invalid parameter, and `pretty`
#: is a QemuOpts bool, checked while the option is parsed.
MON_OPTS = OptsList("mon", "chardev", {"mode": "string", "chardev": "string", "pretty": "bool"})
MON_MODES = ("readline", "control")
#: Guest devices with a chardev property, and the QOM type QEMU names in its property errors
#: (`isa-serial`'s property belongs to its embedded `serial` state).
CHARDEV_DEVICES = {"isa-serial": "serial"}


if TYPE_CHECKING:  # a Protocol class only types; making one costs ~30 µs of a start
    class _Option(Protocol):
        @property
        def name(self) -> str: ...

        @property
        def arg(self) -> str | None: ...


@record(frozen=True)
class Chardev:
    """One character device as the command line describes it.

    ``label`` is its id (`compat_monitorN` for a shorthand); ``backend`` QEMU's backend name
    (`socket`, `stdio`, `file`, ...); ``values`` the parsed options (a shorthand's address is
    spelt as `path` or `host`/`port`, as `-chardev socket` would give it); ``origin`` the kind
    of option that created it; ``error`` QEMU's refusal of a `-serial SPEC` it cannot parse
    (reported when QEMU gets to creating it). The tuple of a `MonitorConfig` lists `-chardev`
    ones before the `-qmp`/`-monitor` ones; ``created`` says which QEMU creates first.
    """

    label: str
    backend: str
    values: dict[str, str] = field(default_factory=dict)
    server: bool = False
    wait: bool = True
    source: str = ""
    shorthand: bool = False
    origin: ChardevOrigin = "chardev"
    error: str | None = None
    #: where QEMU creates it among the early chardevs: `-chardev`, `-qmp` and `-monitor` add to
    #: one option list as the command line names them (`monitor_parse`), created in that order
    created: int = 0

    @property
    def is_socket(self) -> bool:
        return self.backend == "socket"

    @property
    def reconnect(self) -> int:
        """Seconds between a client's connection attempts (0: one attempt, at start-up)."""
        return qemuopts_number("reconnect", self.values.get("reconnect", "0"))


@record(frozen=True)
class Monitor:
    """One monitor: the chardev it runs on, QMP (`control`) or HMP (`readline`), pretty JSON.

    ``error`` is what QEMU's `MonitorOptions` visitor refuses in a `-mon` (a bad `mode`, no
    `chardev`); QEMU reports it only when it creates the monitors, after the chardevs
    (`mon_init_func`), so it is kept here and raised by `check_monitors`.
    """

    chardev: str
    mode: MonitorMode
    pretty: bool = False
    source: str = ""
    error: str | None = None


@record(frozen=True)
class Frontend:
    """A guest device reading a chardev: a `-serial` port or a `-device ...,chardev=ID`.

    ``owner`` is the QOM type QEMU names in a `-device`'s property errors.
    """

    chardev: str
    source: str
    kind: Literal["serial", "parallel", "device"]
    owner: str = ""


@record(frozen=True)
class MonitorConfig:
    """Every chardev (creation order), monitor (command-line order) and guest frontend."""

    chardevs: tuple[Chardev, ...] = ()
    monitors: tuple[Monitor, ...] = ()
    frontends: tuple[Frontend, ...] = ()
    #: warnings QEMU prints while parsing these options, each with the option it names
    warnings: tuple[tuple[str, OptionWarning], ...] = ()

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
    if "reconnect" in values:
        qemuopts_number("reconnect", values["reconnect"])
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
        raise MonitorOptionError(
            source, f"'{spec}' is not a valid char driver", (f"parse error: {spec}",))
    if not head.startswith(("unix:", "tcp:")):
        return Chardev(label, head, source=source, shorthand=True)
    pairs = parse_opts(rest, None) if rest else []
    try:
        server, wait = _socket_flags(pairs)
        if "reconnect" in dict(pairs):
            qemuopts_number("reconnect", dict(pairs)["reconnect"])
    except OptionError as err:
        raise MonitorOptionError(source, err.message, (f"parse error: {spec}",)) from None
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
    """A `-chardev`/`-qmp`/`-mon`/`-serial` QEMU refuses; ``source`` is the option as given.

    ``more`` are further error lines QEMU prints with the same location, ``hints`` lines it
    prints bare after them (e.g. what an identifier may consist of).
    """

    def __init__(
        self, source: str, message: str, more: tuple[str, ...] = (), hints: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, hints)
        self.source = source
        self.more = more

    def lines(self) -> list[str]:
        """What QEMU prints, `SOURCE: TEXT` lines then bare hints (without the `PROG: `)."""
        return [f"{self.source}: {text}" for text in (self.message, *self.more)]

    def text(self, progname: str) -> str:
        """The whole stderr text, newline terminated."""
        located = "".join(f"{progname}: {line}\n" for line in self.lines())
        return located + "".join(f"{hint}\n" for hint in self.hints)


_OPTION_NAMES = (
    "chardev", "qmp", "qmp-pretty", "monitor", "mon", "serial", "parallel", "device",
    "nodefaults", "nographic",
)
#: The board's ports: QEMU parses every `-serial`, then every `-parallel` (`serial_parse`,
#: `parallel_parse`), each creating the chardev `serialN`/`parallelN` unless it names one.
PortKind = Literal["serial", "parallel"]
PORT_KINDS: tuple[PortKind, ...] = ("serial", "parallel")
#: Devices whose presence on the command line stands for the default port of that kind
#: (`default_list` in softmmu/vl.c).
PORT_DEVICES = {"isa-serial": "serial", "isa-parallel": "parallel"}
#: What QEMU adds without `-nodefaults` (`qemu_create_default_devices`): a virtual console for
#: the serial port, the parallel port and an HMP monitor, or stdio/null with `-nographic`.
DEFAULT_CONSOLE = "vc:80Cx24C"


def monitor_config(
    options: Sequence[_Option], profile: Profile = DEFAULT_PROFILE, *, board_ports: bool = True
) -> MonitorConfig:
    """Read the chardevs and monitors of a command line (QEMU creates the chardevs first).

    ``board_ports`` says whether the machine type has default serial and parallel ports
    (`-M none` has neither). Raises `MonitorOptionError` for an option QEMU refuses while
    parsing it; what it refuses only when it creates the monitors is for `check_monitors` and
    the server.
    """
    read = _Reading(profile)
    for opt in options:
        if opt.name not in _OPTION_NAMES:
            continue
        try:
            read.option(opt.name, opt.arg or "")
        except MonitorOptionError:
            raise
        except OptionError as err:
            raise MonitorOptionError(
                f"-{opt.name} {opt.arg}", err.message, hints=err.hints) from None
    read.add_defaults(board_ports)
    return MonitorConfig(
        tuple(read.chardevs + read.compat + read.port_chardevs), tuple(read.monitors),
        tuple(read.frontends), tuple(read.warnings),
    )


@record
class _Reading:
    """What `monitor_config` has read so far, per kind."""

    profile: Profile
    chardevs: list[Chardev] = field(default_factory=list)
    compat: list[Chardev] = field(default_factory=list)
    port_chardevs: list[Chardev] = field(default_factory=list)
    monitors: list[Monitor] = field(default_factory=list)
    frontends: list[Frontend] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PORT_KINDS, 0))
    #: which defaults the command line leaves to QEMU (`default_serial`, ... in vl.c)
    defaults: set[str] = field(default_factory=lambda: {"serial", "parallel", "monitor"})
    nodefaults: bool = False
    nographic: bool = False
    mon_ids: set[str] = field(default_factory=set)
    warnings: list[tuple[str, OptionWarning]] = field(default_factory=list)

    def option(self, name: str, arg: str) -> None:
        created = len(self.chardevs) + len(self.compat)
        if name == "nodefaults":
            self.nodefaults = True
        elif name == "nographic":
            self.nographic = True
        elif name == "chardev":
            self.chardevs.append(replace(parse_chardev(arg), created=created))
        elif name in ("qmp", "qmp-pretty", "monitor"):
            self.defaults.discard("monitor")
            if arg == "none" and name == "monitor":
                return
            self.add_compat_monitor(arg, name, created)
        elif name == "mon":
            self.defaults.discard("monitor")
            found: list[OptionWarning] = []
            try:
                monitor = parse_mon(arg, self.profile, self.mon_ids, found)
            finally:
                self.warnings.extend((f"-mon {arg}", warning) for warning in found)
            self.monitors.append(monitor)
        elif name in PORT_KINDS:
            self.defaults.discard(name)
            if arg.startswith("mon:"):
                self.defaults.discard("monitor")
            self.port(name, arg)
        else:
            self.device(arg)

    def add_compat_monitor(self, spec: str, option: str, created: int) -> None:
        label = f"compat_monitor{len(self.compat)}"
        self.compat.append(replace(parse_shorthand(label, spec, option), created=created))
        mode: MonitorMode = "readline" if option == "monitor" else "control"
        self.monitors.append(
            Monitor(label, mode, option == "qmp-pretty", source=f"-{option} {spec}"))

    def port(self, kind: PortKind, arg: str) -> None:
        """`serial_parse`/`parallel_parse`: `none` adds no port; `chardev:ID` reads an existing
        chardev; any other spec creates the chardev `serialN` (checked when QEMU creates it,
        late)."""
        if arg == "none":
            return
        source = f"-{kind} {arg}"
        if arg.startswith("chardev:"):
            self.frontends.append(Frontend(arg[len("chardev:"):], source, kind))
        else:
            label = f"{kind}{self.ports[kind]}"
            self.port_chardevs.append(_port_chardev(label, arg, source, kind))
            self.frontends.append(Frontend(label, source, kind))
        self.ports[kind] += 1

    def device(self, arg: str) -> None:
        """A `-device` of a driver with a chardev property (the machine checks the rest)."""
        try:
            pairs = parse_opts(arg, "driver")
        except OptionError:
            return
        values = dict(pairs)
        driver = values.get("driver", "")
        self.defaults.discard(PORT_DEVICES.get(driver, ""))
        owner = CHARDEV_DEVICES.get(driver)
        if owner is not None and "chardev" in values:
            self.frontends.append(Frontend(values["chardev"], f"-device {arg}", "device", owner))

    def add_defaults(self, board_ports: bool) -> None:
        """QEMU's default serial port, parallel port and HMP monitor (`-nodefaults`: none)."""
        if self.nodefaults:
            return
        created = len(self.chardevs) + len(self.compat)
        if "monitor" in self.defaults and not self.nographic:
            self.add_compat_monitor(DEFAULT_CONSOLE, "monitor", created)
            self.compat[-1] = replace(self.compat[-1], backend="vc")  # QEMU names it `vc`
        for kind in PORT_KINDS if board_ports else ():
            if kind not in self.defaults:
                continue
            if self.nographic:
                self.port(kind, "stdio" if kind == "serial" else "null")
            else:
                self.port(kind, DEFAULT_CONSOLE)
                self.port_chardevs[-1] = replace(self.port_chardevs[-1], backend="vc")


def _port_chardev(label: str, spec: str, source: str, kind: PortKind) -> Chardev:
    """The chardev a `-serial SPEC` creates; an unknown spec keeps QEMU's refusal for later."""
    try:
        dev = parse_shorthand(label, spec, kind)
    except OptionError as err:
        return Chardev(label, "", source=source, shorthand=True, origin=kind, error=err.message)
    return Chardev(dev.label, dev.backend, dev.values, dev.server, dev.wait, source, True, kind)


def parse_mon(
    arg: str, profile: Profile = DEFAULT_PROFILE, known_ids: set[str] | None = None,
    warnings: list[OptionWarning] | None = None,
) -> Monitor:
    """`-mon [chardev=]ID[,mode=readline|control][,pretty=on|off][,id=ID]`.

    QemuOpts refuses an unknown key, a bad `pretty` or `id` at once; the `MonitorOptions`
    visitor a bad `mode` or a missing `chardev` only when the monitor is created.
    """
    parsed = parse_qemu_opts(arg, MON_OPTS, known_ids=known_ids, profile=profile,
                             warnings=warnings)
    if parsed.ident is not None and known_ids is not None:
        known_ids.add(parsed.ident)
    mode_text = parsed.get("mode") or "readline"
    pretty_text = parsed.get("pretty")
    pretty = qemuopts_bool("pretty", pretty_text) if pretty_text is not None else False
    chardev = parsed.get("chardev")
    error: str | None = None
    if mode_text not in MON_MODES:
        error = f"Parameter 'mode' does not accept value '{mode_text}'"
    elif chardev is None:
        error = "Parameter 'chardev' is missing"
    mode: MonitorMode = "control" if mode_text == "control" else "readline"
    return Monitor(chardev or "", mode, pretty, f"-mon {arg}", error)


def check_monitors(config: MonitorConfig, texts: Texts = DEFAULT_PROFILE.texts) -> None:
    """`mon_init_func` over every monitor, in order: its options, its chardev, a free chardev.

    Raises `MonitorOptionError` with QEMU's message for the first monitor it refuses.
    """
    claimed: set[str] = set()
    labels = {dev.label for dev in config.chardevs}
    for monitor in config.monitors:
        if monitor.error is not None:
            raise MonitorOptionError(monitor.source, monitor.error)
        if monitor.chardev not in labels:
            raise MonitorOptionError(monitor.source, f'chardev "{monitor.chardev}" not found')
        if monitor.pretty and monitor.mode == "readline":
            raise MonitorOptionError(monitor.source, "'pretty' is not compatible with HMP monitors")
        if monitor.chardev in claimed:
            raise MonitorOptionError(monitor.source,
                                     texts.chardev_in_use.format(id=monitor.chardev))
        claimed.add(monitor.chardev)


def port_frontends(config: MonitorConfig) -> list[Frontend]:
    """The board's ports in the order QEMU sets them up: every serial, then every parallel."""
    return [front for kind in PORT_KINDS for front in config.frontends if front.kind == kind]


def check_serial(config: MonitorConfig, frontend: Frontend) -> None:
    """`serial_parse`/`parallel_parse` for one port: the chardev it names must exist."""
    if config.chardev(frontend.chardev) is None:
        spec = frontend.source.split(" ", 1)[1]
        raise MonitorOptionError(
            frontend.source,
            f"could not connect {frontend.kind} device to character backend '{spec}'",
        )


class SerialInUseAbort(MonitorOptionError):
    """A serial port on a chardev something else reads: QEMU aborts while building the board.

    `qemu_chr_fe_init` fails under `error_abort` (the board connects its serial ports that
    way), so QEMU prints the assertion's location line, then the error without an option
    location, and aborts.
    """


def check_serial_ports(config: MonitorConfig, texts: Texts = DEFAULT_PROFILE.texts) -> None:
    """The board connects its serial ports in order; one on a claimed chardev aborts QEMU.

    Raises `SerialInUseAbort` (its message is the error line, without location).
    """
    claimed = {monitor.chardev for monitor in config.monitors}
    for front in port_frontends(config):
        if front.chardev in claimed:
            raise SerialInUseAbort(front.source, texts.chardev_in_use.format(id=front.chardev))
        claimed.add(front.chardev)


def check_devices(config: MonitorConfig, texts: Texts = DEFAULT_PROFILE.texts) -> None:
    """The chardev property of each `-device` (`set_chr`): it must exist and be free.

    The monitors and serial ports claim their chardevs first (QEMU creates devices last).
    """
    claimed = {monitor.chardev for monitor in config.monitors}
    claimed.update(front.chardev for front in port_frontends(config))
    for front in config.frontends:
        if front.kind != "device":
            continue
        prop = f"Property '{front.owner}.chardev'"
        if config.chardev(front.chardev) is None:
            raise MonitorOptionError(front.source, f"{prop} can't find value '{front.chardev}'")
        if front.chardev in claimed:
            raise MonitorOptionError(
                front.source,
                f"{prop} can't take value '{front.chardev}': "
                + texts.chardev_in_use.format(id=front.chardev),
            )
        claimed.add(front.chardev)


__all__ = [
    "Chardev", "Frontend", "Monitor", "MonitorConfig", "MonitorOptionError", "SerialInUseAbort",
    "check_devices", "check_monitors", "check_serial", "check_serial_ports", "monitor_config",
    "port_frontends",
]
