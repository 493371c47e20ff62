"""QEMU's command-line syntax, without any machine rule.

Modules, one job each:

* :mod:`~qmpnuma.options.argv` – the argv walk (``split_argv``, ``option_location``) over the
  option table of the profile (``Profile.options``, data in ``qmpnuma/profiles/qemu_X_Y.py``);
* :mod:`~qmpnuma.options.qemuopts` – QemuOpts strings (``parse_opts``, ``parse_qemu_opts`` and
  the option lists of ``-m``, ``-numa``, ``-object``, ``-device``, ``-name``, ``-msg``, ...);
* :mod:`~qmpnuma.options.keyval` – keyval strings (``-smp``, ``-machine``), merging them
  (``keyval_merge``) and the JSON form;
* :mod:`~qmpnuma.options.numbers` – integers and sizes with QEMU's error texts, on top of the
  C scanners in :mod:`~qmpnuma.options.cnum`;
* :mod:`~qmpnuma.options.opts_visitor` – QemuOpts pairs read as a QAPI type (``visit_opts``);
* :mod:`~qmpnuma.options.qobject_visitor` – keyval trees and JSON values read as a QAPI type
  (``visit_keyval``, ``visit_qobject``);
* :mod:`~qmpnuma.qobject.hashing` – GLib/QDict iteration orders that decide which of several
  bad keys QEMU reports;
* :mod:`~qmpnuma.options.diagnostics` – printing an error or warning the way QEMU does.
"""

from qmpnuma.options.argv import ArgvError, ArgvOption, check_supported, option_location, split_argv
from qmpnuma.options.diagnostics import OptionWarning, format_report
from qmpnuma.options.keyval import is_json_form, keyval_merge, keyval_parse, parse_json_option
from qmpnuma.options.numbers import (
    NumberError,
    parse_size,
    parse_size_mib,
    parse_uint,
    parse_uint_full,
)
from qmpnuma.options.opts_visitor import visit_opts
from qmpnuma.options.qemuopts import parse_opts, parse_qemu_opts
from qmpnuma.options.qobject_visitor import visit_keyval, visit_qobject

__all__ = [
    "ArgvError",
    "ArgvOption",
    "NumberError",
    "OptionWarning",
    "check_supported",
    "format_report",
    "is_json_form",
    "keyval_merge",
    "keyval_parse",
    "option_location",
    "parse_json_option",
    "parse_opts",
    "parse_qemu_opts",
    "parse_size",
    "parse_size_mib",
    "parse_uint",
    "parse_uint_full",
    "split_argv",
    "visit_keyval",
    "visit_opts",
    "visit_qobject",
]
