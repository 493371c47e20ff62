"""The option-syntax helpers the machine model reads its own options with (``cli_syntax``)."""

from __future__ import annotations

import pytest

from qmpnuma.errors import OptionError
from qmpnuma.machine.cli_syntax import (
    OptsReader,
    SizeRangeError,
    SizeSyntaxError,
    is_identifier,
    parse_size,
    parse_uint,
    parse_uint16_range,
    split_qemu_opts,
)


@pytest.mark.parametrize(
    ("text", "value", "hex_suffix"),
    [("1G", 1 << 30, False), ("1.5G", 3 << 29, False), ("4097k", 4097 << 10, False),
     ("0x10M", 16 << 20, True), ("0x1000", 4096, False), ("1.k", 1024, False),
     ("0", 0, False), ("16383P", 16383 << 50, False)],
)
def test_parse_size(text: str, value: int, hex_suffix: bool) -> None:
    parsed = parse_size(text)
    assert (parsed.value, parsed.hex_with_suffix) == (value, hex_suffix)


@pytest.mark.parametrize("text", ["abc", "-1", "1.5", "1e3", "1X", "", "0x1.5M", "1-2"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(SizeSyntaxError):
        parse_size(text)


def test_parse_size_range_and_default_unit() -> None:
    with pytest.raises(SizeRangeError):
        parse_size("16E")
    assert parse_size("129", "M").value == 129 << 20


@pytest.mark.parametrize(("text", "value"), [("010", 8), ("0x1f", 31), ("7", 7), (" 5", 5)])
def test_parse_uint_base0(text: str, value: int) -> None:
    assert parse_uint(text) == value


@pytest.mark.parametrize("text", ["-1", "", "08", "0x", "x", "1-2"])
def test_parse_uint_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_uint(text)


def test_uint16_ranges() -> None:
    assert parse_uint16_range("cpus", "0x1-0x3") == [1, 2, 3]
    for bad in ("3-1", "0:1", "0-70000", "a", ""):
        with pytest.raises(OptionError, match="expects a uint64 value or range"):
            parse_uint16_range("cpus", bad)
    with pytest.raises(OptionError, match="Parameter 'null' expects uint16_t"):
        parse_uint16_range("cpus", "70000")


def test_split_qemu_opts() -> None:
    pairs, warnings = split_qemu_opts("node,mem=1G,,x,cpus=0,cpus=2", "type")
    assert pairs == [("type", "node"), ("mem", "1G,x"), ("cpus", "0"), ("cpus", "2")]
    assert warnings == []
    pairs, warnings = split_qemu_opts("node,foo", "type")
    assert pairs == [("type", "node"), ("foo", "on")]
    assert warnings == ["short-form boolean option 'foo' deprecated\nPlease use foo=on instead"]


def test_opts_reader_last_scalar_wins_and_lists_gather() -> None:
    reader = OptsReader([("nodeid", "1"), ("nodeid", "2"), ("cpus", "0"), ("cpus", "2-3"),
                         ("x", "1")])
    assert reader.uint("nodeid", 16, "uint16_t") == 2
    assert reader.uint16_list("cpus") == [0, 2, 3]
    with pytest.raises(OptionError, match="Invalid parameter 'x'"):
        reader.check_all_visited()


def test_identifiers() -> None:
    assert is_identifier("m0.a-b_c")
    assert not is_identifier("1m")
    assert not is_identifier("")
