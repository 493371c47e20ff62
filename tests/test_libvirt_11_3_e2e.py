"""libvirt 11.3, unmodified, takes qmpnuma for each QEMU it imitates: probe, NUMA guests,
queries, hot-plug, destroy.

libvirt 11.3 (Debian 13's, unpacked beside Debian 12's 9.0 by
`scripts/fetch_reference_binaries.sh`; the `virsh_11_3` fixture) drives, through its embedded
QEMU driver (`virsh -c 'qemu:///embed?root=DIR'`, no daemon), each pair of the `reference`
fixture: the real QEMU of a release, then qmpnuma with that release's profile (a wrapper script
that passes `--profile`), in one embedded root. Its probe asks questions 9.0 never asked (e.g.
`qom-list-properties` of a machine type), which the profile's complete recorded facts answer.
The answers of every step are compared (thread ids, host CPU numbers, times and RSS aside).
The destroy step runs in a second virsh process after a monitor command that waits for the
reconnect to the running emulator (a bare `destroy` races it and fails with both QEMUs).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from conftest import Reference
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


@pytest.fixture(scope="module")
def runs(reference: Reference, virsh_11_3: str,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    reason = libvirt_missing(virsh_11_3)
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp(f"libvirt-11.3-{reference.profile}")
    embed = Embed(workdir / "embed", virsh_11_3)
    assert cached_caps(embed) == ""
    # The real QEMU first: its `dominfo` makes libvirt probe every qemu-system-* of the host,
    # so that the qmpnuma run afterwards sends qmpnuma's traffic only.
    real = scenario(embed, reference.binary, "r", workdir)
    fake = scenario(embed, profile_emulator(workdir, reference.profile), "q", workdir)
    print(f"\nlibvirt 11.3, QEMU {reference.profile} seconds: real {real['seconds']}, "
          f"qmpnuma {fake['seconds']}")
    return {"qemu": real, "qmpnuma": fake}


def test_probe_succeeds_with_the_same_numa_and_memory_capabilities(
    runs: dict[str, dict[str, Any]]
) -> None:
    check_probe(runs["qmpnuma"], runs["qemu"])


def test_probe_asks_what_libvirt_9_never_asked(runs: dict[str, dict[str, Any]]) -> None:
    """11.3 lists a machine type's QOM properties while probing (9.0 did not): the answer is
    the binary's, recorded with every other type's."""
    asked = [c["arguments"]["typename"] for c in runs["qmpnuma"]["probe"]
             if c["execute"] == "qom-list-properties"]
    assert any(name.endswith("-machine") for name in asked), asked


@pytest.mark.parametrize("domain", [d.name for d, _ in DOMAINS])
def test_domain_steps_answer_as_qemu(runs: dict[str, dict[str, Any]], domain: str) -> None:
    check_domain(runs["qmpnuma"][domain], runs["qemu"][domain])


def test_hotplugged_dimm_shows_in_every_later_query(runs: dict[str, dict[str, Any]]) -> None:
    check_hotplugged_dimm(runs["qmpnuma"]["numa2"])


def test_start_up_traffic_and_answer_sources(runs: dict[str, dict[str, Any]]) -> None:
    check_start_up_traffic(runs["qmpnuma"], runs["qemu"])


def test_virtio_mem_device_takes_its_requested_size(runs: dict[str, dict[str, Any]]) -> None:
    check_virtio_mem(runs["qmpnuma"]["numa2virtiomem"])
