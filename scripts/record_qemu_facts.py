#!/usr/bin/env python3
"""Record the facts of a QEMU binary's interface that the model does not compute.

    python scripts/record_qemu_facts.py BINARY PROFILE
    (e.g. /usr/bin/qemu-system-x86_64 7.2, build/reference/bin/qemu-system-x86_64 10.0)

Every output is plain data read from the binary itself (facts about QEMU's interface, not
QEMU's code), written to `qmpnuma/data/qemu-PROFILE-KIND.json` for the profile's
``facts_files``:

* ``facts``: device model names, HMP `help`/`info` texts, what `-version`, `-help`,
  `-machine help`, `-device help` and `-cpu help` print, and `-machine TYPE,help` per type;
* ``interface`` (gzip): the complete static QMP interface per accelerator, so that any
  client's question finds the binary's answer: `qom-list-types` with every type,
  `qom-list-properties` and `device-list-properties` for every type (abstract ones and machine
  types included), every CPU model's static and full expansion, `query-cpu-definitions`,
  `query-command-line-options`, the TPM/migration/SEV/SGX answers; the KVM answers are stored
  as what differs from the TCG ones;
* ``replies``: the CPU model expansions with properties that a capability probe asks for;
* ``cpu-objects`` (gzip): the first vCPU's QOM property list and values for every CPU model;
* ``cpu-qom-set``: how `qom-set` treats each vCPU property per CPU model.

None of these depend on NUMA or memory; those answers always come from the model.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "qmpnuma" / "data"

#: Device models whose property lists a management stack asks for while probing (the x86 ones
#: and a few from other targets, which QEMU answers with DeviceNotFound).
PROBED_DEVICES = (
    "virtio-blk-pci", "virtio-net-pci", "virtio-scsi-pci", "virtio-net-ccw", "virtio-scsi-ccw",
    "vfio-pci", "scsi-hd", "ide-hd", "PIIX4_PM", "usb-redir", "usb-storage", "kvm-pit", "VGA",
    "vmware-svga", "qxl", "virtio-gpu-pci", "virtio-gpu-device", "ICH9-LPC",
    "virtio-balloon-pci", "virtio-balloon-ccw", "virtio-balloon-device", "intel-iommu", "mch",
    "nvdimm", "pcie-root-port", "usb-host", "vhost-user-fs-device", "virtio-mem-pci",
    "virtio-iommu-pci", "pc-dimm",
)
#: QOM types whose property lists are probed.
PROBED_TYPES = (
    "memory-backend-file", "memory-backend-memfd", "memory-backend-ram", "max-x86_64-cpu",
    "none-machine", "pc-i440fx-7.2-machine", "pc-q35-7.2-machine",
)
#: Queries without arguments whose answer is a fixed fact of the binary (per accelerator).
PLAIN_QUERIES = (
    "qom-list-types", "query-cpu-definitions", "query-tpm-models", "query-tpm-types",
    "query-command-line-options", "query-migrate-capabilities", "query-sev-capabilities",
    "query-sgx-capabilities", "query-stats-schemas",
)
#: CPU models whose `qom-set` behaviour is recorded (the property kinds are the class's).
CPU_MODELS = ("qemu64", "max")
#: The CPU model whose vCPU object is recorded whole; every other model's is stored as what
#: differs from it (the property list is the same for all x86 models, the values are not).
BASE_CPU_MODEL = "qemu64"
#: A name no QEMU gives a type or CPU model: the binary's answer to it is the template of its
#: "not found" errors (the name is put back in by the one answering).
UNKNOWN_NAME = "qmpnuma-unknown-name"
#: The kinds of CPU model expansion QEMU distinguishes (``CpuModelExpansionType``).
EXPANSION_TYPES = ("static", "full", "base")
#: Printed-and-exit options whose output is recorded as it is (``-help`` and the help lists).
HELP_OPTIONS = (("-version",), ("-help",), ("-machine", "help"), ("-device", "help"),
                ("-cpu", "help"))


def data_file(profile: str, kind: str, suffix: str = ".json") -> Path:
    """Where the facts of ``kind`` recorded from ``profile``'s binary live."""
    return DATA / f"qemu-{profile}-{kind}{suffix}"


def device_names(qemu: str) -> list[str]:
    """Every device model `-device help` lists (the names `device_add` accepts)."""
    text = subprocess.run(
        [qemu, "-device", "help"], capture_output=True, text=True, check=True
    ).stdout
    return sorted(set(re.findall(r'^name "([^"]+)"', text, re.M)))


