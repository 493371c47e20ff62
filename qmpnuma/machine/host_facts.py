"""What the model needs to know about the host, as plain data handed in from the edge.

QEMU asks the host a few questions while it builds a machine: how much anonymous memory one
mapping may reserve (``cannot set up guest memory``), which host NUMA nodes exist (``mbind``),
what a backend's ``mem-path`` is on the file system (hugetlbfs or not), and how many huge
pages a mapping may still reserve.  The machine room never reads ``/sys``,
``/proc`` or the file system itself: :mod:`qmpnuma.host` reads these facts once and the caller
passes them to ``Machine.from_argv``; tests may pass fixed facts instead.
"""

from __future__ import annotations

from collections.abc import Callable

from qmpnuma.records import field, record


@record(frozen=True)
class PathFacts:
    """What ``stat``/``access`` say about one path (and, for a missing path, its directory).

    ``stat_errno`` is the errno of ``stat`` other than ENOENT (e.g. ENOTDIR, EACCES); ``missing``
    means ENOENT.  ``pseudo_fs`` marks procfs/sysfs, where creating a file fails with ENOENT.
    """

    missing: bool = False
    stat_errno: int | None = None
    is_dir: bool = False
    is_regular: bool = False
    size: int = 0
    pseudo_fs: bool = False
    #: ``access(W_OK | X_OK)``: a file may be created inside (for directories).
    can_create_inside: bool = False
    #: ``access(R_OK | W_OK)``: the file may be opened read-write.
    can_read_write: bool = False
    #: For a missing path: the facts of its parent directory.
    parent: PathFacts | None = None
    #: On hugetlbfs (``fstatfs`` says ``HUGETLBFS_MAGIC``): the mount's page size (its
    #: ``f_bsize``); 0 on any other file system.
    huge_page_size: int = 0
    #: The hugetlbfs mount the path is on ("" elsewhere): backends on one mount share its limit.
    mount_point: str = ""
    #: A hugetlbfs mount with a ``size=`` limit: pages still free in it (``f_bavail``); None
    #: for a mount without a limit.
    mount_free_pages: int | None = None

    def file_system(self) -> PathFacts:
        """The facts that say which file system a file at this path is on: its own, or for a
        missing path (a file QEMU would create) its directory's."""
        if self.missing and self.parent is not None:
            return self.parent
        return self


def _no_huge_pages() -> HugePageFacts:
    """A probe for hosts without a ``/sys`` to look at: pools of 2 MiB and 1 GiB pages, all
    in use (what a host that never reserved huge pages answers)."""
    return HugePageFacts()


@record(frozen=True)
class HugePageFacts:
    """The host's huge page pools (``/sys/kernel/mm/hugepages``), as a new mapping sees them."""

    #: ``Hugepagesize`` of ``/proc/meminfo``: the size of ``MFD_HUGETLB`` without a size.
    default_size: int = 2 << 20
    #: (page size, pages a new mapping may still reserve) per pool: free pages not reserved
    #: yet, plus what ``nr_overcommit_hugepages`` still allows.
    pools: tuple[tuple[int, int], ...] = ((2 << 20, 0), (1 << 30, 0))

    def reservable(self, page_size: int) -> int | None:
        """Pages of ``page_size`` a mapping may reserve; None when the host has no such pool."""
        for size, pages in self.pools:
            if size == page_size:
                return pages
        return None


def _no_such_path(path: str) -> PathFacts:
    """A probe for hosts without a file system to look at: every path is missing."""
    return PathFacts(missing=True, parent=PathFacts(missing=True))


@record(frozen=True)
class HostFacts:
    """The host as QEMU would find it (defaults: an unconstrained single-node host)."""

    #: Online host NUMA nodes (``/sys/devices/system/node/online``).
    numa_nodes: frozenset[int] = frozenset({0})
    #: Largest anonymous mapping the overcommit policy grants (None: no limit).
    reservable_bytes: int | None = None
    #: Looks a ``mem-path`` up on the host's file system.
    probe_path: Callable[[str], PathFacts] = field(default=_no_such_path, compare=False)
    #: Reads the huge page pools (only when a backend asks for huge pages).
    probe_huge_pages: Callable[[], HugePageFacts] = field(default=_no_huge_pages, compare=False)
