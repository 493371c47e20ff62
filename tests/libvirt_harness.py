"""Drive Debian 12's libvirt 9.0 (embedded QEMU driver, no daemon) against an emulator binary.

Shared by `tests/test_libvirt_e2e.py` and `bench/libvirt_bench.py`. Everything goes through
`virsh -c 'qemu:///embed?root=DIR'`: the embedded driver runs inside the virsh process, so a
scenario needs no libvirtd, only the `libvirt-qemu` system user that Debian's driver looks up.
The same scenario runs against real QEMU 7.2 and against qmpnuma; `normalize_*` strip what
legitimately differs between two runs (thread ids, host CPU numbers, times, paths, pids).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REAL_QEMU = "/usr/bin/qemu-system-x86_64"
QEMU_CONF = """\
stdio_handler = "file"
security_driver = "none"
namespaces = []
cgroup_controllers = []
user = "root"
group = "root"
"""
MONITOR_QUERIES = ("query-memdev", "query-cpus-fast", "x-query-numa", "query-memory-devices")
DIMM_XML = """\
<memory model='dimm'>
  <target><size unit='MiB'>128</size><node>1</node></target>
</memory>
"""


def libvirt_missing() -> str | None:
    """Why libvirt cannot run here (None when it can)."""
    if shutil.which("virsh") is None:
        return "virsh not installed (Debian packages libvirt-clients, libvirt-daemon-driver-qemu)"
    if not Path("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"
                ).exists():
        return "libvirt's QEMU driver not installed (libvirt-daemon-driver-qemu)"
    try:
        import pwd

        pwd.getpwnam("libvirt-qemu")
    except KeyError:
        return "system user libvirt-qemu missing (useradd --system libvirt-qemu)"
    if os.geteuid() != 0:
        return "the embedded driver setup used here runs as root"
    return None


@dataclass
class Domain:
    """A NUMA guest: cells of equal size, an optional `<memoryBacking><source type=…/>`."""

    name: str
    cells: int
    cell_mib: int = 128
    vcpus_per_cell: int = 2
    source: str | None = None  # None (memory-backend-ram), "memfd" or "file"
    uuid: str = "6c3c4d9e-0000-4000-8000-000000000001"

    def xml(self, emulator: str) -> str:
        """The domain XML libvirt is given."""
        vcpus = self.cells * self.vcpus_per_cell
        cells = "\n".join(
            f"      <cell id='{i}' cpus='{i * self.vcpus_per_cell}-"
            f"{(i + 1) * self.vcpus_per_cell - 1}' memory='{self.cell_mib}' unit='MiB'/>"
            for i in range(self.cells)
        )
        backing = (
            f"<memoryBacking><source type='{self.source}'/></memoryBacking>"
            if self.source else ""
        )
        return f"""\
<domain type='qemu'>
  <name>{self.name}</name>
  <uuid>{self.uuid}</uuid>
  <maxMemory slots='4' unit='MiB'>{self.cells * self.cell_mib + 1024}</maxMemory>
  <memory unit='MiB'>{self.cells * self.cell_mib}</memory>
  {backing}
  <vcpu placement='static'>{vcpus}</vcpu>
  <numatune>
    <memnode cellid='0' mode='strict' nodeset='0'/>
  </numatune>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <cpu>
    <topology sockets='{self.cells}' dies='1' cores='{self.vcpus_per_cell}' threads='1'/>
    <numa>
{cells}
    </numa>
  </cpu>
  <devices>
    <emulator>{emulator}</emulator>
    <memballoon model='none'/>
  </devices>
