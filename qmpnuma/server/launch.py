"""From a built machine to a serving process: bind monitors, daemonize, write the pidfile, serve.

The order follows QEMU's start-up: the monitors' sockets exist before `-daemonize` lets the parent
go, the pidfile holds the serving process, and warnings and errors reach the launcher's stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys

from qmpnuma.commands.dispatch import CommandRegistry
from qmpnuma.machine import Machine
from qmpnuma.machine.monitors import MonitorOptionError, SerialInUseAbort
from qmpnuma.options.diagnostics import format_report
from qmpnuma.profiles import wire_types
from qmpnuma.qmp.session import GreetingInfo, QmpSession
from qmpnuma.server import daemon, signal_report
from qmpnuma.server.chardevs import open_chardevs
from qmpnuma.server.runtime import QmpServer, hmp_banner
from qmpnuma.server.vcpu_threads import VcpuThreads


def _option_values(machine: Machine, name: str) -> list[str]:
    return [opt.arg or "" for opt in machine.options if opt.name == name]


def serve_machine(
    machine: Machine, progname: str, *, greeting: GreetingInfo | None = None
) -> int:
    """Serve QMP for ``machine`` on the monitors of its command line; return the exit status.

    ``greeting`` changes the reported QEMU version and package (default: the profile's).
    """
    # Block the terminating signals first: from the pidfile on, a signal must end the process
    # through the orderly path (SHUTDOWN, sockets and pidfile removed), never abruptly.
    signal_report.block()

    def report(label: str, text: str) -> None:
        sys.stderr.write(f"{progname}: Unable to connect character device {label}: {text}\n")
        sys.stderr.flush()

    daemonizing = any(opt.name == "daemonize" for opt in machine.options)
    try:
        config = machine.monitors
        for location, warning in config.warnings:
            sys.stderr.write(format_report(
                progname, location, warning.message, warning.hints, warning=True))
        opened = open_chardevs(
            config, report, machine.profile.texts,
            clients_named_after_peer=machine.profile.chardev_client_named_after_peer,
            daemonizing=daemonizing,
        )
    except SerialInUseAbort as err:
        sys.stderr.write(f"{machine.profile.texts.chardev_fe_abort}\n{progname}: {err.message}\n")
        sys.stderr.flush()
        if daemonizing:  # QEMU's child aborts; its waiting parent exits 1
            return 1
        os.abort()
    except MonitorOptionError as err:
        sys.stderr.write(err.text(progname))
        return 1
    pidfiles = _option_values(machine, "pidfile")
    if daemonizing:
        daemon.daemonize()
    if pidfiles:
        try:
            daemon.write_pidfile(pidfiles[-1])
        except OSError as err:
            sys.stderr.write(f"{progname}: cannot create PID file: {err.strerror}\n")
            daemon.ready(1)
            return 1
    if daemonizing:
        daemon.ready(0)
        daemon.detach_stdio()
    vcpus = VcpuThreads()
    machine.cpus.use_thread_ids(vcpus.start_one)
    types = wire_types(machine.profile)
    registry = CommandRegistry(machine, greeting=greeting)
    server = QmpServer(
        lambda: QmpSession(
            types.COMMANDS, types.SCHEMA, profile=machine.profile, greeting=registry.greeting,
            machine_ready=lambda: machine.machine_ready,
        ),
        registry,
    )
    registry.attach(broadcast=server.broadcast, request_exit=server.request_exit)
    if registry.greeting is not None:
        server.hmp_banner = hmp_banner(registry.greeting)
    shutdown_data = {"guest": False, "reason": "host-signal"} \
        if machine.profile.shutdown_events_carry_reason else None

    def on_signal(signum: int) -> None:
        # QEMU ends on SIGTERM, SIGINT and SIGHUP alike: SHUTDOWN, then exit status 0.
        machine.quit()
        server.broadcast("SHUTDOWN", shutdown_data)
        server.request_exit(0)

    async def serve() -> int:
        signal_report.start_waiter(
            asyncio.get_running_loop(), on_signal, progname=progname,
            profile=machine.profile, timestamps=machine.message_style.timestamps,
        )
        return await server.run(opened.channels)

    try:
        return asyncio.run(serve())
    finally:
        vcpus.stop()
        for path in pidfiles:
            daemon.remove_at_exit(path)
        # QEMU removes the unix sockets it listened on (not the ones it inherited or connected
        # to) when it ends.
        for path in opened.bound_paths:
            daemon.remove_at_exit(path)
