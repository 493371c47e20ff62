"""The pytest plugin: machines in the test's loop, the command log, strict mode, fleets."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from qemu.qmp import ExecuteError

from qmpnuma.errors import ConfigError
from qmpnuma.pytest_plugin import RunningMachine, StartMachine, start_machine

pytest_plugins = ["pytester"]

NUMA_ARGS = (
    "-M", "pc", "-m", "2G,slots=2,maxmem=4G", "-smp", "2",
    "-object", "memory-backend-ram,id=m0,size=1G",
    "-object", "memory-backend-ram,id=m1,size=1G",
    "-numa", "node,nodeid=0,cpus=0,memdev=m0",
    "-numa", "node,nodeid=1,cpus=1,memdev=m1",
)


@pytest.mark.qmpnuma(*NUMA_ARGS)
async def test_vm_fixture_serves_the_model(qmpnuma_vm: RunningMachine) -> None:
    assert qmpnuma_vm.client is not None
    memdevs = await qmpnuma_vm.client.execute("query-memdev")
    assert isinstance(memdevs, list)
    assert sorted(dev["id"] for dev in memdevs) == ["m0", "m1"]
    await qmpnuma_vm.client.execute("object-add", {
        "qom-type": "memory-backend-ram", "id": "hp", "size": 256 << 20,
    })
    assert "hp" in qmpnuma_vm.machine.backends
    assert qmpnuma_vm.commands == ["query-memdev", "object-add"]
    assert qmpnuma_vm.log[1].arguments["id"] == "hp"


async def test_socket_is_private(qmpnuma_vm: RunningMachine) -> None:
    path = qmpnuma_vm.socket_path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


async def test_directory_removed_after_close() -> None:
    vm = await start_machine(["-m", "512M"])
    directory = os.path.dirname(vm.socket_path)
    assert os.path.isdir(directory)
    await vm.close()
    assert not os.path.exists(directory)


@pytest.mark.qmpnuma("-m", "1G", strict=True, expect=["query-status", ("stop", {})])
async def test_strict_mode_passes_when_the_script_matches(qmpnuma_vm: RunningMachine) -> None:
    assert qmpnuma_vm.client is not None
    await qmpnuma_vm.client.execute("query-status")
    await qmpnuma_vm.client.execute("stop")


async def test_strict_mode_reports_unexpected_and_missing() -> None:
    vm = await start_machine(["-m", "1G"])
    try:
        vm.expect("query-status")
        vm.expect("device_del", {"id": "dimm0"})
        assert vm.client is not None
        await vm.client.execute("query-status")
        await vm.client.execute("query-name")
        problems = vm.unmet_expectations()
    finally:
        await vm.close()
    assert problems == [
        "unexpected command query-name {}",
        "missing command device_del {'id': 'dimm0'} (expected 1 time(s), ran 0)",
    ]


def test_strict_failure_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.qmpnuma("-m", "1G", expect=["stop"])
        async def test_forgets_stop(qmpnuma_vm):
            await qmpnuma_vm.client.execute("query-status")
        """
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
        "-o", "asyncio_default_fixture_loop_scope=function",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*unexpected command query-status*", "*missing command stop*"])


@pytest.mark.qmpnuma("-m", "1G", faults={"rules": [
    {"command": "query-status", "error": {"class": "GenericError", "desc": "boom"}},
]})
async def test_marker_faults_apply(qmpnuma_vm: RunningMachine) -> None:
    assert qmpnuma_vm.client is not None
    with pytest.raises(ExecuteError, match="boom"):
        await qmpnuma_vm.client.execute("query-status")


@pytest.mark.qmpnuma_fleet("-m", "512M", count=3)
async def test_fleet_machines_are_independent(qmpnuma_fleet: list[RunningMachine]) -> None:
    assert len({vm.socket_path for vm in qmpnuma_fleet}) == 3
    first = qmpnuma_fleet[0].client
    assert first is not None
    await first.execute("stop")
    states = []
    for vm in qmpnuma_fleet:
        assert vm.client is not None
        status = await vm.client.execute("query-status")
        assert isinstance(status, dict)
        states.append(status["status"])
    assert states == ["paused", "running", "running"]