</domain>
"""


@dataclass
class Embed:
    """One embedded-driver root with its config and monitor-traffic log."""

    root: Path
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        (self.root / "etc").mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "qemu.conf").write_text(QEMU_CONF)
        self.log = self.root.parent / f"{self.root.name}-libvirt.log"

    @property
    def uri(self) -> str:
        return f"qemu:///embed?root={self.root}"

    def virsh(self, *commands: str, check: bool = True,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run one virsh process with ``commands`` joined by `;` (one embedded driver)."""
        env = dict(os.environ)
        env["LIBVIRT_LOG_FILTERS"] = "1:qemu.qemu_monitor 3:*"
        env["LIBVIRT_LOG_OUTPUTS"] = f"1:file:{self.log}"
        result = subprocess.run(
            ["virsh", "-q", "-c", self.uri, "; ".join(commands)],
            capture_output=True, text=True, env=env, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"virsh {commands} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def monitor_sessions(self) -> list[list[dict[str, Any]]]:
        """libvirt's commands grouped by monitor connection, in order of their first command.

        A connection starts with `qmp_capabilities`; the log names the monitor by address,
        which libvirt may reuse, so a new `qmp_capabilities` also starts a new session.
        """
        if not self.log.exists():
            return []
        sessions: list[list[dict[str, Any]]] = []
        current: dict[str, list[dict[str, Any]]] = {}
        pattern = re.compile(r"QEMU_MONITOR_SEND_MSG: mon=(0x[0-9a-f]+) msg=(\{.*\})\s*$")
        for line in self.log.read_text(errors="replace").splitlines():
            match = pattern.search(line)
            if not match:
                continue
            mon, item = match.group(1), json.loads(match.group(2))
            if item["execute"] == "qmp_capabilities" or mon not in current:
                current[mon] = []
                sessions.append(current[mon])
            current[mon].append(item)
        return sessions


def domcapabilities(embed: Embed, emulator: str) -> str:
    """`virsh domcapabilities` for TCG with ``emulator`` (runs libvirt's capability probe)."""
    return embed.virsh(
        f"domcapabilities --emulatorbin {emulator} --virttype qemu"
    ).stdout


def numa_memory_caps(domcaps_xml: str) -> dict[str, Any]:
    """What domain capabilities say about NUMA and memory (what must match real QEMU)."""
    root = ET.fromstring(domcaps_xml)
    backing = root.find("./memoryBacking")
    sources = sorted(v.text or "" for v in backing.iter("value")) if backing is not None else []
    devices = root.find("./devices")
    return {
        "machine": root.findtext("machine"),
        "vcpu-max": root.find("vcpu").get("max") if root.find("vcpu") is not None else None,  # type: ignore[union-attr]
        "memoryBacking": (backing.get("supported") if backing is not None else None, sources),
        "devices": sorted(child.tag for child in devices) if devices is not None else [],
        "cpu-modes": [
            (mode.get("name"), mode.get("supported")) for mode in root.iterfind("./cpu/mode")
        ],
    }


def cached_caps(embed: Embed) -> str:
    """libvirt's cached QEMU capabilities XML of the probed emulator."""
    files = sorted((embed.root / "cache" / "qemu" / "capabilities").glob("*.xml"))
    return files[0].read_text() if files else ""


def machine_caps(caps_xml: str) -> dict[str, Any]:
    """Machine types (with maxCpus, NUMA memory, RAM id) and the memory/NUMA flags."""
    root = ET.fromstring(caps_xml)
    flags = sorted(
        flag.get("name", "") for flag in root.iterfind("flag")
        if re.search(r"numa|mem|dimm|hugepage|prealloc|nvdimm", flag.get("name", ""))
    )
    machines = sorted(
        tuple(sorted(m.attrib.items())) for m in root.iterfind("machine")
        if m.get("type") == "tcg"
    )
    return {"flags": flags, "machines": machines}


def _normalize_dominfo(text: str) -> dict[str, str]:
    info = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("Id", "CPU time", "Messages"):
            continue
        info[key.strip()] = value.strip()
    return info


def _normalize_vcpuinfo(text: str) -> list[dict[str, str]]:
    vcpus: list[dict[str, str]] = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "VCPU":
            vcpus.append({})
        if not vcpus or key in ("CPU", "CPU time") or key.startswith("CPU time"):
            continue
        vcpus[-1][key] = value
    return vcpus


_VARYING_STATS = re.compile(
    r"^(cpu\.(time|user|system)|vcpu\.\d+\.(time|wait|delay)|state\.reason|"
    r"cpu\.cache\..*|cpu\.haltpoll\..*|perf\..*|balloon\.rss)="
)


def _normalize_domstats(text: str) -> list[str]:
    return [
        line.strip() for line in text.splitlines()
        if line.strip() and not _VARYING_STATS.match(line.strip())
        and not line.startswith("Domain:")
    ]


def _drop_thread_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_thread_ids(v) for k, v in value.items() if k != "thread-id"}
    if isinstance(value, list):
        return [_drop_thread_ids(item) for item in value]
    return value


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0): look at its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _sections(stdout: str, labels: Sequence[str]) -> dict[str, str]:
    """Split a batch's output at the `echo @@LABEL` markers placed before each step.

    virsh does not always end an `echo` with a newline, so markers are found in step order.
    """
    positions: list[tuple[str, int, int]] = []
    cursor = 0
    for label in labels:
        start = stdout.find(f"@@{label}", cursor)
        if start < 0:
            break
        cursor = start + len(label) + 2
        positions.append((label, start, cursor))
    out: dict[str, str] = {}
    for index, (label, _, body) in enumerate(positions):
        end = positions[index + 1][1] if index + 1 < len(positions) else len(stdout)
        out[label] = stdout[body:end]
    return out


def _qmp(domain: str, command: str) -> str:
    return f"qemu-monitor-command {domain} '{json.dumps({'execute': command})}'"


def _reply(text: str) -> Any:
    """A `qemu-monitor-command` answer, parsed, without its id and thread ids."""
    if not text.strip():
        return None
    reply = json.loads(text)
    reply.pop("id", None)
    return _drop_thread_ids(reply)


def _batch(steps: Sequence[tuple[str, str]]) -> list[str]:
    """virsh commands with an `echo @@LABEL` marker before each step."""
    return [part for label, command in steps for part in (f"echo @@{label}", command)]


