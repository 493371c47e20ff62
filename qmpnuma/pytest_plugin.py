"""pytest plugin: a qmpnuma machine per test, in the test's own event loop.

Installed with qmpnuma (entry point `pytest11`), so it is loaded by every pytest run in an
environment that has qmpnuma. It must therefore never break pytest: it imports nothing heavy at
load time, and it loads without pytest-asyncio (the fixtures then fail with what to install, at
the first test that uses one). It offers:

- ``qmpnuma_vm``: starts a machine from QEMU arguments on a unix socket in a private temporary
  directory and yields a `RunningMachine` (socket path, a connected `qemu.qmp.QMPClient`, the
  model, the log of every command the machine ran, and the fault injector). Arguments and options
  come from the marker ``@pytest.mark.qmpnuma(*qemu_args, profile=..., expect=[...],
  strict=False, faults={FaultPlan})``.
- strict mode: with ``strict=True`` (or `RunningMachine.expect` calls) the test fails at teardown
  when a command ran that was not expected, or an expected one never ran.
- ``qmpnuma_start``: a factory ``await qmpnuma_start(*qemu_args, ...)`` for tests that need
  several machines or their own set-up; everything it started is stopped at teardown.
- ``qmpnuma_fleet``: N machines of one `qmpnuma.Fleet`, from
  ``@pytest.mark.qmpnuma_fleet(*qemu_args, count=N, profile=..., faults=...)``.

The fixtures are asynchronous (pytest-asyncio). They work in both of its modes: in ``auto`` mode
any ``async def`` test can use them; in ``strict`` mode (pytest-asyncio's default) mark the test
``@pytest.mark.asyncio``.

`qmpnuma.harness.start_machine` is the same machinery without pytest, for scripts and other
harnesses; it is also importable from here.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from qmpnuma.harness import RunningMachine

try:
    import pytest_asyncio

    HAVE_PYTEST_ASYNCIO = True
except ImportError:  # the plugin still loads; its fixtures say what is missing
    HAVE_PYTEST_ASYNCIO = False

NEEDS_PYTEST_ASYNCIO = (
    "qmpnuma's fixtures run in the test's asyncio event loop and need pytest-asyncio, which is "
    "not installed: pip install pytest-asyncio (or pip install 'qmpnuma[pytest]')"
)

# Names that used to live here; importing them loads the harness only when asked for.
_HARNESS_NAMES = ("Expectation", "RunningMachine", "start_machine", "qemu_arguments")


def __getattr__(name: str) -> Any:
    if name in _HARNESS_NAMES:
        from qmpnuma import harness

        return getattr(harness, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "qmpnuma(*qemu_args, profile, expect, strict, faults): the machine of `qmpnuma_vm`",
    )
    config.addinivalue_line(
        "markers",
        "qmpnuma_fleet(*qemu_args, count, profile, faults): the machines of `qmpnuma_fleet`",
    )
    config.addinivalue_line(
        "markers", "load: long load/fuzz runs (bounded; scale with QMPNUMA_LOAD_SCALE)"
    )


def _marker(request: pytest.FixtureRequest, name: str) -> tuple[list[str], dict[str, Any]]:
    from qmpnuma.harness import qemu_arguments

    mark = request.node.get_closest_marker(name)
    if mark is None:
        return [], {}
    return qemu_arguments(tuple(mark.args)), dict(mark.kwargs)


def _finish(machines: Sequence[RunningMachine]) -> None:
    problems = [problem for vm in machines for problem in vm.unmet_expectations()]
    if problems:
        pytest.fail("qmpnuma strict mode:\n  " + "\n  ".join(problems), pytrace=False)


async def _qmpnuma_vm(request: pytest.FixtureRequest) -> AsyncIterator[RunningMachine]:
    """A started machine with a connected client; configure it with `@pytest.mark.qmpnuma`."""
    from qmpnuma.harness import as_expectation, start_machine
    from qmpnuma.profiles import get_profile

    args, options = _marker(request, "qmpnuma")
    vm = await start_machine(
        args, profile=get_profile(options.get("profile")), faults=options.get("faults")
    )
    vm.strict = bool(options.get("strict", False))
    for item in options.get("expect", ()):
        vm.strict = True
        vm.expectations.append(as_expectation(item))
    try:
        yield vm
    finally:
        await vm.close()
    _finish([vm])


StartMachine = Callable[..., Awaitable["RunningMachine"]]


async def _qmpnuma_start() -> AsyncIterator[StartMachine]:
    """``await qmpnuma_start(*qemu_args, profile=..., faults=..., connect=True)``; the QEMU
    arguments may also be given as one sequence, as `start_machine` takes them."""
    from qmpnuma.harness import start_machine

    started: list[RunningMachine] = []

    async def start(*args: str | Sequence[str], **options: Any) -> RunningMachine:
        vm = await start_machine(*args, **options)
        started.append(vm)
        return vm

    try:
        yield start
    finally:
        for vm in started:
            await vm.close()
    _finish(started)


async def _qmpnuma_fleet(request: pytest.FixtureRequest) -> AsyncIterator[list[RunningMachine]]:
    """``count`` machines (default 3) of one `qmpnuma.Fleet` in a private directory, each
    instrumented (log, faults) and with a connected client."""
    from qmpnuma.harness import RunningMachine
    from qmpnuma.profiles import get_profile
    from qmpnuma.server.faults import FaultPlan, Instrumentation
    from qmpnuma.server.fleet import Fleet

    args, options = _marker(request, "qmpnuma_fleet")
    count = int(options.get("count", 3))
    profile = get_profile(options.get("profile"))
    plan = options.get("faults")
    directory = tempfile.mkdtemp(prefix="qmpnuma-fleet-")
    fleet = Fleet.uniform(count, directory, args, profile=profile)
    machines: list[RunningMachine] = []
    try:
        await fleet.start()
        for member in fleet.members:
            instrumentation = Instrumentation(
                plan=FaultPlan.model_validate(plan or {}), machine=member.machine,
                server=member.server,
            )
            member.server.hooks = instrumentation
            vm = RunningMachine(
                member.socket, member.machine, member.server, instrumentation,
                _owns_server=False,
            )
            machines.append(vm)
            vm.client = await vm.connect()
        yield machines
    finally:
        for vm in machines:
            await vm.close()
        await fleet.close()
        shutil.rmtree(directory, ignore_errors=True)
    _finish(machines)


def _missing_pytest_asyncio() -> None:
    pytest.fail(NEEDS_PYTEST_ASYNCIO, pytrace=False)


if HAVE_PYTEST_ASYNCIO:
    qmpnuma_vm = pytest_asyncio.fixture(_qmpnuma_vm, name="qmpnuma_vm")
    qmpnuma_start = pytest_asyncio.fixture(_qmpnuma_start, name="qmpnuma_start")
    qmpnuma_fleet = pytest_asyncio.fixture(_qmpnuma_fleet, name="qmpnuma_fleet")
else:
    qmpnuma_vm = pytest.fixture(_missing_pytest_asyncio, name="qmpnuma_vm")
    qmpnuma_start = pytest.fixture(_missing_pytest_asyncio, name="qmpnuma_start")
    qmpnuma_fleet = pytest.fixture(_missing_pytest_asyncio, name="qmpnuma_fleet")
