"""HMP `info` texts, formatted from the same wire values the QMP queries return.

QEMU's HMP `info memdev`, `info memory-devices`, `info hotpluggable-cpus` and friends call the QMP
query and print its result; doing the same here keeps the two views of the machine from drifting
apart. Every function returns text with plain `\\n` line ends; `human-monitor-command` turns them
into `\\r\\n` as QEMU's monitor does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _bool(value: object) -> str:
    return "true" if value else "false"


def format_int_ranges(values: Iterable[int]) -> str:
    """A uint16 list as QEMU's string output visitor prints it: `0-2,5`, or nothing."""
    ordered = sorted(set(values))
    parts: list[str] = []
    index = 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = ordered[index], ordered[end]
        parts.append(str(first) if first == last else f"{first}-{last}")
        index = end + 1
    return ",".join(parts)


def format_memdev(memdevs: Sequence[Mapping[str, Any]]) -> str:
    """`info memdev`: one block per backend, a blank line after the last."""
    lines: list[str] = []
    for memdev in memdevs:
        lines.append(f"memory backend: {memdev.get('id', '')}")
        lines.append(f"  size:  {memdev['size']}")
        lines.append(f"  merge: {_bool(memdev['merge'])}")
        lines.append(f"  dump: {_bool(memdev['dump'])}")
        lines.append(f"  prealloc: {_bool(memdev['prealloc'])}")
        if "share" in memdev:
            lines.append(f"  share: {_bool(memdev['share'])}")
        if "reserve" in memdev:
            lines.append(f"  reserve: {_bool(memdev['reserve'])}")
        lines.append(f"  policy: {memdev['policy']}")
        lines.append(f"  host nodes: {format_int_ranges(memdev['host-nodes'])}")
    return "".join(line + "\n" for line in lines) + "\n"


def format_memory_devices(devices: Sequence[Mapping[str, Any]]) -> str:
    """`info memory-devices`: the memory devices in address order (``hmp_info_memory_devices``:
    a virtio-mem device's own lines, the DIMMs' for the others)."""
    lines: list[str] = []
    for device in devices:
        data = device["data"]
        lines.append(f'Memory device [{device["type"]}]: "{data.get("id", "")}"')
        if device["type"] == "virtio-mem":
            lines.append(f"  memaddr: 0x{data['memaddr']:x}")
            lines.append(f"  node: {data['node']}")
            lines.append(f"  requested-size: {data['requested-size']}")
            lines.append(f"  size: {data['size']}")
            lines.append(f"  max-size: {data['max-size']}")
            lines.append(f"  block-size: {data['block-size']}")
            lines.append(f"  memdev: {data['memdev']}")
            continue
        lines.append(f"  addr: 0x{data['addr']:x}")
        lines.append(f"  slot: {data['slot']}")
        lines.append(f"  node: {data['node']}")
        lines.append(f"  size: {data['size']}")
        lines.append(f"  memdev: {data['memdev']}")
        lines.append(f"  hotplugged: {_bool(data['hotplugged'])}")
        lines.append(f"  hotpluggable: {_bool(data['hotpluggable'])}")
    return "".join(line + "\n" for line in lines)


def format_memory_size_summary(summary: Mapping[str, Any]) -> str:
    """`info memory_size_summary`."""
    text = f"base memory: {summary['base-memory']}\n"
    if "plugged-memory" in summary:
        text += f"plugged memory: {summary['plugged-memory']}\n"
    return text


CPU_PROP_ORDER = (
    "node-id", "drawer-id", "book-id", "socket-id", "die-id", "cluster-id", "module-id",
    "core-id", "thread-id",
)


def format_hotpluggable_cpus(entries: Sequence[Mapping[str, Any]]) -> str:
    """`info hotpluggable-cpus`: every slot, as the query lists them."""
    lines = ["Hotpluggable CPUs:"]
    for entry in entries:
        lines.append(f'  type: "{entry["type"]}"')
        lines.append(f'  vcpus_count: "{entry["vcpus-count"]}"')
        if "qom-path" in entry:
            lines.append(f'  qom_path: "{entry["qom-path"]}"')
        lines.append("  CPUInstance Properties:")
        props = entry["props"]
        for name in CPU_PROP_ORDER:
            if name in props:
                lines.append(f'    {name}: "{props[name]}"')
    return "".join(line + "\n" for line in lines)


def format_numa(
    nodes: Sequence[tuple[int, Sequence[int], int, int | None]],
) -> str:
    """`info numa` from (node id, CPU indexes, size in bytes, plugged bytes or None).

    The plugged line exists since QEMU 2.11's memory-device accounting; None leaves it out, as
    the 2.9 profile prints no such line.
    """
    lines = [f"{len(nodes)} nodes"]
    for node_id, cpus, size, plugged in nodes:
        lines.append(f"node {node_id} cpus:" + "".join(f" {cpu}" for cpu in cpus))
        lines.append(f"node {node_id} size: {size >> 20} MB")
        if plugged is not None:
            lines.append(f"node {node_id} plugged: {plugged >> 20} MB")
    return "".join(line + "\n" for line in lines)


def format_cpus(cpus: Sequence[Mapping[str, Any]], current: int = 0) -> str:
    """`info cpus`: one line per present CPU, the monitor's current CPU starred."""
    lines = []
    for cpu in cpus:
        mark = "*" if cpu["cpu-index"] == current else " "
        lines.append(f"{mark} CPU #{cpu['cpu-index']}: thread_id={cpu['thread-id']}")
    return "".join(line + "\n" for line in lines)
