"""The scaling curves as PNG files (matplotlib, from the `bench` extra)."""

from __future__ import annotations

import os
from typing import Any

from bench.launchers import PROFILE_OF_KIND, QEMU_KIND_OF_PROFILE
from bench.throughput import mode_label


def draw(results: dict[str, Any], folder: str) -> list[str]:
    """Write memory.png, scaling.png and latency.png into ``folder``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = results["figures"]
    written = []

    memory = figures["memory"]
    sizes = [1, *memory["sizes"]]
    fleet_mib = [memory["rss_kib"][str(n)]["median"] / 1024 for n in sizes]
    qemu_mib = memory["qemu_kib"]["median"] / 1024
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, fleet_mib, "o-", label="qmpnuma fleet (one process)")
    ax.plot(sizes, [qemu_mib * n for n in sizes], "s--", label="N QEMU processes (N × one RSS)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("machines (N)")
    ax.set_ylabel("resident memory (MiB)")
    ax.set_title("Figure 6: RSS against the number of idle machines")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = os.path.join(folder, "memory.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    scaling = figures["scaling"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for column, (key, label) in enumerate((("nodes", "NUMA nodes (one CPU each)"),
                                           ("cpus", "CPUs (2 nodes, pc-q35-7.2)"))):
        steps = scaling[key]
        xs = [step[key] for step in steps]
        ours = [step["build"]["median"] * 1000 for step in steps]
        top, bottom = axes[0][column], axes[1][column]
        top.plot(xs, ours, "o-", label="qmpnuma Machine.from_argv")
        top.set_ylabel("ms")
        top.set_ylim(bottom=0)
        qemu = [(step[key], step["qemu"]["median"] * 1000) for step in steps
                if "qemu" in step and "median" in step["qemu"]]
        bottom.plot(xs, ours, "o-", label="qmpnuma Machine.from_argv")
        if qemu:
            bottom.plot([x for x, _ in qemu], [y for _, y in qemu], "s--",
                        label="QEMU start to first reply")
        bottom.set_yscale("log")
        bottom.set_ylabel("ms (log)")
        for ax in (top, bottom):
            ax.set_xlabel(label)
            ax.grid(True, alpha=0.3)
            ax.legend()
    fig.suptitle("Figure 7: model scaling")
    fig.tight_layout()
    path = os.path.join(folder, "scaling.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    fig, ax = plt.subplots(figsize=(6, 4))
    names = ["sequential", "pipelined"]
    ours = [figures[k]["qmpnuma"]["median"] for k in ("roundtrips", "pipelined")]
    theirs = [figures[k]["qemu"]["median"] for k in ("roundtrips", "pipelined")]
    positions = range(len(names))
    ax.bar([p - 0.2 for p in positions], ours, width=0.4, label="qmpnuma")
    ax.bar([p + 0.2 for p in positions], theirs, width=0.4, label="QEMU 7.2")
    ax.set_xticks(list(positions), names)
    ax.set_ylabel("query-memdev replies / s (one connection)")
    ax.set_title("Figures 3 and 4: one connection")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(folder, "throughput.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    if "one_connection" in figures:
        written.append(_draw_floor(plt, figures, folder))
    if figures.get("fleet_scale"):
        written.append(_draw_fleet(plt, figures["fleet_scale"], folder))
    return written


def _draw_fleet(plt: Any, steps: list[dict[str, Any]], folder: str) -> str:
    """fleet_scale.png: build time, RSS per machine and the sweep against the fleet size."""
    counts = [step["count"] for step in steps]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 4))
    left.plot(counts, [step["build_s"] for step in steps], "o-", label="build (clone + server)")
    left.plot(counts, [step["sweep_s"] for step in steps], "s--",
              label="sweep (bind, greet, negotiate, query-memdev, unbind)")
    left.set_ylabel("seconds")
    middle.plot(counts, [step["per_machine_kib"] for step in steps], "o-", label="after build")
    middle.plot(counts, [step["per_machine_after_sweep_kib"] for step in steps], "s--",
                label="after the sweep")
    middle.set_ylabel("RSS per machine (KiB)")
    middle.set_ylim(bottom=0)
    right.plot(counts, [step["rss_after_sweep_kib"] / 1024 for step in steps], "o-",
               label="fleet process RSS")
    right.set_ylabel("MiB")
    for ax in (left, middle, right):
        ax.set_xscale("log")
        ax.set_xlabel("machines in one process")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    left.set_yscale("log")
    right.set_yscale("log")
    fig.suptitle("One fleet process from 1,000 to 100,000 machines (every reply checked)")
    fig.tight_layout()
    path = os.path.join(folder, "fleet_scale.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


_LABELS = {"floor": "floor (bare asyncio)", "sized": "sized floor (replies as long as qmpnuma's)",
           "floor_lean": "lean floor (ssl, inspect deferred)",
           **{kind: f"qmpnuma (profile {profile})" for kind, profile in PROFILE_OF_KIND.items()},
           **{kind: f"QEMU {profile}" for profile, kind in QEMU_KIND_OF_PROFILE.items()}}


def _draw_floor(plt: Any, figures: dict[str, Any], folder: str) -> str:
    """floor.png: every program per command and mode (log scale, bars at the median, whiskers
    from min to max of the rounds), and the cold start beside it."""
    connection = figures["one_connection"]
    groups = [(command, mode) for command, modes in connection.items() for mode in modes]
    kinds = [kind for kind in _LABELS if kind in connection[groups[0][0]][groups[0][1]]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.6),
                                      gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / len(kinds)
    for index, kind in enumerate(kinds):
        medians, lows, highs = [], [], []
        for command, mode in groups:
            item = connection[command][mode][kind]
            medians.append(item["median"])
            lows.append(item["median"] - item["min"])
            highs.append(item["max"] - item["median"])
        xs = [g + (index - (len(kinds) - 1) / 2) * width for g in range(len(groups))]
        left.bar(xs, medians, width=width, yerr=[lows, highs], capsize=2, label=_LABELS[kind])
    # Two short lines a group (command, then mode): twelve groups side by side must not overlap.
    left.set_xticks(range(len(groups)),
                    [f"{c.removeprefix('query-').removeprefix('qmp_')}\n"
                     + mode_label(m).replace(" 10,000", "").replace(", ", "\n")
                     for c, m in groups], fontsize=6)
    left.set_yscale("log")
    left.set_ylabel("replies / s (one connection, log)")
    left.set_title("One connection against the floor (median, min–max)")
    left.grid(True, axis="y", which="both", alpha=0.3)
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    cold = figures["cold_start"]
    # The lean floor (cold start only) right after the floor, in a colour of its own.
    present = [kind for kind in (*kinds[:1], "floor_lean", *kinds[1:]) if kind in cold]
    medians = [cold[kind]["median"] * 1000 for kind in present]
    errors = [[(cold[k]["median"] - cold[k]["min"]) * 1000 for k in present],
              [(cold[k]["max"] - cold[k]["median"]) * 1000 for k in present]]
    right.bar(range(len(present)), medians, yerr=errors, capsize=3,
              color=[f"C{kinds.index(k) if k in kinds else len(kinds)}" for k in present])
    right.set_xticks(range(len(present)), [_LABELS[k] for k in present], rotation=30,
                     ha="right", fontsize=8)
    right.set_ylabel("ms to first query-memdev reply")
    right.set_title("Cold start")
    right.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    path = os.path.join(folder, "floor.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
