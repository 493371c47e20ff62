"""The code of the modules a cold start imports, in one file read and unmarshalled at once.

A cold start imports about 80 qmpnuma modules before its first reply (issue 12). Imported one
by one, each module's cached bytecode (`__pycache__/*.pyc`) is found, checked, read and
unmarshalled on its own, and the unmarshalling alone costs twice what it costs for all of them
together: one `marshal` stream shares the names, strings and constants the modules have in
common instead of making each again. The *start bundle* is that one stream:
`__pycache__/start-bundle.<cache tag>[.opt-N].bin` beside the package's `__init__.py`, holding
the code of the modules a start imports (the *start set*), which `install` reads with one
`read` and one `marshal.loads` and serves from a meta path finder.

Like a `.pyc`, an entry is only used while its source still has the modification time and size
it was compiled from (checked with one `stat` when the module is imported); any other module,
or a changed one, is imported from its own file as usual. The modules are loaded by a
`SourceFileLoader`, so they are what they would be anyway (`__file__`, `__cached__`,
`__spec__`, resources, the source lines of tracebacks); only where the code comes from differs.
The bundle is made by `python -m qmpnuma.start_bundle` (the Makefile's install step and
`make bench` run it), and a server brings it up to date on its way out when its own start set
was not all in it, from the bytecode that start cached; never under `PYTHONDONTWRITEBYTECODE`
or `-B`, which forbid writing cached bytecode.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Iterable, Sequence
from importlib.machinery import ModuleSpec, SourceFileLoader
from importlib.util import MAGIC_NUMBER, cache_from_source, spec_from_file_location
from typing import Any

__all__ = ["BundleFinder", "bundle_path", "install", "main", "note_start", "refresh", "uninstall",
           "write_start_set"]

#: The package whose modules the bundle holds, and its folder.
PACKAGE = __package__ or "qmpnuma"  # also when run as `python -m qmpnuma.start_bundle`
FOLDER = os.path.dirname(os.path.abspath(__file__))
#: What the console script has imported when `install` runs (never served from the bundle).
_PRELOADED = frozenset((PACKAGE, f"{PACKAGE}.cli", f"{PACKAGE}.start_bundle"))
#: name -> (source path, source mtime in ns, source size, code)
Entries = dict[str, tuple[str, int, int, Any]]


def bundle_path() -> str:
    """Where the bundle of this interpreter (its cache tag and optimization level) lives."""
    optimize = sys.flags.optimize
    level = f".opt-{optimize}" if optimize else ""
    tag = sys.implementation.cache_tag
    return os.path.join(FOLDER, "__pycache__", f"start-bundle.{tag}{level}.bin")


def _header() -> tuple[bytes, int]:
    """What a bundle must have been made with to be read: the bytecode's magic number and the
    optimization level (asserts and docstrings in or out)."""
    return (bytes(MAGIC_NUMBER), sys.flags.optimize)


def _read() -> Entries:
    """The bundle's entries, or none when it is absent, unreadable or of another interpreter."""
    try:
        with open(bundle_path(), "rb") as source:
            data = source.read()
        header, entries = marshal.loads(data)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if header != _header() or type(entries) is not dict:
        return {}
    return entries


class _BundleLoader(SourceFileLoader):
    """A module's ordinary loader, except that its code comes from the bundle while the source
    is unchanged (a `.pyc`'s rule: same modification time and size)."""

    def __init__(self, fullname: str, path: str, finder: BundleFinder) -> None:
        super().__init__(fullname, path)
        self._finder = finder

    def get_code(self, fullname: str) -> Any:
        entry = self._finder.entries.get(fullname)
        if entry is not None and _unchanged(entry):
            return entry[3]
        self._finder.missed = True
        return super().get_code(fullname)


class BundleFinder:
    """A meta path finder for the package's modules that have an entry in the bundle."""

    def __init__(self, entries: Entries) -> None:
        self.entries = entries
        #: a module of the package was imported from its own file (no entry, or a stale one)
        self.missed = False
        #: the modules of the package this process imported on its way to serving
        self.start_set: frozenset[str] = frozenset()

        #: the modules of the package imported before the finder was installed
        self.preloaded = frozenset(name for name in sys.modules if _ours(name))

    def note_start(self) -> None:
        """The process is about to serve: what it imported since the finder was installed is
        its start set."""
        self.start_set = frozenset(
            name for name in sys.modules if _ours(name) and name not in self.preloaded)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        entry = self.entries.get(fullname)
        if entry is None:
            if fullname.startswith(PACKAGE + "."):
                self.missed = True
            return None
        return spec_from_file_location(
            fullname, entry[0], loader=_BundleLoader(fullname, entry[0], self))

    def invalidate_caches(self) -> None:
        """Nothing is cached but the entries, which are checked at every import."""


