"""From `results.json` to the Markdown table the README shows: ratios first, context after."""

from __future__ import annotations

from typing import Any


def _fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}f}"
    return f"{text}{unit}"


def _spread(summary: dict[str, Any], scale: float = 1.0, unit: str = "", digits: int = 1) -> str:
    return (f"{_fmt(summary['median'] * scale, digits, unit)} "
            f"({_fmt(summary['p25'] * scale, digits)}–{_fmt(summary['p75'] * scale, digits)})")


def markdown(results: dict[str, Any]) -> str:
    """The results table (medians with the interquartile range of the runs in brackets)."""
    env = results["environment"]
    figures = results["figures"]
    lines = [
        f"Measured {env['date']} on {env['machine']} ({env['cpus']} CPUs, {env['memory']}), "
        f"Python {env['python']}, {env['qemu']}; load average "
        f"{env['load_average_before'][0]:.1f} before, {env['load_average'][0]:.1f} after "
        "(other work shared the machine). Medians, interquartile range in brackets; "
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
    libvirt = figures.get("libvirt")
    if libvirt is not None:
        lines += ["", "libvirt 9.0 (`bench/libvirt_bench.py`, status "
                  f"{libvirt['status']}; its ratio is qmpnuma's time over QEMU's, so below 1 "
                  "means qmpnuma is faster):", "", "```", libvirt["text"].rstrip()
                  or libvirt["stderr"].strip()[-500:], "```"]
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
