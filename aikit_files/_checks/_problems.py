"""The problems a check finds: the first ones kept with their place, all of them counted."""

from __future__ import annotations

from typing import Final

from aikit_files._models import FileProblem

#: How many problems a ``FileCheck`` lists; the rest are only counted.
PROBLEMS_KEPT: Final = 100


class Problems:
    """Collects the problems of one file: the first ``PROBLEMS_KEPT``, and the count of all."""

    def __init__(self) -> None:
        self.kept: list[FileProblem] = []
        self.count = 0

    def add(self, line: int | None, field: str | None, message: str) -> None:
        """Records a problem at ``line`` (1-based; None for the whole file) in ``field``."""
        self.count += 1
        if len(self.kept) < PROBLEMS_KEPT:
            self.kept.append(FileProblem(line, field, message))
