"""The HMP monitor's line editor as a peer on its socket sees it (QEMU's `util/readline.c`).

Sans-IO: `LineEditor.feed` takes the bytes a peer sends and returns what QEMU's readline would
write back (the echo: after each byte that changes the line, the cursor goes back over the line
shown, the whole line is printed again and the rest of the terminal line cleared, as
`readline_update` does) and the lines completed by Enter (CR and LF each end a line). Printable
bytes are appended, Backspace and DEL remove the last one; escape sequences (arrow keys) are
consumed and otherwise ignored, as are other control characters: that is where this editor is
simpler than QEMU's (no cursor movement, history or completion).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ESC = 0x1B
ENTER = (0x0A, 0x0D)
BACKSPACE = (0x08, 0x7F)
CURSOR_LEFT = b"\x1b[D"
CLEAR_TO_END = b"\x1b[K"


@dataclass
class Completed:
    """A line the peer ended with Enter (without the line end)."""

    text: str


@dataclass
class LineEditor:
    """One HMP monitor's input line and what of it the peer's terminal shows."""

    line: bytearray = field(default_factory=bytearray)
    shown: bytes = b""
    _escape: int = 0  # 0: normal; 1: after ESC; 2: inside ESC [ or ESC O

    def feed(self, data: bytes) -> list[bytes | Completed]:
        """Echo bytes and completed lines, in the order QEMU produces them."""
        out: list[bytes | Completed] = []
        for byte in data:
            if self._escape == 1:
                self._escape = 2 if byte in b"[O" else 0
                continue
            if self._escape == 2:
                if 0x40 <= byte <= 0x7E:  # the final byte of the sequence
                    self._escape = 0
                continue
            if byte == ESC:
                self._escape = 1
            elif byte in ENTER:
                text = self.line.decode("utf-8", "replace")
                self.line.clear()
                self.shown = b""
                out.append(b"\r\n")
                out.append(Completed(text))
                continue
            elif byte in BACKSPACE:
                if self.line:
                    del self.line[-1]
            elif byte >= 0x20:
                self.line.append(byte)
            echo = self._update()
            if echo:
                out.append(echo)
        return out

    def _update(self) -> bytes:
        """`readline_update`: redraw the line when it changed since it was last shown."""
        current = bytes(self.line)
        if current == self.shown:
            return b""
        echo = CURSOR_LEFT * len(self.shown) + current + CLEAR_TO_END
        self.shown = current
        return echo
