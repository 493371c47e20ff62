"""Reading QAPI schema files into plain expressions.

The QAPI language is JSON with a few twists: strings are single-quoted, ``#`` starts a
comment, a comment block opened and closed by a ``##`` line is documentation for the
definition that follows, ``{'include': 'file'}`` pulls in another file (relative to the
including one, each file at most once) and ``{'pragma': {...}}`` sets options.  This module
only knows the syntax; what the expressions mean is checked by :mod:`qmpnuma.qapi.check`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from qmpnuma.qapi.error import QAPIError, SourceInfo

#: Escapes allowed after a backslash inside a string, and the character each stands for.
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "/": "/", "b": "\b", "f": "\f", "n": "\n",
            "r": "\r", "t": "\t"}
_PUNCTUATION = "{}[],:"


@dataclass
class Expression:
    """One top-level expression with where it starts and the doc block written just before."""

    expr: dict[str, Any]
    info: SourceInfo
    doc: str | None = None


class KeyedDict(dict[str, Any]):
    """A parsed object that also remembers the line each key was written on."""

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[str, int] = {}


def key_line(obj: Any, key: str, default: int) -> int:
    """The line ``key`` of a parsed object was written on (``default`` if unknown)."""
    return obj.key_lines.get(key, default) if isinstance(obj, KeyedDict) else default


@dataclass
class _Token:
    """A lexical token: punctuation (its own char), ``'str'`` / ``'bool'`` values, or EOF."""

    kind: str
    value: Any
    line: int


@dataclass
class ParsedSchema:
    """Everything read from a top file and its includes, in reading order."""

    exprs: list[Expression] = field(default_factory=list)
    pragma: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    free_docs: list[str] = field(default_factory=list)


class _FileLexer:
    """Splits one file's text into tokens and doc blocks, tracking line numbers."""

    def __init__(self, fname: str, text: str) -> None:
        self.fname = fname
        self.text = text
        self.pos = 0
        self.line = 1
        self.docs: list[tuple[int, str]] = []

    def error(self, message: str, line: int | None = None) -> QAPIError:
        return QAPIError(self.fname, self.line if line is None else line, message)

    def _rest_of_line(self) -> str:
        end = self.text.find("\n", self.pos)
        return self.text[self.pos:] if end < 0 else self.text[self.pos:end]

    def _skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def _read_doc_block(self) -> None:
        """Collect a ``##`` ... ``##`` block; the opening ``##`` line is at self.pos."""
        start = self.line
        self._skip_line()
        lines: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("documentation comment must end with '##'", start)
            self.pos += 1  # the newline
            self.line += 1
            raw = self._rest_of_line().strip()
            if not raw.startswith("#"):
                raise self.error("documentation comment must end with '##'")
            self._skip_line()
            if raw == "##":
                break
            body = raw[1:]
            lines.append(body[1:] if body.startswith(" ") else body)
        self.docs.append((start, "\n".join(lines)))

    def next(self) -> _Token:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "\n":
                self.line += 1
                self.pos += 1
            elif ch in " \t\r":
                self.pos += 1
            elif ch == "#":
                if self._rest_of_line().rstrip() == "##":
                    self._read_doc_block()
                else:
                    self._skip_line()
            elif ch in _PUNCTUATION:
                self.pos += 1
                return _Token(ch, ch, self.line)
            elif ch == "'":
                return self._string()
            elif text.startswith("true", self.pos) or text.startswith("false", self.pos):
                word = "true" if text.startswith("true", self.pos) else "false"
                self.pos += len(word)
                return _Token("bool", word == "true", self.line)
            else:
                raise self.error(f"stray '{ch}'")
        return _Token("eof", None, self.line)

    def _string(self) -> _Token:
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text) or self.text[self.pos] == "\n":
                raise self.error("missing terminating \"'\"")
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "'":
                return _Token("str", "".join(out), self.line)
            if ch == "\\":
                esc = self.text[self.pos] if self.pos < len(self.text) else ""
                if esc not in _ESCAPES:
                    raise self.error(f"unknown escape \\{esc}")
                self.pos += 1
                out.append(_ESCAPES[esc])
            elif ord(ch) < 32 or ord(ch) >= 127:
                raise self.error("funny character in string")
            else:
                out.append(ch)


