"""The start bundle serves a cold start's modules from one file, and only while they are current.

`qmpnuma.start_bundle` keeps the code of the modules a start imports in one marshal stream; a
module is served from it only while its source has the modification time and size it was
compiled from, and a server writes it anew on its way out when its start set was not all in it
(never where cached bytecode may not be written). No timing is asserted: `make bench` measures.
"""

from __future__ import annotations

import dataclasses
import inspect
import marshal
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from qmpnuma import errors, records, start_bundle

PROBE = """
import json, sys
from qmpnuma import cli
args = ["qmpnuma", "--profile=10.0", "check", "-m", "2G", "-smp", "2",
        "-object", "memory-backend-ram,id=m0,size=1G",
        "-object", "memory-backend-ram,id=m1,size=1G",
        "-numa", "node,memdev=m0,cpus=0", "-numa", "node,memdev=m1,cpus=1"]
status = cli.main(args) if sys.argv[1] == "bundle" else cli._main(args)
bundled = sorted(name for name, module in list(sys.modules.items())
                 if type(getattr(getattr(module, "__spec__", None), "loader", None)).__name__
                 == "_BundleLoader")
print(json.dumps({"status": status, "bundled": bundled,
                  "on_meta_path": [type(f).__name__ for f in sys.meta_path]}))
"""


def _probe(mode: str) -> tuple[str, dict[str, object]]:
    import json

    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          check=True, timeout=60, cwd="/")
    *text, report = done.stdout.splitlines()
    return "\n".join(text), json.loads(report)


def test_a_start_reads_its_modules_from_the_bundle() -> None:
    """`python -m qmpnuma.start_bundle` (the install step) makes the bundle; a start then gets
    its model, option and protocol modules from it and prints what it prints without it."""
    made = subprocess.run([sys.executable, "-m", "qmpnuma.start_bundle"], capture_output=True,
                          text=True, check=True, timeout=120, cwd="/")
    assert made.stdout.startswith(start_bundle.bundle_path() + ": ")
    assert int(made.stdout.split(": ")[1].split()[0]) >= 40
    with_bundle, report = _probe("bundle")
    without, plain = _probe("plain")
    assert with_bundle == without and "node 1 cpus: 1" in with_bundle
    assert report["status"] == plain["status"] == 0
    bundled = report["bundled"]
    assert isinstance(bundled, list) and plain["bundled"] == []
    for name in ("qmpnuma.machine.machine", "qmpnuma.options.argv", "qmpnuma.profiles.profile",
                 "qmpnuma.machine.numa", "qmpnuma.start"):
        assert name in bundled
    assert len(bundled) >= 30
    assert "BundleFinder" not in report["on_meta_path"]  # taken off again on the way out


def _finder(path: Path, code_text: str) -> start_bundle.BundleFinder:
    stat = path.stat()
    code = compile(code_text, str(path), "exec")
    return start_bundle.BundleFinder.of(
        {"bundled_probe": (str(path), stat.st_mtime_ns, stat.st_size, code)})


