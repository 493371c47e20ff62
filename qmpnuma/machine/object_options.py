"""``-object`` and ``object-add`` read into requests: QEMU's visit of ``ObjectOptions``.

The syntax is the options room's (:mod:`qmpnuma.options`): the QemuOpts form goes through
``qemu_opts_parse_noisily`` and the OptsVisitor, the JSON form (7.2, an argument starting with
``{``) through the QObject input visitor, both against the profile's ``ObjectOptions`` type, as
``object_option_parse`` does in QEMU 7.2's ``vl.c``.  What comes out is an
:class:`ObjectRequest` with typed properties (wire names); creating the object is the
backends' and the machine's business.

QEMU 2.9 had no typed ``ObjectOptions``: ``user_creatable_add_opts`` set each QOM property from
the options with the OptsVisitor and refused unknown ones as ``Property '.NAME' not found``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from qmpnuma.errors import MachineError, OptionError
from qmpnuma.machine.object_types import (
    BACKEND_PROPERTIES_2_9,
    BACKEND_TYPES,
    MANDATORY_2_9,
    creatable_types,
)
from qmpnuma.machine.schema import Schema, option_schema
from qmpnuma.options.diagnostics import OptionWarning
from qmpnuma.options.keyval import is_json_form, parse_json_option
from qmpnuma.options.opts_visitor import visit_opts
from qmpnuma.options.qemuopts import OBJECT_OPTS, id_wellformed, parse_opts, parse_qemu_opts
from qmpnuma.options.qobject_visitor import visit_qobject
from qmpnuma.profiles.profile import ObjectProperties, Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.records import record

ID_HINT = "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter."


@record(frozen=True)
class ObjectRequest:
    """An ``-object``/``object-add`` after the QAPI visit: class, id and the given properties."""

    qom_type: str
    id: str
    props: dict[str, Any]
    #: Whether the QemuOpts form registered ``id`` (the JSON form registers none).
    from_qemuopts: bool = False

    @property
    def is_backend(self) -> bool:
        return self.qom_type in BACKEND_TYPES


def parse_object_option(
    text: str,
    seen_ids: Collection[str],
    profile: Profile = DEFAULT_PROFILE,
    warnings: list[OptionWarning] | None = None,
) -> ObjectRequest:
    """The argv-time part of ``-object`` (``object_option_parse``).

    ``seen_ids`` are the ids earlier QemuOpts-form ``-object`` options registered.  Warnings
    (short-form booleans, hex sizes with a suffix) are appended to ``warnings`` in QEMU's
    order.  Raises ``OptionError``; the caller adds the ``-object ...:`` location.
    """
    out = warnings if warnings is not None else []
    qapi_options = profile.object_properties is ObjectProperties.QAPI_OBJECT_OPTIONS
    if is_json_form(text) and qapi_options:
        value = parse_json_option(text)
        visited = visit_qobject(value, "ObjectOptions", option_schema(profile))
        return _request(visited, from_qemuopts=False)
    parsed = parse_qemu_opts(
        text, OBJECT_OPTS, known_ids=set(seen_ids), profile=profile,
        warnings=out,
    )
    if parsed.get("qom-type") is None:
        raise OptionError("Parameter 'qom-type' is missing")
    pairs = parse_opts(text, OBJECT_OPTS.implied_key)
    if not qapi_options:
        return _visit_2_9(pairs, profile)
    size_warnings: list[str] = []
    try:
        visited = visit_opts(
            pairs, "ObjectOptions", option_schema(profile), profile=profile,
            warnings=size_warnings,
        )
    finally:
        out.extend(OptionWarning(line) for line in size_warnings)
    return _request(visited, from_qemuopts=True)


def _request(visited: Mapping[str, Any], *, from_qemuopts: bool) -> ObjectRequest:
    props = {key: value for key, value in visited.items() if key not in ("qom-type", "id")}
    return ObjectRequest(visited["qom-type"], visited["id"], props, from_qemuopts)


def _schema_2_9(qom_type: str, profile: Profile) -> tuple[str, Schema]:
    """2.9's ``ObjectOptions`` has no typed members: a struct of the class's QOM properties."""
    name = f"{qom_type}-properties"
    members = [
        {"name": prop, "type": kind, "optional": True}
        for prop, kind in BACKEND_PROPERTIES_2_9[qom_type]
    ]
    schema = {**option_schema(profile), name: {"meta-type": "object", "members": members}}
    return name, schema


def _visit_2_9(pairs: list[tuple[str, str]], profile: Profile) -> ObjectRequest:
    """2.9 ``user_creatable_add_opts``: type, id, then each QOM property of the class."""
    qom_type = next(value for key, value in reversed(pairs) if key == "qom-type")
    if qom_type not in creatable_types(profile):
        raise OptionError(f"invalid object type: {qom_type}")
    ident = next((value for key, value in reversed(pairs) if key == "id"), None)
    if ident is None:
        raise OptionError("Parameter 'id' is missing")
    rest = [(key, value) for key, value in pairs if key not in ("qom-type", "id")]
    if qom_type not in BACKEND_PROPERTIES_2_9:
        return ObjectRequest(qom_type, ident, dict(rest), True)
    type_name, schema = _schema_2_9(qom_type, profile)
    known = {prop for prop, _ in BACKEND_PROPERTIES_2_9[qom_type]}
    props = visit_opts([p for p in rest if p[0] in known], type_name, schema, profile=profile)
    for name in MANDATORY_2_9[qom_type]:
        if name not in props:
            raise OptionError(f"Parameter '{name}' is missing")
    for key, _ in rest:
        if key not in known:
            raise OptionError(f"Property '.{key}' not found")
    return ObjectRequest(qom_type, ident, props, True)


def check_creatable(qom_type: str, profile: Profile) -> None:
    """``user_creatable_add_type``: the class must exist in this binary."""
    if qom_type not in creatable_types(profile):
        raise MachineError(f"invalid object type: {qom_type}")


def check_object_id(ident: str) -> None:
    """``user_creatable_add_type`` refuses ids that are not identifiers (JSON and QMP forms)."""
    if not id_wellformed(ident):
        raise MachineError("Parameter 'id' expects an identifier", hints=(ID_HINT,))


def request_from_qmp(qom_type: str, ident: str, props: Mapping[str, Any]) -> ObjectRequest:
    """An ``object-add`` whose arguments the QMP visitor already checked, as a request."""
    if qom_type in BACKEND_TYPES and "size" not in props:
        raise MachineError("Parameter 'size' is missing")
    if qom_type == "memory-backend-file" and "mem-path" not in props:
        raise MachineError("Parameter 'mem-path' is missing")
    return ObjectRequest(qom_type, ident, dict(props))
