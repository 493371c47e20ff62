"""`make run`: the demo machine, served on a unix socket and on 127.0.0.1:4444.

Four GiB in two NUMA nodes on memory-backend-ram, four vCPUs present (two per node) of eight
possible (sockets alternate between the nodes, so CPU hot-plug has a free slot on each), and four
DIMM slots up to 16 GiB: enough to try every query and a hot-plug from `qmp-shell`.
"""

from __future__ import annotations

import os
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


def run_demo(profile: Profile) -> int:
    """Serve the demo machine until `quit` or Ctrl-C, after saying how to connect."""
    directory = tempfile.mkdtemp(prefix="qmpnuma-demo-")
    socket_path = os.path.join(directory, "qmp.sock")
    port = int(os.environ.get(PORT_VARIABLE, DEMO_TCP_PORT))
    args = demo_args(socket_path, profile, port)
    machine = build_machine(args, profile, "qmpnuma")
    venv_bin = os.path.dirname(sys.executable)
    print(f"qmpnuma demo machine (profile {profile.name}): 4 GiB in 2 NUMA nodes, 4 vCPUs of 8, "
          "4 DIMM slots")
    print(f"  QMP on unix:{socket_path} and tcp:127.0.0.1:{port}")
    print(f"  connect with: {venv_bin}/qmp-shell {socket_path}")
    print(f"           or: {venv_bin}/qmp-shell 127.0.0.1:{port}")
    print("  try: query-memdev, x-query-numa, object-add qom-type=memory-backend-ram id=hp0 "
          "size=1073741824, device_add driver=pc-dimm id=d0 memdev=hp0 node=1; Ctrl-C ends it")
    sys.stdout.flush()
    return serve_machine(machine, "qmpnuma")
