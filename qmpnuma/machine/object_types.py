"""Which QOM classes ``-object``/``object-add`` can create, per profile (facts of the binary).

QEMU checks an ``-object`` twice: the QAPI ``ObjectType`` enum (in the profile's schema) decides
what the visitor accepts, and the QOM class registry decides what can actually be created.  The
7.2 enum also names classes that the x86_64 binary does not build (``pef-guest``,
``s390-pv-guest``, ...); those pass the visit and then fail with ``invalid object type``.  The
second fact is the profile's (``Profile.creatable_objects``).
"""

from __future__ import annotations

from qmpnuma.profiles.profile import Profile

RAM = "memory-backend-ram"
FILE = "memory-backend-file"
MEMFD = "memory-backend-memfd"
#: POSIX shared memory (``shm_open``), 9.1 on: always shared.
SHM = "memory-backend-shm"
#: Every memory backend the model simulates (a profile has those of its binary,
#: ``Profile.memory_backends``).
BACKEND_TYPES = (RAM, FILE, MEMFD, SHM)
#: Backends whose RAM comes from a file descriptor sized to exactly ``size`` (``memfd_create``,
#: ``shm_open`` + ``ftruncate``), which ``qemu_ram_alloc_from_fd`` then maps page-aligned.
FD_BACKEND_TYPES = (MEMFD, SHM)

#: ``MAX_NODES``: host-nodes values and guest NUMA node ids stay below this.
MAX_NODES = 128

#: QEMU 2.9's QOM properties of its two backend classes, in the order its QOM class
#: registers them (2.9's schema has no typed ``ObjectOptions`` yet).
BACKEND_PROPERTIES_2_9: dict[str, tuple[tuple[str, str], ...]] = {
    RAM: (("size", "size"), ("merge", "bool"), ("dump", "bool"), ("prealloc", "bool"),
          ("host-nodes", "[uint16]"), ("policy", "HostMemPolicy")),
    FILE: (("size", "size"), ("merge", "bool"), ("dump", "bool"), ("prealloc", "bool"),
           ("host-nodes", "[uint16]"), ("policy", "HostMemPolicy"), ("share", "bool"),
           ("mem-path", "str")),
}
#: Members a 2.9 backend cannot be completed without.
MANDATORY_2_9 = {RAM: ("size",), FILE: ("size", "mem-path")}


def creatable_types(profile: Profile) -> tuple[str, ...]:
    """Every class ``-object`` can create in ``profile`` (backends first)."""
    return profile.creatable_objects
