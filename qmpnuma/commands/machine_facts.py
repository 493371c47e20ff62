"""Facts of the machine that come from options the model records but does not interpret.

`-name`, `-uuid` and `-accel`/`-machine accel=` only matter to a few queries; reading them here
keeps the model free of options it has no rules for.
"""

from __future__ import annotations

from qmpnuma.machine import Machine
from qmpnuma.machine.machine import accelerator_of

NIL_UUID = "00000000-0000-0000-0000-000000000000"


def _last(machine: Machine, name: str) -> str | None:
    values = [value for value in machine.option_values(name) if value is not None]
    return values[-1] if values else None


def guest_name(machine: Machine) -> str | None:
    """The guest name of `-name [guest=]NAME[,...]`, or None."""
    return machine.message_style.name


def guest_uuid(machine: Machine) -> str:
    """The `-uuid` value as QEMU prints it (lower case), or the nil UUID."""
    text = _last(machine, "uuid")
    return NIL_UUID if text is None else text.lower()


def accelerator(machine: Machine) -> str:
    """The accelerator the command line asks for first (`-accel`, `-enable-kvm`,
    `-machine accel=`), as the model reads it."""
    return accelerator_of(machine.options, machine.machine_props)
