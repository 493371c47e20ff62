"""Differential QOM suite for vCPU objects: `qom-list`, `qom-get`, `qom-set` against QEMU 7.2.

The machines and the requests are drawn from a seed: machine type, CPU model, `-smp` shape,
which vCPU properties a script reads and writes and with which values (the current value, a
value in or out of the setter's range, a value of the wrong JSON type), on boot vCPUs
(`/machine/unattached/device[0]`, also as a partial path) and on a hot-plugged one
(`/machine/peripheral/ID`). Every reply line must equal real QEMU's byte for byte.

`realized` is left out on purpose: setting it to false unrealizes the CPU in QEMU, which the
model does not do.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import Reference
from qemu_runner import compare_transcripts
from qmp_endpoints import normalise, started

from qmpnuma.commands.cpu_object import INTEGER_RANGES, _recorded_cpu
from qmpnuma.profiles.registry import get_profile

SEED = 10310
CASES = 12
MACHINES = ("pc", "q35", "pc-i440fx-7.2", "pc-q35-7.0")
CPU_MODELS = ("qemu64", "max")
SMP = ("1,maxcpus=2", "2,maxcpus=4,sockets=2,cores=2", "2,sockets=1,cores=2,threads=1,maxcpus=2",
       "1,maxcpus=3,sockets=3", "4,maxcpus=8,sockets=2,cores=2,threads=2")
WRITABLE = ("family", "model", "stepping", "tsc-frequency", "vendor", "model-id",
            "start-powered-off")


def _values(rng: random.Random, name: str, current: Any) -> list[Any]:
    """Values worth trying for ``name``: its own, a fitting one, a wrong one, a wrong type."""
    out: list[Any] = [current]
    if name in INTEGER_RANGES:
        low, high = INTEGER_RANGES[name]
        out += [rng.randint(low, min(high, 1 << 20)), high + rng.randint(1, 9), -1, "7"]
    elif name == "vendor":
        out += ["GenuineIntel", "AuthenticAMD", "short", 12]
    elif name == "model-id":
        out += [f"cpu {rng.randint(0, 99)}", 5]
    elif isinstance(current, bool):
        out += [not current, 1, "on"]
    elif isinstance(current, int):
        out += [current + 1, True, "x"]
    else:
        out += [rng.choice([0, "x", False])]
    return out


def _cpu_requests(
    rng: random.Random, path: str, cpu_type: str, profile: str
) -> list[dict[str, Any]]:
    """Requests on the vCPU at ``path``, drawn from the properties ``profile``'s binary has."""
    recorded = _recorded_cpu(get_profile(profile), cpu_type)
    plain = [
        entry["name"] for entry in recorded["qom-list"]
        if not entry["type"].startswith(("child<", "link<")) and entry["name"] != "realized"
    ]
    names = rng.sample(plain, 6) + rng.sample(WRITABLE, 3) + ["type", "hotplugged", "nosuch"]
    requests: list[dict[str, Any]] = [{"execute": "qom-list", "arguments": {"path": path}}]
    for name in names:
        current = recorded["qom-get"].get(name, {}).get("return", 0)
        for value in rng.sample(_values(rng, name, current), 2):
            requests.append({"execute": "qom-set", "arguments": {
                "path": path, "property": name, "value": value}})
        requests.append({"execute": "qom-get", "arguments": {"path": path, "property": name}})
    return requests


def cases() -> list[tuple[list[str], int]]:
    rng = random.Random(SEED)
    out = []
    for index in range(CASES):
        args = ["-M", rng.choice(MACHINES), "-cpu", rng.choice(CPU_MODELS),
                "-smp", rng.choice(SMP), "-m", "1G"]
        out.append((args, SEED + index))
    return out


def _session(
    command: list[str], profile: str, args: list[str], seed: int
) -> Iterator[bytes]:
    rng = random.Random(seed)
    cpu_type = f"{args[args.index('-cpu') + 1]}-x86_64-cpu"
    with started(command, ["-S", *args]) as (conn, _greeting, _proc):
        yield from conn.command({"execute": "qmp_capabilities"})
        first = "/machine/unattached/device[0]"
        for request in _cpu_requests(rng, rng.choice([first, "device[0]"]), cpu_type,
                                     profile):
            yield from conn.command(request)
        lines = conn.command({"execute": "query-hotpluggable-cpus"})
        yield from lines
        free = [e for e in json.loads(lines[-1])["return"] if "qom-path" not in e]
        if free:
            slot = rng.choice(free)
            yield from conn.command({"execute": "device_add", "arguments": {
                "driver": slot["type"], "id": "vcpu-hp", **slot["props"]}})
            path = rng.choice(["/machine/peripheral/vcpu-hp", "vcpu-hp"])
            for request in _cpu_requests(rng, path, cpu_type, profile):
                yield from conn.command(request)
            yield from conn.command({"execute": "qom-list",
                                     "arguments": {"path": "/machine/peripheral"}})


def _transcript(
    command: list[str], profile: str, case: tuple[list[str], int]
) -> list[bytes]:
    return [normalise(line) for line in _session(command, profile, *case)]


def test_vcpu_qom_replies_identical(reference: Reference) -> None:
    chosen = cases()
    with ThreadPoolExecutor(max_workers=2) as pool:
        real = list(pool.map(
            lambda c: _transcript([reference.binary], reference.profile, c), chosen))
        mine = list(pool.map(
            lambda c: _transcript(reference.qmpnuma, reference.profile, c), chosen))
    compared, identical, failures = compare_transcripts(
        [(" ".join(args), ref, ours)
         for (args, _seed), ref, ours in zip(chosen, real, mine, strict=True)])
    print(f"qemu-{reference.profile}: {len(chosen)} machines, {identical}/{compared} reply lines"
          " identical")
    assert compared > 20 * len(chosen)
    assert not failures, "\n".join(failures)
