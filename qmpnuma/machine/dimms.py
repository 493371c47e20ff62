"""pc-dimm and nvdimm memory devices: slot and address allocation and every plug check, in
QEMU's order.

A DIMM is plugged the same way from ``-device pc-dimm`` (cold, ``hotplugged`` false) and from
QMP ``device_add`` (hot, ``hotplugged`` true).  QEMU runs the machine's pre-plug hook first
(ACPI, slot, memdev presence, space, alignment, address), then the device's realize (node,
busy backend), then plugs it; the first failing check's text is what the user sees, so the
order below is the order of QEMU 7.2 (``pc_memory_pre_plug`` → ``pc_dimm_pre_plug`` →
``memory_device_pre_plug`` → ``pc_dimm_realize``), with 2.9's texts where they differ.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import TYPE_CHECKING, Any

from qmpnuma.errors import MachineError
from qmpnuma.machine.backends import FILE, MEMFD, SHM, MemoryBackend
from qmpnuma.machine.memory import MemoryConfig
from qmpnuma.machine.ram_layout import RamLayout
from qmpnuma.profiles.profile import DimmPlug, Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.records import record

if TYPE_CHECKING:
    from qmpnuma.machine.virtio_mem import VirtioMem, VirtioMemRequest

MiB = 1 << 20
#: Alignment of anonymous RAM on x86-64 Linux hosts (``QEMU_VMALLOC_ALIGN``).
ANON_RAM_ALIGN = 2 * MiB
PAGE_SIZE = 4096
UNASSIGNED_SLOT = -1
UINT64_MASK = (1 << 64) - 1
PC_DIMM = "pc-dimm"
NVDIMM = "nvdimm"


@record
class Dimm:
    """A plugged pc-dimm or nvdimm (``PCDIMMDeviceInfo`` fields); an nvdimm's ``size`` is its
    persistent-memory part, what it maps into the guest."""

    id: str | None
    memdev: str
    size: int
    node: int
    slot: int
    addr: int
    hotplugged: bool
    hotpluggable: bool = True
    #: Where the device sits in QOM (``/machine/peripheral/ID`` or ``…-anon/device[N]``).
    qom_path: str = ""
    model: str = PC_DIMM
    #: The ``MemoryDeviceInfo`` union tag it is listed with (``dimm``, ``nvdimm``).
    kind: str = "dimm"

    @property
    def end(self) -> int:
        """Last byte address of the DIMM."""
        return self.addr + self.size - 1

    def device_info(self) -> dict[str, Any]:
        """``PCDIMMDeviceInfo`` in QAPI member order (``id`` only when the device has one)."""
        info: dict[str, Any] = {}
        if self.id is not None:
            info["id"] = self.id
        info.update(
            {
                "addr": self.addr,
                "size": self.size,
                "slot": self.slot,
                "node": self.node,
                "memdev": f"/objects/{self.memdev}",
                "hotplugged": self.hotplugged,
                "hotpluggable": self.hotpluggable,
            }
        )
        return info


@record(frozen=True)
class DimmRequest:
    """The properties a DIMM is created with (``slot`` -1 and ``addr`` 0 mean automatic)."""

    id: str | None = None
    memdev: str | None = None
    node: int = 0
    slot: int = UNASSIGNED_SLOT
    addr: int = 0
    qom_path: str = ""
    model: str = PC_DIMM
    #: nvdimm only: bytes at the end of the backend kept for the namespace label.
    label_size: int = 0
    #: nvdimm only: the guest is told the device is write-protected.
    unarmed: bool = False


def nvdimm_pmem_size(backend: MemoryBackend, label_size: int, align: int) -> int:
    """``nvdimm_prepare_memory_region``: what is left for persistent memory once the label is
    taken from the backend's end, aligned down to the backend's alignment."""
    pmem_size = (backend.size - label_size) // align * align if backend.size > label_size else 0
    if not pmem_size:
        raise MachineError(
            f"the size of memdev {backend.id} (0x{backend.size:x}) is too small to contain "
            f"nvdimm label (0x{label_size:x}) and aligned PMEM (0x{align:x})"
        )
    return pmem_size


def backend_alignment(backend: MemoryBackend, enforce_aligned_dimm: bool) -> int:
    """``memory_region_get_alignment`` of the backend as a DIMM sees it: a file-backed RAM
    block's is its page size (a huge page on hugetlbfs) or its ``align`` if larger."""
    if not enforce_aligned_dimm:
        return PAGE_SIZE
    if backend.qom_type == FILE:
        return max(backend.page_size, backend.align)
    if backend.qom_type == MEMFD:
        return backend.page_size
    if backend.qom_type == SHM:
        return PAGE_SIZE
    return ANON_RAM_ALIGN


