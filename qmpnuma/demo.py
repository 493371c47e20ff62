"""`make run`: the demo machine, served on a unix socket and on 127.0.0.1:4444.

Four GiB in two NUMA nodes on memory-backend-ram, four vCPUs present (two per node) of eight
possible (sockets alternate between the nodes, so CPU hot-plug has a free slot on each), and four
DIMM slots up to 16 GiB: enough to try every query and a hot-plug from `qmp-shell`.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile

from qmpnuma.profiles import Profile, wire_types
from qmpnuma.server.launch import serve_machine
from qmpnuma.start import build_machine

DEMO_TCP_PORT = 4444
#: Environment variable that moves the TCP monitor (0: any free port), e.g. for tests.
PORT_VARIABLE = "QMPNUMA_DEMO_TCP_PORT"


def numa_option_types(profile: Profile) -> list[str]:
    """The `-numa` types the profile's QEMU knows (its schema's `NumaOptionsType`)."""
    values: list[str] = wire_types(profile).SCHEMA["NumaOptionsType"]["values"]
    return values


def demo_args(socket_path: str, profile: Profile, tcp_port: int = DEMO_TCP_PORT) -> list[str]:
    """The QEMU command line of the demo machine, using only what the profile's QEMU knows.

    The distance between the nodes is given where `-numa dist` exists (QEMU 2.10 added it).
    """
    distances = (
        ["-numa", "dist,src=0,dst=1,val=20"] if "dist" in numa_option_types(profile) else []
    )
    return [
        "-machine", "pc", "-accel", "tcg", "-nodefaults", "-display", "none", "-S",
        "-name", "qmpnuma-demo",
        "-m", "4G,slots=4,maxmem=16G",
        "-smp", "4,maxcpus=8,sockets=4,cores=2",
        "-object", "memory-backend-ram,id=ram-node0,size=2G",
        "-object", "memory-backend-ram,id=ram-node1,size=2G",
        "-numa", "node,nodeid=0,cpus=0-1,cpus=4-5,memdev=ram-node0",
        "-numa", "node,nodeid=1,cpus=2-3,cpus=6-7,memdev=ram-node1",
        *distances,
        "-qmp", f"unix:{socket_path},server=on,wait=off",
        "-qmp", f"tcp:127.0.0.1:{tcp_port},server=on,wait=off",
    ]


def _port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound as the server will bind it."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _any_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def choose_port() -> int | None:
    """The demo's TCP port: ``QMPNUMA_DEMO_TCP_PORT`` when set (0: any free one), else 4444,
    or any free port when 4444 is taken (said on stderr). None when the port asked for in the
    environment is taken (said on stderr too)."""
    asked = os.environ.get(PORT_VARIABLE)
    port = int(asked) if asked is not None else DEMO_TCP_PORT
    if port == 0:
        return _any_free_port()
    if _port_is_free(port):
        return port
    if asked is not None:
        sys.stderr.write(f"qmpnuma demo: 127.0.0.1:{port} is in use "
                         f"({PORT_VARIABLE}=0 takes any free port)\n")
        return None
    free = _any_free_port()
    sys.stderr.write(f"qmpnuma demo: 127.0.0.1:{port} is in use, serving on port {free}\n")
    return free


def run_demo(profile: Profile) -> int:
    """Serve the demo machine until `quit` or Ctrl-C, after saying how to connect.

    The private directory of its unix socket is removed when the demo ends.
    """
    port = choose_port()
    if port is None:
        return 1
    directory = tempfile.mkdtemp(prefix="qmpnuma-demo-")
    try:
        socket_path = os.path.join(directory, "qmp.sock")
        args = demo_args(socket_path, profile, port)
        machine = build_machine(args, profile, "qmpnuma")
        venv_bin = os.path.dirname(sys.executable)
        print(f"qmpnuma demo machine (profile {profile.name}): 4 GiB in 2 NUMA nodes, "
              "4 vCPUs of 8, 4 DIMM slots")
        print(f"  QMP on unix:{socket_path} and tcp:127.0.0.1:{port}")
        print(f"  connect with: {venv_bin}/qmp-shell {socket_path}")
        print(f"           or: {venv_bin}/qmp-shell 127.0.0.1:{port}")
        print("  try: query-memdev, x-query-numa, object-add qom-type=memory-backend-ram "
              "id=hp0 size=1073741824, device_add driver=pc-dimm id=d0 memdev=hp0 node=1; "
              "Ctrl-C ends it")
        sys.stdout.flush()
        return serve_machine(machine, "qmpnuma")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
