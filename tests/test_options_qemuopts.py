"""QemuOpts and keyval syntax: scanning, flags, ids, per-option descriptions, QEMU's texts."""

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
from qmpnuma.options.keyval import keyval_parse
from qmpnuma.options.qemuopts import (
    DEVICE_OPTS,
    MEMORY_OPTS,
    MSG_OPTS,
    NUMA_OPTS,
    OBJECT_OPTS,
    OptsHelpRequested,
    id_wellformed,
    memory_keyval,
    merge_opts,
    opts_id,
    opts_to_qdict,
    parse_opts,
    parse_qemu_opts,
)
from qmpnuma.options.qobject_visitor import visit_keyval
from qmpnuma.options.uuid_arg import parse_uuid
from qmpnuma.profiles import Profile, get_profile

P29 = get_profile("2.9")

PROG = "qemu-system-x86_64"

SCHEMA: dict[str, dict[str, Any]] = {
    "int": {"meta-type": "builtin", "json-type": "int"},
    "uint64": {"meta-type": "builtin", "json-type": "int"},
    "size": {"meta-type": "builtin", "json-type": "int"},
    "SMPConfiguration": {
        "meta-type": "object",
        "members": [
            {"name": n, "type": "int", "optional": True}
            for n in ("cpus", "sockets", "dies", "clusters", "cores", "threads", "maxcpus")
        ],
    },
    "MemorySizeConfiguration": {
        "meta-type": "object",
        "members": [
            {"name": "size", "type": "size", "optional": True},
            {"name": "max-size", "type": "size", "optional": True},
            {"name": "slots", "type": "uint64", "optional": True},
        ],
    },
}


@pytest.mark.parametrize(
    ("text", "implied", "pairs"),
    [
        ("node,nodeid=0,cpus=0-1", "type", [("type", "node"), ("nodeid", "0"), ("cpus", "0-1")]),
        ("a=b,,c,d=,e", None, [("a", "b,c"), ("d", ""), ("e", "on")]),
        ("node,,foo=1", "type", [("type", "node,foo=1")]),
        (",node", "type", [("type", ""), ("de", "off")]),
        ("nofoo,bar", None, [("foo", "off"), ("bar", "on")]),
        ("cpus=0,cpus=2-3", "type", [("cpus", "0"), ("cpus", "2-3")]),
        ("node,cpus=0,cpus=2-3", "type", [("type", "node"), ("cpus", "0"), ("cpus", "2-3")]),
        ("a=1,", None, [("a", "1")]),
        ("", "type", []),
        ("x,,y", None, [("x", "on"), ("", "on"), ("y", "on")]),
        ("=1", None, [("", "1")]),
        ("4G", "size", [("size", "4G")]),
        ("a=x=y", None, [("a", "x=y")]),
    ],
)
def test_parse_opts(text: str, implied: str | None, pairs: list[tuple[str, str]]) -> None:
    assert parse_opts(text, implied) == pairs


def test_opts_id_and_identifier_rule() -> None:
    assert opts_id("memory-backend-ram,id=m0,size=1G,id=m1") == "m0"
    assert opts_id("node,nodeid=0") is None
    assert id_wellformed("m0") and id_wellformed("a-b.c_d")
    assert not id_wellformed("1m") and not id_wellformed("") and not id_wellformed("a b")


def test_memory_options() -> None:
    warnings: list[OptionWarning] = []
    parsed = parse_qemu_opts("4G,slots=2,maxmem=8G", MEMORY_OPTS, warnings=warnings)
    assert parsed.pairs == [("size", "4G"), ("slots", "2"), ("maxmem", "8G")]
    assert parsed.get("size") == "4G" and warnings == []
    assert memory_keyval(parsed) == {"size": "4G", "max-size": "8G", "slots": "2"}
    assert memory_keyval(parse_qemu_opts("129", MEMORY_OPTS)) == {"size": "129M"}
    assert memory_keyval(parse_qemu_opts("0", MEMORY_OPTS)) == {}
    merged = merge_opts(parse_qemu_opts("1G", MEMORY_OPTS), parse_qemu_opts("maxmem=4G",
                                                                             MEMORY_OPTS))
    assert memory_keyval(merged) == {"size": "1G", "max-size": "4G"}


