"""Who sent the terminating signal: QEMU's "terminating on signal N from pid P (NAME)" line.

QEMU reports on stderr which process ended it (libvirt keeps that line in the domain log when it
destroys a guest with SIGTERM). A Python signal handler does not learn the sender, so the
terminating signals are blocked in every thread and one waiter thread takes them with
`sigwaitinfo`, which does: it prints the report and hands the signal to the event loop.
`block()` must run before any other thread starts, since threads inherit the signal mask.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable

from qmpnuma.machine.machine import message_timestamp
from qmpnuma.profiles import Profile

TERMINATING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def block() -> None:
    """Block the terminating signals in this thread (and the threads it starts later)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, TERMINATING)


def process_name(pid: int) -> str | None:
    """The first word of a process's command line, as QEMU names the sender."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            first = handle.read().split(b"\0", 1)[0]
    except OSError:
        return None
    return first.decode(errors="replace") if first else None


def report_line(progname: str, signum: int, pid: int, *, profile: Profile,
                timestamps: bool) -> str:
    """The line QEMU prints when a signal from ``pid`` ends it."""
    if pid == 0:
        text = f"terminating on signal {signum}"
    else:
        template = profile.texts.signal_from_pid
        name = process_name(pid) or "<unknown process>" if "{name}" in template else ""
        text = template.format(signum=signum, pid=pid, name=name)
    prefix = message_timestamp() if timestamps else ""
    return f"{prefix}{progname}: {text}\n"


def start_waiter(
    loop: asyncio.AbstractEventLoop,
    on_signal: Callable[[int], None],
    *,
    progname: str,
    profile: Profile,
    timestamps: bool,
) -> threading.Thread:
    """Wait for a terminating signal in a daemon thread; report it and pass it to the loop.

    Only the first one counts: QEMU reports the signal once, when its main loop acts on the
    shutdown request, and a second one (`timeout` sends SIGTERM to the process and to its
    group) arrives while it is already ending. Later signals stay blocked and pending.
    """

    def wait() -> None:
        info = signal.sigwaitinfo(TERMINATING)
        try:
            sys.stderr.write(report_line(
                progname, info.si_signo, info.si_pid, profile=profile,
                timestamps=timestamps,
            ))
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        with contextlib.suppress(RuntimeError):  # a closed loop: the process is ending anyway
            loop.call_soon_threadsafe(on_signal, info.si_signo)

    thread = threading.Thread(target=wait, name="signal waiter", daemon=True)
    thread.start()
    return thread
