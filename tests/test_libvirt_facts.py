"""The recorded profile still matches the real QEMU 7.2, answers and member order alike.

`scripts/record_qemu_facts.py` stores QEMU's answers with every object's members in an order
that makes qmpnuma's writer print them exactly as QEMU prints them; libvirt caches what it reads,
so both the values and the bytes matter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from qmpnuma.facts import recorded_replies
from qmpnuma.qobject.json_writer import encode

pytestmark = pytest.mark.qemu
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "record_qemu_facts.py"


def _recorder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("record_qemu_facts", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raw_replies(qemu: str, requests: list[dict[str, Any]]) -> list[bytes]:
    """QEMU's reply lines, byte for byte, to ``requests`` on `-machine none,accel=tcg`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "q.sock")
        proc = subprocess.Popen(
            [qemu, "-S", "-no-user-config", "-nodefaults", "-display", "none",
             "-machine", "none,accel=tcg", "-qmp", f"unix:{path},server=on,wait=off"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            sock = socket.socket(socket.AF_UNIX)
            for _ in range(200):
                try:
                    sock.connect(path)
                    break
                except OSError:
                    time.sleep(0.05)
            stream = sock.makefile("rb")
            stream.readline()
            sock.sendall(b'{"execute":"qmp_capabilities"}')
            stream.readline()
            lines = []
            for request in requests:
                sock.sendall(json.dumps(request).encode())
                lines.append(stream.readline())
            sock.close()
            return lines
        finally:
            proc.kill()
            proc.wait()


def _stored(name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    key = json.dumps([name, arguments or {}], sort_keys=True)
    for item in recorded_replies()["probe"]["tcg"]:
        if json.dumps([item["execute"], item.get("arguments", {})], sort_keys=True) == key:
            return {k: v for k, v in item.items() if k in ("return", "error")}
    raise KeyError(key)


def test_recorded_answers_print_as_qemu_prints_them(qemu_binary: str) -> None:
    requests: list[dict[str, Any]] = [
        {"execute": "query-cpu-model-expansion",
         "arguments": {"type": "static", "model": {"name": "max"}}},
        {"execute": "device-list-properties", "arguments": {"typename": "pc-dimm"}},
        {"execute": "qom-list-properties", "arguments": {"typename": "memory-backend-file"}},
        {"execute": "query-sgx-capabilities"},
        {"execute": "query-tpm-models"},
    ]
    raw = _raw_replies(qemu_binary, requests)
    for request, line in zip(requests, raw, strict=True):
        stored = _stored(request["execute"], request.get("arguments"))
        assert encode(stored) == line, request


def test_recorded_profile_is_current(qemu_binary: str) -> None:
    recorder = _recorder()
    fresh = recorder.insertion_order(recorder.probe_replies(qemu_binary, "tcg"))
    stored = recorded_replies()["probe"]["tcg"]
    assert len(fresh) == len(stored)
    for new, old in zip(fresh, stored, strict=True):
        assert new == old, new["execute"]
