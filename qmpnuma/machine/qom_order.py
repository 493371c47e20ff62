"""The iteration order of QOM's ``/objects`` container, as GLib 2.74's ``GHashTable`` gives it.

``query-memdev`` and ``info memdev`` list memory backends in the order QEMU walks the children of
``/objects``, which is the order of a ``GHashTable`` keyed by child name (reversed, because QEMU
prepends each entry to its answer list).  That order depends on every insertion *and* deletion
ever made (deleted slots stay as tombstones until the table is resized), so the container keeps
the shared GLib table model of ``qmpnuma.qobject.hashing``.  Only the keys are tracked; values
live in the machine model.
"""

from __future__ import annotations

from qmpnuma.qobject.hashing import GHashTableModel


class ObjectsContainer:
    """The ``/objects`` children by name, answering "in which order does QEMU list them"."""

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
