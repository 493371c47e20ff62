#!/usr/bin/env python3
"""Record facts of QEMU 7.2's interface that the model does not compute, from the real binary.

Two outputs, both plain facts read from `qemu-system-x86_64` itself (data about QEMU's interface,
not QEMU's code):

* `qmpnuma/data/qemu-7.2-facts.json`: names of device models and the like;
* `qmpnuma/data/qemu-7.2-replies.json`: QMP answers of the binary to the interface queries a
  management stack asks before and while starting a guest (QOM type lists, device and object
  property lists, CPU model definitions and expansions, command-line option lists, TPM and
  migration capability lists, the SEV/SGX errors) per accelerator, and the property list and
  values of the first vCPU object per CPU model. None of these depend on NUMA or memory; those
  answers always come from the model.

Run it again with the reference binary installed to refresh the files:
`python scripts/record_qemu_facts.py [/usr/bin/qemu-system-x86_64]`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "qmpnuma" / "data"
OUTPUT = DATA / "qemu-7.2-facts.json"
REPLIES = DATA / "qemu-7.2-replies.json"
#: How `qom-set` treats each vCPU property (see `cpu_set_kinds`).
CPU_SET_KINDS = DATA / "qemu-7.2-cpu-qom-set.json"

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
    "query-sgx-capabilities",
)
#: CPU models whose vCPU object is recorded (QOM property list and every readable value), with
#: TCG (qmpnuma runs no guest, so TCG's view is the one it can stand for everywhere).
CPU_MODELS = ("qemu64", "max")


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
    """The interface queries of a capability probe, on `-machine none` with ``accel``."""
    out: list[dict[str, Any]] = []
    with running_qemu(qemu, ["-machine", f"none,accel={accel}"]) as mon:
        for name in PLAIN_QUERIES:
            out.append(entry(name, None, mon.call(name)))
        args: dict[str, Any]
        for device in PROBED_DEVICES:
            args = {"typename": device}
            out.append(entry("device-list-properties", args, mon.call(
                "device-list-properties", args)))
        for type_name in PROBED_TYPES:
            args = {"typename": type_name}
            out.append(entry("qom-list-properties", args, mon.call("qom-list-properties", args)))
        models = ["max", "host"] if accel == "kvm" else ["max"]
        for model in models:
            for props in (None, {"migratable": False}):
                wanted: dict[str, Any] = {"name": model}
                if props is not None:
                    wanted["props"] = props
                args = {"type": "static", "model": wanted}
                reply = mon.call("query-cpu-model-expansion", args)
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


def cpu_object(qemu: str, accel: str, model: str) -> dict[str, Any]:
    """The first vCPU's QOM properties and the value (or error) of each, for ``model``."""
    with running_qemu(qemu, ["-machine", "pc", "-accel", accel, "-cpu", model]) as mon:
        path = "/machine/unattached/device[0]"
        listing = mon.call("qom-list", {"path": path})["return"]
        values: dict[str, Any] = {}
        for prop in listing:
            if prop["type"].startswith(("child<", "link<")):
                continue
            values[prop["name"]] = mon.call("qom-get", {"path": path, "property": prop["name"]})
        return {"qom-list": listing, "qom-get": values}


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
    """What `-version` and `-help` print (QEMU exits 0 after either). The usage line of `-help`
    names the program by the basename of argv[0]; it is recorded as the binary is installed,
    `qemu-system-x86_64`, and the emulator puts its own program name there."""
    texts: dict[str, str] = {}
    for option in ("-version", "-help"):
        done = subprocess.run([qemu, option], capture_output=True, text=True, check=True)
        texts[option] = done.stdout
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


def main() -> int:
    qemu = sys.argv[1] if len(sys.argv) > 1 else "qemu-system-x86_64"
    facts: dict[str, object] = {}
    if OUTPUT.exists():
        facts = json.loads(OUTPUT.read_text())
    facts["device-names"] = device_names(qemu)
    facts["hmp-help"] = hmp_help_texts(qemu)
    facts["command-line-texts"] = command_line_texts(qemu)
    facts["machine-property-help"] = machine_property_help(qemu)
    OUTPUT.write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUTPUT}")
    accels = ["tcg", "kvm"] if kvm_usable() else ["tcg"]
    replies: dict[str, Any] = {"probe": {}, "cpu-objects": {}}
    for accel in accels:
        replies["probe"][accel] = probe_replies(qemu, accel)
    replies["cpu-objects"]["tcg"] = {model: cpu_object(qemu, "tcg", model) for model in CPU_MODELS}
    REPLIES.write_text(json.dumps(insertion_order(replies), separators=(",", ":")) + "\n")
    print(f"wrote {REPLIES}")
    write_cpu_set_kinds(qemu)
    return 0


def write_cpu_set_kinds(qemu: str) -> None:
    """Record `cpu_set_kinds` of every recorded CPU model (TCG) into its own data file."""
    kinds = {model: cpu_set_kinds(qemu, "tcg", model) for model in CPU_MODELS}
    CPU_SET_KINDS.write_text(json.dumps(kinds, indent=1, sort_keys=True) + "\n")
    print(f"wrote {CPU_SET_KINDS}")


if __name__ == "__main__":
    raise SystemExit(main())
