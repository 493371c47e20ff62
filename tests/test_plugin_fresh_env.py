"""Installing qmpnuma never breaks pytest, and the README's plugin example works as written.

qmpnuma registers a pytest plugin (entry point `pytest11`), so every pytest run in an environment
that has qmpnuma loads it. This test installs qmpnuma, non-editable, into a fresh virtual
environment with pytest but without pytest-asyncio, and checks there that an unrelated test still
passes, that a test using a qmpnuma fixture fails with what to install (not a plugin-loading
error), and, once pytest-asyncio is installed, that the README example passes in both of
pytest-asyncio's modes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE", "qmpnuma")

PLAIN_TEST = "def test_arithmetic():\n    assert 1 + 1 == 2\n"


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- plugin-example:start -->\n```python\n", 1)[1]
    return block.split("```\n<!-- plugin-example:end -->")[0]


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHON"))}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def pip_install(python: Path, *requirements: str, cwd: Path) -> None:
    done = run([str(python), "-m", "pip", "install", "--quiet", *requirements], cwd)
    if done.returncode != 0:
        reason = f"pip install {' '.join(requirements)} failed: {done.stderr[-2000:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A new virtual environment with qmpnuma (built from a copy of this repository, not
    editable) and pytest, but no pytest-asyncio; and a directory of test files."""
    root = tmp_path_factory.mktemp("fresh")
    source = root / "source"
    source.mkdir()
    for name in PROJECT_FILES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, source / name)
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip_install(python, str(source), "pytest", cwd=root)
    tests = root / "tests"
    tests.mkdir()
    (tests / "test_plain.py").write_text(PLAIN_TEST)
    (tests / "test_readme_example.py").write_text(readme_example())
    return python, tests


def test_plugin_without_pytest_asyncio(fresh_env: tuple[Path, Path]) -> None:
    python, tests = fresh_env
    probe = run([str(python), "-c", "import pytest_asyncio"], tests)
    assert probe.returncode != 0, "the fresh environment must not have pytest-asyncio"

    plain = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_plain.py"],
                tests)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "1 passed" in plain.stdout

    example = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "test_readme_example.py"], tests)
    assert example.returncode == 1, example.stdout + example.stderr  # a failed test, not exit 3
    assert "need pytest-asyncio" in example.stdout
    assert "pip install pytest-asyncio" in example.stdout


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_readme_example_in_fresh_env(fresh_env: tuple[Path, Path], mode: str) -> None:
    python, tests = fresh_env
    pip_install(python, "pytest-asyncio", cwd=tests)
    done = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "-o", f"asyncio_mode={mode}", "test_readme_example.py"], tests)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout

