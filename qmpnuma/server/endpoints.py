"""Where each chardev's bytes go: the machine's monitor description turned into endpoints.

The command line is read once, into `Machine.monitors` (`qmpnuma.machine.monitors`); this
module says, for each chardev qmpnuma serves, which transport carries it: a unix path or a TCP
address (listened on in server mode, connected to in client mode), a socket inherited on a file
descriptor (`fd=N`), or stdio; and what speaks on it: a QMP monitor, an HMP monitor, or nobody
(a serial port, a chardev no device reads: qmpnuma accepts and keeps the connection and sends
nothing). Opening them is `listeners.py`'s job.
"""

from __future__ import annotations

from qmpnuma.errors import OptionError
from qmpnuma.machine.monitors import Chardev, MonitorConfig
from qmpnuma.records import record, replace


@record(frozen=True)
class Endpoint:
    """One chardev's transport: a unix path, a TCP address, an inherited fd, or stdio.

    ``server`` says whether qmpnuma listens (`server=on`) or connects (a client, which tries
    again every ``reconnect`` seconds when that is set). ``control`` is True when a QMP monitor
    runs on it; ``index`` is then the monitor's position among the QMP monitors (what
    `query-chardev` and HMP know it by). ``label`` is the chardev's id.
    """

    kind: str  # "unix" | "tcp" | "fd" | "stdio"
    path: str | None = None
    host: str | None = None
    port: int | None = None
    fd: int | None = None
    server: bool = True
    wait: bool = True
    control: bool = True
    pretty: bool = False
    source: str = ""
    index: int = 0
    label: str = ""
    reconnect: int = 0
    #: an HMP monitor runs on it (``index`` then counts on after the QMP monitors)
    readline: bool = False

    @property
    def address(self) -> str:
        """The address as QEMU spells it in its connection errors (`PATH`, `HOST:PORT`)."""
        if self.kind == "unix":
            return self.path or ""
        return f"{self.host}:{self.port}"


def socket_transport(dev: Chardev) -> Endpoint:
    """The transport of a `socket` chardev, checked as `qemu_chr_parse_socket` checks it.

    Raises `OptionError` with QEMU's message for an address QEMU refuses.
    """
    values = dev.values
    given = [key for key in ("path", "fd", "host") if key in values]
    if len(given) > 1:
        raise OptionError("None or one of 'path', 'fd' or 'host' option required.")
    if dev.reconnect and dev.server:
        raise OptionError("'reconnect' option is incompatible with socket in server listen mode")
    base = Endpoint(kind="fd", server=dev.server, wait=dev.wait, source=dev.source,
                    label=dev.label, reconnect=dev.reconnect)
    if "path" in values:
        return replace(base, kind="unix", path=values["path"])
    if "host" in values:
        if "port" not in values:
            raise OptionError("chardev: socket: no port given")
        host = values["host"]
        if dev.server and not host:
            host = "0.0.0.0"
        return replace(base, kind="tcp", host=host, port=int(values["port"]))
    fd_text = values.get("fd", "")
    if not fd_text.isdigit():
        raise OptionError(f"Unable to parse FD number {fd_text}")
    return replace(base, fd=int(fd_text))


def chardev_endpoint(dev: Chardev) -> Endpoint | None:
    """The endpoint of a chardev qmpnuma serves (None for a backend it only records).

    The endpoint does not know yet what speaks on it (`with_role` says).
    """
    if dev.backend == "stdio":
        return Endpoint(kind="stdio", source=dev.source, label=dev.label)
    if dev.backend != "socket":
        return None
    return socket_transport(dev)


def with_role(endpoint: Endpoint, config: MonitorConfig, source: str = "") -> Endpoint:
    """The endpoint with the QMP monitor that runs on its chardev, if any."""
    source = source or endpoint.source
    for index, monitor in enumerate(config.qmp_monitors):
        if monitor.chardev == endpoint.label:
            return replace(endpoint, control=True, pretty=monitor.pretty, source=source,
                           index=index)
    hmp = [monitor for monitor in config.monitors if monitor.mode == "readline"]
    for index, monitor in enumerate(hmp, start=len(config.qmp_monitors)):
        if monitor.chardev == endpoint.label:
            return replace(endpoint, control=False, readline=True, source=source, index=index)
    return replace(endpoint, control=False, source=source)


def qmp_endpoints(config: MonitorConfig) -> list[Endpoint]:
    """The endpoints of the QMP monitors, in the order QEMU creates them.

    A monitor on a chardev that does not exist, or on a backend other than a socket or stdio
    (`-qmp null`, `-qmp pty`), gets no endpoint (its index stays taken). Raises `OptionError`
    for a socket address QEMU refuses.
    """
    endpoints: list[Endpoint] = []
    for monitor in config.qmp_monitors:
        dev = config.chardev(monitor.chardev)
        if dev is None:
            continue
        transport = chardev_endpoint(dev)
        if transport is None:  # e.g. `-qmp null`: QEMU runs it, nobody can reach it
            continue
        source = monitor.source if dev.shorthand else dev.source
        endpoints.append(with_role(transport, config, source))
    return endpoints
