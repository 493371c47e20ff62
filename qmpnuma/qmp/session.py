"""One QMP connection as a pure state machine: bytes in, actions out (no sockets, no asyncio).

The server feeds whatever it reads to ``QmpSession.feed`` and gets back, in order, either
``Send`` (bytes QEMU would answer by itself: JSON errors, envelope and argument errors,
capability negotiation) or ``Execute`` (a request that passed every check QEMU makes before
running a command handler).  The server runs the handler and asks the session for the reply
bytes with ``reply`` / ``reply_error``; events go through ``event``, which is silent until the
client has negotiated capabilities, exactly like QEMU.

Everything QEMU decides before a handler runs lives here, in QEMU's order:
JSON stream → "must be a JSON object" → envelope members in QDict order (``execute``,
``exec-oob``, ``arguments``, ``id``, anything else) → command lookup (only
``qmp_capabilities`` before negotiation, with QEMU's replacement text) → OOB permission →
argument visiting → ``qmp_capabilities`` itself.  The 2.9 profile switches to QEMU 2.9's
texts and drops ``exec-oob`` and the ``oob`` capability.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

from qmpnuma.errors import QmpError
from qmpnuma.profiles.profile import Profile
from qmpnuma.profiles.registry import DEFAULT_PROFILE, get_profile
from qmpnuma.qmp.visitor import visit_input
from qmpnuma.qobject.hashing import qdict_order
from qmpnuma.qobject.json_parser import JsonError, JsonStreamer
from qmpnuma.qobject.json_writer import encode, encode_event, encode_reply, reply_frame
from qmpnuma.records import field, record

__all__ = [
    "NO_ARGS",
    "Action",
    "CommandInfo",
    "Execute",
    "GreetingInfo",
    "QmpSession",
    "Run",
    "Send",
    "command_table",
    "default_greeting",
    "greeting_message",
]

NEGOTIATION_COMMAND: Final = "qmp_capabilities"
_NEGOTIATION_HINT: Final = "Expecting capabilities negotiation with 'qmp_capabilities'"
_ALREADY_NEGOTIATED: Final = "Capabilities negotiation is already complete, command ignored"
_DEEP_VISIT_LIMIT: Final = 12000
#: Lines remembered per session (see ``QmpSession.feed``) and the longest line remembered.
MEMO_SIZE: Final = 64
_MEMO_LINE_MAX: Final = 512
#: Request ids a remembered Execute may carry (immutable, so sharing them is safe).
_PLAIN_IDS: Final = (str, int, float, bool, type(None))
#: A request line cut around the value of an ``"id"`` member: the text before it (ending in
#: the colon and blanks), the value, the text after it (blanks, then ``,`` or ``}``). The value
#: is an *id slot* only in two lexical forms whose meaning and written form QEMU's lexer,
#: parser and writer agree on byte for byte: an integer of at most 18 digits without leading
#: zeros other than "-0" (an int64 that `json-writer.c` prints as typed), or a string of at most
#: 64 printable ASCII characters without quote, backslash or single quote (no escapes, no
#: UTF-8 decoding, written back unchanged). Greedy: the last such member of the line.
_ID_VALUE: Final = rb'0|-?[1-9][0-9]{0,17}|"[ !#-&(-\[\]-~]{0,64}"'
_ID_SLOT: Final = re.compile(
    rb'(.*"id"[ \t\r]*:[ \t\r]*)(' + _ID_VALUE + rb')([ \t\r]*[,}].*)', re.DOTALL)
#: Id slots, each followed by a newline, as many as come (see `QmpSession._template_run`).
_ID_LINES: Final = re.compile(b"(?:(?:" + _ID_VALUE + b")\n)*")
#: The ids a new template is probed with (one of each lexical form, never sent by clients).
_PROBE_STRING: Final = "qmpnuma-id-slot-probe"
_PROBE_INTEGER: Final = 7_316_059_213
#: Templates remembered per session (beside the `MEMO_SIZE` lines).
TEMPLATES_SIZE: Final = 64
#: The most lines one `Run` holds: a long burst becomes several runs, so that the replies to
#: its first lines can leave while the next are worked out.
RUN_LINES_MAX: Final = 1024


class CommandInfo(Protocol):
    """What the session needs from a command record (``qmpnuma.types.base.CommandDef`` fits)."""

    @property
    def arg_type(self) -> str | None: ...

    @property
    def allow_oob(self) -> bool: ...

    @property
    def gen(self) -> bool:
        """False for ``'gen': false`` commands (``device_add``): QEMU has no generated
        marshaller for them, so their arguments reach the handler unvisited."""
        ...

    @property
    def allow_preconfig(self) -> bool: ...


@record(frozen=True, slots=True)
class GreetingInfo:
    """The contents of the greeting: version triple, package string, offered capabilities."""

    major: int
    minor: int
    micro: int
    package: str
    capabilities: tuple[str, ...]


def greeting_message(info: GreetingInfo) -> bytes:
    """The greeting's bytes (``qmp_greeting``): version, package, offered capabilities."""
    version = {
        "qemu": {"major": info.major, "minor": info.minor, "micro": info.micro},
        "package": info.package,
    }
    return encode({"QMP": {"version": version, "capabilities": list(info.capabilities)}})


