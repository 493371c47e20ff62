"""The QAPI-language reader: values, comments, doc blocks, includes, pragmas, positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmpnuma.qapi.error import QAPIError
from qmpnuma.qapi.parser import key_line, parse_schema

GOOD = Path(__file__).parent / "qapi" / "good"


def _parse_text(tmp_path: Path, text: str) -> list[dict[str, object]]:
    path = tmp_path / "s.json"
    path.write_text(text)
    return [e.expr for e in parse_schema(str(path)).exprs]


def test_good_fixture_parses_with_includes_once() -> None:
    parsed = parse_schema(str(GOOD / "qapi-schema.json"))
    top = str(GOOD / "qapi-schema.json")
    assert parsed.files == [top, str(GOOD / "types.json"), str(GOOD / "commands.json")]
    includes = [e.expr["include"] for e in parsed.exprs if "include" in e.expr]
    assert includes == [str(GOOD / "types.json"), str(GOOD / "commands.json")]
    names = [e.expr.get("struct") for e in parsed.exprs if "struct" in e.expr]
    assert names.count("Limits") == 1
    assert parsed.pragma == {"doc-required": False}


def test_doc_block_is_attached_to_the_next_definition() -> None:
    parsed = parse_schema(str(GOOD / "qapi-schema.json"))
    kinds = ("enum", "struct", "union", "alternate", "command", "event")
    by_name = {e.expr[k]: e for e in parsed.exprs for k in kinds if k in e.expr}
    colour = by_name["Colour"]
    assert colour.doc == "@Colour:\n\nA colour with a conditional value."
    assert by_name["Limits"].doc == "@Limits: integer ranges of every built-in width."
    assert by_name["Base"].doc is None
    assert "= Types" in parsed.free_docs
    assert colour.info.fname == str(GOOD / "types.json")
    assert colour.info.line == 10


def test_values_strings_escapes_bools_lists(tmp_path: Path) -> None:
    exprs = _parse_text(tmp_path, "# comment\n{ 'a': 'it\\'s', 'b': [ true, false, {} ],\n"
                                  "  'c': [], 'd': 'tab\\there' }  # trailing\n{'e':'f'}\n")
    assert exprs == [{"a": "it's", "b": [True, False, {}], "c": [], "d": "tab\there"},
                     {"e": "f"}]


def test_key_lines_are_remembered(tmp_path: Path) -> None:
    (expr,) = _parse_text(tmp_path, "{ 'struct': 'S',\n  'data': {\n    'a': 'int',\n"
                                    "    'b': 'str' } }\n")
    data = expr["data"]
    assert key_line(data, "a", 0) == 3
    assert key_line(data, "b", 0) == 4
    assert key_line(data, "zz", 99) == 99


@pytest.mark.parametrize(("text", "line", "message"), [
    ("{ 'a': 'b' }\n'x'\n", 2, "expected '{'"),
    ("{ 'a' 'b' }", 1, "expected ':'"),
    ("{ 'a': 'b' 'c': 'd' }", 1, "expected ',' or '}'"),
    ("{ 'a': 'b', }", 1, "expected string"),
    ("{ 1 }", 1, "stray '1'"),
    ("{ 'a': [ 'b' 'c' ] }", 1, "expected ',' or ']'"),
    ("{ 'a': [ , ] }", 1, "expected value or ']'"),
    ("{ 'a': 'b', 'a': 'c' }", 1, "duplicate key 'a'"),
    ("{ 'a': 'b\\q' }", 1, "unknown escape \\q"),
    ("{ 'a':\n  'b\n' }", 2, "missing terminating \"'\""),
    ("{ 'a': 'b\x01' }", 1, "funny character in string"),
    ("{ 'a': }", 1, "expected value"),
    ("{ 'include': 'x.json', 'if': 'A' }", 1, "invalid 'include' directive"),
    ("{ 'pragma': { 'nope': true } }", 1, "unknown pragma 'nope'"),
    ("{ 'pragma': { 'doc-required': 'yes' } }", 1, "pragma 'doc-required' must be boolean"),
])
def test_syntax_errors(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(QAPIError) as caught:
        _parse_text(tmp_path, text)
    assert str(caught.value) == f"{tmp_path / 's.json'}:{line}: {message}"


def test_include_is_relative_to_the_including_file(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "inner.json").write_text("{ 'include': 'leaf.json' }\n")
    (sub / "leaf.json").write_text("{ 'enum': 'E', 'data': [ 'a' ] }\n")
    (tmp_path / "top.json").write_text("{ 'include': 'sub/inner.json' }\n"
                                       "{ 'include': 'sub/leaf.json' }\n")
    parsed = parse_schema(str(tmp_path / "top.json"))
    assert [e.expr for e in parsed.exprs if "enum" in e.expr] == [{"enum": "E", "data": ["a"]}]
    assert parsed.files[-1] == str(sub / "leaf.json")


def test_missing_top_file_is_reported(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.json")
    with pytest.raises(QAPIError, match="can't read schema file"):
        parse_schema(missing)
