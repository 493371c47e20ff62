"""Model values for the QEMU 7.2 transcripts of spec §6.2 (E1–E10, M1–M6).

Each test builds the machine from the transcript's command line and checks what the queries
are computed from: node sizes and CPU lists, ``query-memdev`` order, DIMM addresses and slots,
base/plugged memory and the device-memory region.  The expected numbers are the real QEMU's.
"""

from __future__ import annotations

import pytest

from qmpnuma.errors import MachineError
from qmpnuma.machine import Machine

GiB = 1 << 30
MiB = 1 << 20
FIXED = ["-accel", "tcg", "-nodefaults", "-display", "none", "-S"]


def build(line: str) -> Machine:
    """The machine of a 7.2 transcript's command line, under the 7.2 profile (named: the
    default profile is 10.0)."""
    return Machine.from_argv([*FIXED, *line.split()], profile="7.2", progname="qemu-system-x86_64")


def numa_view(machine: Machine) -> list[tuple[list[int], int, int]]:
    """(cpus, size MB, plugged MB) per node, the content of ``info numa``."""
    return [
        (
            machine.cpus.cpus_of_node(node),
            machine.query_numa_node_mem()[node] >> 20,
            machine.node_plugged_memory(node) >> 20,
        )
        for node in range(machine.num_nodes)
    ]


def memdev_ids(machine: Machine) -> list[str]:
    return [backend.id for backend in machine.memdev_order()]


def test_e1_legacy_mem_on_pc_50() -> None:
    m = build("-M pc-i440fx-5.0 -m 4G -smp 4 -numa node,nodeid=0,cpus=0-1,mem=2G "
              "-numa node,nodeid=1,cpus=2-3,mem=2G")
    assert numa_view(m) == [([0, 1], 2048, 0), ([2, 3], 2048, 0)]
    assert m.query_memdev() == [{
        "id": "pc.ram", "size": 4 * GiB, "merge": True, "dump": True, "prealloc": False,
        "share": False, "reserve": True, "host-nodes": [], "policy": "default"}]
    assert len(m.warnings) == 2
    assert m.plugged_memory == 0 and m.ram_size == 4 * GiB


