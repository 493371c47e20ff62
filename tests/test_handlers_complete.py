"""Every command a profile's schema offers has a handler: none answers with qmpnuma's own
"does not model" error, which real QEMU never gives."""

from __future__ import annotations

import pytest

from qmpnuma.commands.dispatch import load_handlers
from qmpnuma.commands.registry import HANDLERS
from qmpnuma.profiles import PROFILES, wire_types

#: Answered inside the protocol session itself (capability negotiation).
SESSION_COMMANDS = {"qmp_capabilities"}


@pytest.mark.parametrize("profile", PROFILES)
def test_every_schema_command_has_a_handler(profile: str) -> None:
    load_handlers()
    missing = set(wire_types(profile).COMMANDS) - set(HANDLERS) - SESSION_COMMANDS
    assert missing == set()
