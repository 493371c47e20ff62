"""CPU slots, CPU-to-node mapping, CPU hot-plug and the CPU queries, for both profiles.

Unit tests pin the transcripts of the spec (E3*, E5, M1*, M2, F1, §6.3) and the 2.9 seed rules;
the differential tests build the expected answers with the API of each reference release's
profile and compare them with that QEMU, 7.2 and 10.0 (``query-hotpluggable-cpus``,
``query-cpus-fast`` without ``thread-id``, start-up stderr, and a hot-plug session).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import Reference

from qmpnuma.errors import MachineError
from qmpnuma.machine.cpu_slots import (
    apic_id_from_ids,
    boot_cpu_qom_path,
    cpu_type_for_model,
    peripheral_qom_path,
    topo_ids_from_index,
)
from qmpnuma.machine.cpus import MachineCpus
from qmpnuma.machine.machine_types import Profile, resolve_machine_type
from qmpnuma.machine.smp import parse_smp
from qmpnuma.profiles import get_profile

P72 = get_profile("7.2")
P29 = get_profile("2.9")

PROG = "qemu-system-x86_64"


def smp_config(text: str) -> dict[str, int]:
    config: dict[str, int] = {}
    for part in text.split(","):
        key, _, value = part.rpartition("=")
        config[key or "cpus"] = int(value, 0)
    return config


def make_cpus(
    smp: str, machine: str = "pc", profile: Profile = P72, cpu_model: str | None = None
) -> MachineCpus:
    machine_type = resolve_machine_type(machine, profile)
    topology = parse_smp(smp_config(smp), machine_type, profile)
    return MachineCpus(topology, machine_type, profile, cpu_model)


def nodes_line(cpus: MachineCpus, num_nodes: int) -> list[list[int]]:
    return [cpus.cpus_of_node(node) for node in range(num_nodes)]


def error_of(action: Any, *args: Any) -> str:
    with pytest.raises(MachineError) as info:
        action(*args)
    return info.value.message


# --- topology ids ----------------------------------------------------------------------------


def test_ids_and_apic_ids() -> None:
    topology = parse_smp(smp_config("12,sockets=3,cores=2,threads=2"), resolve_machine_type("pc"))
    ids = topo_ids_from_index(topology, 7)
    assert (ids.socket_id, ids.die_id, ids.core_id, ids.thread_id) == (1, 0, 1, 1)
    assert apic_id_from_ids(topology, ids) == 0b1_1_1
    topology = parse_smp(smp_config("12,sockets=1,cores=3,threads=1,dies=4"),
                         resolve_machine_type("pc"))
    ids = topo_ids_from_index(topology, 7)
    assert (ids.socket_id, ids.die_id, ids.core_id, ids.thread_id) == (0, 2, 1, 0)
    assert apic_id_from_ids(topology, ids) == (2 << 2) | 1


def test_qom_paths_and_types() -> None:
    assert [boot_cpu_qom_path(i) for i in range(3)] == [
        "/machine/unattached/device[0]", "/machine/unattached/device[2]",
        "/machine/unattached/device[3]",
    ]
    assert peripheral_qom_path("cpu2") == "/machine/peripheral/cpu2"
    assert peripheral_qom_path(None, 3) == "/machine/peripheral-anon/device[3]"
    assert cpu_type_for_model(None, resolve_machine_type("pc")) == "qemu64-x86_64-cpu"
    assert cpu_type_for_model("max,+avx", resolve_machine_type("pc")) == "max-x86_64-cpu"
    assert cpu_type_for_model(None, resolve_machine_type("isapc")) == "486-x86_64-cpu"


def test_present_and_possible() -> None:
    cpus = make_cpus("2,maxcpus=4")
    answer = cpus.query_hotpluggable_cpus()
    assert [entry.get("qom-path") for entry in answer] == [
        None, None, "/machine/unattached/device[2]", "/machine/unattached/device[0]",
    ]
    assert answer[0] == {
        "type": "qemu64-x86_64-cpu", "vcpus-count": 1,
        "props": {"socket-id": 0, "core-id": 3, "thread-id": 0},
    }
    fast = cpus.query_cpus_fast()
    assert [(e["cpu-index"], e["qom-path"], e["target"]) for e in fast] == [
        (0, "/machine/unattached/device[0]", "x86_64"),
        (1, "/machine/unattached/device[2]", "x86_64"),
    ]
    assert fast[1]["props"] == {"socket-id": 0, "core-id": 1, "thread-id": 0}


def test_die_id_only_with_several_dies() -> None:
    assert "die-id" not in make_cpus("4,dies=1").slots[3].props()
    assert make_cpus("4,dies=2").slots[3].props() == {
        "socket-id": 0, "die-id": 1, "core-id": 1, "thread-id": 0,
    }


def test_hyperthreading_warning() -> None:
    expected = [
        "This family of AMD CPU doesn't support hyperthreading(2)\n"
        "Please configure -smp options properly or try enabling topoext feature."
    ]
    assert make_cpus("4,threads=2").startup_warnings() == expected
    assert make_cpus("4,threads=2", cpu_model="max").startup_warnings() == expected
    assert make_cpus("4,threads=2", cpu_model="kvm64").startup_warnings() == []
    assert make_cpus("4").startup_warnings() == []


# --- 7.2 node mapping (spec transcripts) ------------------------------------------------------


def test_e3_default_mapping_by_socket() -> None:
    cpus = make_cpus("8,sockets=4,cores=2")
    assert cpus.finish_numa(2) == []
    assert nodes_line(cpus, 2) == [[0, 1, 4, 5], [2, 3, 6, 7]]
    assert cpus.query_hotpluggable_cpus()[0] == {
        "type": "qemu64-x86_64-cpu", "vcpus-count": 1,
        "props": {"node-id": 1, "socket-id": 3, "core-id": 1, "thread-id": 0},
        "qom-path": "/machine/unattached/device[8]",
    }


def test_e3b_threads_and_e3c_more_nodes_than_sockets() -> None:
    cpus = make_cpus("12,sockets=3,cores=2,threads=2")
    assert cpus.finish_numa(3) == []
    assert nodes_line(cpus, 3) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    cpus = make_cpus("4,sockets=1,cores=4")
    cpus.finish_numa(3)
    assert nodes_line(cpus, 3) == [[0, 1, 2, 3], [], []]


def test_m1_cores_preferred_and_m1b_sockets_preferred() -> None:
    cpus = make_cpus("4")
    cpus.finish_numa(2)
    assert nodes_line(cpus, 2) == [[0, 1, 2, 3], []]
    cpus = make_cpus("4", "pc-i440fx-6.1")
    cpus.finish_numa(2)
    assert nodes_line(cpus, 2) == [[0, 2], [1, 3]]


def test_e3d_partial_mapping_warns_and_uses_node_0() -> None:
    cpus = make_cpus("4")
    cpus.assign_node_cpus(1, [0])
    cpus.assign_node_cpus(0, [2])
    assert cpus.finish_numa(2) == [
        "CPU(s) not present in any NUMA nodes: CPU 1 [socket-id: 0, core-id: 1, thread-id: 0], "
        "CPU 3 [socket-id: 0, core-id: 3, thread-id: 0]",
        "All CPU(s) up to maxcpus should be described in NUMA config, ability to start up with "
        "partial NUMA mappings is obsoleted and will be removed in future",
    ]
    assert nodes_line(cpus, 2) == [[1, 2, 3], [0]]


def test_partial_mapping_text_lists_die_ids() -> None:
    cpus = make_cpus("4,dies=2")
    cpus.assign_node_cpus(0, [0])
    warnings = cpus.finish_numa(2)
    assert warnings[0] == (
        "CPU(s) not present in any NUMA nodes: "
        "CPU 1 [socket-id: 0, die-id: 0, core-id: 1, thread-id: 0], "
        "CPU 2 [socket-id: 0, die-id: 1, core-id: 0, thread-id: 0], "
        "CPU 3 [socket-id: 0, die-id: 1, core-id: 1, thread-id: 0]"
    )


def test_m2_repeated_cpus_keys() -> None:
    cpus = make_cpus("4")
    cpus.assign_node_cpus(0, [0, 2, 3])
    cpus.assign_node_cpus(1, [1])
    assert cpus.finish_numa(2) == []
    assert nodes_line(cpus, 2) == [[0, 2, 3], [1]]
    cpus = make_cpus("4")
    cpus.assign_node_cpus(0, [0, 1, 2, 1])
    assert len(cpus.finish_numa(1)) == 2


def test_e5_numa_cpu_by_socket() -> None:
    cpus = make_cpus("4,sockets=2,cores=2")
    cpus.assign_numa_cpu({"node-id": 1, "socket-id": 0}, {0, 1})
    cpus.assign_numa_cpu({"node-id": 0, "socket-id": 1}, {0, 1})
    assert cpus.finish_numa(2) == []
    assert nodes_line(cpus, 2) == [[2, 3], [0, 1]]


def test_numa_cpu_node_only_matches_every_slot() -> None:
    cpus = make_cpus("4,sockets=2,cores=2")
    cpus.assign_numa_cpu({"node-id": 0}, {0})
    assert cpus.finish_numa(1) == []
    assert nodes_line(cpus, 1) == [[0, 1, 2, 3]]


def test_numa_cpu_die_and_thread_matching() -> None:
    cpus = make_cpus("8,dies=2,threads=2")
    cpus.assign_numa_cpu({"node-id": 1, "die-id": 1, "thread-id": 1}, {0, 1})
    cpus.assign_numa_cpu({"node-id": 0, "die-id": 0}, {0, 1})
    cpus.assign_numa_cpu({"node-id": 1, "die-id": 1, "thread-id": 0}, {0, 1})
    assert cpus.finish_numa(2) == []
    assert nodes_line(cpus, 2) == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize(
    ("smp", "steps", "message"),
    [
        ("4", [("node", 0, [0, 1, 2, 3, 4])], "CPU index (4) should be smaller than maxcpus (4)"),
        ("4,maxcpus=8", [("node", 0, [8])], "CPU index (8) should be smaller than maxcpus (8)"),
        ("4", [("node", 0, [0, 1, 2]), ("node", 1, [2, 3])],
         "CPU is already assigned to node-id: 0"),
        ("4,sockets=2,cores=2", [("cpu", {"socket-id": 0})], "Missing mandatory node-id property"),
        ("4,sockets=2,cores=2", [("cpu", {"node-id": 2, "socket-id": 0})],
         "Invalid node-id=2, NUMA node must be defined with -numa node,nodeid=ID before it's "
         "used with -numa cpu,node-id=ID"),
        ("4,sockets=2,cores=2", [("cpu", {"node-id": 200, "socket-id": 0})],
         "Invalid node-id=200, NUMA node must be defined with -numa node,nodeid=ID before it's "
         "used with -numa cpu,node-id=ID"),
        ("4,sockets=2,cores=2", [("cpu", {"node-id": 0, "socket-id": 5})], "no match found"),
        ("4,sockets=2,cores=2", [("cpu", {"node-id": 0, "socket-id": 0}),
                                 ("cpu", {"node-id": 1, "socket-id": 0})],
         "CPU is already assigned to node-id: 0"),
        ("4,sockets=2,cores=2", [("cpu", {"node-id": 0, "cluster-id": 0})],
         "cluster-id is not supported"),
        ("4,sockets=2,cores=2", [("cpu", {"node-id": 0, "die-id": 0})], "die-id is not supported"),
        ("4,dies=2", [("cpu", {"node-id": 0, "die-id": 1, "cluster-id": 0})],
         "cluster-id is not supported"),
        ("4,sockets=2,cores=2", [("node", 0, [0, 1]), ("cpu", {"node-id": 1, "socket-id": 0})],
         "CPU is already assigned to node-id: 0"),
    ],
)
def test_mapping_errors_7_2(smp: str, steps: list[Any], message: str) -> None:
    cpus = make_cpus(smp)
    with pytest.raises(MachineError) as info:
        for step in steps:
            if step[0] == "node":
                cpus.assign_node_cpus(step[1], step[2])
            else:
                cpus.assign_numa_cpu(step[1], {0, 1})
    assert info.value.message == message


def test_hmat_initiator_rule() -> None:
    cpus = make_cpus("4")
    initiators = {0: 1}
    assert error_of(cpus.assign_node_cpus, 0, [0, 1], initiators) == (
        "The initiator of CPU NUMA node 0 should be itself (got 1)"
    )
    cpus = make_cpus("2")
    initiators = {1: 0}
    cpus.assign_node_cpus(0, [0, 1], initiators)
    assert initiators == {0: 0, 1: 0}
    assert cpus.finish_numa(2, initiators) == []
    assert cpus.nodes_with_cpus() == {0}
    cpus = make_cpus("2")
    assert error_of(cpus.finish_numa, 1, {0: 1}) == (
        "The initiator of CPU NUMA node 0 should be itself (got 1)"
    )


# --- 7.2 hot-plug -----------------------------------------------------------------------------


def f1_machine() -> MachineCpus:
    cpus = make_cpus("2,maxcpus=4,sockets=4,cores=1")
    cpus.finish_numa(2)
    return cpus


def test_f1_cpu_hotplug_with_numa() -> None:
    cpus = f1_machine()
    qemu64 = "qemu64-x86_64-cpu"
    ids = {"socket-id": 2, "core-id": 0, "thread-id": 0}
    assert error_of(cpus.plug_cpu, qemu64, {**ids, "node-id": 1}, "/machine/peripheral/cpu2") == (
        "invalid node-id, must be 0"
    )
    cpus.plug_cpu(qemu64, {**ids, "node-id": 0}, "/machine/peripheral/cpu2")
    cpus.plug_cpu(qemu64, {"socket-id": 3, "core-id": 0, "thread-id": 0},
                  "/machine/peripheral/cpu3")
    assert error_of(cpus.plug_cpu, qemu64, {"socket-id": 9, "core-id": 0, "thread-id": 0},
                    "/machine/peripheral/cpu9") == "Invalid CPU socket-id: 9 must be in range 0:3"
    assert nodes_line(cpus, 2) == [[0, 2], [1, 3]]
    assert [(e["qom-path"], e["props"]) for e in cpus.query_cpus_fast()][2:] == [
        ("/machine/peripheral/cpu2", {"node-id": 0, "socket-id": 2, "core-id": 0, "thread-id": 0}),
        ("/machine/peripheral/cpu3", {"node-id": 1, "socket-id": 3, "core-id": 0, "thread-id": 0}),
    ]
    assert cpus.query_hotpluggable_cpus()[0]["qom-path"] == "/machine/peripheral/cpu3"


HOTPLUG_ERRORS = [
    ({"socket-id": 0, "core-id": 1, "thread-id": 0}, "qemu64-x86_64-cpu",
     "CPU[1] with APIC ID 1 exists"),
    ({"core-id": 1, "thread-id": 0}, "qemu64-x86_64-cpu", "CPU socket-id is not set"),
    ({"socket-id": 1, "thread-id": 0}, "qemu64-x86_64-cpu", "CPU core-id is not set"),
    ({"socket-id": 1, "core-id": 0}, "qemu64-x86_64-cpu", "CPU thread-id is not set"),
    ({"socket-id": 1, "core-id": 2, "thread-id": 0}, "qemu64-x86_64-cpu",
     "Invalid CPU core-id: 2 must be in range 0:1"),
    ({"socket-id": 1, "core-id": 0, "thread-id": 1}, "qemu64-x86_64-cpu",
     "Invalid CPU thread-id: 1 must be in range 0:0"),
    ({"socket-id": 1, "core-id": 0, "thread-id": 0, "die-id": 1}, "qemu64-x86_64-cpu",
     "Invalid CPU die-id: 1 must be in range 0:0"),
    ({"socket-id": 1, "core-id": 0, "thread-id": 0, "node-id": 1}, "qemu64-x86_64-cpu",
     "invalid node-id, must be 0"),
    ({"socket-id": 1, "core-id": 0, "thread-id": 0}, "max-x86_64-cpu",
     "Invalid CPU type, expected cpu type: 'qemu64-x86_64-cpu'"),
    ({"socket-id": -1, "core-id": 0, "thread-id": 0}, "qemu64-x86_64-cpu",
     "CPU socket-id is not set"),
]


@pytest.mark.parametrize(("props", "driver", "message"), HOTPLUG_ERRORS)
def test_hotplug_errors(props: dict[str, int], driver: str, message: str) -> None:
    cpus = make_cpus("2,maxcpus=4,sockets=2,cores=2")
    assert error_of(cpus.plug_cpu, driver, props, "/machine/peripheral/c2") == message


def test_hotplug_without_numa_and_unplug() -> None:
    cpus = make_cpus("2,maxcpus=4,sockets=2,cores=2")
    slot = cpus.plug_cpu("qemu64-x86_64-cpu",
                         {"socket-id": 1, "core-id": 0, "thread-id": 0, "die-id": 0},
                         "/machine/peripheral/c2")
    assert (slot.cpu_index, slot.hotplugged) == (2, True)
    assert slot.props() == {"socket-id": 1, "core-id": 0, "thread-id": 0}
    assert error_of(cpus.request_unplug, slot) == (
        "acpi: device unplug request for not supported device type: qemu64-x86_64-cpu"
    )
    assert error_of(cpus.request_unplug, cpus.slots[0]) == "Boot CPU is unpluggable"
    assert cpus.slot_by_qom_path("/machine/peripheral/c2") is slot


@pytest.mark.parametrize(
    ("machine", "smp", "fails"),
    [("q35", "1,maxcpus=255", False), ("q35", "1,maxcpus=256", True),
     ("pc", "1,maxcpus=255,sockets=85,cores=3", True), ("pc", "1,maxcpus=128,cores=128", False)],
)
def test_apic_id_limit(machine: str, smp: str, fails: bool) -> None:
    cpus = make_cpus(smp, machine)
    if fails:
        assert error_of(cpus.check_board_cpus) == (
            "current -smp configuration requires kernel irqchip and X2APIC API support."
        )
    else:
        cpus.check_board_cpus()


def test_microvm_has_no_cpu_hotplug() -> None:
    cpus = make_cpus("1,maxcpus=2", "microvm")
    assert error_of(cpus.query_hotpluggable_cpus) == (
        "The feature 'query-hotpluggable-cpus' is not enabled"
    )
    assert error_of(cpus.plug_cpu, "qemu64-x86_64-cpu",
                    {"socket-id": 0, "core-id": 1, "thread-id": 0}, "/machine/peripheral/c1") == (
        "virt: device plug request for unsupported device type: qemu64-x86_64-cpu"
    )
    assert [e["qom-path"] for e in cpus.query_cpus_fast()] == ["/machine/unattached/device[0]"]


# --- 2.9 profile (seed numa.c; source-derived) --------------------------------------------------


def test_2_9_default_mapping_by_socket() -> None:
    cpus = make_cpus("4", profile=P29)
    assert cpus.finish_numa(2) == []
    assert nodes_line(cpus, 2) == [[0, 2], [1, 3]]
    cpus = make_cpus("4,cores=2", profile=P29)
    cpus.finish_numa(2)
    assert nodes_line(cpus, 2) == [[0, 1], [2, 3]]
    assert cpus.query_hotpluggable_cpus()[0]["props"] == {
        "socket-id": 1, "core-id": 1, "thread-id": 0,
    }


def test_2_9_round_robin_without_socket_rule() -> None:
    machine_type = dataclasses.replace(
        resolve_machine_type("pc", P29), has_cpu_index_to_socket_id=False
    )
    topology = parse_smp(smp_config("4,cores=2"), machine_type, P29)
    cpus = MachineCpus(topology, machine_type, P29)
    cpus.finish_numa(2)
    assert nodes_line(cpus, 2) == [[0, 2], [1, 3]]


def test_2_9_overlap_is_fatal_at_the_end() -> None:
    cpus = make_cpus("4", profile=P29)
    cpus.assign_node_cpus(0, [0, 1, 2])
    cpus.assign_node_cpus(1, [2, 3])
    assert error_of(cpus.finish_numa, 2) == "CPU(s) present in multiple NUMA nodes: 2"


def test_2_9_partial_mapping() -> None:
    cpus = make_cpus("4", profile=P29)
    cpus.assign_node_cpus(1, [0])
    cpus.assign_node_cpus(0, [2])
    assert cpus.finish_numa(2) == [
        "CPU(s) not present in any NUMA nodes: 1 3",
        "All CPU(s) up to maxcpus should be described in NUMA config",
    ]
    assert nodes_line(cpus, 2) == [[1, 2, 3], [0]]
    assert [cpus.numa_get_node_for_cpu(i) for i in range(4)] == [1, 2, 0, 2]
    assert error_of(cpus.assign_node_cpus, 0, [4]) == (
        "CPU index (4) should be smaller than maxcpus (4)"
    )


def test_2_9_hotplug_and_query_cpus() -> None:
    cpus = make_cpus("1,maxcpus=2", profile=P29)
    assert error_of(cpus.plug_cpu, "qemu64-x86_64-cpu",
                    {"socket-id": 1, "core-id": 0, "thread-id": 0, "node-id": 0},
                    "/machine/peripheral/c1") == "Property '.node-id' not found"
    cpus.plug_cpu("qemu64-x86_64-cpu", {"socket-id": 1, "core-id": 0, "thread-id": 0},
                  "/machine/peripheral/c1")
    info = cpus.query_cpus()
    assert [(c["CPU"], c["current"], c["halted"], c["qom_path"]) for c in info] == [
        (0, True, False, "/machine/unattached/device[0]"),
        (1, False, True, "/machine/peripheral/c1"),
    ]
    cpus = make_cpus("3,maxcpus=3,cores=2", profile=P29)
    assert error_of(cpus.plug_cpu, "qemu64-x86_64-cpu",
                    {"socket-id": 1, "core-id": 1, "thread-id": 0}, "/x") == (
        "Invalid CPU [socket: 1, core: 1, thread: 0] with APIC ID 3, valid index range 0:2"
    )


# --- differential tests against each reference QEMU ---------------------------------------------


@dataclass
class Shape:
    """A -smp / -numa configuration, turned both into QEMU arguments and into our model."""

    machine: str
    smp: str
    node_cpus: list[list[int]] = field(default_factory=list)
    numa_cpus: list[dict[str, int]] = field(default_factory=list)
    #: ``-m`` with ``slots`` (True) or with ``maxmem`` only ("maxmem"): QEMU may then create
    #: one NUMA node on its own, depending on the machine type's auto-enable flags.
    memory_hotplug: bool | str = False
    cpu_model: str | None = None

    def args(self) -> list[str]:
        nodes = len(self.node_cpus)
        args = ["-M", self.machine, "-smp", self.smp]
        if self.cpu_model:
            args += ["-cpu", self.cpu_model]
        if self.memory_hotplug == "maxmem":
            args += ["-m", "1G,maxmem=4G"]
        elif self.memory_hotplug:
            args += ["-m", "1G,slots=2,maxmem=4G"]
        elif nodes:
            args += ["-m", f"{512 * nodes}M"]
        for node, cpus in enumerate(self.node_cpus):
            args += ["-object", f"memory-backend-ram,id=m{node},size=512M"]
            spec = f"node,nodeid={node},memdev=m{node}" + "".join(f",cpus={c}" for c in cpus)
            args += ["-numa", spec]
        for props in self.numa_cpus:
            args += ["-numa", "cpu," + ",".join(f"{k}={v}" for k, v in props.items())]
        return args

    def model(self, profile: Profile = P72) -> tuple[MachineCpus, list[str]]:
        cpus = make_cpus(self.smp, self.machine, profile=profile, cpu_model=self.cpu_model)
        for node, indexes in enumerate(self.node_cpus):
            cpus.assign_node_cpus(node, indexes)
        for props in self.numa_cpus:
            cpus.assign_numa_cpu(props, set(range(len(self.node_cpus))))
        warnings: list[str] = []
        machine_type = resolve_machine_type(self.machine, profile)
        deprecation = profile.texts.deprecated_machine
        if machine_type.deprecated and deprecation is not None:
            warnings.append(deprecation.format(name=machine_type.name))
        if self.memory_hotplug == "maxmem":
            auto_numa = machine_type.auto_enable_numa_with_memdev
        else:
            auto_numa = bool(self.memory_hotplug) and machine_type.auto_enable_numa_with_memhp
        nodes = len(self.node_cpus) or (1 if auto_numa else 0)
        if nodes:
            warnings += cpus.finish_numa(nodes)
        warnings += cpus.startup_warnings()
        return cpus, warnings


def greeted_stream(path: str, proc: subprocess.Popen[Any], deadline: float) -> Any:
    """Connect to QEMU's QMP socket once it listens and read the greeting; retry while the
    socket is not ready yet. Returns the socket's binary stream, or None if QEMU exited."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return None
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(path)
            stream = sock.makefile("rwb")
            if stream.readline():
                sock.close()  # the stream keeps the connection open
                return stream
        except OSError:
            pass
        sock.close()
        time.sleep(0.02)
    raise AssertionError("QEMU did not offer QMP in time")


