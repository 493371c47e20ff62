"""One real, idle host thread per present vCPU, so that reported thread ids can be pinned.

Management stacks read `thread-id` from `query-cpus-fast` and then pin, move and account those
threads (libvirt puts them in cgroups and calls `sched_setaffinity`). A made-up number would make
those calls fail, so each vCPU gets a thread of this process that sleeps until the process ends;
its kernel thread id is what the queries report.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class VcpuThreads:
    """Idle threads standing in for vCPUs; they end together when `stop()` is called."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start_one(self, cpu_index: int) -> int:
        """Start the thread of one vCPU and return its kernel thread id."""
        started = threading.Event()
        thread = threading.Thread(
            target=self._idle, args=(started,), name=f"CPU {cpu_index}/TCG", daemon=True
        )
        thread.start()
        started.wait()
        self._threads.append(thread)
        native = thread.native_id
        assert native is not None
        return native

    def _idle(self, started: threading.Event) -> None:
        started.set()
        self._stop.wait()

    def stop(self) -> None:
        """Let every vCPU thread end."""
        self._stop.set()


def thread_id_source(threads: VcpuThreads) -> Callable[[int], int]:
    """A callable giving a fresh real thread id for a vCPU index (for hot-plugged CPUs too)."""
    return threads.start_one
