"""Huge pages behind memory backends: a backend's page size, and whether the host reserves it.

QEMU learns the page size of a backend's RAM from the file it maps (``qemu_fd_getpagesize``:
a hugetlbfs mount's ``f_bsize``, else the host page). A ``memory-backend-memfd`` with
``hugetlb=on`` asks ``memfd_create`` for a file on the kernel's internal hugetlbfs
(``qemu_memfd_create``); a ``memory-backend-file`` gets one when its ``mem-path`` is on a
hugetlbfs mount. The kernel reserves a hugetlbfs mapping's pages when the mapping is made, so
``mmap`` fails (ENOMEM) when the mount's ``size=`` limit or the host's pool of that page size
has too few left, whether or not the memory is ever touched (``reserve=off`` maps with
``MAP_NORESERVE``: nothing is reserved); preallocation then always succeeds.

qmpnuma makes no mapping: the pages a backend would reserve are counted from the backends
the machine already holds (each records its page size and mount), on top of what the host
says is still free when the backend is completed. Other processes' reservations are the
host's; a second qmpnuma process does not see the first one's backends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from qmpnuma.errors import MachineError
from qmpnuma.machine.host_facts import HugePageFacts
from qmpnuma.machine.mem_path import HOST_PAGE_SIZE

if TYPE_CHECKING:
    from qmpnuma.machine.backends import MemoryBackend

__all__ = ["MAP_FAILED", "check_whole_pages", "memfd_page_size", "reserve_huge_pages",
           "size_text"]

#: ``memfd_create`` flags as ``qemu_memfd_create`` passes them.
MFD_CLOEXEC = 0x1
MFD_ALLOW_SEALING = 0x2
MFD_HUGETLB = 0x4
#: The page size's log2 sits in the flags from this bit on (``MFD_HUGE_SHIFT``).
MFD_HUGE_SHIFT = 26
#: What ``file_ram_alloc`` says when the kernel refuses the mapping's reservation.
MAP_FAILED = "unable to map backing store for guest RAM: Cannot allocate memory"


def memfd_page_size(backend: MemoryBackend, pools: HugePageFacts) -> int:
    """``qemu_memfd_create`` (and the ``ftruncate`` that sizes the file) for a memfd backend:
    the page size its RAM gets. Raises ``MachineError`` with QEMU's text.

    A ``hugetlbsize`` must be a power of two even without ``hugetlb=on`` (which alone makes it
    matter); ``memfd_create`` refuses a page size the host has no pool of (ENODEV: the flags
    carry the size's log2), and a hugetlbfs file cannot be sized to part of a page (EINVAL).
    """
    requested = backend.hugetlbsize
    if requested & (requested - 1):
        raise MachineError("Hugepage size must be a power of 2")
    if not backend.hugetlb:
        return HOST_PAGE_SIZE
    flags = MFD_CLOEXEC | MFD_HUGETLB | (MFD_ALLOW_SEALING if backend.seal else 0)
    if requested:
        flags |= (requested.bit_length() - 1) << MFD_HUGE_SHIFT
    page_size = requested or pools.default_size
    if not page_size or pools.reservable(page_size) is None:
        raise MachineError(f"failed to create memfd with flags 0x{flags:x}: No such device")
    if backend.size % page_size:
        raise MachineError(f"failed to resize memfd to {backend.size}: Invalid argument")
    return page_size


def _pages(size: int, page_size: int) -> int:
    return -(-size // page_size)


def reserve_huge_pages(
    backend: MemoryBackend, pools: HugePageFacts, mount_free_pages: int | None,
    others: Iterable[MemoryBackend],
) -> None:
    """The kernel's reservation when ``file_ram_alloc`` maps a hugetlbfs backend (its
    ``page_size`` and ``huge_mount`` set): the pages of its size rounded up to whole pages,
    out of the host's pool and the mount's limit, less what ``others`` (the machine's
    backends) reserved. Raises ``MachineError`` (ENOMEM) when they do not fit."""
    page_size = backend.page_size
    needed = _pages(backend.size, page_size)
    huge = [other for other in others
            if other.page_size == page_size and other.reserve and other is not backend]
    in_pool = (pools.reservable(page_size) or 0) - sum(
        _pages(other.size, page_size) for other in huge)
    if needed > in_pool:
        raise MachineError(MAP_FAILED)
    if mount_free_pages is not None:
        in_mount = mount_free_pages - sum(_pages(other.size, page_size) for other in huge
                                          if other.huge_mount == backend.huge_mount)
        if needed > in_mount:
            raise MachineError(MAP_FAILED)


def size_text(size: int) -> str:
    """``size_to_str`` of a power of two of at least 1 KiB: "4 KiB", "2 MiB", "1 GiB"."""
    units = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    value, unit = size / 1024, 0
    while value >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:g} {units[unit]}"


def check_whole_pages(backend: MemoryBackend) -> None:
    """10.0 on (``file_backend_size_whole_pages``): a file backend's size must be whole pages
    of its RAM's page size; checked after the mapping is made."""
    if backend.size % backend.page_size:
        raise MachineError(f"backend 'memory-backend-file' memory size must be multiple of "
                           f"{size_text(backend.page_size)}")
