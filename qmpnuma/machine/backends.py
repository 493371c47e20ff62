"""Memory backends (``memory-backend-ram|file|memfd``): their properties, defaults and checks.

A backend goes through the same three stages in QEMU whether it comes from ``-object`` or from
QMP ``object-add``, and each stage has its own kind of error:

1. the QAPI ``ObjectOptions`` visit (types, mandatory members, unknown members) — on the command
   line this happens while argv is walked, so those errors carry the ``-object ...:`` prefix;
2. the property setters, run in QDict order (``size`` 0, ``host-nodes`` out of range,
   ``prealloc``/``reserve`` clash) — the object is never added to ``/objects``;
3. completion (backing file, NUMA policy) — the object *was* added to ``/objects`` and is
   removed again, which leaves a tombstone in the container's hash table.

Nothing here touches the host: the ``mem-path`` checks look at the file system read-only and
model what QEMU's ``open``/``mkstemp`` would answer without creating anything.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from qmpnuma.errors import MachineError, OptionError
from qmpnuma.machine.cli_syntax import OptsReader, is_identifier, split_qemu_opts
from qmpnuma.options.keyval import parse_json_option
from qmpnuma.profiles.profile import ObjectProperties, Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.qobject.hashing import qdict_order

RAM = "memory-backend-ram"
FILE = "memory-backend-file"
MEMFD = "memory-backend-memfd"
BACKEND_TYPES = (RAM, FILE, MEMFD)
BACKEND_TYPES_2_9 = (RAM, FILE)

#: ``MAX_NODES``: host-nodes values and guest NUMA node ids stay below this.
MAX_NODES = 128
HOST_PAGE_SIZE = 4096

POLICIES = ("default", "preferred", "bind", "interleave")

#: Every other ``ObjectType`` value of QEMU 7.2 x86_64: accepted by ``-object`` and kept in
#: ``/objects`` (they change the container's hash order) but not modelled further.
OTHER_OBJECT_TYPES_7_2 = (
    "authz-list", "authz-listfile", "authz-pam", "authz-simple", "can-bus",
    "can-host-socketcan", "colo-compare", "cryptodev-backend", "cryptodev-backend-builtin",
    "cryptodev-vhost-user", "dbus-vmstate", "filter-buffer", "filter-dump", "filter-mirror",
    "filter-redirector", "filter-replay", "filter-rewriter", "input-barrier", "input-linux",
    "iothread", "main-loop", "memory-backend-epc", "pr-manager-helper", "qtest",
    "rng-builtin", "rng-egd", "rng-random", "secret", "secret_keyring", "sev-guest",
    "thread-context", "throttle-group", "tls-creds-anon", "tls-creds-psk", "tls-creds-x509",
    "tls-cipher-suites", "x-remote-object", "x-vfio-user-server",
)
OTHER_OBJECT_TYPES_2_9 = (
    "iothread", "rng-random", "rng-egd", "secret", "throttle-group", "tls-creds-anon",
    "tls-creds-x509", "filter-buffer", "filter-dump", "filter-mirror", "filter-redirector",
    "filter-rewriter", "colo-compare", "cryptodev-backend-builtin", "input-linux",
)

#: QAPI member order of ``MemoryBackendProperties`` and the per-type extensions (7.2).
_COMMON_MEMBERS = (
    ("dump", "bool"), ("host-nodes", "uint16-list"), ("merge", "bool"), ("policy", "policy"),
    ("prealloc", "bool"), ("prealloc-threads", "uint32"), ("prealloc-context", "str"),
    ("share", "bool"), ("reserve", "bool"), ("size", "size"),
    ("x-use-canonical-path-for-ramblock-id", "bool"),
)
_EXTRA_MEMBERS: dict[str, tuple[tuple[str, str], ...]] = {
    RAM: (),
    FILE: (("align", "size"), ("discard-data", "bool"), ("mem-path", "str"),
           ("pmem", "bool"), ("readonly", "bool")),
    MEMFD: (("hugetlb", "bool"), ("hugetlbsize", "size"), ("seal", "bool")),
}
#: QEMU 2.9's QOM properties of the two backend classes it has.
_MEMBERS_2_9: dict[str, tuple[tuple[str, str], ...]] = {
    RAM: (("size", "size"), ("merge", "bool"), ("dump", "bool"), ("prealloc", "bool"),
          ("host-nodes", "uint16-list"), ("policy", "policy")),
    FILE: (("size", "size"), ("merge", "bool"), ("dump", "bool"), ("prealloc", "bool"),
           ("host-nodes", "uint16-list"), ("policy", "policy"), ("share", "bool"),
           ("mem-path", "str")),
}
_MANDATORY = {RAM: ("size",), FILE: ("size", "mem-path"), MEMFD: ("size",)}


def backend_members(
    qom_type: str, profile: Profile = DEFAULT_PROFILE
) -> tuple[tuple[str, str], ...]:
    """Property names and kinds a backend class accepts, in QAPI schema order."""
    if profile.object_properties is ObjectProperties.QOM_PROPERTIES:
        return _MEMBERS_2_9[qom_type]
    return _COMMON_MEMBERS + _EXTRA_MEMBERS[qom_type]


@dataclass
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
    discard_data: bool = False
    readonly: bool = False
    pmem: bool = False
    hugetlb: bool = False
    hugetlbsize: int = 0
    seal: bool = True
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


@dataclass(frozen=True)
class ObjectRequest:
    """An ``-object``/``object-add`` after the QAPI visit: class, id and the given properties."""

    qom_type: str
    id: str
    props: dict[str, Any]

    @property
    def is_backend(self) -> bool:
        return self.qom_type in BACKEND_TYPES


def parse_object_option(
    text: str, seen_ids: Sequence[str], profile: Profile = DEFAULT_PROFILE
) -> tuple[
    ObjectRequest, list[str]
]:
    """The argv-time part of ``-object`` (QemuOpts + OptsVisitor over ``ObjectOptions``).

    Returns the request and short-form-boolean warning lines (without prefix).  Raises
    ``OptionError``; the caller adds the ``-object ...:`` location.
    """
    if text.startswith("{") and profile.object_properties is ObjectProperties.QAPI_OBJECT_OPTIONS:
        return parse_object_json(text, profile), []
    pairs, warnings = split_qemu_opts(text, "qom-type")
    ids = [value for key, value in pairs if key == "id"]
    if ids:
        ident = ids[-1]
        if not is_identifier(ident):
            raise OptionError(
                "Parameter 'id' expects an identifier",
                ("Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.",),
            )
        if ident in seen_ids:
            raise OptionError(f"Duplicate ID '{ident}' for object")
    reader = OptsReader([(k, v) for k, v in pairs])
    qom_type = reader.scalar("qom-type")
    qom_properties = profile.object_properties is ObjectProperties.QOM_PROPERTIES
    backend_types = BACKEND_TYPES_2_9 if qom_properties else BACKEND_TYPES
    others = OTHER_OBJECT_TYPES_2_9 if qom_properties else OTHER_OBJECT_TYPES_7_2
    if qom_type is None:
        raise OptionError("Parameter 'qom-type' is missing")
    if qom_type not in backend_types and qom_type not in others:
        if qom_properties:
            raise OptionError(f"invalid object type: {qom_type}")
        raise OptionError(f"Parameter 'qom-type' does not accept value '{qom_type}'")
    ident = reader.require("id")
    if qom_type not in backend_types:
        props = {key: value for key, value in pairs if key not in ("qom-type", "id")}
        return ObjectRequest(qom_type, ident, props), warnings
    props = {}
    for name, kind in backend_members(qom_type, profile):
        value = _read_member(reader, name, kind)
        if value is not None:
            props[name] = value
    for name in _MANDATORY[qom_type]:
        if name not in props:
            raise OptionError(f"Parameter '{name}' is missing")
    if qom_properties:
        for key, _ in pairs:
            if key not in reader.visited:
                raise OptionError(f"Property '.{key}' not found")
    reader.check_all_visited()
    return ObjectRequest(qom_type, ident, props), warnings


def parse_object_json(text: str, profile: Profile = DEFAULT_PROFILE) -> ObjectRequest:
    """``-object {JSON}``: the QObject input visitor over ``ObjectOptions`` (7.2).

    Unlike the QemuOpts form there is no id bookkeeping at parse time: a duplicate id only
    fails when the object is created.
    """
    value = parse_json_option(text)
    qom_type = value.get("qom-type")
    if qom_type is None:
        raise OptionError("Parameter 'qom-type' is missing")
    if not isinstance(qom_type, str):
        raise OptionError("Invalid parameter type for 'qom-type', expected: string")
    qom_properties = profile.object_properties is ObjectProperties.QOM_PROPERTIES
    others = OTHER_OBJECT_TYPES_2_9 if qom_properties else OTHER_OBJECT_TYPES_7_2
    if qom_type not in BACKEND_TYPES and qom_type not in others:
        raise OptionError(f"Parameter 'qom-type' does not accept value '{qom_type}'")
    ident = value.get("id")
    if ident is None:
        raise OptionError("Parameter 'id' is missing")
    if not isinstance(ident, str):
        raise OptionError("Invalid parameter type for 'id', expected: string")
    rest = {key: item for key, item in value.items() if key not in ("qom-type", "id")}
    if qom_type not in BACKEND_TYPES:
        return ObjectRequest(qom_type, ident, rest)
    props: dict[str, Any] = {}
    for name, kind in backend_members(qom_type, profile):
        if name in rest:
            props[name] = _json_member(name, kind, rest[name])
    for name in _MANDATORY[qom_type]:
        if name not in props:
            raise OptionError(f"Parameter '{name}' is missing")
    for key in rest:
        if key not in props:
            raise OptionError(f"Parameter '{key}' is unexpected")
    return ObjectRequest(qom_type, ident, props)


def _json_uint(name: str, item: Any) -> int:
    if isinstance(item, bool) or not isinstance(item, int):
        raise OptionError(f"Parameter '{name}' expects uint64")
    return item & ((1 << 64) - 1)


def _json_member(name: str, kind: str, item: Any) -> Any:
    """One backend member from JSON with the QObject input visitor's type errors."""
    if kind == "bool":
        if not isinstance(item, bool):
            raise OptionError(f"Invalid parameter type for '{name}', expected: boolean")
        return item
    if kind in ("size", "uint32"):
        number = _json_uint(name, item)
        if kind == "uint32" and number > 0xFFFFFFFF:
            raise OptionError(f"Parameter '{name}' expects uint32_t")
        return number
    if kind == "uint16-list":
        if not isinstance(item, list):
            raise OptionError(f"Invalid parameter type for '{name}', expected: array")
        values = [_json_uint("null", element) for element in item]
        if any(number > 0xFFFF for number in values):
            raise OptionError("Parameter 'null' expects uint16_t")
        return values
    if not isinstance(item, str):
        raise OptionError(f"Invalid parameter type for '{name}', expected: string")
    if kind == "policy" and item not in POLICIES:
        raise OptionError(f"Parameter '{name}' does not accept value '{item}'")
    return item


