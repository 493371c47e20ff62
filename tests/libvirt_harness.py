"""Drive libvirt's embedded QEMU driver (no daemon) against an emulator binary.

Shared by `tests/test_libvirt_e2e.py` (Debian 12's libvirt 9.0), `tests/test_libvirt_11_3_e2e.py`
(libvirt 11.3 from a private prefix) and `bench/libvirt_bench.py`. Everything goes through
`virsh -c 'qemu:///embed?root=DIR'`: the embedded driver runs inside the virsh process, so a
scenario needs no libvirtd, only the `libvirt-qemu` system user that Debian's driver looks up.
The same scenario runs against a real QEMU and against qmpnuma with that QEMU's profile (given
to libvirt as a wrapper script that passes `--profile`); `normalize_*` strip what legitimately
differs between two runs (thread ids, host CPU numbers, times, paths, pids).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REAL_QEMU = "/usr/bin/qemu-system-x86_64"
#: qmpnuma's console script as QEMU (every argument is QEMU's, `--profile` first aside).
QMPNUMA = str(Path(sys.executable).with_name("qmpnuma-system-x86_64"))
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
#: The virtio-mem device `attach-device` hot-plugs beside the one a domain starts with.
VIRTIO_MEM_XML = """\
<memory model='virtio-mem'>
  <target><size unit='MiB'>256</size><node>0</node><block unit='KiB'>2048</block>
    <requested unit='MiB'>128</requested></target>
