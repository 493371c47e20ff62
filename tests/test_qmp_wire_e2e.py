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