def _read_member(reader: OptsReader, name: str, kind: str) -> Any:
    if kind == "bool":
        return reader.boolean(name)
    if kind == "size":
        return reader.size(name)
    if kind == "uint32":
        return reader.uint(name, 32, "uint32_t")
    if kind == "uint16-list":
        return reader.uint16_list(name) if reader.has(name) else None
    if kind == "policy":
        return reader.enum(name, POLICIES)
    return reader.scalar(name)


def _zero_value_error(name: str, qom_type: str, value: int) -> MachineError:
    return MachineError(f"property '{name}' of {qom_type} doesn't take value '{value}'")


def build_backend(
    request: ObjectRequest,
    *,
    smp_cpus: int,
    profile: Profile = DEFAULT_PROFILE,
    canonical_ramblock_id: bool = False,
) -> MemoryBackend:
    """Run the property setters (stage 2) and return the not yet completed backend.

    ``smp_cpus`` is the ``prealloc-threads`` default (7.2 uses the machine's CPU count);
    ``canonical_ramblock_id`` the machine type's ``x-use-canonical-path-for-ramblock-id``
    default (true up to 4.0).  Raises ``MachineError`` with the setter's text; such an object
    never reaches ``/objects``.
    """
    backend = MemoryBackend(
        id=request.id,
        qom_type=request.qom_type,
        size=0,
        prealloc_threads=smp_cpus,
        share=request.qom_type == MEMFD,
        x_use_canonical_path_for_ramblock_id=canonical_ramblock_id,
        profile=profile,
    )
    schema_order = [name for name, _ in backend_members(request.qom_type, profile)]
    given = [name for name in schema_order if name in request.props]
    for name in qdict_order(given):
        _set_property(backend, name, request.props[name], profile)
    return backend


