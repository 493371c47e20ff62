"""What the model needs to know about the host, as plain data handed in from the edge.

QEMU asks the host a few questions while it builds a machine: how much anonymous memory one
mapping may reserve (``cannot set up guest memory``), which host NUMA nodes exist (``mbind``),
and what a backend's ``mem-path`` is on the file system.  The machine room never reads ``/sys``,
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
