"""The iteration order of QOM's ``/objects`` container, as GLib 2.74's ``GHashTable`` gives it.

``query-memdev`` and ``info memdev`` list memory backends in the order QEMU walks the children of
``/objects``, which is the order of a ``GHashTable`` keyed by child name (reversed, because QEMU
prepends each entry to its answer list).  That order depends on every insertion *and* deletion
ever made (deleted slots stay as tombstones until the table is resized), so this module keeps a
faithful model of the table: open addressing with quadratic probing, prime-modulo bucket choice,
in-place rehash on resize.  Only the keys are tracked; values live in the machine model.
"""

from __future__ import annotations

_PRIME_MOD = (
    1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521,
    131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393,
    67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647,
)
_MIN_SHIFT = 3
_UNUSED = 0
_TOMBSTONE = 1
_MASK32 = 0xFFFFFFFF


def g_str_hash(key: str) -> int:
    """GLib's ``g_str_hash``: djb2 over the UTF-8 bytes read as *signed* chars, 32-bit."""
    value = 5381
    for byte in key.encode():
        signed = byte - 256 if byte >= 128 else byte
        value = (value * 33 + signed) & _MASK32
    return value


class GHashOrder:
    """Key slots of a GLib 2.74 string-keyed hash table, enough to reproduce its iteration."""

    def __init__(self) -> None:
        self._set_shift(_MIN_SHIFT)
        self._hashes: list[int] = [_UNUSED] * self._size
        self._keys: list[str | None] = [None] * self._size
        self._nnodes = 0
        self._noccupied = 0

    def _set_shift(self, shift: int) -> None:
        self._size = 1 << shift
        self._mod = _PRIME_MOD[shift]
        self._mask = self._size - 1

    def _bucket(self, hash_value: int) -> int:
        return ((hash_value * 11) & _MASK32) % self._mod

    def _lookup(self, key: str) -> tuple[int, int, bool]:
        """Return (slot, hash, found); for a miss the slot is the first tombstone or free slot."""
        hash_value = max(g_str_hash(key), 2)
        index = self._bucket(hash_value)
        step = 0
        tombstone: int | None = None
        while self._hashes[index] != _UNUSED:
            if self._hashes[index] == hash_value and self._keys[index] == key:
                return index, hash_value, True
            if self._hashes[index] == _TOMBSTONE and tombstone is None:
                tombstone = index
            step += 1
            index = (index + step) & self._mask
        return (tombstone if tombstone is not None else index), hash_value, False

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key)[2]

    def __len__(self) -> int:
        return self._nnodes

    def insert(self, key: str) -> None:
        """Add ``key`` (no-op if present), reusing a tombstone when the probe meets one."""
        index, hash_value, found = self._lookup(key)
        if found:
            return
        if self._hashes[index] == _UNUSED:
            self._noccupied += 1
        self._hashes[index] = hash_value
        self._keys[index] = key
        self._nnodes += 1
        self._maybe_resize()

    def remove(self, key: str) -> None:
        """Delete ``key`` leaving a tombstone (no-op if absent)."""
        index, _, found = self._lookup(key)
        if not found:
            return
        self._hashes[index] = _TOMBSTONE
        self._keys[index] = None
        self._nnodes -= 1
        self._maybe_resize()

    def _maybe_resize(self) -> None:
        size = self._size
        if (size > self._nnodes * 4 and size > 1 << _MIN_SHIFT) or (
            size <= self._noccupied + self._noccupied // 16
        ):
            self._resize()

    def _resize(self) -> None:
        old_size = self._size
        wanted = int(self._nnodes * 1.333)
        shift = 0
        while wanted:
            wanted >>= 1
            shift += 1
        self._set_shift(max(shift, _MIN_SHIFT))
        if self._size > old_size:
            self._hashes.extend([_UNUSED] * (self._size - old_size))
            self._keys.extend([None] * (self._size - old_size))
        placed: set[int] = set()
        for i in range(old_size):
            moving_hash = self._hashes[i]
            if moving_hash < 2:
                self._hashes[i] = _UNUSED
                continue
            if i in placed:
                continue
            self._hashes[i] = _UNUSED
            moving_key = self._keys[i]
            self._keys[i] = None
            while True:
                step = 0
                j = self._bucket(moving_hash)
                while j in placed:
                    step += 1
                    j = (j + step) & self._mask
                placed.add(j)
                displaced_hash = self._hashes[j]
                self._hashes[j] = moving_hash
                if displaced_hash < 2:
                    self._keys[j] = moving_key
                    break
                moving_hash = displaced_hash
                moving_key, self._keys[j] = self._keys[j], moving_key
        if self._size < old_size:
            del self._hashes[self._size :]
            del self._keys[self._size :]
        self._noccupied = self._nnodes

    def iteration(self) -> list[str]:
        """Keys in ``g_hash_table_iter`` order."""
        return [
            key
            for hash_value, key in zip(self._hashes, self._keys, strict=True)
            if hash_value >= 2 and key is not None
        ]


class ObjectsContainer:
    """The ``/objects`` children by name, answering "in which order does QEMU list them"."""

    def __init__(self) -> None:
        self._table = GHashOrder()

    def add(self, name: str) -> None:
        self._table.insert(name)

    def remove(self, name: str) -> None:
        self._table.remove(name)

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def listing_order(self) -> list[str]:
        """Children in the order ``query-memdev`` reports them (reverse of table iteration)."""
        return list(reversed(self._table.iteration()))
