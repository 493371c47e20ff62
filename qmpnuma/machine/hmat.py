"""HMAT (``-numa hmat-lb`` / ``-numa hmat-cache``): latency, bandwidth and memory-side caches.

QEMU 7.2's ``numa.c`` (``parse_numa_hmat_lb``, ``parse_numa_hmat_cache``) checks each entry
against the nodes declared so far and against the entries already given, and compresses each
latency/bandwidth table into a base and 16-bit entries; an entry that does not fit is refused.
The functions here keep those tables for :class:`~qmpnuma.machine.numa.NumaConfig`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from qmpnuma.errors import OptionError
from qmpnuma.records import field, record

if TYPE_CHECKING:
    from qmpnuma.machine.numa import NumaNode

HMAT_LB_LEVELS = 4
UINT16_MAX = 0xFFFF


@record
class HmatLbTable:
    """One ``hmat-lb`` table (per hierarchy and data type) with its compression state."""

    hierarchy: str
    data_type: str
    base: int = 0
    range_bitmap: int = 0
    entries: list[tuple[int, int, int]] = field(default_factory=list)


@record(frozen=True)
class HmatCache:
    """One ``hmat-cache`` entry (memory-side cache of a node at a level)."""

    node_id: int
    size: int
    level: int
    associativity: str
    policy: str
    line: int


def add_hmat_lb(
    tables: dict[tuple[str, str], HmatLbTable],
    nodes: Mapping[int, NumaNode],
    num_nodes: int,
    nodes_with_cpus: Collection[int],
    options: Mapping[str, Any],
) -> None:
    """``parse_numa_hmat_lb``: one latency or bandwidth entry (visited ``NumaHmatLBOptions``)."""
    initiator: int = options["initiator"]
    target: int = options["target"]
    hierarchy: str = options["hierarchy"]
    data_type: str = options["data-type"]
    latency: int | None = options.get("latency")
    bandwidth: int | None = options.get("bandwidth")
    if initiator > num_nodes:
        raise OptionError(
            f"Invalid initiator={initiator}, it should be less than {num_nodes}"
        )
    if target > num_nodes:
        raise OptionError(f"Invalid target={target}, it should be less than {num_nodes}")
    if initiator not in nodes_with_cpus:
        raise OptionError(
            f"Invalid initiator={initiator}, it isn't an initiator proximity domain"
        )
    if target not in nodes:
        raise OptionError(f"The target={target} should point to an existing node")
    table = tables.setdefault(
        (hierarchy, data_type), HmatLbTable(hierarchy, data_type)
    )
    if data_type.endswith("latency"):
        if latency is None:
            raise OptionError("Missing 'latency' option")
        if bandwidth is not None:
            raise OptionError("Invalid option 'bandwidth' since the data type is latency")
        if any(i == initiator and t == target for i, t, _ in table.entries):
            raise OptionError(
                "Duplicate configuration of the latency for "
                f"initiator={initiator} and target={target}"
            )
        table.base = table.base or (1 << 64) - 1
        if latency:
            entry = latency
            temp_base = 1
            while entry % 10 == 0:
                entry //= 10
                temp_base *= 10
            temp_base = min(table.base, temp_base)
            max_entry = max(table.range_bitmap, latency // table.base)
            if max_entry >= UINT16_MAX:
                raise OptionError(
                    f"Latency {latency} between initiator={initiator} and target={target} "
                    "should not differ from previously entered min or max values on more "
                    f"than {UINT16_MAX - 1}"
                )
            table.base = temp_base
            table.range_bitmap = max_entry
            nodes[target].lb_info_provided |= 1
        table.entries.append((initiator, target, latency))
        return
    if bandwidth is None:
        raise OptionError("Missing 'bandwidth' option")
    if latency is not None:
        raise OptionError("Invalid option 'latency' since the data type is bandwidth")
    if bandwidth % (1 << 20):
        raise OptionError(
            f"Bandwidth {bandwidth} between initiator={initiator} and target={target} "
            "should be 1MB aligned"
        )
    if any(i == initiator and t == target for i, t, _ in table.entries):
        raise OptionError(
            "Duplicate configuration of the bandwidth for "
            f"initiator={initiator} and target={target}"
        )
    table.base = table.base or 1
    if bandwidth:
        bitmap = table.range_bitmap | bandwidth
        first_bit = (bitmap & -bitmap).bit_length() - 1
        temp_base = 1 << first_bit
        max_entry = bandwidth // temp_base
        last_bit = bitmap.bit_length()
        if last_bit - first_bit > 16 or max_entry >= UINT16_MAX:
            raise OptionError(
                f"Bandwidth {bandwidth} between initiator={initiator} and target={target} "
                "should not differ from previously entered values on more than "
                f"{UINT16_MAX - 1}"
            )
        table.base = temp_base
        table.range_bitmap = bitmap
        nodes[target].lb_info_provided |= 2
    table.entries.append((initiator, target, bandwidth))


def add_hmat_cache(
    caches: dict[tuple[int, int], HmatCache],
    nodes: Mapping[int, NumaNode],
    num_nodes: int,
    options: Mapping[str, Any],
) -> None:
    """``parse_numa_hmat_cache``: one memory-side cache (visited ``NumaHmatCacheOptions``)."""
    node_id: int = options["node-id"]
    size: int = options["size"]
    level: int = options["level"]
    associativity: str = options["associativity"]
    policy: str = options["policy"]
    line: int = options["line"]
    if node_id >= num_nodes:
        raise OptionError(
            f"Invalid node-id={node_id}, it should be less than {num_nodes}"
        )
    node = nodes.get(node_id)
    if node is None or node.lb_info_provided != 3:
        raise OptionError(
            f"The latency and bandwidth information of node-id={node_id} should be "
            "provided before memory side cache attributes"
        )
    if level < 1 or level >= HMAT_LB_LEVELS:
        raise OptionError(
            f"Invalid level={level}, it should be larger than 0 and less than or equal "
            f"to {HMAT_LB_LEVELS - 1}"
        )
    if (node_id, level) in caches:
        raise OptionError(
            "Duplicate configuration of the side cache for "
            f"node-id={node_id} and level={level}"
        )
    below = caches.get((node_id, level - 1))
    if level > 1 and below is None:
        raise OptionError(f"Cache level={level - 1} shall be defined first")
    if level > 1 and below is not None and size <= below.size:
        raise OptionError(
            f"Invalid size={size}, the size of level={level} should be larger than the "
            f"size({below.size}) of level={level - 1}"
        )
    above = caches.get((node_id, level + 1))
    if level < HMAT_LB_LEVELS - 1 and above is not None and size >= above.size:
        raise OptionError(
            f"Invalid size={size}, the size of level={level} should be less than the "
            f"size({above.size}) of level={level + 1}"
        )
    caches[(node_id, level)] = HmatCache(
        node_id, size, level, associativity, policy, line
    )
