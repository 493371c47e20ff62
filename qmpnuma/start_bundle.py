"""The code of the modules a cold start imports, in one mapped file unmarshalled by groups.

A cold start imports about 80 qmpnuma modules before its first reply (issue 12). Imported one
by one, each module's cached bytecode (`__pycache__/*.pyc`) is found, checked, read and
unmarshalled on its own, and the unmarshalling alone costs twice what it costs for all of them
together: one `marshal` stream shares the names, strings and constants the modules have in
common instead of making each again. The *start bundle* is such a stream:
`__pycache__/start-bundle.<cache tag>[.opt-N].bin` beside the package's `__init__.py`, holding
the code of the modules a start imports (the *start set*), which `install` maps into memory
and serves from a meta path finder.

Four choices keep what a start unmarshals and runs to what it needs:

- **Groups.** Each profile's start set is found in its own interpreter, and the modules are
  grouped by the profiles whose starts import them: the modules every start needs form one
  group, those only some profiles need (their profile data, their generated tables) others.
  Each group is one marshal stream of its own, unmarshalled when the first of its modules is
  imported, so a start reads every group but unmarshals only its profile's.
- **No docstrings, no function annotations.** The bundle's code is compiled with the
  docstrings of modules and functions left out, as `-OO` does (asserts and class docstrings
  stay): they are a sixth of the code's size and a fifth of its unmarshalling, and a server
  never reads them. The annotations of functions' parameters and return values are left out
  too (a function's ``__annotations__`` is empty): each ``def`` with them builds a tuple of
  their texts when it runs, and they are 5% of the code; nothing a server runs reads them
  (`tests/test_start_bundle.py` fails if a module of a start's set mentions a reader:
  `typing.get_type_hints`, `inspect.signature`, `functools.singledispatch`...). The
  annotations of classes and modules stay: records and dataclasses read their fields from
  them. A module imported from its own file keeps everything.
- **Records made ahead.** A record's class statement is rewritten
  (`qmpnuma.prebuilt_records`) so that the class is made once, with the methods ``record``
  would add in its body (its ``__init__`` compiled), and its decorator only ties the
  registration to it: ``record`` reads a class's fields, builds its methods and sets them one
  by one on the finished class at import, for each of the ~60 records of a start (a rewritten
  one costs about half as much over a plain class). Their code calls
  ``record.prebuilt``, so the bundle is read only while `COMPILER_SOURCES` are as they were
  when it was made.
- **Specs made from the index.** Each entry carries what `spec_from_file_location` would work
  out from the path (package or not, the `.pyc` path), so finding a module costs a dictionary
  lookup and one `ModuleSpec`.

Like a `.pyc`, an entry is only used while its source still has the modification time and size
it was compiled from (checked with one `stat` when the module is imported); any other module,
or a changed one, is imported from its own file as usual. The modules are loaded by a
`SourceFileLoader`, so they are what they would be anyway (`__file__`, `__cached__`,
`__spec__`, resources, the source lines of tracebacks); only where the code comes from differs.
The bundle is made by `python -m qmpnuma.start_bundle` (the Makefile's install step and
`make bench` run it), and a server brings it up to date on its way out when its own start set
was not all in it; never under `PYTHONDONTWRITEBYTECODE` or `-B`, which forbid writing cached
bytecode.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib.machinery import ModuleSpec, SourceFileLoader
from importlib.util import MAGIC_NUMBER, cache_from_source
from mmap import ACCESS_READ, mmap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ast

__all__ = ["BundleFinder", "bundle_path", "compile_package", "install", "main", "note_start",
           "refresh", "uninstall", "write_start_set"]

#: The package whose modules the bundle holds, and its folder.
PACKAGE = __package__ or "qmpnuma"  # also when run as `python -m qmpnuma.start_bundle`
FOLDER = os.path.dirname(os.path.abspath(__file__))
#: What the console script has imported when `install` runs (never served from the bundle).
_PRELOADED = frozenset((PACKAGE, f"{PACKAGE}.cli", f"{PACKAGE}.start_bundle"))
#: The layout of the file (grouped streams after the index, docstrings and function annotations
#: left out, records rewritten); a file of another is ignored.
_FORMAT = 5
#: The file starts with the size of its head (header, index, group sizes) in this many bytes,
#: little-endian; the head follows, then the group streams one after the other.
_HEAD_START = 8
_PACKAGE_FILE = os.sep + "__init__.py"
#: name -> (source path, source mtime in ns, source size, group number, `.pyc` path)
Index = dict[str, tuple[str, int, int, int, str]]
#: name -> (source path, source mtime in ns, source size, code): what a group is made from
Entries = dict[str, tuple[str, int, int, Any]]


def bundle_path() -> str:
    """Where the bundle of this interpreter (its cache tag and optimization level) lives."""
    optimize = sys.flags.optimize
    level = f".opt-{optimize}" if optimize else ""
    tag = sys.implementation.cache_tag
    return os.path.join(FOLDER, "__pycache__", f"start-bundle.{tag}{level}.bin")


#: The sources the bundle's code depends on besides each module's own: the compiler of its
#: records and the `record.prebuilt` their rewritten class statements call.
COMPILER_SOURCES = tuple(os.path.join(FOLDER, name)
                         for name in ("prebuilt_records.py", "records.py"))


def _compiler_stamp() -> tuple[tuple[int, int], ...]:
    """The modification time and size of each of `COMPILER_SOURCES` ((0, 0) if missing)."""
    stamp = []
    for path in COMPILER_SOURCES:
        try:
            found = os.stat(path)
        except OSError:
            stamp.append((0, 0))
        else:
            stamp.append((found.st_mtime_ns, found.st_size))
    return tuple(stamp)


def _header() -> tuple[bytes, int, int, tuple[tuple[int, int], ...]]:
    """What a bundle must have been made with to be read: the bytecode's magic number, the
    optimization level (asserts in or out), the file's layout and the sources of the records'
    compiler and runtime as they were (a record rewritten by one compiler calls
    ``record.prebuilt`` as that compiler expects: a change to either makes every entry
    stale, not only theirs)."""
    return (bytes(MAGIC_NUMBER), sys.flags.optimize, _FORMAT, _compiler_stamp())


def _read() -> tuple[Index, list[memoryview]]:
    """The bundle's index and group streams; none when it is absent, unreadable or of another
    interpreter or layout.

    The file is mapped, not read: the streams are views of the page cache, so only the pages
    of the groups a start unmarshals are touched, and none is copied into fresh memory (on a
    small VM each fresh page costs microseconds: reading the file cost ~220 page faults, the
    mapping a dozen). The bundle is only ever replaced, never written in place, so a mapping
    keeps the file it was made from."""
    try:
        with open(bundle_path(), "rb") as source:
            view = memoryview(mmap(source.fileno(), 0, access=ACCESS_READ))
        head_end = _HEAD_START + int.from_bytes(view[:_HEAD_START], "little")
        header, index, sizes = marshal.loads(view[_HEAD_START:head_end])
        if header != _header() or type(index) is not dict or type(sizes) is not list:
            return {}, []
        groups = []
        start = head_end
        for size in sizes:
            groups.append(view[start:start + size])
            start += size
    except (OSError, EOFError, ValueError, TypeError):
        return {}, []
    if start != len(view):
        return {}, []
    return index, groups


class _BundleLoader(SourceFileLoader):
    """A module's ordinary loader, except that its code comes from the bundle while the source
    is unchanged (a `.pyc`'s rule)."""

    def __init__(self, fullname: str, path: str, finder: BundleFinder) -> None:
        super().__init__(fullname, path)
        self._finder = finder

    def get_code(self, fullname: str) -> Any:
        code = self._finder.code_of(fullname)
        if code is not None:
            return code
        self._finder.missed = True
        return super().get_code(fullname)


class BundleFinder:
    """A meta path finder for the package's modules that have an entry in the bundle."""

    def __init__(self, index: Index, groups: Sequence[bytes | memoryview] = ()) -> None:
        self.entries = index
        self._groups = list(groups)
        #: the unmarshalled groups, by number (None: not needed yet)
        self._codes: list[dict[str, Any] | None] = [None] * len(self._groups)
        #: a module of the package was imported from its own file (no entry, or a stale one)
        self.missed = False
        #: the modules of the package this process imported on its way to serving
        self.start_set: frozenset[str] = frozenset()

        #: the modules of the package imported before the finder was installed
        self.preloaded = frozenset(name for name in sys.modules if _ours(name))

    @classmethod
    def of(cls, entries: Entries) -> BundleFinder:
        """A finder serving ``entries`` (one group), as if read from a bundle of them."""
        index, groups = _pack(entries, dict.fromkeys(entries, ""))
        return cls(index, groups)

    def note_start(self) -> None:
        """The process is about to serve: what it imported since the finder was installed is
        its start set."""
        self.start_set = frozenset(
            name for name in sys.modules if _ours(name) and name not in self.preloaded)

    def code_of(self, name: str) -> Any:
        """The bundled code of ``name`` while its source is unchanged, else None."""
        entry = self.entries.get(name)
        if entry is None or not _unchanged(entry):
            return None
        number = entry[3]
        codes = self._codes[number]
        if codes is None:
            codes = self._codes[number] = marshal.loads(self._groups[number])
        return codes[name]

    def group_codes(self) -> list[dict[str, Any]]:
        """Every group unmarshalled (for rewriting the bundle)."""
        return [self._codes[number] or marshal.loads(self._groups[number])
                for number in range(len(self._groups))]

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        entry = self.entries.get(fullname)
        if entry is None:
            if fullname.startswith(PACKAGE + "."):
                self.missed = True
            return None
        # What `spec_from_file_location` makes of the path, from the index.
        source = entry[0]
        package = source.endswith(_PACKAGE_FILE)
        spec = ModuleSpec(fullname, _BundleLoader(fullname, source, self), origin=source,
                          is_package=package)
        if package:
            spec.submodule_search_locations = [os.path.dirname(source)]
        spec.has_location = True
        spec.cached = entry[4]
        return spec

    def invalidate_caches(self) -> None:
        """Nothing is cached but the entries, which are checked at every import."""


#: The finder `install` put on `sys.meta_path`, while it is there.
_installed: list[BundleFinder] = []


def install() -> BundleFinder:
    """Put the bundle's finder first on `sys.meta_path` (an empty one when there is no usable
    bundle: it then only notes that the package's modules came from their files)."""
    finder = BundleFinder(*_read())
    sys.meta_path.insert(0, finder)
    _installed.append(finder)
    return finder


def uninstall(finder: BundleFinder) -> None:
    """Take ``finder`` off `sys.meta_path` again."""
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
    if finder in _installed:
        _installed.remove(finder)


def note_start() -> None:
    """The process is about to serve: what it has imported is its start set (no-op when no
    bundle finder is installed, e.g. in a test process)."""
    for finder in _installed:
        finder.note_start()


def _ours(name: str) -> bool:
    """Whether ``name`` is the package or one of its modules."""
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def _compiled_for_start(source: bytes, path: str) -> Any:
    """The code of ``source`` with the docstrings of the module and its functions left out, as
    `-OO` compiles them (asserts kept; line numbers are the source's), and the annotations of
    its functions' parameters and return values. Classes keep their docstrings (`dataclasses`
    and others build one when a class has none, which costs more than it saves) and their
    annotations (a record's or dataclass's fields). Records whose fields the source settles
    are rewritten to be made ahead (`qmpnuma.prebuilt_records.prebuild`)."""
    import ast

    from qmpnuma.prebuilt_records import prebuild, qualify

    tree = ast.parse(source, path)
    prebuild(tree)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not isinstance(node, ast.Module):
            _drop_annotations(node)
        body = node.body
        first = body[0] if body else None
        if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            node.body = body[1:] or [ast.copy_location(ast.Pass(), first)]
    return qualify(compile(tree, path, "exec", dont_inherit=True, optimize=sys.flags.optimize))


def _drop_annotations(function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
    """Leave out the annotations of ``function``'s parameters and return value."""
    parameters = function.args
    for parameter in (*parameters.posonlyargs, *parameters.args, *parameters.kwonlyargs,
                      parameters.vararg, parameters.kwarg):
        if parameter is not None:
            parameter.annotation = None
    function.returns = None


def _entry(path: str) -> tuple[str, int, int, Any]:
    """The entry of the source at ``path``, compiled now (`_compiled_for_start`)."""
    stat = os.stat(path)
    with open(path, "rb") as source:
        code = _compiled_for_start(source.read(), path)
    return (path, stat.st_mtime_ns, stat.st_size, code)


def _pack(entries: Entries, group_of: Mapping[str, str]) -> tuple[Index, list[bytes]]:
    """The index and group streams of ``entries``: the modules with the same ``group_of`` key
    share a stream; the largest group comes first."""
    members: dict[str, list[str]] = {}
    for name in sorted(entries):
        members.setdefault(group_of[name], []).append(name)
    index: Index = {}
    groups: list[bytes] = []
    for names in sorted(members.values(), key=len, reverse=True):
        for name in names:
            path, mtime_ns, size, _code = entries[name]
            index[name] = (path, mtime_ns, size, len(groups), cache_from_source(path))
        groups.append(marshal.dumps({name: entries[name][3] for name in names}))
    return index, groups


def _write(entries: Entries, group_of: Mapping[str, str]) -> None:
    """Write the bundle atomically (another process may be reading or writing it)."""
    index, groups = _pack(entries, group_of)
    target = bundle_path()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        head = marshal.dumps((_header(), index, [len(group) for group in groups]))
        with open(temporary, "wb") as out:
            out.write(len(head).to_bytes(_HEAD_START, "little"))
            out.write(head)
            for group in groups:
                out.write(group)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _unchanged(entry: tuple[Any, ...]) -> bool:
    """Whether an entry's source still has the modification time and size it was compiled
    from (a `.pyc`'s rule)."""
    try:
        stat = os.stat(entry[0])
    except OSError:
        return False
    return (stat.st_mtime_ns, stat.st_size) == entry[1:3]


def _entries_of(names: Iterable[str], paths: Mapping[str, str]) -> Entries:
    """Entries for the modules ``names`` whose source ``paths`` has (others are left out)."""
    return {name: _entry(paths[name]) for name in sorted(names) if name in paths}


def _source_paths(names: Iterable[str]) -> dict[str, str]:
    """The `.py` file of each loaded module of ``names`` that has one."""
    paths = {}
    for name in names:
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            paths[name] = path
    return paths


def start_set(profile_name: str, argv: Sequence[str]) -> dict[str, str]:
    """Import what a start of ``profile_name`` with ``argv`` imports on its way to serving and
    answering `query-memdev` (the handlers of other first queries are small and load from
    their files); its modules and their sources. Run in a fresh interpreter."""
    from qmpnuma.commands.dispatch import CommandRegistry
    from qmpnuma.profiles import get_profile, wire_types
    from qmpnuma.qmp.session import QmpSession, default_greeting
    from qmpnuma.server.launch import serve_machine  # noqa: F401 - its imports are the point
    from qmpnuma.start import build_machine

    profile = get_profile(profile_name)
    default_greeting(profile)
    machine = build_machine(list(argv), profile, "qmpnuma")
    CommandRegistry(machine).encoded("query-memdev")
    types = wire_types(profile.name)
    QmpSession(types.COMMANDS, types.SCHEMA, profile=profile)
    return _source_paths(name for name in sys.modules if _ours(name) and name not in _PRELOADED)


def write_start_set(argv: Sequence[str] = ("-m", "1G")) -> int:
    """Make the bundle of what a start with ``argv`` imports, each profile's start set found
    in an interpreter of its own and the modules grouped by the profiles that import them; the
    number of modules it holds."""
    import json
    import subprocess

    from qmpnuma.profiles import PROFILE_NAMES

    users: dict[str, list[str]] = {}
    paths: dict[str, str] = {}
    for profile_name in PROFILE_NAMES:
        found = subprocess.run(
            [sys.executable, "-m", f"{PACKAGE}.start_bundle", "--start-set", profile_name,
             *argv], capture_output=True, text=True, check=True)
        modules: dict[str, str] = json.loads(found.stdout)
        paths.update(modules)
        for name in modules:
            users.setdefault(name, []).append(profile_name)
    _write(_entries_of(users, paths), {name: " ".join(used) for name, used in users.items()})
    return len(users)


def compile_package() -> None:
    """Write the cached bytecode (`__pycache__/*.pyc`) of every module of the package, as `pip
    install` does for a package it installs and an editable install does not.

    The bundle serves the modules a start imports once it is installed; what the console
    script imports before that (the package's `__init__`, `cli`, this module) and the handlers
    of other first queries come from their `.pyc`. Where none is written on import
    (PYTHONDONTWRITEBYTECODE=1, `-B`), each start would compile them again: ~5 ms of a cold
    start on the machine the README's figures come from.
    """
    import compileall

    compileall.compile_dir(FOLDER, quiet=1)


def refresh(finder: BundleFinder) -> bool:
    """On a process's way out: when a module of its start set came from its own file, write
    the bundle's unchanged entries and the modules of the start set it lacked (a group of
    their own), so that it grows to the start sets its users have; True when written. Nothing
    is written where cached bytecode may not be (`sys.dont_write_bytecode`), nor when the
    start set was all in the bundle."""
    if sys.dont_write_bytecode or not finder.missed or not finder.start_set:
        return False
    current = BundleFinder(*_read())
    known = {name: entry for name, entry in current.entries.items() if _unchanged(entry)}
    missing = [name for name in finder.start_set if name not in known]
    if not missing:
        return False
    codes = current.group_codes()
    entries: Entries = {name: (*entry[:3], codes[entry[3]][name])
                        for name, entry in known.items()}
    group_of = {name: str(entry[3]) for name, entry in known.items()}
    added = _entries_of(missing, _source_paths(missing))
    group_of.update(dict.fromkeys(added, "added"))
    try:
        _write({**entries, **added}, group_of)
    except OSError:
        return False
    return True


def main(argv: Sequence[str] = ()) -> int:
    """`python -m qmpnuma.start_bundle`: make the bundle and every module's `.pyc`, and say
    where the bundle is.

    `--start-set PROFILE ARGS...` prints (JSON) the modules a start of PROFILE imports and
    their sources: `write_start_set` runs it once per profile.
    """
    if list(argv[:1]) == ["--start-set"]:
        import json

        print(json.dumps(start_set(argv[1], argv[2:])))
        return 0
    count = write_start_set()
    compile_package()
    print(f"{bundle_path()}: {count} modules; the package's bytecode is compiled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
