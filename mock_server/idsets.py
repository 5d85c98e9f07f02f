"""Brightpearl ID sets: `8`, `3-7`, `1-50,55,75-82`; `.` separates an unordered list like `,` does."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

_ITEM = re.compile(r"^(\d+)(?:-(\d+))?$")
# A range wider than this is refused before it is expanded, so `1-999999999` cannot exhaust memory.
MAX_EXPANDED_IDS = 1_000_000


class IdSetError(ValueError):
    """The text is not a valid ID set."""


def parse_id_set(text: str) -> list[int]:
    """Return the IDs of `text` in the order given, without duplicates."""
    if not text:
        raise IdSetError("empty ID set")
    ids: dict[int, None] = {}
    for item in re.split(r"[,.]", text):
        match = _ITEM.match(item.strip())
        if not match:
            raise IdSetError(f"'{item}' is not an ID or an ascending ID range")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if low < 1 or high < low:
            raise IdSetError(f"'{item}' is not an ID or an ascending ID range")
        if high - low + len(ids) >= MAX_EXPANDED_IDS:
            raise IdSetError(f"the ID set expands to more than {MAX_EXPANDED_IDS} IDs")
        ids.update(dict.fromkeys(range(low, high + 1)))
    return list(ids)


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
