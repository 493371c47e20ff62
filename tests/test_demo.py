"""`make run` under every profile: `qmpnuma --profile=P demo` starts, listens and answers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys

import pytest
from qmp_endpoints import connect_unix

from qmpnuma.demo import PORT_VARIABLE, demo_args, numa_option_types
from qmpnuma.profiles import PROFILES

QMPNUMA = os.path.join(os.path.dirname(sys.executable), "qmpnuma")


def _lines(sock: socket.socket, count: int) -> list[dict[str, object]]:
    data = b""
    while data.count(b"\n") < count:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return [json.loads(line) for line in data.splitlines()]


@pytest.mark.parametrize("profile", [*PROFILES, None])
def test_demo_starts_and_answers(profile: str | None) -> None:
    """Each profile's demo, and `make run`'s (no profile: the default, QEMU 10.0)."""
    env = {key: value for key, value in os.environ.items() if key != "QMPNUMA_PROFILE"}
    env[PORT_VARIABLE] = "0"
    chosen = [] if profile is None else [f"--profile={profile}"]
    major = {None: 10, "10.0": 10, "7.2": 7, "2.9": 2}[profile]
    proc = subprocess.Popen(
        [QMPNUMA, *chosen, "demo"], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline() + proc.stdout.readline()
        found = re.search(r"unix:(\S+) and", banner)
        assert found, f"no socket in {banner!r}"
        assert f"(profile {profile or '10.0'})" in banner
        path = found.group(1)
        with connect_unix(path, proc) as sock:  # type: ignore[arg-type]
            sock.settimeout(10)
            greeting = _lines(sock, 1)[0]
            sock.sendall(b'{"execute":"qmp_capabilities"}\n{"execute":"query-memdev"}\n')
            replies = _lines(sock, 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert not os.path.exists(os.path.dirname(path)), "the demo left its directory behind"
    assert greeting["QMP"]["version"]["qemu"]["major"] == major  # type: ignore[index]
    assert replies[0] == {"return": {}}
    memdevs = replies[1]["return"]
    assert isinstance(memdevs, list)
    assert sorted(m["id"] for m in memdevs) == ["ram-node0", "ram-node1"]


def test_demo_says_first_that_its_port_is_taken() -> None:
    """A port asked for in the environment and taken: the failure, no banner, exit 1."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run([QMPNUMA, "demo"], capture_output=True, text=True, timeout=30,
                              env={**os.environ, PORT_VARIABLE: str(port)}, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (f"qmpnuma demo: 127.0.0.1:{port} is in use "
                           f"({PORT_VARIABLE}=0 takes any free port)\n")


def test_demo_uses_distances_only_where_the_profile_has_them() -> None:
    for profile in PROFILES:
        has_dist = "dist" in numa_option_types(profile)
        assert ("dist,src=0,dst=1,val=20" in demo_args("/s", profile)) == has_dist
    assert "dist" in numa_option_types("7.2")
    assert "dist" not in numa_option_types("2.9")
