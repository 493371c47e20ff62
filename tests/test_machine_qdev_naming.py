"""Rules behind the residue cases, without QEMU: how qdev names devices, and how
`qmp_memory_device_list` orders memory devices (both checked against QEMU 7.2 in
`test_residue_diff.py`)."""

from __future__ import annotations

import pytest

from qmpnuma.errors import MachineError
from qmpnuma.machine.devices import Peripherals, hotplug_handler_takes
from qmpnuma.machine.qom_order import device_walk_order, insert_sorted


def test_insert_sorted_puts_equal_keys_in_reverse_visiting_order() -> None:
    visited = [("a", 0), ("b", 4096), ("c", 0), ("d", 0), ("e", 8192), ("f", 4096)]
    ordered = insert_sorted(visited, key=lambda item: item[1])
    assert [name for name, _ in ordered] == ["d", "c", "a", "f", "b", "e"]


def test_anonymous_names_are_used_up_by_failed_devices() -> None:
    names = Peripherals()
    first = names.attach(None)
    names.detach(first)  # its properties or realize failed
    assert names.attach(None) == "/machine/peripheral-anon/device[1]"
    assert names.attach("x") == "/machine/peripheral/x"
    with pytest.raises(MachineError, match="Duplicate device ID 'x'"):
        names.attach("x")
    names.detach("/machine/peripheral/x")
    assert names.attach("x") == "/machine/peripheral/x"


def test_naming_undoes_itself_when_the_body_fails() -> None:
    names = Peripherals()
    with pytest.raises(MachineError), names.naming("d", None):
        raise MachineError("slot 0 is busy")
    assert "d" not in names.ids
    with names.naming("d", None) as path:
        assert path == "/machine/peripheral/d"
    assert "d" in names.ids


def test_walk_visits_peripheral_before_peripheral_anon_on_none() -> None:
    rank = device_walk_order("none", {"peripheral": ["y", "x"], "peripheral-anon": ["device[0]"]})
    assert sorted(rank, key=rank.__getitem__) == [
        "/machine/peripheral/y", "/machine/peripheral/x", "/machine/peripheral-anon/device[0]",
    ]


@pytest.mark.parametrize(
    ("family", "driver", "takes"),
    [("pc", "pc-dimm", True), ("q35", "nvdimm", True), ("microvm", "pc-dimm", False),
     ("microvm", "qemu64-x86_64-cpu", True), ("none", "qemu64-x86_64-cpu", False),
     ("x-remote", "pc-dimm", False)],
)
def test_which_boards_hot_plug_what(family: str, driver: str, takes: bool) -> None:
    assert hotplug_handler_takes(family, driver) is takes
