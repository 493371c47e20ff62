"""Differential suite: `device_add` of a generated sample of QOM type names on a running pc or
q35, against the real binary of each profile.

The names are drawn from the binary's recorded `qom-list-types` (devices and not, abstract and
not) plus made-up ones; each is added with no property, which reaches `qdev_get_device_class`
and the bus/hot-plug checks of `qdev_device_add_from_qdict` before any property check. The
suite reports every reply compared and asserts identity for the refusals these rules decide
(no device model, abstract, not user-creatable, a system-bus type the board does not allow,
a non-hot-pluggable class the type tree places, a bus without hot-plug): wherever the real
binary or qmpnuma answers with one of them, the other must answer the same line - except
where the facts cannot decide: a user-creatable leaf class that clears ``hotpluggable`` on
its own, and an abstract type of a not yet loaded module (QEMU does not find it).
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

from conftest import Reference
from qmp_endpoints import started

from qmpnuma.facts import device_model_names
from qmpnuma.machine.device_types import _type_tree
from qmpnuma.profiles.registry import get_profile

SEED = 11034
SAMPLE = 150
RULE_TEXTS = ("is not a valid device model name", "expects a non-abstract device type",
              "expects a pluggable device type", "does not support hotplugging")
#: What the type tree cannot tell: a user-creatable class that sets ``hotpluggable`` false
#: (7.2 refuses it as not pluggable, 10.0 as ``Device '%s' does not support hotplugging``).
CLASS_FLAG_TEXTS = ("expects a pluggable device type", "Device '")


def drivers(profile: str) -> list[str]:
    names = sorted(_type_tree(get_profile(profile)))
    rng = random.Random(SEED)
    return [*rng.sample(names, SAMPLE), f"no-such-device-{rng.randint(0, 999)}"]


def _replies(command: list[str], board: str, names: list[str]) -> list[str]:
    out = []
    with started(command, ["-M", board]) as (conn, _greeting, _proc):
        conn.command({"execute": "qmp_capabilities"})
        for name in names:
            out.append(conn.command({"execute": "device_add",
                                     "arguments": {"driver": name}})[-1].decode())
    return out


def test_device_add_type_refusals_identical(reference: Reference) -> None:
    names = drivers(reference.profile)
    creatable = device_model_names(get_profile(reference.profile))
    jobs = [(cmd, board) for board in ("pc", "q35")
            for cmd in ([reference.binary], reference.qmpnuma)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda job: _replies(job[0], job[1], names), jobs))
    failures = []
    identical = compared = 0
    for index in (0, 2):
        board = jobs[index][1]
        for name, real, mine in zip(names, answers[index], answers[index + 1], strict=True):
            compared += 1
            identical += real == mine
            real_desc = json.loads(real).get("error", {}).get("desc", "")
            mine_desc = json.loads(mine).get("error", {}).get("desc", "")
            flag = name in creatable and any(text in real_desc for text in CLASS_FLAG_TEXTS)
            # an abstract type from a module QEMU has not loaded yet is not found at all
            unloaded = "non-abstract" in mine_desc and "not a valid" in real_desc
            decided = not flag and not unloaded and any(
                text in desc for desc in (real_desc, mine_desc) for text in RULE_TEXTS)
            if decided and real != mine:
                failures.append(f"{board} {name}:\n  qemu:    {real!r}\n  qmpnuma: {mine!r}")
    print(f"qemu-{reference.profile}: {identical}/{compared} device_add replies identical")
    assert not failures, "\n".join(failures)
