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

from qmpnuma.machine.host_facts import HostFacts, HugePageFacts, PathFacts
from qmpnuma.records import replace

_HUGE_PAGES = "/sys/kernel/mm/hugepages"


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


def _hugetlbfs_mount(path: str) -> str:
    """The hugetlbfs mount point ``path`` lies on, "" when it is on another file system: the
    longest mount point of ``/proc/self/mountinfo`` that contains it (what ``fstatfs`` would
    answer for a file there, without opening anything)."""
    real = os.path.realpath(path)
    found, found_type = "", ""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as table:
            for line in table:
                fields = line.split()
                point = fields[4].replace("\\040", " ")
                fs_type = fields[fields.index("-") + 1]
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(found):
                    found, found_type = point, fs_type
    except (OSError, ValueError, IndexError):
        return ""
    return found if found_type == "hugetlbfs" else ""


def _with_huge_pages(facts: PathFacts, path: str) -> PathFacts:
    """``facts`` with the hugetlbfs mount ``path`` is on, its page size and its free pages."""
    mount = _hugetlbfs_mount(path)
    if not mount:
        return facts
    try:
        usage = os.statvfs(mount)
    except OSError:
        return facts
    free = usage.f_bavail if usage.f_blocks else None
    return replace(facts, huge_page_size=usage.f_bsize, mount_point=mount, mount_free_pages=free)


def probe_path(path: str) -> PathFacts:
    """``stat``/``access`` facts of ``path`` (read-only: nothing is created), with the
    hugetlbfs mount it is on."""
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
    return _with_huge_pages(PathFacts(
        is_dir=is_dir,
        is_regular=is_regular,
        size=info.st_size if is_regular else 0,
        pseudo_fs=_is_pseudo_fs(path),
        can_create_inside=is_dir and os.access(path, os.W_OK | os.X_OK),
        can_read_write=os.access(path, os.R_OK | os.W_OK),
    ), path)


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
    return _with_huge_pages(PathFacts(
        is_dir=is_dir,
        pseudo_fs=_is_pseudo_fs(path),
        can_create_inside=is_dir and os.access(path, os.W_OK | os.X_OK),
    ), path)


def _read_number(path: str) -> int:
    with open(path, encoding="ascii") as handle:
        return int(handle.read().strip())


def read_huge_pages() -> HugePageFacts:
    """The host's huge page pools: per page size, the pages a new mapping may reserve
    (``free_hugepages - resv_hugepages``, plus ``nr_overcommit_hugepages - surplus_hugepages``
    the kernel may still add), and the default size (``Hugepagesize``)."""
    default_size = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Hugepagesize:"):
                    default_size = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    pools = []
    try:
        names = sorted(os.listdir(_HUGE_PAGES))
    except OSError:
        names = []
    for name in names:
        if not (name.startswith("hugepages-") and name.endswith("kB")):
            continue
        folder = os.path.join(_HUGE_PAGES, name)
        try:
            free = _read_number(f"{folder}/free_hugepages") - _read_number(
                f"{folder}/resv_hugepages")
            headroom = _read_number(f"{folder}/nr_overcommit_hugepages") - _read_number(
                f"{folder}/surplus_hugepages")
            size = int(name[len("hugepages-"):-len("kB")]) * 1024
        except (OSError, ValueError):
            continue
        pools.append((size, max(0, free) + max(0, headroom)))
    return HugePageFacts(default_size=default_size, pools=tuple(pools))


def read_host_facts() -> HostFacts:
    """Read every host fact the machine model uses, now."""
    return HostFacts(read_numa_nodes(), read_reservable_bytes(), probe_path, read_huge_pages)


@cache
def this_host() -> HostFacts:
    """The facts of the host this process runs on, read once."""
    return read_host_facts()