def default_greeting(profile: Profile) -> GreetingInfo:
    """The greeting of the profile's reference binary (version, package, capabilities)."""
    major, minor, micro = profile.version
    return GreetingInfo(major, minor, micro, profile.package, profile.qmp_capabilities)


@record(frozen=True, slots=True)
class Send:
    """Bytes to write to the client as they are."""

    data: bytes


@record(frozen=True, slots=True)
class Execute:
    """A checked request for the server to run; pass it back to ``reply``/``reply_error``.

    ``args`` are the visited arguments (plain JSON data, absent optionals absent); ``id`` is
    echoed in the reply only when ``has_id`` (an explicit ``"id": null`` is echoed too).
    ``id_text``, when the session knows it, is the id as QEMU writes it back (the request's
    own bytes for an id slot, see ``QmpSession.feed``), so replies need not encode it again.
    """

    name: str
    args: dict[str, Any]
    id: Any = None
    has_id: bool = False
    oob: bool = False
    id_text: bytes | None = field(default=None, compare=False, repr=False)


Action = Send | Execute


@record(frozen=True, slots=True)
class _ExecuteSlot:
    """A template line that gives an Execute whatever its id slot holds: of ``name``, with the
    visited arguments ``args`` (members whose values are scalars, so each hit gets a fresh
    dict of them that no handler can share; none: the immutable `NO_ARGS`)."""

    name: str
    oob: bool
    args: tuple[tuple[str, Any], ...] = ()


@record(frozen=True, slots=True)
class _SendSlot:
    """A template line that gives a Send whose bytes hold the id once: ``before`` + id +
    ``after`` (errors QEMU answers itself, e.g. negotiation once more)."""

    before: bytes
    after: bytes


_Template = _ExecuteSlot | _SendSlot


@record(frozen=True, slots=True)
class Run:
    """Consecutive complete lines of one chunk that give one action each, the same action but
    for the echoed id (a pipelining client: `QmpSession.feed_runs`).

    ``first`` is the first line's action. With ``id_lines`` None the lines are one remembered
    line ``count`` times, and every one gives ``first`` itself; else ``template`` is the lines'
    template and ``id_lines`` holds each line's id slot followed by a newline, the first
    line's included (a slot never holds a newline). A server may answer the lines at once
    (`sent`, `QmpSession.reply_run`) or one by one (`actions`).
    """

    first: Send | Execute
    count: int
    id_lines: bytes | None = None
    template: _ExecuteSlot | _SendSlot | None = None

    def actions(self) -> list[Send | Execute]:
        """The lines' actions one by one, as `QmpSession.feed` gives them."""
        if self.id_lines is None or self.template is None:
            return [self.first] * self.count
        template = self.template
        return [_fill(template, id_text) for id_text in self.id_lines.split(b"\n")[:-1]]

    def sent(self) -> bytes:
        """For a run of `Send` lines: every line's bytes, in order, in one piece."""
        first = self.first
        assert type(first) is Send
        slot = self.template
        if self.id_lines is None or type(slot) is not _SendSlot:
            return first.data * self.count
        return around(self.id_lines, slot.before, slot.after)


