"""`qom-list`, `qom-get`, `qom-set` over the part of QEMU's object tree the model covers.

The tree is built from the model when a command asks: the root with its `objects`, `machine` and
`chardevs` children, the memory backends under `/objects`, the devices with an id under
`/machine/peripheral` and the vCPUs (`qmpnuma.commands.cpu_object`) where QEMU puts them:
`/machine/unattached/device[N]` for the boot CPUs, the peripheral containers for hot-plugged
ones. Each command has one handler here, for every kind of object. Property lists follow the
order QEMU 7.2 lists them in (recorded facts of its interface); values come from the model.
Paths resolve as QEMU resolves them: absolute, or partial when the trailing components match
exactly one object.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from qmpnuma.commands.cpu_object import CpuObject, cpu_objects
from qmpnuma.commands.registry import CommandContext, command
from qmpnuma.errors import MachineError, QmpError
from qmpnuma.machine import Machine
from qmpnuma.machine.backends import MemoryBackend
from qmpnuma.machine.devices import VIRTIO_MEM_PCI
from qmpnuma.machine.dimms import UINT64_MASK, Dimm
from qmpnuma.profiles import Profile
from qmpnuma.records import field, record

if TYPE_CHECKING:
    from qmpnuma.machine.virtio_mem import VirtioMem

#: Properties of every memory backend, in QEMU 7.2's `qom-list` order (after `type`).
BACKEND_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("share", "bool"), ("size", "int"), ("dump", "bool"), ("prealloc-threads", "int"),
    ("x-use-canonical-path-for-ramblock-id", "bool"), ("policy", "HostMemPolicy"),
    ("prealloc-context", "link<thread-context>"), ("prealloc", "bool"), ("reserve", "bool"),
    ("host-nodes", "int"), ("merge", "bool"),
)
#: What each backend type adds, in the same order (memory-backend-file's is a profile fact:
#: ``Profile.qom_file_backend_properties``).
BACKEND_EXTRA_PROPERTIES: dict[str, tuple[tuple[str, str], ...]] = {
    "memory-backend-ram": (),
    "memory-backend-memfd": (("hugetlb", "bool"), ("seal", "bool"), ("hugetlbsize", "int")),
}
#: Backend properties that stay writable after creation (the others are fixed once allocated).
BACKEND_WRITABLE = frozenset(
    {"merge", "dump", "prealloc", "prealloc-threads", "policy", "host-nodes",
     "x-use-canonical-path-for-ramblock-id"}
)
#: Backend properties QEMU refuses to change once the memory exists, with that error text.
BACKEND_FIXED_VALUE = frozenset({"share", "reserve"})
DIMM_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("parent_bus", "link<bus>"), ("realized", "bool"), ("hotplugged", "bool"),
    ("hotpluggable", "bool"), ("memdev", "link<memory-backend>"), ("node", "uint32"),
    ("addr", "uint64"), ("legacy-memdev", "str"), ("slot", "int32"), ("size", "uint64"),
)


@record
class QomNode:
    """One object of the tree: its type, its listed properties, its children, its values."""

    type_name: str
    properties: tuple[tuple[str, str], ...] = ()
    children: list[tuple[str, QomNode]] = field(default_factory=list)
    get: Callable[[str], Any] | None = None
    set: Callable[[str, Any], None] | None = None
    path: str = ""
    #: The whole `qom-list` answer (name, type) in QEMU's order when it is known as a whole
    #: (the board: ``qmpnuma.commands.machine_object``); else it is put together below.
    listed: list[tuple[str, str]] | None = None

    def listing(self) -> list[dict[str, str]]:
        """`qom-list`: `type` first, then the properties, then the children."""
        if self.listed is not None:
            return [{"name": name, "type": kind} for name, kind in self.listed]
        entries = [{"name": "type", "type": "string"}]
        entries += [{"name": name, "type": kind} for name, kind in self.properties]
        entries += [{"name": name, "type": f"child<{child.type_name}>"}
                    for name, child in self.children]
        return entries


def _backend_value(backend: MemoryBackend, name: str) -> Any:
    if name == "prealloc-context":
        return f"/objects/{backend.prealloc_context}" if backend.prealloc_context else ""
    if name == "mem-path":
        return backend.mem_path or ""
    if name == "host-nodes":
        return list(backend.host_nodes)
    if name == "rom":
        # file_backend_memory_alloc resolves rom=auto to the readonly setting (8.2)
        rom = getattr(backend, "rom", "auto")
        if rom == "auto":
            return "on" if backend.readonly else "off"
        return rom
    if name == "offset":
        return getattr(backend, "offset", 0)  # memory-backend-file's offset (8.1)
    return getattr(backend, name.replace("-", "_"))


def _backend_node(backend: MemoryBackend, path: str, profile: Profile) -> QomNode:
    extra = BACKEND_EXTRA_PROPERTIES.get(backend.qom_type, ())
    if backend.qom_type == "memory-backend-file":
        extra = profile.qom_file_backend_properties
    props = BACKEND_PROPERTIES + extra
    region = QomNode("memory-region", path=f"{path}/{backend.id}[0]")
    node = QomNode(backend.qom_type, props, [(f"{backend.id}[0]", region)], path=path)

    def get(name: str) -> Any:
        if name == f"{backend.id}[0]":
            return region.path
        return _backend_value(backend, name)

    def set_(name: str, value: Any) -> None:
        if name in BACKEND_FIXED_VALUE:
            raise QmpError("GenericError", "cannot change property value")
        if name == "size":
            raise QmpError(
                "GenericError", f"cannot change property size of {backend.qom_type} "
            )
        if name not in BACKEND_WRITABLE:
            raise QmpError("GenericError", f"Property '{backend.qom_type}.{name}' is not writable")
        _check_qom_value(name, dict(props)[name], value)
        setattr(backend, name.replace("-", "_"), list(value) if name == "host-nodes" else value)

    node.get, node.set = get, set_
    return node


def _check_qom_value(name: str, kind: str, value: Any) -> None:
    """The QObject input visitor's type check for a `qom-set` value."""
    if kind == "bool" and not isinstance(value, bool):
        raise QmpError("GenericError", f"Invalid parameter type for '{name}', expected: boolean")
    if kind == "int" and name != "host-nodes" and (
        isinstance(value, bool) or not isinstance(value, int)
    ):
        raise QmpError("GenericError", f"Invalid parameter type for '{name}', expected: integer")


