"""How QEMU prints a message about one option, and warnings collected while parsing.

QEMU's ``error_report``/``warn_report`` print ``PROG: LOCATION: [warning: ]TEXT`` followed by
hint lines without any prefix. The parsers in this package do not know the program name or the
location, so they return :class:`OptionWarning` values and raise
:class:`qmpnuma.errors.OptionError`; :func:`format_report` turns either into stderr text.
"""

from __future__ import annotations

from qmpnuma.records import record


@record(frozen=True)
class OptionWarning:
    """A warning QEMU prints while parsing an option (then it carries on)."""

    message: str
    hints: tuple[str, ...] = ()


def format_report(
    progname: str,
    location: str | None,
    message: str,
    hints: tuple[str, ...] = (),
    *,
    warning: bool = False,
) -> str:
    """The exact stderr text for one error or warning, newline terminated.

    ``location`` is e.g. ``-numa node,nodeid=0`` (see ``option_location``) or None for
    messages QEMU prints outside any option.
    """
    head = f"{progname}: "
    if location is not None:
        head += f"{location}: "
    if warning:
        head += "warning: "
    lines = [head + message, *hints]
    return "".join(line + "\n" for line in lines)
