"""Figures 3 and 4: one connection, sequential round trips and a pipelined burst.

The client is `bench.qmp_client` in its own process, the same for every server: the floor (a
bare asyncio server answering a fixed line), qmpnuma, QEMU 7.2 and, when present, QEMU 10.0.
Each round runs every command and mode once on every server (alternating, so a change in the
machine's load weighs on all alike); the figures are the medians and spreads over the rounds.
Every mode runs twice: with one request line repeated (issue 12's measure; a server may answer a
repeated line from a memo) and with a unique `"id"` per request, as real clients send them.

Beside the floor runs the *sized* floor of each command ("sized"): the same bare server
answering a fixed line as long as qmpnuma's reply to that command, so that the client reads as
many bytes. It does nothing per request either; its share of the floor is how much of a gap the
client itself makes when replies are longer (the limit of any server sending QEMU's bytes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from bench.launchers import CONNECTION_KINDS, Running, start
from bench.qmp_client import QmpLineClient, request_line, request_with_id

#: The commands measured on one connection: a query with a model-sized reply, one with a
#: per-CPU reply, and the negotiation command (answered with QEMU's "already complete" error).
COMMANDS = ("query-memdev", "query-cpus-fast", "qmp_capabilities")
#: Each mode twice: every request the same line (`{"execute": ...}`, as issue 12 measured it)
#: and, with "-ids", every request with its own `"id"` (as real clients send them).
MODES = ("roundtrips", "pipelined", "roundtrips-ids", "pipelined-ids")
UNIQUE_IDS = "-ids"


def base_mode(mode: str) -> str:
    """The client's mode of a mode ("pipelined-ids" -> "pipelined")."""
    return mode.removesuffix(UNIQUE_IDS)


def mode_label(mode: str) -> str:
    """How tables and plots name a mode."""
    label = "sequential" if base_mode(mode) == "roundtrips" else "pipelined 10,000"
    return label + (", unique ids" if mode.endswith(UNIQUE_IDS) else ", same line")


def _client(mode: str, sock: str, count: int, command: str) -> float:
    flags = ["--unique-ids"] if mode.endswith(UNIQUE_IDS) else []
    done = subprocess.run(
        [sys.executable, "-m", "bench.qmp_client", base_mode(mode), sock, str(count), command,
         *flags],
        capture_output=True, text=True, check=True, timeout=300,
    )
    seconds: float = json.loads(done.stdout)["seconds"]
    return seconds


def reply_sizes(running: Running, commands: Sequence[str]) -> dict[str, int]:
    """The lengths of a server's reply lines to ``commands``, sent without an id (keyed by the
    command) and with one (keyed "COMMAND id")."""
    client = QmpLineClient(running.socket)
    client.handshake()
    sizes = {command: len(client.query(request_line(command))) for command in commands}
    sizes.update({f"{command} id": len(client.query(request_with_id(command, 5000)))
                  for command in commands})
    client.close()
    return sizes


def start_sized_floors(
    sizes: dict[str, int], args: Sequence[str], folder: str, commands: Sequence[str]
) -> dict[str, Running]:
    """A sized floor per command: the floor answering lines of ``sizes[command]`` bytes."""
    floors: dict[str, Running] = {}
    try:
        for number, command in enumerate(commands):
            env = dict(os.environ, QMPNUMA_FLOOR_REPLY_BYTES=str(sizes[command]))
            floors[command] = start("floor", args, os.path.join(folder, f"sized{number}.qmp"),
                                    env=env)
    except BaseException:
        for running in floors.values():
            running.stop()
        raise
    return floors


def measure(
    args: Sequence[str], repeats: int, sequential: int, burst: int,
    commands: Sequence[str] = COMMANDS,
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Replies per second: ``{command: {mode: {kind: [rate per round]}}}``; the kinds are
    `CONNECTION_KINDS` and "sized" (the floor answering lines as long as qmpnuma's)."""
    kinds = (*CONNECTION_KINDS, "sized")
    rates: dict[str, dict[str, dict[str, list[float]]]] = {
        command: {mode: {kind: [] for kind in kinds} for mode in MODES} for command in commands}
    counts = {"roundtrips": sequential, "pipelined": burst}
    with tempfile.TemporaryDirectory(prefix="qmpnuma-bench-") as folder:
        servers: dict[str, Running] = {}
        sized: dict[str, Running] = {}
        try:
            for kind in CONNECTION_KINDS:
                servers[kind] = start(kind, args, os.path.join(folder, f"{kind}.qmp"))
            sized = start_sized_floors(reply_sizes(servers["qmpnuma10"], commands), args,
                                       folder, commands)
            for _ in range(repeats):
                for command in commands:
                    for mode in MODES:
                        count = counts[base_mode(mode)]
                        for kind, running in (*servers.items(), ("sized", sized[command])):
                            rates[command][mode][kind].append(
                                count / _client(mode, running.socket, count, command))
        finally:
            for running in (*servers.values(), *sized.values()):
                running.stop()
    return rates
