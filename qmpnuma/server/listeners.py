"""Open the sockets of the chardevs, synchronously and before any event loop runs.

In server mode they are bound before `-daemonize` forks, so that when the parent exits 0 the
sockets already accept connections: that is the guarantee libvirt relies on. Unix sockets are
created owner-only (the umask is narrowed around `bind`), and what is at the path is unlinked
first, as QEMU does. In client mode qmpnuma connects, as QEMU does at start-up, and never
touches the path: it belongs to the process listening there. An inherited fd is either a
listening socket (libvirt's way) or an already connected one (one end of a socket pair, QEMU
10.0's `QEMUMachine`); `SO_ACCEPTCONN` tells which, and a connected one is never listened on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat

from qmpnuma.errors import OptionError
from qmpnuma.profiles.profile import Texts
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.server.endpoints import Endpoint


def bind_unix(path: str, *, as_qemu: bool = False) -> socket.socket:
    """Create a listening unix socket at ``path`` readable and writable by its owner only.

    A stale socket file at the path is replaced. ``as_qemu`` (a server-mode chardev) unlinks
    whatever is there first, as QEMU's `unix_listen_saddr` does, with its error when it cannot.
    """
    if as_qemu:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise OptionError(
                f"Failed to unlink socket {path}: {os.strerror(err.errno or 0)}"
            ) from None
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
    """Wrap a socket inherited from the launcher (`fd=N`), listening or connected."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        raise OptionError(f"File descriptor '{fd}' is not a socket") from None
    return sock


def is_listening(sock: socket.socket) -> bool:
    """Whether ``sock`` accepts connections (`SO_ACCEPTCONN`), as opposed to being connected."""
    try:
        return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    except OSError:
        return False


#: How long a client-mode connection attempt may take (QEMU's is synchronous, like this one).
CONNECT_TIMEOUT = 30.0


def connect_unix(path: str, texts: Texts = DEFAULT_PROFILE.texts) -> socket.socket:
    """Connect to a unix socket another process listens on (`unix_connect_saddr`)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        failed = texts.unix_connect_failed.format(path=path)
        raise OptionError(f"{failed}: {os.strerror(err.errno or 0)}") from None
    sock.settimeout(None)
    return sock


def connect_tcp(host: str, port: int, texts: Texts = DEFAULT_PROFILE.texts) -> socket.socket:
    """Connect to HOST:PORT, trying each address it resolves to (`inet_connect_saddr`).

    The error is the one of the last address tried, with QEMU's text.
    """
    try:
        if not host:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = socket.getaddrinfo(host, str(port), type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise OptionError(
            f"address resolution failed for {host}:{port}: {err.strerror}"
        ) from None
    errno = 0
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(address)
        except OSError as err:
            sock.close()
            errno = err.errno or 0
            continue
        sock.settimeout(None)
        return sock
    failed = texts.inet_connect_failed.format(host=host, port=port)
    raise OptionError(f"{failed}: {os.strerror(errno)}")


def connect(endpoint: Endpoint, texts: Texts = DEFAULT_PROFILE.texts) -> socket.socket:
    """Connect a client-mode endpoint to its peer; `OptionError` with QEMU's text if it fails."""
    if endpoint.kind == "unix" and endpoint.path is not None:
        return connect_unix(endpoint.path, texts)
    if endpoint.host is not None and endpoint.port is not None:
        return connect_tcp(endpoint.host, endpoint.port, texts)
    raise OptionError("no address to connect to")


def bind(endpoint: Endpoint) -> socket.socket | None:
    """Return the listening socket of a server-mode endpoint (or an inherited fd's socket,
    listening or connected), or None for stdio."""
    if endpoint.kind == "unix" and endpoint.path is not None:
        return bind_unix(endpoint.path, as_qemu=True)
    if endpoint.kind == "tcp" and endpoint.host is not None and endpoint.port is not None:
        return bind_tcp(endpoint.host, endpoint.port)
    if endpoint.kind == "fd" and endpoint.fd is not None:
        return adopt_fd(endpoint.fd)
    return None
