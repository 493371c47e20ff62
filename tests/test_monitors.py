"""`-chardev`/`-qmp`/`-mon` read once into the machine's monitor description, served from it."""

from __future__ import annotations

import subprocess

import pytest
from qmp_endpoints import QMPNUMA

from qmpnuma.machine import Machine
from qmpnuma.machine.monitors import MonitorOptionError, check_monitors, monitor_config
from qmpnuma.server.endpoints import qmp_endpoints

BASE = ["-M", "pc", "-nodefaults", "-display", "none", "-S"]


def _machine(*args: str) -> Machine:
    return Machine.from_argv([*BASE, *args])


@pytest.mark.parametrize(
    ("spec", "server", "wait"),
    [
        ("server=on,wait=off", True, False),
        ("server,nowait", True, False),
        ("server=yes,wait=no", True, False),
        ("server=on", True, True),
        ("", False, True),
    ],
)
def test_server_and_wait_spellings(spec: str, server: bool, wait: bool) -> None:
    tail = f",{spec}" if spec else ""
    config = _machine("-qmp", f"unix:/tmp/m.sock{tail}").monitors
    (dev,) = config.chardevs
    assert (dev.label, dev.backend) == ("compat_monitor0", "socket")
    assert dev.values["path"] == "/tmp/m.sock"
    assert (dev.server, dev.wait) == (server, wait)
    (endpoint,) = qmp_endpoints(config)
    assert (endpoint.kind, endpoint.path, endpoint.server, endpoint.wait) == (
        "unix", "/tmp/m.sock", server, wait)


def test_every_form_in_creation_and_monitor_order() -> None:
    machine = _machine(
        "-monitor", "tcp:127.0.0.1:5555,server=on,wait=off",
        "-qmp-pretty", "tcp:127.0.0.1:4444,server,nowait",
        "-mon", "chardev=c1,mode=control,pretty=on",
        "-chardev", "socket,id=c1,path=/tmp/c1.sock,server=on,wait=off",
        "-chardev", "stdio,id=c2",
        "-mon", "chardev=c2,mode=control",
        "-mon", "chardev=c1",
        "-qmp", "stdio",
    )
    config = machine.monitors
    assert [dev.label for dev in config.chardevs] == [
        "c1", "c2", "compat_monitor0", "compat_monitor1", "compat_monitor2"]
    assert [(m.chardev, m.mode, m.pretty) for m in config.monitors] == [
        ("compat_monitor0", "readline", False), ("compat_monitor1", "control", True),
        ("c1", "control", True), ("c2", "control", False), ("c1", "readline", False),
        ("compat_monitor2", "control", False)]
    endpoints = qmp_endpoints(config)
    assert [(e.kind, e.index, e.pretty) for e in endpoints] == [
        ("tcp", 0, True), ("unix", 1, True), ("stdio", 2, False), ("stdio", 3, False)]
    assert (endpoints[0].host, endpoints[0].port) == ("127.0.0.1", 4444)
    assert machine.monitors is config  # read once


def test_inherited_fd_and_a_monitor_before_its_chardev() -> None:
    config = monitor_config(_machine(
        "-mon", "chardev=m,mode=control",
        "-chardev", "socket,id=m,fd=7,server=on,wait=off",
    ).options)
    (endpoint,) = qmp_endpoints(config)
    assert (endpoint.kind, endpoint.fd, endpoint.source) == (
        "fd", 7, "-chardev socket,id=m,fd=7,server=on,wait=off")


@pytest.mark.parametrize(
    ("option", "arg", "message"),
    [
        ("-qmp", "none", "'none' is not a valid char driver"),
        ("-monitor", "bogus,x=y", "'bogus,x=y' is not a valid char driver"),
        ("-qmp", "tcp:localhost:http", "'tcp:localhost:http' is not a valid char driver"),
        ("-mon", "chardev=c,mode=control,pretty=bogus", "Parameter 'pretty' expects 'on' or 'off'"),
        ("-mon", "chardev=c,mode=control,x=y", "Invalid parameter 'x'"),
    ],
)
def test_refused_monitor_options(option: str, arg: str, message: str) -> None:
    machine = _machine(option, arg)
    with pytest.raises(MonitorOptionError) as caught:
        machine.monitors  # noqa: B018
    assert (caught.value.source, caught.value.message) == (f"{option} {arg}", message)


@pytest.mark.parametrize(
    ("args", "source", "message"),
    [
        (("-mon", "chardev=c,mode=bogus"), "-mon chardev=c,mode=bogus",
         "Parameter 'mode' does not accept value 'bogus'"),
        (("-chardev", "null,id=c", "-mon", "chardev=c,pretty=on"), "-mon chardev=c,pretty=on",
         "'pretty' is not compatible with HMP monitors"),
        (("-mon", "mode=control"), "-mon mode=control", "Parameter 'chardev' is missing"),
        (("-mon", "chardev=nochar"), "-mon chardev=nochar", 'chardev "nochar" not found'),
        (("-chardev", "null,id=c", "-mon", "c", "-mon", "chardev=c,mode=control"),
         "-mon chardev=c,mode=control", "Device 'c' is in use"),
    ],
)
def test_monitor_values_are_checked_when_the_monitors_are_created(
    args: tuple[str, ...], source: str, message: str
) -> None:
    """QEMU checks a `-mon`'s mode and chardev in `mon_init_func`, after creating the chardevs
    (so a chardev that cannot connect is reported first: the real binary shows that order).
    QEMU 7.2's texts (10.0 says "chardev 'c' is already in use")."""
    machine = Machine.from_argv([*BASE, *args], profile="7.2")
    with pytest.raises(MonitorOptionError) as caught:
        check_monitors(machine.monitors, machine.profile.texts)
    assert (caught.value.source, caught.value.message) == (source, message)


def test_a_refused_monitor_ends_the_process_with_qemus_message() -> None:
    """The same two lines and exit status as QEMU 7.2 (program name aside)."""
    for option, arg in (("-qmp", "none"), ("-qmp", "bogus"), ("-monitor", "nosuch")):
        out = subprocess.run(
            [*QMPNUMA, *BASE, option, arg], capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 1
        assert out.stderr.splitlines() == [
            f"cli.py: {option} {arg}: '{arg}' is not a valid char driver",
            f"cli.py: {option} {arg}: parse error: {arg}",
        ]


def test_other_shorthands_are_kept_for_query_chardev() -> None:
    config = _machine("-monitor", "pty", "-monitor", "vc:80Cx24C", "-qmp", "null").monitors
    assert [(dev.label, dev.backend) for dev in config.chardevs] == [
        ("compat_monitor0", "pty"), ("compat_monitor1", "vc:80Cx24C"), ("compat_monitor2", "null")]
