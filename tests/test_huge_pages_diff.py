"""Huge pages, side by side with each real QEMU (7.2, 10.0) on a host this module prepares.

Whether a huge-page backend starts depends on the host: the page size of the hugetlbfs mount
its ``mem-path`` is on, the mount's ``size=`` limit and the pages the host's pools still have.
So these cases are not recorded answers but run live, the real binary first and then qmpnuma
with its profile, on the same host state: the module mounts three hugetlbfs instances (2 MiB
pages, 2 MiB pages limited to 16 MiB, 1 GiB pages) and sizes the host's pools to 64 free
2 MiB pages and 1 free 1 GiB page, and puts everything back afterwards. That needs root, as
QEMU's own huge-page users do; without it (or without hugetlbfs in the kernel) the module
fails under CI and skips elsewhere.

The command lines and sessions are in ``tests/data/huge-pages.json``. Each run's exit status,
standard error (the program name aside) and every reply line must be equal; only event
timestamps are normalised. A start that fails after QEMU created its monitors has the QMP
greeting on stdout (`qmpnuma.server.opening`), except when QEMU's race drops it. Between
runs the files QEMU created in the mounts are removed, so no run inherits pages from another.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Reference, missing, reference_virsh
from libvirt_harness import (
    Domain,
    Embed,
    check_domain,
    libvirt_missing,
    profile_emulator,
    run_domain,
)
from qmp_endpoints import FIXED_ARGS, normalise

from qmpnuma.host import probe_path, read_huge_pages

DATA = json.loads((Path(__file__).parent / "data" / "huge-pages.json").read_text())
POOLS = Path("/sys/kernel/mm/hugepages")
POOL_2M = POOLS / "hugepages-2048kB"
POOL_1G = POOLS / "hugepages-1048576kB"
FREE_2M = 64
MiB = 1 << 20
#: What every command-line case is asked once it has started.
QUERIES = [{"execute": "qmp_capabilities"}, {"execute": "query-memdev"},
           {"execute": "query-memory-devices"},
           {"execute": "human-monitor-command", "arguments": {"command-line": "info numa"}},
           {"execute": "quit"}]
_PROGRAM = re.compile(rb"^[^\s:]+: ", re.MULTILINE)


@dataclass
class HugeHost:
    """The prepared host: the folder of each placeholder, and whether a 1 GiB page is free."""

    folders: dict[str, str]
    has_1g: bool

    def fill(self, text: str) -> str:
        for name, folder in self.folders.items():
            text = text.replace("{" + name + "}", folder)
        return text

    def clean(self) -> None:
        """Remove the files a run created in the mounts (and with them any pages they hold)."""
        for name in ("hp2m", "hpq", "hp1g"):
            folder = Path(self.folders[name])
            if folder.is_dir():
                for child in folder.iterdir():
                    if child.is_file():
                        child.unlink()


def _number(path: Path) -> int:
    return int(path.read_text().strip())


def _set_free_pages(pool: Path, free: int) -> bool:
    """Size ``pool`` so that exactly ``free`` pages are free and unreserved; False when the
    kernel could not find the memory (a gigantic page needs contiguous memory)."""
    in_use = _number(pool / "nr_hugepages") - _number(pool / "free_hugepages")
    try:
        (pool / "nr_hugepages").write_text(str(in_use + free))
    except OSError:
        return False
    return _number(pool / "free_hugepages") - _number(pool / "resv_hugepages") == free


@pytest.fixture(scope="module")
def huge_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HugeHost]:
    if os.geteuid() != 0:
        missing("huge pages: mounting hugetlbfs and sizing the host's pools needs root")
    if "hugetlbfs" not in Path("/proc/filesystems").read_text() or not POOL_2M.is_dir():
        missing("huge pages: this kernel has no hugetlbfs with 2 MiB pages")
    saved = {pool: (pool / "nr_hugepages").read_text() for pool in (POOL_2M, POOL_1G)
             if pool.is_dir()}
    root = tmp_path_factory.mktemp("huge")
    mounted: list[Path] = []
    try:
        if not _set_free_pages(POOL_2M, FREE_2M):
            missing(f"huge pages: the host could not free {FREE_2M} pages of 2 MiB")
        has_1g = POOL_1G.is_dir() and _set_free_pages(POOL_1G, 1)
        mounts = [("hp2m", "pagesize=2M"), ("hpq", "pagesize=2M,size=16M")]
        if has_1g:
            mounts.append(("hp1g", "pagesize=1G"))
        folders = {}
        for name, options in mounts:
            folder = root / name
            folder.mkdir()
            subprocess.run(["mount", "-t", "hugetlbfs", "-o", options, "none", str(folder)],
                           check=True)
            mounted.append(folder)
            folders[name] = str(folder)
        folders.setdefault("hp1g", str(root / "no-1g-pages"))
        (root / "plain").mkdir()
        folders["plain"] = str(root / "plain")
        yield HugeHost(folders, has_1g)
    finally:
        for folder in mounted:
            subprocess.run(["umount", str(folder)], check=False)
        for pool, value in saved.items():
            (pool / "nr_hugepages").write_text(value)


def _needs_1g(text: str) -> bool:
    return "{hp1g}" in text or "hugetlbsize=1G" in text or '"needs_1g": true' in text


def _run(command: list[str], args: list[str], requests: list[dict[str, Any]],
         host: HugeHost) -> tuple[int, bytes, list[bytes]]:
    """Exit status, standard error without the program name, and the reply lines of one run
    with a QMP monitor on stdio fed ``requests``."""
    lines = "".join(json.dumps(request) + "\n" for request in requests)
    try:
        done = subprocess.run([*command, *FIXED_ARGS, "-S", "-qmp", "stdio", *args],
                              input=lines.encode(), capture_output=True, timeout=60)
    finally:
        host.clean()
    replies = [normalise(line) for line in done.stdout.splitlines()]
    return done.returncode, _PROGRAM.sub(b"PROG: ", done.stderr), replies


def _compare(reference: Reference, args: list[str], requests: list[dict[str, Any]],
             host: HugeHost) -> None:
    # One after the other: both reserve from the same pools, and QEMU really does.
    real = _run([reference.binary], args, requests, host)
    ours = _run(reference.qmpnuma, args, requests, host)
    assert ours[:2] == real[:2], f"qemu: {real[:2]!r}\nqmpnuma: {ours[:2]!r}"
    if real[0] and len(ours[2]) == 1 and ours[2][0].startswith(b'{"QMP": ') \
            and ours[2][0].startswith(b"".join(real[2])):
        # A start that fails once the monitors exist: QEMU's monitor thread greets on stdio
        # as the main thread exits, and about one run in ten the exit comes first. qmpnuma
        # always greets; a run of QEMU's with no greeting or part of it is the race's other
        # outcome.
        return
    differences = [f"line {index}:\n  qemu:    {a!r}\n  qmpnuma: {b!r}"
                   for index, (a, b) in enumerate(zip(real[2], ours[2], strict=False))
                   if a != b]
    assert len(real[2]) == len(ours[2]) and not differences, "\n".join(differences[:6])


@pytest.mark.parametrize("case", DATA["command_lines"])
def test_command_line_identical(reference: Reference, huge_host: HugeHost, case: str) -> None:
    if _needs_1g(case) and not huge_host.has_1g:
        missing("huge pages: the host could not allocate a 1 GiB page at run time")
    _compare(reference, huge_host.fill(case).split(), QUERIES, huge_host)


@pytest.mark.parametrize("name", [session["name"] for session in DATA["sessions"]])
def test_session_identical(reference: Reference, huge_host: HugeHost, name: str) -> None:
    session = next(item for item in DATA["sessions"] if item["name"] == name)
    if session.get("needs_1g") and not huge_host.has_1g:
        missing("huge pages: the host could not allocate a 1 GiB page at run time")
    requests = [{"execute": "human-monitor-command", "arguments": {"command-line": item["hmp"]}}
                if "hmp" in item else item
                for item in json.loads(huge_host.fill(json.dumps(session["requests"])))]
    _compare(reference, huge_host.fill(session["args"]).split(),
             [{"execute": "qmp_capabilities"}, *requests, {"execute": "quit"}], huge_host)


def test_cases_cover_the_rules() -> None:
    """The cases reach every refusal the model has for huge pages, and some starts."""
    text = json.dumps(DATA)
    for needle in ("size=1M,mem-path={hp2m}", "hugetlbsize=3M", "hugetlbsize=4M", "align=1M",
                   "size=3M,hugetlb=on", "{hpq}", "reserve=off", "-mem-prealloc",
                   "-mem-path {hp2m}", "pc-dimm", "virtio-mem-pci"):
        assert needle in text, needle


def test_host_facts_read_the_prepared_host(huge_host: HugeHost) -> None:
    """What the edge reads (``qmpnuma.host``) is what the module set up."""
    pools = read_huge_pages()
    assert pools.default_size == 2 * MiB
    assert pools.reservable(2 * MiB) == FREE_2M
    assert pools.reservable(1 << 30) == (1 if huge_host.has_1g else pools.reservable(1 << 30))
    assert pools.reservable(4 * MiB) is None
    plain_mount = probe_path(huge_host.folders["hp2m"])
    assert (plain_mount.huge_page_size, plain_mount.mount_free_pages) == (2 * MiB, None)
    assert plain_mount.mount_point == huge_host.folders["hp2m"]
    limited = probe_path(huge_host.folders["hpq"])
    assert (limited.huge_page_size, limited.mount_free_pages) == (2 * MiB, 8)
    new_file = probe_path(huge_host.folders["hp2m"] + "/new-file")
    assert new_file.missing and new_file.file_system().huge_page_size == 2 * MiB
    assert probe_path(huge_host.folders["plain"]).huge_page_size == 0


#: The libvirt that drives each profile's QEMU here: Debian 12's 9.0 for 7.2, 11.3 for 10.0.
LIBVIRT_OF = {"7.2": None, "10.0": "11.3"}
#: Guests on huge pages: on the host's default ones (2 MiB), memfd and hugetlbfs-file
#: backends, each 2 cells of 32 MiB (64 MiB of the 128 MiB the pool has, so both start); and
#: one cell on the 1 GiB page (`hw:mem_page_size=1GB` in OpenStack's terms).
HUGE_DOMAINS = (Domain("huge2memfd", 2, cell_mib=32, source="memfd", hugepages=True),
                Domain("huge2file", 2, cell_mib=32, hugepages=True),
                Domain("huge1g", 1, cell_mib=1024, hugepages=True, hugepage_kib=1 << 20))


@pytest.mark.parametrize("domain", [domain.name for domain in HUGE_DOMAINS])
def test_libvirt_starts_huge_page_guests_as_with_qemu(
    reference: Reference, huge_host: HugeHost, tmp_path_factory: pytest.TempPathFactory,
    domain: str,
) -> None:
    """`<memoryBacking><hugepages/>`: libvirt (9.0 with 7.2, 11.3 with 10.0) finds the
    hugetlbfs mount in its qemu.conf and starts the guest on huge pages (a memfd with
    `hugetlb=on`, or a file in its own folder on the mount, preallocated); every step answers
    as with the real QEMU."""
    version = LIBVIRT_OF[reference.profile]
    virsh = "virsh" if version is None else reference_virsh(version)
    reason = libvirt_missing(virsh)
    if reason is not None:
        missing(reason)
    chosen = next(item for item in HUGE_DOMAINS if item.name == domain)
    if chosen.hugepage_kib == 1 << 20 and not huge_host.has_1g:
        missing("huge pages: the host could not allocate a 1 GiB page at run time")
    # One mount, of the domain's page size: given both, libvirt 9.0 backs `<hugepages/>`
    # (no size) with the 1 GiB one, and then both binaries fail alike ("failed to resize
    # memfd to 33554432: Invalid argument").
    mount = huge_host.folders["hp1g" if chosen.hugepage_kib == 1 << 20 else "hp2m"]
    tmp_path = tmp_path_factory.mktemp("lvh")  # short: libvirt's socket paths must fit
    embed = Embed(tmp_path / "embed", virsh,
                  conf_extra=f"hugetlbfs_mount = {json.dumps(mount)}\n")
    answers = []
    for tag, emulator in (("r", reference.binary),
                          ("q", profile_emulator(tmp_path, reference.profile))):
        named = dataclasses.replace(chosen, name=f"{domain}-{tag}")
        answers.append(run_domain(embed, emulator, named, hotplug=False, workdir=tmp_path))
        answers[-1]["dominfo"].pop("Name", None)
        huge_host.clean()
    real, fake = answers
    check_domain(fake, real)
    memdevs = fake["query-memdev"]["return"]
    assert [memdev["prealloc"] for memdev in memdevs] == [True] * chosen.cells, memdevs
