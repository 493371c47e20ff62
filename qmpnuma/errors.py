"""Error types shared by every room of qmpnuma.

They live apart from the rooms so that the options parser, the machine model and the protocol
core can each raise the kind of failure QEMU would report, without importing one another.
"""

from __future__ import annotations

from typing import Any


class QmpError(Exception):
    """A QMP error reply: QEMU's error class and its human-readable description."""

    def __init__(self, error_class: str, desc: str) -> None:
        super().__init__(desc)
        self.error_class = error_class
        self.desc = desc


class ConfigError(Exception):
    """A start-up failure; ``stderr`` is exactly what QEMU prints before exiting."""

    def __init__(self, stderr: str, status: int = 1, *, opened: Any = None) -> None:
        super().__init__(stderr)
        self.stderr = stderr
        self.status = status
        #: The machine whose monitors QEMU had created when start-up failed (their opening
        #: words are out on stdio by then: `qmpnuma.server.opening`); None before that point.
        self.opened = opened


class AbortExit(ConfigError):
    """Start-up ends in ``abort()`` (a call made with ``error_abort`` failed) after ``stderr``.

    ``status`` is what the caller of QEMU sees: -6 (SIGABRT) for QEMU itself, 1 under
    ``-daemonize``, where the parent that waits for the child's start-up exits 1 when the
    child dies.
    """

    def __init__(self, stderr: str, *, daemonized: bool) -> None:
        super().__init__(stderr, 1 if daemonized else -6)
        self.daemonized = daemonized


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


class AbortError(MachineError):
    """A rule QEMU checks under ``error_abort``: it prints ``abort_line`` (the failed call
    and its source location, as the build reports it), then the message and hints, and
    aborts."""

    def __init__(self, abort_line: str, message: str, hints: tuple[str, ...] = ()) -> None:
        super().__init__(message, hints=hints)
        self.abort_line = abort_line


class FatalExit(Exception):
    """QEMU would end the process now, without replying (e.g. board init failing late).

    What it prints has already been written; the server stops with ``status``.
    """

    def __init__(self, status: int = 1) -> None:
        super().__init__(status)
        self.status = status
