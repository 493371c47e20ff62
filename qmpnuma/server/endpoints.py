"""Where the QMP monitors listen: the machine's monitor description turned into endpoints.

The command line is read once, into `Machine.monitors` (`qmpnuma.machine.monitors`); this
module only says, for each QMP monitor, which transport serves it: a unix path, a TCP address,
a listening socket inherited on a file descriptor (`fd=N`, how libvirt hands QEMU its monitor),
or stdio. Binding them is `listeners.py`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

from qmpnuma.machine.monitors import Chardev, MonitorConfig


@dataclass(frozen=True)
class Endpoint:
    """One monitor's transport: a unix path, a TCP address, an inherited fd, or stdio.

    ``index`` is the monitor's position among the QMP monitors (what `query-chardev` and HMP
    know it by).
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


def _transport(dev: Chardev) -> Endpoint | None:
    """The transport of a chardev qmpnuma can serve QMP on (None for any other backend)."""
    values = dev.values
    if dev.backend == "stdio":
        return Endpoint(kind="stdio")
    if dev.backend != "socket":
        return None
    server, wait = dev.server, dev.wait
    if "fd" in values:
        return Endpoint(kind="fd", fd=int(values["fd"]), server=server, wait=wait)
    if "path" in values:
        return Endpoint(kind="unix", path=values["path"], server=server, wait=wait)
    if "port" in values:
        host = values.get("host", "") or "0.0.0.0"
        return Endpoint(kind="tcp", host=host, port=int(values["port"]), server=server, wait=wait)
    return Endpoint(kind="stdio")


def qmp_endpoints(config: MonitorConfig) -> list[Endpoint]:
    """The endpoints of the QMP monitors, in the order QEMU creates them.

    A monitor on a chardev that does not exist, or on a backend other than a socket or stdio
    (`-qmp null`, `-qmp pty`), gets no endpoint (its index stays taken).
    """
    endpoints: list[Endpoint] = []
    for index, monitor in enumerate(config.qmp_monitors):
        dev = config.chardev(monitor.chardev)
        if dev is None:
            continue
        transport = _transport(dev)
        if transport is None:  # e.g. `-qmp null`: QEMU runs it, nobody can reach it
            continue
        source = monitor.source if dev.shorthand else dev.source
        endpoints.append(Endpoint(
            kind=transport.kind, path=transport.path, host=transport.host, port=transport.port,
            fd=transport.fd, server=transport.server, wait=transport.wait,
            pretty=monitor.pretty, source=source, index=index,
        ))
    return endpoints
