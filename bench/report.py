"""From `results.json` to the Markdown table the README shows: ratios first, context after."""

from __future__ import annotations

from typing import Any

from bench.launchers import PROFILE_OF_KIND, QEMU_KIND_OF_PROFILE
from bench.throughput import base_mode, mode_label


def _fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}f}"
    return f"{text}{unit}"


def _spread(summary: dict[str, Any], scale: float = 1.0, unit: str = "", digits: int = 1) -> str:
    return (f"{_fmt(summary['median'] * scale, digits, unit)} "
            f"({_fmt(summary['p25'] * scale, digits)}–{_fmt(summary['p75'] * scale, digits)})")


def _range(summary: dict[str, Any] | None, scale: float = 1.0, digits: int = 0) -> str:
    """Median with the full spread (min–max) of the rounds: ``7,000 (6,500–7,200)``."""
    if summary is None:
        return "–"
    return (f"{_fmt(summary['median'] * scale, digits)} "
            f"({_fmt(summary['min'] * scale, digits)}–{_fmt(summary['max'] * scale, digits)})")


def _share(ours: dict[str, Any] | None, base: dict[str, Any] | None, *,
           rate: bool = True) -> str:
    """Ratio of medians with the spread of the per-round ratios (round i against round i).

    For rates it is ours / base (a share of the floor, or how many times QEMU's rate); for
    times it is base / ours, so that above 1 (or 100%) always means qmpnuma is better.
    """
    if base is None or ours is None:
        return "–"
    pairs = list(zip(ours["runs"], base["runs"], strict=False))
    per_round = [a / b if rate else b / a for a, b in pairs if a and b]
    median = (ours["median"] / base["median"]) if rate else (base["median"] / ours["median"])
    return f"{median:.2f} ({min(per_round):.2f}–{max(per_round):.2f})"


def _x(share: str) -> str:
    """A ratio with its "×" (none after a missing one)."""
    return share if share == "–" else share + "×"


#: The share of the floor issue 12 aims at, per mode.
FLOOR_AIMS = {"roundtrips": 0.75, "pipelined": 0.50}


#: The qmpnuma kinds of the floor tables: (kind, profile, the kind of the QEMU of that
#: version or None where there is no binary).
OURS = tuple((kind, profile, QEMU_KIND_OF_PROFILE.get(profile))
             for kind, profile in PROFILE_OF_KIND.items())


def _aim(mode: str) -> float:
    """The aim of a mode, the same with unique ids ("pipelined-ids") as with one line."""
    return FLOOR_AIMS[base_mode(mode)]


