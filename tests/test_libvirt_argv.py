"""The command line libvirt 9.0 generates for a NUMA guest, through the model and the commands.

The argv below is the shape libvirt 9.0 produced for a 2-cell domain against QEMU 7.2 (JSON
`-object`/`-device`, `-chardev socket,fd=N` plus `-mon`, `-sandbox`, `-msg`, `-overcommit`).
"""

from __future__ import annotations

from typing import Any

import pytest

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.errors import QmpError
from qmpnuma.machine import Machine
from qmpnuma.server.runtime import MonitorState


def libvirt_argv(*, fd: int = 6) -> list[str]:
    """A libvirt-style argv of a 4-vCPU, 2-node guest with DIMM slots."""
    return [
        "-name", "guest=numa2,debug-threads=on", "-S",
        "-machine", "pc-i440fx-7.2,usb=off,dump-guest-core=off",
        "-accel", "tcg", "-cpu", "qemu64",
        "-m", "size=524288k,slots=4,maxmem=2097152k",
        "-overcommit", "mem-lock=off", "-smp", "4,sockets=2,dies=1,cores=2,threads=1",
        "-object",
        '{"qom-type":"memory-backend-ram","id":"ram-node0","size":268435456,'
        '"host-nodes":[0],"policy":"bind"}',
        "-numa", "node,nodeid=0,cpus=0-1,memdev=ram-node0",
        "-object", '{"qom-type":"memory-backend-ram","id":"ram-node1","size":268435456}',
        "-numa", "node,nodeid=1,cpus=2-3,memdev=ram-node1",
        "-uuid", "bf2ccbdd-8372-4fc1-8270-764a8c92e72a", "-display", "none",
        "-no-user-config", "-nodefaults",
        "-chardev", f"socket,id=charmonitor,fd={fd},server=on,wait=off",
        "-mon", "chardev=charmonitor,id=monitor,mode=control",
        "-rtc", "base=utc", "-no-shutdown", "-boot", "strict=on",
        "-device", '{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}',
        "-audiodev", '{"id":"audio1","driver":"none"}',
        "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        "-msg", "timestamp=on",
    ]


@pytest.fixture
def registry() -> CommandRegistry:
    return CommandRegistry(Machine.from_argv(libvirt_argv()))


def run(registry: CommandRegistry, name: str, args: dict[str, Any] | None = None) -> Any:
    return registry.execute(name, args or {})


def test_json_device_is_accepted_like_its_keyval_form() -> None:
    machine = Machine.from_argv(libvirt_argv())
    assert machine.warnings == []
    assert machine.run_state == "prelaunch"


def test_bad_json_device_is_a_startup_error() -> None:
    from qmpnuma.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        Machine.from_argv(["-device", '{"driver":"pc-dimm",'])
    assert "JSON parse error" in err.value.stderr or "premature EOI" in err.value.stderr


def test_startup_queries_follow_the_command_line(registry: CommandRegistry) -> None:
    assert run(registry, "query-iothreads") == []
    assert run(registry, "query-block") == []
    assert run(registry, "query-named-block-nodes", {"flat": True}) == []
    caps = run(registry, "query-migrate-capabilities")
    assert {"capability": "events", "state": False} in caps
    assert run(registry, "migrate-set-capabilities", {
        "capabilities": [{"capability": "events", "state": True}]}) == {}
    assert {"capability": "events", "state": True} in run(registry, "query-migrate-capabilities")
    with pytest.raises(QmpError) as err:
        run(registry, "query-balloon")
    assert err.value.error_class == "DeviceNotActive"


def test_iothread_objects_get_real_threads() -> None:
    import threading

    machine = Machine.from_argv(["-object", "iothread,id=io1", "-object", "iothread,id=io0"])
    threads = CommandRegistry(machine).execute("query-iothreads", {})
    assert sorted(t["id"] for t in threads) == ["io0", "io1"]
    native = {t.native_id for t in threading.enumerate()}
    assert all(t["thread-id"] in native for t in threads)
    assert threads[0]["poll-max-ns"] == 32768