def test_e2_memdev_with_hotplug_sequence() -> None:
    m = build("-M pc -m 4G,slots=4,maxmem=16G -smp 4,maxcpus=8,sockets=4,cores=2 "
              "-object memory-backend-ram,id=m0,size=2G -object memory-backend-ram,id=m1,size=2G "
              "-numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-7,memdev=m1")
    assert memdev_ids(m) == ["m1", "m0"]
    assert numa_view(m) == [([0, 1], 2048, 0), ([2, 3], 2048, 0)]
    assert [s.node_id for s in m.cpus.slots] == [0, 0, 1, 1, 1, 1, 1, 1]
    m.add_backend("memory-backend-ram", "hp0", {"size": GiB})
    dimm0 = m.plug_dimm("dimm0", "hp0", node=1)
    assert (dimm0.addr, dimm0.slot, dimm0.hotplugged) == (5 * GiB, 0, True)
    assert memdev_ids(m) == ["m1", "hp0", "m0"]
    assert numa_view(m) == [([0, 1], 2048, 0), ([2, 3], 3072, 1024)]
    m.add_backend("memory-backend-ram", "hp1", {"size": 512 * MiB})
    dimm1 = m.plug_dimm("dimm1", "hp1")
    assert (dimm1.addr, dimm1.slot, dimm1.node) == (6 * GiB, 1, 0)
    assert numa_view(m) == [([0, 1], 2560, 512), ([2, 3], 3072, 1024)]
    errors: list[tuple[str, str] | None] = []
    for call in (
        lambda: m.plug_dimm("dimmX", "hp0", node=0),
        lambda: m.add_backend("memory-backend-ram", "hp2", {"size": GiB}),
        lambda: m.plug_dimm("dimm2", "hp2", node=5),
        lambda: m.plug_dimm("dimm2"),
        lambda: m.plug_dimm("dimm2", "nosuch"),
        lambda: m.plug_dimm("dimm0", "hp2"),
        lambda: m.plug_dimm("dimm2", "hp2", addr=4096),
        lambda: m.add_backend("memory-backend-ram", "hp3", {"size": 1052672}),
        lambda: m.plug_dimm("dimm3", "hp3"),
        lambda: m.add_backend("memory-backend-ram", "hp0", {"size": GiB}),
        lambda: m.del_backend("hp0"),
        lambda: m.del_backend("nosuch"),
        lambda: m.del_backend("hp3"),
        lambda: m.unplug_dimm("dimm1"),
        lambda: m.unplug_dimm("nosuch"),
    ):
        try:
            call()
            errors.append(None)
        except MachineError as err:
            errors.append((err.error_class, err.message))
    assert errors == [
        ("GenericError", "can't use already busy memdev: hp0"),
        None,
        ("GenericError",
         "'DIMM property node has value 5' which exceeds the number of numa nodes: 2"),
        ("GenericError", "'memdev' property must be set"),
        ("DeviceNotFound", "Device 'nosuch' not found"),
        ("GenericError", "Duplicate device ID 'dimm0'"),
        ("GenericError", "address must be aligned to 0x200000 bytes"),
        None,
        ("GenericError", "backend memory size must be multiple of 0x200000"),
        ("GenericError",
         "attempt to add duplicate property 'hp0' to object (type 'container')"),
        ("GenericError", "object 'hp0' is in use, can not be deleted"),
        ("GenericError", "object 'nosuch' not found"),
        None,
        None,
        ("DeviceNotFound", "Device 'nosuch' not found"),
    ]
    # device_del on a guest without OS changes nothing
    assert [d.id for d in m.sorted_dimms()] == ["dimm0", "dimm1"]
    # "big" fails while completing (host allocation): insert + remove in /objects
    m.objects.add("big")
    m.objects.remove("big")
    assert memdev_ids(m) == ["hp1", "m1", "hp2", "hp0", "m0"]
    with pytest.raises(MachineError, match="host-nodes must be set for policy bind"):
        m.add_backend("memory-backend-ram", "x3", {"size": MiB, "policy": "bind"})
    with pytest.raises(MachineError, match="doesn't take value '0'"):
        m.add_backend("memory-backend-ram", "x2", {"size": 0})
    m.add_backend("memory-backend-ram", "x5",
                  {"size": MiB, "host-nodes": [0], "policy": "preferred"})
    with pytest.raises(MachineError, match="'prealloc=on' and 'reserve=off' are incompatible"):
        m.add_backend("memory-backend-ram", "x6", {"size": MiB, "prealloc": True,
                                                   "merge": False, "dump": False,
                                                   "share": True, "reserve": False})
    assert memdev_ids(m) == ["hp1", "m1", "x5", "hp2", "hp0", "m0"]
    assert m.backends["x5"].memdev_info()["host-nodes"] == [0]


def test_e3_default_mapping_by_socket() -> None:
    m = build("-M pc -m 4G -smp 8,sockets=4,cores=2 -object memory-backend-ram,id=m0,size=2G "
              "-object memory-backend-ram,id=m1,size=2G -numa node,nodeid=0,memdev=m0 "
              "-numa node,nodeid=1,memdev=m1")
    assert numa_view(m) == [([0, 1, 4, 5], 2048, 0), ([2, 3, 6, 7], 2048, 0)]


