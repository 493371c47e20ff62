"""Runtime statistics: `query-stats` and `query-stats-schemas` (QEMU 7.1 and later).

In QEMU 7.2 the only provider of statistics is the KVM accelerator, which registers itself when
KVM starts. A TCG machine has no provider at all, so both queries answer with an empty list for
every well-formed request (any target, provider, statistic names or vCPU paths, even paths that
name nothing); QEMU 10.0 also registers ``cryptodev`` at start-up, whose schema is then listed
(with no cryptodev backend it has nothing to report). Malformed ones are refused by the
argument visitor before a handler runs. libvirt's
`domstats` asks both when the schema offers them (vCPU halt-polling figures, then the VM and vCPU
statistics with their schema) and prints nothing for an empty answer.

The model has no KVM, so a command line asking for it (`-enable-kvm`, `-accel kvm`) gets the
same empty answers: the statistics a KVM guest reports come from the host's kernel.
"""

from __future__ import annotations

from typing import Any

from qmpnuma.commands.registry import CommandContext, command


@command("query-stats")
def query_stats(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # One entry per provider and object; no provider is registered without KVM.
    return []


@command("query-stats-schemas")
def query_stats_schemas(ctx: CommandContext, args: dict[str, Any]) -> Any:
    # Providers registered without KVM (10.0's cryptodev) list their schema even when no
    # object of theirs exists; a ``provider`` argument picks one.
    wanted = args.get("provider")
    return [
        {"provider": provider, "target": target,
         "stats": [{"name": name, "exponent": 0, "type": "cumulative"} for name in names]}
        for provider, (target, names) in ctx.machine.profile.stats_providers.items()
        if wanted in (None, provider)
    ]
