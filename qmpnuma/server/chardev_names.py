"""The filename `query-chardev` shows for a socket chardev, which changes as peers come and go.

QEMU names a connected socket chardev after the connection's own addresses
(`qemu_chr_compute_filename`: `unix:PATH[,server=on]`, where a client's or a socket pair's PATH is
empty, or `tcp:HOST:PORT[,server=on] <-> PEER:PORT`), and one without a peer after its address
with a `disconnected:` prefix (`qemu_chr_socket_address`; a listening socket's address is the one
it is bound to, so `port=0` shows the port chosen). The server keeps one `ChardevNames` per
process, updated as connections start and end; the `query-chardev` handler reads it through the
asking monitor.
"""

from __future__ import annotations

import socket

from qmpnuma.server.endpoints import Endpoint


class ChardevNames:
    """The current `query-chardev` filename of each socket chardev the server serves."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def get(self, label: str) -> str | None:
        """The filename of chardev ``label``, or None when the server does not serve it."""
        return self._names.get(label)

    def set(self, label: str, name: str) -> None:
        self._names[label] = name


def _server(listen: bool) -> str:
    return ",server=on" if listen else ""


def _inet(address: tuple[str, int] | tuple[str, int, int, int]) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def connected_name(
    sock: socket.socket | None, listen: bool, after_peer: bool = False
) -> str | None:
    """The filename of a chardev while ``sock`` is its connection (None if unknowable).

    ``after_peer``: a unix client is named after the path it connected to (the profile's
    ``chardev_client_named_after_peer``), not after its own unnamed end."""
    if sock is None:
        return None
    try:
        local = sock.getsockname()
        if sock.family == socket.AF_UNIX:
            if after_peer and not listen:
                local = sock.getpeername()
            path = local.decode("utf-8", "replace") if isinstance(local, bytes) else local
            return f"unix:{path}{_server(listen)}"
        peer = sock.getpeername()
    except OSError:
        return None
    return f"tcp:{_inet(local)}{_server(listen)} <-> {_inet(peer)}"


def disconnected_name(endpoint: Endpoint, listener: socket.socket | None) -> str:
    """The filename of a chardev with no peer: its address, or the listener's bound one."""
    listen = endpoint.server
    if listener is not None and listen:
        try:
            local = listener.getsockname()
        except OSError:
            local = None
        if isinstance(local, str):
            return f"disconnected:unix:{local}{_server(listen)}"
        if isinstance(local, tuple):
            return f"disconnected:tcp:{local[0]}:{local[1]}{_server(listen)}"
    if endpoint.kind == "unix":
        return f"disconnected:unix:{endpoint.path}{_server(listen)}"
    if endpoint.kind == "tcp":
        return f"disconnected:tcp:{endpoint.host}:{endpoint.port}{_server(listen)}"
    return f"disconnected:fd:{endpoint.fd}{_server(listen)}"
