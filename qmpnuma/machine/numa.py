"""Guest NUMA nodes: ``set_numa_options`` rules, completion, distances and the seed's queries.

QEMU checks ``-numa`` options one at a time in command-line order (each error carries the
option's location) and only later, at board initialisation, completes the configuration (node
ids without gaps, memory totals, backends used once, distances).  ``NumaConfig`` follows that
split: :meth:`NumaConfig.apply` takes one already visited ``NumaOptions`` (the syntax is read by
:mod:`qmpnuma.machine.numa_options`, HMAT entries are kept by :mod:`qmpnuma.machine.hmat`), the
completion methods run at board init.
Both profiles live here; 2.9 differs in its texts, its implicit equal memory split, and in having
no ``dist``/``cpu``/HMAT options.  CPU-to-node bookkeeping is delegated to ``MachineCpus``.

The seed (2.9 ``numa.c``) API of per-node address ranges and RAM-block notifiers comes from
:class:`~qmpnuma.machine.numa_ranges.NodeAddressRanges`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from qmpnuma.errors import MachineError, OptionError
from qmpnuma.machine.backends import MemoryBackend
from qmpnuma.machine.cpus import MachineCpus
from qmpnuma.machine.machine_types import MachineType
from qmpnuma.machine.numa_ranges import NodeAddressRanges, RamBlockNotifier
from qmpnuma.machine.object_types import MAX_NODES
from qmpnuma.profiles.profile import NumaState, Profile
from qmpnuma.records import field, record

if TYPE_CHECKING:
    from qmpnuma.machine.hmat import HmatCache, HmatLbTable

NUMA_DISTANCE_MIN = 10
UINT64_MASK = (1 << 64) - 1
NUMA_DISTANCE_DEFAULT = 20
HMAT_DISABLED = (
    "ACPI Heterogeneous Memory Attribute Table (HMAT) is disabled, enable it with "
    "-machine hmat=on before using any of hmat specific options"
)
MEM_DEPRECATED = "Parameter -numa node,mem is deprecated, use -numa node,memdev instead"


@record
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


__all__ = ["NumaConfig", "NumaNode", "OptionOutcome", "RamBlockNotifier"]


@record
class OptionOutcome:
    """Non-fatal output of one ``-numa`` option: lines QEMU prints with the option's location."""

    messages: list[str] = field(default_factory=list)


class NumaConfig(NodeAddressRanges):
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
        NodeAddressRanges.__init__(self)
        self.implicit_node = False

    # --- parse time ---------------------------------------------------------------------

    def apply(
        self,
        options: Mapping[str, Any],
        cpus: MachineCpus,
        backends: Mapping[str, MemoryBackend],
    ) -> OptionOutcome:
        """``set_numa_options`` for one visited ``NumaOptions`` (wire names, sizes in bytes).

        Used for ``-numa`` (read by :mod:`qmpnuma.machine.numa_options`) and QMP
        ``set-numa-node`` alike.  Raises ``OptionError`` (the caller adds the location).
        """
        outcome = OptionOutcome()
        kind = options["type"]
        if kind == "node":
            self._node(options, cpus, backends, outcome)
        elif kind == "dist":
            self._dist(options)
        elif kind == "cpu":
            self._cpu(options, cpus)
        elif kind == "hmat-lb":
            self._hmat_lb(options, cpus)
        else:
            self._hmat_cache(options)
        return outcome

    def _require_numa(self) -> None:
        if not self.machine_type.numa_supported and self.profile.numa_checks_machine_support:
            raise OptionError("NUMA is not supported by this machine-type")

    def _node(
        self,
        options: Mapping[str, Any],
        cpus: MachineCpus,
        backends: Mapping[str, MemoryBackend],
        outcome: OptionOutcome,
    ) -> None:
        nodeid = options.get("nodeid")
        cpu_list = list(options.get("cpus", []))
        mem = options.get("mem")
        memdev = options.get("memdev")
        self._require_numa()
        if self.profile.numa_state is NumaState.GLOBAL_NUMA_INFO:
            self._node_2_9(nodeid, cpu_list, mem, memdev, cpus, backends)
        else:
            self._node_7_2(nodeid, cpu_list, mem, memdev, options.get("initiator"), cpus,
                           backends, outcome)

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

    def _dist(self, options: Mapping[str, Any]) -> None:
        src, dst, val = options["src"], options["dst"], options["val"]
        self._require_numa()
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

    def _cpu(self, options: Mapping[str, Any], cpus: MachineCpus) -> None:
        props = {key: value for key, value in options.items() if key != "type"}
        self._require_numa()
        try:
            cpus.assign_numa_cpu(props, self.nodes, self.hmat_initiators)
        except MachineError as err:
            raise OptionError(err.message, err.hints) from None

    def _hmat_lb(self, options: Mapping[str, Any], cpus: MachineCpus) -> None:
        self._require_numa()
        if not self.hmat_enabled:
            raise OptionError(HMAT_DISABLED)
        from qmpnuma.machine.hmat import add_hmat_lb  # only `-numa hmat-lb`

        add_hmat_lb(self.hmat_lb, self.nodes, self.num_nodes, cpus.nodes_with_cpus(), options)

    def _hmat_cache(self, options: Mapping[str, Any]) -> None:
        self._require_numa()
        if not self.hmat_enabled:
            raise OptionError(HMAT_DISABLED)
        from qmpnuma.machine.hmat import add_hmat_cache  # only `-numa hmat-cache`

        add_hmat_cache(self.hmat_cache, self.nodes, self.num_nodes, options)

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
        total = sum(node.mem for node in self.nodes.values()) & UINT64_MASK  # uint64 sum
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
