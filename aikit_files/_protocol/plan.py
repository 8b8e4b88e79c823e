"""The plan of a large upload: the byte ranges of its Parts."""

from __future__ import annotations

from typing import Final

import attrs

from aikit_files._exceptions import InvalidArgumentError
from aikit_files._params import check_part_size


@attrs.frozen
class PartSpan:
    """One Part of an upload: ``length`` bytes of the source from ``offset``."""

    number: int
    """The Part's place in the file, from 0: the order of ``part_ids`` on complete."""
    offset: int
    length: int


#: The most Parts one upload is cut into (S3's limit too): a smaller part_size is a mistake.
MAX_PARTS: Final = 10_000


def plan_parts(size: int, part_size: int) -> tuple[PartSpan, ...]:
    """Cuts ``size`` bytes into Parts of ``part_size`` bytes (the last one shorter), in order.

    Raises:
        InvalidArgumentError: a size below 1, a part size outside 1 to the Part limit, or one
            so small that the file would take more than ``MAX_PARTS`` Parts.
    """
    if size < 1:
        raise InvalidArgumentError(f"a large upload holds at least one byte, not {size}")
    check_part_size(part_size)
    count = -(-size // part_size)
    if count > MAX_PARTS:
        raise InvalidArgumentError(
            f"part_size {part_size} would cut {size} bytes into {count} Parts, more than "
            f"{MAX_PARTS}: use Parts of at least {-(-size // MAX_PARTS)} bytes"
        )
    return tuple(
        PartSpan(number, offset, min(part_size, size - offset))
        for number, offset in enumerate(range(0, size, part_size))
    )
