"""Our schemas describe every command and event exactly as each real QEMU introspects it.

For profiles 7.2 and 10.0 the answer of ``query-qmp-schema`` built from ``schemas/`` is compared
with the answer of the real ``qemu-system-x86_64`` of that release (7.2.22, 10.0.2): for every
command and event we define, its argument and return types are walked recursively on both
sides, resolving the masked
(numbered) type names, and must agree in member names, order, types, optionality, enum values,
tags, variants and features.  Profile 2.9 is checked against the facts QEMU 2.9 is known for.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Reference
from qmp_endpoints import connect_unix

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO_ROOT / "schemas" / "qapi-schema.json"
GENERATED = str(REPO_ROOT / "qmpnuma" / "types" / "introspect_{}.json")

Entries = dict[str, dict[str, Any]]


# -- our side ------------------------------------------------------------------------------


@functools.cache
def our_introspection(profile: str, unmask: bool = False) -> tuple[dict[str, Any], ...]:
    """``qmpnuma-qapi introspect schemas/qapi-schema.json --profile P`` (run in-process)."""
    from qmpnuma.qapi.cli import run  # the toolchain's own command line

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "introspect.json")
        argv = ["introspect", str(SCHEMA_FILE), "--profile", profile, "-o", out]
        assert run([*argv, "--unmask"] if unmask else argv) == 0
        with open(out, encoding="utf-8") as handle:
            return tuple(json.load(handle))


def by_name(entries: Any) -> Entries:
    return {entry["name"]: entry for entry in entries}


def our_entities(profile: str) -> list[str]:
    """Names of the commands and events a profile defines, in schema order."""
    return [e["name"] for e in our_introspection(profile)
            if e["meta-type"] in ("command", "event")]


# -- the real side -------------------------------------------------------------------------


def _qmp_exchange(proc: subprocess.Popen[bytes], path: str,
                  requests: list[bytes]) -> list[Any]:
    """Connect, read the greeting, send each request and return each decoded reply."""
    with connect_unix(path, proc, timeout=30) as sock:  # listening, not only bound
        sock.settimeout(30)
        stream = sock.makefile("rwb")
        json.loads(stream.readline())  # greeting
        replies: list[Any] = []
        for request in requests:
            stream.write(request + b"\n")
            stream.flush()
            while True:
                message = json.loads(stream.readline())
                if "event" not in message:
                    break
            replies.append(message)
        return replies


@pytest.fixture(scope="module")
def real_schema(reference: Reference) -> Iterator[Entries]:
    """The real QEMU's own ``query-qmp-schema`` answer, keyed by (masked) name."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "qmp.sock")
        proc = subprocess.Popen(
            [reference.binary, "-machine", "none", "-S", "-display", "none", "-nodefaults",
             "-qmp", f"unix:{path},server=on,wait=off"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, schema = _qmp_exchange(proc, path, [b'{"execute":"qmp_capabilities"}',
                                                   b'{"execute":"query-qmp-schema"}'])
        finally:
            proc.kill()
            proc.wait(timeout=10)
            assert proc.stderr is not None
            proc.stderr.close()
    yield by_name(schema["return"])


# -- structural comparison -----------------------------------------------------------------


def _member_key(member: dict[str, Any]) -> tuple[str, bool, list[str]]:
    return member["name"], "default" in member, member.get("features", [])


def structural_diff(ours: Entries, ref: Entries, name: str) -> list[str]:
    """Differences between command/event ``name`` in two introspections.

    Type names differ between the two (numbers are handed out independently), so types
    are compared by what they are, following references on both sides in step.  A pair of
    types already being compared counts as equal, which ends the walk on recursive types.
    """
    diffs: list[str] = []
    seen: set[tuple[str, str]] = set()

    def compare(a: str, b: str, where: str) -> None:
        if (a, b) in seen:
            return
        seen.add((a, b))
        ea, eb = ours[a], ref[b]
        if ea["meta-type"] != eb["meta-type"]:
            diffs.append(f"{where}: {ea['meta-type']} instead of {eb['meta-type']}")
            return
        if ea.get("features", []) != eb.get("features", []):
            diffs.append(f"{where}: features {ea.get('features')} != {eb.get('features')}")
        kind = ea["meta-type"]
        if kind == "builtin":
            if (a, ea["json-type"]) != (b, eb["json-type"]):
                diffs.append(f"{where}: built-in {a} instead of {b}")
        elif kind == "enum":
            members_a = [(m["name"], m.get("features", [])) for m in ea.get("members", [])]
            members_b = [(m["name"], m.get("features", [])) for m in eb.get("members", [])]
            if ea["values"] != eb["values"] or members_a != members_b:
                diffs.append(f"{where}: enum {members_a} != {members_b}")
        elif kind == "array":
            compare(ea["element-type"], eb["element-type"], f"{where}[]")
        elif kind == "alternate":
            types_a = [m["type"] for m in ea["members"]]
            types_b = [m["type"] for m in eb["members"]]
            if len(types_a) != len(types_b):
                diffs.append(f"{where}: alternate of {len(types_a)} != {len(types_b)}")
            for index, (x, y) in enumerate(zip(types_a, types_b, strict=False)):
                compare(x, y, f"{where}|{index}")
        elif kind == "object":
            compare_object(ea, eb, where)

    def compare_object(ea: dict[str, Any], eb: dict[str, Any], where: str) -> None:
        keys_a = [_member_key(m) for m in ea["members"]]
        keys_b = [_member_key(m) for m in eb["members"]]
        if keys_a != keys_b:
            diffs.append(f"{where}: members (name, optional, features) {keys_a} != {keys_b}")
        for x, y in zip(ea["members"], eb["members"], strict=False):
            if x["name"] == y["name"]:
                compare(x["type"], y["type"], f"{where}.{x['name']}")
        if ea.get("tag") != eb.get("tag"):
            diffs.append(f"{where}: tag {ea.get('tag')!r} != {eb.get('tag')!r}")
        cases_a = {v["case"]: v["type"] for v in ea.get("variants", [])}
        cases_b = {v["case"]: v["type"] for v in eb.get("variants", [])}
        if list(cases_a) != list(cases_b):
            diffs.append(f"{where}: variants {list(cases_a)} != {list(cases_b)}")
        for case, type_a in cases_a.items():
            if case in cases_b:
                compare(type_a, cases_b[case], f"{where}<{case}>")

    if name not in ref:
        return [f"{name}: the real QEMU has no such command or event"]
    a, b = ours[name], ref[name]
    if a["meta-type"] != b["meta-type"]:
        return [f"{name}: {a['meta-type']} instead of {b['meta-type']}"]
    for key in ("features", "allow-oob"):
        if a.get(key) != b.get(key):
            diffs.append(f"{name}: {key} {a.get(key)!r} != {b.get(key)!r}")
    compare(a["arg-type"], b["arg-type"], f"{name}(arguments)")
    if a["meta-type"] == "command":
        compare(a["ret-type"], b["ret-type"], f"{name}(return)")
    return diffs


# -- profiles 7.2 and 10.0 against their real QEMU ------------------------------------------


@pytest.mark.qemu
def test_every_entity_matches_real_qemu(reference: Reference, real_schema: Entries) -> None:
    """Each command and event of the profile, walked against the real binary's."""
    names = our_entities(reference.profile)
    ours = by_name(our_introspection(reference.profile))
    differing = {name: structural_diff(ours, real_schema, name) for name in names}
    differing = {name: diffs for name, diffs in differing.items() if diffs}
    print(f"qemu-{reference.profile}: {len(names) - len(differing)}/{len(names)} commands and"
          " events identical")
    assert not differing, "\n".join(d for diffs in differing.values() for d in diffs)


@pytest.mark.qemu
def test_generated_introspection_matches_real_qemu(
    reference: Reference, real_schema: Entries
) -> None:
    """The committed ``introspect_X_Y.json`` (what the server answers) agrees as well."""
    committed = GENERATED.format(reference.profile.replace(".", "_"))
    generated = by_name(json.loads(Path(committed).read_text(encoding="utf-8")))
    names = [n for n, e in generated.items() if e["meta-type"] in ("command", "event")]
    diffs = [d for n in names for d in structural_diff(generated, real_schema, n)]
    assert not diffs, "\n".join(diffs)


def test_the_interface_we_promise_is_defined() -> None:
    names = set(our_entities("7.2"))
    wanted = {
        "qmp_capabilities", "query-version", "query-commands", "query-qmp-schema",
        "query-status", "stop", "cont", "quit", "system_powerdown", "system_reset",
        "SHUTDOWN", "STOP", "RESUME", "POWERDOWN", "RESET",
        "query-machines", "query-target", "query-kvm", "query-name", "query-uuid",
        "query-cpus-fast", "query-hotpluggable-cpus", "query-memory-devices",
        "query-memory-size-summary", "query-memdev", "x-query-numa", "set-numa-node",
        "x-exit-preconfig", "MEM_UNPLUG_ERROR", "DEVICE_UNPLUG_GUEST_ERROR",
        "ACPI_DEVICE_OST", "object-add", "object-del", "qom-list", "qom-get", "qom-set",
        "qom-list-types", "qom-list-properties", "device-list-properties", "device_add",
        "device_del", "DEVICE_DELETED", "human-monitor-command",
        "query-iothreads", "query-chardev", "query-named-block-nodes", "query-block",
        "query-migrate-capabilities", "migrate-set-capabilities", "query-cpu-definitions",
        "query-cpu-model-expansion", "query-command-line-options", "query-tpm-models",
        "query-tpm-types", "query-sev-capabilities", "query-sgx-capabilities",
        "query-balloon", "query-acpi-ospm-status", "query-current-machine",
        "system_wakeup", "SUSPEND", "WAKEUP", "query-dump-guest-memory-capability",
    }
    assert wanted <= names, sorted(wanted - names)


def test_structural_diff_notices_changes() -> None:
    """The comparison is not blind: altered copies of our own answer are told apart."""
    ours = by_name(our_introspection("7.2"))
    assert structural_diff(ours, ours, "query-memdev") == []

    def altered(change: str) -> Entries:
        copy: Entries = json.loads(json.dumps(ours))
        memdev = by_name(our_introspection("7.2", unmask=True))
        masked_ret = copy["query-memdev"]["ret-type"]
        element = copy[copy[masked_ret]["element-type"]]
        assert [m["name"] for m in element["members"]] == [
            m["name"] for m in memdev["Memdev"]["members"]]
        if change == "optional":
            element["members"][1]["default"] = None
        elif change == "rename":
            element["members"][0]["name"] = "ident"
        elif change == "enum":
            policy = copy[element["members"][-1]["type"]]
            policy["values"] = [*policy["values"], "spread"]
            policy["members"] = [*policy["members"], {"name": "spread"}]
        elif change == "type":
            element["members"][1]["type"] = "str"
        return copy

    for change in ("optional", "rename", "enum", "type"):
        assert structural_diff(altered(change), ours, "query-memdev"), change


# -- profile 2.9 against QEMU 2.9's known interface ----------------------------------------


def _members(entries: Entries, type_name: str) -> list[str]:
    return [m["name"] for m in entries[type_name]["members"]]


def test_profile_2_9_commands() -> None:
    names = set(our_entities("2.9"))
    assert {"query-cpus", "query-memdev", "query-hotpluggable-cpus", "query-memory-devices",
            "qmp_capabilities", "object-add", "device_add", "SHUTDOWN"} <= names
    for later in ("query-cpus-fast", "x-query-numa", "query-memory-size-summary",
                  "set-numa-node", "x-exit-preconfig", "DEVICE_UNPLUG_GUEST_ERROR",
                  "qom-list-properties"):
        assert later not in names, later


def test_profile_2_9_types() -> None:
    entries = by_name(our_introspection("2.9", unmask=True))
    assert entries[entries["qmp_capabilities"]["arg-type"]]["members"] == []
    assert entries[entries["SHUTDOWN"]["arg-type"]]["members"] == []
    assert _members(entries, "Memdev") == [
        "id", "size", "merge", "dump", "prealloc", "host-nodes", "policy"]
    assert _members(entries, "MachineInfo") == [
        "name", "alias", "is-default", "cpu-max", "hotpluggable-cpus"]
    assert _members(entries, "CpuInstanceProperties") == [
        "node-id", "socket-id", "core-id", "thread-id"]
    assert entries["MemoryDeviceInfoKind"]["values"] == ["dimm"]
    cpu_info = entries["CpuInfo"]
    assert cpu_info["tag"] == "arch"
    assert _members(entries, "CpuInfo")[:6] == [
        "CPU", "current", "halted", "qom_path", "thread_id", "arch"]
    assert "features" not in entries["MEM_UNPLUG_ERROR"]
    assert "features" not in entries["device_add"]
    # QEMU 2.9 spelled some answers differently from 7.2
    assert _members(entries, "ObjectPropertyInfo") == ["name", "type", "description"]
    assert _members(entries, "ObjectTypeInfo") == ["name"]
    object_add = entries[entries["object-add"]["arg-type"]]
    assert object_add["members"] == [
        {"name": "qom-type", "type": "ObjectType"}, {"name": "id", "type": "str"},
        {"name": "props", "type": "any", "default": None}]
    assert "variants" not in object_add or all(
        v["type"] == "q_empty" for v in object_add["variants"])
    assert "query-events" in entries


def test_profile_2_9_numa_options_and_errors() -> None:
    from qmpnuma.profiles import get_profile, qapi_symbols
    from qmpnuma.qapi.schema import EnumType, Schema

    schema_2_9 = Schema(str(SCHEMA_FILE), qapi_symbols(get_profile("2.9")))
    schema_7_2 = Schema(str(SCHEMA_FILE), qapi_symbols(get_profile("7.2")))

    def values(schema: Schema, name: str) -> list[str]:
        typ = schema.lookup_type(name)
        assert isinstance(typ, EnumType)
        return [v.name for v in typ.values]

    assert values(schema_2_9, "NumaOptionsType") == ["node"]
    assert values(schema_7_2, "NumaOptionsType") == ["node", "dist", "cpu", "hmat-lb",
                                                      "hmat-cache"]
    assert "DeviceEncrypted" in values(schema_2_9, "QapiErrorClass")
    assert values(schema_7_2, "QapiErrorClass") == [
        "GenericError", "CommandNotFound", "DeviceNotActive", "DeviceNotFound",
        "KVMMissingCap"]
    assert schema_2_9.lookup_type("NumaDistOptions") is None
