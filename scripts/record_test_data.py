#!/usr/bin/env python3
"""Record, from the real QEMU, the reference data the test suite compares qmpnuma with.

The tests must not depend on anything outside the repository, so what they compare against lives
in ``tests/data/``: two input lists the project keeps (what to run) and two recordings this script
makes by running ``qemu-system-x86_64`` (what the binary answered).

* ``tests/data/command-lines.json`` (input): command lines, each filed under the QEMU rule it
  exercises. ``tests/data/recorded-command-lines.json`` (output): for each, the exit status of
  the start-up (0 = QEMU built the machine) and its standard error, grouped by rule. The lines
  are run as ``tests/qemu_runner.py`` runs them for the differential suite (``-daemonize``).
* ``tests/data/qmp-sessions.json`` (input): QEMU command lines and the QMP requests sent to each,
  in order. ``tests/data/recorded-qmp-sessions.json`` (output): the greeting and, per request,
  every message QEMU sent back until the reply (events included; after ``quit``, until QEMU
  closes the socket), recorded by sending the requests to the binary over its QMP socket.

Each output starts with a header naming the binary, its version and package and the command that
recorded it. Run-specific values are normalized so that a second run on the same binary writes
the same bytes: event timestamps become 0 and vCPU thread ids (QMP ``thread-id``, HMP
``thread_id=``) become 0.

Refresh the recordings (the reference binary installed):
``.venv/bin/python scripts/record_test_data.py [/usr/bin/qemu-system-x86_64]``; another release's
binary records into its own directory, e.g. ``.venv/bin/python scripts/record_test_data.py
build/reference/bin/qemu-system-x86_64 --output tests/data/qemu-10.0 --only qmp-sessions``.

The first input list was taken once from the developers' specification (§6.3, the command lines
only, not their recorded output) with ``--import-command-lines PATH``; that step keeps the
entries of the list that did not come from there.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from record_qemu_facts import running_qemu

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
COMMAND_LINES = DATA / "command-lines.json"
RECORDED_COMMAND_LINES = "recorded-command-lines.json"
QMP_SESSIONS = DATA / "qmp-sessions.json"
RECORDED_QMP_SESSIONS = "recorded-qmp-sessions.json"
RECORD_COMMAND = ".venv/bin/python scripts/record_test_data.py"

sys.path.insert(0, str(REPO / "tests"))
from qemu_runner import FIXED_ARGS, run_real  # noqa: E402  (the differential suite's runner)

#: Seconds to wait for one message before calling the recording broken.
READ_TIMEOUT = 20.0
#: The §6.3 case names of the specification and the QEMU rule each exercises.
SPEC_RULES = {
    "dup_nodeid": "numa-node-duplicate-nodeid",
    "cpu_index_ge_maxcpus": "numa-node-cpus-index-below-maxcpus",
    "cpu_index_ge_maxcpus_with_maxcpus": "numa-node-cpus-index-below-maxcpus",
    "mem_and_memdev_same_node_pc50": "numa-node-mem-and-memdev-exclusive",
    "mem_and_memdev_same_node_pc": "numa-node-mem-and-memdev-exclusive",
    "memdev_some_nodes_only_pc50": "numa-node-memdev-on-all-or-none",
    "mem_then_memdev_pc50": "numa-node-memdev-on-all-or-none",
    "memdev_some_nodes_none_other": "numa-node-memdev-on-all-or-none",
    "missing_nodeid_middle": "numa-node-ids-contiguous",
    "missing_nodeid_multi": "numa-node-ids-contiguous",
    "total_ne_ram_memdev": "numa-node-memory-total-equals-ram",
    "total_ne_ram_mem_pc50": "numa-node-memory-total-equals-ram",
    "total_ne_ram_mem_suffixless_pc50": "numa-node-memory-total-equals-ram",
    "no_mem_given_pc": "numa-node-memory-default-split",
    "no_mem_given_pc50": "numa-node-memory-default-split",
    "no_mem_given_pc51": "numa-node-memory-default-split",
    "cpus_multiple_nodes": "numa-node-cpus-in-one-node",
    "cpus_multiple_nodes_same_node_twice": "numa-node-cpus-in-one-node",
    "unassigned_cpus_warning": "numa-cpus-unassigned-warning",
    "memdev_not_found": "numa-node-memdev-exists",
    "memdev_used_twice": "numa-node-memdev-used-once",
    "too_many_nodes_nodeid128": "numa-node-nodeid-below-max-nodes",
    "nodeid_65535": "numa-node-nodeid-below-max-nodes",
    "nodeid_65536": "numa-node-nodeid-number",
    "nodeid_negative": "numa-node-nodeid-number",
    "mem_on_pc72": "numa-node-mem-unsupported-since-5.1",
    "mem_on_q35_72": "numa-node-mem-unsupported-since-5.1",
    "mem_on_pc51": "numa-node-mem-unsupported-since-5.1",
    "mem_on_pc50_ok": "numa-node-mem-deprecated-before-5.1",
    "mem_on_q35_50_ok": "numa-node-mem-deprecated-before-5.1",
    "dist_src_ge_max": "numa-dist-node-below-max-nodes",
    "dist_dst_ge_max": "numa-dist-node-below-max-nodes",
    "dist_node_missing": "numa-dist-node-exists",
    "dist_before_node": "numa-dist-node-exists",
    "dist_val_lt_10": "numa-dist-value-range",
    "dist_local_ne_10": "numa-dist-local-is-10",
    "dist_val_256": "numa-dist-value-range",
    "dist_missing_pair": "numa-dist-table-complete",
    "dist_asym_incomplete": "numa-dist-table-complete",
    "dist_missing_val": "numa-dist-val-required",
    "cpu_missing_node_id": "numa-cpu-node-id-required",
    "cpu_node_not_defined": "numa-cpu-node-exists",
    "cpu_node_id_ge_max": "numa-cpu-node-exists",
    "cpu_no_match": "numa-cpu-props-match-a-slot",
    "cpu_already_assigned": "numa-cpu-slot-assigned-once",
    "cpu_cluster_unsupported": "numa-cpu-props-supported-by-machine",
    "cpu_die_unsupported": "numa-cpu-props-supported-by-machine",
    "cpu_empty_props": "numa-cpu-props-required",
    "cpus_and_numa_cpu_conflict": "numa-cpu-and-node-cpus-mixed",
    "numa_unknown_type": "numa-type-known",
    "numa_no_type": "numa-type-required",
    "numa_unknown_param": "numa-parameters-known",
    "numa_cpus_reversed": "numa-node-cpus-range-syntax",
    "numa_cpus_garbage": "numa-node-cpus-range-syntax",
    "numa_cpus_colon": "numa-node-cpus-range-syntax",
    "numa_cpus_big_range": "numa-node-cpus-range-syntax",
    "numa_mem_bad_suffix_pc50": "numa-node-mem-size-syntax",
    "numa_mem_empty_pc50": "numa-node-mem-size-syntax",
    "numa_nodeid_garbage": "numa-node-nodeid-number",
    "hmat_lb_without_hmat": "numa-hmat-requires-machine-hmat",
    "hmat_cache_without_hmat": "numa-hmat-requires-machine-hmat",
    "initiator_without_hmat": "numa-hmat-requires-machine-hmat",
    "machine_memory_backend_and_numa_memdev": "machine-memory-backend-without-numa-memdev",
    "machine_memory_backend_size_mismatch": "machine-memory-backend-size-equals-ram",
    "memdev_size_zero": "object-memory-backend-size-nonzero",
    "object_dup_id": "object-id-unique",
    "object_bad_size": "object-property-size-syntax",
    "object_unknown_prop": "object-property-known",
    "object_bad_policy": "object-memory-backend-policy-enum",
    "object_policy_bind_no_nodes": "object-memory-backend-policy-needs-host-nodes",
    "object_hostnodes_no_policy": "object-memory-backend-host-nodes-need-policy",
    "object_hostnodes_too_big": "object-memory-backend-host-nodes-range",
    "object_file_no_mempath": "object-memory-backend-file-mem-path-required",
    "object_no_id": "object-id-required",
    "object_unknown_type": "object-type-known",
    "smp_cpus_gt_maxcpus": "smp-cpus-at-most-maxcpus",
    "smp_topology_mismatch": "smp-topology-product",
    "smp_maxcpus_topology_mismatch": "smp-topology-product",
    "smp_too_many": "smp-maxcpus-machine-limit",
    "smp_zero": "smp-zero-values",
    "smp_garbage": "smp-number-syntax",
    "smp_cpus_zero_sockets": "smp-zero-values",
    "m_garbage": "m-size-syntax",
    "m_zero": "m-size-zero-default",
    "m_suffix_M": "m-size-suffix",
    "m_maxmem_lt_size": "m-maxmem-at-least-size",
    "m_maxmem_eq_size_with_slots": "m-maxmem-at-least-size",
    "m_slots_no_maxmem": "m-slots-need-maxmem",
    "m_maxmem_no_slots": "m-maxmem-without-slots",
    "m_maxmem_unaligned": "m-maxmem-page-aligned",
    "m_slots_too_many": "m-slots-limit",
    "m_unknown_param": "m-parameters-known",
    "m_frac": "m-size-fraction",
    "m_negative": "m-size-syntax",
    "numa_on_microvm": "numa-machine-support",
    "numa_on_none_machine": "numa-machine-support",
    "numa_nodeid_auto_increment_then_dup": "numa-node-duplicate-nodeid",
    "memdev_is_not_backend": "numa-node-memdev-is-backend",
    "cpus_70000": "numa-node-cpus-index-below-maxcpus",
    "cpus_hex_range": "numa-node-cpus-number-bases",
    "cpus_octal": "numa-node-cpus-number-bases",
    "cpus_empty": "numa-node-cpus-empty",
    "nodeid_hex": "numa-node-nodeid-number",
    "mem_fraction_nosuffix_pc50": "numa-node-mem-size-syntax",
    "mem_fraction_G_pc50": "numa-node-mem-size-syntax",
    "mem_hex_pc50": "numa-node-mem-size-syntax",
    "mem_hex_suffixless_small_pc50": "numa-node-mem-size-syntax",
    "user_pc_ram_id": "object-id-pc-ram-reserved",
    "hmat_cache_full_without_hmat": "numa-hmat-requires-machine-hmat",
    "hmat_initiator_oob": "numa-node-initiator-exists",
    "hmat_initiator_missing_node": "numa-node-initiator-exists",
    "hmat_lb_missing_latency": "numa-hmat-lb-value-required",
    "hmat_lb_bw_unaligned": "numa-hmat-lb-bandwidth-aligned",
    "hmat_lb_initiator_no_cpu": "numa-hmat-lb-initiator-has-cpus",
    "hmat_cache_before_lb": "numa-hmat-cache-after-lb",
    "hmat_node_no_initiator": "numa-hmat-every-node-has-initiator",
    "memdev_file_used_twice_dimm_and_numa": "device-pc-dimm-memdev-not-busy",
    "device_pc_dimm_cli": "device-pc-dimm-cold-plug",
    "maxmem_not_page_aligned": "m-maxmem-page-aligned",
    "numa_node_mem_zero_pc50": "numa-node-mem-zero",
}
SPEC_ORIGIN = "spec 6.3 "


def layout(value: Any, depth: int, indent: str = "") -> str:
    """JSON text with the outer ``depth`` levels one member per line, deeper values on one line."""
    if depth == 0 or not isinstance(value, dict | list) or not value:
        return json.dumps(value)
    inner = indent + " "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(key)}: {layout(item, depth - 1, inner)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    items = [inner + layout(item, depth - 1, inner) for item in value]
    return "[\n" + ",\n".join(items) + "\n" + indent + "]"


def write_json(path: Path, value: Any, depth: int) -> None:
    """Write ``value`` the one way this script writes JSON (stable bytes for stable data)."""
    path.write_text(layout(value, depth) + "\n", encoding="utf-8")


# --- input preparation (run once) -------------------------------------------------------------


def import_command_lines(spec: Path) -> int:
    """Take the command lines of the specification's §6.3 into the project's input list.

    Only the ``=== name`` and ``$ qemu-system-x86_64 …`` lines are read; what the spec recorded
    QEMU printing is not. Entries of the list with another origin are kept after them.
    """
    text = spec.read_text(encoding="utf-8")
    section = text[text.index("### 6.3") : text.index("## 7.")]
    imported = []
    for match in re.finditer(r"^=== (\S+)\n\$ qemu-system-x86_64 (.*)$", section, re.M):
        name, argline = match.groups()
        imported.append({"rule": SPEC_RULES[name], "origin": SPEC_ORIGIN + name,
                         "args": shlex.split(argline)})
    kept = []
    if COMMAND_LINES.exists():
        kept = [entry for entry in json.loads(COMMAND_LINES.read_text())["command-lines"]
                if not entry["origin"].startswith(SPEC_ORIGIN)]
    write_json(COMMAND_LINES, {
        "about": "Command lines the tests run, each filed under the QEMU rule it exercises. "
                 "Input of scripts/record_test_data.py, which records QEMU's answers into "
                 "recorded-command-lines.json.",
        "command-lines": imported + kept,
    }, depth=2)
    print(f"wrote {COMMAND_LINES}: {len(imported)} imported, {len(kept)} kept")
    return 0


# --- recording --------------------------------------------------------------------------------


def binary_header(qemu: str) -> dict[str, Any]:
    """Who answered: the binary's path, version and distribution package."""
    path = shutil.which(qemu)
    if path is None:
        raise SystemExit(f"{qemu} not found: install qemu-system-x86 to record the test data")
    first = subprocess.run([path, "--version"], capture_output=True, text=True,
                           check=True).stdout.splitlines()[0]
    match = re.fullmatch(r"QEMU emulator version (\S+)(?: \((.*)\))?", first)
    if match is None:
        raise SystemExit(f"cannot read the version of {path}: {first!r}")
    if Path(path).resolve().is_relative_to(REPO):  # e.g. build/reference's wrapper
        path = str(Path(path).resolve().relative_to(REPO))
    return {"binary": path, "version": match.group(1), "package": match.group(2) or ""}


