"""Cheap copies of a machine for a fleet: build a command line once, then clone it per member.

`Machine.from_argv` walks argv, parses every option and runs QEMU's whole start-up order; a fleet
of ten thousand machines built from the same arguments would repeat that work ten thousand times
for the same result. Instead the first build of an (argv, profile) pair becomes a template, kept
as a pickle, and each further machine is unpickled from it: an independent object graph (its own
run state, backends, DIMMs and CPU slots) that costs a fraction of a build.

Immutable values (strings, frozensets, profiles and the machine-type records of their tables)
are not copied: the pickle refers to them by number and every clone points at the template's
objects, so that per-machine memory holds only what a machine can change.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qmpnuma.host import this_host
from qmpnuma.machine import Machine
from qmpnuma.machine.machine_types import MachineType
from qmpnuma.profiles import DEFAULT_PROFILE, Profile

#: Types whose instances never change after creation and may be shared by every clone.
_SHARED_TYPES = (str, bytes, frozenset, MachineType, Profile)


class _SharingPickler(pickle.Pickler):
    """Writes shared immutable objects as references into a table instead of by value."""

    def __init__(self, stream: io.BytesIO, table: list[Any]) -> None:
        super().__init__(stream, protocol=pickle.HIGHEST_PROTOCOL)
        self._table = table
        self._index: dict[int, int] = {}

    def persistent_id(self, obj: Any) -> int | None:
        if type(obj) not in _SHARED_TYPES:
            return None
        key = id(obj)
        number = self._index.get(key)
        if number is None:
            number = len(self._table)
            self._table.append(obj)
            self._index[key] = number
        return number


def _unpickle_sharing(data: bytes, table: list[Any]) -> Any:
    """Read a pickle whose references point into ``table`` (the very same shared objects).

    The table's own item lookup serves as the unpickler's `persistent_load`, so each reference
    costs a C call rather than a Python method call.
    """
    unpickler = pickle.Unpickler(io.BytesIO(data))
    unpickler.persistent_load = table.__getitem__  # type: ignore[method-assign]
    return unpickler.load()


@dataclass
class MachineTemplate:
    """A built machine kept as a clonable pickle with its table of shared immutable objects."""

    data: bytes
    shared: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, machine: Machine) -> MachineTemplate:
        """Freeze ``machine`` (as it is now) into a template."""
        shared: list[Any] = []
        stream = io.BytesIO()
        _SharingPickler(stream, shared).dump(machine)
        return cls(stream.getvalue(), shared)

    def clone(self) -> Machine:
        """A new machine equal to the template and sharing none of its mutable state."""
        machine = _unpickle_sharing(self.data, self.shared)
        if not isinstance(machine, Machine):
            raise TypeError("machine template does not hold a Machine")
        return machine


class MachineCache:
    """Builds machines, building each distinct command line only once.

    Errors are not cached: a command line that fails raises `ConfigError` on every call, as
    `Machine.from_argv` does. A machine graph that cannot be pickled (a future model object
    holding a callable, say) is still served correctly: the cache then builds every time.
    """

    def __init__(self, progname: str = "qmpnuma") -> None:
        self.progname = progname
        self._templates: dict[tuple[Profile, tuple[str, ...]], MachineTemplate | None] = {}
        #: How many machines were built from argv and how many were cloned (for benchmarks).
        self.built = 0
        self.cloned = 0

    def machine(self, args: Sequence[str], profile: Profile = DEFAULT_PROFILE) -> Machine:
        """A fresh machine for ``args``; the same as ``Machine.from_argv(args, profile)``."""
        key = (profile, tuple(args))
        template = self._templates.get(key)
        if template is not None:
            self.cloned += 1
            return template.clone()
        machine = Machine.from_argv(key[1], profile=profile, progname=self.progname,
                                    host=this_host())
        self.built += 1
        if key not in self._templates:
            try:
                self._templates[key] = MachineTemplate.of(machine)
            except (pickle.PicklingError, TypeError, AttributeError):
                self._templates[key] = None
        return machine
