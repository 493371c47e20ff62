"""Checking the shape of each parsed expression and bringing it into one normal form.

The parser accepts any JSON-like object; this stage knows which keys each kind of
definition takes and what their values must look like (names, type references, ``if``
conditions, features, members).  It rewrites the short forms (``'*name': 'type'``,
feature and enum-value strings) into dictionaries so that :mod:`qmpnuma.qapi.schema` sees a
single shape.  Whether referenced types exist is the schema's business, not this module's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qmpnuma.qapi.error import QAPIError, SourceInfo
from qmpnuma.qapi.parser import Expression, key_line

#: Optional vendor prefix, then a letter, then letters, digits, dashes and underscores.
_NAME = re.compile(r"^(__[a-z0-9.-]+_)?[a-z][a-z0-9_-]*$", re.IGNORECASE)
#: Enum values may also start with a digit.
_VALUE_NAME = re.compile(r"^(__[a-z0-9.-]+_)?[a-z0-9][a-z0-9_.-]*$", re.IGNORECASE)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Keys each definition kind accepts: (required, optional).
_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "enum": (("enum", "data"), ("prefix", "if", "features")),
    "struct": (("struct", "data"), ("base", "if", "features")),
    "union": (("union", "base", "discriminator", "data"), ("if", "features")),
    "alternate": (("alternate", "data"), ("if", "features")),
    "command": (("command",), ("data", "returns", "boxed", "allow-oob", "allow-preconfig",
                               "success-response", "coroutine", "gen", "if", "features")),
    "event": (("event",), ("data", "boxed", "if", "features")),
}
_BOOL_KEYS = ("boxed", "allow-oob", "allow-preconfig", "success-response", "coroutine", "gen")


@dataclass
class Definition:
    """A checked definition in normal form (see the module docstring)."""

    meta: str
    name: str
    info: SourceInfo
    doc: str | None
    ifcond: Any
    features: list[dict[str, Any]]
    expr: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


def _fail(info: SourceInfo, message: str) -> QAPIError:
    return QAPIError.at(info, message)


def check_if(cond: Any, info: SourceInfo, what: str) -> Any:
    """Validate an ``if`` condition and return it unchanged (None when absent)."""
    if cond is None:
        return None
    if isinstance(cond, str):
        if not _IDENT.match(cond):
            raise _fail(info, f"'if' condition '{cond}' of {what} is not a valid identifier")
        return cond
    if not isinstance(cond, dict):
        raise _fail(info, f"'if' condition of {what} must be a string or an object")
    if not cond:
        raise _fail(info, f"'if' condition {{}} of {what} is useless")
    if len(cond) != 1:
        raise _fail(info, f"'if' condition of {what} has conflicting keys")
    (op, operand), = cond.items()
    if op == "not":
        check_if(operand, info, what)
    elif op in ("all", "any"):
        if not isinstance(operand, list):
            raise _fail(info, f"'if' condition '{op}' of {what} must be an array")
        if not operand:
            raise _fail(info, f"'if' condition [] of {what} is useless")
        for item in operand:
            check_if(item, info, what)
    else:
        raise _fail(info, f"'if' condition of {what} has unknown operator '{op}'")
    return cond


def _check_name(name: Any, info: SourceInfo, what: str, pattern: re.Pattern[str] = _NAME) -> str:
    if not isinstance(name, str):
        raise _fail(info, f"{what} requires a string name")
    if not pattern.match(name):
        raise _fail(info, f"{what} has an invalid name '{name}'")
    return name


def _check_features(value: Any, info: SourceInfo, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(info, f"'features' of {what} must be an array")
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in value:
        entry = {"name": item} if isinstance(item, str) else item
        if not isinstance(entry, dict):
            raise _fail(info, f"'features' of {what} must hold strings or objects")
        _check_known_keys(entry, ("name",), ("if",), info, f"feature of {what}")
        fname = _check_name(entry["name"], info, f"feature of {what}")
        if fname in seen:
            raise _fail(info, f"{what} has feature '{fname}' twice")
        seen.add(fname)
        result.append({"name": fname,
                       "if": check_if(entry.get("if"), info, f"feature '{fname}' of {what}")})
    return result


def _check_known_keys(expr: dict[str, Any], required: tuple[str, ...],
                      optional: tuple[str, ...], info: SourceInfo, what: str) -> None:
    missing = [k for k in required if k not in expr]
    if missing:
        raise _fail(info, f"{what} misses key '{missing[0]}'")
    unknown = [k for k in expr if k not in required and k not in optional]
    if unknown:
        where = SourceInfo(info.fname, key_line(expr, unknown[0], info.line))
        raise _fail(where, f"{what} has unknown key '{unknown[0]}'")


def _check_type_ref(value: Any, info: SourceInfo, what: str, allow_array: bool) -> Any:
    """A type reference is a name, or (where allowed) a one-element list naming the element."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if not allow_array:
            raise _fail(info, f"{what} cannot be an array")
        if len(value) != 1 or not isinstance(value[0], str):
            raise _fail(info, f"{what}: array type must contain a single type name")
        return [value[0]]
    raise _fail(info, f"{what} should be a type name")


