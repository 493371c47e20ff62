"""qmpnuma's own front door: where `--profile` may stand, pipes that close early, a fleet's
socket directory. (QEMU's own options are compared with the real binary elsewhere.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qmpnuma.cli import split_profile

QMPNUMA = Path(sys.executable).with_name("qmpnuma")


@pytest.mark.parametrize("argv", [
    ["--profile=2.9", "-m", "1G"],
    ["--profile", "2.9", "-m", "1G"],
    ["--trace", "t.json", "--profile=2.9", "-m", "1G"],
    ["--qmp-version=9.9.9", "--profile=2.9", "-m", "1G"],
    ["check", "--profile=2.9", "-m", "1G"],
    ["--profile=7.2", "check", "--profile", "2.9", "-m", "1G"],
])
def test_profile_among_leading_options_or_after_a_sub_command(argv: list[str]) -> None:
    profile, rest = split_profile(argv)
    assert profile.name == "2.9"
    assert "--profile" not in " ".join(rest)
    assert rest[-2:] == ["-m", "1G"]


def test_profile_is_not_taken_from_qemu_arguments() -> None:
    """After the first QEMU argument everything is QEMU's (it would say `invalid option`)."""
    profile, rest = split_profile(["-m", "1G", "--profile=2.9"])
    assert profile.name == os.environ.get("QMPNUMA_PROFILE", "10.0")
    assert rest == ["-m", "1G", "--profile=2.9"]


@pytest.mark.parametrize(("leading", "environment", "accepted"), [
    ([], None, False),                        # the default profile, 10.0, removed -no-hpet
    (["--profile=7.2"], None, True),
    ([], "7.2", True),
    (["--profile=10.0"], "7.2", False),      # the option wins over the environment
    (["--profile=2.9"], "10.0", True),
])
def test_check_follows_the_profile(
    leading: list[str], environment: str | None, accepted: bool
) -> None:
    """`qmpnuma check` validates as the chosen profile's QEMU: `-no-hpet` is an option of 7.2
    (and 2.9) that QEMU 10.0.2 refuses with `invalid option`."""
    env = {key: value for key, value in os.environ.items() if key != "QMPNUMA_PROFILE"}
    if environment is not None:
        env["QMPNUMA_PROFILE"] = environment
    done = subprocess.run([str(QMPNUMA), *leading, "check", "-M", "pc", "-m", "1G", "-no-hpet"],
                          capture_output=True, text=True, timeout=30, check=False, env=env)
    if accepted:
        assert (done.returncode, done.stderr) == (0, "")
    else:
        assert (done.returncode, done.stdout, done.stderr) == (
            1, "", "qmpnuma: -no-hpet: invalid option\n")


def test_usage_names_the_default_profile() -> None:
    done = subprocess.run([str(QMPNUMA), "--help"], capture_output=True, text=True, timeout=30,
                          check=False)
    assert "QEMU version to imitate: 10.0, 7.2, 2.9 (default 10.0;" in done.stdout


def test_check_json_into_a_closed_pipe_has_no_traceback() -> None:
    """`qmpnuma check --json | head -1`: the reader leaves early (the answer, over 100 KB,
    outgrows the pipe); no traceback on stderr."""
    with subprocess.Popen([str(QMPNUMA), "check", "--json", "-M", "q35", "-m", "1G", "-smp", "255"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.wait(timeout=30)
    assert b"Traceback" not in stderr
    assert stderr == b""


def test_fleet_refuses_a_missing_socket_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    done = subprocess.run([str(QMPNUMA), "fleet", "--count", "2", "--socket-dir", str(missing)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert f"--socket-dir {missing}: no such directory" in done.stderr
    assert not (tmp_path / "no").exists()
