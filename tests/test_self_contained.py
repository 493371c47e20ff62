"""The tests need nothing outside the repository: no reference text of the developers' tree.

Reference answers of the real QEMU live in ``tests/data/`` (recorded by
``scripts/record_test_data.py``). A test that reached for the developers' reference tree or
climbed above the repository root would pass on the developers' machine and silently skip in a
clone.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
RECORDER = TESTS.parent / "scripts" / "record_test_data.py"
RECORDINGS = ("recorded-command-lines.json", "recorded-qmp-sessions.json")
#: Ways a test file could reach above the repository root (tests/ is one level below it).
ESCAPES = re.compile(
    r"\.\./+shared|os\.pardir"            # a relative path to the developers' tree
    r"|parents\[[2-9]\]"                  # Path(__file__).parents[2] and higher
    r"|\.parent\.parent\.parent"          # the same spelled with .parent
    r"|(?:ROOT|REPO)\w*\.parent\b"        # the parent of the repository root
    r"|[\"']shared[\"']"                  # a path component named shared
)


def escapes(text: str) -> list[str]:
    """The lines of ``text`` that name a place outside the repository."""
    return [f"{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), 1)
            if ESCAPES.search(line)]


def test_no_test_reads_outside_the_repository() -> None:
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__).resolve():
            continue
        lines = escapes(path.read_text(encoding="utf-8"))
        if lines:
            found[str(path.relative_to(TESTS))] = lines
    assert not found, f"tests reading outside the repository: {found}"


def test_the_check_catches_each_escape() -> None:
    """Each way out the old tests used is caught (so the check above can fail)."""
    for line in (
        'SPEC = Path(__file__).resolve().parents[2] / "spec" / "x.md"',
        'SPEC_FILE = REPO_ROOT.parent / "spec" / "x.md"',
        'open("../' + 'shared/spec/qemu-numa-spec.md")',  # split: the text itself is no escape
        'ROOT = Path(__file__).parent.parent.parent',
        'base / "shared"' + ' / "spec"',
    ):
        assert escapes(line), line
    assert not escapes('README = Path(__file__).resolve().parents[1] / "README.md"')


def test_recorded_data_is_in_the_repository() -> None:
    """The recordings the differential and rule tests read are part of the tree."""
    data = TESTS / "data"
    for name in ("command-lines.json", "qmp-sessions.json", *RECORDINGS):
        assert (data / name).is_file(), name


def test_recorder_recreates_the_data(qemu_binary: str, tmp_path: Path) -> None:
    """Recording again with the installed QEMU gives the committed files, byte for byte."""
    subprocess.run([sys.executable, str(RECORDER), qemu_binary, "--output", str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    for name in RECORDINGS:
        assert (tmp_path / name).read_bytes() == (TESTS / "data" / name).read_bytes(), (
            f"{name} changed: the committed recording is stale or the recorder is not "
            "deterministic (diff it against a fresh run)")


def test_recorder_recreates_the_10_0_sessions(qemu_10_0: str, tmp_path: Path) -> None:
    """The QMP sessions recorded from QEMU 10.0.2 (``tests/data/qemu-10.0``) likewise."""
    name = "recorded-qmp-sessions.json"
    subprocess.run([sys.executable, str(RECORDER), qemu_10_0, "--output", str(tmp_path),
                    "--only", "qmp-sessions"], check=True, capture_output=True, timeout=300)
    assert (tmp_path / name).read_bytes() == (TESTS / "data" / "qemu-10.0" / name).read_bytes()