def floor_table(figures: dict[str, Any], env: dict[str, Any]) -> list[str]:
    """Issue 12's table: floor, qmpnuma per profile, QEMU 7.2 (and 10.0) with shares and
    ratios."""
    connection = figures.get("one_connection")
    if connection is None:
        return []
    qemu10 = env.get("qemu10")
    header = " | ".join(f"qmpnuma {profile}" for _, profile, _ in OURS)
    shares = " | ".join(f"qmpnuma {profile} / floor" for _, profile, _ in OURS)
    against = " | ".join(f"qmpnuma {profile} / QEMU {profile}"
                         for _, profile, qemu in OURS if qemu is not None)
    profiles = ", ".join(profile for _, profile, _ in OURS)
    columns = 9 + 2 * len(OURS) + sum(qemu is not None for _, _, qemu in OURS)
    lines = ["", "One connection against the floor (a bare asyncio `Protocol` server answering "
             "every line with a fixed reply, `bench/floor_server.py`), replies / s; median "
             "(min–max) of the rounds of this run; shares and ratios are medians with the "
             "spread of the per-round ratios. qmpnuma runs with `--profile=7.2`, "
             "`--profile=10.0` (the default) and `--profile=2.9` (the seed behaviour, "
             "started as `pc-q35-2.9`; there is no QEMU 2.9 binary to compare it with), each "
             "compared with the QEMU of its version where there is one. "
             "The *sized floor* is the same bare server answering lines as long as qmpnuma's "
             "reply to the command: it does no work per request either, so its share of the "
             "floor is the most any server sending QEMU's bytes can reach with this client:",
             "",
             f"| command | mode | floor | sized floor | {header} | QEMU 7.2 | "
             f"QEMU 10.0 | sized floor / floor | {shares} | "
             f"aim | met ({profiles}) | {against} |",
             "|" + "---|" * columns]
    for command, modes in connection.items():
        for mode, kinds in modes.items():
            floor = kinds["floor"]
            ours = [kinds.get(kind) for kind, _, _ in OURS]
            aim = _aim(mode)
            met = ", ".join("–" if item is None else
                            ("yes" if item["median"] / floor["median"] >= aim else "no")
                            for item in ours)
            sized = kinds.get("sized")
            lines.append(
                f"| `{command}` | {mode_label(mode)} "
                f"| {_range(floor)} | {_range(sized)} | "
                + "".join(f"{_range(item)} | " for item in ours)
                + f"{_range(kinds['qemu'])} | {_range(kinds.get('qemu10'))} | "
                f"{_share(sized, floor)} | "
                + "".join(f"{_share(item, floor)} | " for item in ours)
                + f"≥ {aim:.2f} | {met} | "
                + "".join(f"{_x(_share(kinds.get(kind), kinds.get(qemu)))} | "
                          for kind, _, qemu in OURS if qemu is not None).rstrip())
    cold = figures["cold_start"]
    if "floor" in cold:
        floor = cold["floor"]
        lean = cold.get("floor_lean")
        ours = [cold.get(kind) for kind, _, _ in OURS]
        met = ", ".join("–" if item is None else
                        ("yes" if item["median"] <= floor["median"] * 1.10 else "no")
                        for item in ours)
        shares = " | ".join(f"floor / qmpnuma {profile}" for _, profile, _ in OURS)
        lean_shares = " | ".join(f"lean floor / qmpnuma {profile}" for _, profile, _ in OURS)
        against = " | ".join(f"QEMU {profile} / qmpnuma {profile}"
                             for _, profile, qemu in OURS if qemu is not None)
        columns = 6 + 3 * len(OURS) + sum(qemu is not None for _, _, qemu in OURS)
        lines += ["", "Cold start to the first `query-memdev` reply (ms), same rounds. The "
                  "*lean floor* is the floor deferring the standard library modules that "
                  "qmpnuma's entry point defers (`qmpnuma.deferred_stdlib`: `ssl` and "
                  "`inspect`, which asyncio imports and a plain server never uses): the aim "
                  "is against the floor, and the share of the lean floor is what qmpnuma's own "
                  "code costs on top of the same interpreter and asyncio:", "",
                  f"| floor (python + asyncio) | lean floor | {header} | QEMU 7.2 | QEMU 10.0 "
                  f"| {shares} | aim | met ({profiles}) | {lean_shares} | {against} |",
                  "|" + "---|" * columns,
                  f"| {_range(floor, 1000, 1)} | {_range(lean, 1000, 1)} | "
                  + "".join(f"{_range(item, 1000, 1)} | " for item in ours)
                  + f"{_range(cold['qemu'], 1000, 1)} | {_range(cold.get('qemu10'), 1000, 1)} | "
                  + "".join(f"{_share(item, floor, rate=False)} | " for item in ours)
                  + f"≥ 0.91 (within 10%) | {met} | "
                  + "".join(f"{_share(item, lean, rate=False)} | " for item in ours)
                  + "".join(f"{_x(_share(cold.get(kind), cold.get(qemu), rate=False))} | "
                            for kind, _, qemu in OURS if qemu is not None).rstrip()]
        phases = cold.get("floor_phases", {})
        if phases:
            rest = floor["median"] * 1000 - sum(item["ms"] for item in phases.values())
            rest_text = f"{rest:.1f}" if rest > 0 else "within the noise of the other two"
            lines += ["", "The floor's cold start by phase (ms, medians of the same rounds): "
                      + ", ".join(f"{name} {item['ms']:.1f}" for name, item in phases.items())
                      + f", event loop + bind + first client and reply {rest_text}."]
        lines += instruction_lines(cold.get("instructions"))
    load = figures.get("load", {})
    if load:
        lines += ["", "Load average (1 min) when each step began: "
                  + ", ".join(f"{name} {value:.1f}" for name, value in load.items())
                  + ". The machine is shared with other work; the spreads show how much it "
                  "moved the rounds."]
    if not qemu10:
        lines += ["", "QEMU 10.0: not measured (`build/reference/bin/qemu-system-x86_64` is "
                  "missing; `scripts/fetch_reference_binaries.sh` fetches it)."]
    else:
        lines += ["", f"QEMU 10.0 column: {qemu10}."]
    return lines