@pytest.mark.parametrize(
    ("text", "message", "warned"),
    [
        ("4G,foo=1", "Invalid parameter 'foo'", []),
        ("1G,slots", "Parameter 'slots' expects a number", ["slots"]),
        ("1G,id=x", "Invalid parameter 'id'", []),
        ("1G,nofoo", "Invalid parameter 'foo'", ["nofoo"]),
        ("16E", "Value '16E' is out of range for parameter 'size'", []),
    ],
)
def test_memory_option_errors(text: str, message: str, warned: list[str]) -> None:
    warnings: list[OptionWarning] = []
    with pytest.raises(OptionError) as info:
        parse_qemu_opts(text, MEMORY_OPTS, warnings=warnings)
    assert info.value.message == message
    assert [w.message for w in warnings] == [
        f"short-form boolean option '{name}' deprecated" for name in warned
    ]


def test_flag_warning_texts() -> None:
    warnings: list[OptionWarning] = []
    parse_qemu_opts(",node", NUMA_OPTS, warnings=warnings)
    assert warnings == [
        OptionWarning("short-form boolean option 'node' deprecated", ("Please use de=off instead",))
    ]
    parsed = parse_qemu_opts("node,help", NUMA_OPTS)
    assert parsed.warnings == [] and parsed.pairs == [("type", "node"), ("help", "on")]


def test_help_request_on_described_list() -> None:
    with pytest.raises(OptsHelpRequested):
        parse_qemu_opts("1G,help", MEMORY_OPTS)
    with pytest.raises(OptionError, match="Invalid parameter 'foo'"):
        parse_qemu_opts("1G,foo=1,help", MEMORY_OPTS)


def test_identifier_checks() -> None:
    with pytest.raises(OptionError) as info:
        parse_qemu_opts("memory-backend-ram,id=1m", OBJECT_OPTS)
    assert info.value.message == "Parameter 'id' expects an identifier"
    assert info.value.hints == (
        "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.",
    )
    with pytest.raises(OptionError) as info:
        parse_qemu_opts("memory-backend-ram,id=m0", OBJECT_OPTS, known_ids={"m0"})
    assert info.value.message == "Duplicate ID 'm0' for object"
    assert parse_qemu_opts("memory-backend-ram,id=m0,size=1", OBJECT_OPTS).ident == "m0"


def test_msg_bools() -> None:
    assert parse_qemu_opts("timestamp=y", MSG_OPTS).get("timestamp") == "y"
    with pytest.raises(OptionError) as info:
        parse_qemu_opts("timestamp=maybe", MSG_OPTS)
    assert info.value.message == "Parameter 'timestamp' expects 'on' or 'off'"


@pytest.mark.parametrize(
    ("text", "implied", "tree"),
    [
        ("2,sockets=2", "cpus", {"cpus": "2", "sockets": "2"}),
        ("pc,accel=kvm,,tcg", "type", {"type": "pc", "accel": "kvm,tcg"}),
        ("a.b=1,a.c=2", None, {"a": {"b": "1", "c": "2"}}),
        ("x.0=a,x.1=b", None, {"x": ["a", "b"]}),
        ("x=1,x=2", None, {"x": "2"}),
        ("__com.example_x=1", None, {"__com.example_x": "1"}),
    ],
)
def test_keyval_parse(text: str, implied: str | None, tree: dict[str, Any]) -> None:
    assert keyval_parse(text, implied).tree == tree


@pytest.mark.parametrize(
    ("text", "implied", "message"),
    [
        ("2,foo", "cpus", "Expected '=' after parameter 'foo'"),
        ("2,,x", "cpus", "Invalid parameter ''"),
        ("2=3", "cpus", "Invalid parameter '2'"),
        ("=3", "cpus", "Invalid parameter ''"),
        ("a..b=1", None, "Invalid parameter 'a..b'"),
        ("a=1,a.b=2", None, "Parameters 'a.*' used inconsistently"),
        ("a.b=1,a=2", None, "Parameters 'a.*' used inconsistently"),
        ("x.1=b", None, "Parameter 'x.0' missing"),
        ("x.0=a,x.y=b", None, "Parameters 'x.*' used inconsistently"),
        ("a" * 128 + "=1", None, f"Parameter '{'a' * 128}' is too long"),
        ("b." + "a" * 128 + "=1", None, f"Parameter fragment '{'a' * 128}' is too long"),
    ],
)
def test_keyval_errors(text: str, implied: str | None, message: str) -> None:
    with pytest.raises(OptionError) as info:
        keyval_parse(text, implied)
    assert info.value.message == message