def test_e3b_threads_and_ht_warning() -> None:
    m = build("-M pc -m 3G -smp 12,sockets=3,cores=2,threads=2 "
              "-object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G "
              "-object memory-backend-ram,id=m2,size=1G -numa node,memdev=m0 "
              "-numa node,memdev=m1 -numa node,memdev=m2")
    assert [v[0] for v in numa_view(m)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert m.warnings == [
        "qemu-system-x86_64: warning: This family of AMD CPU doesn't support hyperthreading(2)\n",
        "Please configure -smp options properly or try enabling topoext feature.\n",
    ]


def test_e3c_more_nodes_than_sockets() -> None:
    m = build("-M pc -m 3G -smp 4,sockets=1,cores=4 -object memory-backend-ram,id=m0,size=1G "
              "-object memory-backend-ram,id=m1,size=1G -object memory-backend-ram,id=m2,size=1G "
              "-numa node,memdev=m0 -numa node,memdev=m1 -numa node,memdev=m2")
    assert numa_view(m) == [([0, 1, 2, 3], 1024, 0), ([], 1024, 0), ([], 1024, 0)]


def test_e3d_partial_mapping_goes_to_node0() -> None:
    m = build("-M pc -m 4G -smp 4 -object memory-backend-ram,id=m0,size=2G "
              "-object memory-backend-ram,id=m1,size=2G -numa node,nodeid=1,cpus=0,memdev=m0 "
              "-numa node,nodeid=0,cpus=2,memdev=m1")
    assert numa_view(m) == [([1, 2, 3], 2048, 0), ([0], 2048, 0)]
    assert memdev_ids(m) == ["m1", "m0"]
    assert len(m.warnings) == 2


def test_e3e_memoryless_node() -> None:
    m = build("-M pc -m 4G -smp 4 -object memory-backend-ram,id=m0,size=4G "
              "-numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3")
    assert numa_view(m) == [([0, 1], 4096, 0), ([2, 3], 0, 0)]
    assert memdev_ids(m) == ["m0"]


def test_e5_numa_cpu_and_dist() -> None:
    m = build("-M pc -m 4G -smp 4,sockets=2,cores=2 -object memory-backend-ram,id=m0,size=2G "
              "-object memory-backend-ram,id=m1,size=2G -numa node,nodeid=0,memdev=m0 "
              "-numa node,nodeid=1,memdev=m1 -numa cpu,node-id=1,socket-id=0 "
              "-numa cpu,node-id=0,socket-id=1 -numa dist,src=0,dst=1,val=21")
    assert numa_view(m) == [([2, 3], 2048, 0), ([0, 1], 2048, 0)]
    assert [m.numa.distance(a, b) for a in (0, 1) for b in (0, 1)] == [10, 21, 21, 10]


def test_e7_no_numa() -> None:
    m = build("-M pc -m 1G -smp 2")
    assert m.num_nodes == 0
    assert memdev_ids(m) == ["pc.ram"]
    assert all(slot.node_id is None for slot in m.cpus.slots)


def test_e8_auto_numa_with_slots() -> None:
    m = build("-M pc -m 1G,slots=2,maxmem=4G -smp 2")
    assert numa_view(m) == [([0, 1], 1024, 0)]
    assert memdev_ids(m) == ["pc.ram"]
    assert [slot.node_id for slot in m.cpus.slots] == [0, 0]


@pytest.mark.parametrize("machine", ["q35", "pc-i440fx-5.0"])
def test_e8b_e8c_no_numa(machine: str) -> None:
    m = build(f"-M {machine} -m 1G")
    assert m.num_nodes == 0 and memdev_ids(m) == ["pc.ram"]


def test_e9_backends() -> None:
    m = build("-M pc -m 3G -smp 3 -object memory-backend-file,id=f0,size=1G,mem-path=/tmp,"
              "share=on,prealloc=off,align=2M,discard-data=on "
              "-object memory-backend-memfd,id=mf0,size=1G,hugetlb=off,seal=on "
              "-object memory-backend-ram,id=r0,size=1G,merge=off,dump=off,policy=preferred,"
              "host-nodes=0 -numa node,memdev=f0,cpus=0 -numa node,memdev=mf0,cpus=1 "
              "-numa node,memdev=r0,cpus=2")
    assert memdev_ids(m) == ["r0", "f0", "mf0"]
    r0, f0, mf0 = m.backends["r0"], m.backends["f0"], m.backends["mf0"]
    assert (r0.merge, r0.dump, r0.policy, r0.host_nodes, r0.share) == (
        False, False, "preferred", [0], False)
    assert (f0.share, f0.align, f0.discard_data, f0.mem_path) == (True, 2 * MiB, True, "/tmp")
    assert (mf0.share, mf0.seal, mf0.hugetlb) == (True, True, False)
    assert r0.prealloc_threads == 3
    assert numa_view(m) == [([0], 1024, 0), ([1], 1024, 0), ([2], 1024, 0)]


def test_e9b_host_nodes_range() -> None:
    m = build("-M pc -m 1G -object memory-backend-ram,id=r0,size=1G,policy=interleave,"
              "host-nodes=0-0 -numa node,memdev=r0")
    assert m.query_memdev()[0]["host-nodes"] == [0]
    assert m.query_memdev()[0]["policy"] == "interleave"


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 134217728), ("1M", 1048576), ("1.5G", 1610612736), ("129", 135266304),
     ("4097k", 4202496), ("1000000k", 1024000000)],
)
def test_e10_ram_sizes(text: str, size: int) -> None:
    m = build(f"-M pc -m {text}")
    assert m.ram_size == size
    assert m.query_memdev()[0]["size"] == size


