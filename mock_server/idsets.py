"""Brightpearl ID sets: `8`, `3-7`, `1-50,55,75-82`; `.` separates an unordered list like `,` does.

A set is read as ranges first and sized without expanding them, so a URL repeating `1-499999` is
refused (or matched against) in microseconds: nothing a request names is expanded past the limit
its caller sets.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator

_ITEM = re.compile(r"^(\d+)(?:-(\d+))?$")
# A set wider than this is refused before it is expanded, so `1-999999999` cannot exhaust memory.
MAX_EXPANDED_IDS = 1_000_000


class IdSetError(ValueError):
    """The text is not a valid ID set."""


class IdSetTooLarge(IdSetError):
    """The ID set names more IDs than its caller takes; `size` is how many it names."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"the ID set names {size} IDs, more than the {limit} that can be asked for at once")
        self.size = size
        self.limit = limit


class IdRanges:
    """A parsed ID set as the ranges it names, in the order given; membership and size without expanding."""

    def __init__(self, ranges: list[tuple[int, int]]):
        self.ranges = ranges
        merged: list[list[int]] = []
        for low, high in sorted(ranges):
            if merged and low <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        self._lows = [low for low, _ in merged]
        self._highs = [high for _, high in merged]
        self.size = sum(high - low + 1 for low, high in merged)

    def __contains__(self, value: object) -> bool:
        if type(value) is not int:
            return False
        index = bisect.bisect_right(self._lows, value) - 1
        return index >= 0 and value <= self._highs[index]

    def ids(self, limit: int = MAX_EXPANDED_IDS) -> list[int]:
        """The IDs in the order given, without duplicates; IdSetTooLarge past `limit`, before expanding."""
        if self.size > limit:
            raise IdSetTooLarge(self.size, limit)
        ids: dict[int, None] = {}
        for low, high in self.ranges:
            ids.update(dict.fromkeys(range(low, high + 1)))
        return list(ids)


def id_ranges(text: str) -> IdRanges:
    """Read `text` as an ID set; IdSetError when it is not one."""
    if not text:
        raise IdSetError("empty ID set")
    ranges = []
    for item in re.split(r"[,.]", text):
        match = _ITEM.match(item.strip())
        if not match:
            raise IdSetError(f"'{item}' is not an ID or an ascending ID range")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if low < 1 or high < low:
            raise IdSetError(f"'{item}' is not an ID or an ascending ID range")
        ranges.append((low, high))
    return IdRanges(ranges)


def parse_id_set(text: str, limit: int = MAX_EXPANDED_IDS) -> list[int]:
    """Return the IDs of `text` in the order given, without duplicates; IdSetTooLarge past `limit`."""
    return id_ranges(text).ids(limit)


def format_id_set(ids: Iterable[int]) -> str:
    """Compress sorted IDs into ranges: [1, 2, 3, 5] -> `1-3,5`."""
    parts: list[str] = []
    run_start = previous = None
    for current in sorted(ids):
        if previous is not None and current == previous + 1:
            previous = current
            continue
        if run_start is not None:
            parts.append(_format_run(run_start, previous))
        run_start = previous = current
    if run_start is not None:
        parts.append(_format_run(run_start, previous))
    return ",".join(parts)


def _format_run(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"


def chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for offset in range(0, len(ids), size):
        yield ids[offset : offset + size]
