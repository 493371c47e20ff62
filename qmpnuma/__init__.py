"""qmpnuma: a QEMU stand-in that validates QEMU's command line and serves QMP from a NUMA model."""

from __future__ import annotations

from qmpnuma.errors import ConfigError, MachineError, OptionError, QmpError

__all__ = ["ConfigError", "MachineError", "OptionError", "QmpError"]
