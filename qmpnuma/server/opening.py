"""The opening words of monitors on stdio: what they have written before anyone speaks.

A QMP monitor greets as soon as its chardev opens, and stdio is open from the start; an HMP
monitor prints its banner (and, in 7.2, its prompt). QEMU creates the monitors in the middle of
its start-up (`Profile.monitors_open_before_board_init`), so when a later step fails (the CPU
model, ``-numa``, board init, ``-device``) these words are already on standard output above
the error on standard error. The server writes the same words when it serves; this module
gives them to a start that fails (`qmpnuma.start.build_machine`).

Where both streams go to one file the order shows: HMP runs in the main thread and has
written its banner before the error, while a QMP monitor on an OOB-capable chardev (stdio is
one) greets from the monitor's own thread, which almost always writes after the main thread
printed the error and began to exit (checked with both binaries; QEMU's order is a race).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qmpnuma.machine.monitors import MonitorOptionError
from qmpnuma.qmp.session import GreetingInfo, default_greeting, greeting_message
from qmpnuma.qobject.json_writer import prettify
from qmpnuma.server.runtime import HMP_PROMPT, hmp_banner

if TYPE_CHECKING:
    from qmpnuma.machine.state import MachineState

__all__ = ["opening_words"]


def opening_words(
    machine: MachineState, greeting: GreetingInfo | None = None,
) -> tuple[bytes, bytes]:
    """What the machine's monitors on stdio have written once QEMU created them: the HMP
    banner (with the prompt, where the profile prints it then), which comes before the error,
    and the QMP greeting (pretty when asked), which comes after it. Nothing when the monitor
    options are themselves refused (QEMU would have stopped before creating any)."""
    info = greeting if greeting is not None else default_greeting(machine.profile)
    try:
        config = machine.monitors
    except MonitorOptionError:
        return b"", b""
    on_stdio = {dev.label for dev in config.chardevs if dev.backend == "stdio"}
    before = after = b""
    for monitor in config.monitors:
        if monitor.chardev not in on_stdio:
            continue
        if monitor.mode == "control":
            message = greeting_message(info)
            after += prettify(message) if monitor.pretty else message
        else:
            before += hmp_banner(info).encode()
            if machine.profile.hmp_prompt_at_creation:
                before += HMP_PROMPT
    return before, after
