"""qmpnuma.machine: the pure, synchronous model of a QEMU machine (memory, NUMA, CPUs, DIMMs)."""

from qmpnuma.machine.machine import Machine

__all__ = ["Machine"]
