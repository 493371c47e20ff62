"""Differential suite for the board object: `qom-list /machine` and `qom-get /machine PROP`.

The machines are drawn from a seed over every machine type of the profile whose board listing
the binary's recording holds, with `-m` (with or without `maxmem` and a DIMM), `-smp`, a
RAM `memory-backend` and board switches drawn from the type's own properties. Each session
lists `/machine` and reads the properties the machine was started with plus a random sample
of the others; every reply line must equal the real binary's byte for byte.

Not drawn: `cxl=on` (its `cxl_host_reg[0]` region is not placed in the board's table yet).
Not compared: the links into unnamed devices (`smram`, `acpi-device`, `rtc_state`: paths under
`/machine/unattached` the model does not number) and `rtc-time` (the wall clock).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from conftest import Reference
from qemu_runner import compare_transcripts
from qmp_endpoints import normalise, started

from qmpnuma.commands.machine_object import recorded_board_listing
from qmpnuma.machine import Machine
from qmpnuma.machine.machine_types import machine_types
from qmpnuma.profiles.registry import get_profile

SEED = 11031
CASES = 30
NOT_COMPARED = frozenset({"smram", "acpi-device", "rtc_state", "rtc-time"})
#: Board switches worth setting, with the values tried (only those the type has are used).
SWITCHES: dict[str, tuple[str, ...]] = {
    "nvdimm": ("on", "off"), "acpi": ("off", "on"), "smm": ("off",), "hpet": ("off",),
    "vmport": ("off",), "sata": ("off",), "usb": ("on",),
    "graphics": ("off",), "dump-guest-core": ("off",), "mem-merge": ("off",),
    "hmat": ("on",), "pit": ("off",), "i8042": ("off",), "suppress-vmdesc": ("on",),
    "x-oem-id": ("QMPNUM",), "smbus": ("off",), "default-bus-bypass-iommu": ("on",),
}


def _listing_names(profile: str, type_name: str) -> list[str] | None:
    machine = Machine.from_argv(["-M", type_name, "-nodefaults"], get_profile(profile))
    listed = recorded_board_listing(machine)
    return None if listed is None else [name for name, _ in listed]


def cases(profile: str) -> list[tuple[list[str], list[str]]]:
    """(arguments, properties to read) per machine, drawn from ``SEED``."""
    rng = random.Random(SEED)
    types = [t.name for t in machine_types(get_profile(profile))]
    out: list[tuple[list[str], list[str]]] = []
    while len(out) < CASES:
        type_name = rng.choice(types)
        names = _listing_names(profile, type_name)
        if names is None:
            continue  # no recorded board listing to derive from
        switches = [name for name in SWITCHES if name in names]
        chosen = rng.sample(switches, min(len(switches), rng.randint(0, 3)))
        machine = ",".join([type_name, *(f"{n}={rng.choice(SWITCHES[n])}" for n in chosen)])
        args = ["-M", machine, "-smp", str(rng.randint(1, 4))]
        shape = rng.choice(("plain", "maxmem", "dimm", "memdev"))
        if shape == "plain":
            args += ["-m", rng.choice(("256M", "1G"))]
        elif shape in ("maxmem", "dimm"):
            args += ["-m", "1G,slots=2,maxmem=4G"]
            if shape == "dimm":
                args += ["-object", "memory-backend-ram,id=m0,size=256M",
                         "-device", "pc-dimm,memdev=m0,id=d0"]
        else:
            args += ["-m", "512M", "-object", "memory-backend-ram,id=ram0,size=512M",
                     "-machine", "memory-backend=ram0"]
        others = [n for n in names if n not in NOT_COMPARED]
        reads = [*chosen, *rng.sample(others, min(len(others), 10)), "nosuch"]
        out.append((args, reads))
    return out


def _session(command: list[str], args: list[str], reads: list[str]) -> Iterator[bytes]:
    try:
        with started(command, args) as (conn, _greeting, _proc):
            yield from conn.command({"execute": "qmp_capabilities"})
            yield from conn.command({"execute": "qom-list", "arguments": {"path": "/machine"}})
            for name in reads:
                yield from conn.command({"execute": "qom-get", "arguments": {
                    "path": "/machine", "property": name}})
    except (RuntimeError, OSError):  # exited at start-up (before or after binding its socket)
        yield b"<did not start>\n"


def _transcript(command: list[str], case: tuple[list[str], list[str]]) -> list[bytes]:
    return [normalise(line) for line in _session(command, *case)]


def test_board_qom_replies_identical(reference: Reference) -> None:
    chosen = cases(reference.profile)
    with ThreadPoolExecutor(max_workers=2) as pool:
        real = list(pool.map(lambda c: _transcript([reference.binary], c), chosen))
        mine = list(pool.map(lambda c: _transcript(reference.qmpnuma, c), chosen))
    compared, identical, failures = compare_transcripts(
        [(" ".join(args), ref, ours)
         for (args, _reads), ref, ours in zip(chosen, real, mine, strict=True)])
    print(f"qemu-{reference.profile}: {len(chosen)} machines, {identical}/{compared} reply lines"
          " identical")
    assert compared > 5 * len(chosen)
    assert not failures, "\n".join(failures)


def test_board_listing_is_worked_out_per_machine() -> None:
    """The listing is remembered per machine: a second machine in the same process, whose
    command line adds device memory, gets its own listing, and a machine built again after the
    first is gone is not served the old one."""
    from qmpnuma.commands.machine_object import board_listing

    plain = Machine.from_argv(["-M", "pc", "-m", "1G"], profile="7.2")
    with_slots = Machine.from_argv(["-M", "pc", "-m", "1G,slots=2,maxmem=4G"], profile="7.2")
    first = board_listing(plain)
    assert first is not None and board_listing(plain) is first
    names = [name for name, _ in board_listing(with_slots) or []]
    assert "device-memory[0]" in names
    assert "device-memory[0]" not in [name for name, _ in first]
    del plain
    again = Machine.from_argv(["-M", "pc", "-m", "1G,slots=2,maxmem=4G"], profile="7.2")
    assert "device-memory[0]" in [name for name, _ in board_listing(again) or []]
