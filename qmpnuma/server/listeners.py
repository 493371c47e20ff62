"""Bind the listening sockets of the monitors, synchronously and before any event loop runs.

They are bound before `-daemonize` forks, so that when the parent exits 0 the sockets already
accept connections: that is the guarantee libvirt relies on. Unix sockets are created owner-only
(the umask is narrowed around `bind`), and a stale socket file at the path is replaced as QEMU does.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat

from qmpnuma.errors import OptionError
from qmpnuma.server.endpoints import Endpoint


def bind_unix(path: str) -> socket.socket:
    """Create a listening unix socket at ``path`` readable and writable by its owner only."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError as err:
        sock.close()
        raise OptionError(
            f"Failed to bind socket to {path}: {os.strerror(err.errno or 0)}"
        ) from None
    finally:
        os.umask(old_umask)
    sock.listen(16)
    return sock


def bind_tcp(host: str, port: int) -> socket.socket:
    """Create a listening TCP socket (address reuse on, as QEMU sets it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OptionError(
            f"Failed to bind socket: {os.strerror(err.errno or 0)}"
        ) from None
    sock.listen(16)
    return sock


def adopt_fd(fd: int) -> socket.socket:
    """Wrap a listening socket inherited from the launcher (libvirt passes one with `fd=N`)."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as err:
        raise OptionError(f"File descriptor '{fd}' is not a socket: {err.strerror}") from None
    return sock


def bind(endpoint: Endpoint) -> socket.socket | None:
    """Return the listening socket of an endpoint, or None for stdio."""
    if endpoint.kind == "unix" and endpoint.path is not None:
        return bind_unix(endpoint.path)
    if endpoint.kind == "tcp" and endpoint.host is not None and endpoint.port is not None:
        return bind_tcp(endpoint.host, endpoint.port)
    if endpoint.kind == "fd" and endpoint.fd is not None:
        return adopt_fd(endpoint.fd)
    return None
