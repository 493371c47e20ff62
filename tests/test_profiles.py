"""A profile is data: what a version consists of, and that no code outside the profiles package
compares version strings."""

from __future__ import annotations

import pickle
import re
from dataclasses import fields, replace
from pathlib import Path

import pytest

from qmpnuma.machine.machine_types import MachineType, machine_types, resolve_machine_type
from qmpnuma.profiles import (
    DEFAULT_PROFILE,
    KNOWN_PROFILES,
    PROFILE_NAMES,
    Profile,
    get_profile,
    qapi_symbols,
    wire_types,
)
from qmpnuma.profiles.compat import COMPAT_ROWS, compat_rows
from qmpnuma.profiles.registry import all_qapi_symbols, profile_module

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qmpnuma"

#: A version literal or a comparison of a profile (the grep of issue 10).
VERSION_TEST = re.compile(r'"(2\.9|7\.2|10\.0)"|profile ?[!=]= ?')


def _code_files() -> list[Path]:
    skipped = (PACKAGE / "profiles", PACKAGE / "types")
    return sorted(path for path in PACKAGE.rglob("*.py")
                  if not any(path.is_relative_to(folder) for folder in skipped))


def test_no_version_literal_or_profile_comparison_outside_the_profiles_package() -> None:
    files = _code_files()
    assert len(files) > 50, "the package was not found"
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if VERSION_TEST.search(line)
    ]
    assert hits == [], "ask the profile a question instead:\n" + "\n".join(hits)


def test_the_grep_finds_what_it_is_meant_to_find() -> None:
    for line in ('if profile == "2.9":', 'x = self.profile != other', 'name = "10.0"'):
        assert VERSION_TEST.search(line), line
    assert not VERSION_TEST.search("profile.smp_accepts_dies and version <= (5, 0)")


# -- what a version consists of -----------------------------------------------------------


@pytest.mark.parametrize("profile", KNOWN_PROFILES, ids=lambda p: p.name)
def test_profile_listing(profile: Profile) -> None:
    """One module, its compat rows, its data files: everything a version needs is there."""
    suffix = profile.module_suffix
    # 1. the module that builds it
    module = profile_module(profile)
    assert module.__name__ == f"qmpnuma.profiles.qemu_{suffix}"
    assert Path(module.__file__ or "").name == f"qemu_{suffix}.py"
    assert get_profile(profile.name) is profile
    # 2. compat rows: every flag a row of its release sets has a newest value per family
    for row in compat_rows(profile.release):
        assert row.version < profile.release
        for family in row.families:
            assert set(row.settings) <= set(profile.machines.newest[family]), (row, family)
    # 3. data files: generated wire types, recorded facts
    types = PACKAGE / "types"
    for name in (f"tables_{suffix}.py", f"qapi_{suffix}.py", f"introspect_{suffix}.json"):
        assert (types / name).is_file(), name
    makefile = (ROOT / "Makefile").read_text()
    assert f"--profile {profile.name} " in makefile, "make schemas does not generate it"
    for name in profile.facts_files.values():
        assert (PACKAGE / "data" / name).is_file(), name
    assert wire_types(profile).COMMANDS


def test_registry() -> None:
    assert DEFAULT_PROFILE is get_profile() is get_profile("10.0")
    assert PROFILE_NAMES[0] == DEFAULT_PROFILE.name
    assert [p.name for p in KNOWN_PROFILES] == ["2.9", "7.2", "10.0"]  # oldest first
    assert [p.release for p in KNOWN_PROFILES] == sorted(p.release for p in KNOWN_PROFILES)
    with pytest.raises(ValueError, match=r"unknown profile '9\.9'; known: 10\.0, 7\.2, 2\.9"):
        get_profile("9.9")
    for profile in KNOWN_PROFILES:
        assert get_profile(profile) is profile
        assert pickle.loads(pickle.dumps(profile)) is profile


def test_greeting_facts() -> None:
    assert DEFAULT_PROFILE.version == (10, 0, 2)
    assert DEFAULT_PROFILE.qmp_capabilities == ("oob",)
    assert get_profile("7.2").version == (7, 2, 22)
    assert get_profile("7.2").qmp_capabilities == ("oob",)
    assert get_profile("2.9").version == (2, 9, 0)
    assert get_profile("2.9").qmp_capabilities == ()


# -- since-symbols ------------------------------------------------------------------------


def test_since_symbols_follow_the_ordered_versions() -> None:
    old, new = get_profile("2.9"), get_profile("7.2")
    assert qapi_symbols(old) == {"SINCE_2_9"}
    assert qapi_symbols(new) == {"SINCE_2_9", "SINCE_7_2"}
    assert qapi_symbols(get_profile("10.0")) == {"SINCE_2_9", "SINCE_7_2", "SINCE_10_0"}
    assert all_qapi_symbols() == {"SINCE_2_9", "SINCE_7_2", "SINCE_10_0"}
    future = replace(new, name="11.0", version=(11, 0, 0))
    assert qapi_symbols(future) == {"SINCE_2_9", "SINCE_7_2", "SINCE_10_0", "SINCE_11_0"}


def test_schemas_use_only_since_symbols() -> None:
    """Every condition symbol (all capitals; type names are not) is a profile's since-symbol."""
    symbols: set[str] = set()
    for path in (ROOT / "schemas").glob("*.json"):
        code = "\n".join(line for line in path.read_text().splitlines()
                         if not line.lstrip().startswith("#"))
        symbols |= set(re.findall(r"'(?:if|not)':\s*'([A-Z][A-Z0-9_]*)'", code))
    assert symbols, "no conditions found"
    assert symbols <= all_qapi_symbols(), symbols - all_qapi_symbols()


# -- compat rows --------------------------------------------------------------------------


def test_compat_rows_name_machine_type_fields() -> None:
    names = {field.name for field in fields(MachineType)}
    for row in COMPAT_ROWS:
        assert set(row.settings) <= names, row
        assert row.families <= {"pc", "q35"}


def test_a_machine_type_gets_every_row_of_its_version_and_older() -> None:
    p72, p29 = get_profile("7.2"), get_profile("2.9")
    # pc-i440fx-5.0: rows 6.1 and 5.0, not 2.10
    t = resolve_machine_type("pc-i440fx-5.0", p72)
    assert t.prefer_sockets and t.numa_mem_supported and not t.auto_enable_numa_with_memdev
    assert t.auto_enable_numa_with_memhp
    # the deprecation row exists since 7.0 only
    assert resolve_machine_type("pc-i440fx-1.7", p72).deprecated
    assert not resolve_machine_type("pc-i440fx-1.7", p29).deprecated
    assert not any(t.deprecated for t in machine_types(p29))
    # the newest type of each family has exactly the profile's newest flags
    for profile in (p72, p29):
        for alias in ("pc", "q35"):
            newest = resolve_machine_type(alias, profile)
            for name, value in profile.machines.newest[newest.family].items():
                assert getattr(newest, name) == value, (profile, alias, name)
