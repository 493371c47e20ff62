"""The command lines the benchmarks run, identical for qmpnuma and for QEMU."""

from __future__ import annotations

#: The standard machine: a q35 guest with two NUMA nodes, each backed by its own RAM backend.
STANDARD = (
    "-machine", "pc-q35-7.2", "-m", "2G", "-smp", "2",
    "-object", "memory-backend-ram,id=m0,size=1G",
    "-object", "memory-backend-ram,id=m1,size=1G",
    "-numa", "node,memdev=m0,cpus=0", "-numa", "node,memdev=m1,cpus=1",
)

#: pc-q35-7.2's `max_cpus` (what `query-machines` calls cpu-max).
Q35_CPU_LIMIT = 288
#: QEMU's MAX_NODES.
NODE_LIMIT = 128


def numa_topology(nodes: int, cpus: int | None = None) -> tuple[str, ...]:
    """``nodes`` nodes of 64 MiB each, one backend per node, CPUs spread round-robin."""
    cpus = nodes if cpus is None else cpus
    args = ["-machine", "pc-q35-7.2", "-m", f"{64 * nodes}M", "-smp", str(cpus)]
    for node in range(nodes):
        args += ["-object", f"memory-backend-ram,id=m{node},size=64M"]
    for node in range(nodes):
        owned = [str(cpu) for cpu in range(cpus) if cpu % nodes == node]
        spec = f"node,nodeid={node},memdev=m{node}"
        spec += "".join(f",cpus={cpu}" for cpu in owned)
        args += ["-numa", spec]
    return tuple(args)
