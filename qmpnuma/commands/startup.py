"""Start-up queries of a management stack whose answers follow from the command line.

libvirt asks these right after connecting to a freshly started (paused) guest: the character
devices, the I/O threads, the block nodes and devices, the migration capabilities, the balloon.
Nothing here is recorded: each answer is derived from the options the machine recorded
(`machine.options`, `machine.other_objects`), so it changes with the command line as QEMU's does.
The model of this machine has no block layer and no balloon, so those answers are the ones QEMU
gives for a guest without disks or balloon.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import weakref
from typing import Any

from qmpnuma.commands.registry import CommandContext, command
from qmpnuma.errors import QmpError
from qmpnuma.machine import Machine
from qmpnuma.machine.monitors import Chardev as MonitorChardev
from qmpnuma.machine.qom_order import ObjectsContainer
from qmpnuma.profiles import wire_types
from qmpnuma.records import field, record

#: Default polling parameters of an I/O thread (`query-iothreads`).
IOTHREAD_POLL_MAX_NS = 32768


@record
class StartupState:
    """What these commands change or create for one machine: capabilities, I/O threads."""

    capabilities: dict[str, bool]
    iothread_tids: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)


_STATES: weakref.WeakKeyDictionary[Machine, StartupState] = weakref.WeakKeyDictionary()


def _state(machine: Machine) -> StartupState:
    state = _STATES.get(machine)
    if state is None:
        # Every capability of the profile's schema, off, in ``MigrationCapability`` order
        # (the order `query-migrate-capabilities` lists them).
        enum = wire_types(machine.profile).SCHEMA.get("MigrationCapability", {})
        names = enum.get("values", ())
        state = _STATES[machine] = StartupState(dict.fromkeys(names, False))
    return state


@record(frozen=True)
class Chardev:
    """One character device of the command line: its label and the filename QEMU shows."""

    label: str
    filename: str


def _socket_path(fd: int) -> str | None:
    """The unix path an inherited listening socket is bound to (libvirt passes `fd=N`)."""
    try:
        dup = os.dup(fd)
    except OSError:
        return None
    with contextlib.closing(socket.socket(fileno=dup)) as sock:
        try:
            name = sock.getsockname()
        except OSError:
            return None
    return name if isinstance(name, str) else None


def _filename(dev: MonitorChardev) -> str:
    """The filename `query-chardev` shows for a chardev (`qemu_chr_compute_filename`)."""
    values = dev.values
    if dev.backend in ("file", "pipe"):
        return values.get("path", "")
    if dev.backend != "socket":
        return dev.backend
    suffix = ",server=on" if dev.server else ""
    if "fd" in values:
        path = _socket_path(int(values["fd"])) if values["fd"].isdigit() else None
        return f"unix:{path}{suffix}" if path is not None else f"fd:{values['fd']}{suffix}"
    if "path" in values:
        return f"unix:{values['path']}{suffix}"
    return f"tcp:{values.get('host', '')}:{values.get('port', '')}{suffix}"


def chardevs(machine: Machine) -> list[Chardev]:
    """The character devices in creation order (`-chardev`, then the `-qmp`/`-monitor` ones,
    named `compat_monitorN`), as the machine's monitor description holds them."""
    return [Chardev(dev.label, _filename(dev)) for dev in machine.monitors.chardevs]


def _monitor_labels(machine: Machine) -> list[str]:
    """Labels of the chardevs that carry QMP monitors, in the server's monitor order."""
    return [monitor.chardev for monitor in machine.monitors.qmp_monitors]


@command("query-chardev")
def query_chardev(ctx: CommandContext, args: dict[str, Any]) -> Any:
    devices = chardevs(ctx.machine)
    index = getattr(ctx.monitor, "index", None)
    labels = _monitor_labels(ctx.machine)
    asking = labels[index] if isinstance(index, int) and index < len(labels) else None
    monitor_labels = set(labels)
    order = ObjectsContainer()
    for dev in devices:
        order.add(dev.label)
    by_label = {dev.label: dev for dev in devices}
    live = getattr(ctx.monitor, "chardev_names", None)
    out = []
    for label in order.listing_order():
        dev = by_label[label]
        filename = dev.filename
        current = live.get(label) if live is not None else None
        if current is not None:
            # the server's socket chardevs are named as their connections come and go
            filename = current
        # Without the server's names: a listening socket nobody is connected to shows as
        # disconnected; the asking monitor's own socket is connected by definition.
        elif label in monitor_labels and label != asking and dev.filename.startswith(
            ("unix:", "tcp:")
        ):
            filename = f"disconnected:{filename}"
        out.append({"label": label, "filename": filename, "frontend-open": True})
    return out


def _idle(stop: threading.Event, started: threading.Event) -> None:
    started.set()
    stop.wait()


def _iothread_tid(state: StartupState, ident: str) -> int:
    """A real idle thread per I/O thread object, started on first use (its id is pinned)."""
    if ident not in state.iothread_tids:
        started = threading.Event()
        thread = threading.Thread(
            target=_idle, args=(state.stop, started), name=f"IO {ident}", daemon=True
        )
        thread.start()
        started.wait()
        state.iothread_tids[ident] = thread.native_id or 0
    return state.iothread_tids[ident]


@command("query-iothreads")
def query_iothreads(ctx: CommandContext, args: dict[str, Any]) -> Any:
    machine = ctx.machine
    state = _state(machine)
    out = []
    for ident in machine.objects.listing_order():
        if machine.other_objects.get(ident) != "iothread":
            continue
        out.append({
            "id": ident, "thread-id": _iothread_tid(state, ident),
            "poll-max-ns": IOTHREAD_POLL_MAX_NS, "poll-grow": 0, "poll-shrink": 0,
            "aio-max-batch": 0,
        })
    return out


@command("query-named-block-nodes")
def query_named_block_nodes(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return []


@command("query-block")
def query_block(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return []


@command("query-balloon")
def query_balloon(ctx: CommandContext, args: dict[str, Any]) -> Any:
    raise QmpError("DeviceNotActive", "No balloon device has been activated")


@command("query-migrate-capabilities")
def query_migrate_capabilities(ctx: CommandContext, args: dict[str, Any]) -> Any:
    caps = _state(ctx.machine).capabilities
    return [{"capability": name, "state": state} for name, state in caps.items()]


@command("migrate-set-capabilities")
def migrate_set_capabilities(ctx: CommandContext, args: dict[str, Any]) -> Any:
    caps = _state(ctx.machine).capabilities
    for item in args["capabilities"]:
        caps[item["capability"]] = bool(item["state"])
    return {}


@command("query-jobs")
def query_jobs(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # No block or snapshot jobs run in a model; libvirt asks when it re-attaches to a guest.
    return []


@command("query-dirty-rate")
def query_dirty_rate(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # Nothing is ever measured: QEMU's answer before any calc-dirty-rate. Where the schema
    # has a time unit (8.2 on), the answer names the one asked for, seconds by default.
    answer = {"status": "unstarted", "start-time": 0, "calc-time": 0, "sample-pages": 0,
              "mode": "page-sampling"}
    members = wire_types(ctx.machine.profile).SCHEMA["DirtyRateInfo"]["members"]
    if any(member["name"] == "calc-time-unit" for member in members):
        answer["calc-time-unit"] = args.get("calc-time-unit", "second")
    return answer


@command("query-blockstats")
def query_blockstats(ctx: CommandContext, args: dict[str, Any]) -> Any:
    return []