def test_a_changed_source_is_read_from_its_file(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry is the module's code only while its source is unchanged, like a `.pyc`."""
    source = tmp_path / "bundled_probe.py"
    source.write_text("VALUE = 'file'\n")
    finder = _finder(source, "VALUE = 'bundle'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    monkeypatch.delitem(sys.modules, "bundled_probe", raising=False)
    import bundled_probe

    assert bundled_probe.VALUE == "bundle" and not finder.missed
    assert bundled_probe.__file__ == str(source)
    del sys.modules["bundled_probe"]
    source.write_text("VALUE = 'changed'\n")
    import bundled_probe as again

    assert again.VALUE == "changed" and finder.missed
    del sys.modules["bundled_probe"]


def test_a_server_writes_its_start_set_only_where_bytecode_may_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the way out a start whose modules were not all in the bundle writes its start set
    (never under `-B` / PYTHONDONTWRITEBYTECODE); a start that found them all writes nothing."""
    assert {errors.__name__, records.__name__} <= set(sys.modules)  # the start set is loaded
    target = tmp_path / "start-bundle.bin"
    monkeypatch.setattr(start_bundle, "bundle_path", lambda: str(target))
    finder = start_bundle.BundleFinder({})
    finder.missed = True
    finder.start_set = frozenset({"qmpnuma.errors", "qmpnuma.records"})
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert not start_bundle.refresh(finder) and not target.exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert start_bundle.refresh(finder)
    index, groups = start_bundle._read()  # empty unless of this interpreter and layout
    assert sorted(index) == ["qmpnuma.errors", "qmpnuma.records"]
    path, mtime_ns, size, _group, _cached = index["qmpnuma.errors"]
    assert (os.stat(path).st_mtime_ns, os.stat(path).st_size) == (mtime_ns, size)
    written = start_bundle.BundleFinder(index, groups)
    assert "QmpError" in written.code_of("qmpnuma.errors").co_names
    assert written.find_spec("qmpnuma.errors") is not None
    assert not start_bundle.refresh(finder)  # everything is in it now: nothing to write
    finder.start_set = frozenset({"qmpnuma.start_bundle"})  # another start set: added to it
    assert start_bundle.refresh(finder)
    index, groups = start_bundle._read()
    assert sorted(index) == ["qmpnuma.errors", "qmpnuma.records", "qmpnuma.start_bundle"]
    assert index["qmpnuma.start_bundle"][3] != index["qmpnuma.errors"][3]  # a group of its own


def test_the_bundle_groups_modules_by_the_profiles_that_import_them() -> None:
    """Each profile's start set is found in an interpreter of its own: the modules every start
    imports share one group, a profile's own generated tables are in a group that other
    profiles' starts never unmarshal, and functions carry no docstrings."""
    subprocess.run([sys.executable, "-m", "qmpnuma.start_bundle"], capture_output=True,
                   check=True, timeout=120, cwd="/")
    finder = start_bundle.BundleFinder(*start_bundle._read())
    group = {name: entry[3] for name, entry in finder.entries.items()}
    tables = [name for name in group if name.startswith("qmpnuma.types.tables_")]
    assert len(tables) >= 3 and len({group[name] for name in tables}) == len(tables)
    core = group["qmpnuma.machine.machine"]
    assert all(group[name] == core for name in ("qmpnuma.qmp.session", "qmpnuma.options.argv",
                                                "qmpnuma.server.runtime"))
    assert all(group[name] != core for name in tables)
    finder.code_of(tables[0])
    assert [codes is not None for codes in finder._codes].count(True) == 1
    session = finder.code_of("qmpnuma.qmp.session")
    assert _docstrings(session) == []
    with open(finder.entries["qmpnuma.qmp.session"][0], "rb") as source:
        assert len(_docstrings(compile(source.read(), "session.py", "exec"))) > 20
    spec = finder.find_spec("qmpnuma.qmp")
    assert spec is not None and spec.submodule_search_locations and spec.cached
    assert spec.cached.endswith(".pyc") and str(spec.origin).endswith("__init__.py")


def _docstrings(code: types.CodeType) -> list[str]:
    """The docstrings of the functions in ``code``, at any depth."""
    found = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and not const.co_flags & inspect.CO_OPTIMIZED:
            found += _docstrings(const)  # a class body
        elif isinstance(const, types.CodeType):
            cells = tuple(types.CellType() for _ in const.co_freevars)
            doc = types.FunctionType(const, {}, closure=cells).__doc__
            found += ([doc] if doc else []) + _docstrings(const)
    return found


PROBE_SOURCE = b'''"""Module."""
from __future__ import annotations
def only():
    "Only a docstring."
class Kept:
    """Doc."""
    def method(self):
        "Doc."
        assert False, "still here"
LIMIT: int = 3
@record(frozen=True, slots=True)
class Point:
    """A record: its fields are its class annotations."""
    x: int
    y: int = 2
    def moved(self, by: int = 1, *rest: int, scale: float = 1.0, **more: str) -> Point:
        async def inner(a: int, /) -> None: ...
        return Point(self.x + by, self.y)
'''


def test_bundled_code_has_no_docstrings_but_keeps_asserts() -> None:
    """The bundle's compiler leaves out the docstrings of modules and functions (a body that was
    only a docstring becomes `pass`) and the annotations of functions (parameters of every
    kind, return values, nested functions), and keeps class docstrings, asserts, line numbers
    and the annotations of classes and modules (a record's fields work as before)."""
    namespace: dict[str, object] = {"record": records.record}
    exec(start_bundle._compiled_for_start(PROBE_SOURCE, "probe.py"), namespace)
    assert namespace.get("__doc__") is None
    kept, only = namespace["Kept"], namespace["only"]
    assert isinstance(kept, type) and kept.__doc__ == "Doc."
    assert callable(only) and only() is None and only.__doc__ is None
    with pytest.raises(AssertionError, match="still here") as raised:
        kept().method()
    assert raised.traceback[-1].lineno + 1 == 9
    point: Any = namespace["Point"]
    assert point.__annotations__ == {"x": "int", "y": "int"}
    assert namespace["__annotations__"] == {"LIMIT": "int"}
    assert point.moved.__annotations__ == {}
    assert point(1).moved() == point(2, 2) and repr(point(1)) == "Point(x=1, y=2)"
    assert [field.name for field in dataclasses.fields(point)] == ["x", "y"]
    moved = point.moved.__code__  # holds what its nested function is made with
    assert "inner" in [const.co_name for const in moved.co_consts
                       if isinstance(const, types.CodeType)]
    assert "int" not in moved.co_consts and "None" not in moved.co_consts
    plain: dict[str, Any] = {"record": records.record}
    exec(compile(PROBE_SOURCE, "probe.py", "exec"), plain)
    assert plain["__doc__"] == "Module." and plain["Kept"].__doc__ == "Doc."
    assert plain["Point"].moved.__annotations__ == {
        "by": "int", "rest": "int", "scale": "float", "more": "str", "return": "Point"}


#: What reads the annotations of functions at run time (which a bundled function lacks).
_ANNOTATION_READERS = ("get_type_hints", "signature(", "singledispatch", "get_annotations",
                       "validate_call", "__annotations__")
#: Modules of a start that read annotations, and why they may: `records` reads those of
#: classes (a record's fields), which the bundle keeps.
_READS_CLASS_ANNOTATIONS = frozenset({"qmpnuma.records"})


def test_no_module_of_a_start_reads_the_annotations_of_functions() -> None:
    """The bundle leaves out function annotations because nothing a start imports reads them:
    this fails when a module in the bundle (the start sets of every profile) mentions a reader
    of annotations, so that leaving them out would change what it does."""
    subprocess.run([sys.executable, "-m", "qmpnuma.start_bundle"], capture_output=True,
                   check=True, timeout=120, cwd="/")
    index, _groups = start_bundle._read()
    assert len(index) >= 40
    readers = {}
    for name, entry in index.items():
        with open(entry[0], encoding="utf-8") as source:
            text = source.read()
        found = [reader for reader in _ANNOTATION_READERS if reader in text]
        if found and name not in _READS_CLASS_ANNOTATIONS:
            readers[name] = found
    assert readers == {}


def test_a_bundle_of_another_layout_or_cut_short_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_read` takes only a whole file of this interpreter and layout: one cut short, one with
    bytes after its last group, the previous layout (one marshalled tuple) and one of another
    header give an empty index, so every module comes from its own file."""
    target = tmp_path / "start-bundle.bin"
    monkeypatch.setattr(start_bundle, "bundle_path", lambda: str(target))
    entries = {"qmpnuma.records": start_bundle._entry(records.__file__)}
    start_bundle._write(entries, {"qmpnuma.records": ""})
    whole = target.read_bytes()
    index, groups = start_bundle._read()
    assert list(index) == ["qmpnuma.records"] and len(groups) == 1
    header, old_index, old_groups = (start_bundle._header(), index, [bytes(groups[0])])
    for damaged in (whole[:-1], whole + b"\0", whole[:5],
                    marshal.dumps((header, old_index, old_groups)),
                    whole.replace(start_bundle._header()[0], b"\0" * 4, 1)):
        target.write_bytes(damaged)
        assert start_bundle._read() == ({}, [])


def test_a_changed_record_compiler_makes_the_whole_bundle_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle's records call ``record.prebuilt`` as the compiler that rewrote them expects,
    so a change to the compiler or to `records` (their modification time or size) leaves every
    entry unread, not only theirs; the bundle written again is read."""
    target = tmp_path / "start-bundle.bin"
    compiler = tmp_path / "prebuilt_records.py"
    runtime = tmp_path / "records.py"
    compiler.write_text("# compiler\n")
    runtime.write_text("# runtime\n")
    monkeypatch.setattr(start_bundle, "bundle_path", lambda: str(target))
    monkeypatch.setattr(start_bundle, "COMPILER_SOURCES", (str(compiler), str(runtime)))
    entries = {"qmpnuma.errors": start_bundle._entry(errors.__file__)}
    start_bundle._write(entries, {"qmpnuma.errors": ""})
    assert list(start_bundle._read()[0]) == ["qmpnuma.errors"]
    for changed, text in ((runtime, "# runtime, changed\n"), (compiler, "# compiler 2\n")):
        changed.write_text(text)
        assert start_bundle._read() == ({}, [])
        start_bundle._write(entries, {"qmpnuma.errors": ""})
        assert list(start_bundle._read()[0]) == ["qmpnuma.errors"]
    os.utime(runtime, ns=(1, 1))
    assert start_bundle._read() == ({}, [])
    runtime.unlink()
    assert start_bundle._read() == ({}, [])
