"""The HMP line editor (sans-IO): the echo QEMU's readline writes, and the lines it completes.

The byte-for-byte comparison with the real binary is `test_chardev_client.py`'s HMP transcript;
these pin the editor's own rules, including what it leaves out (escape sequences).
"""

from __future__ import annotations

from qmpnuma.server.readline import Completed, LineEditor


def test_each_byte_redraws_the_line() -> None:
    assert LineEditor().feed(b"ab") == [b"a\x1b[K", b"\x1b[Dab\x1b[K"]


def test_enter_completes_and_resets() -> None:
    editor = LineEditor()
    out = editor.feed(b"hi\rx\n")
    assert out == [b"h\x1b[K", b"\x1b[Dhi\x1b[K", b"\r\n", Completed("hi"),
                   b"x\x1b[K", b"\r\n", Completed("x")]


def test_backspace_and_delete_remove_the_last_byte() -> None:
    editor = LineEditor()
    editor.feed(b"abc")
    assert editor.feed(b"\x7f") == [b"\x1b[D\x1b[D\x1b[Dab\x1b[K"]
    assert editor.feed(b"\x08\x08\x08") == [b"\x1b[D\x1b[Da\x1b[K", b"\x1b[D\x1b[K"]
    assert editor.feed(b"\n") == [b"\r\n", Completed("")]


def test_escape_sequences_and_control_bytes_change_nothing() -> None:
    editor = LineEditor()
    editor.feed(b"ab")
    assert editor.feed(b"\x1b[A\x1bOD\x01\x05") == []
    assert editor.feed(b"\n") == [b"\r\n", Completed("ab")]
