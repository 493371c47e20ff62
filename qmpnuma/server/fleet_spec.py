"""What a fleet serves: one `MachineSpec` per machine, from a count or from a JSON/TOML file.

`qmpnuma fleet --count N --socket-dir DIR -- ARGS` gives N machines with the same arguments on
`DIR/vm-0.qmp` ... `DIR/vm-{N-1}.qmp`; `qmpnuma fleet --spec FILE` lists the machines one by one:

    # fleet.toml (a JSON file holds the same keys: {"profile": ..., "machines": [...]})
    profile = '7.2'           # default for every machine (the default profile when absent)
    [[machines]]
    socket = "a.qmp"
    args = ["-m", "2G"]
    [[machines]]
    socket = "/run/b.qmp"
    args = "-smp 4 -m 1G"     # a string is split like a shell would
    profile = '2.9'

A relative socket path is taken relative to the spec file's folder. Unknown keys are errors, so a
misspelt key never silently changes what runs.
"""

from __future__ import annotations

import json
import os
import shlex
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qmpnuma.profiles import DEFAULT_PROFILE, PROFILE_NAMES, Profile, get_profile


class FleetSpecError(Exception):
    """A fleet description that cannot be used (bad file, bad key, duplicate socket)."""


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """One machine of a fleet: its QEMU arguments, profile and monitor socket path."""

    args: tuple[str, ...]
    socket: str
    profile: Profile = DEFAULT_PROFILE


def socket_name(index: int) -> str:
    """The file name of machine ``index``'s monitor in a `--socket-dir` fleet."""
    return f"vm-{index}.qmp"


def uniform_specs(
    count: int, socket_dir: str, args: Sequence[str] = (),
    profile: Profile | str = DEFAULT_PROFILE,
) -> list[MachineSpec]:
    """``count`` machines with the same arguments, on `socket_dir/vm-K.qmp`."""
    if count < 0:
        raise FleetSpecError(f"machine count must not be negative, not {count}")
    chosen = _check_profile(profile, "fleet")
    shared = tuple(args)
    return [
        MachineSpec(shared, os.path.join(socket_dir, socket_name(index)), chosen)
        for index in range(count)
    ]


def _check_profile(profile: Any, where: str) -> Profile:
    """The profile a spec names (resolved here, once)."""
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, str):
        try:
            return get_profile(profile)
        except ValueError:
            pass
    raise FleetSpecError(
        f"{where}: unknown profile {profile!r} (known: {', '.join(PROFILE_NAMES)})"
    )


def _args(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(shlex.split(value))
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise FleetSpecError(f"{where}: 'args' must be a list of strings or one string")


_MACHINE_KEYS = frozenset({"socket", "args", "profile"})
_TOP_KEYS = frozenset({"profile", "machines"})


def specs_from_data(data: Any, base_dir: str = ".") -> list[MachineSpec]:
    """Check a decoded spec document and turn it into machine specs."""
    if not isinstance(data, dict):
        raise FleetSpecError("a fleet spec must be an object with a 'machines' list")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise FleetSpecError(f"unknown key(s) in fleet spec: {', '.join(unknown)}")
    default_profile = _check_profile(data.get("profile", DEFAULT_PROFILE), "fleet spec")
    machines = data.get("machines")
    if not isinstance(machines, list):
        raise FleetSpecError("a fleet spec needs a 'machines' list")
    specs: list[MachineSpec] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(machines):
        where = f"machines[{index}]"
        if not isinstance(entry, dict):
            raise FleetSpecError(f"{where}: must be an object")
        unknown = sorted(set(entry) - _MACHINE_KEYS)
        if unknown:
            raise FleetSpecError(f"{where}: unknown key(s): {', '.join(unknown)}")
        socket = entry.get("socket")
        if not isinstance(socket, str) or not socket:
            raise FleetSpecError(f"{where}: needs a 'socket' path")
        path = os.path.normpath(os.path.join(base_dir, socket))
        if path in seen:
            raise FleetSpecError(
                f"{where}: socket {path} is already used by machines[{seen[path]}]"
            )
        seen[path] = index
        profile = _check_profile(entry.get("profile", default_profile), where)
        specs.append(MachineSpec(_args(entry.get("args", []), where), path, profile))
    return specs


def load_spec_file(path: str) -> list[MachineSpec]:
    """Read a fleet spec from a `.toml` file or a JSON file (any other name)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as err:
        raise FleetSpecError(f"cannot read fleet spec {path}: {err.strerror}") from None
    try:
        if path.endswith(".toml"):
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise FleetSpecError(f"{path}: {err}") from None
    return specs_from_data(data, os.path.dirname(os.path.abspath(path)))
