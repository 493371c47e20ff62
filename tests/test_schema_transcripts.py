"""Every QMP answer recorded from each real QEMU fits the wire types generated from our schemas.

``tests/data/recorded-qmp-sessions.json`` holds QMP sessions with the real QEMU 7.2.22, and
``tests/data/qemu-10.0/recorded-qmp-sessions.json`` the same sessions with QEMU 10.0.2, recorded
by ``scripts/record_test_data.py`` sending the requests of ``tests/data/qmp-sessions.json`` to the
binary over its socket; each is checked against the types of its profile. Each reply that
carries a ``return`` must validate against the generated model of the command it answers and
dump back (``to_wire()``) to the very same JSON value; an event's ``data`` must do the same
against the event's type; an error's class must be one of ``QapiErrorClass``. A schema member
with a wrong name, type or optionality makes one of these fail.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import DATA, recorded_data
from pydantic import TypeAdapter, ValidationError

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO_ROOT / "schemas" / "qapi-schema.json"
INPUT = DATA / "qmp-sessions.json"
#: The recording of each profile's binary.
RECORDINGS = {
    "7.2": DATA / "recorded-qmp-sessions.json",
    "10.0": DATA / "qemu-10.0" / "recorded-qmp-sessions.json",
}
#: Schema commands no recorded session sends, and why.
NOT_RECORDED = {
    # Its answer names the monitor socket, a temporary path that differs on every run.
    "query-chardev",
    # Checked against the real binary by test_schema_introspection.py, not stored here.
    "query-qmp-schema",
    # Whether KVM is present depends on the host (/dev/kvm), not on the binary.
    "query-kvm",
}


@dataclass(frozen=True)
class Answer:
    """One message QEMU sent in a recorded session, with the command of the request it followed."""

    where: str
    command: str | None
    message: Any


@pytest.fixture(scope="module", params=sorted(RECORDINGS), ids=lambda p: f"qemu-{p}")
def profile(request: pytest.FixtureRequest) -> str:
    """The profile whose binary's recording is checked."""
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def sessions(profile: str) -> list[dict[str, Any]]:
    recording: dict[str, Any] = recorded_data(RECORDINGS[profile])
    return list(recording["sessions"])


@pytest.fixture(scope="module")
def answers(sessions: list[dict[str, Any]]) -> list[Answer]:
    """Every received message of every session, in order."""
    return [
        Answer(f"{session['name']} #{number} {exchange['send']}", exchange["execute"], message)
        for session in sessions
        for number, exchange in enumerate(session["exchanges"])
        for message in exchange["receive"]
    ]


