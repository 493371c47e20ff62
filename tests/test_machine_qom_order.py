"""The ``/objects`` order (GLib hash table model) behind ``query-memdev``.

Unit cases from the spec's transcripts, then a differential run: a seeded sequence of
``object-add`` / ``object-del`` (including adds that fail during completion, which leave a
tombstone) against the real QEMU over QMP, comparing the ``query-memdev`` id order after each step.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import tempfile
import time
from typing import Any

from conftest import Reference

from qmpnuma.errors import MachineError
from qmpnuma.machine import Machine
from qmpnuma.machine.qom_order import ObjectsContainer
from qmpnuma.qobject.hashing import GHashTableModel, g_str_hash

MiB = 1 << 20


def test_g_str_hash_signed_chars() -> None:
    assert g_str_hash("") == 5381
    assert g_str_hash("a") == (5381 * 33 + 97) & 0xFFFFFFFF
    # bytes >= 0x80 count as negative chars
    assert g_str_hash("\u00e9") == ((5381 * 33 + (0xC3 - 256)) * 33 + (0xA9 - 256)) & 0xFFFFFFFF


def test_spec_examples() -> None:
    objects = ObjectsContainer()
    for name in ("m0", "m1"):
        objects.add(name)
    assert objects.listing_order() == ["m1", "m0"]
    objects.add("hp0")
    assert objects.listing_order() == ["m1", "hp0", "m0"]
    other = ObjectsContainer()
    for name in ("f0", "mf0", "r0"):
        other.add(name)
    assert other.listing_order() == ["r0", "f0", "mf0"]


def test_tombstones_and_resizes_keep_every_key() -> None:
    table = GHashTableModel()
    names = [f"obj{i}" for i in range(200)]
    for name in names:
        table.insert(name)
    for name in names[::3]:
        table.remove(name)
    remaining = set(names) - set(names[::3])
    assert set(table.keys()) == remaining
    assert len(table) == len(remaining)
    assert all(name in table for name in remaining)
    assert "obj0" not in table


class _Qmp:
    """A minimal blocking QMP client for the reference run."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        for _ in range(100):
            try:
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        self.file = self.sock.makefile("rwb")
        self.file.readline()
        self.call("qmp_capabilities")

    def call(self, name: str, **args: Any) -> dict[str, Any]:
        self.file.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.file.flush()
        while True:
            reply: dict[str, Any] = json.loads(self.file.readline())
            if "event" not in reply:
                return reply


def _steps(seed: int, count: int) -> list[tuple[str, str, dict[str, Any]]]:
    rng = random.Random(seed)
    live: list[str] = []
    steps: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(count):
        if live and rng.random() < 0.35:
            name = rng.choice(live)
            live.remove(name)
            steps.append(("del", name, {}))
        elif rng.random() < 0.15:
            steps.append(("add", f"bad{i}", {"size": MiB, "policy": "bind"}))
        else:
            name = rng.choice(["m", "hp", "mem", "x", "backend-"]) + str(i)
            live.append(name)
            steps.append(("add", name, {"size": MiB}))
    return steps


def test_order_matches_qemu_after_adds_and_deletes(reference: Reference) -> None:
    steps = _steps(20261127, 80)
    model = Machine.from_argv(["-M", "pc", "-m", "128M", "-S"], profile=reference.profile)
    with tempfile.TemporaryDirectory(prefix="qmpnuma-qom-") as tmp:
        sock = os.path.join(tmp, "qmp.sock")
        proc = subprocess.Popen(
            [reference.binary, "-accel", "tcg", "-nodefaults", "-display", "none", "-S", "-M", "pc",
             "-m", "128M", "-qmp", f"unix:{sock},server=on,wait=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            qmp = _Qmp(sock)
            for action, name, props in steps:
                if action == "add":
                    real = qmp.call("object-add", **{"qom-type": "memory-backend-ram",
                                                     "id": name, **props})
                    try:
                        model.add_backend("memory-backend-ram", name, props)
                        assert "return" in real, real
                    except MachineError as err:
                        assert real["error"]["desc"] == err.message
                else:
                    assert "return" in qmp.call("object-del", id=name)
                    model.del_backend(name)
                real_ids = [m["id"] for m in qmp.call("query-memdev")["return"]]
                assert [m["id"] for m in model.query_memdev()] == real_ids
        finally:
            proc.kill()
            proc.wait()
