"""virtio-mem memory devices (``virtio-mem-pci``): their plug checks, in QEMU's order, and what
the queries show of one while no guest runs.

A virtio-mem device puts its whole memory backend (``max-size``) into the machine's
device-memory region, the region DIMMs are placed in, and a guest driver then plugs blocks of
``block-size`` into it until the device's ``size`` reaches the ``requested-size`` the host asks
for. No guest runs here, so ``size`` stays 0 whatever is requested: that is what QEMU answers
for a machine stopped with ``-S`` or a guest without the driver, and no
``MEMORY_DEVICE_SIZE_CHANGE`` event comes, unless a fault plan plays the driver
(`VirtioMem.guest_follows`).

Plugging one (``-device`` or ``device_add``) runs, after qdev's property setters (the
``block-size`` setter refuses a size below 1 MiB or not a power of two on the spot):

1. the machine's pre-plug hook (``pc_virtio_md_pci_pre_plug`` in 7.2, ``virtio_md_pci_pre_plug``
   in 10.0), i.e. ``memory_device_pre_plug``: the backend must be set, and a free, aligned place
   in the device-memory region is found for all of it (shared with DIMMs, same texts);
2. the device's realize (``virtio_mem_device_realize``): the backend not busy (nor, in 10.0,
   preallocated), the node existing, then ``requested-size`` and the backend size each a
   multiple of the block size (the address was aligned to it in pre-plug).

Where 7.2 and 10.0 differ (the order of the pre-plug checks, where a backend size that is not a
block multiple is caught, ``device_del``) is the profile's ``VirtioMemRules``.

Once realized, only ``requested-size`` can change (``virtio_mem_set_requested_size``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qmpnuma.errors import MachineError
from qmpnuma.machine.backends import FILE, MEMFD, MemoryBackend
from qmpnuma.machine.mem_path import HOST_PAGE_SIZE
from qmpnuma.records import record

if TYPE_CHECKING:
    from qmpnuma.profiles.profile import VirtioMemRules

MiB = 1 << 20
#: ``VIRTIO_MEM_MIN_BLOCK_SIZE``: the smallest block size the property setter takes.
MIN_BLOCK_SIZE = 1 * MiB
#: The host's transparent huge page size (``hpage_pmd_size``: 2 MiB on x86-64), which
#: ``virtio_mem_default_block_size`` takes for backends of ordinary pages.
THP_SIZE = 2 * MiB
#: The properties of virtio-mem-pci the model reads, and the QAPI type each setter visits;
#: every other property the binary lists is taken as it is (PCI address, virtio options...).
VIRTIO_MEM_PROPERTIES: dict[str, str] = {
    "memdev": "link",
    "node": "uint32",
    "requested-size": "size",
    "block-size": "size",
    "memaddr": "uint64",
    "prealloc": "bool",
}


def backend_page_size(backend: MemoryBackend) -> int:
    """``qemu_ram_pagesize`` of the backend's RAM block: a huge page size for a hugetlb memfd
    or a file on hugetlbfs, else the host page (found when the backend was completed)."""
    return backend.page_size


def default_block_size(backend: MemoryBackend) -> int:
    """``virtio_mem_default_block_size``: the THP size for ordinary pages, else the backend's
    page size (at least 1 MiB)."""
    page_size = backend_page_size(backend)
    if page_size == HOST_PAGE_SIZE:
        return max(page_size, THP_SIZE)
    return max(page_size, MIN_BLOCK_SIZE)


def check_block_size(value: int) -> None:
    """``virtio_mem_set_block_size``: the setter's own checks."""
    if value < MIN_BLOCK_SIZE:
        raise MachineError(f"'block-size' property has to be at least 0x{MIN_BLOCK_SIZE:x}")
    if value & (value - 1):
        raise MachineError("'block-size' property has to be a power of two")


@record
class VirtioMem:
    """A realized virtio-mem device (``VirtioMEMDeviceInfo``)."""

    id: str | None
    memdev: str
    node: int
    requested_size: int
    block_size: int
    #: ``memaddr``: where its region starts in guest physical memory.
    addr: int
    #: The backend's size: the region it takes (``max-size``).
    max_size: int
    #: Where the device sits in QOM (``/machine/peripheral/ID`` or ``…-anon/device[N]``).
    qom_path: str
    hotplugged: bool = False
    prealloc: bool = False
    #: The ``bus`` it was given (None: the board's default PCI bus).
    bus: str | None = None
    #: Plugged by a guest driver: always 0 here, no guest runs.
    size: int = 0
    #: ``device_del`` was taken (10.0, ``requested-size`` 0): the guest never answers.
    unplug_requested: bool = False
    kind: str = "virtio-mem"

    @property
    def region_size(self) -> int:
        """Bytes of the device-memory region it takes: its whole backend."""
        return self.max_size

    @property
    def end(self) -> int:
        """Last byte address of its region."""
        return self.addr + self.max_size - 1

    def device_info(self) -> dict[str, Any]:
        """``VirtioMEMDeviceInfo`` in QAPI member order (``id`` only when the device has one)."""
        info: dict[str, Any] = {}
        if self.id is not None:
            info["id"] = self.id
        info.update({
            "memaddr": self.addr,
            "requested-size": self.requested_size,
            "size": self.size,
            "max-size": self.max_size,
            "block-size": self.block_size,
            "node": self.node,
            "memdev": f"/objects/{self.memdev}",
        })
        return info

    def guest_follows(self) -> bool:
        """What a guest driver does after a change of ``requested-size``: it plugs or unplugs
        blocks until ``size`` is the requested size (here at once). Only a fault plan playing
        the guest calls this; whether the size changed is returned."""
        changed = self.size != self.requested_size
        self.size = self.requested_size
        return changed

    def size_change_event(self) -> dict[str, Any]:
        """``MEMORY_DEVICE_SIZE_CHANGE``'s data for the device's current size."""
        data: dict[str, Any] = {} if self.id is None else {"id": self.id}
        data.update({"size": self.size, "qom-path": self.qom_path})
        return data

    def set_requested_size(self, value: int) -> None:
        """``virtio_mem_set_requested_size`` once realized: a multiple of the block size, at
        most the backend. The guest would be told; without one nothing else changes."""
        if value % self.block_size:
            raise MachineError(
                f"'requested-size' has to be multiples of 'block-size' (0x{self.block_size:x})"
            )
        if value > self.max_size:
            raise MachineError(
                f"'requested-size' cannot exceed the memory backend size(0x{self.max_size:x})"
            )
        self.requested_size = value