def _set_property(backend: MemoryBackend, name: str, value: Any, profile: Profile) -> None:
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
    elif name == "prealloc-context":
        raise MachineError(f"Device '{value}' not found", "DeviceNotFound")
    else:
        setattr(backend, name.replace("-", "_"), value)


@lru_cache(maxsize=1)
def host_numa_nodes() -> frozenset[int]:
    """The host's online NUMA nodes (read once from sysfs; ``{0}`` when unknown)."""
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


@lru_cache(maxsize=1)
def host_reservable_bytes() -> int | None:
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


def check_guest_memory(backend: MemoryBackend) -> None:
    """``cannot set up guest memory``: anonymous RAM the host would refuse to reserve."""
    if backend.qom_type != RAM or not backend.reserve:
        return
    limit = host_reservable_bytes()
    if limit is not None and backend.size > limit:
        raise MachineError(f"cannot set up guest memory '{backend.id}': Cannot allocate memory")


def complete_backend(backend: MemoryBackend) -> None:
    """Stage 3 (``host_memory_backend_memory_complete``): allocation, then the NUMA policy.

    Raises ``MachineError``; QEMU has already added the object to ``/objects`` at this point
    and removes it again.
    """
    if backend.qom_type == FILE and backend.mem_path is not None:
        check_mem_path(backend.mem_path, backend.size, backend.align, backend.readonly)
    check_guest_memory(backend)
    if backend.qom_type == MEMFD and backend.hugetlb:
        raise MachineError("unable to map backing store for guest RAM: Cannot allocate memory")
    if backend.host_nodes and backend.policy == "default":
        raise MachineError(
            "host-nodes must be empty for policy default, or you should explicitly specify "
            "a policy other than default"
        )
    if not backend.host_nodes and backend.policy != "default":
        raise MachineError(f"host-nodes must be set for policy {backend.policy}")
    online = host_numa_nodes()
    if backend.policy in ("bind", "interleave") and not set(backend.host_nodes) <= online:
        raise MachineError("cannot bind memory to host NUMA nodes: Invalid argument")