#: The finder `install` put on `sys.meta_path`, while it is there.
_installed: list[BundleFinder] = []


def install() -> BundleFinder:
    """Put the bundle's finder first on `sys.meta_path` (an empty one when there is no usable
    bundle: it then only notes that the package's modules came from their files)."""
    finder = BundleFinder(_read())
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


def _entry(path: str, compile_missing: bool) -> tuple[str, int, int, Any] | None:
    """The entry of the source at ``path``: the code of its valid `.pyc`, else (when
    ``compile_missing``) compiled now; None when there is neither."""
    stat = os.stat(path)
    try:
        with open(cache_from_source(path), "rb") as cached:
            data = cached.read()
    except OSError:
        data = b""
    valid = (len(data) > 16 and data[:4] == MAGIC_NUMBER
             and int.from_bytes(data[4:8], "little") == 0  # checked by time, not hash
             and int.from_bytes(data[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
             and int.from_bytes(data[12:16], "little") == stat.st_size & 0xFFFFFFFF)
    if valid:
        code = marshal.loads(data[16:])
    elif compile_missing:
        with open(path, "rb") as source:
            code = compile(source.read(), path, "exec", dont_inherit=True,
                           optimize=sys.flags.optimize)
    else:
        return None
    return (path, stat.st_mtime_ns, stat.st_size, code)


def _write(entries: Entries) -> None:
    """Write the bundle atomically (another process may be reading or writing it)."""
    target = bundle_path()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as out:
            marshal.dump((_header(), entries), out)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _unchanged(entry: tuple[str, int, int, Any]) -> bool:
    """Whether an entry's source still has the modification time and size it was compiled
    from (a `.pyc`'s rule)."""
    try:
        stat = os.stat(entry[0])
    except OSError:
        return False
    return (stat.st_mtime_ns, stat.st_size) == entry[1:3]


def _current(entries: Entries) -> Entries:
    """The entries whose sources are unchanged."""
    return {name: entry for name, entry in entries.items() if _unchanged(entry)}


def _entries_of(names: Iterable[str], known: Entries, compile_missing: bool) -> Entries:
    """Entries for the loaded modules ``names``: an unchanged one of ``known``, else one made
    from the module's source (see `_entry`); modules without a `.py` file are left out."""
    entries: Entries = {}
    for name in sorted(names):
        if name in known:
            entries[name] = known[name]
            continue
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            entry = _entry(path, compile_missing)
            if entry is not None:
                entries[name] = entry
    return entries


def write_start_set(argv: Sequence[str] = ("-m", "1G")) -> int:
    """Make the bundle of what a start with ``argv`` imports, for each profile, on its way to
    serving and answering `query-memdev` (the handlers of other first queries are small and
    load from their files); the number of modules it holds."""
    from qmpnuma.commands.dispatch import CommandRegistry
    from qmpnuma.profiles import PROFILE_NAMES, get_profile, wire_types
    from qmpnuma.qmp.session import QmpSession, default_greeting
    from qmpnuma.server.launch import serve_machine  # noqa: F401 - its imports are the point
    from qmpnuma.start import build_machine

    for name in PROFILE_NAMES:
        profile = get_profile(name)
        default_greeting(profile)
        machine = build_machine(list(argv), profile, "qmpnuma")
        registry = CommandRegistry(machine)
        registry.encoded("query-memdev")
        types = wire_types(profile.name)
        QmpSession(types.COMMANDS, types.SCHEMA, profile=profile)
    start_set = [name for name in sys.modules if _ours(name) and name not in _PRELOADED]
    entries = _entries_of(start_set, {}, compile_missing=True)
    _write(entries)
    return len(entries)


def refresh(finder: BundleFinder) -> bool:
    """On a process's way out: when a module of its start set came from its own file, write
    the bundle's unchanged entries and the modules of the start set it lacked (from the `.pyc`
    files this start cached), so that it grows to the start sets its users have; True when
    written. Nothing is written where cached bytecode may not be (`sys.dont_write_bytecode`),
    nor when the start set was all in the bundle."""
    if sys.dont_write_bytecode or not finder.missed or not finder.start_set:
        return False
    known = _current(_read())
    missing = [name for name in finder.start_set if name not in known]
    if not missing:
        return False
    try:
        _write({**known, **_entries_of(missing, {}, compile_missing=True)})
    except OSError:
        return False
    return True


def main() -> int:
    """`python -m qmpnuma.start_bundle`: make the bundle and say where it is."""
    count = write_start_set()
    print(f"{bundle_path()}: {count} modules")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
