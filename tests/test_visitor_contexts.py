"""One QObject input visitor, two callers: QMP arguments and command-line values, against QEMU.

QEMU reads ``object-add``/``blockdev-add``/``migrate-set-parameters`` arguments, ``-object
{JSON}`` and ``-blockdev`` (JSON or keyval) with the same ``qobject-input-visitor.c``; the texts
are the same in every context, only the frame differs (a ``GenericError`` reply, or
``PROG: -OPTION ARG:`` on stderr). Before qmpnuma had one visitor, its two copies differed on
alternates (the command-line copy did not check them at all); the cases here cover what the two
copies each had to get right: alternates (in lists, nested, every JSON type, keyval strings,
dicts and lists), the order of several unexpected members, width checks, nested full names.

Every case is compared with the real binary: over one QMP session for the QMP context, and by
starting qemu-system-x86_64 for the command line. Random cases come from seeded generators, so a
failure names a reproducible case.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Reference
from qemu_runner import run_real
from qmp_endpoints import RawQmp, started

from qmpnuma.errors import OptionError, QmpError
from qmpnuma.options.diagnostics import format_report
from qmpnuma.options.keyval import is_json_form, keyval_parse, parse_json_option
from qmpnuma.options.qobject_visitor import visit_keyval, visit_qobject
from qmpnuma.profiles import get_profile, wire_types
from qmpnuma.qmp.visitor import visit_input
from qmpnuma.qobject.input_visitor import JSON_SCALARS, VisitError, VisitErrorKind, visit
from qmpnuma.types.tables_7_2 import SCHEMA as SCHEMA_7_2

PROG = "qemu-system-x86_64"


def _object(*members: tuple[str, str, bool]) -> dict[str, Any]:
    return {
        "meta-type": "object",
        "members": [
            {"name": name, "type": type_name, **({"optional": True} if optional else {})}
            for name, type_name, optional in members
        ],
    }


def _flat_union(
    members: list[tuple[str, str, bool]], tag: str, variants: dict[str, str]
) -> dict[str, Any]:
    return {
        **_object(*members),
        "tag": tag,
        "variants": [{"case": case, "type": type_name} for case, type_name in variants.items()],
    }


REQ, OPT = False, True

#: The types reached by the cases below that qmpnuma's own table does not carry, written in
#: the introspection shape from QEMU 7.2's schema (block-core.json, migration.json,
#: sockets.json), members in QEMU's order, optional members our cases never give left out.
FRAGMENT: dict[str, dict[str, Any]] = {
    "StrOrNull": {"meta-type": "alternate", "members": [{"type": "str"}, {"type": "null"}]},
    "MigrateSetParameters": _object(
        ("tls-creds", "StrOrNull", OPT), ("tls-hostname", "StrOrNull", OPT)
    ),
    "BlockDirtyBitmap": _object(("node", "str", REQ), ("name", "str", REQ)),
    "BlockDirtyBitmapOrStr": {
        "meta-type": "alternate",
        "members": [{"type": "str"}, {"type": "BlockDirtyBitmap"}],
    },
    "BlockDirtyBitmapMerge": _object(
        ("node", "str", REQ), ("target", "str", REQ), ("bitmaps", "[BlockDirtyBitmapOrStr]", REQ)
    ),
    "BlockdevDriver": {
        "meta-type": "enum",
        "values": ["file", "nbd", "qcow2", "quorum", "raw"],
    },
    "BlockdevRef": {
        "meta-type": "alternate",
        "members": [{"type": "BlockdevOptions"}, {"type": "str"}],
    },
    "BlockdevRefOrNull": {
        "meta-type": "alternate",
        "members": [{"type": "BlockdevOptions"}, {"type": "str"}, {"type": "null"}],
    },
    "BlockdevOptions": _flat_union(
        [("driver", "BlockdevDriver", REQ), ("node-name", "str", OPT)],
        "driver",
        {
            "file": "BlockdevOptionsFile",
            "nbd": "BlockdevOptionsNbd",
            "qcow2": "BlockdevOptionsQcow2",
            "quorum": "BlockdevOptionsQuorum",
            "raw": "BlockdevOptionsRaw",
        },
    ),
    "BlockdevOptionsFile": _object(
        ("filename", "str", REQ), ("aio-max-batch", "int", OPT), ("drop-cache", "bool", OPT)
    ),
    "BlockdevOptionsRaw": _object(
        ("file", "BlockdevRef", REQ), ("offset", "int", OPT), ("size", "int", OPT)
    ),
    "BlockdevOptionsQcow2": _object(
        ("file", "BlockdevRef", REQ),
        ("backing", "BlockdevRefOrNull", OPT),
        ("lazy-refcounts", "bool", OPT),
    ),
    "QuorumReadPattern": {"meta-type": "enum", "values": ["quorum", "fifo"]},
    "BlockdevOptionsQuorum": _object(
        ("blkverify", "bool", OPT),
        ("children", "[BlockdevRef]", REQ),
        ("vote-threshold", "int", REQ),
        ("rewrite-corrupted", "bool", OPT),
        ("read-pattern", "QuorumReadPattern", OPT),
    ),
    "SocketAddressType": {"meta-type": "enum", "values": ["inet", "unix", "vsock", "fd"]},
    "UnixSocketAddress": _object(("path", "str", REQ)),
    "SocketAddress": _flat_union(
        [("type", "SocketAddressType", REQ)], "type", {"unix": "UnixSocketAddress"}
    ),
    "BlockdevOptionsNbd": _object(
        ("server", "SocketAddress", REQ),
        ("reconnect-delay", "uint32", OPT),
        ("open-timeout", "uint32", OPT),
    ),
}
SCHEMA: dict[str, Any] = {**SCHEMA_7_2, **FRAGMENT}
#: The QMP and command-line block cases below visit 7.2's schema (with the fragment above), so
#: they are compared with the real 7.2 under the 7.2 profile, whatever the default profile is;
#: object-add and -device JSON run against every reference binary with its own profile.
P72 = get_profile("7.2")


# --- case generators (seeded) --------------------------------------------------------------


def _junk_keys(rng: random.Random, count: int) -> list[str]:
    """Member names no schema here knows: a letter, then letters, digits and dashes."""
    keys: list[str] = []
    while len(keys) < count:
        key = rng.choice(string.ascii_lowercase) + "".join(
            rng.choice(string.ascii_lowercase + string.digits + "-")
            for _ in range(rng.randint(0, 7))
        )
        if key not in keys and not key.endswith("-") and key not in ("id", "size", "file"):
            keys.append(key)
    return keys


_ODD_INTEGERS = [0, 1, 255, 256, 65535, 65536, -1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63,
                 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 1.5, "1", True, None]  # fmt: skip
_ALTERNATE_VALUES: list[Any] = [
    1, -1, 1.5, True, False, None, "f", "", [], ["f"], {}, {"driver": "file"},
    {"driver": "file", "filename": 3}, {"driver": "raw", "file": {"driver": "file"}},
    {"driver": "file", "filename": "/x", "zz": 1, "aa": 2, "mm": 3},
    {"driver": "qcow2", "file": "g", "backing": 7}, {"driver": "nope"},
]  # fmt: skip


def _ram(**extra: Any) -> dict[str, Any]:
    return {"qom-type": "memory-backend-ram", "id": "m", "size": 1048576, **extra}


def object_values() -> Iterator[dict[str, Any]]:
    """ObjectOptions values the visitor refuses (the same for object-add and -object JSON)."""
    for seed in range(8):  # several unexpected members, top level and nested
        rng = random.Random(f"object-leftover-{seed}")
        junk = {key: 1 for key in _junk_keys(rng, rng.randint(2, 12))}
        if seed % 2:
            yield _ram(**junk)
        else:
            rule = {"match": "x", "policy": "allow", **junk}
            yield {"qom-type": "authz-list", "id": "a", "rules": [rule]}
    for seed in range(8):  # integer widths (uint16 list elements, uint32, int64), wrapping
        rng = random.Random(f"object-width-{seed}")
        nodes = [rng.choice(_ODD_INTEGERS) for _ in range(rng.randint(1, 3))]
        threads = rng.choice(_ODD_INTEGERS)
        yield _ram(**{"host-nodes": nodes, "prealloc-threads": threads, "zz": 1})
        yield {"qom-type": "thread-context", "id": "t", "node-affinity": nodes, "zz": 1}
        yield {"qom-type": "iothread", "id": "i", "poll-max-ns": threads, "zz": 1}
    yield {"qom-type": "throttle-group", "id": "t", "limits": {"iops-total": "x"}}
    yield {"qom-type": "throttle-group", "id": "t", "limits": {"iops-total": 1, "qq": 1, "b": 2}}
    yield {"qom-type": "authz-list", "id": "a", "rules": [{"match": "x", "policy": "allow"},
                                                         {"match": "y", "policy": "nope"}]}
    yield {"qom-type": "authz-list", "id": "a", "rules": [{"match": "x", "policy": "allow"}, 3]}


def blockdev_values() -> Iterator[dict[str, Any]]:
    """BlockdevOptions values with alternates, nested names and leftovers (all refused)."""
    for seed, value in enumerate(_ALTERNATE_VALUES):
        rng = random.Random(f"blockdev-alternate-{seed}")
        other = rng.choice(_ALTERNATE_VALUES)
        yield {"driver": "raw", "node-name": "r", "file": value, "zz": 1}
        yield {"driver": "qcow2", "node-name": "r", "file": "f", "backing": value, "zz": 1}
        yield {"driver": "quorum", "node-name": "q", "children": ["a", value, other],
               "vote-threshold": 1, "zz": 1}  # fmt: skip
    for seed in range(4):
        rng = random.Random(f"blockdev-leftover-{seed}")
        junk = {key: "1" for key in _junk_keys(rng, rng.randint(2, 9))}
        yield {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "/x",
                                                           **junk}}  # fmt: skip
        delay = rng.choice(_ODD_INTEGERS)
        yield {"driver": "raw", "node-name": "r", "file": {
            "driver": "nbd", "server": {"type": "unix", "path": "/x"}, "reconnect-delay": delay},
            "zz": 1}  # fmt: skip


def _keyval_scalar(item: Any) -> str:
    if item is True or item is False:
        return "on" if item else "off"
    return "null" if item is None else str(item)


def _keyval(value: dict[str, Any] | list[Any], prefix: str = "") -> list[str]:
    """``value`` written as keyval ``key=value`` pairs (scalars as QEMU's keyval reads them)."""
    pairs: list[str] = []
    items = enumerate(value) if isinstance(value, list) else value.items()
    for key, item in items:
        path = f"{prefix}{key}"
        if isinstance(item, dict | list) and item:
            pairs += _keyval(item, path + ".")
        elif not isinstance(item, dict | list):
            pairs.append(f"{path}={_keyval_scalar(item)}")
    return pairs


def blockdev_keyval_args() -> Iterator[str]:
    """``-blockdev k=v`` spellings of the blockdev cases, plus cases only keyval can write."""
    seen: set[str] = set()
    for value in blockdev_values():
        text = ",".join(_keyval(value))
        if text not in seen:
            seen.add(text)
            yield text
    yield "driver=quorum,node-name=q,children.0=a,vote-threshold=1,blkverify=x"
    yield "driver=quorum,node-name=q,children.0=a,vote-threshold.x=1"
    yield "driver=quorum,node-name=q,children=a,vote-threshold=1"
    yield "driver=raw,node-name=r,file.driver=file,file.filename=/x,file.drop-cache=x"
    yield "driver=raw,node-name=r,file.0=f,zz=1"
    yield "driver=quorum,node-name=q,children.0=a,vote-threshold=1,read-pattern.x=1"


OBJECT_VALUES = list(object_values())
BLOCKDEV_VALUES = list(blockdev_values())
QMP_CASES: list[tuple[str, str, dict[str, Any]]] = [
    *(("object-add", "ObjectOptions", value) for value in OBJECT_VALUES),
    *(("blockdev-add", "BlockdevOptions", value) for value in BLOCKDEV_VALUES),
    *(("migrate-set-parameters", "MigrateSetParameters", {"tls-creds": value, "zz": 1})
      for value in _ALTERNATE_VALUES[:10]),
    *(("block-dirty-bitmap-merge", "BlockDirtyBitmapMerge",
       {"node": "n", "target": "t", "bitmaps": ["a", value], "zz": 1})
      for value in [*_ALTERNATE_VALUES[:10], {"node": "x"}, {"node": "x", "name": 1},
                    {"node": "x", "name": "y", "q": 1, "b": 2}]),
]  # fmt: skip
CLI_CASES: list[tuple[str, str]] = [
    *(("object", json.dumps(value)) for value in OBJECT_VALUES[::2]),
    *(("blockdev", json.dumps(value)) for value in BLOCKDEV_VALUES[::2]),
    *(("blockdev", text) for text in list(blockdev_keyval_args())[::2]),
    ("blockdev", "driver=quorum,node-name=q,children.0=a,vote-threshold=1,blkverify=x"),
    ("blockdev", "driver=raw,node-name=r,file.driver=file,file.filename=/x,file.drop-cache=x"),
    ("blockdev", "driver=raw,node-name=r,file.0=f,zz=1"),
]


# --- QMP context ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_qmp(qemu_binary: str) -> Iterator[RawQmp]:
    with started([qemu_binary], ["-M", "none", "-S"]) as (conn, _greeting, _proc):
        conn.command({"execute": "qmp_capabilities"})
        yield conn


def _ours_qmp(type_name: str, arguments: dict[str, Any]) -> dict[str, str]:
    try:
        visit_input(arguments, type_name, SCHEMA)
    except QmpError as refused:
        return {"class": refused.error_class, "desc": refused.desc}
    return {}


@pytest.mark.qemu
@pytest.mark.parametrize(("command", "type_name", "arguments"), QMP_CASES)
def test_qmp_arguments_refused_as_qemu_does(
    real_qmp: RawQmp, command: str, type_name: str, arguments: dict[str, Any]
) -> None:
    reply = json.loads(real_qmp.command({"execute": command, "arguments": arguments})[-1])
    assert "error" in reply, reply
    assert _ours_qmp(type_name, arguments) == reply["error"]


@pytest.mark.qemu
def test_object_add_refused_as_each_qemu_does(reference: Reference) -> None:
    """The object-add cases on each binary, visited with its profile's own schema (10.0's
    ObjectOptions gained types and members and lost ``loaded``)."""
    schema = wire_types(reference.profile).SCHEMA
    differing = []
    with started([reference.binary], ["-M", "none", "-S"]) as (conn, _greeting, _proc):
        conn.command({"execute": "qmp_capabilities"})
        for value in OBJECT_VALUES:
            reply = json.loads(conn.command({"execute": "object-add", "arguments": value})[-1])
            ours: dict[str, str] = {}
            try:
                visit_input(value, "ObjectOptions", schema)
            except QmpError as refused:
                ours = {"class": refused.error_class, "desc": refused.desc}
            if "error" not in reply or ours != reply["error"]:
                differing.append(f"{value}\n  qemu:    {reply}\n  qmpnuma: {ours}")
    print(f"qemu-{reference.profile}: {len(OBJECT_VALUES) - len(differing)}/{len(OBJECT_VALUES)}"
          " object-add refusals identical")
    assert not differing, "\n".join(differing)


# --- command-line context -------------------------------------------------------------------


def _ours_cli(option: str, arg: str) -> str:
    type_name = "ObjectOptions" if option == "object" else "BlockdevOptions"
    try:
        if is_json_form(arg):
            visit_qobject(parse_json_option(arg), type_name, SCHEMA)
        else:
            visit_keyval(keyval_parse(arg, "driver").tree, type_name, SCHEMA, profile=P72)
    except OptionError as refused:
        return format_report(PROG, f"-{option} {arg}", refused.message, refused.hints)
    return ""


@pytest.mark.qemu
@pytest.mark.parametrize(("option", "arg"), CLI_CASES)
def test_command_line_values_refused_as_qemu_does(qemu_binary: str, option: str, arg: str) -> None:
    real = run_real(qemu_binary, ["-M", "none", f"-{option}", arg])
    assert real.status == 1
    assert _ours_cli(option, arg) == real.stderr


# --- the core itself ------------------------------------------------------------------------


def test_both_contexts_share_the_refusal_and_frame_it_differently() -> None:
    value = {"driver": "quorum", "node-name": "q", "children": ["a", 3], "vote-threshold": 1}
    with pytest.raises(VisitError) as caught:
        visit(value, "BlockdevOptions", SCHEMA, scalars=JSON_SCALARS)
    assert caught.value.kind is VisitErrorKind.INVALID_TYPE
    assert (caught.value.name, caught.value.expected) == ("null", "BlockdevRef")
    text = "Invalid parameter type for 'null', expected: BlockdevRef"
    assert _ours_qmp("BlockdevOptions", value) == {"class": "GenericError", "desc": text}
    with pytest.raises(OptionError, match=f"^{text}$"):
        visit_qobject(value, "BlockdevOptions", SCHEMA)


def test_keyval_strings_pick_the_string_branch_and_name_list_elements_with_dots() -> None:
    tree = keyval_parse("driver=quorum,children.0=a,children.1.driver=raw,"
                        "children.1.file=f,vote-threshold=2", "driver").tree  # fmt: skip
    assert visit_keyval(tree, "BlockdevOptions", SCHEMA, profile=P72) == {
        "driver": "quorum", "vote-threshold": 2,
        "children": ["a", {"driver": "raw", "file": "f"}]}  # fmt: skip
    tree["children"][1]["file"] = {"driver": "file"}
    with pytest.raises(OptionError, match=r"^Parameter 'children\.1\.file\.filename' is missing$"):
        visit_keyval(tree, "BlockdevOptions", SCHEMA, profile=P72)
    with pytest.raises(OptionError, match=r"^Parameter 'children\[1\]\.file\.filename' is miss"):
        visit_qobject(tree, "BlockdevOptions", SCHEMA)


def test_generators_are_reproducible_and_cover_the_classes() -> None:
    assert list(object_values()) == OBJECT_VALUES
    texts = {_ours_qmp(t, a).get("desc", "") for _, t, a in QMP_CASES}
    for fragment in ("is unexpected", "expects uint16_t", "expects uint32_t", "expected: integer",
                     "expected: BlockdevRef", "expected: BlockdevRefOrNull", "expected: StrOrNull",
                     "expected: BlockDirtyBitmapOrStr", "children[1]", "rules[1]",
                     "file.filename' is missing"):  # fmt: skip
        assert any(fragment in text for text in texts), fragment


# --- -device JSON: QOM property setters read each property through the same visitor ---------

#: pc-dimm properties and their QAPI visit types (qdev_prop_uint32/int32/uint64).
_DIMM_PROPERTIES = {"node": "uint32", "slot": "int32", "addr": "uint64"}
_BAD_PROPERTY_VALUES: list[Any] = [
    "x", "1", -1, 2**31, 2**32, 2**63, 2**64, -(2**63) - 1, 1.5, True, None, [], {},
]  # fmt: skip
_ACCEPTED = {"uint32": range(2**32), "int32": range(-(2**31), 2**31),
             "uint64": range(-(2**63), 2**64)}  # fmt: skip
DEVICE_CASES = [
    (name, value) for name, type_name in _DIMM_PROPERTIES.items() for value in _BAD_PROPERTY_VALUES
    if isinstance(value, bool) or not isinstance(value, int) or value not in _ACCEPTED[type_name]
]  # fmt: skip
_DIMM_MACHINE = ["-M", "pc", "-m", "1G,slots=2,maxmem=4G",
                 "-object", "memory-backend-ram,id=m,size=1G"]  # fmt: skip


@pytest.mark.qemu
@pytest.mark.parametrize(("name", "value"), DEVICE_CASES)
def test_device_json_properties_read_as_qemu_reads_them(
    reference: Reference, name: str, value: Any
) -> None:
    # object_set_properties_from_qdict visits the -device JSON dict with the JSON visitor; each
    # setter reads its member by name, so a property is the visit of one member named NAME.
    arg = json.dumps({"driver": "pc-dimm", "id": "d", "memdev": "m", name: value})
    real = run_real(reference.binary, [*_DIMM_MACHINE, "-device", arg])
    with pytest.raises(OptionError) as refused:
        visit_qobject(value, _DIMM_PROPERTIES[name], {}, root=name)
    assert real.stderr == format_report(PROG, f"-device {arg}", refused.value.message)
