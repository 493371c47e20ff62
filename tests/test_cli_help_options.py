"""`-cpu help`, `-device help` and `-device TYPE,help` print what the binary prints, with its
exit status.

QEMU answers them in ``qemu_process_help_options``, after the whole command line is parsed
and before a machine is chosen: the last `-cpu`, else the first QemuOpts `-device` asking for
help (put last here, so that no later `-cpu` replaces it). The device models are a generated
sample of the binary's recorded QOM types (user creatable or not, and unknown names); the help
options are also put into generated command lines. Each case runs on the real QEMU (7.2, 10.0)
and on qmpnuma with its profile: exit status, standard output and standard error must be
identical.
"""

from __future__ import annotations

import random

from cmdline_gen import generate
from conftest import Reference
from test_cli_exit_options import run_model, run_real

from qmpnuma.facts import device_model_names
from qmpnuma.machine.device_types import _type_tree
from qmpnuma.profiles.registry import get_profile

SEED = 11040
DEVICES = 80
LINES = 20
HELP_OPTIONS = (["-cpu", "help"], ["-cpu", "?"], ["-device", "help"], ["-device", "?"])


def cases(profile: str) -> list[list[str]]:
    rng = random.Random(SEED)
    known = get_profile(profile)
    creatable = sorted(device_model_names(known))
    others = sorted(set(_type_tree(known)) - set(creatable))
    out: list[list[str]] = []
    for name in [*rng.sample(creatable, DEVICES), *rng.sample(others, DEVICES // 4),
                 f"no-such-{rng.randint(0, 99)}"]:
        out.append(["-device", f"{name},{rng.choice(('help', '?'))}"])
    for argv in generate(SEED, LINES, profile):
        # last, so that no later -cpu takes the place of the help
        out.append([*argv, *rng.choice(HELP_OPTIONS)])
    return out


def test_help_options_identical(reference: Reference) -> None:
    chosen = cases(reference.profile)
    failures = []
    for args in chosen:
        real = run_real(reference.binary, args)
        mine = run_model(args, reference.profile)
        if real != mine:
            failures.append(f"{' '.join(args)}\n  qemu:    {real[0]} {real[2]!r} "
                            f"{real[1][:120]!r}\n  qmpnuma: {mine[0]} {mine[2]!r} "
                            f"{mine[1][:120]!r}")
    print(f"qemu-{reference.profile}: {len(chosen) - len(failures)}/{len(chosen)} help command"
          " lines identical")
    assert not failures, "\n".join(failures)
