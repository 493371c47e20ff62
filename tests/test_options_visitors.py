"""OptsVisitor (-numa, -object), keyval and JSON QObject visitors, hash-ordered reports."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from typing import Any

import pytest
from conftest import Reference

from qmpnuma.errors import OptionError
from qmpnuma.options.diagnostics import OptionWarning, format_report
from qmpnuma.options.keyval import is_json_form, keyval_parse, parse_json_option
from qmpnuma.options.opts_visitor import visit_opts
from qmpnuma.options.qemuopts import NUMA_OPTS, OBJECT_OPTS, parse_opts, parse_qemu_opts
from qmpnuma.options.qobject_visitor import visit_keyval, visit_qobject
from qmpnuma.profiles import Profile, get_profile
from qmpnuma.qobject.hashing import ghash_order, qdict_order, tdb_hash

PROG = "qemu-system-x86_64"


def _members(*spec: str) -> list[dict[str, Any]]:
    """Members from ``name:type`` / ``*name:type`` (optional) strings."""
    out: list[dict[str, Any]] = []
    for item in spec:
        name, type_name = item.split(":")
        member: dict[str, Any] = {"name": name.lstrip("*"), "type": type_name}
        if name.startswith("*"):
            member["optional"] = True
        out.append(member)
    return out


_BACKEND = (
    "*dump:bool", "*host-nodes:[uint16]", "*merge:bool", "*policy:HostMemPolicy",
    "*prealloc:bool", "*prealloc-threads:uint32", "*prealloc-context:str", "*share:bool",
    "*reserve:bool", "size:size", "*x-use-canonical-path-for-ramblock-id:bool",
)

#: A hand-written fragment of the 7.2 SCHEMA table (docs/DESIGN.md shape), spec §5 members.
SCHEMA: dict[str, dict[str, Any]] = {
    **{name: {"meta-type": "builtin", "json-type": "int"}
       for name in ("int", "uint8", "uint16", "uint32", "uint64", "size")},
    "bool": {"meta-type": "builtin", "json-type": "boolean"},
    "str": {"meta-type": "builtin", "json-type": "string"},
    "[uint16]": {"meta-type": "array", "element-type": "uint16"},
    "NumaOptionsType": {"meta-type": "enum",
                        "values": ["node", "dist", "cpu", "hmat-lb", "hmat-cache"]},
    "NumaOptions": {
        "meta-type": "object", "members": _members("type:NumaOptionsType"), "tag": "type",
        "variants": [{"case": "node", "type": "NumaNodeOptions"},
                     {"case": "dist", "type": "NumaDistOptions"},
                     {"case": "cpu", "type": "NumaCpuOptions"},
                     {"case": "hmat-lb", "type": "NumaHmatLBOptions"},
                     {"case": "hmat-cache", "type": "NumaHmatCacheOptions"}],
    },
    "NumaNodeOptions": {"meta-type": "object", "members": _members(
        "*nodeid:uint16", "*cpus:[uint16]", "*mem:size", "*memdev:str", "*initiator:uint16")},
    "NumaDistOptions": {"meta-type": "object",
                        "members": _members("src:uint16", "dst:uint16", "val:uint8")},
    "NumaCpuOptions": {"meta-type": "object", "members": _members(
        "*node-id:int", "*socket-id:int", "*die-id:int", "*cluster-id:int", "*core-id:int",
        "*thread-id:int")},
    "HmatLBMemoryHierarchy": {"meta-type": "enum", "values": [
        "memory", "first-level", "second-level", "third-level"]},
    "HmatLBDataType": {"meta-type": "enum", "values": [
        "access-latency", "read-latency", "write-latency", "access-bandwidth",
        "read-bandwidth", "write-bandwidth"]},
    "NumaHmatLBOptions": {"meta-type": "object", "members": _members(
        "initiator:uint16", "target:uint16", "hierarchy:HmatLBMemoryHierarchy",
        "data-type:HmatLBDataType", "*latency:uint64", "*bandwidth:size")},
    "HmatCacheAssociativity": {"meta-type": "enum", "values": ["none", "direct", "complex"]},
    "HmatCacheWritePolicy": {"meta-type": "enum",
                             "values": ["none", "write-back", "write-through"]},
    "NumaHmatCacheOptions": {"meta-type": "object", "members": _members(
        "node-id:uint32", "size:size", "level:uint8", "associativity:HmatCacheAssociativity",
        "policy:HmatCacheWritePolicy", "line:uint16")},
    "HostMemPolicy": {"meta-type": "enum",
                      "values": ["default", "preferred", "bind", "interleave"]},
    "ObjectType": {"meta-type": "enum", "values": [
        "iothread", "memory-backend-file", "memory-backend-memfd", "memory-backend-ram"]},
    "ObjectOptions": {
        "meta-type": "object", "members": _members("qom-type:ObjectType", "id:str"),
        "tag": "qom-type",
        "variants": [{"case": "iothread", "type": "IothreadProperties"},
                     {"case": "memory-backend-file", "type": "MemoryBackendFileProperties"},
                     {"case": "memory-backend-ram", "type": "MemoryBackendProperties"}],
    },
    "IothreadProperties": {"meta-type": "object", "members": _members(
        "*aio-max-batch:int", "*thread-pool-min:int", "*thread-pool-max:int",
        "*poll-max-ns:int", "*poll-grow:int", "*poll-shrink:int")},
    "MemoryBackendProperties": {"meta-type": "object", "members": _members(*_BACKEND)},
    "MemoryBackendFileProperties": {"meta-type": "object", "members": _members(
        *_BACKEND, "*align:size", "*discard-data:bool", "mem-path:str", "*readonly:bool")},
    "SMPConfiguration": {"meta-type": "object", "members": _members(
        "*cpus:int", "*sockets:int", "*dies:int", "*clusters:int", "*cores:int",
        "*threads:int", "*maxcpus:int")},
}


def numa(text: str) -> dict[str, Any]:
    return visit_opts(parse_opts(text, "type"), "NumaOptions", SCHEMA)


def numa_error(text: str) -> str:
    with pytest.raises(OptionError) as info:
        numa(text)
    return info.value.message


def test_numa_node_values() -> None:
    assert numa("node,nodeid=0x1,cpus=0-2,cpus=010,mem=1G,memdev=m0") == {
        "type": "node", "nodeid": 1, "cpus": [0, 1, 2, 8], "mem": 1 << 30, "memdev": "m0"}
    assert numa("node") == {"type": "node"}
    assert numa("dist,src=0,dst=1,val=20,val=30") == {
        "type": "dist", "src": 0, "dst": 1, "val": 30}
    assert numa("cpu,node-id=1,socket-id=-1") == {"type": "cpu", "node-id": 1, "socket-id": -1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("node,nodeid=65536", "Parameter 'nodeid' expects uint16_t"),
        ("node,nodeid=-1", "Parameter 'nodeid' expects a uint64 value"),
        ("node,nodeid=x", "Parameter 'nodeid' expects a uint64 value"),
        ("node,nodeid=1-2", "Parameter 'nodeid' expects a uint64 value"),
        ("node,cpus=3-1", "Parameter 'cpus' expects a uint64 value or range"),
        ("node,cpus=", "Parameter 'cpus' expects a uint64 value or range"),
        ("node,cpus=0:1", "Parameter 'cpus' expects a uint64 value or range"),
        ("node,cpus=0-70000", "Parameter 'cpus' expects a uint64 value or range"),
        ("node,cpus=65530-65536", "Parameter 'null' expects uint16_t"),
        ("node,cpus=70000", "Parameter 'null' expects uint16_t"),
        ("node,mem=1.5", "Parameter 'mem' expects a size value"),
        ("foo", "Parameter 'type' does not accept value 'foo'"),
        ("help", "Parameter 'type' does not accept value 'help'"),
        ("nodeid=0", "Parameter 'type' is missing"),
        ("node,foo=1", "Invalid parameter 'foo'"),
        ("node,foo=1,bar=2", "Invalid parameter 'bar'"),
        ("node,id=x", "Invalid parameter 'id'"),
        ("node,mem=x,nodeid=x", "Parameter 'nodeid' expects a uint64 value"),
        ("node,foo=1,mem=x", "Parameter 'mem' expects a size value"),
        ("dist,src=0,dst=1", "Parameter 'val' is missing"),
        ("dist,src=0,dst=1,val=256", "Parameter 'val' expects uint8_t"),
        ("cpu,node-id=x", "Parameter 'node-id' expects an int64 value"),
        ("hmat-cache,node-id=0,size=10K,level=1", "Parameter 'associativity' is missing"),
        ("hmat-lb,initiator=0,target=0,hierarchy=x", "Parameter 'hierarchy' does not accept "
         "value 'x'"),
    ],
)
def test_numa_errors(text: str, message: str) -> None:
    assert numa_error(text) == message


def test_unknown_key_order_follows_glib() -> None:
    assert ghash_order(["type", "foo", "bar"], ["type"])[0] == "bar"
    keys = list("qwertyuiopasdfghjklzxcvbnm")
    assert numa_error("node," + ",".join(f"{k}=1" for k in keys)) == "Invalid parameter 'w'"
    long_keys = ["zeta", "alpha", "mem2", *(f"x{i}" for i in range(1, 9))]
    assert numa_error("node," + ",".join(f"{k}=1" for k in long_keys)) == (
        "Invalid parameter 'mem2'")


def test_qdict_order() -> None:
    assert tdb_hash("") == 12345
    keys = ["qom-type", "id", "size", "a", "b", "c"]
    order = qdict_order(keys)
    assert sorted(order) == sorted(keys)
    assert [tdb_hash(k) % 512 for k in order] == sorted(tdb_hash(k) % 512 for k in keys)


def test_object_opts_form() -> None:
    parsed = parse_qemu_opts("memory-backend-ram,id=m0,size=1G,host-nodes=0-2,policy=bind",
                             OBJECT_OPTS)
    value = visit_opts([*parsed.pairs, ("id", parsed.ident or "")], "ObjectOptions", SCHEMA)
    assert value == {"qom-type": "memory-backend-ram", "id": "m0", "size": 1 << 30,
                     "host-nodes": [0, 1, 2], "policy": "bind"}


def test_object_json_form() -> None:
    text = '{"qom-type":"memory-backend-ram","id":"m","size":1024,"host-nodes":[0,1]}'
    assert is_json_form(text) and not is_json_form("memory-backend-ram")
    assert visit_qobject(parse_json_option(text), "ObjectOptions", SCHEMA) == {
        "qom-type": "memory-backend-ram", "id": "m", "size": 1024, "host-nodes": [0, 1]}
    negative = '{"qom-type":"memory-backend-ram","id":"m","size":-1}'
    assert visit_qobject(parse_json_option(negative), "ObjectOptions", SCHEMA)["size"] == (
        (1 << 64) - 1)
    with pytest.raises(OptionError, match="premature EOI"):
        parse_json_option('{"qom-type":"memory-backend-ram"')


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"size": "1k"}, "Parameter 'size' expects uint64"),
        ({"size": 1.5}, "Parameter 'size' expects uint64"),
        ({"size": 1, "share": "on"}, "Invalid parameter type for 'share', expected: boolean"),
        ({"size": 1, "foo": 1}, "Parameter 'foo' is unexpected"),
        ({"size": 1, "host-nodes": [70000]}, "Parameter 'null' expects uint16_t"),
        ({"size": 1, "host-nodes": [0, "1"]},
         "Parameter 'host-nodes[1]' expects uint64"),
        ({"size": 1, "host-nodes": "0"},
         "Invalid parameter type for 'host-nodes', expected: array"),
        ({"size": 1, "policy": "foo"}, "Parameter 'policy' does not accept value 'foo'"),
        ({"size": 1, "policy": 1}, "Invalid parameter type for 'policy', expected: string"),
        ({}, "Parameter 'size' is missing"),
    ],
)
def test_json_visitor_errors(value: dict[str, Any], message: str) -> None:
    full = {"qom-type": "memory-backend-ram", "id": "m", **value}
    with pytest.raises(OptionError) as info:
        visit_qobject(full, "ObjectOptions", SCHEMA)
    assert info.value.message == message


def test_keyval_visitor() -> None:
    tree = keyval_parse("4,sockets=2,maxcpus=0x8", "cpus").tree
    assert visit_keyval(tree, "SMPConfiguration", SCHEMA, root="smp") == {
        "cpus": 4, "sockets": 2, "maxcpus": 8}
    for text, message in [
        ("x", "Parameter 'smp.cpus' expects integer"),
        ("2,foo=1", "Parameter 'smp.foo' is unexpected"),
        ("cpus.x=3", "Parameters 'smp.cpus.*' are unexpected"),
        ("99999999999999999999", "Parameter 'smp.cpus' expects integer"),
    ]:
        with pytest.raises(OptionError) as info:
            visit_keyval(keyval_parse(text, "cpus").tree, "SMPConfiguration", SCHEMA, root="smp")
        assert info.value.message == message
    backend = keyval_parse("memory-backend-ram,id=m,size=1k,host-nodes.0=1,share=y",
                           "qom-type").tree
    assert visit_keyval(backend, "ObjectOptions", SCHEMA)["host-nodes"] == [1]
    with pytest.raises(OptionError) as info:
        visit_keyval({"qom-type": "memory-backend-ram", "id": "m", "size": "1Q"},
                     "ObjectOptions", SCHEMA)
    assert info.value.message == "Parameter 'size' expects size"
    with pytest.raises(OptionError) as info:
        visit_keyval({"qom-type": "memory-backend-ram", "id": "m", "size": "1",
                      "host-nodes": ["70000"]}, "ObjectOptions", SCHEMA)
    assert info.value.message == "Parameter 'null' expects uint16_t"


# --- differential: the same option strings given to the real QEMU -----------------------


def _real_stderr(qemu: str, args: list[str]) -> str:
    """Start real QEMU daemonized; return its stderr (the daemon, if any, is killed)."""
    with tempfile.TemporaryDirectory() as tmp:
        pidfile = os.path.join(tmp, "q.pid")
        cmd = [qemu, "-accel", "tcg", "-nodefaults", "-display", "none", "-S",
               *args, "-daemonize", "-pidfile", pidfile]
        proc = subprocess.run(cmd, capture_output=True, timeout=20, check=False, cwd=tmp)
        if os.path.exists(pidfile):
            with open(pidfile) as handle:
                os.kill(int(handle.read()), signal.SIGKILL)
        return proc.stderr.decode()


def _ours(option: str, arg: str, profile: Profile) -> str:
    """The stderr ``profile``'s QEMU prints when ``-numa``/``-object`` ARG fails its syntax or
    types."""
    location = f"-{option} {arg}"
    warnings: list[OptionWarning] = []

    def report(message: str, hints: tuple[str, ...]) -> str:
        shown = "".join(format_report(PROG, location, w.message, w.hints, warning=True)
                        for w in warnings)
        return shown + format_report(PROG, location, message, hints)

    try:
        if option == "object" and is_json_form(arg):
            visit_qobject(parse_json_option(arg), "ObjectOptions", SCHEMA)
            return ""
        opts_list = NUMA_OPTS if option == "numa" else OBJECT_OPTS
        parsed = parse_qemu_opts(arg, opts_list, warnings=warnings, profile=profile)
        if option == "object" and parsed.get("qom-type") is None:
            raise OptionError("Parameter 'qom-type' is missing")
        pairs = [*parsed.pairs, *([("id", parsed.ident)] if parsed.ident is not None else [])]
        visit_opts(pairs, "NumaOptions" if option == "numa" else "ObjectOptions", SCHEMA,
                   profile=profile)
    except OptionError as exc:
        return report(exc.message, exc.hints)
    return "".join(format_report(PROG, location, w.message, w.hints, warning=True)
                   for w in warnings)


NUMA_CASES = [
    "node,nodeid=65536", "node,nodeid=-1", "node,cpus=3-1", "node,cpus=70000",
    "node,cpus=65535-65536", "foo", "nodeid=0", "node,foo=1,bar=2", "node,mem=x,nodeid=x",
    "dist,src=0,dst=1", "dist,src=0,dst=1,val=256", "node,id=x", "node,foo",
    "cpu,node-id=x", "hmat-cache,node-id=0,size=10K,level=1", "node,cpus=1,cpus=x",
    ",node", "node,zz=1,aa=2,mm=3,x1=4,x2=5,x3=6,x4=7,x5=8,qq=9",
]
OBJECT_CASES = [
    "memory-backend-ram,id=m0,size=1Q", "memory-backend-ram,id=m0,size=1G,foo=bar",
    "memory-backend-ram,size=4G",
    "memory-backend-foo,id=x,size=4G", "memory-backend-ram,id=m",
    "memory-backend-ram,id=m,size=1k,prealloc-threads=4294967296",
    "memory-backend-ram,id=m,size=1k,host-nodes=3-1", "memory-backend-ram,id=m,size=1k,share=x",
    "id=m", "memory-backend-file,id=m,size=1k", "memory-backend-ram,id=1m,size=1k",
    '{"qom-type":"memory-backend-ram","id":"m","size":"1k"}',
    '{"qom-type":"memory-backend-ram","id":"m","size":1024,"share":"on"}',
    '{"qom-type":"memory-backend-ram","id":"m","size":1024,"host-nodes":[70000]}',
    '{"qom-type":"memory-backend-ram","id":"m","size":1024,"zz":1,"aa":2,"mm":3,"b":4}',
    '{"qom-type":"memory-backend-ram","id":"m","size":1024,"host-nodes":"0"}',
]


@pytest.mark.qemu
@pytest.mark.parametrize("arg", NUMA_CASES)
def test_numa_errors_match_real_qemu(reference: Reference, arg: str) -> None:
    assert _real_stderr(reference.binary, ["-M", "pc", "-numa", arg]) == _ours(
        "numa", arg, get_profile(reference.profile)
    )


@pytest.mark.qemu
@pytest.mark.parametrize("arg", OBJECT_CASES)
def test_object_errors_match_real_qemu(reference: Reference, arg: str) -> None:
    assert _real_stderr(reference.binary, ["-M", "none", "-object", arg]) == _ours(
        "object", arg, get_profile(reference.profile)
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [  # texts observed with qemu-system-x86_64 7.2 -object '<text>'
        ('{"qom-type":"iothread","id":"i"', "JSON parse error, premature EOI"),
        ('{"qom-type" "iothread"}', "JSON parse error, missing : in object pair"),
        ('{"qom-type":}', "JSON parse error, expecting value"),
        ("{qom-type:1}", "JSON parse error, stray '-t'"),
        ('{"qom-type":"iothread","id":"i"} x', "Expecting at most one JSON value"),
        ('{"qom-type":"iothread","id":"i","id":"j"}', "JSON parse error, duplicate key"),
        ('{"qom-type":"iothread","id":"i",}', "JSON parse error, expecting value"),
    ],
)
def test_json_option_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_json_option(text)
    assert info.value.message == message


def test_json_option_quirks() -> None:
    assert parse_json_option("{'qom-type':'iothread','id':'i'}") == {
        "qom-type": "iothread", "id": "i"}
    assert parse_json_option('{"id":"\\u0069"}') == {"id": "i"}
    for batch in ("1.0", "9223372036854775808", "true"):
        value = parse_json_option(
            '{"qom-type":"iothread","id":"i","aio-max-batch":' + batch + "}")
        with pytest.raises(OptionError) as info:
            visit_qobject(value, "ObjectOptions", SCHEMA)
        assert info.value.message == (
            "Invalid parameter type for 'aio-max-batch', expected: integer")


def test_opts_visitor_reports_hex_size_warning() -> None:
    warnings: list[str] = []
    pairs = parse_opts("memory-backend-ram,id=m,size=0x10k", "qom-type")
    assert visit_opts(pairs, "ObjectOptions", SCHEMA, warnings=warnings,
                      profile=get_profile("7.2"))["size"] == 16 << 10
    assert warnings == ["Using a multiplier suffix on hex numbers is deprecated: 0x10k"]


def test_keyval_merge_as_smp_joins_machine() -> None:
    """`-smp` is merged into the `-machine` dict as `smp` (QEMU's keyval_merge)."""
    from qmpnuma.options.keyval import keyval_merge

    machine = keyval_parse("pc,smp.cpus=2,smp.sockets=1", "type").tree
    keyval_merge(machine, {"smp": keyval_parse("4,cores=2", "cpus").tree})
    assert machine == {"type": "pc", "smp": {"cpus": "4", "sockets": "1", "cores": "2"}}
    with pytest.raises(OptionError, match="Parameter 'smp' used inconsistently"):
        keyval_merge({"smp": "4"}, {"smp": {"cpus": "2"}})
    lists: dict[str, Any] = {"a": ["x"]}
    keyval_merge(lists, {"a": ["y"]})
    assert lists == {"a": ["x", "y"]}


def test_opts_visitor_struct_in_list_reads_the_element_for_each_member() -> None:
    """In list mode the OptsVisitor hands every scalar member the same list value
    (`-object authz-list,id=x,rules=1` fails on the enum member `policy`, as QEMU 7.2 does)."""
    from qmpnuma.types.tables_7_2 import SCHEMA as FULL

    with pytest.raises(OptionError, match="Parameter 'policy' does not accept value '1'"):
        visit_opts([("qom-type", "authz-list"), ("id", "x"), ("rules", "1")],
                   "ObjectOptions", FULL)