def _load_generated(profile: str) -> ModuleType:
    """The generated module of a profile: the packaged one, else one generated right now."""
    suffix = profile.replace(".", "_")
    try:
        return importlib.import_module(f"qmpnuma.types.qapi_{suffix}")
    except ModuleNotFoundError:
        pass
    from qmpnuma.qapi.cli import run  # the toolchain itself, only when nothing is generated

    out_dir = REPO_ROOT / ".pytest_cache" / "schema_models"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"qapi_{suffix}.py"
    assert run(["gen", str(SCHEMA_FILE), "--profile", profile, "-o", str(target)]) == 0
    name = f"_schema_test_qapi_{suffix}"
    spec = importlib.util.spec_from_file_location(name, target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def types(profile: str) -> ModuleType:
    return _load_generated(profile)


@pytest.fixture(scope="module")
def types_7_2() -> ModuleType:
    return _load_generated("7.2")


def _plain(value: Any) -> Any:
    """A validated value turned back into JSON data."""
    if hasattr(value, "to_wire"):
        return value.to_wire()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


_JSON_CHECKS: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "int": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


def round_trip(module: ModuleType, type_name: str, value: Any) -> Any:
    """Validate ``value`` as QAPI type ``type_name`` and return it dumped back to JSON data.

    Raises AssertionError or pydantic's ValidationError when the value does not fit.
    """
    if type_name.startswith("[") and type_name.endswith("]"):
        assert isinstance(value, list), f"{type_name} expects a list, got {value!r}"
        return [round_trip(module, type_name[1:-1], item) for item in value]
    # MODELS maps object types to classes; TYPES (when generated) adds the union aliases.
    models: dict[str, Any] = {**module.MODELS, **getattr(module, "TYPES", {})}
    if type_name in models:
        return _plain(TypeAdapter(models[type_name]).validate_python(value))
    entry = module.SCHEMA[type_name]
    if entry["meta-type"] == "enum":
        assert value in entry["values"], f"{value!r} is not a value of {type_name}"
        return value
    assert entry["meta-type"] == "builtin", f"cannot check {type_name}: {entry}"
    json_type = entry["json-type"]
    if json_type != "value":
        assert isinstance(value, _JSON_CHECKS[json_type]), f"{value!r} is not {type_name}"
        if json_type in ("int", "number"):
            assert not isinstance(value, bool), f"{value!r} is not {type_name}"
    return value


def test_every_request_is_recorded_and_answered(sessions: list[dict[str, Any]]) -> None:
    """The recording plays the whole input list, and every request got exactly one reply."""
    wanted = json.loads(INPUT.read_text())["sessions"]
    assert [s["name"] for s in sessions] == [s["name"] for s in wanted]
    for session, spec in zip(sessions, wanted, strict=True):
        negotiated = 1 if spec.get("negotiate", True) else 0
        assert len(session["exchanges"]) == len(spec["requests"]) + negotiated, session["name"]
        for exchange in session["exchanges"]:
            replies = [m for m in exchange["receive"] if "return" in m or "error" in m]
            others = [m for m in exchange["receive"] if "event" not in m and m not in replies]
            assert len(replies) == 1 and not others, f"{session['name']}: {exchange}"


def test_every_return_fits_its_command(types: ModuleType, answers: list[Answer]) -> None:
    commands = types.COMMANDS
    checked = 0
    failures: list[str] = []
    for answer in answers:
        message = answer.message
        if "return" not in message:
            continue
        assert answer.command in commands, f"{answer.where}: {answer.command} undefined"
        definition = commands[answer.command]
        value = message["return"]
        try:
            if definition.ret_type is None:
                assert value == {}, f"{answer.command} returns nothing, got {value!r}"
            else:
                assert round_trip(types, definition.ret_type, value) == value
        except (AssertionError, ValidationError) as exc:
            failures.append(f"{answer.where} ({answer.command}): {exc}")
        checked += 1
    assert not failures, "\n".join(failures)
    assert checked >= 150


def test_every_schema_command_is_recorded(types: ModuleType, answers: list[Answer]) -> None:
    """A command added to the schema needs a recorded exchange (or a reason in NOT_RECORDED)."""
    sent = {answer.command for answer in answers}
    assert set(types.COMMANDS) - sent == NOT_RECORDED


def test_greeting_version_fits(types: ModuleType, sessions: list[dict[str, Any]]) -> None:
    """The greeting's version is a VersionInfo, the one query-version returns."""
    for session in sessions:
        version = session["greeting"]["QMP"]["version"]
        assert round_trip(types, "VersionInfo", version) == version


def test_every_event_fits_its_type(types: ModuleType, answers: list[Answer]) -> None:
    events = [a.message for a in answers if "event" in a.message]
    assert {e["event"] for e in events} >= {"RESUME", "STOP", "RESET", "POWERDOWN", "SHUTDOWN"}
    for event in events:
        definition = types.EVENTS[event["event"]]
        if definition.arg_type is None:
            assert "data" not in event
        else:
            assert round_trip(types, definition.arg_type, event["data"]) == event["data"]


def test_every_error_class_is_a_qapi_error_class(types: ModuleType,
                                                 answers: list[Answer]) -> None:
    classes = {a.message["error"]["class"] for a in answers if "error" in a.message}
    assert classes >= {"GenericError", "CommandNotFound", "DeviceNotFound", "DeviceNotActive"}
    assert classes <= set(types.SCHEMA["QapiErrorClass"]["values"])


def test_round_trip_rejects_what_qemu_would_not_send(types_7_2: ModuleType) -> None:
    """The checks above can fail: wrong members, types and enum values are caught."""
    good = {"running": False, "singlestep": False, "status": "prelaunch"}
    assert round_trip(types_7_2, "StatusInfo", good) == good
    with pytest.raises(ValidationError):
        round_trip(types_7_2, "StatusInfo", {**good, "extra": 1})
    with pytest.raises(ValidationError):
        round_trip(types_7_2, "StatusInfo", {**good, "status": "flying"})
    with pytest.raises(ValidationError):
        round_trip(types_7_2, "[Memdev]", [{"size": "1G"}])
    memdev = {"id": "m0", "size": 1, "merge": True, "dump": True, "prealloc": False,
              "share": False, "host-nodes": [], "policy": "default"}
    # reserve is optional and absent members stay absent on the way back
    assert round_trip(types_7_2, "Memdev", memdev) == memdev
    with pytest.raises((AssertionError, ValidationError)):
        round_trip(types_7_2, "HostMemPolicy", "sometimes")
