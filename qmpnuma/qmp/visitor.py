"""QMP's use of QEMU's QObject input visitor: a command's ``arguments`` checked by its marshaller.

The walk itself (members in schema order, full names, alternates, width checks, the order in
which leftover members are reported) is :mod:`qmpnuma.qobject.input_visitor`, the one visitor
the command line uses as well.  QMP reads JSON values and frames a refusal as a
``GenericError`` reply whose ``desc`` is the visitor's text, e.g. ``Parameter 'a.b[0]' is
missing`` or ``Invalid parameter type for 'x', expected: StrOrNull``.

Types come from the profile's unmasked ``SCHEMA`` table (introspection shape, see
docs/DESIGN.md).
"""

from __future__ import annotations

from typing import Any

from qmpnuma.errors import QmpError
from qmpnuma.qobject.input_visitor import Schema, VisitError, visit

__all__ = ["visit_input"]


def visit_input(value: Any, type_name: str | None, schema: Schema) -> Any:
    """Check and convert ``value`` (a command's ``arguments``) as QEMU's marshaller would.

    ``type_name`` is the command's argument type (``q_obj_NAME-arg``, a boxed type, or None /
    ``q_empty`` for a command without arguments).  Raises ``QmpError`` with QEMU's text.
    """
    try:
        return visit(value, type_name or "q_empty", schema)
    except VisitError as refused:
        raise QmpError("GenericError", refused.text) from None
