"""QOM walk orders: the ``/objects`` and ``/machine/peripheral*`` containers as GLib 2.74's
``GHashTable`` gives them, and the memory-device list QEMU builds while walking ``/machine``.

``query-memdev`` and ``info memdev`` list memory backends in the order QEMU walks the children of
``/objects``, which is the order of a ``GHashTable`` keyed by child name (reversed, because QEMU
prepends each entry to its answer list).  That order depends on every insertion *and* deletion
ever made (deleted slots stay as tombstones until the table is resized), so the container keeps
the shared GLib table model of ``qmpnuma.qobject.hashing``.  Only the keys are tracked; values
live in the machine model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from qmpnuma.qobject.hashing import GHashTableModel, ghash_order

T = TypeVar("T")


class ObjectsContainer:
    """A QOM container's children by name (``/objects``, ``/machine/peripheral``, …), answering
    "in which order does QEMU list them"."""

    def __init__(self) -> None:
        self._table = GHashTableModel()

    def add(self, name: str) -> None:
        self._table.insert(name)

    def remove(self, name: str) -> None:
        self._table.remove(name)

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def listing_order(self) -> list[str]:
        """Children in the order ``query-memdev`` reports them (reverse of table iteration)."""
        return list(reversed(self._table.keys()))

    def iteration_order(self) -> list[str]:
        """Children in the order QEMU's ``object_child_foreach`` visits them (table order)."""
        return self._table.keys()


#: The children of ``/machine`` on the boards whose memory devices can share an address (no
#: hot-plug handler assigns one), as ``qom-list /machine`` shows them on QEMU 7.2.  Other boards
#: give every DIMM its own address, so the walk order never shows there.
MACHINE_CHILDREN: dict[str, tuple[str, ...]] = {
    "none": ("unattached", "peripheral", "peripheral-anon"),
    "microvm": ("unattached", "peripheral", "peripheral-anon", "ioapic", "fw_cfg"),
    "x-remote": ("unattached", "peripheral", "peripheral-anon", "remote-pcihost"),
}
DEFAULT_MACHINE_CHILDREN = MACHINE_CHILDREN["none"]


def device_walk_order(
    family: str, containers: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """Rank of each ``/machine/CONTAINER/NAME`` path in ``object_child_foreach_recursive`` order.

    QEMU visits the children of ``/machine`` in their hash-table order and, below each, that
    container's children in its own table order; ``containers`` gives the latter per container
    name (e.g. ``peripheral`` → ``ObjectsContainer.iteration_order()``).
    """
    rank: dict[str, int] = {}
    for child in ghash_order(MACHINE_CHILDREN.get(family, DEFAULT_MACHINE_CHILDREN)):
        for name in containers.get(child, ()):
            rank[f"/machine/{child}/{name}"] = len(rank)
    return rank


def insert_sorted(walked: Iterable[T], key: Callable[[T], int]) -> list[T]:
    """GLib's ``g_slist_insert_sorted`` applied to items in the order they were visited.

    Each item goes before the first one whose key is not smaller, so items with equal keys end
    up in reverse visiting order (``qmp_memory_device_list`` sorts memory devices by address
    this way while walking the QOM tree).
    """
    answer: list[T] = []
    for item in walked:
        value = key(item)
        position = next(
            (index for index, other in enumerate(answer) if key(other) >= value), len(answer)
        )
        answer.insert(position, item)
    return answer
