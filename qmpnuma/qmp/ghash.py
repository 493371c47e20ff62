"""The iteration order of a GLib ``GHashTable`` of strings (GLib 2.74, as in Debian 12).

QEMU's input visitor tracks the members of an object that nobody consumed in a GHashTable
keyed with ``g_str_hash``; when a request has several unexpected members, the one it names is
the first this table yields.  To name the same member we replay the table: open addressing
with quadratic probing, ``(hash * 11) % prime`` for the home slot, tombstones on removal, and
GLib's in-place resize when the table fills up or empties out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = ["StrHashTable", "g_str_hash"]

_MIN_SHIFT: Final = 3
_UNUSED: Final = 0
_TOMBSTONE: Final = 1
_PRIME_MOD: Final = (
    1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521,
    131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393,
    67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647,
)  # fmt: skip


def g_str_hash(key: bytes) -> int:
    """GLib's djb2 string hash over *signed* chars, 32-bit."""
    value = 5381
    for byte in key:
        signed = byte - 256 if byte >= 0x80 else byte
        value = (value * 33 + signed) & 0xFFFFFFFF
    return value


class StrHashTable:
    """A replay of GHashTable's slot layout for string keys (values are irrelevant here)."""

    __slots__ = ("_hashes", "_keys", "_mask", "_mod", "_nnodes", "_noccupied", "_size")

    def __init__(self, keys: Iterable[bytes] = ()) -> None:
        self._set_shift(_MIN_SHIFT)
        self._hashes = [_UNUSED] * self._size
        self._keys: list[bytes | None] = [None] * self._size
        self._nnodes = 0
        self._noccupied = 0
        for key in keys:
            self.insert(key)

    def _set_shift(self, shift: int) -> None:
        self._size = 1 << shift
        self._mod = _PRIME_MOD[shift]
        self._mask = self._size - 1

    def _home(self, hash_value: int) -> int:
        return ((hash_value * 11) & 0xFFFFFFFF) % self._mod

    @staticmethod
    def _hash(key: bytes) -> int:
        value = g_str_hash(key)
        return value if value > _TOMBSTONE else 2

    def _lookup(self, key: bytes, hash_value: int) -> tuple[int, bool]:
        index = self._home(hash_value)
        step = 0
        tombstone = -1
        hashes = self._hashes
        while hashes[index] != _UNUSED:
            if hashes[index] == hash_value and self._keys[index] == key:
                return index, True
            if hashes[index] == _TOMBSTONE and tombstone < 0:
                tombstone = index
            step += 1
            index = (index + step) & self._mask
        return (tombstone if tombstone >= 0 else index), False

    def insert(self, key: bytes) -> None:
        hash_value = self._hash(key)
        index, found = self._lookup(key, hash_value)
        if found:
            return
        old = self._hashes[index]
        self._hashes[index] = hash_value
        self._keys[index] = key
        self._nnodes += 1
        if old == _UNUSED:
            self._noccupied += 1
            self._maybe_resize()

    def remove(self, key: bytes) -> bool:
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
        hashes = self._hashes
        keys = self._keys
        for index in range(old_size):
            node_hash = hashes[index]
            if node_hash <= _TOMBSTONE:
                hashes[index] = _UNUSED
                continue
            if placed[index]:
                continue
            hashes[index] = _UNUSED
            key = keys[index]
            keys[index] = None
            while True:
                slot = self._home(node_hash)
                step = 0
                while placed[slot]:
                    step += 1
                    slot = (slot + step) & self._mask
                placed[slot] = True
                replaced_hash = hashes[slot]
                replaced_key = keys[slot]
                hashes[slot] = node_hash
                keys[slot] = key
                if replaced_hash <= _TOMBSTONE:
                    break
                node_hash = replaced_hash
                key = replaced_key
        if self._size < old_size:
            del self._hashes[self._size :]
            del self._keys[self._size :]
        self._noccupied = self._nnodes

    def first(self) -> bytes | None:
        """The key a GHashTableIter yields first, or None when the table is empty."""
        for index, hash_value in enumerate(self._hashes):
            if hash_value > _TOMBSTONE:
                return self._keys[index]
        return None
