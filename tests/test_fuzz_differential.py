"""Differential fuzzing: seeded random requests (mostly with wrong, missing or odd arguments) sent
to the real QEMU 7.2 and to qmpnuma on the same command line; every reply must be the same bytes.

The commands left out answer differently by design or are not modelled yet (listed below, with
why); everything else, including every argument-checking error text, must match.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import tempfile
from collections.abc import Sequence

from conftest import Reference
from qmp_endpoints import connect_unix

from qmpnuma.profiles import wire_types

FULL = os.environ.get("QMPNUMA_LOAD_SCALE") == "full"
COUNT = 3000 if FULL else 300
FIXED = ["-accel", "tcg", "-nodefaults", "-display", "none"]
ARGS = [
    "-M", "pc", "-m", "2G,slots=2,maxmem=4G", "-smp", "2,maxcpus=4", "-S",
    "-object", "memory-backend-ram,id=m0,size=1G", "-object", "memory-backend-ram,id=m1,size=1G",
    "-numa", "node,nodeid=0,memdev=m0", "-numa", "node,nodeid=1,memdev=m1",
]
#: Commands that change the machine (the run would diverge after a difference) or end it.
CHANGING = {
    "quit", "system_reset", "system_powerdown", "system_wakeup", "stop", "cont", "device_add",
    "device_del", "object-add", "object-del", "qom-set", "x-exit-preconfig", "set-numa-node",
    "migrate-set-capabilities", "qmp_capabilities",
}
#: Commands whose replies differ on purpose or are not modelled yet.
DIFFERENT = {
    "query-qmp-schema": "qmpnuma introspects only the commands it serves",
    "query-commands": "likewise",
    "query-chardev": "names the monitor socket path, which differs between the two runs",
    "query-command-line-options": "recorded option table, not compared here",
    "query-current-machine": "in the schema, no handler yet",
    "query-dump-guest-memory-capability": "in the schema, no handler yet",
    "query-acpi-ospm-status": "in the schema, no handler yet",
}
NAMES = ["id", "path", "property", "typename", "abstract", "implements", "command-line", "model",
         "type", "name", "value", "cpu-index", "filter", "option"]
TEXTS = ["", "x", "/machine", "/machine/unattached", "/machine/peripheral", "m0", "pc-dimm",
         "memory-backend-ram", "info numa", "info memdev", "info status", "info cpus",
         "info hotpluggable-cpus", "info memory-devices", "full", "static", "qemu64"]


def _value(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.3:
        return rng.choice([True, False])
    if roll < 0.45:
        return rng.choice([0, 1, -1, 2**63, 2**64, 1.5, 42])
    if roll < 0.75 or depth >= 2:
        return rng.choice(TEXTS)
    if roll < 0.87:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 2))]
    return {rng.choice(NAMES): _value(rng, depth + 1) for _ in range(rng.randint(0, 2))}


def _requests(seed: int, count: int, profile: str) -> list[bytes]:
    rng = random.Random(seed)
    commands = [c for c in sorted(wire_types(profile).COMMANDS)
                if c not in CHANGING and c not in DIFFERENT]
    out = []
    for ident in range(count):
        message: dict[str, object] = {"execute": rng.choice(commands), "id": ident}
        if rng.random() < 0.8:
            message["arguments"] = {
                rng.choice(NAMES): _value(rng) for _ in range(rng.randint(0, 3))
            }
        out.append(json.dumps(message).encode() + b"\n")
    return out


def _replies(argv: Sequence[str], requests: list[bytes]) -> list[bytes]:
    with tempfile.TemporaryDirectory(prefix="qmpnuma-dfuzz-") as tmp:
        path = os.path.join(tmp, "q.sock")
        proc = subprocess.Popen([*argv, "-qmp", f"unix:{path},server=on,wait=off"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with connect_unix(path, proc) as sock:  # listening, not only bound
                sock.settimeout(20)
                stream = sock.makefile("rwb")
                stream.readline()
                stream.write(b'{"execute": "qmp_capabilities"}\n')
                stream.flush()
                stream.readline()
                replies = []
                for request in requests:
                    stream.write(request)
                    stream.flush()
                    line = stream.readline()
                    while line.startswith(b'{"timestamp"'):
                        line = stream.readline()
                    replies.append(re.sub(rb'"thread-id": \d+', b'"thread-id": 0', line))
                return replies
        finally:
            proc.kill()
            proc.wait()


def test_random_requests_answer_like_qemu(reference: Reference) -> None:
    requests = _requests(20261127, COUNT, reference.profile)
    real = _replies([reference.binary, *FIXED, *ARGS], requests)
    ours = _replies([*reference.qmpnuma, *FIXED, *ARGS], requests)
    differences = [
        f"{request.decode().strip()}\n  qemu:    {want!r}\n  qmpnuma: {got!r}"
        for request, want, got in zip(requests, real, ours, strict=True) if want != got
    ]
    errors = sum(1 for line in real if b'"error"' in line)
    print(f"\ndifferential fuzz: {len(requests)} requests, {errors} error replies,"
          f" {len(differences)} different")
    assert not differences, "\n".join(differences[:10])
    assert errors > len(requests) // 3  # the run exercises argument checking, not just answers
