"""The protocol vectors again, end to end: real QEMU's socket against qmpnuma's socket.

The sans-IO session is compared with QEMU in `test_qmp_session.py`; this runs the same byte
vectors through the whole qmpnuma process (argv, asyncio server, framing, dispatch) so that what a
client reads off the socket is what QEMU's socket gives, line for line.
"""

from __future__ import annotations

import os
import sys
import tempfile

from conftest import Reference
from test_qmp_fragment import QemuPeer
from test_qmp_session import AFTER_NEGOTIATION, BEFORE_NEGOTIATION, WITH_OOB

QMPNUMA_BINARY = os.path.join(os.path.dirname(sys.executable), "qmpnuma")
SETUPS: list[tuple[list[bytes], list[bytes | list[bytes]]]] = [
    ([], BEFORE_NEGOTIATION),
    ([b'{"execute":"qmp_capabilities"}'], AFTER_NEGOTIATION),
    ([b'{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}'], WITH_OOB),
]


def _run_all(binary: str | list[str], workdir: str) -> list[list[bytes]]:
    peer = QemuPeer(binary, workdir)
    transcripts: list[list[bytes]] = []
    try:
        count = 0
        for setup, vectors in SETUPS:
            transcripts.append([peer.connect()])
            for chunk in setup:
                transcripts.append(peer.exchange([chunk], f"setup{count}"))
            for vector in vectors:
                count += 1
                chunks = vector if isinstance(vector, list) else [vector]
                transcripts.append(peer.exchange(chunks, f"v{count}"))
    finally:
        peer.close()
    return transcripts


def test_vectors_through_the_whole_server(reference: Reference) -> None:
    with tempfile.TemporaryDirectory() as real_dir, tempfile.TemporaryDirectory() as our_dir:
        theirs = _run_all(reference.binary, real_dir)
        ours = _run_all([QMPNUMA_BINARY, f"--profile={reference.profile}"], our_dir)
    assert sum(len(vectors) for _, vectors in SETUPS) >= 60
    mismatches = [(a, b) for a, b in zip(theirs, ours, strict=True) if a != b]
    print(f"qemu-{reference.profile}: {len(theirs) - len(mismatches)}/{len(theirs)} exchanges"
          " identical")
    assert mismatches == []


#: Request shapes a client polls with a new id each time (errors included), and ids inside and
#: just outside the plain forms qmpnuma answers from a template of the line (`_ID_SLOT`).
BURST_SHAPES = [
    b'{"execute": "query-status", "id": %s}',
    b'{"execute":"query-name","id":%s}',
    b'{"id": %s, "execute": "query-memdev"}',
    b'{"execute": "qmp_capabilities", "id": %s}',
    b'{"execute": "no-such-command", "id": %s}',
    b'{"execute": "query-memdev", "arguments": {"x": 1}, "id": %s}',
    b'{"execute": "human-monitor-command", "arguments": {"command-line": 1}, "id": %s}',
    b'{"execute": "object-add", "arguments": {"qom-type": "memory-backend-ram", "id": "x", '
    b'"size": "1G"}, "id": %s}',
    b'{"execute": "query-status", "k": {"id": %s}}',
]
BURST_IDS = [b"1", b"-7", b"0", b"123456789012345678", b"1234567890123456789", b"-0", b"1.5",
             b'"libvirt-12"', b'"a/b]~"', b'"' + b"x" * 64 + b'"', b'"' + b"y" * 65 + b'"',
             b'"\\u00e4"', b"null", b"[2]", b'"__qmp#00007"']


def _burst(binary: str | list[str], workdir: str) -> list[bytes]:
    peer = QemuPeer(binary, workdir)
    try:
        lines = [peer.connect()]
        lines += peer.exchange([b'{"execute":"qmp_capabilities"}'], "negotiated")
        chunk = b"".join(shape.replace(b"%s", ident) + b"\n"
                         for ident in BURST_IDS for shape in BURST_SHAPES)
        lines += peer.exchange([chunk * 3], "burst")
        lines += peer.exchange(
            [b"".join(shape.replace(b"%s", ident) + b"\n"
                      for ident in BURST_IDS for shape in BURST_SHAPES[:3])], "again")
    finally:
        peer.close()
    return lines


def test_unique_id_bursts_through_the_whole_server(reference: Reference) -> None:
    """A pipelined burst of the same requests with a new id each (as libvirt and qemu.qmp
    send them), which qmpnuma answers from templates of the lines, reads byte for byte as
    QEMU's socket gives it."""
    with tempfile.TemporaryDirectory() as real_dir, tempfile.TemporaryDirectory() as our_dir:
        theirs = _burst(reference.binary, real_dir)
        ours = _burst([QMPNUMA_BINARY, f"--profile={reference.profile}"], our_dir)
    assert len(theirs) > 3 * len(BURST_IDS) * len(BURST_SHAPES)
    assert ours == theirs


def _runs(binary: str | list[str], workdir: str) -> list[bytes]:
    peer = QemuPeer(binary, workdir)
    ids = [*BURST_IDS[:5], *(b"%d" % n for n in range(1000, 1040)), *BURST_IDS[5:],
           *(b'"libvirt-%d"' % n for n in range(40))]
    try:
        lines = [peer.connect()]
        lines += peer.exchange([b'{"execute":"qmp_capabilities"}'], "negotiated")
        for shape in BURST_SHAPES:
            lines += peer.exchange([b"".join(shape.replace(b"%s", ident) + b"\n"
                                             for ident in ids) * 3], "run")
        same = b'{"execute": "query-memdev"}\n' * 60 + b'{"execute": "query-cpus-fast"}\n' * 30
        lines += peer.exchange([same + b'{"execute": "query-memdev", "id": 5}\n' * 40], "same")
    finally:
        peer.close()
    return lines


def test_runs_of_one_request_shape_through_the_whole_server(reference: Reference) -> None:
    """A pipelining client repeating one request shape, each time with a new id (or the very
    same line), gets its replies from qmpnuma in runs answered at once (`Run`); broken up by
    ids outside the plain forms, side effects (object-add) and errors included, the socket
    reads byte for byte as QEMU's."""
    with tempfile.TemporaryDirectory() as real_dir, tempfile.TemporaryDirectory() as our_dir:
        theirs = _runs(reference.binary, real_dir)
        ours = _runs([QMPNUMA_BINARY, f"--profile={reference.profile}"], our_dir)
    assert len(theirs) > 3 * 100 * len(BURST_SHAPES)
    assert ours == theirs
