"""`-daemonize` and `-pidfile` as QEMU does them.

QEMU's parent process stays in the foreground until the child has finished start-up, then exits
0; if start-up fails, the parent exits with the child's status. Launchers such as libvirt depend on
that: when the parent has gone, the monitor sockets exist and the pidfile names the process that
serves them. Here the sockets are bound before the fork, the child writes the pidfile (owner-only)
and then reports readiness through a pipe.
"""

from __future__ import annotations

import contextlib
import os
import sys


def write_pidfile(path: str) -> None:
    """Write this process's pid to ``path`` with owner-only permissions, as QEMU does."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)


def remove_at_exit(path: str) -> None:
    """Remove a file QEMU unlinks when it ends normally (pidfile, its unix sockets)."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def daemonize() -> None:
    """Fork; the parent waits for `ready()` and exits with the status it is sent.

    Returns in the child only. The child becomes a session leader and keeps stdio until
    `detach_stdio()` so that a late start-up error still reaches the launcher's stderr.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(write_end)
        status = 1
        with os.fdopen(read_end, "rb") as pipe:
            byte = pipe.read(1)
        if byte:
            status = byte[0]
        os._exit(status)
    os.close(read_end)
    os.setsid()
    global _READY_FD
    _READY_FD = write_end


_READY_FD: int | None = None


def ready(status: int = 0) -> None:
    """Tell a waiting parent that start-up is over and with which exit status it should leave."""
    global _READY_FD
    if _READY_FD is None:
        return
    with contextlib.suppress(OSError):
        os.write(_READY_FD, bytes([status]))
        os.close(_READY_FD)
    _READY_FD = None


def detach_stdio() -> None:
    """Point stdin, stdout and stderr at /dev/null, as a daemonized QEMU does after start-up."""
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
