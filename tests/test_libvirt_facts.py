"""Each profile's recorded interface facts answer as its real binary answers, byte for byte.

`scripts/record_qemu_facts.py` records every static interface answer of a binary (every QOM
type's and device's property list, every CPU model's expansion, the type and option lists, ...)
so that a client's question finds the binary's answer whichever client asks. These tests ask a
random sample of those questions (drawn from the recorded lists themselves, a new sample each
run; `QMPNUMA_FACTS_SEED` repeats one) of qmpnuma with each profile and of the profile's real
binary, and compare the reply lines byte for byte. Names the binary does not know get its
"not found" answers; the recorded texts and lists are checked to be current.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import string
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import Reference
from qmp_endpoints import RawQmp, started

from qmpnuma.facts import (
    crashed_names,
    hmp_help,
    interface_answer,
    profile_facts,
    recorded_cpu_object,
    recorded_replies,
)
from qmpnuma.profiles.registry import get_profile

pytestmark = pytest.mark.qemu
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "record_qemu_facts.py"
#: Questions per kind in one sample (each is asked of both emulators).
SAMPLE = int(os.environ.get("QMPNUMA_FACTS_SAMPLE", "24"))
#: Topologies for the vCPU samples: one logical CPU per package, or several (cores, threads,
#: dies), some slots not present.
SMP = ("1", "2,sockets=2,cores=1,threads=1", "2,sockets=1,cores=2,threads=1",
       "4,sockets=1,cores=2,threads=2", "4,sockets=2,dies=2,cores=1,threads=1",
       "1,maxcpus=2,sockets=1,cores=2")
ARGS = ["-S", "-no-user-config", "-nodefaults", "-display", "none", "-machine", "none,accel=tcg"]


def _recorder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("record_qemu_facts", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rng() -> random.Random:
    seed = int(os.environ.get("QMPNUMA_FACTS_SEED", random.randrange(1 << 30)))
    print(f"\nQMPNUMA_FACTS_SEED={seed}")
    return random.Random(seed)


def _plain(profile: str, name: str) -> Any:
    answer = interface_answer(get_profile(profile), "tcg", "plain", name)
    assert answer is not None, name
    return answer["return"]


def _unknown(rng: random.Random) -> str:
    return "x-" + "".join(rng.choices(string.ascii_lowercase + "-", k=10))


def _questions(profile: str, rng: random.Random) -> Iterator[dict[str, Any]]:
    """A random sample of the interface questions a client may ask of ``profile``'s binary."""
    prof = get_profile(profile)
    types = [entry["name"] for entry in _plain(profile, "qom-list-types")]
    machines = [name for name in types if name.endswith("-machine")]
    for command in ("qom-list-properties", "device-list-properties"):
        crashed = crashed_names(prof, "tcg", command)
        names = rng.sample(types, SAMPLE) + rng.sample(machines, 3) + [_unknown(rng)]
        for name in names:
            if name not in crashed:
                yield {"execute": command, "arguments": {"typename": name}}
    models = [entry["name"] for entry in _plain(profile, "query-cpu-definitions")]
    for model in [*rng.sample(models, SAMPLE // 3), _unknown(rng)]:
        for kind in ("static", "full", "base"):
            yield {"execute": "query-cpu-model-expansion",
                   "arguments": {"type": kind, "model": {"name": model}}}
    yield {"execute": "query-cpu-definitions"}
    yield {"execute": "qom-list-types"}
    for parent in rng.sample(types, 4):
        yield {"execute": "qom-list-types",
               "arguments": {"implements": parent, "abstract": rng.choice((True, False))}}
    options = [entry["option"] for entry in _plain(profile, "query-command-line-options")]
    yield {"execute": "query-command-line-options"}
    for option in [*rng.sample(options, 3), _unknown(rng)]:
        yield {"execute": "query-command-line-options", "arguments": {"option": option}}
    for name in ("query-tpm-models", "query-tpm-types", "query-sev-capabilities",
                 "query-sgx-capabilities", "query-stats-schemas"):
        yield {"execute": name}
    providers = [entry["provider"] for entry in _plain(profile, "query-stats-schemas")]
    for provider in {*providers, rng.choice(("kvm", "cryptodev"))}:
        yield {"execute": "query-stats-schemas", "arguments": {"provider": provider}}
    # The probe's expansions with properties (recorded as exchanges).
    for item in recorded_replies(prof)["probe"]["tcg"]:
        yield {"execute": item["execute"], "arguments": item["arguments"]}


def _replies(command: list[str], requests: list[dict[str, Any]]) -> list[bytes]:
    """The reply line of each request (after `qom-list-types` loaded every module, as a
    client's probe does first)."""
    with started(command, ARGS, fixed=False) as (conn, _, _proc):
        conn.command({"execute": "qmp_capabilities"})
        conn.command({"execute": "qom-list-types", "arguments": {"abstract": True}})
        return [_reply(conn, request) for request in requests]


def _reply(conn: RawQmp, request: dict[str, Any]) -> bytes:
    lines = conn.command(request)
    return lines[-1]


def test_sampled_interface_answers_match_the_binary(
    reference: Reference, rng: random.Random
) -> None:
    requests = list(_questions(reference.profile, rng))
    real = _replies([reference.binary], requests)
    fake = _replies(reference.qmpnuma, requests)
    differing = [
        (request, theirs[:300], ours[:300])
        for request, theirs, ours in zip(requests, real, fake, strict=True) if theirs != ours
    ]
    print(f"\n{reference.profile}: {len(requests) - len(differing)}/{len(requests)} identical")
    assert not differing, differing[:3]


def test_recorded_texts_and_lists_are_current(reference: Reference) -> None:
    """What the printing options print, the device list and HMP's help, as the binary has
    them now."""
    recorder = _recorder()
    prof = get_profile(reference.profile)
    facts = profile_facts(prof, "facts")
    assert facts["command-line-texts"] == recorder.command_line_texts(reference.binary)
    assert facts["device-names"] == recorder.device_names(reference.binary)
    fresh = recorder.hmp_help_texts(reference.binary)
    assert hmp_help(prof) == {k: v.replace("\r\n", "\n") for k, v in fresh.items()}


def test_recorded_probe_exchanges_are_current(reference: Reference) -> None:
    recorder = _recorder()
    fresh = recorder.insertion_order(recorder.probe_replies(reference.binary, "tcg"))
    stored = recorded_replies(get_profile(reference.profile))["probe"]["tcg"]
    assert [json.dumps(item) for item in fresh] == [json.dumps(item) for item in stored]


def test_every_type_has_its_answers(reference: Reference) -> None:
    """The recording is complete: each listed type has both property answers, each CPU
    model each expansion, and the machine types of the profile are among them."""
    prof = get_profile(reference.profile)
    types = [entry["name"] for entry in _plain(reference.profile, "qom-list-types")]
    for command in ("qom-list-properties", "device-list-properties"):
        crashed = crashed_names(prof, "tcg", command)
        assert all(interface_answer(prof, "tcg", command, name) is not None
                   for name in types if name not in crashed), command
    for entry in _plain(reference.profile, "query-cpu-definitions"):
        for kind in ("static", "full"):
            assert interface_answer(prof, "tcg", f"query-cpu-model-expansion/{kind}",
                                    entry["name"]) is not None
    machines = {name.removesuffix("-machine") for name in types if name.endswith("-machine")}
    assert {f"pc-i440fx-{v}" for v in prof.machines.pc_versions} <= machines


def _vcpu_lines(command: list[str], model: str, smp: str, names: list[str]) -> list[bytes]:
    """The first vCPU's `qom-list` and `qom-get` of ``names`` with ``-cpu model -smp smp``."""
    path = "/machine/unattached/device[0]"
    args = ["-S", "-no-user-config", "-nodefaults", "-display", "none", "-machine", "pc",
            "-accel", "tcg", "-cpu", model, "-smp", smp]
    with started(command, args, fixed=False) as (conn, _, _proc):
        conn.command({"execute": "qmp_capabilities"})
        lines = [conn.command({"execute": "qom-list", "arguments": {"path": path}})[-1]]
        for name in names:
            lines.append(conn.command({"execute": "qom-get", "arguments": {
                "path": path, "property": name}})[-1])
        return lines


def test_sampled_vcpu_objects_match_the_binary(reference: Reference, rng: random.Random) -> None:
    """Every CPU model's vCPU is recorded: a random model's property list and a random sample
    of its values (the ones that depend on the model, and on a package of more than one
    logical CPU, among them) answer as the binary's, with a random topology."""
    prof = get_profile(reference.profile)
    models = sorted(profile_facts(prof, "cpu-objects")["models"])
    for model in rng.sample(models, 2):
        recorded = recorded_cpu_object(prof, model)
        assert recorded is not None
        plain = [entry["name"] for entry in recorded["qom-list"]
                 if not entry["type"].startswith(("child<", "link<"))]
        entry = profile_facts(prof, "cpu-objects")["models"][model]
        own = list(entry["qom-get"])
        names = rng.sample(plain, 8) + rng.sample(own, min(8, len(own)))
        names += [*(name for variant in entry["variants"].values() for name in variant), "ht",
                  "feature-words"]
        smp = rng.choice(SMP)
        real = _vcpu_lines([reference.binary], model, smp, names)
        fake = _vcpu_lines(reference.qmpnuma, model, smp, names)
        assert fake == real, (model, smp, [n for n, a, b in zip(["qom-list", *names], fake, real,
                                                         strict=True) if a != b])


#: Topologies that separate "several CPUs present" from "a package of several": one present
#: CPU in a package of two cores (or two dies), and two present CPUs.
APIC_SMP = ("1,maxcpus=2,sockets=1,cores=2", "1,maxcpus=2,sockets=1,dies=2,cores=1", "2")


def test_local_apic_follows_the_cpus_present(reference: Reference, rng: random.Random) -> None:
    """A model without the APIC feature has a ``lapic`` child only when the machine starts with
    several CPUs, whatever its package: models drawn from those whose recorded listing changes
    with the topology (found in the recording, not named here)."""
    prof = get_profile(reference.profile)
    models = profile_facts(prof, "cpu-objects")["models"]
    changing = sorted(name for name, entry in models.items()
                      if any("qom-list" in variant for variant in entry["variants"].values()))
    assert changing, "the recording has models without the APIC feature"
    for model in rng.sample(changing, min(2, len(changing))):
        for smp in APIC_SMP:
            real = _vcpu_lines([reference.binary], model, smp, [])
            fake = _vcpu_lines(reference.qmpnuma, model, smp, [])
            assert fake == real, (model, smp)
