"""The argv walk's per-option syntax checks, done with the options room's parsers.

While QEMU walks argv (``qemu_init``'s big ``switch``) it parses some options at once, so their
syntax errors carry the option's location and come before anything else: ``-m`` and ``-numa``
(QemuOpts), ``-object`` (QemuOpts + OptsVisitor, or JSON + QObject visitor), ``-device``
(QemuOpts, or JSON), ``-machine``/``-M`` and ``-smp`` (keyval, merged into one machine dict in
7.2).  :class:`OptionScan` collects what each option left for the later start-up steps.
"""

from __future__ import annotations

from typing import Any

from qmpnuma.machine.devices import DeviceArguments
from qmpnuma.machine.memory import scan_memory_option
from qmpnuma.machine.numa_options import scan_numa_option
from qmpnuma.machine.object_options import ObjectRequest, parse_object_option
from qmpnuma.machine.recorded_options import RecordedOption
from qmpnuma.options.argv import ArgvOption
from qmpnuma.options.diagnostics import OptionWarning
from qmpnuma.options.keyval import is_json_form, keyval_merge, keyval_parse, parse_json_option
from qmpnuma.options.qemuopts import DEVICE_OPTS, ParsedOpts, parse_opts, parse_qemu_opts
from qmpnuma.profiles.profile import Profile
from qmpnuma.records import field, record

#: QEMU 2.9 read ``-machine`` and ``-smp`` with QemuOpts (implied keys ``type`` and ``cpus``).
MACHINE_IMPLIED_KEY = "type"
SMP_IMPLIED_KEY = "cpus"


@record
class OptionScan:
    """What the argv walk leaves for start-up, in command-line order per kind."""

    profile: Profile
    #: 7.2: the keyval machine dict (``-machine`` merged with ``smp``); 2.9: last value per key.
    machine_opts: dict[str, Any] = field(default_factory=dict)
    #: 2.9: the ``-smp`` pairs in order (7.2 keeps them under ``machine_opts["smp"]``).
    smp_pairs: list[tuple[str, str]] = field(default_factory=list)
    memory: ParsedOpts | None = None
    memory_location: str = ""
    objects: list[tuple[ArgvOption, ObjectRequest]] = field(default_factory=list)
    numa_opts: list[ArgvOption] = field(default_factory=list)
    device_opts: list[tuple[ArgvOption, DeviceArguments]] = field(default_factory=list)
    cpu_model: str | None = None
    recorded: list[RecordedOption] = field(default_factory=list)
    prelaunch: bool = False
    #: ``-machine help`` (or ``?``) was given: QEMU lists its machine types and exits.
    machine_help: bool = False
    _object_ids: set[str] = field(default_factory=set)
    _numa_ids: set[str] = field(default_factory=set)
    _device_ids: set[str] = field(default_factory=set)

    def scan(self, opt: ArgvOption, location: str, warnings: list[OptionWarning]) -> None:
        """Check one option's syntax as QEMU does while walking argv; raise ``OptionError``.

        Warnings this option prints (with its location) are appended to ``warnings`` as they
        arise, so they are printed even when an error follows.
        """
        name, arg = opt.name, opt.arg or ""
        if name in ("M", "machine"):
            self._machine(arg)
        elif name == "m":
            self.memory = scan_memory_option(arg, self.memory, self.profile, warnings)
            self.memory_location = location
        elif name == "smp":
            self._smp(arg)
        elif name == "object":
            request = parse_object_option(arg, self._object_ids, self.profile, warnings)
            if request.from_qemuopts:
                self._object_ids.add(request.id)
            self.objects.append((opt, request))
        elif name == "numa":
            parsed = scan_numa_option(arg, self._numa_ids, self.profile, warnings)
            if parsed.ident is not None:
                self._numa_ids.add(parsed.ident)
            self.numa_opts.append(opt)
        elif name == "device":
            self.device_opts.append((opt, self._device(arg, warnings)))
            # recorded too: the monitor description reads the chardev a device claims
            self.recorded.append(RecordedOption(name, opt.arg))
        else:
            if name == "cpu":
                self.cpu_model = arg
            if name == "S":
                self.prelaunch = True
            self.recorded.append(RecordedOption(name, opt.arg))

    def _machine(self, arg: str) -> None:
        if not self.profile.machine_options_keyval:
            pairs = parse_opts(arg, MACHINE_IMPLIED_KEY)
            for key, value in pairs:
                self.machine_opts[key] = value
            # 2.x machine_parse: a help type lists the machines
            self.machine_help = dict(pairs).get(MACHINE_IMPLIED_KEY) in ("help", "?")
            return
        # keyval_parse_into: later -machine options merge into the same dict; a help element
        # asks machine_help_func for the type given so far (see Startup._exit_if_asked).
        self.machine_help = keyval_parse(arg, MACHINE_IMPLIED_KEY, into=self.machine_opts).help

    def _smp(self, arg: str) -> None:
        if not self.profile.machine_options_keyval:
            self.smp_pairs.extend(parse_opts(arg, SMP_IMPLIED_KEY))
            return
        # machine_parse_property_opt: keyval, then merged into the machine dict as "smp".
        tree = keyval_parse(arg, SMP_IMPLIED_KEY).tree
        keyval_merge(self.machine_opts, {"smp": tree})

    def _device(self, arg: str, warnings: list[OptionWarning]) -> DeviceArguments:
        if self.profile.device_accepts_json and is_json_form(arg):
            # 7.2 keeps a JSON -device as a dict (libvirt passes it so): its members keep their
            # JSON types for the strict visitor, and its id is neither checked for syntax nor
            # entered among the QemuOpts ids (qdev refuses a duplicate only at creation).
            return DeviceArguments(tuple(parse_json_option(arg).items()), from_json=True)
        parsed = parse_qemu_opts(arg, DEVICE_OPTS, known_ids=self._device_ids,
                                 profile=self.profile,
                                 warnings=warnings)
        if parsed.ident is None:
            return DeviceArguments(tuple(parsed.pairs))
        self._device_ids.add(parsed.ident)
        return DeviceArguments((*parsed.pairs, ("id", parsed.ident)))