def header(qemu: dict[str, Any], source: Path, how: str) -> dict[str, Any]:
    """The head of a recording: which binary answered, which command and input recorded it."""
    return {
        "recorded-from": qemu,
        "recorded-by": RECORD_COMMAND,
        "input": str(source.relative_to(REPO)),
        "how": how,
    }


def record_command_lines(qemu: dict[str, Any], output: Path) -> None:
    """Start the binary on every input command line; file status and stderr under its rule."""
    entries = json.loads(COMMAND_LINES.read_text())["command-lines"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda entry: run_real(qemu["binary"], entry["args"]), entries))
    rules: dict[str, list[dict[str, Any]]] = {}
    for entry, outcome in zip(entries, outcomes, strict=True):
        rules.setdefault(entry["rule"], []).append({
            "origin": entry["origin"], "args": entry["args"],
            "status": outcome.status, "stderr": outcome.stderr,
        })
    write_json(output / RECORDED_COMMAND_LINES, {
        "header": header(qemu, COMMAND_LINES, (
            f"qemu-system-x86_64 {shlex.join(FIXED_ARGS)} ARGS -daemonize -pidfile FILE; "
            "status 0 means QEMU built the machine (the daemon is then killed)")),
        "rules": rules,
    }, depth=3)
    print(f"wrote {output / RECORDED_COMMAND_LINES}: {len(entries)} command lines, "
          f"{len(rules)} rules")


