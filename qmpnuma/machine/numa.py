"""Guest NUMA nodes: ``-numa`` parsing rules, completion, distances, HMAT and the seed's queries.

QEMU checks ``-numa`` options one at a time in command-line order (each error carries the
option's location) and only later, at board initialisation, completes the configuration (node
ids without gaps, memory totals, backends used once, distances).  ``NumaConfig`` follows that
split: :meth:`NumaConfig.apply_option` for the first, :meth:`NumaConfig.complete` for the second.
Both profiles live here; 2.9 differs in its texts, its implicit equal memory split, and in having
no ``dist``/``cpu``/HMAT options.  CPU-to-node bookkeeping is delegated to ``MachineCpus``.

The model also offers the seed (2.9 ``numa.c``) functions as API: per-node address ranges
(``numa_set_mem_node_id`` / ``numa_unset_mem_node_id`` / ``numa_get_node``), per-node memory
including DIMMs (``query_numa_node_mem``) and RAM-block notifiers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from qmpnuma.errors import MachineError, OptionError
from qmpnuma.machine.backends import MAX_NODES, MemoryBackend
from qmpnuma.machine.cli_syntax import OptsReader, split_qemu_opts
from qmpnuma.machine.cpus import MachineCpus
from qmpnuma.machine.machine_types import MachineType
from qmpnuma.options.numbers import NumberError
from qmpnuma.options.numbers import parse_size as options_parse_size
from qmpnuma.profiles.profile import NumaState, Profile

NUMA_DISTANCE_MIN = 10
NUMA_DISTANCE_DEFAULT = 20
HMAT_LB_LEVELS = 4
UINT16_MAX = 0xFFFF

HMAT_DISABLED = (
    "ACPI Heterogeneous Memory Attribute Table (HMAT) is disabled, enable it with "
    "-machine hmat=on before using any of hmat specific options"
)
MEM_DEPRECATED = "Parameter -numa node,mem is deprecated, use -numa node,memdev instead"
HMAT_HIERARCHIES = ("memory", "first-level", "second-level", "third-level")
HMAT_DATA_TYPES = (
    "access-latency", "read-latency", "write-latency",
    "access-bandwidth", "read-bandwidth", "write-bandwidth",
)
HMAT_ASSOCIATIVITY = ("none", "direct", "complex")
HMAT_WRITE_POLICY = ("none", "write-back", "write-through")

#: A RAM-block notifier: called with (host offset, size) when RAM is added or removed.
RamBlockCallback = Callable[[int, int], None]


@dataclass
class NumaNode:
    """One guest NUMA node (QEMU's ``NodeInfo``)."""

    node_id: int
    #: Bytes of boot RAM on this node (``node_mem``); 0 for a memory-less node.
    mem: int = 0
    #: id of the backend giving this node its memory, if ``memdev=`` was used.
    memdev: str | None = None
    #: HMAT initiator node (None: QEMU's ``MAX_NODES``, i.e. unset).
    initiator: int | None = None
    #: ``-numa dist`` values from this node, by destination.
    distances: dict[int, int] = field(default_factory=dict)
    #: bit 0: latency given, bit 1: bandwidth given (HMAT).
    lb_info_provided: int = 0
    #: Offset of this node's boot RAM inside the machine's RAM (set at completion).
    ram_offset: int = 0


@dataclass
class HmatLbTable:
    """One ``hmat-lb`` table (per hierarchy and data type) with its compression state."""

    hierarchy: str
    data_type: str
    base: int = 0
    range_bitmap: int = 0
    entries: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class HmatCache:
    """One ``hmat-cache`` entry (memory-side cache of a node at a level)."""

    node_id: int
    size: int
    level: int
    associativity: str
    policy: str
    line: int


@dataclass(frozen=True)
class RamBlockNotifier:
    """Callbacks for RAM appearing and disappearing (seed ``RAMBlockNotifier``)."""

    ram_block_added: RamBlockCallback
    ram_block_removed: RamBlockCallback


@dataclass
class OptionOutcome:
    """Non-fatal output of one ``-numa`` option: lines QEMU prints with the option's location."""

    messages: list[str] = field(default_factory=list)


class NumaConfig:
    """NUMA state of a machine (``NumaState``): nodes, distances, HMAT, address ranges."""

    def __init__(self, machine_type: MachineType, profile: Profile, hmat_enabled: bool) -> None:
        self.machine_type = machine_type
        self.profile = profile
        self.hmat_enabled = hmat_enabled
        self.nodes: dict[int, NumaNode] = {}
        #: ``num_nodes``: how many nodes were declared (equals max id + 1 once complete).
        self.num_nodes = 0
        self.max_nodeid = 0
        self.have_memdevs = False
        self.have_mem = False
        #: 2.9: ``have_memdevs`` starts at -1 (unknown) and is fixed by the first node.
        self._first_has_memdev: bool | None = None
        self.have_distance = False
        self.hmat_lb: dict[tuple[str, str], HmatLbTable] = {}
        self.hmat_cache: dict[tuple[int, int], HmatCache] = {}
        #: node → initiator, handed to the CPU mapping (which enforces N15) when HMAT is on.
        self.hmat_initiators: dict[int, int] | None = {} if hmat_enabled else None
        #: Seed address ranges per node (inclusive end), newest first like QLIST_INSERT_HEAD.
        self.addr_ranges: dict[int, list[tuple[int, int]]] = {}
        self.notifiers: list[RamBlockNotifier] = []
        self.implicit_node = False

    # --- parse time ---------------------------------------------------------------------

    def apply_option(
        self,
        text: str,
        cpus: MachineCpus,
        backends: Mapping[str, MemoryBackend],
    ) -> OptionOutcome:
        """Process one ``-numa`` option; raise ``OptionError`` (caller adds the location)."""
        pairs, _ = split_qemu_opts(text, "type")
        outcome = OptionOutcome()
        reader = OptsReader(pairs)
        allowed = self.profile.numa_types
        kind = reader.scalar("type")
        if kind is None:
            raise OptionError("Parameter 'type' is missing")
        if kind not in allowed:
            raise OptionError(f"Parameter 'type' does not accept value '{kind}'")
        if kind == "node":
            self._visit_node(reader, text, cpus, backends, outcome)
        elif kind == "dist":
            self._visit_dist(reader)
        elif kind == "cpu":
            self._visit_cpu(reader, cpus)
        elif kind == "hmat-lb":
            self._visit_hmat_lb(reader, cpus)
        else:
            self._visit_hmat_cache(reader)
        return outcome

    def _require_numa(self) -> None:
        if not self.machine_type.numa_supported and self.profile.numa_checks_machine_support:
            raise OptionError("NUMA is not supported by this machine-type")

    def _visit_node(
        self,
        reader: OptsReader,
        text: str,
        cpus: MachineCpus,
        backends: Mapping[str, MemoryBackend],
        outcome: OptionOutcome,
    ) -> None:
        nodeid = reader.uint("nodeid", 16, "uint16_t")
        cpu_list = reader.uint16_list("cpus")
        mem = self._visit_mem(reader)
        memdev = reader.scalar("memdev")
        initiator = None
        if self.profile.numa_node_accepts_initiator:
            initiator = reader.uint("initiator", 16, "uint16_t")
        reader.check_all_visited()
        if mem is not None:
            # Legacy suffix-less format: a bare number counts MiB (7.2 re-parses the text).
            raw = reader.scalar("mem") or ""
            if self.profile.numa_state is NumaState.GLOBAL_NUMA_INFO:
                if raw and raw[-1].isdigit():
                    mem = (mem << 20) & ((1 << 64) - 1)
            else:
                with contextlib.suppress(NumberError):
                    mem = options_parse_size(raw, "M")
        self._require_numa()
        if self.profile.numa_state is NumaState.GLOBAL_NUMA_INFO:
            self._node_2_9(nodeid, cpu_list, mem, memdev, cpus, backends)
        else:
            self._node_7_2(nodeid, cpu_list, mem, memdev, initiator, cpus, backends, outcome)

    def _visit_mem(self, reader: OptsReader) -> int | None:
        raw = reader.scalar("mem")
        if raw is None:
            return None
        try:
            return options_parse_size(raw, profile=self.profile)
        except NumberError:
            raise OptionError("Parameter 'mem' expects a size value") from None

    def _node_7_2(
        self,
        nodeid: int | None,
        cpu_list: list[int],
        mem: int | None,
        memdev: str | None,
        initiator: int | None,
        cpus: MachineCpus,
        backends: Mapping[str, MemoryBackend],
        outcome: OptionOutcome,
    ) -> None:
        nodenr = self.num_nodes if nodeid is None else nodeid
        if nodenr >= MAX_NODES:
            raise OptionError(f"Max number of NUMA nodes reached: {nodenr}")
        if nodenr in self.nodes:
            raise OptionError(f"Duplicate NUMA nodeid: {nodenr}")
        if self.hmat_initiators is not None:
            self.hmat_initiators.pop(nodenr, None)
        if initiator is not None:
            if not self.hmat_enabled:
                raise OptionError(HMAT_DISABLED)
            if initiator >= MAX_NODES:
                # QEMU reports this but forgets to fail: the node is simply not created.
                outcome.messages.append(
                    f"The initiator id {initiator} expects an integer between 0 and "
                    f"{MAX_NODES - 1}"
                )
                return
            assert self.hmat_initiators is not None
            self.hmat_initiators[nodenr] = initiator
        try:
            cpus.assign_node_cpus(nodenr, cpu_list, self.hmat_initiators)
        except MachineError as err:
            raise OptionError(err.message, err.hints) from None
        self.have_memdevs = self.have_memdevs or memdev is not None
        self.have_mem = self.have_mem or mem is not None
        if (mem is not None and self.have_memdevs) or (memdev is not None and self.have_mem):
            raise OptionError(
                "numa configuration should use either mem= or memdev=,mixing both is not allowed"
            )
        node = NumaNode(nodenr, initiator=initiator)
        if mem is not None:
            if not self.machine_type.numa_mem_supported:
                raise OptionError(
                    "Parameter -numa node,mem is not supported by this machine type",
                    ("Use -numa node,memdev instead",),
                )
            node.mem = mem
            outcome.messages.append(f"warning: {MEM_DEPRECATED}")
        if memdev is not None:
            backend = backends.get(memdev)
            if backend is None:
                raise OptionError(f"memdev={memdev} is ambiguous")
            node.mem = backend.size
            node.memdev = memdev
        self._add_node(node)

    def _node_2_9(
        self,
        nodeid: int | None,
        cpu_list: list[int],
        mem: int | None,
        memdev: str | None,
        cpus: MachineCpus,
        backends: Mapping[str, MemoryBackend],
    ) -> None:
        nodenr = self.num_nodes if nodeid is None else nodeid
        if nodenr >= MAX_NODES:
            raise OptionError(f"Max number of NUMA nodes reached: {nodenr}")
        if nodenr in self.nodes:
            raise OptionError(f"Duplicate NUMA nodeid: {nodenr}")
        try:
            cpus.assign_node_cpus(nodenr, cpu_list)
        except MachineError as err:
            raise OptionError(err.message, err.hints) from None
        if mem is not None and memdev is not None:
            raise OptionError("qemu: cannot specify both mem= and memdev=")
        if self._first_has_memdev is None:
            self._first_has_memdev = memdev is not None
        if (memdev is not None) != self._first_has_memdev:
            raise OptionError("qemu: memdev option must be specified for either all or no nodes")
        self.have_memdevs = self._first_has_memdev
        node = NumaNode(nodenr)
        if mem is not None:
            node.mem = mem
        if memdev is not None:
            backend = backends.get(memdev)
            if backend is None:
                raise OptionError(f"memdev={memdev} is ambiguous")
            node.mem = backend.size
            node.memdev = memdev
        self._add_node(node)

    def _add_node(self, node: NumaNode) -> None:
        self.nodes[node.node_id] = node
        self.max_nodeid = max(self.max_nodeid, node.node_id + 1)
        self.num_nodes += 1

    def _visit_dist(self, reader: OptsReader) -> None:
        src = reader.uint("src", 16, "uint16_t")
        dst = reader.uint("dst", 16, "uint16_t")
        val = reader.uint("val", 8, "uint8_t")
        for name, value in (("src", src), ("dst", dst), ("val", val)):
            if value is None:
                raise OptionError(f"Parameter '{name}' is missing")
        reader.check_all_visited()
        self._require_numa()
        assert src is not None and dst is not None and val is not None
        if src >= MAX_NODES or dst >= MAX_NODES:
            which = "src" if src >= MAX_NODES else "dst"
            raise OptionError(
                f"Parameter '{which}' expects an integer between 0 and {MAX_NODES - 1}"
            )
        if src not in self.nodes or dst not in self.nodes:
            raise OptionError(
                "Source/Destination NUMA node is missing. "
                "Please use '-numa node' option to declare it first."
            )
        if val < NUMA_DISTANCE_MIN:
            raise OptionError(
                f"NUMA distance ({val}) is invalid, it shouldn't be less than "
                f"{NUMA_DISTANCE_MIN}."
            )
        if src == dst and val != NUMA_DISTANCE_MIN:
            raise OptionError(f"Local distance of node {src} should be {NUMA_DISTANCE_MIN}.")
        self.nodes[src].distances[dst] = val
        self.have_distance = True

    def _visit_cpu(self, reader: OptsReader, cpus: MachineCpus) -> None:
        props: dict[str, int] = {}
        for name in ("node-id", "socket-id", "die-id", "cluster-id", "core-id", "thread-id"):
            value = reader.int64(name)
            if value is not None:
                props[name] = value
        reader.check_all_visited()
        self._require_numa()
        try:
            cpus.assign_numa_cpu(props, self.nodes, self.hmat_initiators)
        except MachineError as err:
            raise OptionError(err.message, err.hints) from None

    def _visit_hmat_lb(self, reader: OptsReader, cpus: MachineCpus) -> None:
        initiator = reader.uint("initiator", 16, "uint16_t")
        target = reader.uint("target", 16, "uint16_t")
        hierarchy = reader.enum("hierarchy", HMAT_HIERARCHIES)
        data_type = reader.enum("data-type", HMAT_DATA_TYPES)
        for name, value in (("initiator", initiator), ("target", target),
                            ("hierarchy", hierarchy), ("data-type", data_type)):
            if value is None:
                raise OptionError(f"Parameter '{name}' is missing")
        latency = reader.uint("latency", 64, "uint64_t")
        bandwidth = reader.size("bandwidth")
        reader.check_all_visited()
        self._require_numa()
        if not self.hmat_enabled:
            raise OptionError(HMAT_DISABLED)
        assert initiator is not None and target is not None
        assert hierarchy is not None and data_type is not None
        self._hmat_lb(initiator, target, hierarchy, data_type, latency, bandwidth, cpus)

    def _hmat_lb(
        self,
        initiator: int,
        target: int,
        hierarchy: str,
        data_type: str,
        latency: int | None,
        bandwidth: int | None,
        cpus: MachineCpus,
    ) -> None:
        if initiator > self.num_nodes:
            raise OptionError(
                f"Invalid initiator={initiator}, it should be less than {self.num_nodes}"
            )
        if target > self.num_nodes:
            raise OptionError(f"Invalid target={target}, it should be less than {self.num_nodes}")
        if initiator not in cpus.nodes_with_cpus():
            raise OptionError(
                f"Invalid initiator={initiator}, it isn't an initiator proximity domain"
            )
        if target not in self.nodes:
            raise OptionError(f"The target={target} should point to an existing node")
        table = self.hmat_lb.setdefault(
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
                self.nodes[target].lb_info_provided |= 1
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
            self.nodes[target].lb_info_provided |= 2
        table.entries.append((initiator, target, bandwidth))

    def _visit_hmat_cache(self, reader: OptsReader) -> None:
        node_id = reader.uint("node-id", 32, "uint32_t")
        size = reader.size("size")
        level = reader.uint("level", 8, "uint8_t")
        associativity = reader.enum("associativity", HMAT_ASSOCIATIVITY)
        policy = reader.enum("policy", HMAT_WRITE_POLICY)
        line = reader.uint("line", 16, "uint16_t")
        for name, value in (("node-id", node_id), ("size", size), ("level", level),
                            ("associativity", associativity), ("policy", policy),
                            ("line", line)):
            if value is None:
                raise OptionError(f"Parameter '{name}' is missing")
        reader.check_all_visited()
        self._require_numa()
        if not self.hmat_enabled:
            raise OptionError(HMAT_DISABLED)
        assert node_id is not None and size is not None and level is not None
        assert associativity is not None and policy is not None and line is not None
        if node_id >= self.num_nodes:
            raise OptionError(
                f"Invalid node-id={node_id}, it should be less than {self.num_nodes}"
            )
        node = self.nodes.get(node_id)
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
        if (node_id, level) in self.hmat_cache:
            raise OptionError(
                "Duplicate configuration of the side cache for "
                f"node-id={node_id} and level={level}"
            )
        below = self.hmat_cache.get((node_id, level - 1))
        if level > 1 and below is None:
            raise OptionError(f"Cache level={level - 1} shall be defined first")
        if level > 1 and below is not None and size <= below.size:
            raise OptionError(
                f"Invalid size={size}, the size of level={level} should be larger than the "
                f"size({below.size}) of level={level - 1}"
            )
        above = self.hmat_cache.get((node_id, level + 1))
        if level < HMAT_LB_LEVELS - 1 and above is not None and size >= above.size:
            raise OptionError(
                f"Invalid size={size}, the size of level={level} should be less than the "
                f"size({above.size}) of level={level + 1}"
            )
        self.hmat_cache[(node_id, level)] = HmatCache(
            node_id, size, level, associativity, policy, line
        )

    # --- completion (board init) --------------------------------------------------------

    def add_implicit_node(self, ram_size: int) -> None:
        """The single node QEMU creates when memory hot-plug is set up without ``-numa``."""
        self._add_node(NumaNode(0, mem=ram_size))
        self.implicit_node = True

    def check_node_ids(self) -> None:
        """C-a: no gaps in node ids; the highest missing id is reported first."""
        for node_id in range(self.max_nodeid - 1, -1, -1):
            if node_id not in self.nodes:
                raise MachineError(f"numa: Node ID missing: {node_id}")

    def split_memory_2_9(self, ram_size: int) -> None:
        """2.9: with no node memory given, split RAM equally (aligned), remainder to the last."""
        if not self.nodes or any(node.mem for node in self.nodes.values()):
            return
        count = len(self.nodes)
        align_mask = ~((1 << self.machine_type.numa_mem_align_shift) - 1)
        used = 0
        for node_id in range(count - 1):
            share = (ram_size // count) & align_mask
            self.nodes[node_id].mem = share
            used += share
        self.nodes[count - 1].mem = ram_size - used

    def check_total(self, ram_size: int) -> None:
        """C-c: node memory must add up to the RAM size."""
        total = sum(node.mem for node in self.nodes.values())
        if total != ram_size:
            raise MachineError(
                f"total memory for NUMA nodes (0x{total:x}) should equal RAM size "
                f"(0x{ram_size:x})"
            )

    def assign_ram_offsets(self) -> None:
        """Nodes' RAM is laid out back to back in node order; record offsets and ranges."""
        offset = 0
        for node_id in range(self.num_nodes):
            node = self.nodes[node_id]
            node.ram_offset = offset
            self.numa_set_mem_node_id(offset, node.mem, node_id)
            offset += node.mem

    def check_distances(self) -> None:
        """D6/D7 and the symmetric completion of the distance table."""
        if not self.have_distance:
            return
        count = self.num_nodes

        def dist(a: int, b: int) -> int:
            return self.nodes[a].distances.get(b, 0)

        asymmetric = False
        for src in range(count):
            for dst in range(src, count):
                if dist(src, dst) == 0 and dist(dst, src) == 0 and src != dst:
                    raise MachineError(
                        f"The distance between node {src} and {dst} is missing, at least one "
                        "distance value between each nodes should be provided."
                    )
                if dist(src, dst) and dist(dst, src) and dist(src, dst) != dist(dst, src):
                    asymmetric = True
        if asymmetric:
            for src in range(count):
                for dst in range(count):
                    if src != dst and dist(src, dst) == 0:
                        raise MachineError(
                            "At least one asymmetrical pair of distances is given, please "
                            "provide distances for both directions of all node pairs."
                        )
        for src in range(count):
            for dst in range(count):
                if dist(src, dst) == 0:
                    value = NUMA_DISTANCE_MIN if src == dst else dist(dst, src)
                    self.nodes[src].distances[dst] = value

    def distance(self, src: int, dst: int) -> int:
        """The (completed) distance from ``src`` to ``dst``; 10 locally, 20 when none given."""
        value = self.nodes[src].distances.get(dst, 0)
        if value:
            return value
        return NUMA_DISTANCE_MIN if src == dst else NUMA_DISTANCE_DEFAULT

    def validate_initiators(self, cpus: MachineCpus) -> None:
        """H4: each node's HMAT initiator must be a declared node that has CPUs."""
        if self.hmat_initiators is None:
            return
        with_cpus = cpus.nodes_with_cpus()
        for node_id in range(self.num_nodes):
            initiator = self.hmat_initiators.get(node_id)
            if initiator is None:
                continue
            if initiator not in self.nodes:
                raise MachineError(
                    f"NUMA node {initiator} is missing, use '-numa node' option to declare "
                    "it first"
                )
            if initiator not in with_cpus:
                raise MachineError(f"The initiator of NUMA node {node_id} is invalid")

    # --- seed (2.9 numa.c) API ----------------------------------------------------------

    def numa_set_mem_node_id(self, addr: int, size: int, node: int) -> None:
        """Record that ``[addr, addr+size)`` belongs to ``node`` (nothing for size 0)."""
        if not size:
            return
        self.addr_ranges.setdefault(node, []).insert(0, (addr, addr + size - 1))

    def numa_unset_mem_node_id(self, addr: int, size: int, node: int) -> None:
        """Forget exactly the range ``[addr, addr+size)`` of ``node`` if it was recorded."""
        ranges = self.addr_ranges.get(node, [])
        for index, (start, end) in enumerate(ranges):
            if start == addr and end == addr + size - 1:
                del ranges[index]
                return

    def numa_get_node(self, addr: int) -> int:
        """The node whose recorded ranges contain ``addr`` (node 0 without NUMA)."""
        candidates = range(self.num_nodes) if self.num_nodes else range(1)
        for node_id in candidates:
            for start, end in self.addr_ranges.get(node_id, []):
                if start <= addr <= end:
                    return node_id
        raise MachineError(f"Address 0x{addr:x} doesn't belong to any NUMA node")

    def ram_block_notifier_add(self, notifier: RamBlockNotifier) -> None:
        """Register ``notifier`` (most recent first, like QLIST_INSERT_HEAD)."""
        self.notifiers.insert(0, notifier)

    def ram_block_notifier_remove(self, notifier: RamBlockNotifier) -> None:
        self.notifiers.remove(notifier)

    def ram_block_notify_add(self, host: int, size: int) -> None:
        for notifier in list(self.notifiers):
            notifier.ram_block_added(host, size)

    def ram_block_notify_remove(self, host: int, size: int) -> None:
        for notifier in list(self.notifiers):
            notifier.ram_block_removed(host, size)
