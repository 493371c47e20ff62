"""Open the machine's chardevs in QEMU's start-up order, or say what QEMU says when it cannot.

QEMU creates the `-chardev`/`-qmp`/`-monitor` chardevs first (listening, connecting, adopting an
inherited fd: `qemu_create_early_backends`), then the monitors on them (`mon_init_func`), then
the serial ports (`serial_parse`, which creates the chardev of a `-serial SPEC`), then the
devices that read a chardev (`-device isa-serial,chardev=ID`). The first refusal on that road
ends the process with QEMU's lines; this module walks the same road and hands the server one
`Channel` per chardev it keeps open. (QEMU connects the board's serial ports while building the
board, so a serial port on a claimed chardev aborts it before any `-device` is looked at.)
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable

from qmpnuma.errors import OptionError
from qmpnuma.machine.monitors import (
    PORT_KINDS,
    Chardev,
    MonitorConfig,
    MonitorOptionError,
    check_devices,
    check_monitors,
    check_serial,
    check_serial_ports,
    port_frontends,
)
from qmpnuma.profiles.profile import Texts
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.records import field, record
from qmpnuma.server.chardev_names import ChardevNames, disconnected_name
from qmpnuma.server.endpoints import Endpoint, chardev_endpoint, with_role
from qmpnuma.server.listeners import bind, connect, is_listening
from qmpnuma.server.runtime import Channel, MonitorState


@record
class OpenedChardevs:
    """What start-up opened: the channels to serve and the unix paths qmpnuma bound.

    Only the paths of server-mode unix chardevs are qmpnuma's to remove at exit; a client's path
    and an inherited socket belong to someone else.
    """

    channels: list[Channel] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    bound_paths: list[str] = field(default_factory=list)
    names: ChardevNames = field(default_factory=ChardevNames)
    #: the profile's ``chardev_client_named_after_peer``
    clients_named_after_peer: bool = False
    #: ``-daemonize``: a stdio chardev cannot be opened
    daemonizing: bool = False

    def close(self) -> None:
        """Close what was opened and remove the paths bound (start-up failed after all)."""
        for channel in self.channels:
            if channel.sock is not None:
                with contextlib.suppress(OSError):
                    channel.sock.close()
        for path in self.bound_paths:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _channel(
    endpoint: Endpoint, report: Callable[[str, str], None], opened: OpenedChardevs,
    texts: Texts,
) -> Channel:
    """Open one endpoint (listen, connect or adopt) and make its channel."""
    speaks = endpoint.control or endpoint.readline
    monitor = (MonitorState(index=endpoint.index, pretty=endpoint.pretty,
                            chardev_names=opened.names) if speaks else None)
    if endpoint.kind == "stdio":
        stdio = Channel(monitor)  # a QMP or an HMP monitor, or nobody speaking
        stdio.hmp = endpoint.readline
        return stdio
    if not endpoint.server and endpoint.kind in ("unix", "tcp"):
        dial = functools.partial(connect, endpoint, texts)
        warn = functools.partial(report, endpoint.label)
        gone = disconnected_name(endpoint, None)
        if endpoint.reconnect:
            # QEMU connects in the background then; the first failure is a warning, not an exit
            channel = Channel(monitor, None, False, dial, float(endpoint.reconnect), warn)
        else:
            channel = Channel(monitor, dial(), False)
        channel.named_after_peer = opened.clients_named_after_peer
    else:
        sock = bind(endpoint)
        if sock is None:
            return Channel(None)
        if endpoint.kind == "unix" and endpoint.path is not None:
            opened.bound_paths.append(endpoint.path)
        listening = is_listening(sock)
        gone = disconnected_name(endpoint, sock if listening else None)
        channel = Channel(monitor, sock, listening)
    channel.names, channel.label, channel.server = opened.names, endpoint.label, endpoint.server
    channel.hmp = endpoint.readline
    channel.disconnected = gone
    channel.peer_left()  # no peer yet: named as disconnected until one comes
    return channel


def _open(
    dev: Chardev, config: MonitorConfig, report: Callable[[str, str], None],
    opened: OpenedChardevs, texts: Texts,
) -> None:
    try:
        endpoint = chardev_endpoint(dev)
        if endpoint is None:
            return
        if endpoint.kind == "stdio" and opened.daemonizing:
            # qemu_chr_open_stdio: a daemon has no terminal, whoever would read it
            raise OptionError("cannot use stdio with -daemonize")
        endpoint = with_role(endpoint, config)
        if endpoint.kind == "stdio" and not (endpoint.control or endpoint.readline):
            return  # nobody reads stdio for a serial port here
        channel = _channel(endpoint, report, opened, texts)
    except OptionError as err:
        more: tuple[str, ...] = ()
        if dev.origin in PORT_KINDS:
            spec = dev.source.split(" ", 1)[1]
            more = (f"could not connect {dev.origin} device to character backend '{spec}'",)
        raise MonitorOptionError(dev.source, err.message, more, err.hints) from None
    opened.channels.append(channel)
    opened.endpoints.append(endpoint)


def open_chardevs(
    config: MonitorConfig, report: Callable[[str, str], None],
    texts: Texts = DEFAULT_PROFILE.texts, *, clients_named_after_peer: bool = False,
    daemonizing: bool = False,
) -> OpenedChardevs:
    """Open every chardev qmpnuma serves, checking monitors, serial ports and devices between.

    ``report(label, text)`` prints a client's first failed background connection (QEMU's
    `Unable to connect character device LABEL: TEXT`). Raises `MonitorOptionError` with QEMU's
    lines for the first refusal (``texts``: the profile's wording); nothing stays open then.
    ``clients_named_after_peer``: the profile's ``chardev_client_named_after_peer``.
    """
    opened = OpenedChardevs(clients_named_after_peer=clients_named_after_peer,
                            daemonizing=daemonizing)
    try:
        early = [dev for dev in config.chardevs if dev.origin not in PORT_KINDS]
        for dev in sorted(early, key=lambda dev: dev.created):
            _open(dev, config, report, opened, texts)
        check_monitors(config, texts)
        for front in port_frontends(config):
            created = config.chardev(front.chardev)
            if created is None or created.origin not in PORT_KINDS:
                check_serial(config, front)
            elif created.error is not None:
                spec = front.source.split(" ", 1)[1]
                raise MonitorOptionError(front.source, created.error, (
                    f"could not connect {front.kind} device to character backend '{spec}'",))
            else:
                _open(created, config, report, opened, texts)
        check_serial_ports(config, texts)
        check_devices(config, texts)
    except BaseException:
        opened.close()
        raise
    return opened
