"""``query-qmp-schema`` as QEMU builds it: shape, masking, numbering, order, conditions.

The differential tests at the end ask the real QEMU 7.2 for its schema: the numbering rules
must hold there too, and every command and event of our ``schemas/`` must have the same
structure (masked names resolved) as QEMU's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Reference

from qmpnuma.profiles.registry import all_qapi_symbols, get_profile, qapi_symbols
from qmpnuma.qapi.cli import run
from qmpnuma.qapi.introspect import introspect, introspect_profile
from qmpnuma.qapi.schema import Schema

HERE = Path(__file__).parent
FIXTURE = HERE / "qapi" / "introspect.json"
GOOD = HERE / "qapi" / "good" / "qapi-schema.json"
OUR_SCHEMA = HERE.parent / "schemas" / "qapi-schema.json"

EXPECTED: list[dict[str, Any]] = [
    {"arg-type": "2", "ret-type": "[3]", "allow-oob": True, "name": "query-info",
     "meta-type": "command", "features": ["unstable"]},
    {"arg-type": "0", "ret-type": "0", "name": "noop", "meta-type": "command"},
    {"arg-type": "4", "name": "DEV", "meta-type": "event"},
    # Every member of GONE's data is compiled out, so it carries no data at all.
    {"arg-type": "0", "name": "GONE", "meta-type": "event"},
    {"members": [], "name": "0", "meta-type": "object"},
    {"members": [{"name": "which", "type": "5"}], "name": "2", "meta-type": "object"},
    {"element-type": "3", "name": "[3]", "meta-type": "array"},
    {"members": [{"name": "mode", "type": "6"},
                 {"name": "nodes", "type": "[int]", "default": None},
                 {"name": "sub", "type": "[7]"},
                 {"name": "id", "type": "str", "features": ["unstable"]}],
     "name": "3", "meta-type": "object"},
    {"members": [{"name": "mode", "type": "6"}], "tag": "mode",
     "variants": [{"case": "slow", "type": "7"}, {"case": "fast", "type": "0"}],
     "name": "4", "meta-type": "object"},
    {"json-type": "int", "name": "int", "meta-type": "builtin"},
    {"members": [{"type": "str"}, {"type": "3"}], "name": "5", "meta-type": "alternate"},
    {"members": [{"name": "fast"}, {"name": "slow", "features": ["deprecated"]}],
     "values": ["fast", "slow"], "name": "6", "meta-type": "enum"},
    {"element-type": "int", "name": "[int]", "meta-type": "array"},
    {"element-type": "7", "name": "[7]", "meta-type": "array"},
    {"members": [{"name": "size", "type": "int"},
                 {"name": "ratio", "type": "number", "default": None}],
     "name": "7", "meta-type": "object"},
    {"json-type": "string", "name": "str", "meta-type": "builtin"},
    {"json-type": "number", "name": "number", "meta-type": "builtin"},
]


def test_fixture_introspection_exact() -> None:
    # Numbering runs over the whole schema: the compiled-out 'get-hidden' command and its
    # 'Hidden' type take number 1, which is then missing from the output (as in QEMU).
    assert introspect(Schema(str(FIXTURE)), symbols=frozenset({"ON"})) == EXPECTED
    # The same with ON decided and OFF left to the "build": OFF is kept for numbering.
    kept = Schema(str(FIXTURE), frozenset({"ON"}), known=frozenset({"ON"}))
    assert introspect(kept, symbols=frozenset({"ON"})) == EXPECTED


def test_cli_introspect_is_pretty_deterministic_json(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "i.json"
    assert run(["introspect", str(FIXTURE), "--define", "ON", "-o", str(out)]) == 0
    text = out.read_text()
    assert json.loads(text) == EXPECTED
    assert text == json.dumps(EXPECTED, indent=2) + "\n"
    assert run(["introspect", str(FIXTURE), "--define", "ON"]) == 0
    assert capsys.readouterr().out == text


def _resolve(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Commands and events with every masked type name replaced by its structure."""
    by_name = {e["name"]: e for e in entries}

    def expand(name: str, stack: tuple[str, ...]) -> Any:
        if name.startswith("["):
            return ["array", expand(name[1:-1], stack)]
        entry = by_name[name]
        meta = entry["meta-type"]
        if meta == "builtin":
            return name
        if name in stack:
            return ["cycle", len(stack) - stack.index(name)]
        inner = (*stack, name)
        if meta == "enum":
            return ["enum", entry["values"],
                    [m.get("features", []) for m in entry["members"]], entry.get("features")]
        if meta == "alternate":
            return ["alternate", sorted(json.dumps(expand(m["type"], inner))
                                        for m in entry["members"])]
        return ["object",
                [[m["name"], expand(m["type"], inner), "default" in m, m.get("features")]
                 for m in entry["members"]],
                entry.get("tag"),
                [[v["case"], expand(v["type"], inner)] for v in entry.get("variants", [])],
                entry.get("features")]

    resolved: dict[str, Any] = {}
    for entry in entries:
        if entry["meta-type"] in ("command", "event"):
            keys = ["arg-type", "ret-type"] if entry["meta-type"] == "command" else ["arg-type"]
            resolved[entry["name"]] = [entry["meta-type"], entry.get("allow-oob"),
                                       entry.get("features"),
                                       *(expand(entry[k], ()) for k in keys)]
    return resolved


def test_pruned_schema_has_the_same_structure_without_gaps() -> None:
    symbols = frozenset({"ON"})
    pruned = introspect(Schema(str(FIXTURE), symbols))
    assert _resolve(pruned) == _resolve(EXPECTED)
    numbers = sorted(int(e["name"]) for e in pruned if e["name"].isdigit())
    assert numbers == list(range(len(numbers)))