def request_unplug(device: VirtioMem, rules: VirtioMemRules, family: str) -> None:
    """``device_del`` of a virtio-mem device: refused where its bus cannot unplug (q35's
    root bus), then as the profile's QEMU decides (``virtio_md_pci_unplug_request``); a
    request taken waits for a guest that never answers."""
    if family == "q35" and device.bus in (None, "pcie.0"):
        raise MachineError("Bus 'pcie.0' does not support hotplugging")
    if device.unplug_requested:
        raise MachineError(f"Device {device.id} is already in the process of unplug")
    if not rules.unplug_when_unrequested or device.requested_size:
        raise MachineError(rules.unplug_refused)
    device.unplug_requested = True


#: ``qom-set`` of a realized device's other properties: what each setter says (whatever the
#: value), by property; ``requested-size`` is the one that can change.
FIXED_AFTER_REALIZE: dict[str, str] = {
    "size": "Property 'virtio-mem.size' is not writable",
    "block-size": "'block-size' cannot be changed",
    "node": "Attempt to set property 'node' on anonymous device (type 'virtio-mem') after it "
            "was realized",
    "memaddr": "Attempt to set property 'memaddr' on anonymous device (type 'virtio-mem') "
               "after it was realized",
    "prealloc": "Attempt to set property 'prealloc' on anonymous device (type 'virtio-mem') "
                "after it was realized",
    "memdev": "Attempt to set link property 'memdev' on device '(null)' (type 'virtio-mem') "
              "after it was realized",
}


@record(frozen=True)
class VirtioMemRequest:
    """The properties a virtio-mem device is created with (0 block size and address: chosen
    at plug)."""

    id: str | None
    memdev: str | None
    node: int
    requested_size: int
    block_size: int
    addr: int
    qom_path: str
    prealloc: bool = False
    bus: str | None = None


def realize(
    request: VirtioMemRequest, backend: MemoryBackend, num_nodes: int, addr: int,
    hotplugged: bool, rules: VirtioMemRules, warnings: list[str],
) -> VirtioMem:
    """``virtio_mem_device_realize``'s checks, once pre-plug has placed the device at
    ``addr``; the device it realizes (the caller marks the backend mapped). Its warnings are
    added to ``warnings`` as QEMU prints them, before any later error.

    A ``requested-size`` above the backend is not refused here (only ``qom-set`` refuses it); a
    block size below the default is warned about; one below the backend's page size (a huge
    page's) is refused.
    """
    if backend.mapped:
        raise MachineError(f"'memdev' property specifies a busy memdev: {backend.id}")
    if rules.preallocated_backend_refused is not None and backend.prealloc:
        raise MachineError(rules.preallocated_backend_refused.format(id=backend.id))
    node = request.node
    if (num_nodes and node >= num_nodes) or (not num_nodes and node):
        raise MachineError(
            f"'node' property has value '{node}', which exceedsthe number of numa nodes: "
            f"{num_nodes or 1}"
        )
    default = default_block_size(backend)
    block_size = request.block_size or default
    page_size = backend_page_size(backend)
    if block_size < page_size:
        raise MachineError(
            f"'block-size' property has to be at least the page size (0x{page_size:x})"
        )
    if block_size < default:
        warnings.append("'block-size' property is smaller than the default block size "
                        f"({default // MiB:x} MiB)")
    for name, value in (("requested-size", request.requested_size), ("memaddr", addr)):
        if value % block_size:
            raise MachineError(
                f"'{name}' property has to be multiples of 'block-size' (0x{block_size:x})"
            )
    if backend.size % block_size:
        raise MachineError(rules.memdev_size_not_multiple.format(block=block_size))
    if (rules.private_file_discard_warning is not None and not backend.share
            and backend.qom_type in (FILE, MEMFD)):
        warnings.append(rules.private_file_discard_warning)
    return VirtioMem(request.id, backend.id, node, request.requested_size, block_size, addr,
                     backend.size, request.qom_path, hotplugged, request.prealloc, request.bus)
