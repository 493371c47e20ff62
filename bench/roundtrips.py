"""Sequential `query-memdev` round trips per second against one qmpnuma on a unix socket.

`python -m bench.roundtrips [N] [-- FRONT OPTIONS]` starts `python -m qmpnuma.cli` (plain, or
with leading options such as `--trace FILE`), sends N requests one after the other (each waits
for its reply) and prints the rate. It measures the server's read loop, so it is run before and
after a change to it on the same machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

ARGS = [
    "-machine", "pc", "-nodefaults", "-display", "none", "-S", "-m", "2G",
    "-object", "memory-backend-ram,id=m0,size=1G", "-object", "memory-backend-ram,id=m1,size=1G",
    "-numa", "node,nodeid=0,memdev=m0", "-numa", "node,nodeid=1,memdev=m1",
]


def _read_line(sock: socket.socket, buffer: bytearray) -> bytes:
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed")
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux `/proc/PID/stat`)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(count: int, front: list[str]) -> tuple[float, float]:
    """Round trips per second over ``count`` sequential requests, and the server's CPU
    microseconds per request (steadier than the rate on a busy machine)."""
    directory = tempfile.mkdtemp(prefix="qmpnuma-rt-")
    path = os.path.join(directory, "qmp.sock")
    # `-m qmpnuma.cli` runs the qmpnuma found on this interpreter's path (PYTHONPATH may point
    # at another checkout to compare two versions)
    proc = subprocess.Popen(
        [sys.executable, "-m", "qmpnuma.cli", *front, *ARGS,
         "-qmp", f"unix:{path},server=on,wait=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(path)
                break
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        buffer = bytearray()
        _read_line(sock, buffer)
        sock.sendall(b'{"execute":"qmp_capabilities"}\n')
        _read_line(sock, buffer)
        request = b'{"execute":"query-memdev"}\n'
        cpu = _cpu_seconds(proc.pid)
        start = time.perf_counter()
        for _ in range(count):
            sock.sendall(request)
            _read_line(sock, buffer)
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds(proc.pid) - cpu
        sock.close()
        return count / elapsed, cpu / count * 1e6
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    argv = sys.argv[1:]
    front: list[str] = []
    if "--" in argv:
        front = argv[argv.index("--") + 1:]
        argv = argv[: argv.index("--")]
    count = int(argv[0]) if argv else 5000
    runs = [measure(count, front) for _ in range(3)]
    rates = [rate for rate, _ in runs]
    cpu = [micro for _, micro in runs]
    print(f"{count} sequential query-memdev: best {max(rates):.0f}/s "
          f"(runs: {', '.join(f'{r:.0f}' for r in rates)}); server CPU per request: "
          f"best {min(cpu):.1f} us (runs: {', '.join(f'{c:.1f}' for c in cpu)})")


if __name__ == "__main__":
    main()