def test_keyval_help() -> None:
    assert keyval_parse("help", "type").help
    assert keyval_parse("pc,?", "type").help
    assert not keyval_parse("helpx", "type").help


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


def _ours_m(arg: str, profile: Profile) -> str:
    """What ``profile``'s QEMU prints for ``-m ARG``, computed with the options package."""
    location = f"-m {arg}"
    warnings: list[OptionWarning] = []
    out = ""
    try:
        parsed = parse_qemu_opts(arg, MEMORY_OPTS, warnings=warnings, profile=profile)
    except OptionError as exc:
        out += "".join(format_report(PROG, location, w.message, w.hints, warning=True)
                       for w in warnings)
        return out + format_report(PROG, location, exc.message, exc.hints)
    out += "".join(format_report(PROG, location, w.message, w.hints, warning=True)
                   for w in warnings)
    later: list[str] = []
    try:
        visit_keyval(memory_keyval(parsed, profile), "MemorySizeConfiguration", SCHEMA,
                     root="memory", warnings=later, profile=profile)
    except OptionError as exc:
        return out + format_report(PROG, None, exc.message, exc.hints)
    return out + "".join(format_report(PROG, None, w, warning=True) for w in later)


def _ours_smp(arg: str, profile: Profile) -> str:
    """What ``profile``'s QEMU prints for ``-smp ARG`` syntax and type errors."""
    try:
        tree = keyval_parse(arg, "cpus").tree
    except OptionError as exc:
        return format_report(PROG, f"-smp {arg}", exc.message, exc.hints)
    try:
        visit_keyval(tree, "SMPConfiguration", SCHEMA, root="smp", profile=profile)
    except OptionError as exc:
        return format_report(PROG, None, exc.message, exc.hints)
    return ""


M_CASES = ["abc", "4G,foo=1", "1G,slots", "1G,slots=99999999999999999999,maxmem=2G", "16E",
           "1G,id=x", "18446744073709551615", "1G,maxmem=1Q", "0x10k", "size="]
SMP_CASES = ["2,foo", "2,,x", "a..b=1", "x", "2,foo=1", "cpus.x=3", "2,sockets=1.5",
             "2,zz=1,aa=1,mm=1,bb=2", "2,cpus.0=1"]


@pytest.mark.qemu
@pytest.mark.parametrize("arg", M_CASES)
def test_memory_errors_match_real_qemu(reference: Reference, arg: str) -> None:
    assert _real_stderr(reference.binary, ["-M", "pc", "-m", arg]) == _ours_m(
        arg, get_profile(reference.profile)
    )


@pytest.mark.qemu
@pytest.mark.parametrize("arg", SMP_CASES)
def test_smp_errors_match_real_qemu(reference: Reference, arg: str) -> None:
    assert _real_stderr(reference.binary, ["-M", "none", "-smp", arg]) == _ours_smp(
        arg, get_profile(reference.profile)
    )


def test_device_properties_in_qdict_order() -> None:
    parsed = parse_qemu_opts("pc-dimm,foo=1,bar=2,foo=3", DEVICE_OPTS)
    assert list(opts_to_qdict(parsed.pairs).items()) == [
        ("driver", "pc-dimm"), ("bar", "2"), ("foo", "3")]


def test_profile_2_9_has_no_flag_warnings_and_strict_bools() -> None:
    warnings: list[OptionWarning] = []
    parse_qemu_opts("node,foo", NUMA_OPTS, profile=P29, warnings=warnings)
    assert warnings == []
    with pytest.raises(OptionError, match="expects 'on' or 'off'"):
        parse_qemu_opts("timestamp=yes", MSG_OPTS, profile=P29)


def test_uuid_argument() -> None:
    assert parse_uuid("12345678-1234-1234-1234-123456789ABC") == (
        "12345678-1234-1234-1234-123456789abc")
    for bad in ("x", "12345678-1234-1234-1234-123456789ABCD",
                "12345678x1234-1234-1234-123456789abc", "1234567g-1234-1234-1234-123456789abc"):
        with pytest.raises(OptionError) as info:
            parse_uuid(bad)
        assert info.value.message == "failed to parse UUID string: wrong format"