def _dimm_node(dimm: Dimm, path: str) -> QomNode:
    values = {
        "parent_bus": "", "realized": True, "hotplugged": dimm.hotplugged,
        "hotpluggable": dimm.hotpluggable, "memdev": f"/objects/{dimm.memdev}",
        "node": dimm.node, "addr": dimm.addr, "legacy-memdev": "", "slot": dimm.slot,
        "size": dimm.size,
    }
    return QomNode(dimm.model, DIMM_PROPERTIES, get=values.__getitem__, path=path)


#: The properties of a virtio-mem-pci the model has values for (its QOM listing has many
#: more: PCI and virtio options, memory regions, the ``virtio-backend`` child).
VIRTIO_MEM_QOM_PROPERTIES: tuple[tuple[str, str], ...] = (
    ("realized", "bool"), ("hotplugged", "bool"), ("hotpluggable", "bool"),
    ("memaddr", "uint64"), ("memdev", "link<memory-backend>"), ("node", "uint32"),
    ("requested-size", "size"), ("block-size", "size"), ("prealloc", "bool"), ("size", "size"),
)


def _virtio_mem_node(device: VirtioMem, path: str) -> QomNode:
    """A virtio-mem-pci: its memory-device properties read from the model, and
    ``requested-size`` the one a ``qom-set`` changes (``virtio_mem_set_requested_size``)."""
    from qmpnuma.machine.virtio_mem import FIXED_AFTER_REALIZE

    def get(name: str) -> Any:
        values = {
            "realized": True, "hotplugged": device.hotplugged, "hotpluggable": True,
            "memaddr": device.addr, "memdev": f"/objects/{device.memdev}",
            "node": device.node, "requested-size": device.requested_size,
            "block-size": device.block_size, "prealloc": device.prealloc, "size": device.size,
        }
        return values[name]

    def set_(name: str, value: Any) -> None:
        refusal = FIXED_AFTER_REALIZE.get(name)
        if refusal is not None:
            raise QmpError("GenericError", refusal)
        if name != "requested-size":
            raise QmpError("GenericError", f"Property '{VIRTIO_MEM_PCI}.{name}' is not writable")
        if isinstance(value, bool) or not isinstance(value, int):
            raise QmpError("GenericError", f"Parameter '{name}' expects uint64")
        try:
            device.set_requested_size(value & UINT64_MASK)  # a negative one wraps, as in C
        except MachineError as err:
            raise QmpError(err.error_class, err.message) from None

    # The virtio device itself is the proxy's child; the proxy's properties are its aliases.
    backend = QomNode("virtio-mem", VIRTIO_MEM_QOM_PROPERTIES[3:], get=get, set=set_,
                      path=f"{path}/virtio-backend")
    return QomNode(VIRTIO_MEM_PCI, VIRTIO_MEM_QOM_PROPERTIES, [("virtio-backend", backend)],
                   get=get, set=set_, path=path)


