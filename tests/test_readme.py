"""The README's promises that code can check: the list of accepted-but-unmodelled options."""

from __future__ import annotations

import re
from pathlib import Path

from qmpnuma.machine.machine import UNMODELLED_OPTIONS

README = Path(__file__).resolve().parents[1] / "README.md"


def render_unmodelled() -> str:
    """The README block listing the options accepted but not modelled."""
    names = sorted(UNMODELLED_OPTIONS, key=lambda n: (n.lower(), n))
    return " ".join(f"`-{name}`" for name in names)


def test_readme_lists_the_unmodelled_options() -> None:
    text = README.read_text()
    match = re.search(
        r"<!-- unmodelled-options:start -->\n(.*?)\n?<!-- unmodelled-options:end -->", text, re.S
    )
    assert match, "README lacks the unmodelled-options block"
    assert match.group(1).strip() == render_unmodelled()


def test_readme_names_the_two_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text