def test_m1_cores_preferred_and_m1b_sockets_preferred() -> None:
    tail = ("-m 4G -smp 4 -object memory-backend-ram,id=m0,size=2G "
            "-object memory-backend-ram,id=m1,size=2G -numa node,memdev=m0 -numa node,memdev=m1")
    assert [v[0] for v in numa_view(build("-M pc " + tail))] == [[0, 1, 2, 3], []]
    assert [v[0] for v in numa_view(build("-M pc-i440fx-6.1 " + tail))] == [[0, 2], [1, 3]]


def test_m2_repeated_cpus_keys_accumulate() -> None:
    m = build("-M pc -m 4G -smp 4 -object memory-backend-ram,id=m0,size=2G "
              "-object memory-backend-ram,id=m1,size=2G -numa node,memdev=m0,cpus=0,cpus=2-3 "
              "-numa node,memdev=m1,cpus=1")
    assert [v[0] for v in numa_view(m)] == [[0, 2, 3], [1]]


@pytest.mark.parametrize("mem", ["1G", "1G,maxmem=4G"])
def test_m3_dimm_without_slots(mem: str) -> None:
    m = build(f"-M pc -m {mem}")
    m.add_backend("memory-backend-ram", "hp0", {"size": GiB})
    with pytest.raises(MachineError, match="no slots where allocated, please specify the 'slots'"):
        m.plug_dimm("d0", "hp0")


def test_m4_one_slot() -> None:
    m = build("-M pc -m 1G,slots=1,maxmem=3G")
    for name, size in (("a", GiB), ("b", GiB), ("c", 4 * GiB)):
        m.add_backend("memory-backend-ram", name, {"size": size})
    with pytest.raises(MachineError) as info:
        m.plug_dimm("dc", "c")
    assert info.value.message == (
        "not enough space, currently 0x0 in use of total space for memory devices 0x80000000")
    with pytest.raises(MachineError, match=r"invalid slot number 5, valid range is \[0-0\]"):
        m.plug_dimm("da", "a", slot=5)
    da = m.plug_dimm("da", "a", node=0, slot=0)
    with pytest.raises(MachineError, match="no free slots available"):
        m.plug_dimm("db", "b")
    assert da.device_info() == {"id": "da", "addr": 4294967296, "size": GiB, "slot": 0,
                                "node": 0, "memdev": "/objects/a", "hotplugged": True,
                                "hotpluggable": True}
    assert (m.ram_size, m.plugged_memory) == (GiB, GiB)


def test_m5_address_allocation() -> None:
    m = build("-M pc -m 2G,slots=4,maxmem=8G")
    assert (m.device_memory_base, m.device_memory_size) == (0x100000000, 10737418240)
    for name, size in (("b0", 512 * MiB), ("b1", 256 * MiB), ("b2", GiB)):
        m.add_backend("memory-backend-ram", name, {"size": size})
    m.plug_dimm("d0", "b0", addr=6442450944)
    m.plug_dimm("d1", "b1")
    m.plug_dimm("d2", "b2")
    assert [(d.id, d.addr, d.slot) for d in m.sorted_dimms()] == [
        ("d1", 0x100000000, 1), ("d2", 0x110000000, 2), ("d0", 0x180000000, 0)]
    assert numa_view(m) == [([0], 3840, 1792)]


