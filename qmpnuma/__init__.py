"""qmpnuma: a QEMU stand-in that validates QEMU's command line and serves QMP from a NUMA model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qmpnuma.errors import ConfigError, MachineError, OptionError, QmpError

if TYPE_CHECKING:
    from qmpnuma.server.fleet import Fleet

__all__ = ["ConfigError", "Fleet", "MachineError", "OptionError", "QmpError"]


def __getattr__(name: str) -> Any:
    """`qmpnuma.Fleet` is imported on first use, so that `import qmpnuma` stays cheap."""
    if name == "Fleet":
        from qmpnuma.server.fleet import Fleet

        return Fleet
    raise AttributeError(f"module 'qmpnuma' has no attribute {name!r}")