class _Shape:
    """What the session knows of a line shape that is no template (yet)."""


#: A shape seen once: the next line of it (with another id) is probed.
_SEEN_ONCE: Final = _Shape()
#: A shape the probes refused: its lines keep taking the full path, unprobed.
_REFUSED: Final = _Shape()


class _NoArguments(dict[str, Any]):
    """The empty arguments of a remembered request, shared by every hit: a dict that refuses
    every change, so no handler or hook can alter what later requests receive."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("the arguments of a remembered QMP request cannot change")

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse


#: The arguments of every remembered argument-less request (empty, immutable).
NO_ARGS: Final[dict[str, Any]] = _NoArguments()


def _error_body(error_class: str, desc: str) -> dict[str, Any]:
    return {"error": {"class": error_class, "desc": desc}}


class QmpSession:
    """The protocol state of one QMP client connection.

    ``commands`` maps the names of the commands this monitor runs to their records
    (``COMMANDS`` of a generated profile module); ``schema`` is that module's ``SCHEMA``.
    ``greeting`` defaults to the reference binary of ``profile`` (a profile or its name).
    """

    def __init__(
        self,
        commands: Mapping[str, CommandInfo],
        schema: Mapping[str, Mapping[str, Any]],
        *,
        profile: Profile | str = DEFAULT_PROFILE,
        greeting: GreetingInfo | None = None,
        machine_ready: Callable[[], bool] | None = None,
        memo_size: int = MEMO_SIZE,
    ) -> None:
        """``machine_ready`` tells whether machine initialization has completed; until it has
        (``-preconfig``), commands without ``allow-preconfig`` are refused as QEMU refuses them.
        ``memo_size`` bounds the remembered request lines (0 turns the memo off).
        """
        self.profile = get_profile(profile)
        self._texts = self.profile.texts
        self._commands = commands
        self._schema = schema
        self._greeting = greeting if greeting is not None else default_greeting(self.profile)
        self._streamer = JsonStreamer()
        self._machine_ready = machine_ready
        self.negotiated = False
        self.enabled_capabilities: frozenset[str] = frozenset()
        self._memo_size = memo_size
        self._memo: dict[bytes, Action] = {}
        self._memo_state: tuple[bool, frozenset[str], bool] = (False, frozenset(), True)
        #: (text before the id slot, text after it) -> what the line gives for any id there
        self._templates: dict[tuple[bytes, bytes], _Template | _Shape] = {}
        #: a return value's JSON text -> its reply's bytes before and after the id
        self._frames: dict[bytes, tuple[bytes, bytes]] = {}

    # -- output ---------------------------------------------------------------------------
    def greeting(self) -> bytes:
        """The greeting QEMU sends when a client connects."""
        return greeting_message(self._greeting)

    @property
    def oob_enabled(self) -> bool:
        return "oob" in self.enabled_capabilities

    def reply(self, execute: Execute, value: Any) -> bytes:
        """The success reply for ``execute`` (``{}`` is what a command without returns gives)."""
        message: dict[str, Any] = {"return": value}
        if execute.has_id:
            message["id"] = execute.id
        return encode(message)

    def reply_encoded(self, execute: Execute, value: bytes) -> bytes:
        """``reply`` for a return value already encoded (``encode_value``'s text as ASCII
        bytes): the same bytes without walking the value again. With an id whose text is
        known (an id slot), the reply is the value's cached frame around that text."""
        id_text = execute.id_text
        if id_text is None or not execute.has_id:
            return encode_reply(value, execute.has_id, execute.id)
        before, after = self._frame(value)
        return before + id_text + after

    def reply_run(self, run: Run, value: bytes) -> bytes:
        """The replies to every line of ``run`` (lines giving an Execute), in order, for the
        return value ``value`` (JSON text as ASCII bytes): `reply_encoded` of each line's
        action, joined; with id slots, the value's frame around each id, joined in C."""
        first = run.first
        assert type(first) is Execute
        if run.id_lines is None:
            return self.reply_encoded(first, value) * run.count
        before, after = self._frame(value)
        return around(run.id_lines, before, after)

    def _frame(self, value: bytes) -> tuple[bytes, bytes]:
        """A reply to the return value ``value``: its bytes before the id and after it."""
        frame = self._frames.get(value)
        if frame is None:
            if len(self._frames) >= TEMPLATES_SIZE:
                self._frames.clear()
            frame = self._frames[value] = reply_frame(value)
        return frame

    def reply_error(self, execute: Execute, error: QmpError) -> bytes:
        """The error reply for ``execute``."""
        return self._error_reply(error.error_class, error.desc, execute.has_id, execute.id)

    def event(
        self, name: str, data: Mapping[str, Any] | None, seconds: int, microseconds: int
    ) -> bytes | None:
        """An event message, or None while the client has not negotiated capabilities."""
        if not self.negotiated:
            return None
        return encode_event(name, data, seconds, microseconds)

    def _error_reply(self, error_class: str, desc: str, has_id: bool, ident: Any) -> bytes:
        message = _error_body(error_class, desc)
        if has_id:
            message["id"] = ident
        return encode(message)

    # -- input ----------------------------------------------------------------------------
    def feed_runs(self, data: bytes) -> list[Action | Run]:
        """Consume bytes from the client; return what to send and what to run, in order.

        Clients send the same few lines over and over (`query-memdev` polled in a loop), so a
        chunk is taken line by line and a line seen before is answered from a memo. That gives
        exactly what the full path gives, because:

        * the streamer splits a stream identically whatever the chunking (``JsonStreamer``),
          so feeding line by line equals feeding the chunk;
        * from an idle streamer the JSON result of a line depends on its bytes alone, and
          what ``_request`` makes of it depends only on the negotiation state, the enabled
          capabilities and ``machine_ready()`` -- the memo key beside the bytes (the memo is
          emptied when any of them changes; none changes inside one ``feed`` except through
          negotiation, which is never remembered);
        * a line is remembered only when it left the streamer idle and gave one action: a
          ``Send`` (immutable bytes) or an ``Execute`` with no arguments and a scalar id, so a
          remembered action shares nothing a handler could change (its empty arguments are the
          immutable `NO_ARGS`); every hit returns that same object, which lets the server
          reuse the reply it made for it while the machine has not changed.

        Real clients send a new ``"id"`` with every request, so a line is also matched, modulo
        the value of its id, against *templates*: a line that left the streamer idle and gave
        one action, whose id is in an *id slot* (``_ID_SLOT``: a short plain integer or string,
        whose lexing, value and written form do not depend on anything around it), becomes,
        when a second line of it comes, the template (text before, text after) once two probes
        through the full path -- the
        same line with a string id and with an integer id in the slot -- give the same action
        apart from the echoed id (see ``_make_template``). The lexer then cuts any such line
        into the same tokens except that one scalar, the parser builds the same object except
        the top-level ``id`` value, and ``_request`` reads the id only to echo it; so a line
        matching a template gives its action with the new id: an Execute carrying the id's
        text (and a fresh copy of its arguments, when they are all scalars), or a Send with the
        id's text in its one id place.

        A line answered from the memo or a template that the next lines of the chunk repeat
        (the same line, or the same template with other ids) starts a `Run`: they are found
        with one C-level pass over the chunk (`_repeats`, the template's run patterns) instead
        of a loop turn each, and the server may answer them in one go. Every line of a run
        gives, one by one, what it would give alone (`Run.actions`), since a memo or template
        hit changes no state the next line depends on.

        Lines that do not qualify, and the pieces of a line cut by chunk edges, take the full
        path.
        """
        if type(data) is not bytes:
            data = bytes(data)  # bytearray / memoryview from a transport
        if self._memo_size <= 0:
            return list(self._feed_full(data))
        state = self._memo_key()
        if state != self._memo_state:
            self._memo.clear()
            self._templates.clear()
            self._memo_state = state
        get = self._memo.get
        template_of = self._templates.get
        slot = _ID_SLOT.fullmatch
        find = data.find
        starts = data.startswith
        streamer = self._streamer
        actions: list[Action | Run] = []
        append = actions.append
        pos = 0
        idle = streamer.idle
        while True:
            end = find(b"\n", pos)
            if end < 0:
                break
            piece = data[pos:end]
            following = end + 1
            cut = None
            if idle:
                known = get(piece)
                if known is not None:
                    if starts(piece, following):  # perhaps the same line again: a run
                        count = _repeats(data, data[pos:following], pos)
                        if count > 1:
                            append(Run(known, count))
                            pos += count * (following - pos)
                            continue
                    append(known)
                    pos = following
                    continue
                cut = slot(piece)
                if cut is not None:
                    head, id_text, rest = cut.groups()
                    template = template_of((head, rest))
                    if template is not None and type(template) is not _Shape:
                        first = _fill(template, id_text)  # type: ignore[arg-type]
                        if starts(head, following):  # perhaps the same shape again: a run
                            more, count, pos = self._template_run(
                                head, rest, data, following, RUN_LINES_MAX * (following - pos))
                            if count:
                                append(Run(first, count + 1, id_text + b"\n" + more,
                                           template))  # type: ignore[arg-type]
                                continue
                        append(first)
                        pos = following
                        continue
            line = data[pos:following]
            pos = following
            idle_before = idle
            got = self._feed_full(line)
            actions.extend(got)
            idle = streamer.idle
            after = self._memo_key()
            if after != state:  # negotiation: start a new memo for the new state
                self._memo.clear()
                self._templates.clear()
                self._memo_state = state = after
            elif idle_before and len(got) == 1 and idle and len(line) <= _MEMO_LINE_MAX:
                self._remember(piece, got[0])  # ``cut``: the slot of ``piece``, taken above
                if cut is not None:
                    self._learn_shape(cut.group(1), cut.group(3), got[0])
        if pos < len(data):
            actions.extend(self._feed_full(data[pos:]))  # a line cut by the chunk's edge
        return actions

    def feed(self, data: bytes) -> list[Action]:
        """`feed_runs`, with every run given line by line: one action per request."""
        given = self.feed_runs(data)
        if all(type(action) is not Run for action in given):
            return given  # type: ignore[return-value]
        actions: list[Action] = []
        for action in given:
            if type(action) is Run:
                actions += action.actions()
            else:
                actions.append(action)  # type: ignore[arg-type]
        return actions

    def _template_run(
        self, head: bytes, rest: bytes, data: bytes, start: int, budget: int
    ) -> tuple[bytes, int, int]:
        """The lines ``head`` + id slot + ``rest`` that follow each other in ``data`` from
        ``start`` on (which starts with ``head``), within about ``budget`` bytes: their id
        slots, each followed by a newline, how many they are, and where they end (``b""``,
        0 and ``start`` when the next line is not one).

        Every ``rest`` + newline + ``head`` of the window becomes a newline (`bytes.replace`),
        which leaves what stands between them, each followed by a newline; one regular
        expression then checks that each is an id slot (`_ID_LINES`: a slot holds no newline,
        so each is the id of one whole line). The first that is none ends the run: every line
        before it is ``head``, its slot and ``rest``, exactly a line `_ID_SLOT` cuts into that
        head and rest. No object is made per line.
        """
        window_end = data.rfind(b"\n", start, start + budget) + 1
        if window_end <= start:
            return b"", 0, start
        ids = data[start + len(head):window_end].replace(rest + b"\n" + head, b"\n")
        last = rest + b"\n"
        if ids.endswith(last):
            ids = ids[: -len(last)] + b"\n"
        else:  # the window's last line is not one: leave it out
            ids = ids[: ids.rfind(b"\n", 0, len(ids) - 1) + 1]
        checked = _ID_LINES.match(ids)  # it matches, if only the empty string
        checked_end = checked.end() if checked is not None else 0
        count = ids.count(b"\n", 0, checked_end)
        if count == 0:
            return b"", 0, start
        if checked_end < len(ids):
            ids = ids[:checked_end]
        return ids, count, start + count * (len(head) + len(rest)) + checked_end

    def _memo_key(self) -> tuple[bool, frozenset[str], bool]:
        ready = self._machine_ready
        return (self.negotiated, self.enabled_capabilities, ready is None or ready())

    def _remember(self, line: bytes, action: Action) -> None:
        """Remember ``action`` for ``line`` (without its newline); an Execute only without
        arguments and with a scalar id, and then with the one shared, unchangeable `NO_ARGS`,
        so every later hit can hand out the very same object."""
        if type(action) is Execute:
            if action.args or type(action.id) not in _PLAIN_IDS:
                return
            action = Execute(action.name, NO_ARGS, action.id, action.has_id, action.oob)
        if len(self._memo) >= self._memo_size:
            self._memo.clear()
        self._memo[line] = action

    def _learn_shape(self, head: bytes, rest: bytes, action: Action) -> None:
        """A line of the shape (``head``, ``rest``) took the full path and gave ``action``:
        the first time, note the shape; the second time (another id: the same line is a memo
        hit), probe it once (`_make_template`). Lines whose shape never repeats (arguments that
        change every time) so never pay for the probes."""
        key = (head, rest)
        known = self._templates.get(key)
        if known is None:
            if len(self._templates) >= TEMPLATES_SIZE:
                self._templates.clear()
            self._templates[key] = _SEEN_ONCE
        elif known is _SEEN_ONCE and not self._make_template(head, rest, action):
            self._templates[key] = _REFUSED

    def _make_template(self, head: bytes, rest: bytes, action: Action) -> bool:
        """Make (``head``, ``rest``) a template if the line gave ``action`` with its id in the
        slot between them; True when it is one now.

        Probed from an idle streamer and a state the line just left unchanged: with a string
        and with an integer id in the slot, the full path must give one action each, leave
        the streamer idle and the state as it was, and give the same action apart from an id
        that is the probe's (an Execute of the same command, OOB flag and arguments, all of
        them scalars, or a Send holding the probe's text once, at the same place for both).
        """
        if type(action) is Execute and (not action.has_id or not _flat(action.args)):
            return False
        state = self._memo_key()
        texts = (encode_value_text(_PROBE_STRING), encode_value_text(_PROBE_INTEGER))
        shapes: list[_Template] = []
        for probe, text in zip((_PROBE_STRING, _PROBE_INTEGER), texts, strict=True):
            got = self._feed_full(head + text + rest + b"\n")
            if self._memo_key() != state or not self._streamer.idle or len(got) != 1:
                return False  # cannot happen for a line that passed (kept for safety)
            made = got[0]
            if type(made) is Execute:
                if not made.has_id or made.id != probe or type(made.id) is not type(probe):
                    return False
                if not _flat(made.args):
                    return False
                shapes.append(_ExecuteSlot(made.name, made.oob, tuple(made.args.items())))
            else:
                assert isinstance(made, Send)
                if made.data.count(text) != 1:
                    return False
                before, _, after = made.data.partition(text)
                shapes.append(_SendSlot(before, after))
        if shapes[0] != shapes[1] or type(shapes[0]) is not (
                _ExecuteSlot if type(action) is Execute else _SendSlot):
            return False
        if len(self._templates) >= TEMPLATES_SIZE:
            self._templates.clear()
        self._templates[(head, rest)] = shapes[0]
        return True

    def _feed_full(self, data: bytes) -> list[Action]:
        """The full path: every byte through QEMU's lexer emulation and every check."""
        actions: list[Action] = []
        for item in self._streamer.feed(data):
            if isinstance(item, JsonError):
                text = item.text
                replacement = self._texts.json_lexer_error
                if replacement is not None and not _is_parser_text(text):
                    text = replacement
                actions.append(Send(encode(_error_body("GenericError", text))))
                continue
            actions.append(self._request(item))
        return actions

    def _request(self, request: Any) -> Action:
        texts = self._texts
        if not isinstance(request, dict):
            return Send(encode(_error_body("GenericError", texts.not_object)))
        has_id = "id" in request
        ident = request.get("id")
        try:
            name, oob = self._check_envelope(request)
            command = self._lookup(name, oob)
            arguments = request.get("arguments", {})
            if command.gen:
                args = _visit(arguments, command.arg_type, self._schema)
            else:
                args = dict(arguments)
        except QmpError as error:
            return Send(self._error_reply(error.error_class, error.desc, has_id, ident))
        execute = Execute(name, args, ident, has_id, oob)
        if name == NEGOTIATION_COMMAND:
            return Send(self._negotiate(execute))
        return execute

    def _check_envelope(self, request: dict[str, Any]) -> tuple[str, bool]:
        """QEMU's qmp_dispatch_check_obj: members in QDict order; returns (command, oob)."""
        texts = self._texts
        allow_oob = "oob" in self.profile.qmp_capabilities and self.oob_enabled
        exec_key: str | None = None
        for key in qdict_order(request):
            value = request[key]
            if key == "execute" or (key == "exec-oob" and allow_oob):
                if not isinstance(value, str):
                    raise QmpError("GenericError", texts.member_not_string.format(key))
                if exec_key is not None:
                    raise QmpError(
                        "GenericError", f"QMP input member '{key}' clashes with '{exec_key}'"
                    )
                exec_key = key
            elif key == "arguments":
                if not isinstance(value, dict):
                    raise QmpError("GenericError", texts.arguments_not_object)
            elif key == "id":
                continue
            else:
                raise QmpError("GenericError", texts.unexpected.format(key))
        if exec_key is None:
            raise QmpError("GenericError", texts.lacks_execute)
        return request[exec_key], exec_key == "exec-oob"

    def _lookup(self, name: str, oob: bool) -> CommandInfo:
        """The command table of the current mode, with QEMU's not-found and OOB errors."""
        command: CommandInfo | None
        if name == NEGOTIATION_COMMAND:
            command = self._commands.get(name) or _from_schema(name, self._schema)
        elif self.negotiated:
            command = self._commands.get(name)
        else:
            raise QmpError("CommandNotFound", _NEGOTIATION_HINT)
        if command is None:
            raise QmpError("CommandNotFound", f"The command {name} has not been found")
        if oob and not command.allow_oob:
            raise QmpError("GenericError", f"The command {name} does not support OOB")
        ready = self._machine_ready
        if ready is not None and not command.allow_preconfig and not ready():
            raise QmpError(
                "GenericError",
                f"The command '{name}' is permitted only after machine initialization has "
                "completed",
            )
        return command

    def _negotiate(self, execute: Execute) -> bytes:
        """QEMU's qmp_capabilities handler (it lives with the negotiation state)."""
        if self.negotiated:
            return self.reply_error(execute, QmpError("CommandNotFound", _ALREADY_NEGOTIATED))
        wanted: Sequence[str] = execute.args.get("enable", [])
        offered = self._greeting.capabilities
        missing = [cap for cap in wanted if cap not in offered]
        if missing:
            text = f"Capability {', '.join(missing)} not available"
            return self.reply_error(execute, QmpError("GenericError", text))
        self.negotiated = True
        self.enabled_capabilities = frozenset(wanted)
        return self.reply(execute, {})