class Monitor:
    """A minimal synchronous QMP client for the recording session."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")
        self._read()
        self.call("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(self.file.readline())
            if "event" not in message:
                return message

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command; return the reply without its id (`return` or `error`)."""
        request: dict[str, Any] = {"execute": name}
        if arguments is not None:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        reply = self._read()
        reply.pop("id", None)
        return reply

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@contextmanager
def running_qemu(qemu: str, args: list[str]) -> Iterator[Monitor]:
    """Start the binary paused with a QMP socket; stop it when done."""
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "qmp.sock")
        proc = subprocess.Popen(
            [qemu, "-S", "-no-user-config", "-nodefaults", "-display", "none",
             "-qmp", f"unix:{sock},server=on,wait=off", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            monitor = None
            for _ in range(400):
                if proc.poll() is not None:
                    raise RuntimeError(f"{qemu} {args} failed with status {proc.returncode}")
                try:
                    monitor = Monitor(sock)
                    break
                except OSError:
                    time.sleep(0.05)
            if monitor is None:
                raise RuntimeError(f"{qemu} {args}: no QMP socket")
            try:
                yield monitor
            finally:
                monitor.close()
        finally:
            proc.kill()
            proc.wait()


def entry(name: str, arguments: dict[str, Any] | None, reply: dict[str, Any]) -> dict[str, Any]:
    """One recorded exchange: the command, its arguments, and `return` or `error`."""
    item: dict[str, Any] = {"execute": name}
    if arguments is not None:
        item["arguments"] = arguments
    item.update(reply)
    return item


def probe_replies(qemu: str, accel: str) -> list[dict[str, Any]]:
    """The CPU model expansions with properties that a capability probe asks for (on `-machine
    none` with ``accel``): the answers `interface_tables` does not hold, which depend on the
    properties asked for (the static expansion of ``max`` not migratable, then its full
    expansion, and the full expansion with ``hv-passthrough``)."""
    out: list[dict[str, Any]] = []
    with running_qemu(qemu, ["-machine", f"none,accel={accel}"]) as mon:
        args: dict[str, Any]
        models = ["max", "host"] if accel == "kvm" else ["max"]
        for model in models:
            for props in (None, {"migratable": False}):
                wanted: dict[str, Any] = {"name": model}
                if props is not None:
                    wanted["props"] = props
                args = {"type": "static", "model": wanted}
                reply = mon.call("query-cpu-model-expansion", args)
                if props is not None:
                    out.append(entry("query-cpu-model-expansion", args, reply))
                if "return" in reply:
                    # The static answer is expanded once more in full by the prober.
                    full = {"type": "full", "model": reply["return"]["model"]}
                    out.append(entry("query-cpu-model-expansion", full, mon.call(
                        "query-cpu-model-expansion", full)))
            args = {"type": "full", "model": {"name": model, "props": {
                "migratable": False, "hv-passthrough": True}}}
            out.append(entry("query-cpu-model-expansion", args, mon.call(
                "query-cpu-model-expansion", args)))
    return out


def _per_name(qemu: str, accel: str, command: str, names: list[str],
              argument: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``command`` asked for each name (as ``argument``) after `qom-list-types` has loaded
    every module, as a client asks. Some types make QEMU abort when instantiated: those are
    listed apart and the binary started again for the rest."""
    answers: dict[str, dict[str, Any]] = {}
    crashed: list[str] = []
    waiting = list(names)
    while waiting:
        with running_qemu(qemu, ["-machine", f"none,accel={accel}"]) as mon:
            mon.call("qom-list-types", {"abstract": True})
            while waiting:
                name = waiting.pop(0)
                try:
                    answers[name] = mon.call(command, {argument: name})
                except (OSError, ValueError):
                    crashed.append(name)
                    break
    return answers, crashed


#: The root of QOM's interface types (an interface's ancestry ends there, not at ``object``).
INTERFACE_ROOT = "interface"


def implementors(mon: Monitor, types: list[dict[str, Any]]) -> dict[str, list[str]]:
    """For each interface type: the types `qom-list-types` lists as implementing it (a type
    implements its ancestors too, which the listed parents tell; interfaces they do not)."""
    parents = {entry["name"]: entry.get("parent") for entry in types}
    out: dict[str, list[str]] = {}
    for name in parents:
        cursor: str | None = name
        while cursor is not None and cursor != INTERFACE_ROOT:
            cursor = parents.get(cursor)
        if cursor is not None:
            answer = mon.call("qom-list-types", {"implements": name, "abstract": True})
            out[name] = [entry["name"] for entry in answer["return"]]
    return out


def interface_tables(qemu: str, accel: str) -> dict[str, Any]:
    """Every static fact of the binary's QMP interface on `-machine none` with ``accel``.

    * ``plain``: the answer of each of `PLAIN_QUERIES` (``qom-list-types`` asked with
      ``abstract: true``, so the list holds every type and each one's parent);
    * ``qom-list-properties`` and ``device-list-properties``: the answer for every type that
      list names, the abstract ones and machine types included, and for `UNKNOWN_NAME`;
      ``crashed``: the types whose question made QEMU abort;
    * ``implementors``: for each interface type, the types implementing it;
    * ``query-cpu-model-expansion``: the static and full expansion of every CPU model
      ``query-cpu-definitions`` lists, and of `UNKNOWN_NAME`.
    """
    tables: dict[str, Any] = {"plain": {}, "crashed": {}}
    with running_qemu(qemu, ["-machine", f"none,accel={accel}"]) as mon:
        for name in PLAIN_QUERIES:
            args = {"abstract": True} if name == "qom-list-types" else None
            tables["plain"][name] = mon.call(name, args)
        expansions: dict[str, dict[str, Any]] = {kind: {} for kind in EXPANSION_TYPES}
        definitions = tables["plain"]["query-cpu-definitions"].get("return", [])
        for model in [item["name"] for item in definitions] + [UNKNOWN_NAME]:
            for kind in EXPANSION_TYPES:
                expansions[kind][model] = mon.call(
                    "query-cpu-model-expansion", {"type": kind, "model": {"name": model}})
        tables["query-cpu-model-expansion"] = expansions
        tables["implementors"] = implementors(mon, tables["plain"]["qom-list-types"]["return"])
    types = [item["name"] for item in tables["plain"]["qom-list-types"]["return"]]
    for command in ("qom-list-properties", "device-list-properties"):
        answers, crashed = _per_name(qemu, accel, command, [*types, UNKNOWN_NAME], "typename")
        tables[command] = answers
        tables["crashed"][command] = crashed
    return tables


def table_rows(tables: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The tables as rows: (table, name) -> the answer's JSON text. A nested table (the
    expansions by kind) is named ``outer/inner``; ``crashed`` holds each command's list."""
    rows: dict[tuple[str, str], str] = {}
    for table, entries in tables.items():
        for name, value in entries.items():
            if table == "query-cpu-model-expansion":
                for model, reply in value.items():
                    rows[(f"{table}/{name}", model)] = json.dumps(reply, separators=(",", ":"))
            else:
                rows[(table, name)] = json.dumps(value, separators=(",", ":"))
    return rows


def interface_text(tables: dict[str, dict[str, Any]]) -> str:
    """The interface file: one line per answer, ``ACCEL<TAB>TABLE<TAB>NAME<TAB>JSON`` (no JSON
    string holds a raw tab or newline), loaded without parsing the answers themselves. The
    first accelerator's rows are complete; another's hold only the answers that differ."""
    lines: list[str] = []
    base: dict[tuple[str, str], str] | None = None
    for accel, accel_tables in tables.items():
        rows = table_rows(accel_tables)
        for (table, name), text in rows.items():
            if base is None or base.get((table, name)) != text:
                lines.append(f"{accel}\t{table}\t{name}\t{text}")
        base = base or rows
    return "\n".join(lines) + "\n"


#: Topologies whose vCPU may differ from the default (one CPU), by the name qmpnuma looks them
#: up with: several CPUs (a model without the APIC feature then gets a local APIC, `lapic`), a
#: package of several logical CPUs (QEMU 10.0 sets ``ht``, and ``cmp_legacy`` on AMD models)
#: and a package of several dies (CPUID level 0x1F).
CPU_PACKAGE_VARIANTS = {
    "multi-cpu": "2,sockets=2,cores=1,threads=1",
    "multi-cpu-package": "2,sockets=1,cores=2,threads=1",
    "multi-die": "2,sockets=1,dies=2,cores=1,threads=1",
}


def cpu_object(qemu: str, accel: str, model: str, smp: str = "1") -> dict[str, Any]:
    """The first vCPU's QOM properties and the value (or error) of each, for ``model``."""
    args = ["-machine", "pc", "-accel", accel, "-cpu", model, "-smp", smp]
    with running_qemu(qemu, args) as mon:
        path = "/machine/unattached/device[0]"
        listing = mon.call("qom-list", {"path": path})["return"]
        values: dict[str, Any] = {}
        for prop in listing:
            if prop["type"].startswith(("child<", "link<")):
                continue
            values[prop["name"]] = mon.call("qom-get", {"path": path, "property": prop["name"]})
        return {"qom-list": listing, "qom-get": values}


def cpu_objects(qemu: str, models: list[str]) -> dict[str, Any]:
    """The first vCPU's QOM view for every CPU model (TCG, qmpnuma runs no guest): `cpu_object`
    of `BASE_CPU_MODEL` whole, of each other model its ``qom-get`` answers that differ (and its
    ``qom-list`` if it differs). ``variants``: for each of `CPU_PACKAGE_VARIANTS`, the answers
    (and the ``qom-list`` if it changes) with that topology. A model QEMU cannot start with
    TCG is left out."""
    base = cpu_object(qemu, "tcg", BASE_CPU_MODEL)
    out: dict[str, Any] = {"base": BASE_CPU_MODEL, "models": {}}
    for model in models:
        try:
            found = base if model == BASE_CPU_MODEL else cpu_object(qemu, "tcg", model)
            variants = {name: cpu_object(qemu, "tcg", model, smp)
                        for name, smp in CPU_PACKAGE_VARIANTS.items()}
        except RuntimeError:
            continue
        entry: dict[str, Any] = {"qom-get": {
            name: reply for name, reply in found["qom-get"].items()
            if model == BASE_CPU_MODEL or base["qom-get"].get(name) != reply
        }}
        if model == BASE_CPU_MODEL or found["qom-list"] != base["qom-list"]:
            entry["qom-list"] = found["qom-list"]
        entry["variants"] = {}
        for variant, other in variants.items():
            changed: dict[str, Any] = {"qom-get": {
                name: reply for name, reply in other["qom-get"].items()
                if found["qom-get"].get(name) != reply
            }}
            if other["qom-list"] != found["qom-list"]:
                changed["qom-list"] = other["qom-list"]
            entry["variants"][variant] = changed
        out["models"][model] = entry
    return out


def cpu_set_kinds(qemu: str, accel: str, model: str) -> dict[str, dict[str, str]]:
    """How `qom-set` treats each property of a realized vCPU of ``model``.

    Each property is set to the value it already has (0 where it cannot be read), so nothing
    changes; the answer classifies it under ``kind``: ``writable`` (a plain object property,
    set at any time), ``realized`` (a qdev property, refused once the device is realized) or
    ``readonly``. ``reported`` maps an alias (``sse4_2``) to the property QEMU's refusal names
    (``sse4.2``).
    """
    kinds: dict[str, str] = {}
    reported: dict[str, str] = {}
    with running_qemu(qemu, ["-machine", "pc", "-accel", accel, "-cpu", model]) as mon:
        path = "/machine/unattached/device[0]"
        for prop in mon.call("qom-list", {"path": path})["return"]:
            name = prop["name"]
            if prop["type"].startswith(("child<", "link<")) or name == "realized":
                continue
            current = mon.call("qom-get", {"path": path, "property": name})
            value = current.get("return", 0)
            reply = mon.call("qom-set", {"path": path, "property": name, "value": value})
            desc = reply.get("error", {}).get("desc", "")
            if "return" in reply:
                kinds[name] = "writable"
            elif "after it was realized" in desc:
                kinds[name] = "realized"
                target = desc.split("'")[1]
                if target != name:
                    reported[name] = target
            elif "is not writable" in desc:
                kinds[name] = "readonly"
            else:
                raise RuntimeError(f"qom-set {model}.{name}: unexpected answer {reply}")
    return {"kind": kinds, "reported": reported}


def insertion_order(value: Any) -> Any:
    """Reorder every JSON object so that qmpnuma's writer prints it as QEMU printed it.

    QEMU prints a dictionary bucket by bucket, the most recently inserted member of a bucket
    first; the writer takes a Python dict's order as the insertion order. Reversing the printed
    order gives an insertion order that reproduces it.
    """
    if isinstance(value, dict):
        return {key: insertion_order(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [insertion_order(item) for item in value]
    return value


def hmp_help_texts(qemu: str) -> dict[str, str]:
    """What HMP's `help` and `info` (with no topic) print: the lists of commands QEMU knows."""
    with running_qemu(qemu, ["-machine", "none"]) as monitor:
        return {
            line: monitor.call("human-monitor-command", {"command-line": line})["return"]
            for line in ("help", "info")
        }


def command_line_texts(qemu: str) -> dict[str, str]:
    """What the printing options print, by option line (`HELP_OPTIONS`: `-version`, `-help`,
    `-machine help`, `-device help`, `-cpu help`; QEMU exits 0 after each). The usage line of
    `-help` names the program by the basename of argv[0]; it is recorded as the binary is
    installed, `qemu-system-x86_64`, and the emulator puts its own program name there."""
    texts: dict[str, str] = {}
    for option in HELP_OPTIONS:
        done = subprocess.run([qemu, *option], capture_output=True, text=True, check=True)
        texts[" ".join(option)] = done.stdout
    return texts


def machine_property_help(qemu: str) -> dict[str, Any]:
    """What `-machine TYPE,help` prints for every machine type: a header naming the type's
    class, then the property list, which many types share. Stored once per distinct list:
    `bodies` (the lists) and `types` (machine type -> index of its list)."""
    listing = subprocess.run([qemu, "-machine", "help"], capture_output=True, text=True,
                             check=True).stdout.splitlines()[1:]
    names = sorted({line.split()[0] for line in listing if line.strip()})
    bodies: list[str] = []
    types: dict[str, int] = {}
    for name in names:
        text = subprocess.run([qemu, "-machine", f"{name},help"], capture_output=True,
                              text=True, check=True).stdout
        header, _, body = text.partition("\n")
        if header != f"{name}-machine options:":
            continue  # an alias: its header names the type it stands for
        if body not in bodies:
            bodies.append(body)
        types[name] = bodies.index(body)
    return {"bodies": bodies, "types": types}


def kvm_usable() -> bool:
    """Whether this host lets QEMU use KVM (the kvm answers are only recorded then)."""
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def write_text(path: Path, text: str) -> None:
    """Write ``text``, gzip-compressed when ``path`` ends in ``.gz`` (with a fixed time stamp
    so that a rerun on the same binary gives the same bytes)."""
    if path.suffix == ".gz":
        with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                   mtime=0, compresslevel=9) as stream:
            stream.write(text.encode())
    else:
        path.write_text(text)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def write_json(path: Path, value: Any, *, compact: bool = False) -> None:
    """Write ``value`` as JSON (``compact``: without spaces, as one line)."""
    write_text(path, (json.dumps(value, separators=(",", ":")) if compact
                      else json.dumps(value, indent=1, sort_keys=True)) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", help="the qemu-system-x86_64 to record")
    parser.add_argument("profile", help="the profile whose facts these are (e.g. 7.2)")
    args = parser.parse_args(argv)
    qemu, profile = args.binary, args.profile
    facts: dict[str, object] = {
        "device-names": device_names(qemu),
        "hmp-help": hmp_help_texts(qemu),
        "command-line-texts": command_line_texts(qemu),
        "machine-property-help": machine_property_help(qemu),
    }
    write_json(data_file(profile, "facts"), facts)
    accels = ["tcg", "kvm"] if kvm_usable() else ["tcg"]
    tables = {accel: insertion_order(interface_tables(qemu, accel)) for accel in accels}
    write_text(data_file(profile, "interface", ".tsv.gz"), interface_text(tables))
    replies: dict[str, Any] = {"probe": {}}
    for accel in accels:
        replies["probe"][accel] = probe_replies(qemu, accel)
    write_json(data_file(profile, "replies"), insertion_order(replies), compact=True)
    definitions = tables["tcg"]["plain"]["query-cpu-definitions"]["return"]
    models = [item["name"] for item in definitions]
    objects = insertion_order(cpu_objects(qemu, models))
    write_json(data_file(profile, "cpu-objects", ".json.gz"), objects, compact=True)
    kinds = {model: cpu_set_kinds(qemu, "tcg", model) for model in CPU_MODELS}
    write_json(data_file(profile, "cpu-qom-set"), kinds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
