"""``memory-backend-file,mem-path=``: what ``file_ram_open`` + ``file_ram_alloc`` would answer.

The answer depends only on facts about the path (:class:`PathFacts`, read at the edge): an
existing file is used as is (too small → size error); a missing file in a writable directory
would be created (success); a directory gets a temporary file inside it, except with
``readonly``, where QEMU opens the directory itself and then fails to map it. On a hugetlbfs
mount the mount's page size takes the host page's place in the alignment checks.
"""

from __future__ import annotations

import errno
import os

from qmpnuma.errors import MachineError
from qmpnuma.machine.host_facts import PathFacts
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE

HOST_PAGE_SIZE = 4096


def check_mem_path(
    path: str, size: int, align: int, facts: PathFacts, readonly: bool = False, *,
    offset: int = 0, name: str = "", profile: Profile = DEFAULT_PROFILE,
) -> int:
    """Raise ``MachineError`` with QEMU's text when the backing file could not be used; else
    the page size of the RAM mapped from it (``qemu_fd_getpagesize``: a hugetlbfs mount's).

    ``name`` is the backend's id, ``offset`` where the mapping starts in the file (both only
    appear in the texts of profiles that have ``offset``). What the mapping itself may fail
    for on hugetlbfs (its reservation) and 10.0's whole-page rule are the caller's
    (`qmpnuma.machine.huge_pages`), after these checks as in ``file_ram_alloc``.
    """

    def fail(code: int) -> MachineError:
        return MachineError(f"can't open backing store {path} for guest RAM: {os.strerror(code)}")

    if not path:
        raise fail(errno.ENOENT)
    if facts.stat_errno is not None:
        raise fail(facts.stat_errno)
    if facts.missing:
        parent = facts.parent or PathFacts(missing=True)
        if parent.missing:
            raise fail(errno.ENOENT)
        if parent.stat_errno is not None:
            raise fail(parent.stat_errno)
        if not parent.is_dir:
            raise fail(errno.ENOTDIR)
        if parent.pseudo_fs:
            raise fail(errno.ENOENT)
        if not parent.can_create_inside:
            raise fail(errno.EACCES)
        file_size = 0
    elif facts.is_dir:
        if facts.pseudo_fs:
            raise fail(errno.ENOENT)
        if readonly and profile.mem_path_readonly_directory_refused:
            raise fail(errno.EISDIR)
        if not facts.can_create_inside:
            raise fail(errno.EACCES)
        file_size = 0
    else:
        if not facts.can_read_write:
            raise fail(errno.EACCES)
        file_size = facts.size
    # qemu_ram_alloc_from_fd rounds to the host page; file_ram_alloc checks against the file's.
    aligned_size = (size + HOST_PAGE_SIZE - 1) // HOST_PAGE_SIZE * HOST_PAGE_SIZE
    page_size = facts.file_system().huge_page_size or HOST_PAGE_SIZE
    if 0 < file_size < offset + aligned_size:
        raise MachineError(profile.texts.backing_store_too_small.format(
            name=name, file_size=file_size, size=aligned_size, offset=offset))
    if align % page_size:
        raise MachineError(
            f"alignment 0x{align:x} must be multiples of page size 0x{page_size:x}"
        )
    if align and align & (align - 1):
        raise MachineError(f"alignment 0x{align:x} must be a power of two")
    if offset % page_size:
        raise MachineError(
            f"offset 0x{offset:x} must be multiples of page size 0x{page_size:x}"
        )
    if aligned_size < page_size:
        raise MachineError(f"memory size 0x{aligned_size:x} must be equal to or larger than "
                           f"page size 0x{page_size:x}")
    if readonly and not facts.missing and facts.is_dir:
        raise MachineError("unable to map backing store for guest RAM: No such device")
    return page_size
