"""Where monitors listen: QEMU's `-qmp`, `-chardev` and `-mon` options turned into endpoints.

QEMU accepts a monitor either as a one-option shorthand (`-qmp unix:PATH,server=on,wait=off`,
`-qmp tcp:HOST:PORT,server,nowait`, `-qmp stdio`) or as a character device plus a monitor that
names it (`-chardev socket,id=c,path=PATH,server=on,wait=off -mon chardev=c,mode=control`), the
latter also with an already listening socket inherited on a file descriptor (`fd=N`), which is how
libvirt hands QEMU its monitor. This module only describes endpoints; binding them is
`listeners.py`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from qmpnuma.errors import OptionError
from qmpnuma.options.numbers import qapi_bool
from qmpnuma.options.qemuopts import parse_opts


@dataclass(frozen=True)
class Endpoint:
    """One monitor's transport: a unix path, a TCP address, an inherited fd, or stdio."""

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


def parse_legacy_chardev(spec: str, *, pretty: bool = False) -> Endpoint:
    """Parse the shorthand form that `-qmp` takes (QEMU's compat chardev syntax)."""
    if spec == "stdio":
        return Endpoint(kind="stdio", pretty=pretty)
    head, _, rest = spec.partition(",")
    pairs = parse_opts(rest, None) if rest else []
    server, wait = _socket_flags(pairs)
    if head.startswith("unix:"):
        return Endpoint(kind="unix", path=head[5:], server=server, wait=wait, pretty=pretty)
    if head.startswith("tcp:"):
        host, _, port = head[4:].rpartition(":")
        if not port.isdigit():
            raise OptionError(f"'{spec}' is not a valid char driver")
        return Endpoint(
            kind="tcp", host=host or "0.0.0.0", port=int(port), server=server, wait=wait,
            pretty=pretty,
        )
    raise OptionError(f"'{spec}' is not a valid char driver")


def parse_socket_chardev(pairs: Sequence[tuple[str, str]]) -> tuple[str, Endpoint]:
    """Parse `-chardev socket,id=ID,...` into the chardev id and its endpoint."""
    values = dict(pairs)
    ident = values.get("id", "")
    server, wait = _socket_flags(pairs)
    if "fd" in values:
        return ident, Endpoint(kind="fd", fd=int(values["fd"]), server=server, wait=wait)
    if "path" in values:
        return ident, Endpoint(kind="unix", path=values["path"], server=server, wait=wait)
    if "port" in values:
        host = values.get("host", "0.0.0.0")
        return ident, Endpoint(
            kind="tcp", host=host, port=int(values["port"]), server=server, wait=wait
        )
    return ident, Endpoint(kind="stdio")


def endpoints_from_options(options: Sequence[tuple[str, str | None]]) -> list[Endpoint]:
    """Collect the QMP monitors of a command line, in the order QEMU creates them."""
    chardevs: dict[str, Endpoint] = {}
    monitors: list[Endpoint] = []
    for name, arg in options:
        if arg is None:
            continue
        if name == "chardev":
            pairs = parse_opts(arg, "backend")
            backend = dict(pairs).get("backend")
            if backend == "socket":
                ident, endpoint = parse_socket_chardev(pairs)
                chardevs[ident] = replace(endpoint, source=f"-chardev {arg}")
            elif backend == "stdio":
                chardevs[dict(pairs).get("id", "")] = Endpoint(kind="stdio")
        elif name in ("qmp", "qmp-pretty"):
            endpoint = parse_legacy_chardev(arg, pretty=name == "qmp-pretty")
            monitors.append(replace(endpoint, source=f"-{name} {arg}"))
        elif name == "mon":
            pairs = parse_opts(arg, "chardev")
            values = dict(pairs)
            if values.get("mode", "readline") != "control":
                continue
            named = chardevs.get(values.get("chardev", ""))
            if named is not None:
                pretty = qapi_bool("pretty", values["pretty"]) if "pretty" in values else False
                monitors.append(replace(named, pretty=pretty))
    return monitors
