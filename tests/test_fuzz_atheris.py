"""A coverage-guided atheris run of the protocol core.

atheris is optional (not a declared dependency) and its start-up costs about ten seconds, so the run
happens with `QMPNUMA_LOAD_SCALE=full` where atheris is installed; otherwise it skips.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_atheris.py"


@pytest.mark.load
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
@pytest.mark.skipif(
    os.environ.get("QMPNUMA_LOAD_SCALE") != "full", reason="set QMPNUMA_LOAD_SCALE=full"
)
def test_atheris_bounded_run(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "-runs=5000", "-max_len=256", "-seed=1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Done 5000 runs" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no crash files
