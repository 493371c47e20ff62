"""Memory backends (``memory-backend-ram|file|memfd``): their properties, setters and completion.

A backend goes through the same three stages in QEMU whether it comes from ``-object`` or from
QMP ``object-add``, and each stage has its own kind of error:

1. the QAPI ``ObjectOptions`` visit (types, mandatory members, unknown members) — done by the
   options room's visitors (:mod:`qmpnuma.machine.object_options`); on the command line this
   happens while argv is walked, so those errors carry the ``-object ...:`` prefix;
2. the property setters, run in QDict order (``size`` 0, ``host-nodes`` out of range,
   ``prealloc``/``reserve`` clash) — the object is never added to ``/objects``;
3. completion (backing file, guest memory, NUMA policy) — the object *was* added to
   ``/objects`` and is removed again, which leaves a tombstone in the container's hash table.

Completion asks the host (reservable memory, NUMA nodes, the ``mem-path``) through the
:class:`~qmpnuma.machine.host_facts.HostFacts` handed in; nothing here reads the host itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from qmpnuma.errors import MachineError
from qmpnuma.machine.host_facts import HostFacts
from qmpnuma.machine.mem_path import HOST_PAGE_SIZE as PAGE_SIZE
from qmpnuma.machine.mem_path import check_mem_path
from qmpnuma.machine.object_options import ObjectRequest
from qmpnuma.machine.object_types import (
    BACKEND_PROPERTIES_2_9,
    FD_BACKEND_TYPES,
    FILE,
    MAX_NODES,
    MEMFD,
    RAM,
    SHM,
)
from qmpnuma.machine.schema import option_schema
from qmpnuma.profiles.profile import ObjectProperties, Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.qobject.hashing import qdict_order
from qmpnuma.records import field, record

__all__ = [
    "FILE", "MEMFD", "RAM", "SHM", "MemoryBackend", "backend_members", "build_backend",
    "check_guest_memory", "complete_backend",
]


def backend_members(qom_type: str, profile: Profile = DEFAULT_PROFILE) -> tuple[str, ...]:
    """Property names a backend class accepts, in schema order (2.9: QOM order)."""
    if profile.object_properties is ObjectProperties.QOM_PROPERTIES:
        return tuple(name for name, _ in BACKEND_PROPERTIES_2_9[qom_type])
    schema = option_schema(profile)
    variant = next(
        item["type"] for item in schema["ObjectOptions"]["variants"] if item["case"] == qom_type
    )
    return tuple(member["name"] for member in schema[variant]["members"])


@record
class MemoryBackend:
    """One memory backend object with every property QEMU 7.2 gives it (defaults filled in)."""

    id: str
    qom_type: str
    size: int
    merge: bool = True
    dump: bool = True
    prealloc: bool = False
    prealloc_threads: int = 1
    prealloc_context: str | None = None
    share: bool = False
    reserve: bool = True
    host_nodes: list[int] = field(default_factory=list)
    policy: str = "default"
    x_use_canonical_path_for_ramblock_id: bool = False
    mem_path: str | None = None
    align: int = 0
    #: Where the mapping starts in the file (``offset``, 8.1 on).
    offset: int = 0
    #: ``rom`` (8.2 on): ``auto`` follows ``readonly``.
    rom: str = "auto"
    discard_data: bool = False
    readonly: bool = False
    pmem: bool = False
    hugetlb: bool = False
    hugetlbsize: int = 0
    seal: bool = True
    #: The page size of its RAM once completed (``qemu_ram_pagesize``): a huge page size for
    #: a hugetlb memfd or a file on hugetlbfs, else the host page.
    page_size: int = PAGE_SIZE
    #: The hugetlbfs mount its file is on ("" elsewhere), whose ``size=`` limit it shares.
    huge_mount: str = ""
    #: True once a NUMA node, the machine RAM or a DIMM maps it (``host_memory_backend_is_mapped``).
    mapped: bool = False
    #: Created by the board (``pc.ram``) rather than by the user.
    implicit: bool = False
    profile: Profile = DEFAULT_PROFILE

    def memdev_info(self) -> dict[str, Any]:
        """The ``Memdev`` of ``query-memdev`` in QAPI member order (7.2 adds share/reserve)."""
        info: dict[str, Any] = {"id": self.id, "size": self.size, "merge": self.merge,
                                "dump": self.dump, "prealloc": self.prealloc}
        if self.profile.memdev_reports_share_reserve:
            info["share"] = self.share
            info["reserve"] = self.reserve
        info["host-nodes"] = list(self.host_nodes)
        info["policy"] = self.policy
        return info


def _zero_value_error(name: str, qom_type: str, value: int) -> MachineError:
    return MachineError(f"property '{name}' of {qom_type} doesn't take value '{value}'")


def build_backend(
    request: ObjectRequest,
    *,
    smp_cpus: int,
    profile: Profile = DEFAULT_PROFILE,
    canonical_ramblock_id: bool = False,
    prealloc: bool = False,
    objects: Mapping[str, str] | None = None,
) -> MemoryBackend:
    """Run the property setters (stage 2) and return the not yet completed backend.

    ``smp_cpus`` is the ``prealloc-threads`` default (7.2 uses the machine's CPU count);
    ``canonical_ramblock_id`` the machine type's ``x-use-canonical-path-for-ramblock-id``
    default (true up to 4.0); ``prealloc`` the ``prealloc`` default (``-mem-prealloc`` makes it
    on for every backend before the setters run, so that ``reserve=off`` then clashes with it);
    ``objects`` the QOM type of each object in ``/objects`` (a ``prealloc-context`` link must
    name a ``thread-context``). Raises ``MachineError`` with the setter's text; such an object
    never reaches ``/objects``.
    """
    backend = MemoryBackend(
        id=request.id,
        qom_type=request.qom_type,
        size=0,
        prealloc_threads=smp_cpus,
        prealloc=prealloc,
        share=request.qom_type in (MEMFD, SHM),
        x_use_canonical_path_for_ramblock_id=canonical_ramblock_id,
        profile=profile,
    )
    schema_order = backend_members(request.qom_type, profile)
    given = [name for name in schema_order if name in request.props]
    for name in qdict_order(given):
        _set_property(backend, name, request.props[name], profile, objects or {})
    return backend


def _set_property(
    backend: MemoryBackend, name: str, value: Any, profile: Profile, objects: Mapping[str, str],
) -> None:
    if name == "size":
        if value == 0:
            if profile.object_properties is ObjectProperties.QOM_PROPERTIES:
                raise MachineError(f"Property '{backend.qom_type}.size' doesn't take value '0'")
            raise _zero_value_error("size", backend.qom_type, 0)
        backend.size = int(value)
    elif name == "prealloc-threads":
        if value == 0:
            raise _zero_value_error("prealloc-threads", backend.qom_type, 0)
        backend.prealloc_threads = int(value)
    elif name == "host-nodes":
        for node in value:
            if node >= MAX_NODES:
                raise MachineError(f"Invalid host-nodes value: {node}")
        backend.host_nodes = sorted(set(value))
    elif name == "prealloc":
        if value and not backend.reserve:
            raise MachineError("'prealloc=on' and 'reserve=off' are incompatible")
        backend.prealloc = bool(value)
    elif name == "reserve":
        if not value and backend.prealloc:
            raise MachineError("'prealloc=on' and 'reserve=off' are incompatible")
        backend.reserve = bool(value)
    elif name == "hugetlbsize" and value == 0:
        raise MachineError(f"Property '{backend.qom_type}.hugetlbsize' doesn't take value '0'")
    elif name == "prealloc-context":
        # A link<thread-context> (thread-context objects are early ones: they exist by now).
        kind = objects.get(value)
        if kind is None:
            raise MachineError(f"Device '{value}' not found", "DeviceNotFound")
        if kind != "thread-context":
            raise MachineError(
                "Invalid parameter type for 'prealloc-context', expected: thread-context")
        backend.prealloc_context = value
    else:
        setattr(backend, name.replace("-", "_"), value)


def check_guest_memory(backend: MemoryBackend, host: HostFacts) -> None:
    """``cannot set up guest memory``: anonymous RAM the host would refuse to reserve."""
    if backend.qom_type != RAM or not backend.reserve:
        return
    limit = host.reservable_bytes
    if limit is not None and backend.size > limit:
        raise MachineError(f"cannot set up guest memory '{backend.id}': Cannot allocate memory")


def _complete_fd_backend(
    backend: MemoryBackend, host: HostFacts, others: Iterable[MemoryBackend],
) -> None:
    """``file_ram_alloc`` for a backend mapped from a file (``mem-path``, memfd, shm): the
    file, its page size (a huge page on hugetlbfs), the mapping and what it reserves. The
    huge-page rules load on first use: a start with RAM backends only never needs them."""
    from qmpnuma.machine.huge_pages import (
        check_whole_pages,
        memfd_page_size,
        reserve_huge_pages,
    )

    profile = backend.profile
    mount_free_pages: int | None = None
    if backend.qom_type == FILE and backend.mem_path is not None:
        facts = host.probe_path(backend.mem_path)
        backend.page_size = check_mem_path(
            backend.mem_path, backend.size, backend.align, facts, backend.readonly,
            offset=backend.offset, name=backend.id, profile=profile)
        if backend.page_size != PAGE_SIZE:
            backend.huge_mount = facts.file_system().mount_point
            mount_free_pages = facts.file_system().mount_free_pages
    if backend.qom_type == MEMFD:
        backend.page_size = memfd_page_size(backend, host.probe_huge_pages())
    if backend.qom_type in FD_BACKEND_TYPES and profile.fd_backend_maps_whole_pages \
            and backend.page_size == PAGE_SIZE and backend.size % PAGE_SIZE:
        # The descriptor is sized to exactly ``size``; the page-aligned mapping outgrows it.
        raise MachineError(profile.texts.backing_store_too_small.format(
            name=backend.id, file_size=backend.size,
            size=(backend.size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE, offset=0))
    if backend.page_size != PAGE_SIZE and backend.reserve:
        reserve_huge_pages(backend, host.probe_huge_pages(), mount_free_pages, others)
    if backend.qom_type == FILE and profile.file_backend_size_whole_pages:
        check_whole_pages(backend)


def complete_backend(
    backend: MemoryBackend, host: HostFacts, others: Iterable[MemoryBackend] = (),
) -> None:
    """Stage 3 (``host_memory_backend_memory_complete``): allocation, then the NUMA policy.

    Raises ``MachineError``; QEMU has already added the object to ``/objects`` at this point
    and removes it again. ``others`` are the backends the machine holds: the huge pages they
    reserved are not free for this one. ``mbind`` refuses (EINVAL) a node mask with no online
    host node: the kernel keeps only the allowed nodes of the mask (checked with the real
    binary for ``bind``, ``interleave`` and ``preferred``).
    """
    if backend.qom_type == SHM and not backend.share:
        raise MachineError("can't create shm backend with `share=off`")
    if backend.qom_type == FILE and backend.rom == "on" and not backend.readonly:
        raise MachineError("property 'rom' = 'on' is not supported with 'readonly' = 'off'")
    if backend.qom_type == FILE or backend.qom_type in FD_BACKEND_TYPES:
        _complete_fd_backend(backend, host, others)
    check_guest_memory(backend, host)
    if backend.host_nodes and backend.policy == "default":
        raise MachineError(
            "host-nodes must be empty for policy default, or you should explicitly specify "
            "a policy other than default"
        )
    if not backend.host_nodes and backend.policy != "default":
        raise MachineError(f"host-nodes must be set for policy {backend.policy}")
    if backend.host_nodes and not set(backend.host_nodes) & host.numa_nodes:
        raise MachineError("cannot bind memory to host NUMA nodes: Invalid argument")
