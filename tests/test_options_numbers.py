"""Numbers and sizes as QEMU parses them: parse_uint, qemu_strtosz (7.2 and 2.9), error texts."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import Reference
from qemu_runner import run_model, run_real

from qmpnuma.errors import OptionError
from qmpnuma.options.numbers import (
    SIZE_HINTS,
    NumberError,
    keyval_size,
    opts_visitor_size,
    parse_size,
    parse_size_mib,
    parse_uint,
    parse_uint_full,
    qapi_bool,
    qemu_strtou64,
    qemuopts_number,
    qemuopts_size,
)
from qmpnuma.profiles import Profile, get_profile

P29 = get_profile("2.9")
P72 = get_profile("7.2")

K, M, G = 1 << 10, 1 << 20, 1 << 30


@pytest.mark.parametrize(
    ("text", "value", "end"),
    [("0", 0, 1), ("42", 42, 2), ("0x1f", 31, 4), ("010", 8, 3), ("3-5", 3, 1),
     (" 7", 7, 2), ("+7", 7, 2), ("0x", 0, 1), ("08", 0, 1)],
)
def test_parse_uint(text: str, value: int, end: int) -> None:
    assert parse_uint(text) == (value, end)


@pytest.mark.parametrize(
    ("text", "errno"),
    [("", "EINVAL"), ("x", "EINVAL"), ("-1", "ERANGE"), (" -0", "ERANGE"),
     ("18446744073709551616", "ERANGE")],
)
def test_parse_uint_errors(text: str, errno: str) -> None:
    with pytest.raises(NumberError) as info:
        parse_uint(text)
    assert info.value.errno == errno


def test_parse_uint_full_and_base() -> None:
    assert parse_uint_full("0x10") == 16
    assert parse_uint_full("10", base=16) == 16
    with pytest.raises(NumberError):
        parse_uint_full("3-5")
    assert qemu_strtou64("-1") == (1 << 64) - 1
    with pytest.raises(NumberError):
        qemu_strtou64("1x")


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("1k", K), ("1K", K), ("1.5k", 1536), ("1.", 1), ("1.k", K), ("1M", M),
     ("1.5G", 3 * G // 2), ("0x10", 16), ("0X10", 16), ("16383P", 16383 << 50),
     ("0.5k", 512), ("1.0005K", 1025), ("0.00048828125k", 1), ("1.0B", 1), ("  5", 5),
     ("+5k", 5 * K), ("010", 10), ("15E", 15 << 60), ("18446744073709551615", (1 << 64) - 1),
     ("1.5e", 3 << 59)],
)
def test_parse_size_7_2(text: str, value: int) -> None:
    assert parse_size(text, profile=P72) == value


@pytest.mark.parametrize(
    ("text", "errno"),
    [("", "EINVAL"), ("abc", "EINVAL"), ("1.5", "EINVAL"), ("0.5B", "EINVAL"),
     ("1e3", "EINVAL"), ("1.5e3k", "EINVAL"), ("0x1.5", "EINVAL"), ("-1", "EINVAL"),
     ("1-", "EINVAL"), (".5k", "EINVAL"), ("1Q", "EINVAL"), ("1kB", "EINVAL"), ("16E", "ERANGE"),
     ("18446744073709551616", "ERANGE"), ("99999999999999999999k", "EINVAL"), ("0x", "EINVAL")],
)
def test_parse_size_7_2_errors(text: str, errno: str) -> None:
    with pytest.raises(NumberError) as info:
        parse_size(text, profile=P72)
    assert info.value.errno == errno


def test_hex_with_suffix_warns() -> None:
    warnings: list[str] = []
    assert parse_size("0x10k", profile=P72, warnings=warnings) == 16 * K
    assert warnings == ["Using a multiplier suffix on hex numbers is deprecated: 0x10k"]
    warnings.clear()
    assert parse_size("0x10", profile=P72, warnings=warnings) == 16
    assert warnings == []
    with pytest.raises(NumberError):  # 10.0, the default profile, refuses it (8.0 on)
        parse_size("0x10k")


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("1e3", 1000), ("1.5k", 1536), ("0x10", 16), ("1.5e3k", 1536000), ("2.5", None),
     ("-1", "ERANGE"), ("18446744073709550592", "ERANGE"), ("16E", "ERANGE"), ("nan", None),
     ("inf", "ERANGE"), ("4X", None)],
)
def test_parse_size_2_9(text: str, value: int | str | None) -> None:
    if isinstance(value, int):
        assert parse_size(text, profile=P29) == value
        return
    with pytest.raises(NumberError) as info:
        parse_size(text, profile=P29)
    assert info.value.errno == (value or "EINVAL")


def test_parse_size_mib() -> None:
    assert parse_size_mib("2048") == 2 * G
    assert parse_size_mib("0x1000") == 4 * G
    assert parse_size_mib("1.5") == 3 * M // 2
    assert parse_size_mib("1.5G") == 3 * G // 2
    assert parse_size_mib("512k") == 512 * K


def test_qemuopts_size_texts() -> None:
    assert qemuopts_size("size", "4G") == 4 * G
    with pytest.raises(OptionError) as info:
        qemuopts_size("size", "abc")
    assert info.value.message == "Parameter 'size' expects a non-negative number below 2^64"
    assert info.value.hints == SIZE_HINTS
    with pytest.raises(OptionError) as info:
        qemuopts_size("maxmem", "16E")
    assert info.value.message == "Value '16E' is out of range for parameter 'maxmem'"
    assert info.value.hints == ()


def test_qemuopts_number_texts() -> None:
    assert qemuopts_number("slots", "0x10") == 16
    with pytest.raises(OptionError, match=r"^Parameter 'slots' expects a number$"):
        qemuopts_number("slots", "0x")
    with pytest.raises(OptionError) as info:
        qemuopts_number("slots", "99999999999999999999")
    assert info.value.message == "Value '99999999999999999999' is too large for parameter 'slots'"


def test_visitor_size_texts() -> None:
    with pytest.raises(OptionError) as info:
        opts_visitor_size("mem", "1.5")
    assert info.value.message == "Parameter 'mem' expects a size value"
    with pytest.raises(OptionError) as info:
        keyval_size("memory.size", "1Q")
    assert info.value.message == "Parameter 'memory.size' expects size"


def test_bool_words() -> None:
    for word in ("on", "yes", "true", "y"):
        assert qapi_bool("share", word) is True
    for word in ("off", "no", "false", "n"):
        assert qapi_bool("share", word) is False
    with pytest.raises(OptionError, match=r"^Parameter 'share' expects 'on' or 'off'$"):
        qapi_bool("share", "ON")


SIZES_FOR_QEMU = [
    "1.5k", "1.", "1.k", "0.0009765625M", "1.00001k", "0.5k", "1.0005K", " 2k", "+3k", "0x400",
    "010", "1.5M", "0.75G", "1b", "4096", "0.00048828125k", "0X10k",
]


def _accepted_sizes(profile: Profile) -> tuple[dict[str, int], list[str]]:
    """The sizes ``profile`` reads (by backend id) and those it refuses (10.0 refuses a hex
    number with a suffix, which 7.2 reads with a deprecation warning)."""
    accepted: dict[str, int] = {}
    refused: list[str] = []
    for number, text in enumerate(SIZES_FOR_QEMU):
        try:
            accepted[f"b{number}"] = parse_size(text, profile=profile)
        except NumberError:
            refused.append(text)
    return accepted, refused


@pytest.mark.qemu
def test_sizes_match_real_qemu(reference: Reference) -> None:
    """One real QEMU with a backend per size string the profile reads; query-memdev reports
    what it parsed. Each string the profile refuses makes the real QEMU refuse the backend."""
    accepted, refused = _accepted_sizes(get_profile(reference.profile))
    base = [reference.binary, "-accel", "tcg", "-nodefaults", "-display", "none", "-S",
            "-M", "none"]
    args = [*base, "-qmp", "stdio"]
    for number, text in enumerate(SIZES_FOR_QEMU):
        if f"b{number}" in accepted:
            args += ["-object", f"memory-backend-ram,id=b{number},size={text}"]
    commands = '{"execute":"qmp_capabilities"}\n{"execute":"query-memdev"}\n{"execute":"quit"}\n'
    proc = subprocess.run(args, input=commands.encode(), capture_output=True, timeout=30,
                          check=False)
    replies = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    memdevs = next(r["return"] for r in replies if isinstance(r.get("return"), list))
    assert {dev["id"]: dev["size"] for dev in memdevs} == accepted
    for text in refused:
        start = ["-M", "none", "-object", f"memory-backend-ram,id=b,size={text}"]
        real = run_real(reference.binary, start)
        assert real.status == 1
        assert real == run_model(start, reference.profile)