def run_domain(embed: Embed, emulator: str, domain: Domain, *,
               hotplug: bool = True, workdir: Path) -> dict[str, Any]:
    """Define, start, query, (hot-plug), suspend/resume, destroy and undefine ``domain``.

    All steps run in one virsh process (one embedded driver, so no re-attach races), each
    output preceded by a marker. Returns the normalized answers of every step, for comparison
    between emulators, plus whether the emulator process was left running.
    """
    xml_path = workdir / f"{domain.name}.xml"
    xml_path.write_text(domain.xml(emulator))
    dimm_path = workdir / "dimm.xml"
    dimm_path.write_text(DIMM_XML)
    name = domain.name
    steps: list[tuple[str, str]] = [
        ("define", f"define {xml_path}"), ("start", f"start {name}"),
        ("dominfo", f"dominfo {name}"), ("vcpuinfo", f"vcpuinfo {name}"),
        ("domstats", f"domstats {name}"),
    ]
    steps += [(command, _qmp(name, command)) for command in MONITOR_QUERIES]
    steps += [
        ("suspend", f"suspend {name}"), ("suspended", f"domstate {name}"),
        ("query-status-paused", _qmp(name, "query-status")),
        ("resume", f"resume {name}"), ("resumed", f"domstate {name}"),
    ]
    if hotplug:
        steps += [("attach", f"attach-device {name} {dimm_path} --live")]
        steps += [(f"after-attach {c}", _qmp(name, c))
                  for c in ("query-memory-devices", "query-memdev", "x-query-numa")]
        steps += [("detach", f"detach-device {name} {dimm_path} --live"),
                  ("after-detach", _qmp(name, "query-memory-devices"))]
    # A second virsh process re-attaches to the running guest (libvirt's reconnect sequence,
    # query-jobs included) before it destroys it; a monitor command first waits for that.
    later: list[tuple[str, str]] = [
        ("reattached", _qmp(name, "query-status")),
        ("destroy", f"destroy {name}"), ("undefine", f"undefine {name}"),
    ]
    result = embed.virsh(*_batch(steps), check=False)
    second = embed.virsh(*_batch(later), check=False)
    sections = _sections(result.stdout, [label for label, _ in steps])
    sections.update(_sections(second.stdout, [label for label, _ in later]))
    steps += later
    missing = [label for label, _ in steps if label not in sections]
    if missing:
        raise AssertionError(
            f"virsh stopped before {missing}:\n{result.stdout}\n{result.stderr}\n"
            f"{second.stdout}\n{second.stderr}"
        )
    answers: dict[str, Any] = {"stderr": sorted(set(
        line for line in (result.stderr + second.stderr).splitlines() if line.strip()
    ))}
    answers["dominfo"] = _normalize_dominfo(sections["dominfo"])
    answers["vcpuinfo"] = _normalize_vcpuinfo(sections["vcpuinfo"])
    answers["domstats"] = _normalize_domstats(sections["domstats"])
    for label, command in steps:
        if command.startswith("qemu-monitor-command"):
            answers[label] = _reply(sections[label])
        elif label in ("suspended", "resumed", "attach", "detach", "destroy", "undefine"):
            answers[label] = sections[label].strip()
    answers["left-running"] = _emulators_left(embed)
    return answers


def _emulators_left(embed: Embed) -> list[int]:
    """Processes still running whose command line points into this embedded root."""
    marker = str(embed.root)
    left: list[int] = []
    for _ in range(50):
        left = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "virsh" not in cmdline and _alive(int(proc.name)):
                left.append(int(proc.name))
        if not left:
            break
        time.sleep(0.1)
    return left


def is_probe(session: Sequence[dict[str, Any]]) -> bool:
    """A capability-probe connection asks `query-version` (first pass) or
    `query-cpu-definitions` (second, TCG pass) right after negotiating."""
    return len(session) > 1 and session[1]["execute"] in ("query-version",
                                                           "query-cpu-definitions")


def monitor_stats(commands: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many of libvirt's commands each QMP command name accounts for."""
    counts: dict[str, int] = {}
    for item in commands:
        counts[item["execute"]] = counts.get(item["execute"], 0) + 1
    return counts


#: vCPU properties the model answers even on the recorded vCPU object.
MODEL_CPU_PROPERTIES = frozenset(
    {"socket-id", "die-id", "core-id", "thread-id", "apic-id", "hotplugged", "node-id", "type"}
)


def answer_source(item: dict[str, Any]) -> str:
    """Whether qmpnuma answers a QMP request from the model or from the recorded profile."""
    from qmpnuma.commands.recorded import RECORDED_COMMANDS

    name = item["execute"]
    args = item.get("arguments", {})
    if name in RECORDED_COMMANDS:
        return "recorded"
    path = str(args.get("path", ""))
    if name in ("qom-get", "qom-list") and path.startswith("/machine/unattached/device["):
        if name == "qom-get" and args.get("property") in MODEL_CPU_PROPERTIES:
            return "model"
        return "recorded"
    return "model"