async def test_start_factory_and_quit(qmpnuma_start: StartMachine) -> None:
    vm = await qmpnuma_start("-m", "1G", "-S")
    assert vm.client is not None
    status = await vm.client.execute("query-status")
    assert isinstance(status, dict) and status["status"] == "prelaunch"
    await vm.client.execute("quit")
    await vm.server.state.stopped.wait()


def test_readme_example_passes(pytester: pytest.Pytester) -> None:
    """The complete example test in the README runs green as written."""
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    block = text.split("<!-- plugin-example:start -->\n```python\n", 1)[1]
    pytester.makepyfile(test_readme_example=block.split("```\n<!-- plugin-example:end -->")[0])
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
        "-o", "asyncio_default_fixture_loop_scope=function",
    )
    result.assert_outcomes(passed=1)


# --- the profile: 10.0 by default, 7.2 when a marker or the factory names it ------------------


async def _version_and_status(vm: RunningMachine) -> tuple[Any, Any]:
    assert vm.client is not None
    return await vm.client.execute("query-version"), await vm.client.execute("query-status")


@pytest.mark.qmpnuma("-M", "pc", "-m", "1G", "-S")
async def test_vm_fixture_is_qemu_10_0_by_default(qmpnuma_vm: RunningMachine) -> None:
    version, status = await _version_and_status(qmpnuma_vm)
    assert version == {"qemu": {"major": 10, "minor": 0, "micro": 2},
                       "package": "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1"}
    assert status == {"status": "prelaunch", "running": False}  # no singlestep since 9.0


@pytest.mark.qmpnuma("-M", "pc", "-m", "1G", "-S", profile="7.2", faults={"rules": [
    {"command": "query-memdev", "error": {"class": "GenericError", "desc": "boom"}},
]})
async def test_vm_fixture_with_profile_7_2_and_faults(qmpnuma_vm: RunningMachine) -> None:
    version, status = await _version_and_status(qmpnuma_vm)
    assert version == {"qemu": {"major": 7, "minor": 2, "micro": 22},
                       "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}
    assert status == {"status": "prelaunch", "singlestep": False, "running": False}
    assert qmpnuma_vm.client is not None
    with pytest.raises(ExecuteError, match="boom"):
        await qmpnuma_vm.client.execute("query-memdev")


async def test_start_factory_follows_the_profile(qmpnuma_start: StartMachine) -> None:
    """`-no-hpet` is an option of 7.2 that 10.0 removed: the factory's default refuses it as
    QEMU 10.0.2 does, profile="7.2" starts the machine."""
    with pytest.raises(ConfigError) as refused:
        await qmpnuma_start("-M", "pc", "-m", "1G", "-no-hpet")
    assert refused.value.stderr == "qmpnuma: -no-hpet: invalid option\n"  # QEMU 10.0.2 text
    vm = await qmpnuma_start("-M", "pc", "-m", "1G", "-no-hpet", profile="7.2")
    version, _ = await _version_and_status(vm)
    assert version["qemu"]["major"] == 7


@pytest.mark.qmpnuma_fleet("-m", "512M", "-S", count=2, profile="7.2")
async def test_fleet_fixture_with_profile_7_2(qmpnuma_fleet: list[RunningMachine]) -> None:
    for vm in qmpnuma_fleet:
        _, status = await _version_and_status(vm)
        assert status == {"status": "prelaunch", "singlestep": False, "running": False}


@pytest.mark.qmpnuma_fleet("-m", "512M", "-S", count=2)
async def test_fleet_fixture_is_qemu_10_0_by_default(qmpnuma_fleet: list[RunningMachine]) -> None:
    for vm in qmpnuma_fleet:
        version, status = await _version_and_status(vm)
        assert version["qemu"] == {"major": 10, "minor": 0, "micro": 2}
        assert status == {"status": "prelaunch", "running": False}
