"""The 2.9 profile, case by case against the seed ``numa.c`` (QEMU v2.9.0) and 2.9 ``vl.c``.

No 2.9 binary is run: the expected values are the seed's arithmetic (equal split aligned to
``numa_mem_align_shift`` with the remainder on the last node, socket-based default CPU mapping,
address ranges in RAM-offset order) and its messages, some of which still carry ``qemu: ``.
"""

from __future__ import annotations

import pytest

from qmpnuma.errors import ConfigError, MachineError
from qmpnuma.machine import Machine
from qmpnuma.machine.numa import RamBlockNotifier

PROG = "qemu-system-x86_64"
MiB = 1 << 20
GiB = 1 << 30


def build(line: str) -> Machine:
    return Machine.from_argv(line.split(), profile="2.9", progname=PROG)


def failure(line: str) -> str:
    with pytest.raises(ConfigError) as info:
        build(line)
    assert info.value.status == 1
    return info.value.stderr


def sizes_mib(machine: Machine) -> list[int]:
    return [machine.numa.nodes[i].mem >> 20 for i in range(machine.num_nodes)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # 1000 MiB / 3 = 333.3 MiB, floored to 8 MiB = 328 MiB; the rest goes to the last node
        ("-m 1000M -numa node -numa node -numa node", [328, 328, 344]),
        ("-m 4G -numa node -numa node", [2048, 2048]),
        ("-m 1G -numa node -numa node -numa node -numa node -numa node -numa node -numa node",
         [144, 144, 144, 144, 144, 144, 160]),
        ("-m 100M -numa node -numa node -numa node", [32, 32, 36]),
        ("-m 4G -numa node", [4096]),
    ],
)
def test_equal_split_alignment_and_remainder(line: str, expected: list[int]) -> None:
    machine = build(line)
    assert sizes_mib(machine) == expected
    assert sum(node.mem for node in machine.numa.nodes.values()) == machine.ram_size


def test_no_split_when_any_node_has_memory() -> None:
    assert sizes_mib(build("-m 4G -numa node,mem=1024 -numa node,mem=3G")) == [1024, 3072]


def test_mem_always_accepted_without_warning() -> None:
    machine = build("-M pc -m 4G -numa node,mem=2G -numa node,mem=2G")
    assert machine.warnings == []
    assert machine.machine_type.name == "pc-i440fx-2.9"


def test_socket_based_default_assignment() -> None:
    machine = build("-m 4G -smp 4,sockets=2,cores=2 -numa node -numa node")
    assert [machine.cpus.cpus_of_node(n) for n in (0, 1)] == [[0, 1], [2, 3]]
    machine = build("-m 4G -smp 8,sockets=4,cores=2 -numa node -numa node")
    assert [machine.cpus.cpus_of_node(n) for n in (0, 1)] == [[0, 1, 4, 5], [2, 3, 6, 7]]


def test_2_9_smp_count_goes_to_sockets() -> None:
    """2.9 fills sockets first: ``-smp 4`` is four sockets, so CPUs alternate nodes."""
    machine = build("-m 4G -smp 4 -numa node -numa node")
    assert [machine.cpus.cpus_of_node(n) for n in (0, 1)] == [[0, 2], [1, 3]]


def test_round_robin_without_socket_function() -> None:
    machine = build("-M none -m 64M -numa node -numa node")
    assert machine.numa_get_node_for_cpu(0) == 0


def test_numa_get_node_ranges_and_dimms() -> None:
    machine = build("-m 3G,slots=2,maxmem=8G -numa node,mem=1G -numa node,mem=2G")
    assert machine.numa_get_node(0) == 0
    assert machine.numa_get_node(GiB - 1) == 0
    assert machine.numa_get_node(GiB) == 1
    assert machine.numa_get_node(3 * GiB - 1) == 1
    with pytest.raises(MachineError, match="Address 0xc0000000 doesn't belong to any NUMA node"):
        machine.numa_get_node(3 * GiB)
    machine.add_backend("memory-backend-ram", "hp", {"size": GiB})
    dimm = machine.plug_dimm("d0", "hp", node=1)
    assert machine.numa_get_node(dimm.addr) == 1
    assert machine.query_numa_node_mem() == [GiB, 3 * GiB]
    machine.numa_unset_mem_node_id(dimm.addr, dimm.size, 1)
    with pytest.raises(MachineError):
        machine.numa_get_node(dimm.addr)
    machine.numa_set_mem_node_id(dimm.addr, dimm.size, 0)
    assert machine.numa_get_node(dimm.addr) == 0
    machine.numa_set_mem_node_id(0, 0, 1)  # size 0: nothing recorded
    assert machine.numa_get_node(0) == 0


def test_numa_get_node_without_numa_uses_node0() -> None:
    machine = build("-m 1G")
    assert machine.numa_get_node(GiB - 1) == 0
    with pytest.raises(MachineError):
        machine.numa_get_node(GiB)


def test_numa_get_node_for_cpu_unmapped_returns_node_count() -> None:
    machine = build("-m 4G -smp 4 -numa node,cpus=0 -numa node,cpus=2")
    assert [machine.numa_get_node_for_cpu(i) for i in range(4)] == [0, 2, 1, 2]
    assert machine.warnings == [
        f"{PROG}: warning: CPU(s) not present in any NUMA nodes: 1 3\n",
        f"{PROG}: warning: All CPU(s) up to maxcpus should be described in NUMA config\n",
    ]


