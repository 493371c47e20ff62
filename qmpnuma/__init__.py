"""qmpnuma: a QEMU stand-in that validates QEMU's command line and serves QMP from a NUMA model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qmpnuma.errors import ConfigError, MachineError, OptionError, QmpError
    from qmpnuma.server.fleet import Fleet

__all__ = ["ConfigError", "Fleet", "MachineError", "OptionError", "QmpError"]


def __getattr__(name: str) -> Any:
    """`qmpnuma.Fleet` and the error classes are imported on first use, so that `import
    qmpnuma` (which the console script does before the start bundle is installed) stays
    cheap and `qmpnuma.errors` comes from the bundle with the rest."""
    if name == "Fleet":
        from qmpnuma.server.fleet import Fleet

        return Fleet
    if name in ("ConfigError", "MachineError", "OptionError", "QmpError"):
        from qmpnuma import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'qmpnuma' has no attribute {name!r}")
