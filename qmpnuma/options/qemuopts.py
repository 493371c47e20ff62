"""QEMU's QemuOpts syntax (``util/qemu-option.c``): ``-opt a=b,c=d`` strings.

Reproduced behaviour (checked against qemu-system-x86_64 7.2):

* elements are separated by ``,``; inside a *value* ``,,`` stands for one comma (names cannot
  contain commas: a name ends at the first ``=`` or ``,``);
* the first element may omit ``key=`` when the option has an implied key (``-numa node`` is
  ``type=node``, ``-m 1G`` is ``size=1G``); this also holds for an empty first element;
* anywhere else an element without ``=`` is a flag: ``foo`` means ``foo=on`` and ``nofoo``
  means ``foo=off`` (for every name starting with ``no``, so ``node`` becomes ``de=off``).
  The command line prints a deprecation warning for each flag, and ``help``/``?`` as a flag
  asks for help on options that have a description;
* repeated keys are all kept, in order (readers take the last one, list readers take all);
* ``id=`` is taken out as the options' identifier: the first ``id`` element wins, it must be
  an identifier, options lists that merge reject it, and other lists refuse duplicates.

:func:`parse_opts` is the raw scan. :func:`parse_qemu_opts` is ``qemu_opts_parse_noisily``:
scan, identifier, flag warnings and per-description validation with QEMU's texts, raising
:class:`qmpnuma.errors.OptionError` (the caller prefixes the option's location).
"""

from __future__ import annotations

from typing import Literal

from qmpnuma.errors import OptionError
from qmpnuma.options.diagnostics import OptionWarning
from qmpnuma.options.numbers import qemuopts_bool, qemuopts_number, qemuopts_size
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.qobject.hashing import qdict_order
from qmpnuma.records import field, record

OptType = Literal["string", "bool", "number", "size"]


@record(frozen=True, slots=True)
class OptsItem:
    """One ``key=value`` element as scanned, with how it was written.

    ``flag`` is True when the element had no ``=`` (outside the implied position); ``negated``
    when such a flag started with ``no``.
    """

    key: str
    value: str
    flag: bool = False
    negated: bool = False

    @property
    def asks_help(self) -> bool:
        """True for a bare ``help`` or ``?`` element, which QEMU treats as a help request."""
        return self.flag and not self.negated and self.key in ("help", "?")


def _read_value(text: str, pos: int) -> tuple[str, int]:
    """Read a value starting at ``pos`` up to a single comma, undoubling ``,,``."""
    parts: list[str] = []
    while True:
        comma = text.find(",", pos)
        if comma < 0:
            parts.append(text[pos:])
            return "".join(parts), len(text)
        if text[comma + 1 : comma + 2] == ",":
            parts.append(text[pos : comma + 1])
            pos = comma + 2
            continue
        parts.append(text[pos:comma])
        return "".join(parts), comma


def _name_length(text: str, pos: int) -> int:
    """Length of the element name at ``pos``: up to the first ``=`` or ``,``."""
    end = pos
    while end < len(text) and text[end] not in "=,":
        end += 1
    return end - pos


def _scan_one(text: str, pos: int, implied_key: str | None) -> tuple[OptsItem, int]:
    """Scan the element starting at ``pos``; return it and the start of the next one."""
    length = _name_length(text, pos)
    after = pos + length
    if after < len(text) and text[after] == "=":
        value, end = _read_value(text, after + 1)
        item = OptsItem(text[pos:after], value)
    elif implied_key is not None:
        value, end = _read_value(text, pos)
        item = OptsItem(implied_key, value)
    else:
        name = text[pos:after]
        end = after
        if name.startswith("no"):
            item = OptsItem(name[2:], "off", flag=True, negated=True)
        else:
            item = OptsItem(name, "on", flag=True)
    if end < len(text):  # skip the separating comma
        end += 1
    return item, end


def scan_opts(text: str, implied_key: str | None) -> list[OptsItem]:
    """Scan a QemuOpts string into its elements, ``id`` included, in order."""
    items: list[OptsItem] = []
    pos = 0
    first_key = implied_key
    while pos < len(text):
        item, pos = _scan_one(text, pos, first_key)
        first_key = None
        items.append(item)
    return items


