"""Sizes and durations as users type them on the command line and in job specs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aidc.core.units import format_duration, parse_duration, parse_memory_mib


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90),
        ("90", 90),
        ("45s", 45),
        ("30m", 1800),
        ("2h", 7200),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1d12h", 129600),
        ("1.5h", 5400),
        (" 30M ", 1800),
        ("01:00:00", 3600),
        ("1:30", 5400),  # H:MM as Slurm reads it
        ("1-00:00:00", 86400),
        ("2-12:30:00", 2 * 86400 + 12 * 3600 + 30 * 60),
    ],
)
def test_parse_duration_accepts(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "1h30m"),
        ("abc", "1h30m"),
        ("1h 30m", "1h30m"),
        ("30x", "1h30m"),
        ("h", "1h30m"),
        ("1:2:3:4", "HH:MM:SS"),
        ("1:x:00", "HH:MM:SS"),
        ("x-01:00:00", "D-HH:MM:SS"),
        ("0", "positive"),
        ("0s", "positive"),
        (0, "positive"),
        (-5, "positive"),
        ("00:00:00", "positive"),
    ],
)
def test_parse_duration_rejects_with_a_hint(text: str | int, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        parse_duration(text)


def test_parse_duration_error_quotes_what_the_user_typed() -> None:
    with pytest.raises(ValueError, match=r"'x-01:00:00' is not a duration"):
        parse_duration("x-01:00:00")


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        (512, 512),
        ("512", 512),
        ("512M", 512),
        ("512m", 512),
        ("16G", 16 * 1024),
        ("16GiB", 16 * 1024),
        ("16 GB", 16 * 1024),
        ("1.5G", 1536),
        ("1T", 1024 * 1024),
        ("2048K", 2),
    ],
)
def test_parse_memory_accepts(text: str | int, mib: int) -> None:
    assert parse_memory_mib(text) == mib


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "512M, 16G"),
        ("lots", "512M, 16G"),
        ("16X", "512M, 16G"),
        ("-1G", "512M, 16G"),
        ("16 G B x", "512M, 16G"),
        ("0", "positive"),
        ("0G", "positive"),
        (0, "positive"),
        ("100K", "positive"),  # less than one MiB
    ],
)
def test_parse_memory_rejects_with_a_hint(text: str | int, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        parse_memory_mib(text)


@pytest.mark.parametrize("text", ["16B", "16b", "16iB"])
def test_parse_memory_never_reads_bytes_as_mebibytes(text: str) -> None:
    # "16B" is sixteen bytes, not 16 MiB: it must not silently become a million times larger.
    with pytest.raises(ValueError):
        parse_memory_mib(text)


def test_parse_memory_reads_bytes_as_bytes() -> None:
    assert parse_memory_mib(f"{4 * 1024 * 1024}B") == 4


def test_format_duration_examples() -> None:
    assert format_duration(3725) == "1h2m5s"
    assert format_duration(86400) == "1d"
    assert format_duration(90061) == "1d1h1m1s"
    assert format_duration(0) == "0s"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10**9))
def test_format_then_parse_round_trips(n: int) -> None:
    assert parse_duration(format_duration(n)) == n


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_parse_duration_returns_positive_or_raises_value_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError:
        return
    assert isinstance(seconds, int)
    assert seconds > 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_parse_memory_returns_positive_or_raises_value_error(text: str) -> None:
    try:
        mib = parse_memory_mib(text)
    except ValueError:
        return
    assert isinstance(mib, int)
    assert mib > 0
