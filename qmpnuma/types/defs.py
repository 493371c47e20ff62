"""What the schema says about commands and events, without pydantic.

The server needs only these records and the `SCHEMA` table to check and dispatch requests; keeping
them free of pydantic lets a qmpnuma process start without building the ~260 model classes.
"""

from __future__ import annotations

from qmpnuma.records import record


@record(frozen=True)
class CommandDef:
    """What the schema says about a command.

    ``arg_type`` and ``ret_type`` are QAPI type names as used in the ``SCHEMA`` table
    (``q_obj_NAME-arg`` for an implicit argument struct, ``[T]`` for arrays), or None when
    the command takes no arguments / returns nothing.
    """

    name: str
    arg_type: str | None
    ret_type: str | None
    boxed: bool = False
    allow_oob: bool = False
    allow_preconfig: bool = False
    success_response: bool = True
    features: tuple[str, ...] = ()
    #: False for commands QEMU declares ``'gen': false``: their arguments reach the handler
    #: unvisited (``device_add`` takes any device property).
    gen: bool = True


@record(frozen=True)
class EventDef:
    """What the schema says about an event: its data type name (or None) and features."""

    name: str
    arg_type: str | None
    boxed: bool = False
    features: tuple[str, ...] = ()
