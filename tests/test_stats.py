"""`query-stats` and `query-stats-schemas` answer as QEMU 7.2 does on a TCG machine.

QEMU 7.2 has no statistics provider without KVM, so every well-formed request gets an empty list;
what is compared here is that, for the requests libvirt 9.0's `domstats` sends (taken from its
monitor log against the real binary) and for malformed ones, whose errors come from the argument
visitor (the boxed union `StatsFilter`, its base and branch, nested lists of structs). Raw reply
lines must be equal byte for byte, on machines paused, running, with NUMA nodes, with no board
at all, and in the `-preconfig` phase (where neither command is allowed yet).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from conftest import Reference
from qmp_endpoints import QMPNUMA, normalise, started

pytestmark = pytest.mark.qemu

#: What libvirt 9.0 sends (`virsh domstats`, a TCG guest), byte for byte as its log shows.
LIBVIRT_REQUESTS: list[bytes] = [
    b'{"execute":"query-stats","arguments":{"target":"vcpu","providers":[{"provider":"kvm",'
    b'"names":["halt_poll_success_ns","halt_poll_fail_ns"]}]},"id":"libvirt-411"}\r\n',
    b'{"execute":"query-stats-schemas","id":"libvirt-412"}\r\n',
    b'{"execute":"query-stats","arguments":{"target":"vcpu"},"id":"libvirt-413"}\r\n',
    b'{"execute":"query-stats-schemas","id":"libvirt-419"}\r\n',
    b'{"execute":"query-stats","arguments":{"target":"vm"},"id":"libvirt-420"}\r\n',
]

_CPU0 = "/machine/unattached/device[0]"

#: Further argument shapes: accepted ones (empty answers) and every kind of refusal.
ARGUMENTS: list[dict[str, object] | None] = [
    {"target": "vm", "providers": [{"provider": "kvm"}]},
    {"target": "vm", "providers": []},
    {"target": "vm", "providers": [{"provider": "kvm", "names": []}]},
    {"target": "vm", "providers": [{"provider": "kvm"}, {"provider": "kvm", "names": ["x"]}]},
    {"target": "vcpu", "vcpus": [_CPU0]},
    {"target": "vcpu", "vcpus": [_CPU0, "/nowhere"], "providers": [{"provider": "kvm"}]},
    {"target": "vcpu", "vcpus": []},
    None,
    {},
    {"target": None},
    {"target": 1},
    {"target": "foo"},
    {"target": "VM"},
    {"target": "vm", "vcpus": [_CPU0]},
    {"target": "vm", "foo": 1, "bar": 2},
    {"target": "vcpu", "vcpus": "x"},
    {"target": "vcpu", "vcpus": [1]},
    {"target": "vcpu", "vcpus": [_CPU0, None]},
    {"target": "vcpu", "vcpus": {}},
    {"target": "vm", "providers": {"provider": "kvm"}},
    {"target": "vm", "providers": [{}]},
    {"target": "vm", "providers": ["kvm"]},
    {"target": "vm", "providers": [{"provider": "tcg"}]},
    {"target": "vm", "providers": [{"provider": "kvm", "names": "x"}]},
    {"target": "vm", "providers": [{"provider": "kvm", "names": [1]}]},
    {"target": "vm", "providers": [{"provider": "kvm", "extra": 1}]},
    {"target": "vcpu", "providers": [{"provider": "kvm"}, {"names": []}]},
]
SCHEMA_ARGUMENTS: list[dict[str, object] | None] = [
    None, {}, {"provider": "kvm"}, {"provider": "tcg"}, {"provider": 1}, {"provider": None},
    {"target": "vm"}, {"provider": "kvm", "target": "vcpu"},
]


def _request(name: str, arguments: dict[str, object] | None, ident: int) -> bytes:
    request: dict[str, object] = {"execute": name}
    if arguments is not None:
        request["arguments"] = arguments
    request["id"] = ident
    return json.dumps(request).encode() + b"\n"


REQUESTS: list[bytes] = [
    *LIBVIRT_REQUESTS,
    *(_request("query-stats", args, i) for i, args in enumerate(ARGUMENTS)),
    *(_request("query-stats-schemas", args, 100 + i) for i, args in enumerate(SCHEMA_ARGUMENTS)),
    b'{"execute":"query-stats","arguments":"vm"}\n',
    b'{"execute":"query-stats","arguments":{"target":"vm"},"id":{"n":[1]}}\n',
]

#: Paused, running, NUMA with explicit CPUs, no board at all.
MACHINES: list[list[str]] = [
    ["-S", "-M", "pc", "-m", "256", "-smp", "2"],
    ["-M", "q35", "-m", "256", "-smp", "1"],
    ["-S", "-M", "pc", "-m", "512", "-smp", "4,sockets=2,cores=2",
     "-object", "memory-backend-ram,id=m0,size=256M",
     "-object", "memory-backend-ram,id=m1,size=256M",
     "-numa", "node,nodeid=0,cpus=0-1,memdev=m0", "-numa", "node,nodeid=1,cpus=2-3,memdev=m1"],
    ["-S", "-machine", "none"],
]


def _transcript(command: Sequence[str], args: Sequence[str],
                requests: Sequence[bytes]) -> list[bytes]:
    with started(command, args) as (conn, greeting, _proc):
        lines = [greeting, *conn.command({"execute": "qmp_capabilities"})]
        for request in requests:
            lines += conn.command(request)
        return [normalise(line) for line in lines]


@pytest.mark.parametrize("args", MACHINES, ids=lambda a: " ".join(a[:3]))
def test_stats_replies_identical(reference: Reference, args: list[str]) -> None:
    real = _transcript([reference.binary], args, REQUESTS)
    ours = _transcript(reference.qmpnuma, args, REQUESTS)
    assert len(real) == len(REQUESTS) + 2
    assert ours == real
    # libvirt's statistics requests are all answered, and with nothing: no provider has
    # anything to report on TCG (10.0's cryptodev provider lists its schema, but no object).
    for line, request in zip(real[2:], LIBVIRT_REQUESTS, strict=False):
        ident = json.loads(request)["id"]
        if json.loads(request)["execute"] == "query-stats":
            assert line == f'{{"return": [], "id": "{ident}"}}\r\n'.encode()


def test_refused_during_preconfig(reference: Reference) -> None:
    args = ["-preconfig", "-M", "pc", "-m", "256"]
    requests = LIBVIRT_REQUESTS[1:3]
    real = _transcript([reference.binary], args, requests)
    assert b"permitted only after machine initialization" in real[-1]
    assert _transcript(reference.qmpnuma, args, requests) == real


def test_profile_2_9_has_neither_command() -> None:
    args = ["-S", "-M", "pc", "-display", "none", "-nodefaults"]
    lines = _transcript([*QMPNUMA, "--profile=2.9"], args, LIBVIRT_REQUESTS[1:3])
    assert lines[-2:] == [
        b'{"id": "libvirt-412", "error": {"class": "CommandNotFound", '
        b'"desc": "The command query-stats-schemas has not been found"}}\r\n',
        b'{"id": "libvirt-413", "error": {"class": "CommandNotFound", '
        b'"desc": "The command query-stats has not been found"}}\r\n',
    ]
