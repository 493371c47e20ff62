"""Where a schema mistake was found, and the exception that reports it.

Every stage of the toolchain (parser, expression checker, schema model, generators) reports
problems the same way, ``FILE:LINE: message``, so the user can jump straight to the culprit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceInfo:
    """A position in a schema file: the file name as the user (or the include) spelled it."""

    fname: str
    line: int

    def __str__(self) -> str:
        return f"{self.fname}:{self.line}"


class QAPIError(Exception):
    """A schema error carrying the file, the line and a human-readable message."""

    def __init__(self, fname: str, line: int, message: str) -> None:
        super().__init__(f"{fname}:{line}: {message}")
        self.fname = fname
        self.line = line
        self.message = message

    @classmethod
    def at(cls, info: SourceInfo, message: str) -> QAPIError:
        """Build the error for a known source position."""
        return cls(info.fname, info.line, message)
