"""`-msg timestamp=on,guest-name=on`: start-up messages decorated as QEMU decorates them
(libvirt always passes `-msg timestamp=on`, and reads these lines from the domain log)."""

from __future__ import annotations

import re

import pytest
from conftest import Reference
from qemu_runner import run_model, run_real

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z ", re.M)

CASES = [
    ["-msg", "timestamp=on", "-M", "pc", "-m", "1G", "-numa", "node,mem=2G"],
    ["-msg", "timestamp=on", "-M", "pc-i440fx-5.0", "-m", "1G", "-numa", "node,mem=1G"],
    ["-msg", "timestamp=on,guest-name=on", "-name", "guest=g1,debug-threads=on", "-M", "pc",
     "-m", "1G", "-numa", "node,mem=2G"],
    ["-msg", "guest-name=on", "-name", "g2", "-M", "pc", "-smp", "8,sockets=3"],
    ["-msg", "timestamp=on", "-msg", "timestamp=off", "-M", "pc", "-smp", "8,sockets=3"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_decorated_messages_like_qemu(reference: Reference, args: list[str]) -> None:
    real, ours = run_real(reference.binary, args), run_model(args, reference.profile)
    assert ours.status == real.status
    assert TIME.sub("TIME ", ours.stderr) == TIME.sub("TIME ", real.stderr)
    assert TIME.findall(ours.stderr) or not TIME.findall(real.stderr)