def _cpu_node(cpu: CpuObject) -> QomNode:
    return QomNode(cpu.type_name, cpu.properties, get=cpu.get, set=cpu.set, path=cpu.path)


def _machine_smp(machine: Machine) -> dict[str, int]:
    """``qom-get /machine smp`` (``machine_get_smp``): every ``SMPConfiguration`` member of
    the profile, set; levels the topology does not model count 1."""
    topology = machine.cpus.topology
    return {name: getattr(topology, name, 1) for name in machine.profile.smp_members}


def _board_node(machine: Machine, containers: list[tuple[str, QomNode]]) -> QomNode:
    """``/machine``: its listing derived from the recorded board type
    (``machine_object.board_listing``), or, without a recording, its containers and ``smp``."""
    from qmpnuma.commands.machine_object import board_listing, board_value

    type_name = f"{machine.machine_type.name}-machine"
    listed = board_listing(machine)
    if listed is None:
        return QomNode(
            type_name,
            (("smp", "SMPConfiguration"),) if machine.profile.qom_machine_smp else (),
            children=containers, get=lambda name: _machine_smp(machine), path="/machine",
        )
    kinds = dict(listed)
    known = dict(containers)
    children = [(name, known.get(name) or QomNode(kind[len("child<"):-1],
                                                   path=f"/machine/{name}"))
                for name, kind in listed if kind.startswith("child<")]

    def get(name: str) -> Any:
        if name == "smp":
            return _machine_smp(machine)
        return board_value(machine, name, kinds[name])

    properties = tuple((name, kind) for name, kind in listed[1:]
                       if not kind.startswith("child<"))
    return QomNode(type_name, properties, children, get=get, path="/machine", listed=listed)


#: ``thread-context``'s properties after `type` (the affinities can only be written).
THREAD_CONTEXT_PROPERTIES = (("thread-id", "int"), ("node-affinity", "int"),
                             ("cpu-affinity", "int"))


def _thread_context_node(path: str) -> QomNode:
    """A ``thread-context`` (libvirt makes one per preallocated backend): its thread is the
    server's main one here, and its affinities are write-only, as in QEMU."""
    node = QomNode("thread-context", THREAD_CONTEXT_PROPERTIES, path=path)

    def get(name: str) -> Any:
        if name == "thread-id":
            return os.getpid()
        raise QmpError("GenericError", f"Property 'thread-context.{name}' is not readable")

    node.get = get
    return node


def build_tree(machine: Machine) -> QomNode:
    """The object tree of ``machine`` as QOM would show it (the modelled part): every object
    under ``/objects`` in the container's order; the memory backends and thread contexts with
    their properties, the other objects with their type only."""
    objects = QomNode("container", path="/objects")
    for name in machine.objects.listing_order():
        path = f"/objects/{name}"
        backend = machine.backends.get(name)
        kind = machine.other_objects.get(name)
        if backend is not None:
            objects.children.append((name, _backend_node(backend, path, machine.profile)))
        elif kind == "thread-context":
            objects.children.append((name, _thread_context_node(path)))
        elif kind is not None:
            objects.children.append((name, QomNode(kind, path=path)))
    cpus = {cpu.path: cpu for cpu in cpu_objects(machine)}
    peripheral = QomNode("container", path="/machine/peripheral")
    dimms = {dimm.id: dimm for dimm in machine.sorted_dimms() if dimm.id is not None}
    virtio_mems = {device.qom_path: device for device in machine.dimms.virtio_mems}
    for device_id in machine.peripheral.listing_order():
        path = f"/machine/peripheral/{device_id}"
        if device_id in dimms:
            peripheral.children.append((device_id, _dimm_node(dimms[device_id], path)))
        elif path in virtio_mems:
            peripheral.children.append((device_id, _virtio_mem_node(virtio_mems[path], path)))
        elif device_id in machine.other_devices:
            peripheral.children.append(
                (device_id, QomNode(machine.other_devices[device_id], path=path))
            )
        elif path in cpus:
            peripheral.children.append((device_id, _cpu_node(cpus.pop(path))))
    anonymous = QomNode("container", path="/machine/peripheral-anon")
    # id-less DIMMs and vCPUs, in the container's listing order
    anonymous_dimms = {dimm.qom_path: dimm for dimm in machine.sorted_dimms()
                       if dimm.qom_path.startswith(f"{anonymous.path}/")}
    for name in machine.peripherals.anonymous.listing_order():
        path = f"{anonymous.path}/{name}"
        if path in anonymous_dimms:
            anonymous.children.append((name, _dimm_node(anonymous_dimms[path], path)))
        elif path in virtio_mems:
            anonymous.children.append((name, _virtio_mem_node(virtio_mems[path], path)))
        elif path in cpus:
            anonymous.children.append((name, _cpu_node(cpus.pop(path))))
    # the boot vCPUs are the modelled part of this container
    unattached = QomNode("container", path="/machine/unattached")
    for path, cpu in cpus.items():
        parent, _, name = path.rpartition("/")
        if parent == unattached.path:
            unattached.children.append((name, _cpu_node(cpu)))
    board = _board_node(machine, [("peripheral", peripheral), ("peripheral-anon", anonymous),
                                  ("unattached", unattached)])
    top = {"objects": objects, "machine": board, "chardevs": QomNode("container", path="/chardevs"),
           "backend": QomNode("container", path="/backend")}
    return QomNode(
        "container",
        children=[(name, top[name]) for name in machine.profile.qom_root_children],
        path="/",
    )


