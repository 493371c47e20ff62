"""QEMU's keyval syntax (``util/keyval.c``) and the JSON option form.

In QEMU 7.2 keyval parses ``-smp`` and ``-machine``/``-M`` (both merged into the machine's
property dict); ``-object`` and ``-device`` use QemuOpts unless their argument starts with
``{``, in which case it is JSON (see :func:`is_json_form` and :func:`parse_json_option`,
which relies on the QMP core's pure JSON parser, :mod:`qmpnuma.qobject.json_parser`).

Reproduced behaviour:

* ``key=value`` elements separated by ``,``; in values ``,,`` is one comma;
* keys are dotted paths ``a.b.c``; each fragment is a QAPI name (a letter, then letters,
  digits, ``-``, ``_``; downstream ``__RFQDN_`` prefixes allowed) or, after the first, a
  decimal list index; anything else is ``Invalid parameter 'KEY'``;
* the first element may leave out ``key=`` when there is an implied key; its value then ends
  at the first ``,`` or ``=`` (``,,`` is *not* an escape there);
* a bare ``help`` or ``?`` element asks for help;
* repeating a key replaces its value; mixing ``a=…`` and ``a.b=…`` is an error;
* dicts whose keys are all indices become lists (``a.0=x,a.1=y``) and must be dense.

:func:`keyval_parse` returns nested dicts/lists of strings; key order inside a dict is the
order in which keys first appeared (QEMU's own iteration order is derived from it where it
matters, see :mod:`qmpnuma.qobject.hashing`).
"""

from __future__ import annotations

from typing import Any

from qmpnuma.errors import OptionError
from qmpnuma.qobject.hashing import qdict_order
from qmpnuma.records import record

#: Longest key fragment keyval accepts (QEMU's ``key_in_cur`` buffer is 128 bytes).
KEY_FRAGMENT_MAX = 127

KeyvalTree = dict[str, Any]


@record
class KeyvalResult:
    """What keyval parsing produced: the tree and whether help was asked for."""

    tree: KeyvalTree
    help: bool = False


def _qapi_name_length(text: str, pos: int) -> int:
    """Length of the QAPI name starting at ``pos`` (0 if there is none)."""
    start = pos
    if text[pos : pos + 1] == "_":
        pos += 1
        if text[pos : pos + 1] != "_":
            return 0
        pos += 1
        while pos < len(text) and (_isalnum(text[pos]) or text[pos] in "-."):
            pos += 1
        if text[pos : pos + 1] != "_":
            return 0
        pos += 1
    if not (pos < len(text) and text[pos].isascii() and text[pos].isalpha()):
        return 0
    pos += 1
    while pos < len(text) and (_isalnum(text[pos]) or text[pos] in "-_"):
        pos += 1
    return pos - start


def _isalnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _index_length(text: str, pos: int) -> int:
    """Length of the decimal list index at ``pos`` (0 if there is none)."""
    end = pos
    while end < len(text) and text[end] in "0123456789":
        end += 1
    return end - pos


def key_to_index(key: str) -> int | None:
    """The list index a whole key fragment stands for, or None (QEMU's ``key_to_index``)."""
    if not key or key[0] not in "0123456789":
        return None
    if not key.isdigit():
        return None
    return min(int(key), 2**31 - 1)


def _starts_with_help(text: str, pos: int) -> int:
    """Length of a ``help``/``?`` word at ``pos`` followed by end, ``,`` or ``=``."""
    for word in ("help", "?"):
        if text.startswith(word, pos):
            after = pos + len(word)
            if after == len(text) or text[after] in ",=":
                return len(word)
    return 0


def _put(
    cur: dict[str, Any], fragment: str, value: str | None, typed: str, cursor: int
) -> dict[str, Any] | None:
    """Store a value (or descend into a dict when ``value`` is None) like ``keyval_parse_put``."""
    old = cur.get(fragment)
    if old is not None:
        if isinstance(old, str) != (value is not None):
            raise OptionError(f"Parameters '{typed[:cursor]}.*' used inconsistently")
        if value is None:
            assert isinstance(old, dict)
            return old
    if value is None:
        new: dict[str, Any] = {}
        cur[fragment] = new
        return new
    cur[fragment] = value
    return None


