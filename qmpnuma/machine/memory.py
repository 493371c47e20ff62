"""``-m [size=]megs[,slots=n][,maxmem=size]``: guest RAM size, hot-plug slots and maxmem.

QEMU reads ``-m`` in steps that fail with different texts and locations: the QemuOpts syntax
check while walking argv (printed with the ``-m ...:`` prefix), then the machine ``memory``
property (7.2 ``machine_set_mem``, no prefix; 2.9 ``set_memory_options`` with the prefix).  The
board's own checks (``pc_memory_init``) are :mod:`qmpnuma.machine.board_memory`'s, where the
RAM sits is :mod:`qmpnuma.machine.ram_layout`'s.
"""

from __future__ import annotations

from qmpnuma.errors import MachineError, OptionError
from qmpnuma.machine.machine_types import MachineType
from qmpnuma.machine.schema import option_schema
from qmpnuma.options.diagnostics import OptionWarning
from qmpnuma.options.numbers import NumberError, qemu_strtou64
from qmpnuma.options.numbers import parse_size as options_parse_size
from qmpnuma.options.qemuopts import (
    MEMORY_OPTS,
    ParsedOpts,
    memory_keyval,
    merge_opts,
    parse_qemu_opts,
)
from qmpnuma.options.qobject_visitor import visit_keyval
from qmpnuma.profiles.profile import Profile, SizeSyntax
from qmpnuma.records import record

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

UINT64_MASK = (1 << 64) - 1
#: RAM sizes are rounded up to this (``QEMU_ALIGN_UP(sz, 8192)``).
RAM_SIZE_ALIGN = 8192


@record(frozen=True)
class MemoryOptionText:
    """``-m`` after the argv-time syntax check: raw strings, merged over repeated ``-m``."""

    size: str | None = None
    slots: str | None = None
    maxmem: str | None = None
    location: str = ""


@record(frozen=True)
class MemoryConfig:
    """The resolved memory configuration of a machine (``ram_size``, ``maxram_size``, slots)."""

    ram_size: int
    maxram_size: int
    ram_slots: int

    @property
    def hotplug_space(self) -> int:
        """Bytes memory devices may take in total (``maxmem - ram``)."""
        return self.maxram_size - self.ram_size


def scan_memory_option(
    text: str,
    previous: ParsedOpts | None,
    profile: Profile,
    warnings: list[OptionWarning],
) -> ParsedOpts:
    """The argv-time part of ``-m``: ``qemu_opts_parse_noisily`` on the merging ``memory`` list.

    Returns the options merged with earlier ``-m`` options; warnings this ``-m`` prints with
    its location are appended to ``warnings``.  Raises ``OptionError`` (the caller adds the
    ``-m ...:`` location).
    """
    parsed = parse_qemu_opts(text, MEMORY_OPTS, profile=profile,
                             warnings=warnings)
    return parsed if previous is None else merge_opts(previous, parsed)


def memory_option_text(parsed: ParsedOpts | None, location: str) -> MemoryOptionText | None:
    """The raw ``size``/``slots``/``maxmem`` strings (last one wins) QEMU 2.9 reads."""
    if parsed is None:
        return None
    return MemoryOptionText(parsed.get("size"), parsed.get("slots"), parsed.get("maxmem"),
                            location)


def memory_property(parsed: ParsedOpts | None, profile: Profile) -> dict[str, str]:
    """7.2 ``parse_memory_options``: ``-m`` as the machine's ``memory`` keyval dict.

    A non-zero ``size`` ending in a digit gets ``M`` (legacy MiB unit), ``maxmem`` becomes
    ``max-size``; the dict is merged into the ``-machine`` dict (``-M memory.size=`` too).
    """
    return memory_keyval(parsed, profile) if parsed is not None else {}


def resolve_memory_7_2(
    prop: object, machine_type: MachineType, profile: Profile, warnings: list[str]
) -> MemoryConfig:
    """7.2 ``machine_set_mem``: the ``memory`` property read and checked.

    ``prop`` (the machine dict's ``memory`` member) is read as ``MemorySizeConfiguration``;
    then default size, 8 KiB rounding and the maxmem rules.  Raises ``MachineError`` (printed
    without location).  Hex-with-suffix warnings of the re-read are appended to ``warnings``.
    """
    try:
        visited = visit_keyval(prop, "MemorySizeConfiguration", option_schema(profile),
                               root="memory", warnings=warnings, profile=profile)
    except OptionError as err:
        raise MachineError(err.message, hints=err.hints) from None
    size = visited.get("size", 0)
    if size == 0:
        size = machine_type.default_ram_size
    # QEMU_ALIGN_UP in 64 bits: a size within 8 KiB of 2**64 wraps to 0 (and QEMU's
    # "ram size too large" check cannot fire on a 64-bit host).
    size = _align_up(size, RAM_SIZE_ALIGN) & UINT64_MASK
    maxram = size
    slots = 0
    has_max = "max-size" in visited
    has_slots = "slots" in visited
    if has_max:
        maxram = visited["max-size"]
    if has_slots:
        slots = visited["slots"]
    if has_max:
        if maxram < size:
            raise MachineError(
                "invalid value of maxmem: maximum memory size "
                f"(0x{maxram:x}) must be at least the initial memory size (0x{size:x})"
            )
        if has_slots and slots and maxram == size:
            raise MachineError(
                "invalid value of maxmem: memory slots were specified but maximum memory size "
                f"(0x{maxram:x}) is equal to the initial memory size (0x{size:x})"
            )
    elif has_slots:
        raise MachineError("slots specified but no max-size")
    return MemoryConfig(size, maxram, slots)


def resolve_memory_2_9(opts: MemoryOptionText | None, machine_type: MachineType) -> MemoryConfig:
    """2.9 ``vl.c:set_memory_options``: same arithmetic, 2.9 texts, printed with the location."""
    size = 0
    if opts is not None and opts.size is not None:
        text = opts.size
        if not text:
            raise OptionError("missing 'size' option value")
        size = _size_2_9(text)
        if text[-1].isdigit():
            shifted = size << 20
            if shifted >= 1 << 64:
                raise OptionError("too large 'size' option value")
            size = shifted
    if size == 0:
        size = machine_type.default_ram_size
    size = _align_up(size, RAM_SIZE_ALIGN)
    maxram = size
    slots = 0
    maxmem_text = opts.maxmem if opts else None
    slots_text = opts.slots if opts else None
    if maxmem_text is not None and slots_text is not None:
        maxram = _size_2_9(maxmem_text)
        slots = qemu_strtou64(slots_text)
        if maxram < size:
            raise OptionError(
                "invalid value of -m option maxmem: maximum memory size "
                f"(0x{maxram:x}) must be at least the initial memory size (0x{size:x})"
            )
        if maxram > size and not slots:
            raise OptionError(
                "invalid value of -m option: maxmem was specified, "
                "but no hotplug slots were specified"
            )
        if maxram == size and slots:
            raise OptionError(
                "invalid value of -m option maxmem: memory slots were specified but maximum "
                f"memory size (0x{maxram:x}) is equal to the initial memory size (0x{size:x})"
            )
    elif maxmem_text is not None or slots_text is not None:
        missing = "maxmem" if slots_text is not None else "slots"
        raise OptionError(f"invalid -m option value: missing '{missing}' option")
    return MemoryConfig(size, maxram, slots)


def _size_2_9(text: str) -> int:
    """2.9's ``strtod``-based ``qemu_strtosz`` (already syntax-checked at argv time)."""
    try:
        return options_parse_size(text, syntax=SizeSyntax.STRTOD)
    except NumberError:
        return 0


def _align_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align