@pytest.mark.parametrize(
    ("machine", "mem", "addr"),
    [("q35", "4G", 6442450944), ("pc", "3584M", 5368709120), ("pc", "1G", 4294967296)],
)
def test_m5bcd_first_dimm_address(machine: str, mem: str, addr: int) -> None:
    m = build(f"-M {machine} -m {mem},slots=4,maxmem=8G")
    m.add_backend("memory-backend-ram", "b0", {"size": GiB})
    assert m.plug_dimm("d0", "b0").addr == addr


def test_m6_hmat() -> None:
    m = build("-M pc,hmat=on -m 2G -smp 2 -object memory-backend-ram,id=m0,size=1G "
              "-object memory-backend-ram,id=m1,size=1G "
              "-numa node,nodeid=0,cpus=0-1,memdev=m0,initiator=0 "
              "-numa node,nodeid=1,memdev=m1,initiator=0 "
              "-numa hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,"
              "latency=5 "
              "-numa hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,"
              "bandwidth=200M "
              "-numa hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,"
              "latency=10 "
              "-numa hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-bandwidth,"
              "bandwidth=100M "
              "-numa hmat-cache,node-id=0,size=10K,level=1,associativity=direct,"
              "policy=write-back,line=8")
    assert numa_view(m) == [([0, 1], 1024, 0), ([], 1024, 0)]
    assert m.numa.hmat_cache[(0, 1)].size == 10 * 1024
    assert m.warnings == []


def state(machine: Machine) -> str:
    """The run state as a plain string (keeps type narrowing out of the test)."""
    return str(machine.run_state)


def test_run_state_and_recorded_options() -> None:
    m = build("-M pc -m 1G -name guest0 -qmp unix:/tmp/x.sock,server=on,wait=off")
    assert m.run_state == "prelaunch"
    assert m.option_values("qmp") == ["unix:/tmp/x.sock,server=on,wait=off"]
    assert m.option_values("name") == ["guest0"]
    m.cont()
    assert state(m) == "running"
    m.stop()
    assert state(m) == "paused"
    m.system_reset()
    assert state(m) == "prelaunch"
    m.cont()
    m.system_reset()
    m.system_powerdown()
    assert state(m) == "running"
    running = Machine.from_argv(["-m", "1G"])
    assert running.run_state == "running"


def test_node_address_ranges_split_at_pci_hole() -> None:
    m = build("-M pc -m 4G -object memory-backend-ram,id=m0,size=1G "
              "-object memory-backend-ram,id=m1,size=3G -numa node,memdev=m0 -numa node,memdev=m1")
    assert m.node_address_ranges(0) == [(0, GiB)]
    assert m.node_address_ranges(1) == [(GiB, 3 * GiB), (4 * GiB, 5 * GiB)]
    assert [m.numa_get_node(offset) for offset in (0, GiB, 4 * GiB - 1)] == [0, 1, 1]


def test_cold_plugged_dimm_and_ram_layout() -> None:
    m = build("-M pc -m 4G,slots=2,maxmem=8G -object memory-backend-ram,id=d,size=1G "
              "-device pc-dimm,id=dimm0,memdev=d")
    dimm = m.sorted_dimms()[0]
    assert (dimm.addr, dimm.hotplugged, dimm.slot) == (5 * GiB, False, 0)
    assert (m.layout.below_4g, m.layout.above_4g) == (3 * GiB, GiB)
    assert m.numa_get_node(dimm.addr) == 0
    with pytest.raises(MachineError, match="object 'd' is in use"):
        m.del_backend("d")


def test_device_add_pairs_for_dimm_and_unknown_model() -> None:
    m = build("-M pc -m 1G,slots=2,maxmem=4G")
    m.add_backend("memory-backend-ram", "hp0", {"size": GiB})
    m.device_add([("driver", "pc-dimm"), ("id", "d0"), ("memdev", "hp0"), ("node", "0")],
                 hotplugged=True)
    assert [(d.id, d.hotplugged, d.slot) for d in m.sorted_dimms()] == [("d0", True, 0)]
    with pytest.raises(MachineError, match="'foo' is not a valid device model name"):
        m.device_add([("driver", "foo")], hotplugged=True)
    with pytest.raises(MachineError, match="Duplicate device ID 'd0'"):
        m.device_add([("driver", "pc-dimm"), ("id", "d0"), ("memdev", "hp0")], hotplugged=True)