def request_line(request: Any) -> str:
    """The text sent for one input request: raw text as is, ``{"hmp": …}`` as HMP, else JSON."""
    if isinstance(request, dict) and set(request) == {"raw"}:
        return str(request["raw"])
    if isinstance(request, dict) and set(request) == {"hmp"}:
        request = {"execute": "human-monitor-command",
                   "arguments": {"command-line": request["hmp"]}}
    return json.dumps(request)


def executed(line: str) -> str | None:
    """The command a sent line names (``execute`` or ``exec-oob``), None when it names none."""
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    name = message.get("execute", message.get("exec-oob"))
    return name if isinstance(name, str) else None


def normalized(message: Any) -> Any:
    """``message`` with its run-specific values (timestamps, thread ids) set to 0."""
    if isinstance(message, list):
        return [normalized(item) for item in message]
    if isinstance(message, str):
        return re.sub(r"thread_id=\d+", "thread_id=0", message)
    if not isinstance(message, dict):
        return message
    out: dict[str, Any] = {}
    for key, value in message.items():
        if key == "timestamp" and isinstance(value, dict):
            out[key] = {"seconds": 0, "microseconds": 0}
        elif key == "thread-id" and isinstance(value, int):
            out[key] = 0
        else:
            out[key] = normalized(value)
    return out


