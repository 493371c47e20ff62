"""``-numa TEXT`` read as QEMU's ``parse_numa`` does: QemuOpts, the OptsVisitor, the mem fix-up.

The syntax is the options room's: ``qemu_opts_parse_noisily`` on the ``numa`` list (implied key
``type``, short-form boolean warnings) while argv is walked, then the OptsVisitor over the
profile's ``NumaOptions`` type when the option's turn comes.  One rule is the command line's
own: a ``mem=`` written without a suffix counts MiB ("legacy suffix-less format"); 7.2 re-reads
the text with ``qemu_strtosz_MiB``, 2.9 shifts the value when the text ends in a digit.
"""

from __future__ import annotations

import contextlib
import errno
import os
from typing import Any

from qmpnuma.errors import OptionError
from qmpnuma.machine.schema import option_schema
from qmpnuma.options.diagnostics import OptionWarning
from qmpnuma.options.numbers import NumberError, parse_size_mib
from qmpnuma.options.opts_visitor import visit_opts
from qmpnuma.options.qemuopts import NUMA_OPTS, ParsedOpts, parse_opts, parse_qemu_opts
from qmpnuma.profiles.profile import NumaState, Profile

UINT64_MASK = (1 << 64) - 1


def scan_numa_option(
    text: str,
    known_ids: set[str],
    profile: Profile,
    warnings: list[OptionWarning],
) -> ParsedOpts:
    """The argv-time check of ``-numa`` (``qemu_opts_parse_noisily``); raises ``OptionError``."""
    return parse_qemu_opts(text, NUMA_OPTS, known_ids=known_ids,
                           profile=profile, warnings=warnings)


def read_numa_option(text: str, profile: Profile, warnings: list[str]) -> dict[str, Any]:
    """``parse_numa``: the visited ``NumaOptions`` of ``-numa TEXT`` (sizes in bytes).

    Hex sizes with a suffix append QEMU's deprecation text to ``warnings`` (once per read, as
    QEMU reads ``mem=`` twice).  Raises ``OptionError`` with the visitor's text.
    """
    pairs = parse_opts(text, NUMA_OPTS.implied_key)
    options = visit_opts(pairs, "NumaOptions", option_schema(profile),
                         profile=profile, warnings=warnings)
    if options["type"] == "node" and "mem" in options:
        raw = [value for key, value in pairs if key == "mem"][-1]
        if profile.numa_state is NumaState.GLOBAL_NUMA_INFO:
            # 2.x numa.c: a plain number is MiB, shifted after the size visit
            if raw[-1:].isdigit():
                options["mem"] = (options["mem"] << 20) & UINT64_MASK
        elif profile.numa_mem_mib_overflow_fatal:
            try:
                options["mem"] = parse_size_mib(raw, profile=profile, warnings=warnings)
            except NumberError as err:
                reason = os.strerror(errno.ERANGE if err.errno == "ERANGE" else errno.EINVAL)
                raise OptionError(f"could not parse memory size '{raw}': {reason}") from None
        else:
            with contextlib.suppress(NumberError):
                options["mem"] = parse_size_mib(raw, profile=profile, warnings=warnings)
    return options
