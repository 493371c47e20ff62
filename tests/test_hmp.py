"""HMP through `human-monitor-command`, side by side with real QEMU: help, the `info` list,
aliases, the model's `info` texts, and HMP's own errors."""

from __future__ import annotations

from conftest import Reference
from qmp_endpoints import normalise, started

LINES = [
    "help", "?", "help stop", "help s", "help nosuch", "help info", "help info numa",
    "help info nosuch", "info", "info nosuch", "nosuch", "", "   ", "info  numa",
    "info numa x", "q x", "stop x", "s", "info status", "c", "info status", "stop",
    "system_reset", "info status", "info version", "info name", "info uuid", "info kvm",
    "info numa", "info memdev", "info memory-devices", "info memory_size_summary",
    "info hotpluggable-cpus", "info cpus",
]
ARGS = ["-S", "-M", "pc", "-m", "2G,slots=2,maxmem=4G", "-smp", "2,maxcpus=4", "-name", "vm1",
        "-object", "memory-backend-ram,id=m0,size=1G",
        "-object", "memory-backend-ram,id=m1,size=1G",
        "-numa", "node,memdev=m0", "-numa", "node,memdev=m1"]  # fmt: skip


def _transcript(command: list[str]) -> list[bytes]:
    lines: list[bytes] = []
    with started(command, ARGS) as (conn, _greeting, _proc):
        conn.command({"execute": "qmp_capabilities"})
        for line in LINES:
            lines += conn.command(
                {"execute": "human-monitor-command", "arguments": {"command-line": line}}
            )
    return [normalise(line) for line in lines]


def test_hmp_like_qemu(reference: Reference) -> None:
    assert _transcript(reference.qmpnuma) == _transcript([reference.binary])