class Transcript:
    """One QMP connection whose every received message is kept, events included."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(READ_TIMEOUT)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")
        self.greeting = self._message()

    def _message(self) -> Any:
        """The next message, None once QEMU closed the connection (as it does after quit)."""
        try:
            line = self.file.readline()
        except ConnectionResetError:
            return None
        return None if not line else normalized(json.loads(line))

    def exchange(self, line: str) -> dict[str, Any]:
        """Send one line; collect messages up to its reply (after ``quit``: up to EOF)."""
        self.sock.sendall(line.encode() + b"\n")
        command = executed(line)
        received = []
        while True:
            message = self._message()
            if message is None:
                break
            received.append(message)
            if ("return" in message or "error" in message) and command != "quit":
                break
        if not received and command != "quit":
            raise RuntimeError(f"QEMU closed the connection after {line!r}")
        return {"send": line, "execute": command, "receive": received}

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def record_session(qemu: str, session: dict[str, Any]) -> dict[str, Any]:
    """Start the binary on the session's command line and play its requests on a fresh monitor.

    ``running_qemu`` connects (and negotiates) once to know the monitor is up; the recording
    then uses a new connection, which QEMU serves as a new session from its greeting on.
    """
    args = ["-accel", "tcg", *session["args"]]
    with running_qemu(qemu, args) as probe:
        path = probe.sock.getpeername()
        probe.close()
        client = Transcript(path)
        try:
            lines = [request_line(request) for request in session["requests"]]
            if session.get("negotiate", True):
                lines.insert(0, request_line({"execute": "qmp_capabilities"}))
            exchanges = [client.exchange(line) for line in lines]
        finally:
            client.close()
    return {"name": session["name"], "args": args, "greeting": client.greeting,
            "exchanges": exchanges}


def record_qmp_sessions(qemu: dict[str, Any], output: Path) -> None:
    sessions = json.loads(QMP_SESSIONS.read_text())["sessions"]
    recorded = [record_session(qemu["binary"], session) for session in sessions]
    write_json(output / RECORDED_QMP_SESSIONS, {
        "header": header(qemu, QMP_SESSIONS, (
            "qemu-system-x86_64 -S -no-user-config -nodefaults -display none "
            "-qmp unix:SOCKET,server=on,wait=off ARGS; each request sent as one line on a new "
            "connection, every message received until its reply kept; timestamps and "
            "thread ids set to 0")),
        "sessions": recorded,
    }, depth=4)
    count = sum(len(session["exchanges"]) for session in recorded)
    print(f"wrote {output / RECORDED_QMP_SESSIONS}: {len(recorded)} sessions, {count} exchanges")


#: The recordings, by the name ``--only`` takes.
STEPS: dict[str, Callable[[dict[str, Any], Path], None]] = {
    "command-lines": record_command_lines, "qmp-sessions": record_qmp_sessions,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("qemu", nargs="?", default="qemu-system-x86_64",
                        help="the reference binary (default: qemu-system-x86_64 on PATH)")
    parser.add_argument("--import-command-lines", metavar="SPEC", type=Path,
                        help="input preparation: take the §6.3 command lines of SPEC into "
                             f"{COMMAND_LINES.relative_to(REPO)}, then stop")
    parser.add_argument("--output", metavar="DIR", type=Path, default=DATA,
                        help="where to write the recordings (default: tests/data; the tests "
                             "use another place to check that a new recording is identical; "
                             "another release's binary records into tests/data/qemu-X.Y)")
    parser.add_argument("--only", choices=sorted(STEPS),
                        help="record only one of the two (default: both)")
    options = parser.parse_args(argv)
    if options.import_command_lines is not None:
        return import_command_lines(options.import_command_lines)
    qemu = binary_header(options.qemu)
    options.output.mkdir(parents=True, exist_ok=True)
    for name, step in STEPS.items():
        if options.only in (None, name):
            step(qemu, options.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
