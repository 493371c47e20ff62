"""Runtime support imported by the generated QAPI modules (``qmpnuma/types/qapi_*.py``).

It holds what every generated module shares: the model base class with QAPI's wire rules
(names by alias, absent optional members left out, no unknown members), the strict scalar
types with the value ranges of QAPI's built-in integer types, and the records describing
commands and events.  Generated code must stay free of logic; this file carries it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, Strict

Int8 = Annotated[int, Strict(), Field(ge=-(2**7), le=2**7 - 1)]
Int16 = Annotated[int, Strict(), Field(ge=-(2**15), le=2**15 - 1)]
Int32 = Annotated[int, Strict(), Field(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1)]
Uint8 = Annotated[int, Strict(), Field(ge=0, le=2**8 - 1)]
Uint16 = Annotated[int, Strict(), Field(ge=0, le=2**16 - 1)]
Uint32 = Annotated[int, Strict(), Field(ge=0, le=2**32 - 1)]
Uint64 = Annotated[int, Strict(), Field(ge=0, le=2**64 - 1)]
#: QAPI ``size`` is a byte count with the range of ``uint64``.
Size = Uint64
QStr = Annotated[str, Strict()]
QBool = Annotated[bool, Strict()]
#: QAPI ``number`` is a double; JSON integers are accepted as numbers too.
QNumber = Annotated[float, Strict()]
#: QAPI ``any``: any JSON value, null included.
QAny = Any


def _wire_value(value: Any) -> Any:
    """Turn a member value into plain JSON-able data, keeping nulls inside ``any`` values."""
    if isinstance(value, QapiModel):
        return value.to_wire()
    if isinstance(value, list):
        return [_wire_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _wire_value(item) for key, item in value.items()}
    return value


class QapiModel(BaseModel):
    """Base of every generated QAPI object type.

    Members are reachable by their Python name or their wire name; unknown members are
    rejected as QEMU's input visitor rejects them.  ``qapi_nullable`` names the optional
    members whose QAPI type can hold null (``any``, ``null``, alternates with a null branch):
    for those an explicitly given ``None`` is sent as null, while for every other optional
    member ``None`` means "absent".
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    qapi_nullable: ClassVar[frozenset[str]] = frozenset()

    def to_wire(self) -> dict[str, Any]:
        """The JSON-able dict QEMU would send: wire names, absent optional members omitted."""
        out: dict[str, Any] = {}
        cls = type(self)
        for name, info in cls.model_fields.items():
            value = getattr(self, name)
            if value is None and not info.is_required() and (
                name not in cls.qapi_nullable or name not in self.model_fields_set
            ):
                continue
            out[info.alias or name] = _wire_value(value)
        return out