def test_decided_symbols_do_not_take_numbers() -> None:
    # With OFF decided false, nothing under it is numbered: no gap where 'Hidden' was.
    decided = Schema(str(FIXTURE), frozenset({"ON"}), known=frozenset({"ON", "OFF"}))
    entries = introspect(decided, symbols=frozenset({"ON"}))
    assert _resolve(entries) == _resolve(EXPECTED)
    numbers = sorted(int(e["name"]) for e in entries if e["name"].isdigit())
    assert numbers == list(range(len(numbers)))


def test_legacy_flavour_of_qemu_2_9() -> None:
    entries = introspect(Schema(str(FIXTURE), frozenset({"ON"})), legacy=True)
    assert [e["name"] for e in entries[:4]] == ["DEV", "GONE", "noop", "query-info"]
    assert all("features" not in e and "allow-oob" not in e for e in entries)
    enums = [e for e in entries if e["meta-type"] == "enum"]
    assert enums and all(set(e) == {"name", "meta-type", "values"} for e in enums)
    assert all("features" not in m for e in entries for m in e.get("members", []))


def test_data_with_every_member_compiled_out_is_no_data() -> None:
    schema = Schema(str(FIXTURE), frozenset({"ON"}))
    assert "q_obj_GONE-arg" not in schema.entities
    assert schema.entities["GONE"].arg_type is None  # type: ignore[attr-defined]
    assert "q_obj_GONE-arg" in Schema(str(FIXTURE)).entities


def test_unmasked_names_and_good_fixture() -> None:
    entries = introspect(Schema(str(GOOD), frozenset({"NEW"})), unmask=True)
    by_name = {e["name"]: e for e in entries}
    assert by_name["shape-add"]["arg-type"] == "q_obj_shape-add-arg"
    assert by_name["query-shapes"] == {"arg-type": "q_empty", "ret-type": "[Shape]",
                                       "name": "query-shapes", "meta-type": "command"}
    assert by_name["Circle"]["members"][1] == {"name": "host-nodes", "type": "[int]",
                                               "default": None}
    assert "Limits" not in by_name  # not reachable from any command or event
    # An alternate's array branch shows as QEMU shows StatsValue's: integer arrays as [int].
    assert by_name["Sample"] == {"members": [{"type": "int"}, {"type": "bool"},
                                             {"type": "[int]"}],
                                 "name": "Sample", "meta-type": "alternate"}
    assert by_name["[int]"] == {"element-type": "int", "name": "[int]", "meta-type": "array"}
    masked = {e["name"]: e for e in introspect(Schema(str(GOOD), frozenset({"NEW"})))}
    arg = masked[masked["query-readings"]["arg-type"]]["members"][0]["type"]
    assert masked[arg]["members"][2] == {"type": "[int]"}
    assert "get-old" not in by_name and "OnlyOld" not in by_name


def _first_use_order_holds(entries: list[dict[str, Any]]) -> bool:
    """Types are numbered and queued at their first use, so numbers rise down the list."""
    numbers = [int(e["name"]) for e in entries if e["name"].isdigit()]
    return numbers == sorted(set(numbers))


def _query_real_schema(binary: str, tmp_path: Path) -> list[dict[str, Any]]:
    sock_path = str(tmp_path / "qmp.sock")
    proc = subprocess.Popen(
        [binary, "-machine", "none", "-S", "-display", "none", "-nodefaults",
         "-qmp", f"unix:{sock_path},server=on,wait=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock_path):
                break
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(sock_path)
            stream = sock.makefile("rwb")
            stream.readline()
            stream.write(b'{"execute": "qmp_capabilities"}\n')
            stream.flush()
            stream.readline()
            stream.write(b'{"execute": "query-qmp-schema"}\n')
            stream.flush()
            reply = json.loads(stream.readline())
        result: list[dict[str, Any]] = reply["return"]
        return result
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def real_schema(reference: Reference, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    return _query_real_schema(reference.binary, tmp_path_factory.mktemp("qmp"))


@pytest.mark.qemu
def test_real_qemu_follows_the_same_numbering_rules(real_schema: list[dict[str, Any]]) -> None:
    metas = [e["meta-type"] for e in real_schema]
    first_type = next(i for i, m in enumerate(metas) if m not in ("command", "event"))
    assert all(m not in ("command", "event") for m in metas[first_type:])
    assert real_schema[first_type] == {"name": "0", "meta-type": "object", "members": []}
    assert _first_use_order_holds(real_schema)
    assert _first_use_order_holds(EXPECTED)
    enums = [e for e in real_schema if e["meta-type"] == "enum"]
    assert all([m["name"] for m in e["members"]] == e["values"] for e in enums)
    builtins = {e["name"] for e in real_schema if e["meta-type"] == "builtin"}
    assert builtins <= {"str", "int", "number", "bool", "null", "any"}


@pytest.mark.qemu
def test_our_schema_matches_real_qemu(
    reference: Reference, real_schema: list[dict[str, Any]]
) -> None:
    profile = get_profile(reference.profile)
    ours = _resolve(introspect_profile(str(OUR_SCHEMA), qapi_symbols(profile),
                                       all_qapi_symbols()))
    theirs = _resolve(real_schema)
    assert ours, "our schema has no commands"
    missing = sorted(set(ours) - set(theirs))
    assert not missing, f"not in QEMU {reference.profile}: {missing}"
    different = sorted(name for name in ours if ours[name] != theirs[name])
    assert not different, f"structure differs from QEMU {reference.profile}: {different}"
