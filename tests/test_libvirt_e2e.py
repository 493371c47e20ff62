"""libvirt 9.0, unmodified, takes qmpnuma for QEMU 7.2: probe, NUMA guests, queries, hot-plug.

Everything runs through `virsh -c 'qemu:///embed?root=DIR'` (libvirt's embedded QEMU driver, no
daemon), first with `.venv/bin/qmpnuma-system-x86_64` as the emulator, then with the real
`qemu-system-x86_64` 7.2, in one embedded root; the answers are compared (thread ids, host CPU
numbers, times and RSS aside). Under CI a missing libvirt is a failure (`.ci/run` installs it);
elsewhere the test skips and says what to install.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from libvirt_harness import (
    Domain,
    Embed,
    answer_source,
    cached_caps,
    domcapabilities,
    is_probe,
    libvirt_missing,
    machine_caps,
    monitor_stats,
    numa_memory_caps,
    run_domain,
)

pytestmark = pytest.mark.qemu
QMPNUMA = str(Path(sys.executable).with_name("qmpnuma-system-x86_64"))
STATS_COMMANDS = ("query-stats", "query-stats-schemas")
DOMAINS = (
    # 2 cells of RAM backends, DIMM slots, numatune strict on cell 0; hot-plug a DIMM on node 1.
    (Domain("numa2", 2), True),
    # 4 cells, memfd and file backends from <memoryBacking><source type=…/>.
    (Domain("numa4memfd", 4, vcpus_per_cell=1, source="memfd"), False),
    (Domain("numa4file", 4, vcpus_per_cell=1, source="file"), False),
)


def _libvirt() -> None:
    reason = libvirt_missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _scenario(embed: Embed, emulator: str, tag: str, workdir: Path) -> dict[str, Any]:
    """The probe and every domain step with ``emulator``; domains are named per emulator."""
    before = len(embed.monitor_sessions())
    caps_xml = domcapabilities(embed, emulator)
    probe = [c for s in embed.monitor_sessions()[before:] for c in s]
    out: dict[str, Any] = {"domcaps": numa_memory_caps(caps_xml), "probe": probe}
    cache = [
        text for text in _all_cached_caps(embed) if f"<emulator>{emulator}</emulator>" in text
    ]
    out["machines"] = machine_caps(cache[0]) if cache else None
    before = len(embed.monitor_sessions())
    for domain, hotplug in DOMAINS:
        named = Domain(f"{domain.name}-{tag}", domain.cells, domain.cell_mib,
                       domain.vcpus_per_cell, domain.source)
        answers = run_domain(embed, emulator, named, hotplug=hotplug, workdir=workdir)
        # The domain name shows in dominfo only.
        answers["dominfo"].pop("Name", None)
        out[domain.name] = answers
    # `dominfo` makes libvirt probe every qemu-system-* of the host once: leave those out.
    sessions = embed.monitor_sessions()[before:]
    out["startup"] = [c for s in sessions if not is_probe(s) for c in s]
    return out


def _all_cached_caps(embed: Embed) -> list[str]:
    folder = embed.root / "cache" / "qemu" / "capabilities"
    return [path.read_text() for path in sorted(folder.glob("*.xml"))]


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
    real = _scenario(embed, qemu, "r", workdir)
    return {"qemu": real, "qmpnuma": _scenario(embed, QMPNUMA, "q", workdir)}


def test_probe_succeeds_with_the_same_numa_and_memory_capabilities(
    runs: dict[str, dict[str, Any]]
) -> None:
    fake, real = runs["qmpnuma"], runs["qemu"]
    assert fake["domcaps"] == real["domcaps"]
    assert fake["domcaps"]["memoryBacking"] == ("yes", ["anonymous", "file", "memfd"])
    assert fake["machines"] == real["machines"]
    assert {"numa.hmat", "pc-dimm", "memory-backend-memfd"} <= set(fake["machines"]["flags"])
    # The same commands in the same order (two passes: KVM-or-TCG, then TCG).
    assert [c["execute"] for c in fake["probe"]] == [c["execute"] for c in real["probe"]]


@pytest.mark.parametrize("domain", [d.name for d, _ in DOMAINS])
def test_domain_steps_answer_as_qemu(runs: dict[str, dict[str, Any]], domain: str) -> None:
    fake, real = runs["qmpnuma"][domain], runs["qemu"][domain]
    assert fake["left-running"] == [] and real["left-running"] == []
    assert fake["stderr"] == real["stderr"]
    for key in sorted(set(fake) | set(real)):
        assert fake.get(key) == real.get(key), key


def test_hotplugged_dimm_shows_in_every_later_query(runs: dict[str, dict[str, Any]]) -> None:
    answers = runs["qmpnuma"]["numa2"]
    dimms = answers["after-attach query-memory-devices"]["return"]
    assert [(d["type"], d["data"]["node"], d["data"]["size"]) for d in dimms] == [
        ("dimm", 1, 128 << 20)
    ]
    assert "node 1 plugged: 128 MB" in answers["after-attach x-query-numa"]["return"][
        "human-readable-text"]
    assert "memdimm0" in [b["id"] for b in answers["after-attach query-memdev"]["return"]]
    # A guest without an OS never acknowledges the unplug request: the DIMM stays.
    assert answers["after-detach"] == answers["after-attach query-memory-devices"]


def test_start_up_traffic_and_answer_sources(runs: dict[str, dict[str, Any]]) -> None:
    fake, real = runs["qmpnuma"], runs["qemu"]
    # libvirt sends qmpnuma the same start-up sequence it sends QEMU, `domstats`' `query-stats`
    # and `query-stats-schemas` included (it asks them because the schema offers them).
    assert monitor_stats(fake["startup"]) == monitor_stats(real["startup"])

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
