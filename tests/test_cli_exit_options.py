"""`-version`, `-help`/`-h`/`--help` and `-machine help` print what QEMU prints and exit 0.

QEMU handles them in its option loop when their turn comes: whatever an earlier option prints
(its error, its warnings) comes first, and nothing after them is looked at. Seeded command
lines from the differential generator get one of these options inserted at a random place and
are run on each real QEMU (7.2, 10.0) and on qmpnuma with its profile; exit status, standard
output and standard error must be identical. The programs' own entry points are compared too,
under QEMU's program name and under another one (the usage line of `-help` names the program).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from cmdline_gen import generate, generate_residue
from conftest import Reference

from qmpnuma.errors import ConfigError, EarlyExit
from qmpnuma.machine import Machine

PROGNAME = "qemu-system-x86_64"
EXIT_OPTIONS = (["-version"], ["--version"], ["-help"], ["-h"], ["--help"], ["-M", "help"],
                ["-machine", "?"], ["-M", "help,foo=bar"])
QMPNUMA = Path(sys.executable).with_name("qmpnuma-system-x86_64")

Result = tuple[int, str, str]


def lines_with_exit_option(seed: int, count: int, profile: str) -> list[list[str]]:
    """Generated command lines, each with one exit option inserted between two options."""
    rng = random.Random(seed)
    cases = generate(seed, count // 2, profile) + generate_residue(seed, count - count // 2)
    out = []
    for argv in cases:
        # split at option boundaries only (a word starting with '-' begins an option)
        starts = [i for i, word in enumerate(argv) if word.startswith("-")] + [len(argv)]
        cut = rng.choice(starts)
        out.append([*argv[:cut], *rng.choice(EXIT_OPTIONS), *argv[cut:]])
    return out


def run_real(qemu: str, args: Sequence[str]) -> Result:
    done = subprocess.run([qemu, *args], capture_output=True, timeout=30, check=False,
                          stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def run_model(args: Sequence[str], profile: str) -> Result:
    try:
        machine = Machine.from_argv(list(args), profile=profile, progname=PROGNAME)
    except EarlyExit as done:
        return done.status, done.stdout, done.stderr
    except ConfigError as err:
        return err.status, "", err.stderr
    raise AssertionError(f"a machine was built for {args}: {machine}")


@pytest.mark.qemu
@pytest.mark.parametrize("seed", [7, 8])
def test_exit_options_on_generated_lines(reference: Reference, seed: int) -> None:
    differences = []
    cases = lines_with_exit_option(seed, 30, reference.profile)
    for args in cases:
        expected, got = run_real(reference.binary, args), run_model(args, reference.profile)
        if expected != got:
            differences.append(f"{args}\n  qemu:    {expected!r:.300}\n  qmpnuma: {got!r:.300}")
    print(f"\nexit options [qemu-{reference.profile}]: identical "
          f"{len(cases) - len(differences)}/{len(cases)}")
    assert not differences, f"{len(differences)} differ:\n" + "\n".join(differences)


@pytest.mark.qemu
@pytest.mark.parametrize("option", ["-version", "-help", "-h", "--help"])
@pytest.mark.parametrize("name", [PROGNAME, "my-emulator"])
def test_entry_point_prints_as_the_binary(reference: Reference, tmp_path: Path, option: str,
                                          name: str) -> None:
    """The installed program, under QEMU's name or another, prints byte for byte what the
    real binary prints under that name, and exits 0."""
    real_link, ours_link = tmp_path / "real" / name, tmp_path / "ours" / name
    real_link.parent.mkdir()
    ours_link.parent.mkdir()
    real_link.symlink_to(reference.binary)
    ours_link.symlink_to(QMPNUMA)
    env = {**os.environ, "QMPNUMA_PROFILE": reference.profile}
    real = subprocess.run([str(real_link), option], capture_output=True, timeout=30,
                          check=False)
    ours = subprocess.run([str(ours_link), option], capture_output=True, timeout=30,
                          check=False, env=env)
    assert (ours.returncode, ours.stdout, ours.stderr) == (real.returncode, real.stdout, b"")
    assert real.returncode == 0 and real.stdout


def test_version_of_every_profile() -> None:
    """Each profile prints its own version line; the 2.9 profile (no binary) its release."""
    for name, first in (("7.2", "QEMU emulator version 7.2.22 (Debian "),
                        ("10.0", "QEMU emulator version 10.0.2 (Debian "),
                        ("2.9", "QEMU emulator version 2.9.0\n")):
        with pytest.raises(EarlyExit) as info:
            Machine.from_argv(["-version"], profile=name)
        assert info.value.stdout.startswith(first)
        assert info.value.status == 0


def test_qmpnuma_help_is_qmpnuma_usage() -> None:
    """Under the name `qmpnuma`, `--help` is qmpnuma's own usage; each sub-command has one."""
    qmpnuma = Path(sys.executable).with_name("qmpnuma")
    done = subprocess.run([str(qmpnuma), "--help"], capture_output=True, text=True,
                          timeout=30, check=True)
    assert done.stdout.startswith("usage: qmpnuma ")
    for sub in ("check", "demo", "replay", "fleet"):
        done = subprocess.run([str(qmpnuma), sub, "--help"], capture_output=True, text=True,
                              timeout=30, check=True)
        assert "usage: qmpnuma" in done.stdout, sub
