"""Error types shared by every room of qmpnuma.

They live apart from the rooms so that the options parser, the machine model and the protocol
core can each raise the kind of failure QEMU would report, without importing one another.
"""

from __future__ import annotations


class QmpError(Exception):
    """A QMP error reply: QEMU's error class and its human-readable description."""

    def __init__(self, error_class: str, desc: str) -> None:
        super().__init__(desc)
        self.error_class = error_class
        self.desc = desc


class ConfigError(Exception):
    """A start-up failure; ``stderr`` is exactly what QEMU prints before exiting."""

    def __init__(self, stderr: str, status: int = 1) -> None:
        super().__init__(stderr)
        self.stderr = stderr
        self.status = status


class EarlyExit(ConfigError):
    """Start-up ends before a machine exists, successfully: ``-version``, ``-help``, ``-M help``.

    ``stdout`` is what QEMU prints there; ``stderr`` holds warnings printed before, ``status``
    is QEMU's (0).
    """

    def __init__(self, stdout: str, stderr: str = "", status: int = 0) -> None:
        super().__init__(stderr, status)
        self.stdout = stdout


class OptionError(Exception):
    """A syntax or value error in one command-line option, before the location prefix is added."""

    def __init__(self, message: str, hints: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hints = hints


class MachineError(Exception):
    """A rule of the machine model was broken (bad topology, failed hot-plug, ...)."""

    def __init__(
        self, message: str, error_class: str = "GenericError", hints: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_class = error_class
        self.hints = hints


class FatalExit(Exception):
    """QEMU would end the process now, without replying (e.g. board init failing late).

    What it prints has already been written; the server stops with ``status``.
    """

    def __init__(self, status: int = 1) -> None:
        super().__init__(status)
        self.status = status