def test_query_chardev_lists_compat_monitors_and_chardevs() -> None:
    machine = Machine.from_argv([
        "-nodefaults",  # else QEMU adds its default serial0 and parallel0 (vc) too
        "-qmp", "unix:/tmp/a.sock,server=on,wait=off",
        "-chardev", "socket,id=c2,path=/tmp/b.sock,server=on,wait=off",
        "-mon", "chardev=c2,mode=control",
    ])
    # Checked with QEMU 7.2: the other monitor's socket shows as disconnected.
    asking = MonitorState(index=0)
    assert CommandRegistry(machine).execute("query-chardev", {}, asking) == [
        {"label": "c2", "filename": "disconnected:unix:/tmp/b.sock,server=on",
         "frontend-open": True},
        {"label": "compat_monitor0", "filename": "unix:/tmp/a.sock,server=on",
         "frontend-open": True},
    ]


def test_vcpu_object_properties(registry: CommandRegistry) -> None:
    cpus = run(registry, "query-cpus-fast")
    last = cpus[-1]["qom-path"]
    listing = run(registry, "qom-list", {"path": last})
    names = [entry["name"] for entry in listing]
    assert names[:3] == ["type", "parent_bus", "realized"]
    assert "sse2" in names
    assert run(registry, "qom-get", {"path": last, "property": "type"}) == "qemu64-x86_64-cpu"
    assert run(registry, "qom-get", {"path": last, "property": "socket-id"}) == 1
    assert run(registry, "qom-get", {"path": last, "property": "node-id"}) == 1
    assert run(registry, "qom-get", {"path": last, "property": "sse2"}) is True
    with pytest.raises(QmpError) as err:
        run(registry, "qom-get", {"path": last, "property": "legacy-memory"})
    assert "not readable" in err.value.desc
    with pytest.raises(QmpError):
        run(registry, "qom-get", {"path": last, "property": "no-such-prop"})
    # Other paths still come from the model's object tree.
    assert run(registry, "qom-get", {"path": "/objects/ram-node0", "property": "policy"}) == "bind"


def test_recorded_interface_answers(registry: CommandRegistry) -> None:
    types = run(registry, "qom-list-types")
    assert {"name": "pc-dimm", "parent": "device"} in types
    props = run(registry, "device-list-properties", {"typename": "pc-dimm"})
    assert [p["name"] for p in props] == ["memdev", "node", "addr", "slot", "size"]
    with pytest.raises(QmpError) as err:
        run(registry, "device-list-properties", {"typename": "virtio-net-ccw"})
    assert (err.value.error_class, err.value.desc) == (
        "DeviceNotFound", "Device 'virtio-net-ccw' not found")
    with pytest.raises(QmpError) as err:
        run(registry, "query-sev-capabilities")
    assert err.value.desc == "KVM not enabled"  # TCG machine (real QEMU 7.2 answer)
    with pytest.raises(QmpError) as err:
        run(registry, "qom-list-properties", {"typename": "nope"})
    assert (err.value.error_class, err.value.desc) == ("DeviceNotFound", "Class 'nope' not found")
    assert run(registry, "query-tpm-models") == ["tpm-crb", "tpm-tis"]
    backends = run(registry, "qom-list-properties", {"typename": "memory-backend-memfd"})
    assert "hugetlb" in [p["name"] for p in backends]


def test_backends_take_dump_and_merge_from_the_machine() -> None:
    # libvirt passes -machine ...,dump-guest-core=off; QEMU 7.2 then reports dump=false for every
    # backend that does not set it (checked with the real binary, pc.ram included).
    machine = Machine.from_argv([
        "-machine", "pc,dump-guest-core=off,mem-merge=off",
        "-object", "memory-backend-ram,id=m,size=1G",
        "-object", "memory-backend-ram,id=n,size=1G,dump=on",
    ])
    flags = {b["id"]: (b["dump"], b["merge"]) for b in machine.query_memdev()}
    assert flags == {"m": (False, False), "pc.ram": (False, False), "n": (True, False)}


def test_hotplugged_vcpu_object_has_the_recorded_properties() -> None:
    machine = Machine.from_argv(["-smp", "1,sockets=2,maxcpus=2", "-S"])
    registry = CommandRegistry(machine)
    registry.execute("device_add", {
        "driver": "qemu64-x86_64-cpu", "id": "vcpu1", "socket-id": 1, "core-id": 0,
        "thread-id": 0})
    path = "/machine/peripheral/vcpu1"
    assert registry.execute("qom-get", {"path": path, "property": "hotplugged"}) is True
    assert registry.execute("qom-get", {"path": path, "property": "socket-id"}) == 1
    assert registry.execute("qom-get", {"path": path, "property": "sse2"}) is True
