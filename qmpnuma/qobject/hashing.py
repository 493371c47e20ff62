"""Iteration orders of the two hash tables QEMU's visitors keep their unvisited keys in.

When an option has several unknown keys, QEMU reports only the first one its hash table
yields, so we must know that order to print the same key:

* GLib's ``GHashTable`` with ``g_str_hash`` (djb2 hash, index ``hash * 11 % prime``, quadratic
  probing, in-place rehash when the table grows) – used by the OptsVisitor and by the QObject
  input visitor for the keys it has not consumed yet;
* QEMU's ``QDict`` (``tdb_hash`` into 512 buckets, newest entry first in a bucket) – the order
  in which the QObject visitor copies a dict's keys into its ``GHashTable``, and in which
  keyval's list conversion walks a dict.

Both models follow GLib 2.74 (Debian 12) and QEMU 7.2. The same GLib model also orders QOM's
``/objects`` container (``qmpnuma.machine.qom_order``), which ``query-memdev`` walks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

_MASK32 = 0xFFFFFFFF
_MIN_SHIFT = 3
_PRIME_MOD = (
    1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521,
    131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393,
    67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647,
)
_UNUSED = 0
_TOMBSTONE = 1


def key_bytes(key: str) -> bytes:
    """The C string QEMU holds for ``key`` (UTF-8, a NUL character as ``\\xC0\\x80``)."""
    data = key.encode("utf-8", "surrogatepass")
    if b"\x00" in data:
        data = data.replace(b"\x00", b"\xc0\x80")
    return data


def g_str_hash(key: str | bytes) -> int:
    """GLib's string hash (djb2 over signed chars, 32-bit) of a key or its C bytes."""
    value = 5381
    for byte in key if isinstance(key, bytes) else key_bytes(key):
        signed = byte - 256 if byte >= 128 else byte
        value = (value * 33 + signed) & _MASK32
    return value


class GHashTableModel:
    """Enough of a GLib hash table to know where each key sits and so the iteration order."""

    def __init__(self) -> None:
        self._set_shift(_MIN_SHIFT)
        self._hashes = [_UNUSED] * self._size
        self._keys: list[str | None] = [None] * self._size
        self._nnodes = 0
        self._noccupied = 0

    def _set_shift(self, shift: int) -> None:
        self._size = 1 << shift
        self._mod = _PRIME_MOD[shift]
        self._mask = self._size - 1

    def _hash(self, key: str) -> int:
        value = g_str_hash(key)
        return 2 if value < 2 else value

    def _lookup(self, key: str, hash_value: int) -> tuple[int, bool]:
        """The slot holding ``key`` (found=True) or the slot an insertion would use."""
        index = ((hash_value * 11) & _MASK32) % self._mod
        step = 0
        first_tombstone: int | None = None
        while self._hashes[index] != _UNUSED:
            if self._hashes[index] == hash_value and self._keys[index] == key:
                return index, True
            if self._hashes[index] == _TOMBSTONE and first_tombstone is None:
                first_tombstone = index
            step += 1
            index = (index + step) & self._mask
        return (first_tombstone if first_tombstone is not None else index), False

    def insert(self, key: str) -> None:
        """``g_hash_table_insert`` of a new or existing key."""
        hash_value = self._hash(key)
        index, found = self._lookup(key, hash_value)
        if found:
            return
        was_unused = self._hashes[index] == _UNUSED
        self._hashes[index] = hash_value
        self._keys[index] = key
        self._nnodes += 1
        if was_unused:
            self._noccupied += 1
            self._maybe_resize()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key, self._hash(key))[1]

    def __len__(self) -> int:
        return self._nnodes

    def remove(self, key: str) -> bool:
        """``g_hash_table_remove``: leave a tombstone; True if the key was there."""
        index, found = self._lookup(key, self._hash(key))
        if not found:
            return False
        self._hashes[index] = _TOMBSTONE
        self._keys[index] = None
        self._nnodes -= 1
        self._maybe_resize()
        return True

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
            shift += 1
            wanted >>= 1
        self._set_shift(max(shift, _MIN_SHIFT))
        if self._size > old_size:
            self._hashes.extend([_UNUSED] * (self._size - old_size))
            self._keys.extend([None] * (self._size - old_size))
        placed = [False] * max(self._size, old_size)
        for slot in range(old_size):
            node_hash = self._hashes[slot]
            if node_hash in (_UNUSED, _TOMBSTONE):
                self._hashes[slot] = _UNUSED
                continue
            if placed[slot]:
                continue
            self._hashes[slot] = _UNUSED
            key = self._keys[slot]
            self._keys[slot] = None
            while True:
                index = ((node_hash * 11) & _MASK32) % self._mod
                step = 0
                while placed[index]:
                    step += 1
                    index = (index + step) & self._mask
                placed[index] = True
                replaced_hash = self._hashes[index]
                replaced_key = self._keys[index]
                self._hashes[index] = node_hash
                self._keys[index] = key
                if replaced_hash in (_UNUSED, _TOMBSTONE):
                    break
                node_hash, key = replaced_hash, replaced_key
        if self._size < old_size:
            del self._hashes[self._size :]
            del self._keys[self._size :]
        self._noccupied = self._nnodes

    def first(self) -> str | None:
        """The key a ``GHashTableIter`` yields first, or None when the table is empty."""
        for key, hash_value in zip(self._keys, self._hashes, strict=True):
            if hash_value > _TOMBSTONE and key is not None:
                return key
        return None

    def keys(self) -> list[str]:
        """The keys in GLib's iteration order."""
        # (an empty name is a key like any other: QEMU 10.0 names a device with id "")
        return [key for key, h in zip(self._keys, self._hashes, strict=True)
                if h > 1 and key is not None]


def ghash_order(inserted: Iterable[str], removed: Iterable[str] = ()) -> list[str]:
    """The iteration order of a string-keyed GHashTable after these inserts, then removals."""
    table = GHashTableModel()
    for key in inserted:
        table.insert(key)
    for key in removed:
        table.remove(key)
    return table.keys()


QDICT_BUCKETS: Final = 512
_ORDER_CACHE_LIMIT: Final = 8192
_order_cache: dict[tuple[str, ...], tuple[str, ...]] = {}


def tdb_hash(key: str) -> int:
    """QDict's bucket hash (the tdb hash of QEMU's ``qobject/qdict.c``), unsigned 32-bit."""
    data = key_bytes(key)
    value = (0x238F13AF * len(data)) & _MASK32
    for index, byte in enumerate(data):
        value = (value + (byte << (index * 5 % 24))) & _MASK32
    return (1103515243 * value + 12345) & _MASK32


def qdict_order(keys: Iterable[str]) -> tuple[str, ...]:
    """The distinct keys, given in insertion order, in the order QEMU iterates a QDict.

    512 buckets by ``tdb_hash``; inside a bucket the newest key comes first. Orders are cached
    per key tuple because the writer asks for the same few layouts over and over.
    """
    key_tuple = tuple(dict.fromkeys(keys))
    cached = _order_cache.get(key_tuple)
    if cached is not None:
        return cached
    ranked = sorted(
        enumerate(key_tuple), key=lambda item: (tdb_hash(item[1]) % QDICT_BUCKETS, -item[0])
    )
    order = tuple(key for _, key in ranked)
    if len(_order_cache) >= _ORDER_CACHE_LIMIT:
        _order_cache.clear()
    _order_cache[key_tuple] = order
    return order
