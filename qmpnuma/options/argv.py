"""The argv walk of qemu-system-x86_64 7.2: which words are options and which are arguments.

Reproduces ``lookup_opt()`` and the two loops over argv in QEMU's ``qemu_init()``:

* a word not starting with ``-`` (including the empty word) is a disk image, handled exactly
  like ``-hda WORD``;
* ``--name`` is the same option as ``-name``; only one extra dash is dropped, so ``---m`` and
  a lone ``-`` or ``--`` are invalid;
* an option found in the table takes the next word as its argument when the table says so,
  whatever that word looks like (``-m -daemonize`` gives ``-m`` the argument ``-daemonize``).

QEMU checks every word in a first pass before processing any option, so an unknown option or
a missing argument anywhere on the line is reported before any other error. Such failures are
raised as :class:`ArgvError`. The target check (``Option not supported for this target``)
happens later, in the second pass, when the option's turn comes: :func:`split_argv` keeps those
options and :func:`check_supported` raises for them.

How the caller prints an error (verified against the real binary)::

    PROG: LOCATION: MESSAGE            e.g.  qemu-system-x86_64: -foo: invalid option
                                             qemu-system-x86_64: -m: requires an argument
                                             qemu-system-x86_64: -g 800x600: Option not ...

where ``LOCATION`` is :attr:`ArgvError.location` (for argv errors) or
:func:`option_location` (for errors raised while an option is processed).

Which errors carry a location in 7.2 (checked with the real binary): every QemuOpts or keyval
*syntax* error (``-m``, ``-numa``, ``-object``, ``-device``, ``-smp``, ``-machine``/``-M``,
``-name``, ...), every OptsVisitor error of ``-numa``/``-object`` and every ``-numa``/
``-object``/``-device`` rule error. Errors found later while the machine properties are
applied have none: ``-smp`` values (``Parameter 'smp.cpus' expects integer``), the ``-m``
memory dict (``Parameter 'memory.size' expects size``), ``-machine`` properties
(``Property 'pc-i440fx-7.2-machine.foo' not found``). The location always shows the option
as typed, so ``--machine pc,foo`` prints ``--machine pc,foo: ...``.
"""

from __future__ import annotations

from collections.abc import Sequence

from qmpnuma.errors import OptionError
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE
from qmpnuma.records import record

#: The option a bare word stands for: QEMU adds it as the first IDE disk image.
IMAGE_OPTION = "hda"


@record(frozen=True, slots=True)
class ArgvOption:
    """One option as found on the command line.

    ``name`` is the table name without dashes (``"numa"``), ``arg`` the argument word or None,
    ``index`` the position of the option word in the ``args`` given to :func:`split_argv`.
    ``spelling`` is the option word exactly as typed (``"-numa"``, ``"--numa"``); it is ``""``
    for a bare disk image word, whose ``name`` is ``"hda"``. ``supported`` is False for options
    QEMU knows but refuses on x86_64 (see :func:`check_supported`).
    """

    name: str
    arg: str | None
    index: int
    spelling: str = ""
    supported: bool = True

    @property
    def is_image(self) -> bool:
        """True for a bare word that QEMU treats as a disk image."""
        return self.spelling == ""


class ArgvError(OptionError):
    """The argv walk failed; ``location`` is what QEMU prints between program name and text."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(message)
        self.location = location

    def format(self, progname: str) -> str:
        """The complete stderr text QEMU prints for this failure (newline terminated)."""
        return f"{progname}: {self.location}: {self.message}\n"


def _table_name(word: str) -> str:
    """The name looked up in the option table for an option word (``--x`` counts as ``-x``)."""
    if word.startswith("--"):
        return word[2:]
    return word[1:]


def split_argv(args: Sequence[str], *, profile: Profile = DEFAULT_PROFILE) -> list[ArgvOption]:
    """Split ``args`` (argv without argv[0]) into options as the profile's QEMU does.

    ``profile.options`` is the option table; the walk itself is the same in both versions.
    Raises :class:`ArgvError` for the first unknown option (``invalid option``) or an option
    that needs an argument but ends the line (``requires an argument``).
    """
    table = profile.options
    found: list[ArgvOption] = []
    position = 0
    while position < len(args):
        word = args[position]
        if not word.startswith("-"):
            found.append(ArgvOption(IMAGE_OPTION, word, position))
            position += 1
            continue
        spec = table.get(_table_name(word))
        if spec is None:
            raise ArgvError(word, "invalid option")
        name = _table_name(word)
        if spec.takes_argument:
            if position + 1 >= len(args):
                raise ArgvError(word, "requires an argument")
            found.append(
                ArgvOption(name, args[position + 1], position, word, spec.supported_on_x86_64)
            )
            position += 2
        else:
            found.append(ArgvOption(name, None, position, word, spec.supported_on_x86_64))
            position += 1
    return found


def option_location(opt: ArgvOption) -> str:
    """The location QEMU prints for an error raised while ``opt`` is processed.

    It is the option word as typed followed by its argument, separated by one space
    (``-numa node,nodeid=0``, ``--m 1G``); a bare disk image word is shown alone.
    """
    if opt.is_image:
        return opt.arg or ""
    if opt.arg is None:
        return opt.spelling
    return f"{opt.spelling} {opt.arg}"


def check_supported(opt: ArgvOption) -> None:
    """Raise QEMU's error for an option that exists but not on x86_64 (e.g. ``-g``).

    The caller prints it with :func:`option_location`.
    """
    if not opt.supported:
        raise OptionError("Option not supported for this target")
