"""The argv walk: QEMU 7.2's option table, ``--opt`` spellings, bare words, argv errors."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile

import pytest
from conftest import Reference

from qmpnuma.errors import OptionError
from qmpnuma.options.argv import (
    ArgvError,
    ArgvOption,
    check_supported,
    option_location,
    split_argv,
)
from qmpnuma.options.diagnostics import format_report
from qmpnuma.profiles import get_profile

P29 = get_profile("2.9")
OPTIONS = get_profile("7.2").options

PROG = "qemu-system-x86_64"


def test_options_with_and_without_arguments() -> None:
    opts = split_argv(["-m", "1G", "-S", "--numa", "node", "-nodefaults", "-M", "pc"])
    assert [(o.name, o.arg, o.index) for o in opts] == [
        ("m", "1G", 0),
        ("S", None, 2),
        ("numa", "node", 3),
        ("nodefaults", None, 5),
        ("M", "pc", 6),
    ]
    assert opts[2].spelling == "--numa"


def test_argument_is_taken_whatever_it_looks_like() -> None:
    opts = split_argv(["-m", "-daemonize", "-S"])
    assert opts[0] == ArgvOption("m", "-daemonize", 0, "-m")
    assert opts[1].name == "S"


def test_bare_word_is_a_disk_image() -> None:
    opts = split_argv(["disk.img", "-S", ""])
    assert opts[0].name == "hda" and opts[0].arg == "disk.img" and opts[0].is_image
    assert opts[2].name == "hda" and opts[2].arg == ""
    assert option_location(opts[0]) == "disk.img"


@pytest.mark.parametrize(
    ("args", "location", "message"),
    [
        (["-foo"], "-foo", "invalid option"),
        (["--foo"], "--foo", "invalid option"),
        (["-"], "-", "invalid option"),
        (["--"], "--", "invalid option"),
        (["---m", "1G"], "---m", "invalid option"),
        (["-nodefaults=1"], "-nodefaults=1", "invalid option"),
        (["-S", "-m"], "-m", "requires an argument"),
        (["--numa"], "--numa", "requires an argument"),
        (["-m", "1G", "-smp"], "-smp", "requires an argument"),
    ],
)
def test_argv_errors(args: list[str], location: str, message: str) -> None:
    with pytest.raises(ArgvError) as info:
        split_argv(args)
    assert info.value.location == location
    assert info.value.message == message
    assert info.value.format(PROG) == f"{PROG}: {location}: {message}\n"


def test_first_pass_error_comes_from_the_leftmost_bad_word() -> None:
    with pytest.raises(ArgvError) as info:
        split_argv(["-bar", "-foo"])
    assert info.value.location == "-bar"


def test_other_target_options_are_known_but_refused() -> None:
    opts = split_argv(["-g", "800x600", "-semihosting", "-enable-kvm"])
    assert [o.supported for o in opts] == [False, False, True]
    with pytest.raises(OptionError) as info:
        check_supported(opts[0])
    assert info.value.message == "Option not supported for this target"
    check_supported(opts[2])


def test_option_table_facts() -> None:
    assert len(OPTIONS) == 122
    for name in ("machine", "M", "accel", "chardev", "mon", "qmp", "qmp-pretty", "pidfile",
                 "sandbox", "msg", "overcommit", "object", "numa", "smp", "m", "device"):
        assert OPTIONS[name].takes_argument, name
    for name in ("no-acpi", "enable-kvm", "nodefaults", "daemonize", "preconfig", "S", "h",
                 "help", "version", "snapshot"):
        assert not OPTIONS[name].takes_argument, name
    assert "run-with" not in OPTIONS


@pytest.mark.parametrize(
    ("args", "location"),
    [
        (["-numa", "node,nodeid=0"], "-numa node,nodeid=0"),
        (["--m", "1G"], "--m 1G"),
        (["-S"], "-S"),
        (["-object", "memory-backend-ram,id=m,size=1G"], "-object memory-backend-ram,id=m,size=1G"),
    ],
)
def test_option_location(args: list[str], location: str) -> None:
    assert option_location(split_argv(args)[0]) == location


def test_format_report_with_hints_and_warning() -> None:
    text = format_report(PROG, "-m x", "bad", ("hint one", "hint two"))
    assert text == f"{PROG}: -m x: bad\nhint one\nhint two\n"
    assert format_report(PROG, None, "w", warning=True) == f"{PROG}: warning: w\n"


def _real_stderr(qemu: str, args: list[str]) -> tuple[int, str]:
    """Start real QEMU daemonized on ``args``; return exit status and stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        pidfile = os.path.join(tmp, "q.pid")
        cmd = [qemu, "-accel", "tcg", "-nodefaults", "-display", "none", "-S",
               "-daemonize", "-pidfile", pidfile, *args]
        proc = subprocess.run(cmd, capture_output=True, timeout=20, check=False, cwd=tmp)
        if os.path.exists(pidfile):
            with open(pidfile) as handle:
                os.kill(int(handle.read()), signal.SIGKILL)
        return proc.returncode, proc.stderr.decode()


@pytest.mark.qemu
@pytest.mark.parametrize(
    "args",
    [["-foo"], ["--bogus", "x"], ["-m"], ["--numa"], ["-g", "800x600"], ["-m", "1G", "-foo"]],
)
def test_argv_errors_match_real_qemu(reference: Reference, args: list[str]) -> None:
    status, stderr = _real_stderr(reference.binary, args)
    try:
        opts = split_argv(args, profile=get_profile(reference.profile))
    except ArgvError as exc:
        expected = exc.format(PROG)
    else:
        bad = next(o for o in opts if not o.supported)
        expected = format_report(PROG, option_location(bad), "Option not supported for this target")
    assert status == 1
    assert stderr == expected


def test_profile_2_9_option_table() -> None:
    opts = split_argv(["-realtime", "mlock=off", "-nodefconfig", "-h"], profile=P29)
    assert [(o.name, o.arg) for o in opts] == [
        ("realtime", "mlock=off"), ("nodefconfig", None), ("h", None)]
    with pytest.raises(ArgvError) as info:
        split_argv(["-overcommit", "mem-lock=on"], profile=P29)
    assert info.value.message == "invalid option"
    with pytest.raises(ArgvError):
        split_argv(["-realtime", "mlock=off"])
    assert not split_argv(["-g", "800x600"], profile=P29)[0].supported
