"""Drive one emulator through QEMU's own `qemu.machine.QEMUMachine` and print what it saw.

Run as a separate process with QEMU's `python/` directory (fetched by
`scripts/fetch_qemu_python.sh`) first on PYTHONPATH, so that the harness and its own `qemu.qmp`
are the ones of the QEMU version under test:

    python tests/qemu_machine_driver.py BINARY VARIANT WORKDIR

VARIANT is one of `default`, `path`, `tcp`, `console`, `noqmp`. The outcome (one JSON object on
stdout) holds only what must be equal between the real QEMU and qmpnuma: whether launch worked,
the answers to a few queries (vCPU thread ids left out; `query-chardev` with the run's directory
and ports spelt out), a DIMM hot-plug, the events seen, and
the exit code after `shutdown()`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from typing import Any

from qemu.machine import QEMUMachine  # type: ignore[import-not-found]

ARGS = [
    "-M", "pc", "-m", "1G,slots=2,maxmem=4G", "-smp", "2",
    "-object", "memory-backend-ram,id=m0,size=512M",
    "-object", "memory-backend-ram,id=m1,size=512M",
    "-numa", "node,nodeid=0,cpus=0,memdev=m0",
    "-numa", "node,nodeid=1,cpus=1,memdev=m1",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _without_threads(cpus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in cpu.items() if k != "thread-id"} for cpu in cpus]


def run(binary: str, variant: str, workdir: str) -> dict[str, Any]:
    monitor_address: Any = None
    if variant == "path":
        monitor_address = os.path.join(workdir, "monitor.sock")
    elif variant == "tcp":
        monitor_address = ("127.0.0.1", _free_port())
    vm = QEMUMachine(binary, args=ARGS, base_temp_dir=workdir, log_dir=workdir,
                     monitor_address=monitor_address, qmp_timer=15)
    if variant == "console":
        vm.set_console()
    if variant == "noqmp":
        vm.set_qmp_monitor(False)
    outcome: dict[str, Any] = {}
    try:
        vm.launch()
    except Exception as exc:  # the outcome records what the launcher raised
        outcome["launch"] = type(exc).__name__
        return outcome
    outcome["launch"] = "ok"
    if variant != "noqmp":
        outcome["status"] = vm.qmp("query-status")
        chardevs = vm.qmp("query-chardev").get("return", [])
        # how each chardev is connected (in QEMU's order), run-specific paths and ports spelt out
        outcome["chardevs"] = [
            (dev["label"], re.sub(r":\d{2,5}\b", ":PORT",
                                  re.sub(r"unix:/[^,]+", "unix:PATH", dev["filename"])))
            for dev in chardevs
        ]
        outcome["memdev"] = vm.qmp("query-memdev")
        cpus = vm.qmp("query-cpus-fast")
        outcome["cpus"] = _without_threads(cpus.get("return", []))
        outcome["object-add"] = vm.qmp("object-add", qom_type="memory-backend-ram",
                                       id="hp0", size=256 << 20)
        outcome["device_add"] = vm.qmp("device_add", driver="pc-dimm", id="dimm0",
                                       memdev="hp0", node=1)
        outcome["memory-devices"] = vm.qmp("query-memory-devices")
        outcome["stop"] = vm.qmp("stop")
        stop_event = vm.event_wait("STOP", timeout=10)
        outcome["stop-event"] = None if stop_event is None else stop_event.get("event")
        outcome["cont"] = vm.qmp("cont")
        resume_event = vm.event_wait("RESUME", timeout=10)
        outcome["resume-event"] = None if resume_event is None else resume_event.get("event")
    if variant == "console":
        console = vm.console_socket
        outcome["console"] = console is not None
    # Without a monitor the harness can only wait for the process, then kill it; a short
    # timeout keeps that case quick (both emulators get the same one).
    try:
        vm.shutdown(timeout=3 if variant == "noqmp" else 30)
        outcome["shutdown"] = "ok"
    except Exception as exc:  # the harness's own verdict on the shutdown is part of the outcome
        outcome["shutdown"] = type(exc).__name__
    outcome["exitcode"] = vm.exitcode()
    return outcome


def main() -> None:
    binary, variant, workdir = sys.argv[1:4]
    print(json.dumps(run(binary, variant, workdir), sort_keys=True))


if __name__ == "__main__":
    main()
