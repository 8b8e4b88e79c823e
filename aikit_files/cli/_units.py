"""Durations and sizes as people type them (``90s``, ``30m``, ``1h``, ``7d``; ``512M``, ``10G``),
and as the command line prints them."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

from aikit_files._limits import human_size

#: Seconds in each unit of a duration; a bare number is seconds.
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: Bytes in each unit of a size: powers of 1024 (``K`` and ``KiB`` alike); a bare number is
#: bytes.
_BYTES = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_NUMBER = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)
#: How the help of a flag that takes a duration or a size says what it takes.
DURATION_HELP = "a duration: 90s, 30m, 1h, 7d (a bare number is seconds)"
SIZE_HELP = "a size: 512M, 10G (K, M, G, T are powers of 1024; a bare number is bytes)"


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``90s``, ``30m``, ``1.5h``, ``7d``, ``600``).

    Raises:
        argparse.ArgumentTypeError: not a duration, or not a positive one.
    """
    match = _NUMBER.fullmatch(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SECONDS:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 90s, 30m, 1h or 7d)")
    seconds = float(match.group(1)) * _SECONDS[unit]
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError(f"must be longer than 0 s, got {text!r}")
    return seconds


def parse_size(text: str) -> int:
    """Bytes in ``text`` (``512M``, ``10G``, ``1.5GiB``, ``4096``), powers of 1024.

    Raises:
        argparse.ArgumentTypeError: not a size, or not a positive whole number of bytes.
    """
    match = _NUMBER.fullmatch(text)
    unit = match.group(2).lower().removesuffix("ib").removesuffix("b") if match else None
    if match is None or unit not in _BYTES:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 512M or 10G)")
    count = float(match.group(1)) * _BYTES[unit]
    if count < 1 or count != int(count):
        raise argparse.ArgumentTypeError(f"must be a whole number of bytes, 1 or more: {text!r}")
    return int(count)


def size_up_to(high: int) -> Callable[[str], int]:
    """An argument type: a size (``parse_size``) of at most ``high`` bytes."""

    def parse(text: str) -> int:
        count = parse_size(text)
        if count > high:
            raise argparse.ArgumentTypeError(
                f"must be at most {human_size(high)}, got {human_size(count)}"
            )
        return count

    return parse


def duration_between(low: int, high: int) -> Callable[[str], int]:
    """An argument type: a duration of whole seconds from ``low`` to ``high``."""

    def parse(text: str) -> int:
        seconds = parse_duration(text)
        if seconds != int(seconds) or not low <= seconds <= high:
            raise argparse.ArgumentTypeError(
                f"must be whole seconds from {duration(low)} to {duration(high)} "
                f"({low} to {high} s), got {text!r}"
            )
        return int(seconds)

    return parse


def duration(seconds: float) -> str:
    """Seconds for people: ``45 s``, ``1 h``, ``30 d``, ``1 h 30 min``."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 and whole != seconds else f"{whole} s"
    parts = []
    for name, length in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if whole >= length:
            parts.append(f"{whole // length} {name}")
            whole %= length
    return " ".join(parts[:2])


def short_size(count: float | None) -> str:
    """Bytes in a narrow column (tables, bars): ``512 B``, ``1.5 KiB``, ``64.0 MiB``."""
    if count is None:
        return "-"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