def _strerror(code: int) -> str:
    return os.strerror(code)


def check_mem_path(path: str, size: int, align: int, readonly: bool = False) -> None:
    """What ``file_ram_open`` + ``file_ram_alloc`` would say about ``path``, without writing.

    An existing file is used as is (too small → size error); a missing file in a writable
    directory would be created (success); a directory gets a temporary file inside it, except
    with ``readonly``, where QEMU opens the directory itself and then fails to map it.
    """

    def fail(code: int) -> MachineError:
        return MachineError(f"can't open backing store {path} for guest RAM: {_strerror(code)}")

    if not path:
        raise fail(errno.ENOENT)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except NotADirectoryError:
        raise fail(errno.ENOTDIR) from None
    except PermissionError:
        raise fail(errno.EACCES) from None
    if info is None:
        parent = os.path.dirname(os.path.abspath(path))
        try:
            parent_info = os.stat(parent)
        except FileNotFoundError:
            raise fail(errno.ENOENT) from None
        except NotADirectoryError:
            raise fail(errno.ENOTDIR) from None
        if not stat.S_ISDIR(parent_info.st_mode):
            raise fail(errno.ENOTDIR)
        if _is_pseudo_fs(parent):
            raise fail(errno.ENOENT)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise fail(errno.EACCES)
        file_size = 0
    elif stat.S_ISDIR(info.st_mode):
        if _is_pseudo_fs(path):
            raise fail(errno.ENOENT)
        if not os.access(path, os.W_OK | os.X_OK):
            raise fail(errno.EACCES)
        file_size = 0
    else:
        if not os.access(path, os.R_OK | os.W_OK):
            raise fail(errno.EACCES)
        file_size = info.st_size if stat.S_ISREG(info.st_mode) else 0
    aligned_size = (size + HOST_PAGE_SIZE - 1) // HOST_PAGE_SIZE * HOST_PAGE_SIZE
    if 0 < file_size < aligned_size:
        raise MachineError(
            f"backing store size 0x{file_size:x} does not match 'size' option 0x{aligned_size:x}"
        )
    if align % HOST_PAGE_SIZE:
        raise MachineError(
            f"alignment 0x{align:x} must be multiples of page size 0x{HOST_PAGE_SIZE:x}"
        )
    if align and align & (align - 1):
        raise MachineError(f"alignment 0x{align:x} must be a power of two")
    if readonly and info is not None and stat.S_ISDIR(info.st_mode):
        raise MachineError("unable to map backing store for guest RAM: No such device")


def _is_pseudo_fs(path: str) -> bool:
    """procfs/sysfs refuse to create files with ENOENT."""
    real = os.path.realpath(path)
    return real == "/proc" or real.startswith(("/proc/", "/sys/")) or real == "/sys"


def check_object_id(ident: str) -> None:
    """``user_creatable_add_type`` refuses ids that are not identifiers (JSON and QMP forms)."""
    if not is_identifier(ident):
        raise MachineError(
            "Parameter 'id' expects an identifier",
            hints=(
                "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.",
            ),
        )


def request_from_qmp(qom_type: str, ident: str, props: Mapping[str, Any]) -> ObjectRequest:
    """An ``object-add`` whose arguments the QMP visitor already checked, as a request."""
    if qom_type in BACKEND_TYPES:
        for name in _MANDATORY[qom_type]:
            if name not in props:
                raise MachineError(f"Parameter '{name}' is missing")
    return ObjectRequest(qom_type, ident, dict(props))
