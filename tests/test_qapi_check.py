"""Every kind of schema mistake is reported as ``FILE:LINE: message`` and fails the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmpnuma.qapi.cli import run
from qmpnuma.qapi.error import QAPIError
from qmpnuma.qapi.schema import AlternateType, ArrayType, Schema

HERE = Path(__file__).parent / "qapi"
BAD = HERE / "bad"
GOOD = HERE / "good" / "qapi-schema.json"

#: fixture file → (line, message) expected from the checker.
CASES: dict[str, tuple[int, str]] = {
    "syntax-missing-colon.json": (3, "expected ':'"),
    "syntax-unterminated-string.json": (2, "missing terminating \"'\""),
    "syntax-stray.json": (2, "stray '@'"),
    "syntax-doc-unterminated.json": (4, "documentation comment must end with '##'"),
    "include-missing.json": (3, f"can't read include file '{BAD}/no-such-file.json': "
                                "No such file or directory"),
    "include-loop-a.json": (2, "inclusion loop for include-loop-a.json"),
    "unknown-type.json": (2, "member 'b' of struct 'Foo' uses unknown type 'Nowhere'"),
    "unknown-array-type.json": (1, "member 'a' of struct 'Foo' uses unknown type 'Nowhere'"),
    "unknown-return-type.json": (1, "'returns' of command 'cmd' uses unknown type 'Nowhere'"),
    "duplicate-definition.json": (3, f"'Foo' is already defined at "
                                     f"{BAD}/duplicate-definition.json:1"),
    "duplicate-builtin.json": (1, "'int' is already defined as a built-in type"),
    "duplicate-feature.json": (1, "struct 'Foo' has feature 'deprecated' twice"),
    "discriminator-not-member.json": (4, "discriminator 'type' of union 'U' is not a member "
                                         "of its base"),
    "discriminator-not-enum.json": (3, "discriminator member 'kind' of union 'U' must be of "
                                       "enum type"),
    "discriminator-optional.json": (3, "discriminator member 'kind' of union 'U' must not be "
                                       "optional"),
    "union-branch-not-in-enum.json": (3, "branch 'z' of union 'U' is not a value of enum "
                                         "'Kind'"),
    "union-branch-is-union.json": (4, "branch 'a' of union 'Outer' cannot use union 'Inner'"),
    "member-clash-base.json": (3, "member 'host_nodes' of struct 'Foo' collides with member "
                                  "'host-nodes' of base type 'Base'"),
    "member-clash-own.json": (3, "member 'a_b' of struct 'q_obj_cmd-arg' collides with "
                                 "member 'a-b'"),
    "member-clash-variant.json": (3, "member 'name' of branch 'a' of union 'U' collides with "
                                     "base member 'name'"),
    "unknown-key.json": (3, "struct 'Foo' has unknown key 'bse'"),
    "missing-key.json": (1, "union 'U' misses key 'discriminator'"),
    "missing-metatype.json": (1, "expression is missing metatype"),
    "bad-if-type.json": (1, "'if' condition of struct 'Foo' must be a string or an object"),
    "bad-if-empty.json": (1, "'if' condition [] of struct 'Foo' is useless"),
    "bad-if-operator.json": (1, "'if' condition of struct 'Foo' has unknown operator 'some'"),
    "bad-if-identifier.json": (1, "'if' condition 'defined(A)' of member 'a' of struct 'Foo' "
                                  "is not a valid identifier"),
    "bad-bool-key.json": (1, "'boxed' of command 'cmd' must be true or false"),
    "alternate-ambiguous.json": (1, "branch 'b' of alternate 'Alt' can't be distinguished "
                                    "from 'a'"),
    # Two array branches both take a JSON array.
    "alternate-array-clash.json": (1, "branch 'many' of alternate 'Alt' can't be "
                                      "distinguished from 'one'"),
    # Only an alternate's branch may be an array; a union's names an object type.
    "union-branch-array.json": (2, "branch 'a' of union 'U' cannot be an array"),
    "base-cycle.json": (1, "struct 'A' contains itself"),
    "base-not-struct.json": (2, "base of struct 'S' must be a struct type, not enum 'E'"),
    "command-data-not-object.json": (3, "'data' of command 'cmd' must be an object type, "
                                        "not enum 'E'"),
}


def _error_file(name: str) -> str:
    """The file the error is reported in (the loop is detected in the included file)."""
    return str(BAD / ("include-loop-b.json" if name == "include-loop-a.json" else name))


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_schema_reports_file_line_message(name: str) -> None:
    line, message = CASES[name]
    with pytest.raises(QAPIError) as caught:
        Schema(str(BAD / name), frozenset())
    err = caught.value
    assert (err.fname, err.line, err.message) == (_error_file(name), line, message)
    assert str(err) == f"{_error_file(name)}:{line}: {message}"


@pytest.mark.parametrize("name", ["unknown-type.json", "syntax-stray.json", "base-cycle.json"])
def test_cli_check_fails_with_message(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    line, message = CASES[name]
    assert run(["check", str(BAD / name)]) == 1
    assert capsys.readouterr().err == f"{_error_file(name)}:{line}: {message}\n"


def test_every_bad_fixture_is_covered() -> None:
    fixtures = {p.name for p in BAD.glob("*.json")} - {"include-loop-b.json"}
    assert fixtures == set(CASES)


def test_good_schema_checks_for_every_symbol_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", str(GOOD)]) == 0
    assert run(["check", str(GOOD), "--define", "NEW"]) == 0
    assert run(["check", str(GOOD), "--define", "OLD", "--define", "NEW"]) == 0
    assert capsys.readouterr().err == ""


def test_conditions_prune_entities_members_values_and_branches() -> None:
    new = Schema(str(GOOD), frozenset({"NEW"}))
    old = Schema(str(GOOD), frozenset({"OLD"}))
    assert "OnlyNew" in new.entities and "OnlyOld" not in new.entities
    assert "OnlyOld" in old.entities and "get-old" in old.entities
    assert "get-new" not in old.entities
    colour = old.entities["Colour"]
    assert [v.name for v in colour.values] == ["red", "green", "x-grey"]  # type: ignore[attr-defined]
    holder = new.entities["Holder"]
    assert [m.name for m in holder.members] == ["value", "opt-value", "where", "new"]  # type: ignore[attr-defined]
    shape = old.entities["Shape"]
    # 'square' is compiled out under OLD, so it falls back to the empty branch.
    assert [(v.name, v.type.name) for v in shape.variants] == [  # type: ignore[attr-defined]
        ("circle", "Circle"), ("square", "q_empty"), ("blob", "q_empty")]


def test_condition_mismatch_is_an_error_only_in_the_affected_profile(tmp_path: Path) -> None:
    schema = tmp_path / "s.json"
    schema.write_text("{ 'struct': 'New', 'data': {}, 'if': 'SINCE_7_2' }\n"
                      "{ 'command': 'c', 'returns': 'New' }\n")
    Schema(str(schema), frozenset({"SINCE_2_9", "SINCE_7_2"}))
    with pytest.raises(QAPIError, match="'returns' of command 'c' uses unknown type 'New'"):
        Schema(str(schema), frozenset({"SINCE_2_9"}))
    assert run(["check", str(schema)]) == 1


def test_alternate_branch_may_be_an_array() -> None:
    # QEMU 7.1+ (StatsValue): the array branch is the one a JSON array takes.
    sample = Schema(str(GOOD), frozenset()).entities["Sample"]
    assert isinstance(sample, AlternateType)
    kinds = [(v.name, v.type.name, v.type.json_type()) for v in sample.variants]
    assert kinds == [("scalar", "uint64", "int"), ("flag", "bool", "boolean"),
                     ("list", "uint64List", "array")]
    array = sample.variants[2].type
    assert isinstance(array, ArrayType) and array.element.name == "uint64"