class DimmBank:
    """The DIMMs of a machine, its slots and its device-memory region, which virtio-mem
    devices share with the DIMMs (placed by the same ``memory_device_get_free_addr``)."""

    def __init__(
        self,
        memory: MemoryConfig,
        layout: RamLayout,
        enforce_aligned_dimm: bool,
        profile: Profile = DEFAULT_PROFILE,
        acpi: bool = True,
        nvdimm: bool = False,
    ) -> None:
        self.memory = memory
        self.layout = layout
        self.enforce_aligned_dimm = enforce_aligned_dimm
        self.profile = profile
        self.acpi = acpi
        #: ``-machine nvdimm=on``: the board's NVDIMM ACPI support is enabled.
        self.nvdimm = nvdimm
        # The 2.x DIMM model (``pc_dimm_memory_plug``) goes with its realize order and its
        # one-kind ``MemoryDeviceInfo``.
        legacy = profile.dimm_plug is DimmPlug.PC_DIMM_MEMORY_PLUG
        #: QEMU 2.9's ``pc_dimm_realize`` checks the backend before the node; 7.2 the node first.
        self.backend_checked_first = legacy
        #: How an nvdimm is listed: QEMU 2.9's ``MemoryDeviceInfo`` has the one kind ``dimm``.
        self.nvdimm_kind = "dimm" if legacy else "nvdimm"
        self.dimms: list[Dimm] = []
        #: The virtio-mem devices in the region (``qmpnuma.machine.virtio_mem``).
        self.virtio_mems: list[VirtioMem] = []

    @property
    def plugged_size(self) -> int:
        """Bytes of memory plugged into memory devices (``plugged-memory`` of
        query-memory-size-summary, ``get_plugged_memory_size``): each DIMM whole, what a guest
        plugged into each virtio-mem device."""
        return sum(device.size for device in self.memory_devices())

    @property
    def used_region_size(self) -> int:
        """Bytes of the device-memory region the devices take (``used_region_size``): a DIMM
        its size, a virtio-mem device its whole backend."""
        return (sum(dimm.size for dimm in self.dimms)
                + sum(device.region_size for device in self.virtio_mems))

    def memory_devices(self) -> list[Dimm | VirtioMem]:
        """Every memory device, DIMMs first, each kind in plugging order."""
        return [*self.dimms, *self.virtio_mems]

    def sorted_dimms(self) -> list[Dimm]:
        """DIMMs by address, the order of ``query-memory-devices``."""
        return sorted(self.dimms, key=lambda dimm: dimm.addr)

    def find(self, device_id: str) -> Dimm | None:
        return next((dimm for dimm in self.dimms if dimm.id == device_id), None)

    def find_by_path(self, qom_path: str) -> Dimm | None:
        """The DIMM at a QOM path (``device_del`` names anonymous DIMMs this way)."""
        return next((dimm for dimm in self.dimms if dimm.qom_path == qom_path), None)

    def plug(
        self,
        request: DimmRequest,
        backends: Mapping[str, MemoryBackend],
        num_nodes: int,
        hotplugged: bool,
        device_ids: Container[str] = (),
    ) -> Dimm:
        """Check and plug one DIMM; raise ``MachineError`` with QEMU's text on the first failure.

        The backend becomes mapped (busy); the caller records the NUMA range and notifies.
        """
        if request.id is not None and request.id in device_ids:
            raise MachineError(f"Duplicate device ID '{request.id}'")
        backend: MemoryBackend | None = None
        if request.memdev is not None:
            backend = backends.get(request.memdev)
            if backend is None:
                raise MachineError(f"Device '{request.memdev}' not found", "DeviceNotFound")
        if self.profile.dimm_plug is DimmPlug.PC_DIMM_MEMORY_PLUG:
            return self._plug_2_9(request, backend, num_nodes, hotplugged)
        if not self.acpi:
            raise MachineError(
                "memory hotplug is not enabled: missing acpi device or acpi disabled"
            )
        if request.model == NVDIMM and not self.nvdimm:
            raise MachineError("nvdimm is not enabled: missing 'nvdimm' in '-M'")
        slot = self._choose_slot(request.slot)
        if backend is None:
            raise MachineError("'memdev' property must be set")
        align = backend_alignment(backend, self.enforce_aligned_dimm)
        size = self._mapped_size(request, backend)
        addr = self._choose_address(request.addr or None, align, size)
        self.check_node(request.node, num_nodes)
        self._check_busy(backend)
        return self._insert(request, backend, slot, addr, hotplugged, size)

    def plug_virtio_mem(
        self,
        request: VirtioMemRequest,
        backends: Mapping[str, MemoryBackend],
        num_nodes: int,
        hotplugged: bool,
        warnings: list[str],
    ) -> VirtioMem:
        """Pre-plug (``memory_device_pre_plug``: a backend, a place for all of it aligned to
        the block size and the backend's own alignment), then realize
        (``virtio_mem.realize``); raise ``MachineError`` with QEMU's text on the first
        failure (its warnings go to ``warnings``). The backend becomes mapped (busy)."""
        from qmpnuma.machine.virtio_mem import default_block_size, realize

        rules = self.profile.virtio_mem
        assert rules is not None  # (only a profile with rules simulates the device)
        if rules.device_memory_checked_first:
            self.check_device_memory(region_always_made=True)
        backend = backends.get(request.memdev) if request.memdev is not None else None
        if backend is None:
            raise MachineError("'memdev' property must be set")
        block_size = request.block_size or default_block_size(backend)
        backend_align = backend_alignment(backend, True)
        align = max(block_size, backend_align)
        joined = rules.size_aligned_to_block_in_pre_plug  # (7.2: one alignment for both)
        addr = self._choose_address(request.addr or None, align, backend.size,
                                    size_align=align if joined else backend_align,
                                    size_first=not joined, region_always_made=True)
        device = realize(request, backend, num_nodes, addr, hotplugged, rules, warnings)
        backend.mapped = True
        self.virtio_mems.append(device)
        return device

    def find_virtio_mem(self, qom_path: str) -> VirtioMem | None:
        """The virtio-mem device at a QOM path."""
        return next((device for device in self.virtio_mems if device.qom_path == qom_path),
                    None)

    @staticmethod
    def _mapped_size(request: DimmRequest, backend: MemoryBackend) -> int:
        """Bytes the DIMM maps: the backend, or an nvdimm's aligned part before its label
        (aligned to the backend's own alignment, whatever the machine's DIMM alignment)."""
        if request.model != NVDIMM:
            return backend.size
        size = nvdimm_pmem_size(backend, request.label_size, backend_alignment(backend, True))
        if backend.readonly and not request.unarmed:
            raise MachineError(
                f"'unarmed' property must be 'on' since memdev {backend.id} is read-only"
            )
        return size

    def _plug_2_9(
        self,
        request: DimmRequest,
        backend: MemoryBackend | None,
        num_nodes: int,
        hotplugged: bool,
    ) -> Dimm:
        if backend is None:
            raise MachineError("'memdev' property is not set")
        self.check_node(request.node, num_nodes)
        self._check_busy(backend)
        if not self.acpi:
            raise MachineError("memory hotplug is not enabled: missing acpi device")
        if self.layout.device_memory_base is None:
            raise MachineError("memory hotplug is not enabled, please add maxmem option")
        align = backend_alignment(backend, self.enforce_aligned_dimm)
        addr = self._choose_address(request.addr or None, align, backend.size)
        slot = self._choose_slot(request.slot)
        return self._insert(request, backend, slot, addr, hotplugged)

    def _insert(
        self,
        request: DimmRequest,
        backend: MemoryBackend,
        slot: int,
        addr: int,
        hotplugged: bool,
        size: int | None = None,
    ) -> Dimm:
        backend.mapped = True
        kind = self.nvdimm_kind if request.model == NVDIMM else "dimm"
        dimm = Dimm(request.id, backend.id, backend.size if size is None else size, request.node,
                    slot, addr, hotplugged, qom_path=request.qom_path, model=request.model,
                    kind=kind)
        self.dimms.append(dimm)
        return dimm

    def realize_unhandled(
        self,
        request: DimmRequest,
        backends: Mapping[str, MemoryBackend],
        num_nodes: int | None,
    ) -> Dimm:
        """A cold-plugged DIMM on a board with no hot-plug handler for it (``none``, ``microvm``).

        Only ``pc_dimm_realize`` runs: no slot or address is assigned, so the DIMM keeps the
        ``slot`` and ``addr`` it was given (-1 and 0 by default) and takes no device-memory
        space, yet it is a realized memory device: it is listed and counted as plugged memory.
        ``num_nodes`` is None on boards without NUMA support (no ``numa_state``).
        """
        backend = backends.get(request.memdev) if request.memdev is not None else None
        if backend is None and self.backend_checked_first:
            raise MachineError("'memdev' property is not set")
        if num_nodes is not None:
            self.check_node(request.node, num_nodes)
        elif request.node:
            raise MachineError("machine doesn't support NUMA")
        if backend is None:
            raise MachineError("'memdev' property is not set")
        self._check_busy(backend)
        size = self._mapped_size(request, backend)
        return self._insert(request, backend, request.slot, request.addr, False, size)

    def _choose_slot(self, requested: int) -> int:
        slots = self.memory.ram_slots
        if requested != UNASSIGNED_SLOT and (requested < 0 or requested >= slots):
            raise MachineError(
                f"invalid slot number {requested}, valid range is [0-{(slots - 1) & UINT64_MASK}]"
            )
        if slots <= 0:
            raise MachineError("no slots where allocated, please specify the 'slots' option")
        used = {dimm.slot for dimm in self.dimms}
        if requested != UNASSIGNED_SLOT:
            if requested in used:
                raise MachineError(f"slot {requested} is busy")
            return requested
        for slot in range(slots):
            if slot not in used:
                return slot
        raise MachineError("no free slots available")

    def check_device_memory(self, *, region_always_made: bool = False) -> None:
        """The board has a device-memory region with room in it (``maxmem`` above the RAM).

        ``region_always_made``: the pc boards of 7.2 on make the region's description
        whatever the command line (``pc_memory_init``), so only its size can be missing.
        """
        if self.layout.device_memory_base is None and not region_always_made:
            raise MachineError(
                "memory devices (e.g. for memory hotplug) are not supported by the machine"
            )
        if self.layout.device_memory_base is None or self.layout.device_memory_size == 0:
            raise MachineError(self.profile.texts.no_device_memory)

    def _choose_address(
        self, hint: int | None, align: int, size: int, *, size_align: int | None = None,
        size_first: bool = False, region_always_made: bool = False,
    ) -> int:
        """``memory_device_get_free_addr``: where a device of ``size`` goes (at ``hint`` if
        given), first fit among the placed devices; ``size_align`` (default ``align``) is what
        the size must be a multiple of, checked after the address unless ``size_first``."""
        self.check_device_memory(region_always_made=region_always_made)
        base = self.layout.device_memory_base
        assert base is not None  # (checked just above)
        region = self.layout.device_memory_size
        space = self.memory.hotplug_space
        used = self.used_region_size
        if used + size > space:
            raise MachineError(
                f"not enough space, currently 0x{used:x} in use of total space for memory "
                f"devices 0x{space:x}"
            )
        size_align = align if size_align is None else size_align
        if size_first and size % size_align:
            raise MachineError(f"backend memory size must be multiple of 0x{size_align:x}")
        if hint is not None and hint % align:
            raise MachineError(f"address must be aligned to 0x{align:x} bytes")
        if size % size_align:
            raise MachineError(f"backend memory size must be multiple of 0x{size_align:x}")
        region_end = base + region - 1
        if hint is not None:
            start = hint
            if start < base or start + size - 1 > region_end:
                raise MachineError(
                    f"can't add memory device [0x{hint:x}:0x{size:x}], usable range for memory "
                    f"devices [0x{base:x}:0x{region:x}]"
                )
        else:
            start = (base + align - 1) // align * align
        for device in sorted(self.memory_devices(), key=lambda device: device.addr):
            end = start + size - 1
            if device.addr <= end and start <= device.end:
                if hint is not None:
                    name = device.id if device.id is not None else "(unnamed)"
                    raise MachineError(
                        f"address range conflicts with memory device id='{name}'"
                    )
                start = (device.end + 1 + align - 1) // align * align
            elif device.addr > end:
                break
        if start < base or start + size - 1 > region_end:
            raise MachineError(
                "could not find position in guest address space for memory device - memory "
                "fragmented due to alignments"
            )
        return start

    @staticmethod
    def check_node(node: int, num_nodes: int) -> None:
        """``pc_dimm_realize``: the node must exist (node 0 is fine without NUMA)."""
        if (num_nodes > 0 and node >= num_nodes) or (num_nodes == 0 and node):
            raise MachineError(
                f"'DIMM property node has value {node}' which exceeds the number of numa "
                f"nodes: {num_nodes or 1}"
            )

    @staticmethod
    def _check_busy(backend: MemoryBackend) -> None:
        if backend.mapped:
            raise MachineError(f"can't use already busy memdev: {backend.id}")

    @staticmethod
    def request_unplug(dimm: Dimm) -> None:
        """``pc_memory_unplug_request``: the request goes to the guest, except for an nvdimm."""
        if dimm.model == NVDIMM:
            raise MachineError("nvdimm device hot unplug is not supported yet.")

    def remove(self, dimm: Dimm, backends: Mapping[str, MemoryBackend]) -> None:
        """Take a DIMM out (what happens once a guest ejects it); its backend is free again."""
        self.dimms.remove(dimm)
        backend = backends.get(dimm.memdev)
        if backend is not None:
            backend.mapped = False