</memory>
"""


#: Where scripts/fetch_reference_binaries.sh puts the binaries beyond Debian 12's (as conftest).
REFERENCE_BIN = Path(__file__).resolve().parents[1] / "build" / "reference" / "bin"


def reference_binary(setting: str, name: str) -> str | None:
    """The executable the environment ``setting`` names, else the fetched wrapper ``name``
    (QMPNUMA_QEMU_10_0 / qemu-system-x86_64, QMPNUMA_VIRSH_11_3 / virsh); None if absent."""
    path = os.environ.get(setting) or str(REFERENCE_BIN / name)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def libvirt_missing(virsh: str = "virsh") -> str | None:
    """Why libvirt cannot run here (None when it can). Debian 12's ``virsh`` needs its QEMU
    driver package; another version's wrapper brings its own driver."""
    if shutil.which(virsh) is None:
        return f"{virsh} not installed (Debian packages libvirt-clients, " \
            "libvirt-daemon-driver-qemu; scripts/fetch_reference_binaries.sh for libvirt 11.3)"
    if virsh == "virsh" and not Path(
        "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so"
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
    #: A named CPU model (`<cpu mode='custom'><model>`), None for the hypervisor default.
    cpu_model: str | None = None
    #: A virtio-mem device of this many MiB on the last cell (`<memory model='virtio-mem'>`,
    #: half of it requested), None for none.
    virtio_mem_mib: int | None = None
    #: `<memoryBacking><hugepages/>`: the guest's RAM on the host's default huge pages.
    hugepages: bool = False
    #: `<hugepages><page size=…/>`: huge pages of this size (KiB) instead of the default.
    hugepage_kib: int | None = None

    def xml(self, emulator: str) -> str:
        """The domain XML libvirt is given."""
        vcpus = self.cells * self.vcpus_per_cell
        cells = "\n".join(
            f"      <cell id='{i}' cpus='{i * self.vcpus_per_cell}-"
            f"{(i + 1) * self.vcpus_per_cell - 1}' memory='{self.cell_mib}' unit='MiB'/>"
            for i in range(self.cells)
        )
        backing = "".join((
            "" if not self.hugepages
            else "<hugepages/>" if self.hugepage_kib is None
            else f"<hugepages><page size='{self.hugepage_kib}' unit='KiB'/></hugepages>",
            f"<source type='{self.source}'/>" if self.source else "",
        ))
        backing = f"<memoryBacking>{backing}</memoryBacking>" if backing else ""
        virtio_mem = "" if self.virtio_mem_mib is None else f"""
    <memory model='virtio-mem'>
      <target>
        <size unit='MiB'>{self.virtio_mem_mib}</size>
        <node>{self.cells - 1}</node>
        <block unit='KiB'>2048</block>
        <requested unit='MiB'>{self.virtio_mem_mib // 2}</requested>
      </target>
    </memory>"""
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
  <cpu{" mode='custom' match='exact'" if self.cpu_model else ""}>
    {f"<model fallback='forbid'>{self.cpu_model}</model>" if self.cpu_model else ""}
    <topology sockets='{self.cells}' dies='1' cores='{self.vcpus_per_cell}' threads='1'/>
    <numa>
{cells}
    </numa>
  </cpu>
  <devices>
    <emulator>{emulator}</emulator>
    <memballoon model='none'/>{virtio_mem}
  </devices>
</domain>
"""


@dataclass
class Embed:
    """One embedded-driver root with its config and monitor-traffic log, driven by one
    ``virsh`` (Debian 12's libvirt 9.0 by default, or another version's wrapper)."""

    root: Path
    virsh_binary: str = "virsh"
    #: Lines added to the driver's qemu.conf (e.g. `hugetlbfs_mount`).
    conf_extra: str = ""
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        (self.root / "etc").mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "qemu.conf").write_text(QEMU_CONF + self.conf_extra)
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
            [self.virsh_binary, "-q", "-c", self.uri, "; ".join(commands)],
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


def profile_emulator(folder: Path, profile: str, *, environment: bool = False) -> str:
    """A wrapper script that runs qmpnuma with ``profile``: what libvirt is given as the
    emulator (`<emulator>`, `--emulatorbin`) for that profile's QEMU. The profile goes as
    `--profile`, or with ``environment`` as `QMPNUMA_PROFILE` (how a launcher that cannot add
    arguments chooses it; libvirt starts the emulator with an environment of its own, so the
    wrapper sets it)."""
    path = folder / f"qmpnuma-{profile}" / "qmpnuma-system-x86_64"
    path.parent.mkdir(parents=True, exist_ok=True)
    command = (f'QMPNUMA_PROFILE={profile} exec {QMPNUMA} "$@"' if environment
               else f'exec {QMPNUMA} --profile={profile} "$@"')
    path.write_text(f"#!/bin/sh\n{command}\n")
    path.chmod(0o755)
    return str(path)


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
        ("domstats", f"domstats {name}"), ("cpu", f"dumpxml {name} --xpath //cpu"),
    ]
    steps += [(command, _qmp(name, command)) for command in MONITOR_QUERIES]
    steps += [
        ("suspend", f"suspend {name}"), ("suspended", f"domstate {name}"),
        ("query-status-paused", _qmp(name, "query-status")),
        ("resume", f"resume {name}"), ("resumed", f"domstate {name}"),
    ]
    if domain.virtio_mem_mib is not None:
        # libvirt sets requested-size with qom-set and reads the device back; no guest plugs
        # anything, so `size` (libvirt's <current>) stays 0. Then it hot-plugs a second one
        # (object-add, device_add on the PCI bus with an address it chose).
        virtio_mem_path = workdir / "virtio-mem.xml"
        virtio_mem_path.write_text(VIRTIO_MEM_XML)
        steps += [
            ("update-memory-device", f"update-memory-device {name} --live "
                                     f"--requested-size {domain.virtio_mem_mib // 4}MiB"),
            ("after-update query-memory-devices", _qmp(name, "query-memory-devices")),
            ("virtio-mem xml", f"dumpxml {name} --xpath \"//memory[@model='virtio-mem']\""),
            ("attach virtio-mem", f"attach-device {name} {virtio_mem_path} --live"),
            ("after-attach-virtio-mem query-memory-devices",
             _qmp(name, "query-memory-devices")),
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
    # The live <cpu> element: libvirt rewrites it from the vCPU's QOM properties.
    answers["cpu"] = sections["cpu"].strip()
    for label, command in steps:
        if command.startswith("qemu-monitor-command"):
            answers[label] = _reply(sections[label])
        elif label in ("suspended", "resumed", "attach", "detach", "destroy", "undefine",
                       "update-memory-device", "virtio-mem xml", "attach virtio-mem"):
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


#: The domains of an end-to-end scenario, each with whether a DIMM is hot-plugged into it.
DOMAINS = (
    # 2 cells of RAM backends, DIMM slots, numatune strict on cell 0; hot-plug a DIMM on node 1.
    (Domain("numa2", 2), True),
    # 4 cells, memfd and file backends from <memoryBacking><source type=…/>; the file one with
    # a named CPU model, whose vCPU properties libvirt reads back into the live <cpu>.
    (Domain("numa4memfd", 4, vcpus_per_cell=1, source="memfd"), False),
    (Domain("numa4file", 4, vcpus_per_cell=1, source="file", cpu_model="Westmere"), False),
    # 2 cells and a 512 MiB virtio-mem device on cell 1, its requested size changed live.
    (Domain("numa2virtiomem", 2, virtio_mem_mib=512), False),
)


def all_cached_caps(embed: Embed) -> list[str]:
    """Every cached capabilities XML of the embedded root (one per probed emulator)."""
    folder = embed.root / "cache" / "qemu" / "capabilities"
    return [path.read_text() for path in sorted(folder.glob("*.xml"))]


def scenario(embed: Embed, emulator: str, tag: str, workdir: Path) -> dict[str, Any]:
    """The probe and every domain step of `DOMAINS` with ``emulator``; domains are named per
    emulator (``tag``). Returns the normalized answers, the probe's and the domains' monitor
    traffic, and the seconds the probe and the domain steps took."""
    before = len(embed.monitor_sessions())
    started = time.perf_counter()
    caps_xml = domcapabilities(embed, emulator)
    probe_seconds = time.perf_counter() - started
    probe = [c for s in embed.monitor_sessions()[before:] for c in s]
    out: dict[str, Any] = {"domcaps": numa_memory_caps(caps_xml), "probe": probe}
    cache = [
        text for text in all_cached_caps(embed) if f"<emulator>{emulator}</emulator>" in text
    ]
    out["machines"] = machine_caps(cache[0]) if cache else None
    before = len(embed.monitor_sessions())
    started = time.perf_counter()
    for domain, hotplug in DOMAINS:
        named = replace(domain, name=f"{domain.name}-{tag}")
        answers = run_domain(embed, emulator, named, hotplug=hotplug, workdir=workdir)
        # The domain name shows in dominfo only.
        answers["dominfo"].pop("Name", None)
        out[domain.name] = answers
    out["seconds"] = {"probe": probe_seconds, "domains": time.perf_counter() - started}
    # `dominfo` makes libvirt probe every qemu-system-* of the host once: leave those out.
    sessions = embed.monitor_sessions()[before:]
    out["startup"] = [c for s in sessions if not is_probe(s) for c in s]
    return out


# -- what must hold between qmpnuma's run and the real QEMU's (shared by the e2e tests) -------

#: Statistics commands libvirt's `domstats` asks because the schema offers them.
STATS_COMMANDS = ("query-stats", "query-stats-schemas")


def differing(ours: Any, theirs: Any) -> Any:
    """What differs between two answers (dict members, list items): (qmpnuma's, QEMU's)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return {key: differing(ours.get(key), theirs.get(key))
                for key in sorted(set(ours) | set(theirs)) if ours.get(key) != theirs.get(key)}
    if isinstance(ours, list) and isinstance(theirs, list):
        return ([item for item in ours if item not in theirs],
                [item for item in theirs if item not in ours])
    return (ours, theirs)


def check_probe(fake: dict[str, Any], real: dict[str, Any]) -> None:
    """The capability probe succeeds with the same NUMA and memory capabilities, the same
    machine types and flags, and the same commands in the same order."""
    assert fake["domcaps"] == real["domcaps"]
    assert fake["domcaps"]["memoryBacking"] == ("yes", ["anonymous", "file", "memfd"])
    assert fake["machines"] == real["machines"], differing(fake["machines"], real["machines"])
    assert {"numa.hmat", "pc-dimm", "memory-backend-memfd"} <= set(fake["machines"]["flags"])
    # The same commands in the same order (two passes: KVM-or-TCG, then TCG).
    assert [c["execute"] for c in fake["probe"]] == [c["execute"] for c in real["probe"]]


def check_domain(fake: dict[str, Any], real: dict[str, Any]) -> None:
    """Every step of a domain answers as with the real QEMU; nothing is left running."""
    assert fake["left-running"] == [] and real["left-running"] == []
    assert fake["stderr"] == real["stderr"]
    for key in sorted(set(fake) | set(real)):
        assert fake.get(key) == real.get(key), (key, fake.get(key), real.get(key))


def check_hotplugged_dimm(answers: dict[str, Any]) -> None:
    """The DIMM hot-plugged on node 1 shows in every later query."""
    dimms = answers["after-attach query-memory-devices"]["return"]
    assert [(d["type"], d["data"]["node"], d["data"]["size"]) for d in dimms] == [
        ("dimm", 1, 128 << 20)
    ]
    assert "node 1 plugged: 128 MB" in answers["after-attach x-query-numa"]["return"][
        "human-readable-text"]
    assert "memdimm0" in [b["id"] for b in answers["after-attach query-memdev"]["return"]]
    # A guest without an OS never acknowledges the unplug request: the DIMM stays.
    assert answers["after-detach"] == answers["after-attach query-memory-devices"]


def check_virtio_mem(answers: dict[str, Any]) -> None:
    """The virtio-mem device libvirt started shows with the requested size libvirt set live;
    without a guest nothing is plugged (libvirt's `<current>` 0)."""
    devices = answers["after-update query-memory-devices"]["return"]
    assert [(d["type"], d["data"]["node"], d["data"]["requested-size"], d["data"]["size"],
             d["data"]["max-size"]) for d in devices] == [
        ("virtio-mem", 1, 128 << 20, 0, 512 << 20)
    ]
    # the hot-plugged one follows it in the device-memory region
    devices = answers["after-attach-virtio-mem query-memory-devices"]["return"]
    assert [(d["data"]["node"], d["data"]["requested-size"], d["data"]["max-size"])
            for d in devices] == [(1, 128 << 20, 512 << 20), (0, 128 << 20, 256 << 20)]
    assert devices[1]["data"]["memaddr"] == devices[0]["data"]["memaddr"] + (512 << 20)
    assert answers["attach virtio-mem"] == "" and answers["stderr"] == []  # (virsh -q)
    assert answers["update-memory-device"] == ""
    xml = answers["virtio-mem xml"]
    assert '<requested unit="KiB">131072</requested>' in xml
    assert '<current unit="KiB">0</current>' in xml


def check_start_up_traffic(fake: dict[str, Any], real: dict[str, Any]) -> None:
    """libvirt sends qmpnuma the same start-up sequence it sends QEMU (`domstats`'
    `query-stats` and `query-stats-schemas` included), and NUMA/memory answers come from the
    model."""
    ours, theirs = monitor_stats(fake["startup"]), monitor_stats(real["startup"])
    assert ours == theirs, differing(ours, theirs)

    def stats_requests(startup: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in c.items() if k != "id"}
                for c in startup if c["execute"] in STATS_COMMANDS]

    assert stats_requests(real["startup"])
    assert stats_requests(fake["startup"]) == stats_requests(real["startup"])
    sources = {"model": 0, "recorded": 0}
    for item in fake["probe"] + fake["startup"]:
        sources[answer_source(item)] += 1
    numa_memory = {"query-memdev", "query-memory-devices", "x-query-numa", "query-cpus-fast",
                   "query-hotpluggable-cpus", "object-add", "device_add", "device_del",
                   "query-machines"}
    assert all(answer_source(c) == "model" for c in fake["startup"] if c["execute"] in numa_memory)
    assert sources["model"] > 0 and sources["recorded"] > 0
    print(f"\nlibvirt -> qmpnuma: {len(fake['probe'])} probe and {len(fake['startup'])} "
          f"domain commands; answers: {sources}")
    print("probe:", monitor_stats(fake["probe"]))
    print("domains:", monitor_stats(fake["startup"]))
