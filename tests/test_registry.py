"""The handler registry: one handler per QMP command name, refused at import otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from fresh_interpreter import probe_lines

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


def test_the_lazy_index_names_each_handlers_module() -> None:
    """`CommandRegistry` imports one handler module per first use of a command, found in
    `HANDLER_MODULES`; that table must agree with where every handler registers (a command
    added without its row fails here)."""
    from qmpnuma.commands.dispatch import HANDLER_MODULES

    load_handlers()
    registered = {name: handler.__module__.rsplit(".", 1)[1] for name, handler in HANDLERS.items()}
    assert registered == HANDLER_MODULES


def test_a_fresh_registry_imports_only_what_a_query_needs() -> None:
    """`query-memdev` on a fresh interpreter loads its own handler module, not HMP or QOM."""
    code = (
        "import sys\n"
        "from qmpnuma.machine import Machine\n"
        "from qmpnuma.commands.dispatch import CommandRegistry\n"
        "registry = CommandRegistry(Machine.from_argv(['-m', '1G']))\n"
        "print(len(registry.execute('query-memdev', {})))\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('qmpnuma.commands.'))))\n"
    )
    count, modules = probe_lines(code)
    assert count == "1"  # the implicit pc.ram backend
    assert "qmpnuma.commands.memory" in modules.split()
    assert "qmpnuma.commands.hmp" not in modules.split()
    assert "qmpnuma.commands.qom" not in modules.split()
