"""The handler registry: one handler per QMP command name, refused at import otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from qmpnuma.commands.dispatch import load_handlers
from qmpnuma.commands.registry import HANDLERS, CommandContext, DuplicateCommand, command


def test_a_second_handler_for_a_name_is_refused() -> None:
    load_handlers()
    first = HANDLERS["qom-list"]

    def other(ctx: CommandContext, args: dict[str, Any]) -> Any:
        return []

    with pytest.raises(DuplicateCommand, match=r"'qom-list' is handled by qmpnuma\.commands\.qom"):
        command("qom-list")(other)
    assert HANDLERS["qom-list"] is first


def test_qom_commands_have_one_home() -> None:
    load_handlers()
    assert {HANDLERS[name].__module__ for name in ("qom-list", "qom-get", "qom-set")} == {
        "qmpnuma.commands.qom"
    }
