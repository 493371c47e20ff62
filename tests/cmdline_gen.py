"""A seeded generator of QEMU command lines for the differential suite.

Each case is a plausible management-stack command line (machine type, memory, SMP topology, NUMA
nodes with backends or legacy ``mem=``, distances, ``-numa cpu``, HMAT, DIMMs) to which, most of
the time, one mutation is applied that may make it invalid. Nothing here knows the expected
answer: the real QEMU decides, and qmpnuma must agree with it. Sizes stay small so that real QEMU
never fails for lack of host memory, and ``prealloc`` is only used on tiny backends.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from qmpnuma.options.numbers import NumberError, parse_size
from qmpnuma.profiles import get_profile

I440FX_VERSIONS = [
    "2.9", "2.10", "2.11", "2.12", "3.0", "3.1", "4.0", "4.1", "4.2",
    "5.0", "5.1", "5.2", "6.0", "6.1", "6.2", "7.0", "7.1", "7.2",
]
Q35_VERSIONS = I440FX_VERSIONS
MIB = 1 << 20


def machine_versions(profile: str) -> list[str]:
    """The pc/q35 versions of ``profile``'s machine catalogue from 2.9 on (the generator's
    choice of versioned types: 7.2's list above, 10.0's up to 10.0)."""
    versions = get_profile(profile).machines.pc_versions
    return [v for v in versions if tuple(int(p) for p in v.split(".")) >= (2, 9)]


@dataclass
class Case:
    """A command line being built, with enough structure for mutations to act on."""

    machine: str
    machine_props: list[str] = field(default_factory=list)
    mem_mib: int = 1024
    mem_text: str = "1G"
    mem_extra: list[str] = field(default_factory=list)
    smp: str | None = None
    objects: list[str] = field(default_factory=list)
    numa: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """The arguments after the program name (without the harness's fixed options)."""
        args = ["-M", ",".join([self.machine, *self.machine_props])]
        args += ["-m", ",".join([self.mem_text, *self.mem_extra])]
        if self.smp is not None:
            args += ["-smp", self.smp]
        for obj in self.objects:
            args += ["-object", obj]
        for opt in self.numa:
            args += ["-numa", opt]
        for dev in self.devices:
            args += ["-device", dev]
        return args + self.extra


def _machine(rng: random.Random, versions: list[str]) -> str:
    roll = rng.random()
    if roll < 0.3:
        return "pc"
    if roll < 0.5:
        return "q35"
    if roll < 0.75:
        return "pc-i440fx-" + rng.choice(versions)
    if roll < 0.97:
        return "pc-q35-" + rng.choice(versions)
    return "none"


def _size_text(rng: random.Random, mib: int, bare_is_mib: bool = True) -> str:
    """Spell a size in MiB the many ways QEMU accepts (a bare number is MiB only for -m/mem=)."""
    bare = f"{mib}" if bare_is_mib else f"{mib * MIB}"
    in_bytes = f"{mib * MIB}B" if bare_is_mib else f"{mib * MIB}"
    choices = [f"{mib}M", bare, f"{mib * 1024}K", in_bytes]
    if mib % 1024 == 0:
        choices.append(f"{mib // 1024}G")
    if mib % 512 == 0 and mib % 1024 != 0:
        choices.append(f"{mib / 1024}G")
    return rng.choice(choices)


def _smp(rng: random.Random) -> tuple[str | None, int]:
    """An -smp value and the number of possible CPUs it is meant to give."""
    roll = rng.random()
    if roll < 0.15:
        return None, 1
    cpus = rng.choice([1, 2, 3, 4, 4, 6, 8])
    if roll < 0.45:
        return str(cpus), cpus
    sockets = rng.choice([1, 2, 4])
    threads = rng.choice([1, 1, 2])
    cores = max(1, cpus // (sockets * threads))
    maxcpus = sockets * cores * threads
    parts = [f"{min(cpus, maxcpus)}"]
    if rng.random() < 0.5:
        parts.append(f"maxcpus={maxcpus}")
    parts += [f"sockets={sockets}", f"cores={cores}"]
    if threads > 1 or rng.random() < 0.3:
        parts.append(f"threads={threads}")
    if rng.random() < 0.1:
        parts.append("dies=1")
    return ",".join(parts), maxcpus


def _backend(rng: random.Random, ident: str, mib: int) -> str:
    kind = rng.choice(["ram", "ram", "ram", "memfd", "file"])
    size = _size_text(rng, mib, bare_is_mib=False)
    props = [f"memory-backend-{kind}", f"id={ident}", f"size={size}"]
    if kind == "file":
        props += ["mem-path=/dev/shm", "share=on"]
    if rng.random() < 0.2:
        props.append(rng.choice(["merge=off", "dump=off", "share=on", "reserve=off"]))
    if rng.random() < 0.15:
        props += ["policy=bind", "host-nodes=0"]
    return ",".join(props)


def _cpu_ranges(rng: random.Random, cpus: list[int]) -> list[str]:
    """Split a node's CPU list into cpus= values: single indexes and ranges."""
    out: list[str] = []
    i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        if j > i and rng.random() < 0.7:
            out.append(f"cpus={cpus[i]}-{cpus[j]}")
        else:
            out += [f"cpus={c}" for c in cpus[i : j + 1]]
        i = j + 1
    return out


def base_case(rng: random.Random, versions: list[str] = I440FX_VERSIONS) -> Case:
    """A configuration that is usually valid (versioned types drawn from ``versions``)."""
    machine = _machine(rng, versions)
    legacy_mem = machine.startswith(("pc-i440fx-", "pc-q35-")) and machine.split("-")[-1] in {
        "2.9", "2.10", "2.11", "2.12", "3.0", "3.1", "4.0", "4.1", "4.2", "5.0",
    }
    mem_mib = rng.choice([512, 1024, 1536, 2048, 3584, 4096])
    case = Case(machine=machine, mem_mib=mem_mib, mem_text=_size_text(rng, mem_mib))
    smp, maxcpus = _smp(rng)
    case.smp = smp
    if rng.random() < 0.35:
        slots = rng.choice([1, 2, 4])
        case.mem_extra = [f"slots={slots}", f"maxmem={mem_mib + rng.choice([1024, 2048, 4096])}M"]
    nodes = rng.choice([0, 0, 1, 2, 2, 3, 4])
    if machine == "none":
        nodes = rng.choice([0, 1])
    use_mem = legacy_mem and rng.random() < 0.5
    sizes = _split(rng, mem_mib, nodes)
    all_cpus = list(range(maxcpus))
    assign_cpus = rng.random() < 0.6
    if rng.random() < 0.2:
        rng.shuffle(all_cpus)
    for n in range(nodes):
        opts = ["node"]
        if rng.random() < 0.7:
            opts.append(f"nodeid={n}")
        if assign_cpus:
            mine = sorted(all_cpus[n::nodes])
            opts += _cpu_ranges(rng, mine)
        if use_mem:
            if sizes[n]:
                opts.append(f"mem={_size_text(rng, sizes[n])}")
        elif sizes[n]:
            case.objects.append(_backend(rng, f"m{n}", sizes[n]))
            opts.append(f"memdev=m{n}")
        case.numa.append(",".join(opts))
    if nodes >= 2 and rng.random() < 0.4:
        for a in range(nodes):
            for b in range(a + 1, nodes):
                if rng.random() < 0.9:
                    case.numa.append(f"dist,src={a},dst={b},val={rng.choice([15, 20, 21, 40])}")
    if nodes >= 1 and rng.random() < 0.15 and maxcpus > 1:
        case.numa.append(f"cpu,node-id={nodes - 1},socket-id=0")
    if case.mem_extra and rng.random() < 0.6:
        dimm_mib = rng.choice([128, 256, 512])
        case.objects.append(f"memory-backend-ram,id=dimm0mem,size={dimm_mib}M")
        dev = ["pc-dimm", "id=dimm0", "memdev=dimm0mem"]
        if nodes > 1 and rng.random() < 0.5:
            dev.append(f"node={rng.randrange(nodes)}")
        case.devices.append(",".join(dev))
    return case


def _split(rng: random.Random, total: int, nodes: int) -> list[int]:
    """Node sizes in MiB adding up to total (sometimes with a memory-less node)."""
    if nodes == 0:
        return []
    sizes = [0] * nodes
    remaining = total
    for n in range(nodes - 1):
        share = (total // nodes) // 256 * 256
        if rng.random() < 0.15:
            share = 0
        sizes[n] = min(share, remaining)
        remaining -= sizes[n]
    sizes[-1] = remaining
    return sizes


def _mutate_dup_nodeid(rng: random.Random, case: Case) -> None:
    nodes = [i for i, o in enumerate(case.numa) if o.startswith("node")]
    if len(nodes) >= 2:
        case.numa[nodes[1]] = _set_key(case.numa[nodes[1]], "nodeid", "0")


def _mutate_sparse_nodeid(rng: random.Random, case: Case) -> None:
    nodes = [i for i, o in enumerate(case.numa) if o.startswith("node")]
    if nodes:
        last = nodes[-1]
        case.numa[last] = _set_key(case.numa[last], "nodeid", str(len(nodes) + rng.randrange(3)))


def _mutate_cpu_out_of_range(rng: random.Random, case: Case) -> None:
    case.numa.append(f"node,cpus={rng.choice([8, 16, 255, 70000])}")


def _mutate_mem_total(rng: random.Random, case: Case) -> None:
    case.mem_text = f"{case.mem_mib + rng.choice([256, -256, 1024])}M"


def _mutate_legacy_mem(rng: random.Random, case: Case) -> None:
    case.numa = [o for o in case.numa if not o.startswith("node")] + [
        f"node,mem={case.mem_mib}M"
    ]
    case.objects = [o for o in case.objects if "dimm0mem" in o]


def _mutate_mix(rng: random.Random, case: Case) -> None:
    case.numa.append("node,mem=256M")


def _mutate_memdev_missing(rng: random.Random, case: Case) -> None:
    case.numa.append("node,memdev=nosuch")


def _mutate_memdev_twice(rng: random.Random, case: Case) -> None:
    for opt in case.numa:
        memdevs = [p for p in opt.split(",") if p.startswith("memdev=")]
        if opt.startswith("node") and memdevs:
            case.numa.append("node," + memdevs[0])
            return


def _mutate_dist(rng: random.Random, case: Case) -> None:
    src = rng.choice([0, 1, 5, 128])
    dst = rng.choice([0, 1, 2, 200])
    val = rng.choice([0, 9, 10, 20, 256])
    case.numa.append(f"dist,src={src},dst={dst},val={val}")


def _mutate_smp(rng: random.Random, case: Case) -> None:
    case.smp = rng.choice(
        [
            "8,sockets=2,cores=2",
            "4,maxcpus=2",
            "0",
            "x",
            "1000",
            "4,clusters=2",
            "4,dies=2",
            "2,sockets=0",
            "300,maxcpus=300",
            "256",
            "4,maxcpus=260,sockets=2,cores=130",
            "4,sockets=2,cores=2,threads=2,maxcpus=8",
            "8,sockets=2,modules=2",
            "4,books=2",
            "4,drawers=1,books=1",
            "2,maxcpus=300",
        ]
    )


def _mutate_memory_opts(rng: random.Random, case: Case) -> None:
    case.mem_extra = rng.choice(
        [
            ["slots=2"],
            [f"maxmem={case.mem_mib}M", "slots=1"],
            [f"maxmem={case.mem_mib // 2}M"],
            [f"maxmem={case.mem_mib + 1024}M"],
            ["slots=300", f"maxmem={case.mem_mib + 1024}M"],
            ["foo=1"],
            [f"maxmem={case.mem_mib * MIB + 1}"],
        ]
    )


def _mutate_mem_size(rng: random.Random, case: Case) -> None:
    case.mem_text = rng.choice(["0", "1M", "4097k", "1.5G", "129", "-1", "1X", "0x40000000", "1e3",
                                ".5G", "0x10M"])


def _mutate_backend(rng: random.Random, case: Case) -> None:
    case.objects.append(
        rng.choice(
            [
                "memory-backend-ram,id=bad,size=0",
                "memory-backend-ram,id=bad",
                "memory-backend-ram,size=1G",
                "memory-backend-ram,id=bad,size=1G,policy=bind",
                "memory-backend-ram,id=bad,size=1G,host-nodes=0",
                "memory-backend-ram,id=bad,size=1G,host-nodes=200,policy=bind",
                "memory-backend-ram,id=bad,size=1G,policy=foo",
                "memory-backend-ram,id=bad,size=1G,foo=bar",
                "memory-backend-ram,id=bad,size=1X",
                "memory-backend-ram,id=bad,size=4M,prealloc=on,reserve=off",
                "memory-backend-ram,id=pc.ram,size=1G",
                "memory-backend-foo,id=bad,size=1G",
                "memory-backend-file,id=bad,size=1G",
                "memory-backend-file,id=bad,size=1G,mem-path=/nonexistent-qmpnuma/x",
                "memory-backend-memfd,id=bad,size=1G,hugetlb=maybe",
                "memory-backend-ram,id=m0,size=1G",
                "memory-backend-shm,id=bad,size=1G",
                "memory-backend-shm,id=bad,size=1G,share=off",
                "memory-backend-file,id=bad,size=1G,mem-path=/dev/shm,offset=4096",
                "memory-backend-file,id=bad,size=1G,mem-path=/dev/shm,offset=512",
                "memory-backend-file,id=bad,size=1G,mem-path=/dev/shm,rom=on",
                "memory-backend-file,id=bad,size=5000,mem-path=/dev/shm",
                "memory-backend-memfd,id=bad,size=5000",
            ]
        )
    )


def _mutate_numa_syntax(rng: random.Random, case: Case) -> None:
    case.numa.append(
        rng.choice(
            [
                "foo",
                "node,foo=1",
                "node,nodeid=-1",
                "node,nodeid=65536",
                "node,nodeid=128",
                "node,cpus=3-1",
                "node,cpus=a",
                "node,cpus=0:1",
                "node,cpus=",
                "node,mem=4X",
                "node,mem=1.5",
                "cpu",
                "cpu,node-id=9",
                "cpu,node-id=0,die-id=0",
                "cpu,node-id=0,cluster-id=0",
                "cpu,node-id=0,socket-id=99",
                "cpu,node-id=0,socket-id=0,module-id=0",
                "cpu,node-id=0,socket-id=0,book-id=0",
                "dist,src=0,dst=1",
                "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=5",
                "hmat-cache,node-id=0,size=10K,level=1",
                "node,initiator=0",
            ]
        )
    )


def _mutate_dimm(rng: random.Random, case: Case) -> None:
    case.objects.append("memory-backend-ram,id=d1mem,size=" + rng.choice(["256M", "1M", "3M"]))
    case.devices.append(
        rng.choice(
            [
                "pc-dimm,memdev=d1mem",
                "pc-dimm,id=d1,memdev=d1mem,node=7",
                "pc-dimm,id=d1,memdev=d1mem,slot=9",
                "pc-dimm,id=d1,memdev=d1mem,addr=0x100000",
                "pc-dimm,id=d1",
                "pc-dimm,id=d1,memdev=nosuch",
                "pc-dimm,id=dimm0,memdev=d1mem",
            ]
        )
    )


def _mutate_hmat(rng: random.Random, case: Case) -> None:
    case.machine_props.append("hmat=on")


def _mutate_machine(rng: random.Random, case: Case) -> None:
    case.machine = rng.choice(["pc-i440fx-5.0", "pc-q35-5.0", "pc-i440fx-5.1", "none", "nosuch",
                               "pc-i440fx-2.3", "pc-q35-8.2"])


def _mutate_cpu(rng: random.Random, case: Case) -> None:
    model = rng.choice(["nosuch", "host", "max", "kvm64", "qemu32", "486", "core2duo",
                        "athlon", "Conroe", "base", "qemu64-x86_64-cpu", "pentium", "n270"])
    case.extra += ["-cpu", model]


def _mutate_accel(rng: random.Random, case: Case) -> None:
    """``-machine accel=`` or ``-enable-kvm`` beside the harness's ``-accel tcg``."""
    if rng.random() < 0.5:
        case.machine_props.append(rng.choice(["accel=tcg", "accel=kvm:tcg"]))
    else:
        case.extra.append("-enable-kvm")


MUTATIONS: list[Callable[[random.Random, Case], None]] = [
    _mutate_dup_nodeid,
    _mutate_sparse_nodeid,
    _mutate_cpu_out_of_range,
    _mutate_mem_total,
    _mutate_legacy_mem,
    _mutate_mix,
    _mutate_memdev_missing,
    _mutate_memdev_twice,
    _mutate_dist,
    _mutate_smp,
    _mutate_memory_opts,
    _mutate_mem_size,
    _mutate_backend,
    _mutate_numa_syntax,
    _mutate_dimm,
    _mutate_hmat,
    _mutate_machine,
    _mutate_cpu,
    _mutate_accel,
]


def _set_key(opt: str, key: str, value: str) -> str:
    parts = [p for p in opt.split(",") if not p.startswith(key + "=")]
    return ",".join([parts[0], f"{key}={value}", *parts[1:]])


def generate(seed: int, count: int, profile: str = "7.2") -> list[list[str]]:
    """``count`` command lines from ``seed`` with the machine types of ``profile``; about a
    quarter are left unmutated."""
    rng = random.Random(seed)
    versions = machine_versions(profile)
    cases: list[list[str]] = []
    for _ in range(count):
        case = base_case(rng, versions)
        if rng.random() < 0.75:
            rng.choice(MUTATIONS)(rng, case)
        cases.append(case.argv())
    return cases


# --- residue classes -----------------------------------------------------------------------
# Command lines aimed at the syntax corners where a second copy of QEMU's option syntax used to
# differ from QEMU: empty option values, exotic size spellings, several unknown parameters at
# once (which one QemuOpts, the OptsVisitor, keyval and the JSON visitor name first), and DIMMs
# given with -device on `-M none`. Each generator draws random values, not fixed examples.

_EMPTY_FORMS = ["", ",", ",,", "=", "=,", "id=", ",id=x"]
_SIZE_SUFFIXES = ["", "B", "b", "k", "K", "M", "m", "G", "g", "T", "P", "E", "e", "X", "KB"]


def _word(rng: random.Random, length: int | None = None) -> str:
    """A random lower-case parameter name no QEMU option uses (it starts with 'q' or 'z')."""
    length = length if length is not None else rng.randint(1, 7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return rng.choice("qz") + "".join(rng.choice(letters) for _ in range(length - 1))


def exotic_size(rng: random.Random) -> str:
    """A size spelled the unusual ways qemu_strtosz has to decide on."""
    kind = rng.randrange(9)
    suffix = rng.choice(_SIZE_SUFFIXES)
    if kind == 0:  # a fraction, often with a large suffix
        whole = rng.choice(["0", "1", "2", "15", "16"])
        return f"{whole}.{rng.choice(['5', '25', '0', '9999', ''])}{suffix}"
    if kind == 1:  # hex, with or without a suffix or a fraction
        digits = rng.choice(["0", "1", "10", "ff", "4000", "FFFFFFFFFFFFFFFF", ""])
        return f"0{rng.choice('xX')}{digits}{rng.choice(['', '.5', *_SIZE_SUFFIXES])}"
    if kind == 2:  # around 2**64
        value = rng.choice([(1 << 64) - 1, 1 << 64, (1 << 64) + 1, 1 << 63, 18446744073709550592])
        return f"{value}{rng.choice(['', 'B', 'k'])}"
    if kind == 3:  # blanks and signs
        core = f"{rng.choice([1, 64, 512])}{suffix}"
        return rng.choice([" ", "\t", "+", "-", " +", "  -"]) + core + rng.choice(["", "", " "])
    if kind == 4:  # exponents and C float spellings
        return rng.choice(["1e3", "1E3", "1e", "1.5e3", "0x1p3", "inf", "nan", "1.e3", ".5G"])
    if kind == 5:  # leading zeros (octal for numbers, decimal for sizes)
        return f"0{rng.choice(['0', '7', '8', '10', '100'])}{suffix}"
    if kind == 6:  # the largest values each suffix allows
        shift = rng.choice([("k", 10), ("M", 20), ("G", 30), ("T", 40), ("P", 50), ("E", 60)])
        return f"{(1 << (64 - shift[1])) + rng.choice([-1, 0, 1])}{shift[0]}"
    if kind == 7:  # a digit-less or doubled suffix
        return rng.choice(["k", "M", ".", ".M", "1..5M", "1MM", "1 M", "1,5M"])
    return f"{rng.choice([1, 2, 3, 100, 1024])}{suffix}"


def _near_2_64(text: str) -> bool:
    """Whether a size may come within 2**62 of 2**64: QEMU then aborts (``find_ram_offset``
    finds no gap, or a page-aligned size wraps to 0, or q35 maps 0 bytes of RAM), which is a
    crash, not a rule the model imitates."""
    try:
        return parse_size(text.replace(",,", ",")) >= 1 << 62
    except NumberError:
        return False


def _residue_empty(rng: random.Random, case: Case) -> None:
    """An option (or one of its values) left empty."""
    form = rng.choice(_EMPTY_FORMS)
    option = rng.choice(["-m", "-numa", "-smp", "-machine", "-M", "-object", "-device"])
    if rng.random() < 0.3:
        # an empty value for a known key
        option, form = rng.choice([
            ("-m", "size="), ("-m", "1G,maxmem="), ("-m", "1G,slots="), ("-numa", "node,mem="),
            ("-numa", "node,nodeid="), ("-numa", "node,cpus="), ("-smp", "cpus="),
            ("-smp", "2,sockets="), ("-machine", "type="), ("-M", "pc,hmat="),
            ("-object", "memory-backend-ram,id=e,size="), ("-object", "qom-type="),
            ("-device", "driver="), ("-device", "pc-dimm,memdev="),
        ])
    case.extra += [option, form]


def _residue_size(rng: random.Random, case: Case) -> None:
    """An exotic size where a size is read: -m size/maxmem, -numa mem, backend size/align."""
    text = exotic_size(rng).replace(",", ",,")
    where = rng.randrange(5)
    if where == 0 and not (_near_2_64(text) and case.machine != "pc"):
        case.mem_text = text
        case.numa = [o for o in case.numa if not o.startswith("node")]
        case.objects = [o for o in case.objects if "dimm0mem" in o]
        case.devices = []
    elif where == 1:
        case.mem_extra = ["slots=2", f"maxmem={text}"]
    elif where == 2:
        case.numa.append(f"node,mem={text}")
    elif where == 3 and not _near_2_64(text):
        # (a backend within a page of 2**64 makes QEMU abort in find_ram_offset: not a rule)
        case.objects.append(f"memory-backend-ram,id=sz,size={text}")
    else:
        case.extra += ["-smp", rng.choice(["", "cpus="]) + rng.choice(["1", "0x2", "02", "+2", " 2",
                                                                       "2 ", "1e1", "-1"])]


def _unknown_pairs(rng: random.Random) -> list[str]:
    return [f"{_word(rng)}={rng.randrange(10)}" for _ in range(rng.randint(2, 4))]


def _residue_unknown(rng: random.Random, case: Case) -> None:
    """Several unknown parameters in one option; QEMU names one of them first."""
    unknown = _unknown_pairs(rng)
    kind = rng.randrange(8)
    if kind == 6:
        case.mem_extra = [*case.mem_extra, *unknown]
        rng.shuffle(case.mem_extra)
        return
    if kind == 7:
        props = ["id=u2", "memdev=nosuch", *unknown]
        rng.shuffle(props)
        case.devices.append(",".join(["pc-dimm", *props]))
        return
    if kind == 0:
        props = ["id=u0", "size=64M", *unknown]
        rng.shuffle(props)
        case.objects.append(",".join(["memory-backend-ram", *props]))
    elif kind == 1:
        members = [f'"{pair.split("=")[0]}": {pair.split("=")[1]}' for pair in unknown]
        members += ['"qom-type": "memory-backend-ram"', '"id": "u0"', '"size": 67108864']
        rng.shuffle(members)
        case.objects.append("{" + ", ".join(members) + "}")
    elif kind == 2:
        case.numa.append(",".join(["node", *unknown]))
    elif kind == 3:
        case.machine_props += unknown
        if rng.random() < 0.5:
            case.machine_props.append(rng.choice(["hmat=x", "smp.cpus=x", "memory.size=1X"]))
        rng.shuffle(case.machine_props)
    elif kind == 4:
        case.smp = ",".join([case.smp or "1", *unknown])
    else:
        props = ["id=u1", *unknown]
        rng.shuffle(props)
        case.objects.append(",".join(["iothread", *props]))


def _residue_dimm_on_none(rng: random.Random, case: Case) -> None:
    """`-M none` with DIMMs given by -device (no memory hot-plug handler on that board)."""
    case.machine = "none"
    case.machine_props = []
    case.numa = [o for o in case.numa if not o.startswith(("dist", "cpu"))][: rng.randint(0, 1)]
    case.numa = [o.split(",")[0] for o in case.numa]
    case.objects = [f"memory-backend-ram,id=nd{i},size={rng.choice([64, 128, 256])}M"
                    for i in range(rng.randint(0, 2))]
    case.mem_extra = rng.choice([[], [], ["slots=2", f"maxmem={case.mem_mib + 1024}M"]])
    case.devices = []
    for i in range(rng.randint(1, 3)):
        dev = ["pc-dimm"]
        if rng.random() < 0.6:
            dev.append(f"id=d{i}")
        if rng.random() < 0.8:
            dev.append(f"memdev=nd{rng.randrange(3)}")
        for prop in ("node", "slot", "addr"):
            if rng.random() < 0.2:
                dev.append(f"{prop}={rng.choice(['0', '1', '-1', 'x', '0x100000'])}")
        if rng.random() < 0.1:
            dev.append(f"{_word(rng)}=1")
        case.devices.append(",".join(dev))
    if rng.random() < 0.2:
        case.extra += ["-smp", "2"]


RESIDUE_MUTATIONS: list[Callable[[random.Random, Case], None]] = [
    _residue_empty,
    _residue_size,
    _residue_unknown,
    _residue_dimm_on_none,
]


def generate_residue(seed: int, count: int) -> list[list[str]]:
    """``count`` command lines from ``seed``, each with one residue-class mutation (in turn)."""
    rng = random.Random(seed)
    cases: list[list[str]] = []
    for index in range(count):
        case = base_case(rng)
        RESIDUE_MUTATIONS[index % len(RESIDUE_MUTATIONS)](rng, case)
        cases.append(case.argv())
    return cases
