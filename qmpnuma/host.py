"""The edge where qmpnuma looks at the host it runs on (``/sys``, ``/proc``, the file system).

The machine model is pure: it receives these facts as a :class:`~qmpnuma.machine.host_facts.
HostFacts` value.  The command line and the server read them here once per process
(:func:`this_host`) and hand them in.
"""

from __future__ import annotations

import errno
import os
import stat
from functools import cache

from qmpnuma.machine.host_facts import HostFacts, PathFacts


def read_numa_nodes() -> frozenset[int]:
    """The host's online NUMA nodes (``{0}`` when sysfs does not say)."""
    try:
        with open("/sys/devices/system/node/online") as handle:
            text = handle.read().strip()
    except OSError:
        return frozenset({0})
    nodes: set[int] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        nodes.update(range(int(low), int(high or low) + 1))
    return frozenset(nodes or {0})


def read_reservable_bytes() -> int | None:
    """Largest single anonymous mapping the host's overcommit policy grants (None: no limit).

    With the default heuristic (``overcommit_memory`` 0) Linux refuses one mapping larger than
    RAM plus swap; in mode 1 it never refuses; mode 2 caps at the commit limit.
    """
    try:
        with open("/proc/sys/vm/overcommit_memory") as handle:
            mode = int(handle.read().strip())
        with open("/proc/meminfo") as handle:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle}
    except (OSError, ValueError, IndexError):
        return None
    if mode == 1:
        return None
    if mode == 2:
        return info.get("CommitLimit", 0) - info.get("Committed_AS", 0)
    return info.get("MemTotal", 0) + info.get("SwapTotal", 0)


def _is_pseudo_fs(path: str) -> bool:
    real = os.path.realpath(path)
    return real in ("/proc", "/sys") or real.startswith(("/proc/", "/sys/"))


def probe_path(path: str) -> PathFacts:
    """``stat``/``access`` facts of ``path`` (read-only: nothing is created)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        parent = os.path.dirname(os.path.abspath(path)) if path else ""
        return PathFacts(missing=True, parent=_probe_dir(parent) if path else None)
    except NotADirectoryError:
        return PathFacts(stat_errno=errno.ENOTDIR)
    except PermissionError:
        return PathFacts(stat_errno=errno.EACCES)
    is_dir = stat.S_ISDIR(info.st_mode)
    is_regular = stat.S_ISREG(info.st_mode)
    return PathFacts(
        is_dir=is_dir,
        is_regular=is_regular,
        size=info.st_size if is_regular else 0,
        pseudo_fs=_is_pseudo_fs(path),
        can_create_inside=is_dir and os.access(path, os.W_OK | os.X_OK),
        can_read_write=os.access(path, os.R_OK | os.W_OK),
    )


def _probe_dir(path: str) -> PathFacts:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return PathFacts(missing=True)
    except NotADirectoryError:
        return PathFacts(stat_errno=errno.ENOTDIR)
    except PermissionError:
        return PathFacts(stat_errno=errno.EACCES)
    is_dir = stat.S_ISDIR(info.st_mode)
    return PathFacts(
        is_dir=is_dir,
        pseudo_fs=_is_pseudo_fs(path),
        can_create_inside=is_dir and os.access(path, os.W_OK | os.X_OK),
    )


def read_host_facts() -> HostFacts:
    """Read every host fact the machine model uses, now."""
    return HostFacts(read_numa_nodes(), read_reservable_bytes(), probe_path)


@cache
def this_host() -> HostFacts:
    """The facts of the host this process runs on, read once."""
    return read_host_facts()
