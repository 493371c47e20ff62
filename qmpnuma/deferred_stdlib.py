"""Standard library modules asyncio imports at once but a qmpnuma server only ever needs late.

`import asyncio` imports `ssl` (from `asyncio.base_events`, `selector_events` and `sslproto`),
which loads OpenSSL through `_ssl`, and `inspect` (from `asyncio.coroutines`, `format_helpers`
and `tasks`), which imports `ast`, `dis` and `tokenize`. Together they are a quarter of a bare
asyncio server's cold start (issue 12; on the 2-core bench machine, medians of 15 alternating
`python -c "import asyncio"` starts: 92 ms, 81 with `ssl` deferred, 68 with `inspect` too).
qmpnuma serves plain unix and TCP sockets and nothing on the way to a first reply needs either:
asyncio reads `ssl` only to make TLS transports and `inspect` only in functions (callback
checks such as `add_signal_handler`'s, debug-mode reprs, `ensure_future` of a non-coroutine
awaitable). So the console entry point (`qmpnuma.cli.main`) *defers* them: when asyncio
imports them they are imported as usual (found on the path, put in `sys.modules`, bound in
their package) except that their code does not run yet. It runs, in place, the first time one
of their attributes is read: asyncio's ``ssl is not None`` checks see a module, and TLS or
`inspect.signature` work the moment someone uses them; only the cost moves to that moment.

Why not `importlib.util.LazyLoader`: its module runs its code on the first read of *any*
attribute, ``__spec__`` included, and every ``import ssl`` statement that finds the module in
`sys.modules` reads its ``__spec__`` (to know whether it is still being initialised):
asyncio's second ``import ssl`` would load it at once. A `DeferredModule` runs its code only
for names it does not have yet (``__getattr__``), and it has the import system's
``__spec__``, ``__name__``, ``__file__`` and ``__loader__`` from the start.

`asyncio.sslproto` is deferred with `ssl` because its module code reads attributes of `ssl`
(its `SSLAgainErrors`). Should an interpreter's asyncio read a deferred module at import
elsewhere, the module simply runs early: the start is then as slow as without this module,
never wrong. Library users of qmpnuma (the harness, the pytest plugin, an in-process fleet) are
left alone: only the entry point defers. `tests/test_lazy_imports.py` checks that a start
reaches its first reply without running them, `tests/test_deferred_stdlib.py` that they work
when used afterwards.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from importlib.util import find_spec
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    # Not at run time: `importlib.abc` imports `importlib.resources`, which a start never needs.
    from importlib.abc import Loader

#: The modules the entry point defers.
DEFERRED = ("ssl", "asyncio.sslproto", "inspect")
#: What a deferred module's code needs to run: where it cannot be found (an interpreter built
#: without OpenSSL), the module is not deferred, so its import fails at once as it always did
#: (asyncio then holds ``ssl = None``) instead of failing later, at a first attribute read
#: such as asyncio's ``isinstance(sock, ssl.SSLSocket)`` in `sock_connect`.
NEEDS = {"ssl": "_ssl", "asyncio.sslproto": "_ssl"}

#: Held while a deferred module runs its code; re-entrant, so that a module whose own code
#: reads a missing attribute of itself gets the AttributeError a half-run module gives.
_RUNNING_LOCK = threading.RLock()
#: Names of the deferred modules whose code is running now.
_RUNNING: set[str] = set()


class DeferredModule(ModuleType):
    """A module whose code runs, in place, at the first read of a name it does not have."""

    def __getattr__(self, attribute: str) -> Any:
        name = self.__name__
        with _RUNNING_LOCK:
            if type(self) is DeferredModule and name not in _RUNNING:
                _run(self, name)
        if type(self) is DeferredModule:
            raise AttributeError(
                f"partially initialized module {name!r} has no attribute {attribute!r}")
        return getattr(self, attribute)


def _run(module: DeferredModule, name: str) -> None:
    """Run ``module``'s code with its real loader and make it a plain module; on failure it
    leaves `sys.modules`, as a module whose import failed does."""
    _RUNNING.add(name)
    try:
        spec = module.__spec__
        assert spec is not None and spec.loader is not None
        spec.loader.exec_module(module)
    except BaseException:
        if sys.modules.get(name) is module:
            del sys.modules[name]
        raise
    finally:
        _RUNNING.discard(name)
    module.__class__ = ModuleType  # type: ignore[assignment]


class _DeferringLoader:
    """Makes the module as ``real`` would and leaves it deferred, with ``real`` as its loader
    (what runs its code later)."""

    def __init__(self, real: Loader) -> None:
        self.real = real

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        assert module.__spec__ is not None
        module.__spec__.loader = self.real
        module.__loader__ = self.real
        module.__class__ = DeferredModule


class DeferringFinder:
    """A meta path finder that hands out each name of ``names`` once, deferred, and then
    leaves `sys.meta_path`."""

    def __init__(self, names: Sequence[str]) -> None:
        self.pending = set(names)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self.pending:
            return None
        self.pending.discard(fullname)
        if not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = cast("Loader", _DeferringLoader(spec.loader))
        return spec

    def invalidate_caches(self) -> None:
        """Nothing cached."""


def defer_unused_stdlib(names: Sequence[str] = DEFERRED) -> DeferringFinder | None:
    """Defer each module of ``names`` that is not imported yet and whose code can run here
    (`NEEDS`), from its first import on; the finder that does it (first on `sys.meta_path`
    until it has served them all), if any."""
    missing = {need for need in {NEEDS[name] for name in names if name in NEEDS}
               if find_spec(need) is None}
    pending = [name for name in names
               if name not in sys.modules and NEEDS.get(name) not in missing]
    if not pending:
        return None
    finder = DeferringFinder(pending)
    sys.meta_path.insert(0, finder)
    return finder