def _parse_one(
    tree: dict[str, Any], text: str, pos: int, implied_key: str | None
) -> tuple[int, bool]:
    """Parse the element at ``pos``; return the next position and whether it asked for help."""
    length = 0
    while pos + length < len(text) and text[pos + length] not in "=,":
        length += 1
    key = text
    key_start = pos
    key_end = pos + length
    value_end: int | None = None
    if length and (key_end == len(text) or text[key_end] != "="):
        if _starts_with_help(text, pos) == length:
            after = key_end + 1 if key_end < len(text) else key_end
            return after, True
        if implied_key is not None:
            value_end = key_end
            key = implied_key
            key_start = 0
            key_end = len(implied_key)
    typed = key[key_start:key_end]
    cur = tree
    s = key_start
    fragment = ""
    while True:
        index_len = _index_length(key, s) if s != key_start else 0
        frag_len = index_len if index_len else _qapi_name_length(key[:key_end], s)
        if not frag_len or (s + frag_len < key_end and key[s + frag_len] != "."):
            raise OptionError(f"Invalid parameter '{typed}'")
        if frag_len > KEY_FRAGMENT_MAX:
            whole = s == key_start and s + frag_len == key_end
            raise OptionError(
                f"Parameter{'' if whole else ' fragment'} '{key[s:s + frag_len]}' is too long"
            )
        if s != key_start:
            descended = _put(cur, fragment, None, typed, s - 1 - key_start)
            assert descended is not None
            cur = descended
        fragment = key[s : s + frag_len]
        s += frag_len
        if s >= key_end or key[s] != ".":
            break
        s += 1
    if value_end is not None:
        value = text[pos:value_end]
        nxt = value_end + 1 if value_end < len(text) else value_end
    else:
        if s >= len(text) or text[s] != "=":
            raise OptionError(f"Expected '=' after parameter '{text[pos:s]}'")
        s += 1
        chars: list[str] = []
        while s < len(text):
            if text[s] == ",":
                s += 1
                if s >= len(text) or text[s] != ",":
                    break
            chars.append(text[s])
            s += 1
        value = "".join(chars)
        nxt = s
    _put(cur, fragment, value, typed, key_end - key_start)
    return nxt, False


def _listify(cur: dict[str, Any], path: list[str]) -> dict[str, Any] | list[Any]:
    """Turn dicts keyed only by indices into lists, as ``keyval_listify`` does."""
    has_index = has_member = False
    for key in qdict_order(cur):
        if key_to_index(key) is not None:
            has_index = True
        else:
            has_member = True
        child = cur[key]
        if isinstance(child, dict):
            cur[key] = _listify(child, [*path, key])
    prefix = "".join(part + "." for part in path)
    if has_index and has_member:
        raise OptionError(f"Parameters '{prefix}*' used inconsistently")
    if not has_index:
        return cur
    slots = len(cur) + 1
    elements: list[Any] = [None] * slots
    max_index = -1
    for key in qdict_order(cur):
        index = key_to_index(key)
        assert index is not None
        max_index = max(max_index, index)
        if index >= slots - 1:
            continue
        elements[index] = cur[key]
    result: list[Any] = []
    for i in range(min(slots, max_index + 1)):
        if elements[i] is None:
            raise OptionError(f"Parameter '{prefix}{i}' missing")
        result.append(elements[i])
    return result


def keyval_parse(
    text: str, implied_key: str | None = None, *, into: KeyvalTree | None = None
) -> KeyvalResult:
    """Parse a keyval string (``keyval_parse_into``); ``into`` merges into an earlier tree.

    Raises :class:`OptionError` with QEMU's text.
    """
    tree: dict[str, Any] = into if into is not None else {}
    wants_help = False
    pos = 0
    first = implied_key
    while pos < len(text):
        pos, asked = _parse_one(tree, text, pos, first)
        wants_help = wants_help or asked
        first = None
    listed = _listify(tree, [])
    assert isinstance(listed, dict)
    return KeyvalResult(listed, wants_help)


def keyval_merge(dest: KeyvalTree, merged: KeyvalTree) -> None:
    """Merge one keyval tree into another as ``keyval_merge`` does (``-smp`` into ``-machine``).

    Dicts merge member by member, lists are appended to, strings replace; a member that is a
    dict on one side and not on the other is ``Parameter 'PATH' used inconsistently``.
    """
    _merge_into(dest, merged, "")


def _merge_into(dest: dict[str, Any], merged: dict[str, Any], prefix: str) -> None:
    for key in qdict_order(merged):
        value = merged[key]
        old = dest.get(key)
        if old is not None:
            if type(old) is not type(value):
                raise OptionError(f"Parameter '{prefix}{key}' used inconsistently")
            if isinstance(value, dict):
                _merge_into(old, value, f"{prefix}{key}.")
                continue
            if isinstance(value, list):
                old.extend(value)
                continue
        dest[key] = value


def is_json_form(text: str) -> bool:
    """QEMU treats an ``-object``/``-device`` argument as JSON exactly when it starts with ``{``."""
    return text.startswith("{")


def parse_json_option(text: str) -> dict[str, Any]:
    """Parse the JSON form of ``-object``/``-device`` as ``qobject_from_json`` does.

    QEMU's own JSON lexer and parser are used (single-quoted strings accepted, QEMU's
    ``JSON parse error, ...`` texts, ``duplicate key``); a value followed by anything else is
    ``Expecting at most one JSON value`` and an unfinished value ``premature EOI``.
    """
    # The lexer/parser is shared with the QMP core; it is pure code without I/O.
    from qmpnuma.qobject.json_parser import JsonError, JsonStreamer

    # A trailing blank ends a pending number or keyword (QEMU flushes the lexer at the end)
    # without changing an unfinished string.
    events = JsonStreamer().feed(text.encode("utf-8", "surrogateescape") + b" ")
    if not events:
        raise OptionError("JSON parse error, premature EOI")
    first = events[0]
    if isinstance(first, JsonError):
        raise OptionError(first.text)
    if len(events) > 1:
        raise OptionError("Expecting at most one JSON value")
    if not isinstance(first, dict):
        raise OptionError("Invalid parameter type for '<anonymous>', expected: object")
    return first
