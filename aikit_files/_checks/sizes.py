"""Sizes as people read them: ``1.5 GiB (1,610,612,736 bytes)``."""

from __future__ import annotations

_UNITS = ("KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    """``size`` bytes in binary units with the exact count: ``200 MiB (209,715,200 bytes)``."""
    if size < 1024:
        return f"{size:,} bytes"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    shown = f"{value:.1f}".removesuffix(".0")
    return f"{shown} {unit} ({size:,} bytes)"
