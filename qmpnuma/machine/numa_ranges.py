"""The seed's (QEMU 2.9 ``numa.c``) per-node address ranges and RAM-block notifiers.

``numa_set_mem_node_id`` / ``numa_unset_mem_node_id`` record which guest-physical ranges belong
to which node (boot RAM at start-up, DIMMs when plugged), ``numa_get_node`` answers from them;
RAM-block notifiers hear about RAM appearing and going away.  ``NumaConfig`` carries this API.
"""

from __future__ import annotations

from collections.abc import Callable

from qmpnuma.errors import MachineError
from qmpnuma.records import record

#: A RAM-block notifier: called with (host offset, size) when RAM is added or removed.
RamBlockCallback = Callable[[int, int], None]


@record(frozen=True)
class RamBlockNotifier:
    """Callbacks for RAM appearing and disappearing (seed ``RAMBlockNotifier``)."""

    ram_block_added: RamBlockCallback
    ram_block_removed: RamBlockCallback


class NodeAddressRanges:
    """Address ranges per node (inclusive ends, newest first like ``QLIST_INSERT_HEAD``)."""

    #: How many nodes the machine has (set by the owner; 0 without NUMA).
    num_nodes: int

    def __init__(self) -> None:
        self.addr_ranges: dict[int, list[tuple[int, int]]] = {}
        self.notifiers: list[RamBlockNotifier] = []

    def numa_set_mem_node_id(self, addr: int, size: int, node: int) -> None:
        """Record that ``[addr, addr+size)`` belongs to ``node`` (nothing for size 0)."""
        if not size:
            return
        self.addr_ranges.setdefault(node, []).insert(0, (addr, addr + size - 1))

    def numa_unset_mem_node_id(self, addr: int, size: int, node: int) -> None:
        """Forget exactly the range ``[addr, addr+size)`` of ``node`` if it was recorded."""
        ranges = self.addr_ranges.get(node, [])
        for index, (start, end) in enumerate(ranges):
            if start == addr and end == addr + size - 1:
                del ranges[index]
                return

    def numa_get_node(self, addr: int) -> int:
        """The node whose recorded ranges contain ``addr`` (node 0 without NUMA)."""
        candidates = range(self.num_nodes) if self.num_nodes else range(1)
        for node_id in candidates:
            for start, end in self.addr_ranges.get(node_id, []):
                if start <= addr <= end:
                    return node_id
        raise MachineError(f"Address 0x{addr:x} doesn't belong to any NUMA node")

    def ram_block_notifier_add(self, notifier: RamBlockNotifier) -> None:
        """Register ``notifier`` (most recent first, like QLIST_INSERT_HEAD)."""
        self.notifiers.insert(0, notifier)

    def ram_block_notifier_remove(self, notifier: RamBlockNotifier) -> None:
        self.notifiers.remove(notifier)

    def ram_block_notify_add(self, host: int, size: int) -> None:
        for notifier in list(self.notifiers):
            notifier.ram_block_added(host, size)

    def ram_block_notify_remove(self, host: int, size: int) -> None:
        for notifier in list(self.notifiers):
            notifier.ram_block_removed(host, size)
