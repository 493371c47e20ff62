"""QEMU's QObject input visitor on QMP arguments: texts, naming, order of checks, conversions.

Every expected text here was produced by the real qemu-system-x86_64 7.2.22 for the same
arguments (the session's differential test replays most of them against QEMU itself).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_qmp_fragment import SCHEMA

from qmpnuma.errors import QmpError
from qmpnuma.qmp.visitor import visit_input
from qmpnuma.qobject.hashing import GHashTableModel, g_str_hash


def refusal(arguments: dict[str, Any], type_name: str) -> str:
    with pytest.raises(QmpError) as caught:
        visit_input(arguments, type_name, SCHEMA)
    assert caught.value.error_class == "GenericError"
    return caught.value.desc


CAPS = "q_obj_qmp_capabilities-arg"
HMP = "q_obj_human-monitor-command-arg"
CPU = "q_obj_query-cpu-model-expansion-arg"


def ram(**extra: Any) -> dict[str, Any]:
    return {"qom-type": "memory-backend-ram", "id": "x", "size": 1, **extra}


def test_valid_arguments_come_back_with_absent_optionals_absent() -> None:
    assert visit_input({}, CAPS, SCHEMA) == {}
    assert visit_input({"enable": ["oob"]}, CAPS, SCHEMA) == {"enable": ["oob"]}
    assert visit_input({"command-line": "info numa"}, HMP, SCHEMA) == {"command-line": "info numa"}
    assert visit_input({}, "q_empty", SCHEMA) == {}
    assert visit_input({}, None, SCHEMA) == {}


def test_flat_union_visits_base_then_branch() -> None:
    args = ram(**{"host-nodes": [0, 1], "policy": "bind", "share": True})
    assert visit_input(args, "ObjectOptions", SCHEMA) == args


def test_unsigned_members_wrap_negative_numbers_like_qemu() -> None:
    assert visit_input(ram(size=-1), "ObjectOptions", SCHEMA)["size"] == 2**64 - 1


@pytest.mark.parametrize(
    ("arguments", "type_name", "text"),
    [
        ({}, HMP, "Parameter 'command-line' is missing"),
        ({"command-line": 1}, HMP, "Invalid parameter type for 'command-line', expected: string"),
        ({"command-line": "x", "cpu-index": "a"}, HMP,
         "Invalid parameter type for 'cpu-index', expected: integer"),
        ({"command-line": "x", "cpu-index": 1.0}, HMP,
         "Invalid parameter type for 'cpu-index', expected: integer"),
        ({"command-line": "x", "cpu-index": 2**63}, HMP,
         "Invalid parameter type for 'cpu-index', expected: integer"),
        ({"enable": "oob"}, CAPS, "Invalid parameter type for 'enable', expected: array"),
        ({"enable": None}, CAPS, "Invalid parameter type for 'enable', expected: array"),
        ({"enable": ["foo"]}, CAPS, "Parameter 'null' does not accept value 'foo'"),
        ({"enable": ["oob", "x", "y"]}, CAPS, "Parameter 'null' does not accept value 'x'"),
        ({"enable": [1]}, CAPS, "Invalid parameter type for 'enable[0]', expected: string"),
        ({"enable": [None]}, CAPS, "Invalid parameter type for 'enable[0]', expected: string"),
        ({"foo": 1}, CAPS, "Parameter 'foo' is unexpected"),
        ({"zeta": 1, "alpha": 2, "mid": 3}, CAPS, "Parameter 'alpha' is unexpected"),
        ({f"key{i}": i for i in range(9)}, CAPS, "Parameter 'key6' is unexpected"),
        ({"enable": [], **{f"opt-{i}": i for i in range(20)}}, CAPS,
         "Parameter 'opt-4' is unexpected"),
        ({"id": "x"}, "ObjectOptions", "Parameter 'qom-type' is missing"),
        ({"qom-type": "memory-backend-ram"}, "ObjectOptions", "Parameter 'id' is missing"),
        ({"qom-type": "foo", "id": "x"}, "ObjectOptions",
         "Parameter 'qom-type' does not accept value 'foo'"),
        ({"qom-type": 1, "id": "x"}, "ObjectOptions",
         "Invalid parameter type for 'qom-type', expected: string"),
        ({"qom-type": "memory-backend-ram", "id": "x"}, "ObjectOptions",
         "Parameter 'size' is missing"),
        (ram(size=True), "ObjectOptions", "Parameter 'size' expects uint64"),
        (ram(size="1G"), "ObjectOptions", "Parameter 'size' expects uint64"),
        (ram(size=-1.5), "ObjectOptions", "Parameter 'size' expects uint64"),
        (ram(size=2**64), "ObjectOptions", "Parameter 'size' expects uint64"),
        (ram(size=-(2**63) - 1), "ObjectOptions", "Parameter 'size' expects uint64"),
        (ram(**{"host-nodes": [1, "a"]}), "ObjectOptions",
         "Parameter 'host-nodes[1]' expects uint64"),
        (ram(**{"host-nodes": [1, 70000]}), "ObjectOptions", "Parameter 'null' expects uint16_t"),
        (ram(**{"host-nodes": [-1]}), "ObjectOptions", "Parameter 'null' expects uint16_t"),
        (ram(**{"host-nodes": {}}), "ObjectOptions",
         "Invalid parameter type for 'host-nodes', expected: array"),
        (ram(**{"prealloc-threads": 2**32}), "ObjectOptions",
         "Parameter 'prealloc-threads' expects uint32_t"),
        (ram(**{"prealloc-threads": -1}), "ObjectOptions",
         "Parameter 'prealloc-threads' expects uint32_t"),
        (ram(policy="nope"), "ObjectOptions", "Parameter 'policy' does not accept value 'nope'"),
        (ram(policy=3), "ObjectOptions", "Invalid parameter type for 'policy', expected: string"),
        (ram(share="yes"), "ObjectOptions",
         "Invalid parameter type for 'share', expected: boolean"),
        (ram(zz=1, aa=2, mm=3), "ObjectOptions", "Parameter 'aa' is unexpected"),
        (ram(**{f"p{i}": i for i in range(12)}), "ObjectOptions", "Parameter 'p3' is unexpected"),
        ({"qom-type": "memory-backend-file", "id": "x", "size": 1}, "ObjectOptions",
         "Parameter 'mem-path' is missing"),
        ({"qom-type": "secret", "id": "s", "q": 1, "format": "nope"}, "ObjectOptions",
         "Parameter 'format' does not accept value 'nope'"),
        ({"type": "static", "model": {"name": "x", "bogus": 1}, "zz": 2}, CPU,
         "Parameter 'model.bogus' is unexpected"),
        ({"type": "static", "model": {"name": 1}}, CPU,
         "Invalid parameter type for 'model.name', expected: string"),
        ({"type": "static", "model": {}}, CPU, "Parameter 'model.name' is missing"),
        ({"type": "static", "model": []}, CPU,
         "Invalid parameter type for 'model', expected: object"),
        ({"model": {"name": "x"}}, CPU, "Parameter 'type' is missing"),
        ({"qom-type": "authz-list", "id": "a", "rules": [{"match": "x", "policy": "allow"},
                                                         {"match": 1}]}, "ObjectOptions",
         "Invalid parameter type for 'rules[1].match', expected: string"),
        ({"qom-type": "authz-list", "id": "a", "rules": [{"match": "x", "policy": "allow"},
                                                         {"match": "y"}]}, "ObjectOptions",
         "Parameter 'rules[1].policy' is missing"),
        ({"qom-type": "authz-list", "id": "a", "rules": [{"match": "x", "policy": "allow",
                                                          "q": 1}]}, "ObjectOptions",
         "Parameter 'rules[0].q' is unexpected"),
        ({"qom-type": "authz-list", "id": "a", "rules": [{"match": "x", "policy": "nope"}]},
         "ObjectOptions", "Parameter 'policy' does not accept value 'nope'"),
        ({"qom-type": "authz-list", "id": "a", "rules": [3]}, "ObjectOptions",
         "Invalid parameter type for 'rules[0]', expected: object"),
    ],
)  # fmt: skip
def test_qemu_texts(arguments: dict[str, Any], type_name: str, text: str) -> None:
    assert refusal(arguments, type_name) == text


def test_scalar_kinds_not_reachable_through_our_fragment() -> None:
    schema = {
        **SCHEMA,
        "T": {
            "meta-type": "object",
            "members": [
                {"name": "n", "type": "number", "optional": True},
                {"name": "z", "type": "null", "optional": True},
                {"name": "s", "type": "StrOrNull", "optional": True},
                {"name": "a", "type": "any", "optional": True},
                {"name": "i8", "type": "int8", "optional": True},
                {"name": "u8", "type": "uint8", "optional": True},
            ],
        },
    }
    ok = visit_input({"n": 1, "z": None, "s": None, "a": {"x": [1]}, "i8": -128}, "T", schema)
    assert ok == {"n": 1.0, "z": None, "s": None, "a": {"x": [1]}, "i8": -128}
    assert type(ok["n"]) is float
    assert visit_input({"s": "text"}, "T", schema) == {"s": "text"}
    cases = [
        ({"n": "1"}, "Invalid parameter type for 'n', expected: number"),
        ({"n": True}, "Invalid parameter type for 'n', expected: number"),
        ({"z": 0}, "Invalid parameter type for 'z', expected: null"),
        ({"s": 1}, "Invalid parameter type for 's', expected: StrOrNull"),
        ({"i8": 128}, "Parameter 'i8' expects int8_t"),
        ({"u8": 256}, "Parameter 'u8' expects uint8_t"),
    ]
    for arguments, text in cases:
        with pytest.raises(QmpError, match="^" + text.replace("(", r"\(") + "$"):
            visit_input(arguments, "T", schema)


def test_alternate_with_an_array_branch() -> None:
    # StatsValue's shape (QEMU 7.1+): QEMU 7.2 only returns it, so these texts follow the rules
    # checked above (full paths inside lists, the bare name for an alternate's refusal).
    schema = {
        **SCHEMA,
        "Value": {"meta-type": "alternate",
                  "members": [{"type": "uint64"}, {"type": "bool"}, {"type": "[uint64]"}]},
        "[uint64]": {"meta-type": "array", "element-type": "uint64"},
        "T": {"meta-type": "object", "members": [{"name": "v", "type": "Value"}]},
    }
    assert visit_input({"v": [1, -1]}, "T", schema) == {"v": [1, 2**64 - 1]}
    assert visit_input({"v": []}, "T", schema) == {"v": []}
    assert visit_input({"v": False}, "T", schema) == {"v": False}
    assert visit_input({"v": 3}, "T", schema) == {"v": 3}
    cases = [
        ({"v": [1, "2"]}, "Parameter 'v[1]' expects uint64"),
        ({"v": [[1]]}, "Parameter 'v[0]' expects uint64"),
        ({"v": "1"}, "Invalid parameter type for 'v', expected: Value"),
        ({"v": {}}, "Invalid parameter type for 'v', expected: Value"),
        ({"v": None}, "Invalid parameter type for 'v', expected: Value"),
        ({}, "Parameter 'v' is missing"),
    ]
    for arguments, text in cases:
        with pytest.raises(QmpError, match="^" + re.escape(text) + "$"):
            visit_input(arguments, "T", schema)


def test_glib_hash_table_replay() -> None:
    assert g_str_hash(b"") == 5381
    assert g_str_hash(b"a") == 5381 * 33 + 97
    assert g_str_hash(b"\xe9") == (5381 * 33 - 23) & 0xFFFFFFFF  # signed char
    table = GHashTableModel()
    for key in ("zeta", "alpha", "mid"):
        table.insert(key)
    assert table.first() == "alpha"
    assert table.remove("alpha") and not table.remove("alpha")
    assert table.first() in ("zeta", "mid")
    many = GHashTableModel()
    for index in range(100):
        many.insert(f"k{index}")
    for index in range(99):
        many.remove(f"k{index}")
    assert many.first() == "k99"