def parse_opts(text: str, implied_key: str | None) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs of a QemuOpts string, raw strings in order.

    Repeated keys are kept; an ``id`` element is kept as a pair too (see :func:`opts_id` for
    how QEMU picks the identifier).
    """
    return [(item.key, item.value) for item in scan_opts(text, implied_key)]


def opts_id(text: str) -> str | None:
    """The identifier QEMU takes from a QemuOpts string: the first ``id`` element's value.

    QEMU scans for it without the implied key, so a bare first word counts as a flag here.
    """
    for item in scan_opts(text, None):
        if item.key == "id":
            return item.value
    return None


def id_wellformed(ident: str) -> bool:
    """QEMU's identifier rule: a letter, then letters, digits, ``-``, ``.`` or ``_``."""
    if not ident or not (ident[0].isascii() and ident[0].isalpha()):
        return False
    return all(ch.isascii() and (ch.isalnum() or ch in "-._") for ch in ident[1:])


def flag_warning(item: OptsItem) -> OptionWarning:
    """The deprecation warning QEMU prints for a short-form boolean element."""
    prefix = "no" if item.negated else ""
    return OptionWarning(
        f"short-form boolean option '{prefix}{item.key}' deprecated",
        (f"Please use {item.key}={item.value} instead",),
    )


@record(frozen=True)
class OptsList:
    """A QemuOptsList: its name, implied key, whether it merges, and its option description.

    ``desc`` None means the list accepts any key as a string (``-numa``, ``-device``), as
    QEMU's lists with an empty description do.
    """

    name: str
    implied_key: str | None
    desc: dict[str, OptType] | None = None
    merge_lists: bool = False


class OptsHelpRequested(Exception):
    """A bare ``help``/``?`` asked QEMU to list the options instead of parsing them."""


@record
class ParsedOpts:
    """The result of :func:`parse_qemu_opts`: identifier, raw pairs (no ``id``), warnings."""

    ident: str | None
    pairs: list[tuple[str, str]]
    warnings: list[OptionWarning] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        """The last value given for ``key`` (as ``qemu_opt_get``), or None."""
        for name, value in reversed(self.pairs):
            if name == key:
                return value
        return None

    def get_all(self, key: str) -> list[str]:
        """Every value given for ``key``, in order."""
        return [value for name, value in self.pairs if name == key]


def convert_opt(
    opt_type: OptType,
    key: str,
    value: str,
    *,
    profile: Profile = DEFAULT_PROFILE,
    warnings: list[str] | None = None,
) -> str | bool | int:
    """Convert one QemuOpts value per its described type, with QemuOpts' error texts."""
    if opt_type == "bool":
        if profile.qemuopts_bool_only_on_off and value not in ("on", "off"):
            raise OptionError(f"Parameter '{key}' expects 'on' or 'off'")
        return qemuopts_bool(key, value)
    if opt_type == "number":
        return qemuopts_number(key, value)
    if opt_type == "size":
        return qemuopts_size(key, value, profile=profile, warnings=warnings)
    return value


def parse_qemu_opts(
    text: str,
    opts_list: OptsList,
    *,
    known_ids: set[str] | None = None,
    profile: Profile = DEFAULT_PROFILE,
    warnings: list[OptionWarning] | None = None,
) -> ParsedOpts:
    """``qemu_opts_parse_noisily`` with the implied key: scan, check ``id``, validate.

    ``known_ids`` holds identifiers already used in this list (for ``Duplicate ID``); the new
    identifier is *not* added. The profile says whether short-form booleans warn
    (``qemuopts_flag_warnings``, 6.0 on) and whether bools take only ``on``/``off``.

    Warnings (flag deprecations, hex-with-suffix sizes) are appended to ``warnings`` (when
    given) as they arise, in the order QEMU prints them, so that a caller catching an
    :class:`OptionError` still has the warnings printed before it; they are also in
    :attr:`ParsedOpts.warnings`. Raises :class:`OptsHelpRequested` for a help request on a
    described list.
    """
    ident = opts_id(text)
    if ident is not None:
        if opts_list.merge_lists:
            raise OptionError("Invalid parameter 'id'")
        if not id_wellformed(ident):
            raise OptionError(
                "Parameter 'id' expects an identifier",
                ("Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.",),
            )
        if known_ids is not None and ident in known_ids:
            raise OptionError(f"Duplicate ID '{ident}' for {opts_list.name}")
    result = ParsedOpts(ident, [], warnings if warnings is not None else [])
    for item in scan_opts(text, opts_list.implied_key):
        if item.flag and not item.asks_help and profile.qemuopts_flag_warnings:
            result.warnings.append(flag_warning(item))
        if item.asks_help and opts_list.desc is not None:
            raise OptsHelpRequested(opts_list.name)
        if item.key == "id":
            continue
        result.pairs.append((item.key, item.value))
        if opts_list.desc is None:
            continue
        opt_type = opts_list.desc.get(item.key)
        if opt_type is None:
            raise OptionError(f"Invalid parameter '{item.key}'")
        size_warnings: list[str] = []
        try:
            convert_opt(opt_type, item.key, item.value, profile=profile, warnings=size_warnings)
        finally:
            # qemu_strtosz warns about a hex suffix before it looks at what follows.
            result.warnings.extend(OptionWarning(text) for text in size_warnings)
    return result


