"""Every QMP answer recorded from real QEMU 7.2 fits the wire types generated from our schemas.

The specification (``../shared/spec/qemu-numa-spec.md``) holds verbatim transcripts of QEMU
7.2.22 sessions in its §6.1 (protocol) and §6.2 (NUMA and memory).  Each ``<<<`` line that
carries a ``return`` must validate against the generated model of the command it answers and
dump back (``to_wire()``) to the very same JSON value; an event's ``data`` must do the same
against the event's type; an error's class must be one of ``QapiErrorClass``.  A schema
member with a wrong name, type or optionality makes one of these fail.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO_ROOT / "schemas" / "qapi-schema.json"
SPEC_FILE = REPO_ROOT.parent / "shared" / "spec" / "qemu-numa-spec.md"

#: The transcript sections whose answers are checked (§6.1 and §6.2; §6.3 is stderr only).
_FIRST_SECTION = "### 6.1"
_END_SECTION = "### 6.3"
#: §6.1 writes a line received N times once, followed by `` xN``.
_REPEAT = re.compile(r"^(b'.*')\s+x\d+$")
_EXECUTE = re.compile(r"""["']exec(?:ute|-oob)["']\s*:\s*["']([^"']+)["']""")


@dataclass(frozen=True)
class Answer:
    """One ``<<<`` line of a transcript with what it answers."""

    line: int
    section: str
    command: str | None
    message: Any


def _spec_text() -> str:
    if not SPEC_FILE.is_file():
        pytest.skip(f"specification not found at {SPEC_FILE}: the transcripts live there")
    return SPEC_FILE.read_text(encoding="utf-8")


def _decode(payload: str) -> Any:
    """Turn the text after ``>>>``/``<<<`` into a JSON value (or None when it is not JSON)."""
    payload = payload.strip()
    if payload.startswith("(raw) "):
        payload = payload[len("(raw) "):]
    if payload.startswith("(no newline) "):
        payload = payload[len("(no newline) "):]
    repeated = _REPEAT.match(payload)
    if repeated:
        payload = repeated.group(1)
    if payload.startswith("b'") or payload.startswith('b"'):
        try:
            raw = ast.literal_eval(payload)
        except (SyntaxError, ValueError):
            return None
        payload = raw.decode("utf-8", "replace")
    try:
        return json.loads(payload)
    except json.JSONDecodeError:
        return None


def _request_command(payload: str) -> str | None:
    """The command a ``>>>`` line executes (HMP lines go through human-monitor-command)."""
    payload = payload.strip()
    if payload.startswith("HMP "):
        return "human-monitor-command"
    if payload.startswith("b'") or payload.startswith('b"'):
        try:
            payload = ast.literal_eval(payload).decode("utf-8", "replace")
        except (SyntaxError, ValueError):
            return None
    names = set(_EXECUTE.findall(payload))
    return names.pop() if len(names) == 1 else None


def transcript_answers(text: str) -> tuple[list[Answer], list[int]]:
    """All parseable ``<<<`` answers of §6.1/§6.2, and the line numbers that did not parse."""
    answers: list[Answer] = []
    unparsed: list[int] = []
    inside = False
    section = ""
    command: str | None = None
    answered = True
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(_FIRST_SECTION):
            inside = True
        elif line.startswith(_END_SECTION):
            break
        if not inside:
            continue
        if line.startswith("#"):
            section, command, answered = line, None, True
        elif line.startswith(">>> "):
            named = _request_command(line[4:])
            # A line without a command may finish the previous, still unanswered request
            # (§6.1 sends an object in two parts).
            if named is not None or answered:
                command = named
            answered = False
        elif line.startswith("<<< ") and not line.startswith("<<< (text)"):
            answered = True
            message = _decode(line[4:])
            if message is None:
                unparsed.append(number)
            else:
                answers.append(Answer(number, section, command, message))
    return answers, unparsed


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


def _element_command(section: str, commands: dict[str, Any]) -> str | None:
    """For answers printed element by element: the command named in the section title."""
    named = [name for name in commands if re.search(rf"\b{re.escape(name)}\b", section)]
    return max(named, key=len) if named else None


def test_transcripts_are_found() -> None:
    answers, unparsed = transcript_answers(_spec_text())
    returns = [a for a in answers if isinstance(a.message, dict) and "return" in a.message]
    assert len(returns) >= 150, "the transcript parser lost the §6 answers"
    # The only answer the spec cut short is the 1000-level nesting echo of §6.1.
    text_lines = _spec_text().splitlines()
    assert all("truncated" in text_lines[n - 1] for n in unparsed), unparsed


def test_every_return_fits_its_command(types_7_2: ModuleType) -> None:
    answers, _ = transcript_answers(_spec_text())
    commands = types_7_2.COMMANDS
    checked = 0
    failures: list[str] = []
    for answer in answers:
        message = answer.message
        if not isinstance(message, dict) or "return" not in message:
            continue
        if answer.command is None:
            # Only requests the harness hid (b'') have no command; they answer {}.
            assert message["return"] == {}, f"line {answer.line}: unknown request"
            continue
        assert answer.command in commands, f"line {answer.line}: {answer.command} undefined"
        definition = commands[answer.command]
        value = message["return"]
        try:
            if definition.ret_type is None:
                assert value == {}, f"{answer.command} returns nothing, got {value!r}"
            else:
                assert round_trip(types_7_2, definition.ret_type, value) == value
        except (AssertionError, ValidationError) as exc:
            failures.append(f"line {answer.line} ({answer.command}): {exc}")
        checked += 1
    assert not failures, "\n".join(failures)
    assert checked >= 150


def test_answers_listed_element_by_element_fit(types_7_2: ModuleType) -> None:
    """§6.2 E6 prints query-machines one MachineInfo per line."""
    answers, _ = transcript_answers(_spec_text())
    commands = types_7_2.COMMANDS
    elements = [a for a in answers if isinstance(a.message, dict)
                and not {"return", "error", "event", "QMP"} & set(a.message)]
    assert len(elements) >= 9
    for answer in elements:
        name = _element_command(answer.section, commands)
        assert name is not None, f"line {answer.line}: no command in {answer.section!r}"
        ret_type = commands[name].ret_type
        assert ret_type is not None and ret_type.startswith("[")
        assert round_trip(types_7_2, ret_type[1:-1], answer.message) == answer.message


def test_every_event_fits_its_type(types_7_2: ModuleType) -> None:
    answers, _ = transcript_answers(_spec_text())
    events = [a.message for a in answers if isinstance(a.message, dict) and "event" in a.message]
    assert {e["event"] for e in events} >= {"RESUME", "STOP", "SHUTDOWN"}
    for event in events:
        definition = types_7_2.EVENTS[event["event"]]
        if definition.arg_type is None:
            assert "data" not in event
        else:
            assert round_trip(types_7_2, definition.arg_type, event["data"]) == event["data"]


def test_every_error_class_is_a_qapi_error_class(types_7_2: ModuleType) -> None:
    answers, _ = transcript_answers(_spec_text())
    classes = {a.message["error"]["class"] for a in answers
               if isinstance(a.message, dict) and "error" in a.message}
    assert classes >= {"GenericError", "CommandNotFound", "DeviceNotFound"}
    assert classes <= set(types_7_2.SCHEMA["QapiErrorClass"]["values"])


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