def instruction_lines(counts: dict[str, int] | None) -> list[str]:
    """The cold start in instructions (`bench.instructions`): what qmpnuma executes on top of
    the lean floor, free of the machine's noise."""
    if not counts:
        return ["", "Instructions to the first reply: not counted (valgrind is not installed)."]
    lean = counts["floor_lean"]
    ours = ", ".join(
        f"qmpnuma {profile} {counts[kind] / 1e6:.1f} (+{(counts[kind] - lean) / 1e6:.1f} over "
        f"the lean floor, {counts[kind] / counts['floor']:.3f} of the floor)"
        for kind, profile, _ in OURS if kind in counts)
    return ["", "Instructions from process start to the first reply (callgrind, millions, one "
            "start each: deterministic where the times above are not; page faults and cache "
            f"misses are not in them): floor {counts['floor'] / 1e6:.1f}, lean floor "
            f"{lean / 1e6:.1f}, {ours}."]


def fleet_table(steps: list[dict[str, Any]] | None) -> list[str]:
    """One fleet process from 1,000 to 100,000 machines (`bench/fleet_scale.py`)."""
    if not steps:
        return []
    limit = steps[-1]["open_file_limit"]
    windowed = [step for step in steps if step["window"] < step["count"]]
    listening = (f"sockets listen {windowed[0]['window']:,} at a time in fleets larger than "
                 "that (all at once in the others)" if windowed
                 else "every fleet here listens on all its sockets at once")
    lines = ["", "One fleet process, 1,000 to 100,000 machines of the standard command line "
             "(`bench/fleet_scale.py`, one fresh process per size; the sweep binds each "
             "member's socket, greets, negotiates and asks `query-memdev`, and every reply must "
             "equal the first machine's byte for byte). The hard open-file limit here is "
             f"{limit:,} and cannot be raised, so {listening}; machines and servers exist for "
             "the whole run:", "",
             "| machines | build (s) | µs / machine | RSS after build (MiB) | KiB / machine | "
             "after sweep KiB / machine | sweep (s) | sweep / s | replies ok | lost or wrong |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for step in steps:
        lines.append(
            f"| {step['count']:,} | {step['build_s']:.2f} | "
            f"{step['build_s'] / step['count'] * 1e6:.0f} | "
            f"{step['rss_built_kib'] / 1024:,.0f} | {step['per_machine_kib']:.1f} | "
            f"{step['per_machine_after_sweep_kib']:.1f} | {step['sweep_s']:.1f} | "
            f"{step['sweep_per_s']:,.0f} | {step['replies_ok']:,} | {step['lost_or_wrong']} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The results table (medians with the interquartile range of the runs in brackets)."""
    env = results["environment"]
    figures = results["figures"]
    lines = [
        f"Measured {env['date']} on {env['machine']} ({env['cpus']} CPUs, {env['memory']}), "
        f"Python {env['python']}, {env['qemu']}; load average "
        f"{env['load_average_before'][0]:.1f} before, {env['load_average'][0]:.1f} after "
        "(other work shared the machine). qmpnuma's bytecode is compiled before the run, as a "
        "`pip install` leaves it. Medians, interquartile range in brackets; "
        "ratio > 1 means qmpnuma is better.",
        "",
        "| # | figure | qmpnuma | QEMU 7.2 | ratio | aim | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['figure']} | {row['name']} | {row['qmpnuma']} | {row['qemu']} | "
            f"{row['ratio']} | {row['aim']} | {row['met']} |"
        )
    lines += floor_table(figures, env)
    libvirt = figures.get("libvirt")
    if libvirt is not None:
        lines += ["", "libvirt 9.0 (`bench/libvirt_bench.py`, status "
                  f"{libvirt['status']}; its ratio is qmpnuma's time over QEMU's, so below 1 "
                  "means qmpnuma is faster):", "", "```", libvirt["text"].rstrip()
                  or libvirt["stderr"].strip()[-500:], "```"]
    lines += fleet_table(figures.get("fleet_scale"))
    imports = figures["cold_start"]["imports"]
    floor = figures["cold_start"]["python_floor"]["median"] * 1000
    lines += ["", "Where qmpnuma's cold start goes (one fresh interpreter, ms; a bare "
              f"`python -c pass` takes {floor:.0f} ms on its own):", "",
              "| phase | ms |", "|---|---|"]
    for name, ms in imports["phases_ms"].items():
        lines.append(f"| {name} | {ms:.1f} |")
    total = imports["imports_ms"]
    lines += ["", f"Import self time by package (`python -X importtime`, {total:.0f} ms in all):",
              "",
              "| package | ms |", "|---|---|"]
    for item in imports["top"]:
        lines.append(f"| `{item['package']}` | {item['ms']:.1f} |")
    return "\n".join(lines) + "\n"


def rows(figures: dict[str, Any]) -> list[dict[str, str]]:
    """One table row per headline number, with its ratio and whether the aim was met."""
    out: list[dict[str, str]] = []

    def add(figure: str, name: str, ours: str, theirs: str, ratio: float | None, aim: str,
            met: bool | None) -> None:
        out.append({
            "figure": figure, "name": name, "qmpnuma": ours, "qemu": theirs,
            "ratio": _fmt(ratio, 2, "×"), "aim": aim,
            "met": "–" if met is None else ("yes" if met else "no"),
        })

    cold = figures["cold_start"]
    ratio = cold["qemu"]["median"] / cold["qmpnuma"]["median"]
    add("1", "cold start to first `query-memdev` reply (ms)",
        _spread(cold["qmpnuma"], 1000), _spread(cold["qemu"], 1000), ratio,
        "≥ 1× (no slower)", ratio >= 1)
    inproc = figures["in_process"]
    for variant, label in (("from_argv", "from_argv"), ("cloned", "cloned template")):
        median = inproc[variant]["median"]
        add("2", f"in-process start + connect + first reply, {label} (ms)",
            _spread(inproc[variant], 1000, digits=2), "–",
            cold["qemu"]["median"] / median, "< 1 ms", median < 0.001)
    for key, figure, label in (("roundtrips", "3", "sequential round trips / s"),
                               ("pipelined", "4", "pipelined burst of 10,000, replies / s")):
        ours, theirs = figures[key]["qmpnuma"], figures[key]["qemu"]
        ratio = ours["median"] / theirs["median"]
        add(figure, label, _spread(ours, digits=0), _spread(theirs, digits=0), ratio,
            "≥ 5×", ratio >= 5)
    many = figures["many_clients"]
    ratio = many["qmpnuma"]["replies_per_s"]["median"] / many["qemu"]["replies_per_s"]["median"]
    add("5", f"{many['machines']} clients on {many['machines']} machines, replies / s",
        _spread(many["qmpnuma"]["replies_per_s"], digits=0),
        _spread(many["qemu"]["replies_per_s"], digits=0), ratio, "–", None)
    for pct in ("p50_ms", "p99_ms"):
        ours, theirs = many["qmpnuma"][pct], many["qemu"][pct]
        add("5", f"… latency {pct[:3]} (ms)", _spread(ours, digits=2), _spread(theirs, digits=2),
            theirs["median"] / ours["median"], "–", None)
    memory = figures["memory"]
    qemu_kib = memory["qemu_kib"]["median"]
    for size in memory["sizes"]:
        per = memory["per_machine_kib"][str(size)]
        add("6", f"RSS per machine, fleet of {size:,}: marginal (RSS/N) KiB",
            f"{per['marginal']:.1f} ({per['total']:.1f})", f"{qemu_kib:,.0f} per process",
            qemu_kib / per["marginal"], "< 100 KiB", per["marginal"] < 100)
    scaling = figures["scaling"]
    first, last = scaling["nodes"][0], scaling["nodes"][-1]
    add("7", f"build {first['nodes']} → {last['nodes']} nodes (ms)",
        f"{first['build']['median'] * 1000:.2f} → {last['build']['median'] * 1000:.2f}", "–",
        None, "linear", scaling["nodes_linear"])
    first, last = scaling["cpus"][0], scaling["cpus"][-1]
    add("7", f"build {first['cpus']} → {last['cpus']} CPUs (ms)",
        f"{first['build']['median'] * 1000:.2f} → {last['build']['median'] * 1000:.2f}", "–",
        None, "linear", scaling["cpus_linear"])
    return out
