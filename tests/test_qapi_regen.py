"""The committed generated files are up to date: ``make schemas`` on a clean checkout is a no-op.

Each file is regenerated into a temporary directory with exactly the arguments the Makefile
uses (run from the repository root, so the schema path in the header matches) and compared
byte for byte with the committed one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qmpnuma.qapi.cli import run

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "schemas/qapi-schema.json"

#: generated file (relative to the repository root) → the qmpnuma-qapi arguments making it.
TARGETS: dict[str, list[str]] = {
    "qmpnuma/types/tables_7_2.py": ["tables", SCHEMA, "--profile", "7.2"],
    "qmpnuma/types/tables_2_9.py": ["tables", SCHEMA, "--profile", "2.9"],
    "qmpnuma/types/qapi_7_2.py": [
        "gen", SCHEMA, "--profile", "7.2", "--tables-module", "qmpnuma.types.tables_7_2"],
    "qmpnuma/types/qapi_2_9.py": [
        "gen", SCHEMA, "--profile", "2.9", "--tables-module", "qmpnuma.types.tables_2_9"],
    "qmpnuma/types/introspect_7_2.json": ["introspect", SCHEMA, "--profile", "7.2"],
    "qmpnuma/types/introspect_2_9.json": ["introspect", SCHEMA, "--profile", "2.9"],
}


def test_makefile_runs_these_commands() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    for target, args in TARGETS.items():
        assert f"qmpnuma-qapi {' '.join(args)} -o {target}" in makefile


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_generated_file_is_current(target: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if not (REPO_ROOT / SCHEMA).exists():
        pytest.skip("schemas/qapi-schema.json is not written yet")
    committed = REPO_ROOT / target
    assert committed.exists(), f"{target} is missing: run `make schemas`"
    monkeypatch.chdir(REPO_ROOT)
    fresh = tmp_path / Path(target).name
    assert run([*TARGETS[target], "-o", str(fresh)]) == 0
    assert fresh.read_bytes() == committed.read_bytes(), f"{target} is stale: run `make schemas`"


def test_generated_modules_import_and_agree() -> None:
    if not (REPO_ROOT / SCHEMA).exists():
        pytest.skip("schemas/qapi-schema.json is not written yet")
    from qmpnuma.types import qapi_2_9, qapi_7_2

    for module in (qapi_7_2, qapi_2_9):
        assert module.COMMANDS and module.MODELS
        for command in module.COMMANDS.values():
            for type_name in (command.arg_type, command.ret_type):
                assert type_name is None or type_name in module.SCHEMA
        for name, cls in module.MODELS.items():
            assert module.SCHEMA[name]["meta-type"] == "object"
            assert cls.__name__


def test_serving_path_builds_no_pydantic_models() -> None:
    """The server checks and answers from the generated tables alone; building the ~260
    pydantic model classes (most of a cold start) is left to those who ask for models."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "import qmpnuma.cli, qmpnuma.server.launch\n"
        "from qmpnuma.commands.dispatch import load_handlers; load_handlers()\n"
        "from qmpnuma.profiles import wire_types; wire_types('7.2'); wire_types('2.9')\n"
        "from qmpnuma.machine import Machine; Machine.from_argv(['-M', 'pc', '-m', '1G'])\n"
        "assert 'pydantic' not in sys.modules, 'pydantic imported on the serving path'\n"
        "assert not any(m.startswith('qmpnuma.types.qapi_') for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