def qmp_session(
    qemu: str, args: list[str], commands: list[dict[str, Any]]
) -> tuple[list[Any], str]:
    """Run QEMU with QMP, send the commands after negotiation; return replies and stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "q.sock")
        proc = subprocess.Popen(
            [qemu, "-accel", "tcg", "-nodefaults", "-display", "none", "-S", *args,
             "-qmp", f"unix:{path},server=on,wait=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        replies = []
        try:
            stream = greeted_stream(path, proc, time.monotonic() + 20)
            if stream is not None:
                with stream:
                    for command in [{"execute": "qmp_capabilities"}, *commands]:
                        stream.write(json.dumps(command).encode() + b"\n")
                        stream.flush()
                        reply = json.loads(stream.readline())
                        while "event" in reply:
                            reply = json.loads(stream.readline())
                        replies.append(reply)
        finally:
            proc.kill()
            _, stderr = proc.communicate()
        lines = [line for line in stderr.splitlines(keepends=True) if "terminating on" not in line]
        return replies[1:], "".join(lines)


def expected_stderr(warnings: list[str]) -> str:
    return "".join(f"{PROG}: warning: {warning}\n" for warning in warnings)


def without_thread_ids(answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in entry.items() if k != "thread-id"} for entry in answer]


SHAPES = [
    Shape("pc", "8,sockets=4,cores=2", node_cpus=[[], []]),
    Shape("q35", "3,maxcpus=6,dies=2"),
    Shape("pc-i440fx-6.1", "4", node_cpus=[[], []]),
    Shape("pc", "4,dies=2", node_cpus=[[0], []]),
    Shape("pc", "2,maxcpus=4", memory_hotplug=True),
    Shape("q35", "12,sockets=3,cores=2,threads=2", node_cpus=[[], [], []],
          numa_cpus=[{"node-id": 2, "socket-id": 0}, {"node-id": 0, "socket-id": 1},
                     {"node-id": 1, "socket-id": 2}]),
    Shape("pc", "3,maxcpus=4,sockets=2,cores=2", node_cpus=[[1, 3], [0, 2]]),
    Shape("pc", "2,threads=2", cpu_model="max"),
    Shape("pc-q35-6.1", "4"),
    Shape("pc-i440fx-2.10", "1,maxcpus=2", memory_hotplug=True),
    Shape("pc-i440fx-2.11", "1,maxcpus=2", memory_hotplug=True),
    Shape("pc-i440fx-5.0", "1,maxcpus=2", memory_hotplug="maxmem"),
    Shape("pc-i440fx-5.1", "1,maxcpus=2", memory_hotplug="maxmem"),
]


@pytest.mark.qemu
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s.machine}:{s.smp}")
def test_cpu_queries_against_real_qemu(reference: Reference, shape: Shape) -> None:
    cpus, warnings = shape.model(get_profile(reference.profile))
    replies, stderr = qmp_session(
        reference.binary, shape.args(),
        [{"execute": "query-hotpluggable-cpus"}, {"execute": "query-cpus-fast"}],
    )
    assert stderr == expected_stderr(warnings)
    assert replies[0]["return"] == cpus.query_hotpluggable_cpus()
    assert without_thread_ids(replies[1]["return"]) == without_thread_ids(cpus.query_cpus_fast())


def test_hmp_texts() -> None:
    cpus = make_cpus("2,dies=2")
    assert cpus.info_hotpluggable_cpus_text() == (
        'Hotpluggable CPUs:\n  type: "qemu64-x86_64-cpu"\n  vcpus_count: "1"\n'
        '  qom_path: "/machine/unattached/device[2]"\n  CPUInstance Properties:\n'
        '    socket-id: "0"\n    die-id: "1"\n    core-id: "0"\n    thread-id: "0"\n'
        '  type: "qemu64-x86_64-cpu"\n  vcpus_count: "1"\n'
        '  qom_path: "/machine/unattached/device[0]"\n  CPUInstance Properties:\n'
        '    socket-id: "0"\n    die-id: "0"\n    core-id: "0"\n    thread-id: "0"\n'
    )
    ids = [slot.host_thread_id for slot in cpus.present_cpus]
    assert cpus.info_cpus_text() == (
        f"* CPU #0: thread_id={ids[0]}\n  CPU #1: thread_id={ids[1]}\n"
    )
    legacy = make_cpus("2", profile=P29)
    assert legacy.info_cpus_text().splitlines()[1].startswith(
        "  CPU #1: pc=0x00000000fffffff0 (halted) thread_id="
    )


@pytest.mark.qemu
def test_hmp_info_hotpluggable_cpus_against_real_qemu(reference: Reference) -> None:
    shape = Shape("pc", "2,maxcpus=3", memory_hotplug=True)
    cpus, _ = shape.model(get_profile(reference.profile))
    replies, _ = qmp_session(reference.binary, shape.args(), [
        {"execute": "human-monitor-command",
         "arguments": {"command-line": "info hotpluggable-cpus"}},
    ])
    assert replies[0]["return"] == cpus.info_hotpluggable_cpus_text().replace("\n", "\r\n")


@pytest.mark.qemu
def test_hotplug_session_against_real_qemu(reference: Reference) -> None:
    shape = Shape("pc", "2,maxcpus=4,sockets=4,cores=1", node_cpus=[[], []])
    cpus, _ = shape.model(get_profile(reference.profile))
    attempts: list[tuple[str, dict[str, int], str]] = [
        ("qemu64-x86_64-cpu", {"socket-id": 2, "core-id": 0, "thread-id": 0, "node-id": 1}, "c2"),
        ("qemu64-x86_64-cpu", {"socket-id": 2, "core-id": 0, "thread-id": 0, "node-id": 0}, "c2"),
        ("qemu64-x86_64-cpu", {"socket-id": 3, "core-id": 0, "thread-id": 0}, "c3"),
        ("qemu64-x86_64-cpu", {"socket-id": 9, "core-id": 0, "thread-id": 0}, "c9"),
        ("qemu64-x86_64-cpu", {"socket-id": 1, "core-id": 0, "thread-id": 0}, "c1"),
        ("qemu64-x86_64-cpu", {"core-id": 0, "thread-id": 0}, "c8"),
        ("max-x86_64-cpu", {"socket-id": 3, "core-id": 0, "thread-id": 0}, "c7"),
    ]
    commands: list[dict[str, Any]] = []
    expected: list[Any] = []
    for driver, props, device_id in attempts:
        commands.append({"execute": "device_add",
                         "arguments": {"driver": driver, "id": device_id, **props}})
        try:
            cpus.plug_cpu(driver, props, peripheral_qom_path(device_id))
            expected.append({"return": {}})
        except MachineError as error:
            expected.append({"error": {"class": error.error_class, "desc": error.message}})
    for qom_path in ("/machine/peripheral/c2", "/machine/unattached/device[0]"):
        commands.append({"execute": "device_del", "arguments": {"id": qom_path}})
        slot = cpus.slot_by_qom_path(qom_path)
        assert slot is not None
        with pytest.raises(MachineError) as info:
            cpus.request_unplug(slot)
        expected.append({"error": {"class": "GenericError", "desc": info.value.message}})
    commands += [{"execute": "query-hotpluggable-cpus"}, {"execute": "query-cpus-fast"}]
    replies, _ = qmp_session(reference.binary, shape.args(), commands)
    assert replies[: len(expected)] == expected
    assert replies[-2]["return"] == cpus.query_hotpluggable_cpus()
    assert without_thread_ids(replies[-1]["return"]) == without_thread_ids(cpus.query_cpus_fast())


def real_start(qemu: str, args: list[str]) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        pidfile = os.path.join(tmp, "q.pid")
        proc = subprocess.run(
            [qemu, "-accel", "tcg", "-nodefaults", "-display", "none", "-S", *args,
             "-daemonize", "-pidfile", pidfile],
            capture_output=True, text=True, timeout=60,
        )
        if os.path.exists(pidfile):
            with open(pidfile) as stream, contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(stream.read()), signal.SIGKILL)
        return proc.returncode, proc.stderr


CLI_ERROR_SHAPES = [
    (Shape("pc", "4", node_cpus=[[0, 1, 2, 3, 4]]), 0),
    (Shape("pc", "4", node_cpus=[[0, 1, 2], [2, 3]]), 1),
    (Shape("pc", "4,sockets=2,cores=2", node_cpus=[[]], numa_cpus=[{"node-id": 1,
                                                                     "socket-id": 0}]), -1),
    (Shape("pc", "4,sockets=2,cores=2", node_cpus=[[]], numa_cpus=[{"node-id": 0,
                                                                     "socket-id": 5}]), -1),
    (Shape("pc", "4,sockets=2,cores=2", node_cpus=[[]], numa_cpus=[{"node-id": 0,
                                                                     "die-id": 0}]), -1),
    (Shape("pc", "4,dies=2", node_cpus=[[]], numa_cpus=[{"node-id": 0, "die-id": 1,
                                                          "cluster-id": 0}]), -1),
    (Shape("pc", "4,sockets=2,cores=2", node_cpus=[[0, 1], []],
           numa_cpus=[{"node-id": 1, "socket-id": 0}]), -1),
    (Shape("pc", "1,maxcpus=255,sockets=85,cores=3"), None),
]


@pytest.mark.qemu
@pytest.mark.parametrize(("shape", "failing_option"), CLI_ERROR_SHAPES)
def test_mapping_errors_against_real_qemu(
    reference: Reference, shape: Shape, failing_option: int | None
) -> None:
    """``failing_option``: index of the -numa option QEMU names in the error (None: a
    board-init error without location). A shape the profile's rules accept (10.0 starts 255
    CPUs under TCG where 7.2 asks for the kernel irqchip) must start on its binary with the
    model's warnings."""
    args = shape.args()
    try:
        cpus, warnings = shape.model(get_profile(reference.profile))
        cpus.check_board_cpus()
    except MachineError as error:
        numa_values = [args[i + 1] for i, arg in enumerate(args) if arg == "-numa"]
        location = "" if failing_option is None else f"-numa {numa_values[failing_option]}: "
        expected = (1, f"{PROG}: {location}{error.message}\n")
    else:
        assert failing_option is None, "a -numa mapping error is an error in every profile"
        expected = (0, expected_stderr(warnings))
    assert real_start(reference.binary, args) == expected


@pytest.mark.qemu
def test_hmat_initiator_rules_against_real_qemu(reference: Reference) -> None:
    profile = get_profile(reference.profile)
    base = ["-M", "pc,hmat=on", "-m", "2G", "-smp", "2",
            "-object", "memory-backend-ram,id=m0,size=1G",
            "-object", "memory-backend-ram,id=m1,size=1G"]
    cpus = make_cpus("2", profile=profile)
    parse_time = error_of(cpus.assign_node_cpus, 0, [0, 1], {0: 1})
    node0 = "node,nodeid=0,memdev=m0,initiator=1,cpus=0,cpus=1"
    node1 = "node,nodeid=1,memdev=m1"
    assert real_start(reference.binary, [*base, "-numa", node0, "-numa", node1]) == (
        1, f"{PROG}: -numa {node0}: {parse_time}\n"
    )
    cpus = make_cpus("2", profile=profile)
    at_finish = error_of(cpus.finish_numa, 2, {0: 1})
    node0 = "node,nodeid=0,memdev=m0,initiator=1"
    assert real_start(reference.binary, [*base, "-numa", node0, "-numa", node1]) == (
        1, f"{PROG}: {at_finish}\n"
    )
