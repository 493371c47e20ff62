"""Generated differential cases for `-device {JSON}`: real QEMU 7.2 and qmpnuma must agree.

QEMU 7.2 keeps a JSON `-device` as a dict and creates it after every `-device k=v`
(``qemu_create_cli_devices``); ``qdev_device_add_from_qdict(..., from_json=true)`` then takes
``driver``, ``bus`` and ``id`` out without checking the id's syntax (a non-string id or bus
counts as absent) and sets each other member through the strict QObject input visitor, so a
member's JSON type must be the property's (``Parameter 'node' expects uint64``, ``Invalid
parameter type for 'unarmed', expected: boolean``), while `-device k=v` reads the same
properties from text. The generator draws random boards (``cmdline_gen.base_case``) and adds
random JSON DIMMs, nvdimms and CPUs whose members take every JSON type, out-of-range numbers,
odd ids, unknown or read-only names and several bad members at once (which one is reported
follows the QDict order), sometimes beside a `-device k=v` sharing an id or a slot. Real QEMU
decides each case; exit status and standard error must be identical.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
from cmdline_gen import base_case
from conftest import Reference
from qemu_runner import Outcome, compare_startups, run_model, run_real, transcript_difference
from qmp_endpoints import normalise, started

from qmpnuma.qobject.hashing import QDICT_BUCKETS, tdb_hash

SEED = 20261203
COUNT = 240
#: How many generated cases must give each kind of answer: the generator must keep reaching
#: the visitor's refusals, the setters' and plug rules' refusals and successful starts.
MINIMUM_PER_ANSWER = 10

#: JSON values that are wrong for most property types, and values that are right for some.
ODD_VALUES: list[Any] = [
    "x", "0", "1", "on", "", "128K", True, False, None, [], [1], {}, {"a": 1}, 1.5, 1e3,
    -1, -(2**31) - 1, 2**31, 2**32, 2**63, 2**64, -(2**63) - 1,
]  # fmt: skip
#: Good values per property (the generator mostly picks one of these).
GOOD_VALUES: dict[str, list[Any]] = {
    "node": [0, 0, 1],
    "slot": [0, 1, -1],
    "addr": [0, 0x100000000, 0x140000000],
    "label-size": [128 << 10, 1 << 20, 2 << 20],
    "unarmed": [True, False],
    "uuid": ["6e9f2c6a-0c3b-4a54-9a2e-0f5b7c1d2e3f", "zz"],
    "socket-id": [0, 1],
    "core-id": [0, 1],
    "thread-id": [0],
    "die-id": [0],
    "node-id": [0, 1],
    "pmu": [True, False],
    "sse4_1": [True],
    "level": [7, 13],
    "model": [6],
    "vendor": ["GenuineIntel"],
    "hv-no-nonarch-coresharing": ["on", "auto"],
    "host-phys-bits-limit": [39],
}
DIMM_KEYS = ("node", "slot", "addr")
NVDIMM_KEYS = (*DIMM_KEYS, "label-size", "unarmed", "uuid")
CPU_KEYS = ("pmu", "sse4_1", "level", "model", "vendor", "hv-no-nonarch-coresharing",
            "host-phys-bits-limit", "die-id", "node-id")  # fmt: skip
#: Names an x86 CPU does not have before realize, or cannot set.
CPU_ODD_KEYS = ("cluster-id", "lapic", "type", "feature-words", "hotplugged", "parent_bus")
IDS: list[Any] = ["d0", "d1", "dimm0", "1x", "", "a/b", "x[*]", "_u", 7, None, True]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz-_") for _ in range(rng.randint(1, 6)))


def _value(rng: random.Random, key: str, odd: float = 0.4) -> Any:
    if key in GOOD_VALUES and rng.random() >= odd:
        return rng.choice(GOOD_VALUES[key])
    return rng.choice(ODD_VALUES)


def _members(
    rng: random.Random, keys: tuple[str, ...], base: dict[str, Any], odd: float
) -> dict[str, Any]:
    """``base`` plus a few of ``keys`` with random values, unknown names and a bus, shuffled;
    ``odd`` is how likely a value is drawn from the odd ones."""
    chosen = dict(base)
    for key in rng.sample(keys, rng.randint(0, min(3, len(keys)))):
        chosen[key] = _value(rng, key, odd)
    if rng.random() < 0.3 * odd:
        chosen[_word(rng)] = rng.choice(ODD_VALUES)
    if rng.random() < 0.2 * odd:
        chosen["bus"] = rng.choice([1, None, [], False])
    if rng.random() < 0.4 * odd:
        chosen["id"] = rng.choice(IDS)
    items = list(chosen.items())
    rng.shuffle(items)
    driver = dict(items).pop("driver")
    members = dict(items)
    if rng.random() < 0.1 * odd:
        members.pop("driver")
    elif rng.random() < 0.08 * odd:
        members["driver"] = rng.choice([1, None, "nosuch"])
    else:
        members["driver"] = driver
    return members


def _dimm(rng: random.Random, index: int, model: str, odd: float) -> dict[str, Any]:
    memdev: Any = f"j{index}"
    if rng.random() < 0.2 * odd:
        memdev = rng.choice([1, None, True, [], "nosuch", ""])
    base = {"driver": model, "memdev": memdev}
    if rng.random() < 0.7:
        base["id"] = f"j{index}"
    return _members(rng, NVDIMM_KEYS if model == "nvdimm" else DIMM_KEYS, base, odd)


def _cpu(rng: random.Random, index: int, odd: float) -> dict[str, Any]:
    base: dict[str, Any] = {"driver": rng.choice(["qemu64-x86_64-cpu"] * 5 + ["max-x86_64-cpu"])}
    for key in ("socket-id", "core-id", "thread-id"):
        if rng.random() < 0.9:
            base[key] = _value(rng, key, odd)
    if rng.random() < 0.5:
        base["id"] = f"c{index}"
    keys = CPU_KEYS + CPU_ODD_KEYS if rng.random() < 0.75 * odd else CPU_KEYS
    return _members(rng, keys, base, odd)


def _as_qemuopts(device: dict[str, Any]) -> str:
    """The same device as ``-device k=v`` (read from text by the keyval visitor): scalars as
    QemuOpts would hold them, members with no text form left out."""
    parts = []
    for key, value in device.items():
        if isinstance(value, bool):
            parts.append(f"{key}={'on' if value else 'off'}")
        elif isinstance(value, int | float | str) and "," not in str(value):
            parts.append(f"{key}={value}")
    return ",".join(parts)


def device_json_case(rng: random.Random) -> list[str]:
    """A random board with one to three devices added, mostly JSON (some the same drawn as
    ``k=v``, for the text reading of the same properties), sometimes a fixed k=v DIMM too."""
    case = base_case(rng)
    pc_like = case.machine.startswith(("pc", "q35"))
    if pc_like and rng.random() < 0.8:
        case.mem_extra = ["slots=4", f"maxmem={case.mem_mib + 4096}M"]
    if pc_like and rng.random() < 0.5:
        case.smp = rng.choice(["1,maxcpus=4", "1,sockets=4,maxcpus=4", "1,cores=2,maxcpus=2"])
        # the base case's CPU assignments were made for its own topology
        case.numa = [",".join(part for part in opt.split(",") if not part.startswith("cpus="))
                     for opt in case.numa if not opt.startswith("cpu,")]
    nvdimm = pc_like and rng.random() < 0.5
    if nvdimm:
        case.machine_props.append("nvdimm=on")
    count = rng.randint(1, 3)
    for index in range(count):
        case.objects.append(f"memory-backend-ram,id=j{index},size={rng.choice([128, 256])}M")
    args = case.argv()
    # one case in four draws only well-typed values, so that devices also get created
    odd = 0.0 if rng.random() < 0.25 else 0.4
    for index in range(count):
        roll = rng.random()
        if roll < 0.3:
            device = _cpu(rng, index, odd)
        else:
            model = "nvdimm" if nvdimm and rng.random() < 0.5 else "pc-dimm"
            device = _dimm(rng, index, model, odd)
        if rng.random() < 0.15 and "driver" in device:
            args += ["-device", _as_qemuopts(device)]
        else:
            args += ["-device", json.dumps(device)]
    if rng.random() < 0.15:
        # a QemuOpts device is created before every JSON one, whatever the order given
        args += ["-device", f"pc-dimm,id={rng.choice(['j0', 'j1', 'k'])},memdev=j0"]
    return args


def generate(seed: int, count: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [device_json_case(rng) for _ in range(count)]


def _answer_kind(outcome: Outcome) -> str:
    """Which stage answered: the visitor, another refusal, or a start."""
    if outcome.status == 0:
        return "started"
    if "expects" in outcome.stderr or "Invalid parameter type" in outcome.stderr:
        return "visitor"
    return "other refusal"


def test_generator_is_reproducible() -> None:
    assert generate(SEED, 20) == generate(SEED, 20)
    assert any("-device" in case for case in generate(SEED, 5))


@pytest.mark.qemu
def test_generated_json_devices_answer_as_qemu(reference: Reference) -> None:
    cases = generate(SEED, COUNT)
    real, diffs = compare_startups(reference.binary, cases, reference.profile)
    kinds = Counter(_answer_kind(outcome) for outcome in real)
    print(f"-device JSON [qemu-{reference.profile}]: {COUNT - len(diffs)}/{COUNT} identical; "
          f"real answers {dict(kinds)}")
    assert not diffs, f"{len(diffs)}/{COUNT} differ:\n" + "\n".join(diffs[:10])
    for kind in ("started", "visitor", "other refusal"):
        assert kinds[kind] >= MINIMUM_PER_ANSWER, kinds


# --- the rules one by one (each also reached by the generator) ------------------------------

_DIMM_BOARD = ["-M", "pc,nvdimm=on", "-m", "1G,slots=4,maxmem=8G",
               "-object", "memory-backend-ram,id=m,size=128M", "-smp", "1,maxcpus=4"]  # fmt: skip
RULE_EXAMPLES: dict[str, dict[str, Any]] = {
    "a string where an unsigned integer belongs": {"driver": "pc-dimm", "memdev": "m", "node": "0"},
    "a string where a signed integer belongs": {"driver": "pc-dimm", "memdev": "m", "slot": "1"},
    "an unsigned integer wider than the property": {"driver": "pc-dimm", "memdev": "m",
                                                    "node": 2**32},
    "a negative unsigned integer wraps, then the setter refuses it": {
        "driver": "nvdimm", "memdev": "m", "label-size": -1},
    "a string where a bool belongs": {"driver": "nvdimm", "memdev": "m", "unarmed": "on"},
    "an integer where a string belongs": {"driver": "nvdimm", "memdev": "m", "uuid": 1},
    "null for a link": {"driver": "pc-dimm", "memdev": None},
    "an id QemuOpts would refuse is a name": {"driver": "pc-dimm", "memdev": "m", "id": "1x"},
    "a non-string id leaves the device anonymous": {"driver": "pc-dimm", "memdev": "m", "id": 7},
    "a non-string driver is no driver": {"driver": 1, "memdev": "m"},
    "a non-string bus is no bus": {"driver": "pc-dimm", "memdev": "m", "bus": 1},
    "a string bus is looked up": {"driver": "pc-dimm", "memdev": "m", "bus": "pci.0"},
    "a CPU id as a string": {"driver": "qemu64-x86_64-cpu", "socket-id": "0", "core-id": 1,
                             "thread-id": 0},
    "a CPU feature flag as a string": {"driver": "qemu64-x86_64-cpu", "socket-id": 0,
                                       "core-id": 1, "thread-id": 0, "pmu": "on"},
    "a CPU property that is not there before realize": {
        "driver": "qemu64-x86_64-cpu", "socket-id": 0, "core-id": 1, "thread-id": 0,
        "cluster-id": 0},
}  # fmt: skip


@pytest.mark.qemu
@pytest.mark.parametrize("rule", list(RULE_EXAMPLES))
def test_json_device_rule(reference: Reference, rule: str) -> None:
    args = [*_DIMM_BOARD, "-device", json.dumps(RULE_EXAMPLES[rule])]
    assert run_model(args, reference.profile) == run_real(reference.binary, args)


def _same_bucket_names(count: int) -> list[str]:
    """Unknown property names that share one QDict bucket (``tdb_hash`` modulo 512)."""
    by_bucket: dict[int, list[str]] = {}
    for first in "abcdefghijklmnopqrstuvwxyz":
        for second in "abcdefghijklmnopqrstuvwxyz":
            name = f"zq{first}{second}"
            names = by_bucket.setdefault(tdb_hash(name) % QDICT_BUCKETS, [])
            names.append(name)
            if len(names) == count:
                return names
    raise AssertionError("no bucket filled")


@pytest.mark.qemu
@pytest.mark.parametrize("form", ["json", "qemuopts"])
def test_several_bad_members_are_reported_in_qdict_order(reference: Reference,
                                                         form: str) -> None:
    # qdev walks a shallow clone of the dict: buckets in order, and inside a bucket the keys
    # in the order they were given (the clone re-inserts them newest first, twice reversed).
    rng = random.Random(SEED)
    names = _same_bucket_names(3)
    for _ in range(6):
        rng.shuffle(names)
        members: dict[str, Any] = {"driver": "pc-dimm", "memdev": "m"}
        members.update({name: "x" for name in names})
        device = json.dumps(members) if form == "json" else _as_qemuopts(members)
        args = [*_DIMM_BOARD, "-device", device]
        real = run_real(reference.binary, args)
        assert real.status == 1
        assert run_model(args, reference.profile) == real


def _qmp_replies(command: list[str], args: list[str], script: list[dict[str, Any]]) -> list[bytes]:
    with started(command, args) as (conn, _greeting, _proc):
        conn.sock.sendall(b'{"execute": "qmp_capabilities"}\n')
        conn.read_line()
        replies = []
        for message in script:
            conn.sock.sendall(json.dumps(message).encode() + b"\n")
            replies.append(normalise(conn.read_line()))
    return replies


@pytest.mark.qemu
def test_device_add_reports_bad_members_in_qdict_order(reference: Reference) -> None:
    # device_add goes through qemu_opts_from_qdict, which walks the arguments in QDict order
    # (newest first inside a bucket) before qdev walks its twice-cloned dict: one reversal left.
    rng = random.Random(SEED)
    script = []
    for _ in range(6):
        names = _same_bucket_names(3)
        rng.shuffle(names)
        arguments: dict[str, Any] = {"driver": "pc-dimm", "memdev": "m"}
        arguments.update({name: rng.choice([1, "x", True]) for name in names})
        script.append({"execute": "device_add", "arguments": arguments})
    real = _qmp_replies([reference.binary], _DIMM_BOARD, script)
    assert all(b"not found" in reply for reply in real)
    assert _qmp_replies(reference.qmpnuma, _DIMM_BOARD, script) == real


# --- device_add over QMP: generated scripts ------------------------------------------------
# QEMU 7.2 turns device_add's arguments into QemuOpts text first (so "1" is a fine node and an
# id must be an identifier); 9.2 and later hand the JSON dict to qdev as -device {JSON} does
# (strict JSON types, any string id). The same generated scripts run on each binary.

#: Boards with DIMM slots and free CPU slots (and microvm, whose hot-plug handler changed).
QMP_BOARDS: list[list[str]] = [
    ["-M", board, "-m", "1G,slots=4,maxmem=8G", "-smp", "1,maxcpus=4",
     "-object", "memory-backend-ram,id=n0,size=512M",
     "-object", "memory-backend-ram,id=n1,size=512M",
     "-numa", "node,memdev=n0", "-numa", "node,memdev=n1"]
    for board in ("pc", "q35")
] + [["-M", "microvm", "-m", "512M", "-smp", "1,maxcpus=2"]]
#: Ids only device_add's text form refuses.
SPACED_IDS = ("x y", "a b", " lead")


def device_add_script(rng: random.Random, board: list[str]) -> list[dict[str, Any]]:
    """Backends, then random DIMM and CPU device_adds (odd JSON types, spaced ids, unknown
    names), device_dels of their ids and of paths that name no device, and the listings."""
    script: list[dict[str, Any]] = [
        {"execute": "object-add", "arguments": {
            "qom-type": "memory-backend-ram", "id": f"j{index}", "size": 128 << 20}}
        for index in range(3)
    ]
    ids: list[Any] = []
    for index in range(rng.randint(4, 9)):
        odd = rng.choice([0.0, 0.4, 0.8])
        device = _cpu(rng, index, odd) if rng.random() < 0.35 else _dimm(
            rng, index % 3, "pc-dimm", odd)
        if rng.random() < 0.25:
            device["id"] = rng.choice(SPACED_IDS)
        ids.append(device.get("id"))
        script.append({"execute": "device_add", "arguments": device})
    for device_id in rng.sample(ids, min(2, len(ids))):
        if isinstance(device_id, str) and device_id:
            script.append({"execute": "device_del", "arguments": {"id": device_id}})
    script += [
        {"execute": "query-memory-devices"},
        {"execute": "query-hotpluggable-cpus"},
        {"execute": "query-cpus-fast"},
        {"execute": "qom-list", "arguments": {"path": "/machine/peripheral"}},
    ]
    if "microvm" not in board:  # QEMU 7.2 aborts on device_del of a path elsewhere
        script.append({"execute": "device_del", "arguments": {
            "id": rng.choice(["/machine/peripheral-anon/device[0]", "/machine/peripheral/j0"])}})
    return script


def _qmp_transcript(command: list[str], board: list[str], script: list[dict[str, Any]]
                    ) -> list[bytes]:
    with started(command, ["-S", *board]) as (conn, _greeting, _proc):
        conn.command({"execute": "qmp_capabilities"})
        lines: list[bytes] = []
        for request in script:
            lines += conn.command(request)
    return [normalise(line) for line in lines]


@pytest.mark.qemu
def test_generated_device_add_answers_as_qemu(reference: Reference) -> None:
    rng = random.Random(SEED + 7)
    cases = [(board, device_add_script(rng, board)) for board in QMP_BOARDS for _ in range(6)]
    failures, compared, identical = [], 0, 0
    added = refused = 0
    for board, script in cases:
        real = _qmp_transcript([reference.binary], board, script)
        ours = _qmp_transcript(reference.qmpnuma, board, script)
        added += real.count(b'{"return": {}}\r\n')
        refused += sum(1 for line in real if line.startswith(b'{"error"'))
        compared += len(real)
        same, failure = transcript_difference(' '.join(board[:2]), real, ours)
        identical += same
        if failure is not None:
            failures.append(failure)
    print(f"qemu-{reference.profile}: {identical}/{compared} device_add reply lines identical")
    # the scripts reach both outcomes: devices created and devices refused
    assert added >= 3 * len(cases) and refused >= len(cases), (added, refused)
    assert not failures, f"{len(failures)}/{len(cases)} differ:\n" + "\n".join(failures)