#: ``-m [size=]megs[,slots=n][,maxmem=size]`` (QEMU's "memory" list).
MEMORY_OPTS = OptsList(
    "memory", "size", {"size": "size", "slots": "number", "maxmem": "size"}, merge_lists=True
)
#: ``-numa``: any key; the OptsVisitor checks them against NumaOptions.
NUMA_OPTS = OptsList("numa", "type")
#: ``-accel``: the accelerator name plus its QOM properties (checked when it is created).
ACCEL_OPTS = OptsList("accel", "accel")
#: ``-name [guest=]name[,debug-threads=on|off][,process=name]``.
NAME_OPTS = OptsList(
    "name",
    "guest",
    {"guest": "string", "process": "string", "debug-threads": "bool"},
    merge_lists=True,
)
#: ``-msg [timestamp=on|off][,guest-name=on|off]`` (no implied key).
MSG_OPTS = OptsList("msg", None, {"timestamp": "bool", "guest-name": "bool"})
#: ``-device`` in its non-JSON form: QemuOpts with the driver implied, any key.
DEVICE_OPTS = OptsList("device", "driver")
#: ``-object`` in its non-JSON form: QemuOpts with ``qom-type`` implied, read by the OptsVisitor.
OBJECT_OPTS = OptsList("object", "qom-type")


def merge_opts(earlier: ParsedOpts, later: ParsedOpts) -> ParsedOpts:
    """Merge a repeated option of a merging list (``-m 1G -m maxmem=4G``): pairs accumulate."""
    return ParsedOpts(
        earlier.ident, [*earlier.pairs, *later.pairs], [*earlier.warnings, *later.warnings]
    )


def memory_keyval(parsed: ParsedOpts, profile: Profile = DEFAULT_PROFILE) -> dict[str, str]:
    """The ``memory`` machine property QEMU 7.2 builds from ``-m`` (``parse_memory_options``).

    A non-zero ``size`` whose text ends in a digit gets ``M`` appended (legacy MiB unit);
    ``maxmem`` becomes ``max-size``; ``slots`` is copied. The result is then read with
    ``visit_keyval(..., "MemorySizeConfiguration", schema, root="memory")``, whose errors QEMU
    prints without a location (e.g. ``Parameter 'memory.size' expects size``).
    """
    prop: dict[str, str] = {}
    size_text = parsed.get("size")
    if size_text is not None and qemuopts_size("size", size_text, profile=profile) != 0:
        prop["size"] = size_text + "M" if size_text[-1:].isdigit() else size_text
    maxmem = parsed.get("maxmem")
    if maxmem is not None:
        prop["max-size"] = maxmem
    slots = parsed.get("slots")
    if slots is not None:
        prop["slots"] = slots
    return prop


def opts_to_qdict(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """``qemu_opts_to_qdict``: last value per key, in the order QEMU's QDict iterates.

    QEMU 7.2 sets ``-device`` properties (after taking out ``driver`` and ``id``) by walking
    this dict, so with several bad properties
    the first one in this order is the one reported (``-device pc-dimm,foo=1,bar=2`` reports
    ``Property 'pc-dimm.bar' not found``). Each value is then read with
    ``visit_keyval(value, TYPE, schema, root=NAME)`` (``Parameter 'node' expects integer``).
    """
    last: dict[str, str] = {}
    for key, value in pairs:
        last[key] = value
    return {key: last[key] for key in qdict_order(last)}
