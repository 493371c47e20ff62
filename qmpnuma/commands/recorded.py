"""Interface queries answered from the facts recorded from the profile's own QEMU binary.

QOM type lists, QOM and device property lists, CPU model definitions and expansions, the
command-line option table, TPM lists and the SEV/SGX answers describe the binary, not the
machine: they are facts of QEMU's interface that `scripts/record_qemu_facts.py` records
completely (every type, every device, every CPU model) into the profile's ``interface`` file,
so that a client's question finds the answer that binary gives, whichever client asks. A name
the binary does not know gets the binary's own "not found" answer. Nothing here touches NUMA or
memory; those answers come from the model. The answers depend on the accelerator QEMU ended up
with, so they are recorded per accelerator and looked up with the machine's.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from qmpnuma.commands.machine_facts import accelerator
from qmpnuma.commands.registry import CommandContext, command
from qmpnuma.errors import QmpError
from qmpnuma.facts import (
    BASE_ACCELERATOR,
    crashed_names,
    interface_answer,
    interface_names,
    not_found_answer,
    recorded_accelerators,
    recorded_replies,
)
from qmpnuma.machine import Machine
from qmpnuma.profiles.profile import Profile

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
def _exchanges(profile: Profile, accel: str) -> dict[str, dict[str, Any]]:
    """The recorded probe exchanges (CPU expansions with properties) of ``accel``."""
    table: dict[str, dict[str, Any]] = {}
    for item in recorded_replies(profile)["probe"].get(accel, []):
        table[request_key(item["execute"], item.get("arguments"))] = item
    return table


def recorded_accelerator(machine: Machine) -> str:
    """The accelerator whose recording stands for this machine.

    QEMU takes the first usable accelerator of `accel=kvm:tcg`; KVM counts as usable when the
    host offers it and the recording has its answers, otherwise TCG answers, as QEMU falls back.
    """
    wanted = accelerator(machine)
    if wanted == BASE_ACCELERATOR or wanted not in recorded_accelerators(machine.profile):
        return BASE_ACCELERATOR
    if wanted == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return BASE_ACCELERATOR
    return wanted


def _answer(reply: dict[str, Any]) -> Any:
    """The return value of a recorded reply, or its error raised as `QmpError`."""
    if "error" in reply:
        raise QmpError(reply["error"]["class"], reply["error"]["desc"])
    return reply["return"]


def recorded_answer(machine: Machine, table: str, name: str) -> Any:
    """The recorded answer to the question of ``table`` about ``name`` (the binary's "not
    found" answer for a name it did not know)."""
    accel = recorded_accelerator(machine)
    reply = interface_answer(machine.profile, accel, table, name)
    if reply is None:
        reply = not_found_answer(machine.profile, accel, table, name)
    return _answer(reply)


def recorded_plain(machine: Machine, name: str) -> Any:
    """The recorded answer of the argument-less query ``name``."""
    reply = interface_answer(machine.profile, recorded_accelerator(machine), "plain", name)
    if reply is None:
        raise QmpError("GenericError", f"qmpnuma has no recorded answer for {name}")
    return _answer(reply)


def _plain(ctx: CommandContext, name: str) -> Any:
    return recorded_plain(ctx.machine, name)


@command("qom-list-types")
def qom_list_types(ctx: CommandContext, args: dict[str, Any]) -> Any:
    """``qmp_qom_list_types``: the recording holds every type (asked with ``abstract``), each
    with its parent, in the order QEMU walks its type table; a request filters it. A type
    implements its ancestors and the interfaces the recording lists it under."""
    types: list[dict[str, Any]] = _plain(ctx, "qom-list-types")
    parents = {entry["name"]: entry.get("parent") for entry in types}
    implements = args.get("implements")
    if implements is not None and implements not in parents:
        return []
    interface = None
    if implements is not None:
        names = interface_names(ctx.machine.profile, recorded_accelerator(ctx.machine),
                                "implementors", implements)
        interface = None if names is None else frozenset(names)
    out = []
    for entry in types:
        if interface is not None:
            if entry["name"] not in interface:
                continue
        elif implements is not None:
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


def _type_properties(ctx: CommandContext, table: str, typename: str) -> Any:
    if typename in crashed_names(ctx.machine.profile, recorded_accelerator(ctx.machine), table):
        # The real binary aborts on this question; qmpnuma answers instead of dying.
        raise QmpError("GenericError", f"QEMU aborts when asked {table} of {typename}")
    return recorded_answer(ctx.machine, table, typename)


@command("device-list-properties")
def device_list_properties(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return _type_properties(ctx, "device-list-properties", args["typename"])


@command("qom-list-properties")
def qom_list_properties(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return _type_properties(ctx, "qom-list-properties", args["typename"])


@command("query-cpu-model-expansion")
def query_cpu_model_expansion(ctx: CommandContext, args: dict[str, Any]) -> Any:
    """A model by name alone: its recorded expansion of that type (or the binary's answer for
    an unknown model or type); with properties: the probe's recorded exchange."""
    model = args["model"]
    if "props" not in model:
        return recorded_answer(ctx.machine, f"query-cpu-model-expansion/{args['type']}",
                               model["name"])
    item = _exchanges(ctx.machine.profile, recorded_accelerator(ctx.machine)).get(
        request_key("query-cpu-model-expansion", args))
    if item is None:
        raise QmpError(
            "GenericError", "qmpnuma has no recorded expansion for this CPU model request"
        )
    return _answer(item)
