"""libvirt 9.0, unmodified, takes qmpnuma for QEMU 7.2: probe, NUMA guests, queries, hot-plug.

Everything runs through `virsh -c 'qemu:///embed?root=DIR'` (libvirt's embedded QEMU driver, no
daemon), first with the real `qemu-system-x86_64` 7.2, then with
`.venv/bin/qmpnuma-system-x86_64` on the 7.2 profile (whatever the default profile is: a wrapper
sets `QMPNUMA_PROFILE=7.2`, as a launcher that passes only QEMU's arguments would), in one
embedded root; the answers are compared (thread ids, host CPU numbers, times and RSS aside).
Under CI a missing libvirt is a failure (`.ci/run` installs it); elsewhere the test skips and
says what to install.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from libvirt_harness import (
    DOMAINS,
    Embed,
    cached_caps,
    check_domain,
    check_hotplugged_dimm,
    check_probe,
    check_start_up_traffic,
    check_virtio_mem,
    libvirt_missing,
    profile_emulator,
    scenario,
)

pytestmark = pytest.mark.qemu


def _libvirt() -> None:
    reason = libvirt_missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    _libvirt()
    from conftest import real_qemu

    qemu = real_qemu()
    workdir = tmp_path_factory.mktemp("libvirt")
    embed = Embed(workdir / "embed")
    assert cached_caps(embed) == ""
    # Real QEMU first: its `dominfo` makes libvirt probe every qemu-system-* of the host, so
    # that the qmpnuma run afterwards sends qmpnuma's traffic only.
    real = scenario(embed, qemu, "r", workdir)
    emulator = profile_emulator(workdir, "7.2", environment=True)
    return {"qemu": real, "qmpnuma": scenario(embed, emulator, "q", workdir)}


def test_probe_succeeds_with_the_same_numa_and_memory_capabilities(
    runs: dict[str, dict[str, Any]]
) -> None:
    check_probe(runs["qmpnuma"], runs["qemu"])


@pytest.mark.parametrize("domain", [d.name for d, _ in DOMAINS])
def test_domain_steps_answer_as_qemu(runs: dict[str, dict[str, Any]], domain: str) -> None:
    check_domain(runs["qmpnuma"][domain], runs["qemu"][domain])


def test_hotplugged_dimm_shows_in_every_later_query(runs: dict[str, dict[str, Any]]) -> None:
    check_hotplugged_dimm(runs["qmpnuma"]["numa2"])


def test_start_up_traffic_and_answer_sources(runs: dict[str, dict[str, Any]]) -> None:
    check_start_up_traffic(runs["qmpnuma"], runs["qemu"])


def test_virtio_mem_device_takes_its_requested_size(runs: dict[str, dict[str, Any]]) -> None:
    check_virtio_mem(runs["qmpnuma"]["numa2virtiomem"])