#: QOM types of the modelled objects that are not devices (besides memory backends).
_NOT_DEVICES = frozenset({"container", "memory-region"})


def is_device(node: QomNode) -> bool:
    """Whether the object is a qdev device (``TYPE_DEVICE``): not a container, a board, a
    memory backend or a memory region."""
    name = node.type_name
    return not (name in _NOT_DEVICES or name.endswith("-machine")
                or name.startswith("memory-backend-"))


def resolve_at(machine: Machine, parent: str, path: str) -> QomNode | None:
    """``object_resolve_path_at``: an absolute path, or one relative to ``parent`` (never a
    partial path); None when nothing is there."""
    if not path.startswith("/"):
        path = f"{parent}/{path}"
    node: QomNode | None = build_tree(machine)
    for part in (p for p in path.split("/") if p):
        node = dict(node.children).get(part) if node is not None else None
    return node


def _walk(node: QomNode) -> Iterator[QomNode]:
    yield node
    for _, child in node.children:
        yield from _walk(child)


def resolve(machine: Machine, path: str) -> QomNode:
    """Resolve an absolute or partial QOM path as QEMU does, or raise QEMU's error."""
    root = build_tree(machine)
    if path.startswith("/"):
        node: QomNode | None = root
        for part in (p for p in path.split("/") if p):
            node = dict(node.children).get(part) if node is not None else None
        if node is None:
            raise QmpError("DeviceNotFound", f"Device '{path}' not found")
        return node
    parts = [p for p in path.split("/") if p]
    matches = [n for n in _walk(root) if n.path.split("/")[-len(parts):] == parts] if parts else []
    if len(matches) > 1:
        raise QmpError("GenericError", f"Path '{path}' is ambiguous")
    if not matches:
        raise QmpError("DeviceNotFound", f"Device '{path}' not found")
    return matches[0]


def _property(ctx: CommandContext, args: dict[str, Any]) -> tuple[QomNode, str]:
    """The object and property a `qom-get`/`qom-set` names, with QEMU's not-found errors."""
    node = resolve(ctx.machine, args["path"])
    name: str = args["property"]
    known = name == "type" or name in dict(node.properties) or name in dict(node.children)
    if not known:
        raise QmpError("GenericError", f"Property '{node.type_name}.{name}' not found")
    return node, name


@command("qom-list")
def qom_list(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return resolve(ctx.machine, args["path"]).listing()


@command("qom-get")
def qom_get(ctx: CommandContext, args: dict[str, Any]) -> Any:
    node, name = _property(ctx, args)
    if name == "type":
        return node.type_name
    if name in dict(node.children):
        return dict(node.children)[name].path
    if node.get is None:
        raise QmpError("GenericError", f"Property '{node.type_name}.{name}' is not readable")
    return node.get(name)


@command("qom-set")
def qom_set(ctx: CommandContext, args: dict[str, Any]) -> Any:
    node, name = _property(ctx, args)
    if name == "type" or node.set is None:
        raise QmpError("GenericError", f"Property '{node.type_name}.{name}' is not writable")
    node.set(name, args["value"])
    return {}
