"""Interface queries answered from the profile recorded from the real QEMU 7.2 binary.

QOM type lists, device and object property lists, CPU model definitions and expansions, the
command-line option table, TPM lists and the SEV/SGX answers describe the binary, not the
machine: they are facts of QEMU's interface that `scripts/record_qemu_facts.py` stores in
`qmpnuma/data/qemu-7.2-replies.json`. Nothing here touches NUMA or memory; those answers come
from the model. The answers depend on the accelerator QEMU ended up with, so they are recorded
per accelerator and looked up with the machine's.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from qmpnuma.commands.machine_facts import accelerator
from qmpnuma.commands.registry import CommandContext, command
from qmpnuma.errors import QmpError
from qmpnuma.facts import device_model_names, recorded_replies
from qmpnuma.machine import Machine

#: Commands whose answers come only from the recording.
RECORDED_COMMANDS = (
    "qom-list-types", "query-cpu-definitions", "query-tpm-models", "query-tpm-types",
    "query-command-line-options", "query-sev-capabilities", "query-sgx-capabilities",
    "device-list-properties", "qom-list-properties", "query-cpu-model-expansion",
)


def request_key(name: str, arguments: dict[str, Any] | None) -> str:
    """A stable key for one request: the name and the arguments with sorted members."""
    return json.dumps([name, arguments or {}], sort_keys=True, separators=(",", ":"))


@cache
def _exchanges(accel: str) -> dict[str, dict[str, Any]]:
    """The recorded exchanges of ``accel`` by request key."""
    table: dict[str, dict[str, Any]] = {}
    for item in recorded_replies()["probe"].get(accel, []):
        table[request_key(item["execute"], item.get("arguments"))] = item
    return table


def recorded_accelerator(machine: Machine) -> str:
    """The accelerator whose recording stands for this machine.

    QEMU takes the first usable accelerator of `accel=kvm:tcg`; KVM counts as usable when the
    host offers it and the recording has its answers, otherwise TCG answers, as QEMU falls back.
    """
    wanted = accelerator(machine)
    recorded_kvm = bool(recorded_replies()["probe"].get("kvm"))
    kvm_ok = recorded_kvm and os.access("/dev/kvm", os.R_OK | os.W_OK)
    if wanted == "kvm" and kvm_ok:
        return "kvm"
    return "tcg"


def recorded_answer(machine: Machine, name: str, arguments: dict[str, Any] | None) -> Any:
    """The recorded answer to a request: its return value, or its error raised as `QmpError`.

    Raises `KeyError` when the recording has no such request.
    """
    item = _exchanges(recorded_accelerator(machine))[request_key(name, arguments)]
    if "error" in item:
        raise QmpError(item["error"]["class"], item["error"]["desc"])
    return item["return"]


def _plain(ctx: CommandContext, name: str) -> Any:
    try:
        return recorded_answer(ctx.machine, name, None)
    except KeyError:
        raise QmpError("GenericError", f"qmpnuma has no recorded answer for {name}") from None


@command("qom-list-types")
def qom_list_types(ctx: CommandContext, args: dict[str, Any]) -> Any:
    types: list[dict[str, Any]] = _plain(ctx, "qom-list-types")
    if not args:
        return types
    # Filtering by `implements`/`abstract` needs the type hierarchy, which the recorded list
    # (with each type's parent) holds.
    parents = {entry["name"]: entry.get("parent") for entry in types}
    implements = args.get("implements")
    if implements is not None and implements not in parents:
        return []
    out = []
    for entry in types:
        if implements is not None:
            cursor: str | None = entry["name"]
            while cursor is not None and cursor != implements:
                cursor = parents.get(cursor)
            if cursor is None:
                continue
        if not args.get("abstract", False) and entry.get("abstract", False):
            continue
        out.append(entry)
    return out


@command("query-cpu-definitions")
def query_cpu_definitions(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return _plain(ctx, "query-cpu-definitions")


@command("query-tpm-models")
def query_tpm_models(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return _plain(ctx, "query-tpm-models")


@command("query-tpm-types")
def query_tpm_types(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return _plain(ctx, "query-tpm-types")


@command("query-sev-capabilities")
def query_sev_capabilities(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return _plain(ctx, "query-sev-capabilities")


@command("query-sgx-capabilities")
def query_sgx_capabilities(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return _plain(ctx, "query-sgx-capabilities")


@command("query-command-line-options")
def query_command_line_options(ctx: CommandContext, args: dict[str, Any]) -> Any:
    options: list[dict[str, Any]] = _plain(ctx, "query-command-line-options")
    wanted = args.get("option")
    if wanted is None:
        return options
    chosen = [entry for entry in options if entry["option"] == wanted]
    if not chosen:
        raise QmpError("GenericError", f"invalid option name: {wanted}")
    return chosen


@command("device-list-properties")
def device_list_properties(ctx: CommandContext, args: dict[str, Any]) -> Any:
    typename = args["typename"]
    try:
        return recorded_answer(ctx.machine, "device-list-properties", {"typename": typename})
    except KeyError:
        pass
    if typename not in device_model_names():
        raise QmpError("DeviceNotFound", f"Device '{typename}' not found") from None
    raise QmpError("GenericError", f"qmpnuma has no recorded properties for device {typename}")


@command("qom-list-properties")
def qom_list_properties(ctx: CommandContext, args: dict[str, Any]) -> Any:
    typename = args["typename"]
    try:
        return recorded_answer(ctx.machine, "qom-list-properties", {"typename": typename})
    except KeyError:
        pass
    known = {entry["name"] for entry in _plain(ctx, "qom-list-types")}
    if typename not in known:
        raise QmpError("DeviceNotFound", f"Class '{typename}' not found") from None
    raise QmpError("GenericError", f"qmpnuma has no recorded properties for type {typename}")


@command("query-cpu-model-expansion")
def query_cpu_model_expansion(ctx: CommandContext, args: dict[str, Any]) -> Any:
    try:
        return recorded_answer(ctx.machine, "query-cpu-model-expansion", args)
    except KeyError:
        raise QmpError(
            "GenericError", "qmpnuma has no recorded expansion for this CPU model request"
        ) from None