class _FileParser:
    """Recursive-descent parser for the JSON-like values of one file."""

    def __init__(self, lexer: _FileLexer) -> None:
        self.lexer = lexer
        self.tok = lexer.next()

    def advance(self) -> None:
        self.tok = self.lexer.next()

    def error(self, message: str) -> QAPIError:
        return self.lexer.error(message, self.tok.line)

    def value(self) -> Any:
        tok = self.tok
        if tok.kind == "{":
            return self.object()
        if tok.kind == "[":
            return self.array()
        if tok.kind in ("str", "bool"):
            self.advance()
            return tok.value
        raise self.error("expected value")

    def object(self) -> dict[str, Any]:
        self.advance()
        result = KeyedDict()
        if self.tok.kind == "}":
            self.advance()
            return result
        while True:
            if self.tok.kind != "str":
                raise self.error("expected string or '}'" if not result else "expected string")
            key = self.tok.value
            if key in result:
                raise self.error(f"duplicate key '{key}'")
            result.key_lines[key] = self.tok.line
            self.advance()
            if self.tok.kind != ":":
                raise self.error("expected ':'")
            self.advance()
            result[key] = self.value()
            if self.tok.kind == "}":
                self.advance()
                return result
            if self.tok.kind != ",":
                raise self.error("expected ',' or '}'")
            self.advance()

    def array(self) -> list[Any]:
        self.advance()
        result: list[Any] = []
        if self.tok.kind == "]":
            self.advance()
            return result
        while True:
            if self.tok.kind not in ("{", "[", "str", "bool"):
                raise self.error("expected value or ']'" if not result else "expected value")
            result.append(self.value())
            if self.tok.kind == "]":
                self.advance()
                return result
            if self.tok.kind != ",":
                raise self.error("expected ',' or ']'")
            self.advance()


def _parse_file(fname: str, result: ParsedSchema, stack: list[str]) -> None:
    """Append the expressions of ``fname`` (and of what it includes) to ``result``."""
    with open(fname, encoding="utf-8") as handle:
        text = handle.read()
    result.files.append(fname)
    lexer = _FileLexer(fname, text)
    parser = _FileParser(lexer)
    while parser.tok.kind != "eof":
        if parser.tok.kind != "{":
            raise parser.error("expected '{'")
        info = SourceInfo(fname, parser.tok.line)
        docs_before = len(lexer.docs)
        expr = parser.object()
        # Doc blocks read while lexing this expression's first token belong before it.
        pending = lexer.docs[:docs_before]
        lexer.docs = lexer.docs[docs_before:]
        doc: str | None = None
        if pending:
            result.free_docs.extend(text for _, text in pending[:-1])
            doc = pending[-1][1]
        if "include" in expr:
            _include(expr, info, result, stack)
            if doc is not None:
                result.free_docs.append(doc)
        elif "pragma" in expr:
            _pragma(expr, info, result)
            result.exprs.append(Expression(expr, info, doc))
        else:
            result.exprs.append(Expression(expr, info, doc))
    result.free_docs.extend(text for _, text in lexer.docs)


def _include(expr: dict[str, Any], info: SourceInfo, result: ParsedSchema,
             stack: list[str]) -> None:
    if len(expr) != 1:
        raise QAPIError.at(info, "invalid 'include' directive")
    target = expr["include"]
    if not isinstance(target, str):
        raise QAPIError.at(info, "value of 'include' must be a string")
    path = os.path.join(os.path.dirname(info.fname), target)
    real = os.path.realpath(path)
    if real in stack:
        raise QAPIError.at(info, f"inclusion loop for {target}")
    if real in (os.path.realpath(f) for f in result.files):
        return
    if not os.path.isfile(path):
        raise QAPIError.at(info, f"can't read include file '{path}': No such file or directory")
    result.exprs.append(Expression({"include": path}, info))
    _parse_file(path, result, [*stack, real])


def _pragma(expr: dict[str, Any], info: SourceInfo, result: ParsedSchema) -> None:
    if len(expr) != 1:
        raise QAPIError.at(info, "invalid 'pragma' directive")
    body = expr["pragma"]
    if not isinstance(body, dict):
        raise QAPIError.at(info, "value of 'pragma' must be an object")
    for name, value in body.items():
        if name == "doc-required":
            if not isinstance(value, bool):
                raise QAPIError.at(info, "pragma 'doc-required' must be boolean")
        elif name in ("command-name-exceptions", "command-returns-exceptions",
                      "member-name-exceptions"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise QAPIError.at(info, f"pragma {name} must be a list of strings")
        else:
            raise QAPIError.at(info, f"unknown pragma '{name}'")
        result.pragma[name] = value


def parse_schema(fname: str) -> ParsedSchema:
    """Read ``fname`` and everything it includes; raise :class:`QAPIError` on any mistake."""
    result = ParsedSchema()
    if not os.path.isfile(fname):
        raise QAPIError(fname, 1, f"can't read schema file '{fname}': No such file or directory")
    _parse_file(fname, result, [os.path.realpath(fname)])
    return result
