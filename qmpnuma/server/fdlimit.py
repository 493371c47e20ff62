"""The open-file budget of a fleet: every machine holds a listening socket, every client one more.

A process starts with a soft `RLIMIT_NOFILE` (often 1024) far below what a fleet of thousands
needs; the soft limit may be raised up to the hard limit without privileges. When even the hard
limit is too small the fleet must refuse to start with a message that says so, rather than fail
half-way with `EMFILE` on machine 1021.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

#: Descriptors kept free beyond the listening sockets: stdio, the event loop's epoll and
#: self-pipe, a few clients, imports.
RESERVED_FDS = 64


class FdLimitError(Exception):
    """The machines cannot fit under the hard open-file limit."""


@dataclass(frozen=True)
class FdBudget:
    """The limits before and after raising, and what the fleet asked for."""

    needed: int
    soft_before: int
    soft: int
    hard: int


def _effective(value: int) -> int:
    return 1 << 62 if value == resource.RLIM_INFINITY else value


def ensure_open_files(listeners: int, clients: int = 0) -> FdBudget:
    """Raise the soft limit for ``listeners`` sockets and ``clients`` connections, or fail.

    The soft limit goes as far as needed and never above the hard limit; if the need exceeds the
    hard limit, `FdLimitError` says how many descriptors are needed and how many are allowed.
    """
    needed = listeners + clients + RESERVED_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if needed <= _effective(soft):
        return FdBudget(needed, soft, soft, hard)
    if needed > _effective(hard):
        raise FdLimitError(
            f"{listeners} machines need about {needed} open files (one listening socket each, "
            f"plus {RESERVED_FDS + clients} spare) but the hard limit RLIMIT_NOFILE is {hard}; "
            f"at most {max(0, hard - RESERVED_FDS - clients)} machines fit. Raise the hard limit "
            "(ulimit -Hn, limits.conf or LimitNOFILE=) or run fewer machines."
        )
    # As far as allowed: the hard limit, or the kernel's per-process cap when that is unlimited
    # (clients connecting later need descriptors too).
    target = hard if hard != resource.RLIM_INFINITY else max(needed, _kernel_cap())
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = needed
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return FdBudget(needed, soft, target, hard)


def _kernel_cap() -> int:
    """Linux's `fs.nr_open`, the most descriptors one process may have (1048576 by default)."""
    try:
        with open("/proc/sys/fs/nr_open", encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return 1 << 20