def around(id_lines: bytes, before: bytes, after: bytes) -> bytes:
    """``before`` + id + ``after`` for every id of ``id_lines`` (ids each followed by a
    newline), in one piece: each newline but the last becomes ``after`` + ``before``."""
    return before + id_lines[:-1].replace(b"\n", after + before) + after


def _repeats(data: bytes, unit: bytes, pos: int) -> int:
    """How many times ``unit`` follows itself in ``data`` from ``pos`` on (``data`` starts
    with it there): galloping doublings, then halving, each one `bytes.startswith`, so a
    chunk that is one line over and over costs a few C comparisons instead of a turn a line."""
    most = min((len(data) - pos) // len(unit), RUN_LINES_MAX)
    known, step = 1, 2
    while True:
        tried = min(step, most)
        if tried <= known:
            return known
        if not data.startswith(unit * tried, pos):
            break
        known, step = tried, step * 2
    failed = tried
    while failed - known > 1:
        middle = (known + failed) // 2
        if data.startswith(unit * middle, pos):
            known = middle
        else:
            failed = middle
    return known


def encode_value_text(value: str | int) -> bytes:
    """The text of an id-slot value (a plain string or an integer) as the request holds it
    and as QEMU writes it back: the same bytes (see ``_ID_SLOT``)."""
    return b'"%s"' % value.encode("ascii") if isinstance(value, str) else b"%d" % value


#: The slot setters of `Execute` (see `_fill`).
_SET_NAME, _SET_ARGS, _SET_ID, _SET_HAS_ID, _SET_OOB, _SET_ID_TEXT = (
    getattr(Execute, name).__set__ for name in ("name", "args", "id", "has_id", "oob", "id_text"))
_new_object = object.__new__


def _flat(args: Mapping[str, Any]) -> bool:
    """Whether visited arguments hold only scalars (a template may then copy them per hit)."""
    return all(type(value) in _PLAIN_IDS for value in args.values())


def _fill(template: _Template, id_text: bytes) -> Action:
    """A template's action for a line whose id slot holds ``id_text``.

    The Execute is the one ``Execute(name, args, id, True, oob, id_text)`` makes, with its
    slots filled directly, without the call to ``__init__`` (whose argument binding costs about
    as much as the rest of a template hit).
    """
    if isinstance(template, _SendSlot):
        return Send(template.before + id_text + template.after)
    action = _new_object(Execute)
    _SET_NAME(action, template.name)
    _SET_ARGS(action, dict(template.args) if template.args else NO_ARGS)
    _SET_ID(action, id_text[1:-1].decode("ascii") if id_text[0] == 0x22 else int(id_text))
    _SET_HAS_ID(action, True)
    _SET_OOB(action, template.oob)
    _SET_ID_TEXT(action, id_text)
    return action


def _visit(arguments: Any, arg_type: str | None, schema: Mapping[str, Mapping[str, Any]]) -> Any:
    """Visit arguments; a recursive argument type nested ~1000 deep (QEMU allows 1024 JSON
    levels) may outgrow Python's default recursion limit, so retry once with room for it."""
    try:
        return visit_input(arguments, arg_type, schema)
    except RecursionError:
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(max(previous, _DEEP_VISIT_LIMIT))
        try:
            return visit_input(arguments, arg_type, schema)
        finally:
            sys.setrecursionlimit(previous)


def _is_parser_text(text: str) -> bool:
    return text.startswith("JSON parse error, ") and not text.startswith("JSON parse error, stray")


def _from_schema(name: str, schema: Mapping[str, Mapping[str, Any]]) -> CommandInfo:
    entry = schema.get(name, {})
    return _SchemaCommand(
        arg_type=entry.get("arg-type"),
        allow_oob=bool(entry.get("allow-oob", False)),
        allow_preconfig=name == NEGOTIATION_COMMAND,
    )


def command_table(
    names: Iterable[str], schema: Mapping[str, Mapping[str, Any]]
) -> dict[str, CommandInfo]:
    """Command records built from ``SCHEMA`` alone (handy for tests and hand-made tables)."""
    return {name: _from_schema(name, schema) for name in names}


@record(frozen=True, slots=True)
class _SchemaCommand:
    """A `CommandInfo` read from ``SCHEMA`` (`command_table`).

    (Every dataclass on the start path has a docstring: `dataclasses` makes one for a class
    without, from `inspect.signature`, whose first use compiles `tokenize`'s patterns.)
    """

    arg_type: str | None
    allow_oob: bool
    gen: bool = True
    allow_preconfig: bool = False