def test_ram_block_notifiers() -> None:
    machine = build("-m 1G,slots=2,maxmem=4G")
    added: list[tuple[int, int]] = []
    removed: list[tuple[int, int]] = []
    notifier = RamBlockNotifier(lambda a, s: added.append((a, s)),
                                lambda a, s: removed.append((a, s)))
    machine.ram_block_notifier_add(notifier)
    machine.add_backend("memory-backend-ram", "hp", {"size": GiB})
    dimm = machine.plug_dimm("d0", "hp")
    assert added == [(dimm.addr, GiB)]
    machine.complete_dimm_unplug("d0")
    assert removed == [(dimm.addr, GiB)]
    machine.ram_block_notifier_remove(notifier)
    machine.plug_dimm("d1", "hp")
    assert len(added) == 1


def test_memdev_has_no_share_or_reserve_and_no_pc_ram() -> None:
    machine = build("-m 2G -object memory-backend-ram,id=m0,size=2G -numa node,memdev=m0")
    assert machine.query_memdev() == [{"id": "m0", "size": 2 * GiB, "merge": True, "dump": True,
                                       "prealloc": False, "host-nodes": [],
                                       "policy": "default"}]
    assert [b.id for b in build("-m 1G").memdev_order()] == []


@pytest.mark.parametrize(
    ("line", "stderr"),
    [
        ("-m 4G -object memory-backend-ram,id=m0,size=2G -numa node,mem=2G,memdev=m0",
         f"{PROG}: -numa node,mem=2G,memdev=m0: qemu: cannot specify both mem= and memdev=\n"),
        ("-m 4G -object memory-backend-ram,id=m0,size=2G -numa node,memdev=m0 -numa node",
         f"{PROG}: -numa node: qemu: memdev option must be specified for either all or no "
         "nodes\n"),
        ("-m 4G -object memory-backend-ram,id=m0,size=2G -numa node,memdev=m0 "
         "-numa node,memdev=m0",
         f"{PROG}: memory backend m0 is used multiple times. Each -numa option must use a "
         "different memdev value.\n"),
        ("-m 4G -smp 4 -numa node,cpus=0-2 -numa node,cpus=2-3",
         f"{PROG}: CPU(s) present in multiple NUMA nodes: 2\n"),
        ("-m 4G -numa node,nodeid=1", f"{PROG}: numa: Node ID missing: 0\n"),
        ("-m 4G -numa node,nodeid=128",
         f"{PROG}: -numa node,nodeid=128: Max number of NUMA nodes reached: 128\n"),
        ("-m 4G -numa node,nodeid=0 -numa node,nodeid=0",
         f"{PROG}: -numa node,nodeid=0: Duplicate NUMA nodeid: 0\n"),
        ("-m 4G -numa node,mem=1G -numa node,mem=1G",
         f"{PROG}: total memory for NUMA nodes (0x80000000) should equal RAM size "
         "(0x100000000)\n"),
        ("-m 4G -numa node,memdev=nosuch",
         f"{PROG}: -numa node,memdev=nosuch: memdev=nosuch is ambiguous\n"),
        ("-m 4G -smp 4 -numa node,cpus=4",
         f"{PROG}: -numa node,cpus=4: CPU index (4) should be smaller than maxcpus (4)\n"),
        ("-m 4G -numa dist,src=0,dst=1,val=20",
         f"{PROG}: -numa dist,src=0,dst=1,val=20: Parameter 'type' does not accept value "
         "'dist'\n"),
        ("-m 4G,slots=2", f"{PROG}: -m 4G,slots=2: invalid -m option value: missing 'maxmem' "
         "option\n"),
        ("-m 4G,maxmem=8G", f"{PROG}: -m 4G,maxmem=8G: invalid -m option value: missing 'slots' "
         "option\n"),
        ("-m 4G,slots=0,maxmem=8G",
         f"{PROG}: -m 4G,slots=0,maxmem=8G: invalid value of -m option: maxmem was specified, "
         "but no hotplug slots were specified\n"),
        ("-m 4G,slots=2,maxmem=2G",
         f"{PROG}: -m 4G,slots=2,maxmem=2G: invalid value of -m option maxmem: maximum memory "
         "size (0x80000000) must be at least the initial memory size (0x100000000)\n"),
        ("-m 4G,slots=2,maxmem=4G",
         f"{PROG}: -m 4G,slots=2,maxmem=4G: invalid value of -m option maxmem: memory slots "
         "were specified but maximum memory size (0x100000000) is equal to the initial memory "
         "size (0x100000000)\n"),
        ("-m 4G -object memory-backend-ram,id=m0,size=0",
         f"{PROG}: -object memory-backend-ram,id=m0,size=0: Property 'memory-backend-ram.size' "
         "doesn't take value '0'\n"),
        ("-m 4G -object memory-backend-memfd,id=m0,size=1G",
         f"{PROG}: -object memory-backend-memfd,id=m0,size=1G: invalid object type: "
         "memory-backend-memfd\n"),
    ],
)
def test_seed_messages(line: str, stderr: str) -> None:
    assert failure(line) == stderr


def test_max_nodes_is_128() -> None:
    line = "-m 128M " + " ".join(["-numa node"] * 128)
    assert build(line).num_nodes == 128
    assert failure(line + " -numa node").endswith("Max number of NUMA nodes reached: 128\n")
