"""A cold start imports what its first reply needs and nothing else (issue 12).

Each case runs `qmpnuma.cli.main` in a fresh interpreter, exactly as the console script does,
on the benchmark's command line with a unix QMP monitor; a client thread of the same process
connects, negotiates, asks `query-memdev` and, once the reply is in, lists `sys.modules`. The
lists below are modules that would make the start slower and that the first reply has no use
for: if one of them shows up, something on the start path imports it at module level again.
The standard library modules the entry point defers (`qmpnuma.deferred_stdlib`) must still be
unrun then. (No timing is asserted: `make bench` measures the time.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: The benchmark's machine (bench/machines.py STANDARD) under QEMU's usual headless options.
ARGS = ["-accel", "tcg", "-nodefaults", "-display", "none", "-S", "-machine", "pc-q35-7.2",
        "-m", "2G", "-smp", "2", "-object", "memory-backend-ram,id=m0,size=1G",
        "-object", "memory-backend-ram,id=m1,size=1G",
        "-numa", "node,memdev=m0,cpus=0", "-numa", "node,memdev=m1,cpus=1"]

PROBE = """
import os, socket, sys, threading, time
path, argv = sys.argv[1], sys.argv[2:]

def client():
    while not os.path.exists(path):
        time.sleep(0.001)
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    lines = sock.makefile("rb")
    lines.readline()
    sock.sendall(b'{"execute": "qmp_capabilities"}\\n')
    lines.readline()
    sock.sendall(b'{"execute": "query-memdev"}\\n')
    reply = lines.readline()
    classes = [(f"{name}.{value.__name__}", value) for name, module in list(sys.modules.items())
               if name.startswith("qmpnuma") for value in list(vars(module).values())
               if isinstance(value, type) and "__dataclass_fields__" in value.__dict__
               and value.__module__ == name]
    undocumented = [name for name, value in classes
                    if (value.__doc__ or "").startswith(value.__name__ + "(")]
    compiled = [name for name, value in classes
                if getattr(getattr(value.__init__, "__code__", None), "co_filename", "")
                == "<string>"]
    unrun = [name for name, module in list(sys.modules.items())
             if type(module).__name__ == "DeferredModule"]
    sys.stdout.write(reply.decode() + " ".join(sorted(sys.modules)) + "\\n"
                     + " ".join(undocumented) + "\\n" + " ".join(compiled) + "\\n"
                     + " ".join(sorted(unrun)) + "\\n")
    sys.stdout.flush()
    os._exit(0)

threading.Thread(target=client, daemon=True).start()
from qmpnuma.cli import main
sys.argv = ["qmpnuma", *argv]
main()
"""

#: Never needed to answer `query-memdev`, whatever the profile.
NEVER = (
    "pydantic",  # the generated models: serving uses the generated tables
    "qmpnuma.types.qapi_",  # the models' modules
    "qmpnuma.qapi",  # the schema toolchain (make schemas)
    "qmpnuma.facts",  # recorded facts: read by -help, -device, CPU properties, HMP, QOM
    "qmpnuma.commands.hmp", "qmpnuma.commands.qom", "qmpnuma.commands.cpu_object",
    "qmpnuma.commands.recorded", "qmpnuma.commands.snapshot", "qmpnuma.commands.topology",
    "qmpnuma.server.fleet", "qmpnuma.server.faults", "qmpnuma.server.instrument",
    "qmpnuma.server.trace", "qmpnuma.server.machine_cache", "qmpnuma.replay", "qmpnuma.demo",
    "qmpnuma.harness",
    # rules of options and commands the benchmark's machine does not use
    "qmpnuma.machine.hmat", "qmpnuma.machine.cpu_hotplug", "qmpnuma.options.uuid_arg",
    # standard library modules qmpnuma uses elsewhere (fleet specs, data files, caches, CLIs)
    "argparse", "importlib.metadata", "importlib.resources", "pkg_resources", "email",
    "tomllib", "zipfile", "gzip", "tempfile", "pickle", "hashlib",
)

#: Profile name -> the module suffix of its profile and generated tables.
SUFFIXES = {"2.9": "2_9", "7.2": "7_2", "10.0": "10_0"}
#: Profiles built from another one (`replace(base.PROFILE, ...)`): name -> the base's name.
BUILT_FROM = {"10.0": "7.2"}


def _other_profiles(served: str) -> tuple[str, ...]:
    """The profile modules and tables a server of ``served`` has no use for: every profile's
    tables but its own; every profile module but its own, its base's and the default's (the
    registry builds the default when it is imported)."""
    from qmpnuma.profiles import DEFAULT_PROFILE

    needed = {served, DEFAULT_PROFILE.name, BUILT_FROM.get(served, served)}
    return (*(f"qmpnuma.profiles.qemu_{suffix}" for name, suffix in SUFFIXES.items()
              if name not in needed),
            *(f"qmpnuma.types.tables_{suffix}" for name, suffix in SUFFIXES.items()
              if name != served))


def _covers(entry: str, module: str) -> bool:
    """``module`` is ``entry``, inside package ``entry``, or starts with a prefix ending in _."""
    if entry.endswith("_"):
        return module.startswith(entry)
    return module == entry or module.startswith(entry + ".")


@pytest.mark.parametrize("profile", ["7.2", "10.0"])
def test_first_reply_imports_only_what_it_needs(profile: str, tmp_path: Path) -> None:
    socket_path = tmp_path / "cold.qmp"
    argv = [f"--profile={profile}", *ARGS, "-qmp", f"unix:{socket_path},server=on,wait=off"]
    done = subprocess.run([sys.executable, "-c", PROBE, str(socket_path), *argv],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    reply, modules_line, undocumented, compiled, unrun = done.stdout.split("\n")[:5]
    assert reply.startswith('{"return": [{'), reply
    modules = modules_line.split()
    assert "qmpnuma.commands.memory" in modules  # the probe did reach the first reply
    unwanted = [name for name in modules
                if any(_covers(bad, name) for bad in (*NEVER, *_other_profiles(profile)))]
    assert unwanted == [], f"imported before the first reply: {unwanted}"
    # `dataclasses` writes a docstring for a class without one from `inspect.signature`,
    # whose first use compiles `tokenize`'s patterns: a few milliseconds of the cold start.
    assert undocumented == "", f"dataclasses without a docstring: {undocumented}"
    # A `dataclasses.dataclass` compiles its methods from source at import (`records.record`
    # builds the same methods without compiling): none on the way to the first reply.
    assert compiled == "", f"dataclasses compiled at import: {compiled}"
    # asyncio imported `ssl` and `inspect` (`qmpnuma.deferred_stdlib`), but nothing on the way
    # to the first reply ran them: OpenSSL is not loaded, nor `inspect`'s `ast` and `dis`.
    assert unrun == "asyncio.sslproto inspect ssl", unrun
    assert {"_ssl", "ast", "dis"}.isdisjoint(modules)
