"""The options the model keeps without interpreting them, and what the server reads from them.

QEMU accepts many options the machine model has no rules for (``-qmp``, ``-chardev``, ``-name``,
``-accel``, ...).  The model records them in command-line order; the server and a few commands
read them back (monitors, the accelerator, ``-S``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qmpnuma.records import record

#: Options QEMU accepts that this model records but does not interpret (the server uses
#: some of them: ``-qmp``, ``-chardev``, ``-mon``, ``-S``, ``-name``, ``-uuid``,
#: ``-daemonize``, ``-pidfile``).  Every other option except the modelled ones below is
#: recorded the same way.
UNMODELLED_OPTIONS = frozenset(
    {
        "nodefaults", "display", "qmp", "qmp-pretty", "chardev", "mon", "monitor", "daemonize",
        "pidfile", "name", "uuid", "S", "accel", "enable-kvm", "no-reboot", "no-shutdown",
        "nographic", "serial", "parallel", "vga", "nic", "netdev", "drive", "blockdev", "hda",
        "hdb", "hdc", "hdd", "cdrom", "boot", "bios", "kernel", "initrd", "append", "rtc",
        "global", "trace", "D", "d", "msg", "sandbox", "overcommit", "preconfig", "k", "L",
        "usb", "usbdevice", "vnc", "spice", "audiodev", "watchdog-action", "action", "icount",
        "snapshot", "fsdev", "virtfs", "sdl", "full-screen", "no-user-config", "writeconfig",
        "readconfig", "semihosting", "incoming", "loadvm", "cpu",
    }
)
#: Options whose arguments the model interprets (``-mem-path`` and ``-mem-prealloc`` are read
#: back from the recorded options: the board's RAM backend, every backend's ``prealloc``).
MODELLED_OPTIONS = frozenset({"M", "machine", "m", "smp", "object", "numa", "device",
                              "mem-path", "mem-prealloc"})


@record
class RecordedOption:
    """An option the model accepted without interpreting it (kept for the server)."""

    name: str
    arg: str | None


def accel_options_conflict(
    options: Sequence[RecordedOption], machine_opts: Mapping[str, object]
) -> bool:
    """``configure_accelerators``: ``-accel`` beside ``-machine accel=`` (which
    ``-enable-kvm`` sets) is refused."""
    legacy = "accel" in machine_opts or any(opt.name == "enable-kvm" for opt in options)
    return legacy and any(opt.name == "accel" for opt in options)


def accelerator_of(options: Sequence[RecordedOption], machine_opts: Mapping[str, object]) -> str:
    """The accelerator a command line asks for first (`tcg` when it asks for none)."""
    for opt in options:
        if opt.name == "enable-kvm":
            return "kvm"
        if opt.name == "accel" and opt.arg:
            return opt.arg.split(",", 1)[0].removeprefix("accel=")
    legacy = machine_opts.get("accel")
    return legacy.split(":", 1)[0] if isinstance(legacy, str) and legacy else "tcg"