def _check_members(data: Any, info: SourceInfo, what: str) -> list[dict[str, Any]]:
    """Normalise a members dictionary (``'*name': T`` or ``'name': {'type': T, ...}``)."""
    if not isinstance(data, dict):
        raise _fail(info, f"'data' of {what} must be an object")
    members: list[dict[str, Any]] = []
    outer = info
    for key, value in data.items():
        info = SourceInfo(outer.fname, key_line(data, key, outer.line))
        optional = key.startswith("*")
        name = key[1:] if optional else key
        mwhat = f"member '{name}' of {what}"
        _check_name(name, info, mwhat)
        if name.startswith("q_"):
            raise _fail(info, f"{mwhat} uses the reserved prefix 'q_'")
        if isinstance(value, dict):
            _check_known_keys(value, ("type",), ("if", "features"), info, mwhat)
            spec = value
        else:
            spec = {"type": value}
        members.append({
            "name": name,
            "optional": optional,
            "type": _check_type_ref(spec["type"], info, mwhat, allow_array=True),
            "if": check_if(spec.get("if"), info, mwhat),
            "features": _check_features(spec.get("features"), info, mwhat),
            "info": info,
        })
    return members


def _check_enum_values(data: Any, info: SourceInfo, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise _fail(info, f"'data' of {what} must be an array")
    values: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in data:
        entry = {"name": item} if isinstance(item, str) else item
        if not isinstance(entry, dict):
            raise _fail(info, f"values of {what} must be strings or objects")
        _check_known_keys(entry, ("name",), ("if", "features"), info, f"value of {what}")
        vname = _check_name(entry["name"], info, f"value of {what}", _VALUE_NAME)
        if vname in seen:
            raise _fail(info, f"{what} has value '{vname}' twice")
        seen.add(vname)
        vwhat = f"value '{vname}' of {what}"
        values.append({"name": vname, "if": check_if(entry.get("if"), info, vwhat),
                       "features": _check_features(entry.get("features"), info, vwhat)})
    return values


def _check_branches(data: Any, info: SourceInfo, what: str,
                    allow_array: bool = False) -> list[dict[str, Any]]:
    """Normalise union or alternate branches: ``'case': T`` or ``'case': {'type', 'if'}``.

    A union's branch names an object type; an alternate's may also be an array (``['T']``,
    allowed since QEMU 7.1: the branch taken by a JSON array).
    """
    if not isinstance(data, dict):
        raise _fail(info, f"'data' of {what} must be an object")
    if not data and what.startswith("alternate"):
        raise _fail(info, f"{what} has no branches")
    branches: list[dict[str, Any]] = []
    for case, value in data.items():
        bwhat = f"branch '{case}' of {what}"
        _check_name(case, info, bwhat, _VALUE_NAME)
        spec = value if isinstance(value, dict) else {"type": value}
        _check_known_keys(spec, ("type",), ("if",), info, bwhat)
        branches.append({"name": case,
                         "type": _check_type_ref(spec["type"], info, bwhat, allow_array),
                         "if": check_if(spec.get("if"), info, bwhat)})
    return branches


def _check_definition(expression: Expression) -> Definition:
    expr, info = expression.expr, expression.info
    metas = [k for k in _KEYS if k in expr]
    if not metas:
        raise _fail(info, "expression is missing metatype")
    if len(metas) > 1:
        raise _fail(info, f"expression has conflicting metatypes '{metas[0]}' and '{metas[1]}'")
    meta = metas[0]
    name = _check_name(expr[meta], info, f"{meta} definition")
    what = f"{meta} '{name}'"
    if meta not in ("command", "event") and (name.startswith("q_") or name.endswith("List")):
        raise _fail(info, f"{what} uses a name reserved for generated types")
    required, optional = _KEYS[meta]
    _check_known_keys(expr, required, optional, info, what)
    for key in _BOOL_KEYS:
        if key in expr and not isinstance(expr[key], bool):
            raise _fail(info, f"'{key}' of {what} must be true or false")
    definition = Definition(meta, name, info, expression.doc,
                            check_if(expr.get("if"), info, what),
                            _check_features(expr.get("features"), info, what), expr)
    extra = definition.extra
    if meta == "enum":
        extra["values"] = _check_enum_values(expr["data"], info, what)
        if "prefix" in expr and not isinstance(expr["prefix"], str):
            raise _fail(info, f"'prefix' of {what} must be a string")
    elif meta == "struct":
        extra["members"] = _check_members(expr["data"], info, what)
        extra["base"] = _check_base(expr.get("base"), info, what, allow_dict=False)
    elif meta == "union":
        extra["base"] = _check_base(expr["base"], info, what, allow_dict=True)
        if not isinstance(expr["discriminator"], str):
            raise _fail(info, f"'discriminator' of {what} must be a string")
        extra["discriminator"] = expr["discriminator"]
        extra["branches"] = _check_branches(expr["data"], info, what)
    elif meta == "alternate":
        extra["branches"] = _check_branches(expr["data"], info, what, allow_array=True)
    else:
        _check_command_or_event(expr, info, what, extra)
    return definition


def _check_base(base: Any, info: SourceInfo, what: str, allow_dict: bool) -> Any:
    if base is None or isinstance(base, str):
        return base
    if allow_dict and isinstance(base, dict):
        return _check_members(base, info, f"base of {what}")
    raise _fail(info, f"'base' of {what} should be a type name")


def _check_command_or_event(expr: dict[str, Any], info: SourceInfo, what: str,
                            extra: dict[str, Any]) -> None:
    data = expr.get("data")
    boxed = bool(expr.get("boxed", False))
    if boxed and not isinstance(data, str):
        raise _fail(info, f"'data' of {what} must name a type when 'boxed' is true")
    if data is None or isinstance(data, str):
        extra["data"] = data
    elif isinstance(data, dict):
        extra["data"] = _check_members(data, info, f"arguments of {what}")
    else:
        raise _fail(info, f"'data' of {what} should be an object or a type name")
    if "returns" in expr:
        extra["returns"] = _check_type_ref(expr["returns"], info, f"'returns' of {what}",
                                           allow_array=True)
    if expr.get("success-response") is False and "returns" in expr:
        raise _fail(info, f"{what} has 'returns' but 'success-response' is false")


def check_exprs(expressions: list[Expression]) -> list[Definition]:
    """Check every definition (include and pragma entries are passed over) and normalise it."""
    definitions: list[Definition] = []
    for expression in expressions:
        if "include" in expression.expr:
            definitions.append(Definition("include", expression.expr["include"],
                                          expression.info, None, None, [], expression.expr))
        elif "pragma" not in expression.expr:
            definitions.append(_check_definition(expression))
    return definitions
