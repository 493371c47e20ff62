"""Smoke tests of the second pair of reference binaries: QEMU 10.0.2 and libvirt 11.3's virsh.

They come from Debian's bookworm-backports suite, unpacked beside Debian 12's QEMU 7.2 and
libvirt 9.0 by scripts/fetch_reference_binaries.sh; the fixtures ``qemu_10_0`` and ``virsh_11_3``
(tests/conftest.py) find their wrappers. These tests only show that the wrappers run the right
builds with their own files; the 10.0 profile is measured against them elsewhere.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

QEMU_PACKAGE = "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1"
QEMU_VERSION = {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": QEMU_PACKAGE}
#: A two-node NUMA guest that 10.0 starts (it no longer splits -m over memory-less nodes).
NUMA_GUEST = (
    "-M", "pc", "-m", "1G", "-display", "none",
    "-object", "memory-backend-ram,id=m0,size=512M",
    "-object", "memory-backend-ram,id=m1,size=512M",
    "-numa", "node,memdev=m0", "-numa", "node,memdev=m1",
)


def run(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)


def test_qemu_version_line(qemu_10_0: str) -> None:
    result = run(qemu_10_0, "-version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"QEMU emulator version 10.0.2 ({QEMU_PACKAGE})"


def test_messages_carry_the_binary_name(qemu_10_0: str) -> None:
    """The wrapper keeps argv[0]: QEMU prefixes its errors with its basename."""
    result = run(qemu_10_0, "-foo")
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "qemu-system-x86_64: -foo: invalid option\n")


def test_qemu_loads_its_own_modules(qemu_10_0: str) -> None:
    """Without QEMU_MODULE_DIR the 10.0 binary finds 7.2's modules and refuses them."""
    result = run(qemu_10_0, "-device", "help")
    assert result.returncode == 0
    assert result.stderr == ""
    assert '"qxl-vga"' in result.stdout  # a device of the hw-display-qxl module


def test_qemu_answers_qmp(qemu_10_0: str) -> None:
    commands = ("qmp_capabilities", "query-version", "query-status", "quit")
    script = "".join(json.dumps({"execute": name}) + "\n" for name in commands)
    result = run(qemu_10_0, *NUMA_GUEST, "-qmp", "stdio", stdin=script)
    assert result.returncode == 0, result.stderr
    lines: list[dict[str, Any]] = [json.loads(line) for line in result.stdout.splitlines()]
    replies = [line for line in lines if "event" not in line]
    assert replies[0] == {"QMP": {"version": QEMU_VERSION, "capabilities": ["oob"]}}
    assert replies[1:] == [
        {"return": {}},
        {"return": QEMU_VERSION},
        {"return": {"status": "running", "running": True}},  # no "singlestep" since 9.0
        {"return": {}},
    ]


def test_virsh_version(virsh_11_3: str) -> None:
    result = run(virsh_11_3, "--version")
    assert (result.returncode, result.stdout) == (0, "11.3.0\n"), result.stderr
