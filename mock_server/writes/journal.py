"""`--data-file`: the journal of API writes, appended as they are served and replayed at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .. import errors
from ..errors import ApiError
from ..state import MockState
from . import find_write
from .framework import perform


class JournalError(Exception):
    """A `--data-file` that cannot be replayed onto this account."""


class WriteJournal:
    """`--data-file`: every API write as one JSON line, replayed over the same seeded account at start.

    A journal rather than a dump of the dataset: it stays small (one line per write, not the whole
    account), is appended and flushed per write so a killed server loses nothing, and replaying it
    through the same handlers with each write's recorded moment rebuilds the very same records.
    The first line names the account it was written against; a file made for another seed, size,
    account or time zone is refused rather than replayed onto the wrong data.
    """

    def __init__(self, path: Path, account: dict[str, Any]):
        self.path = path
        self.account = account
        self._file: BinaryIO | None = None

    def replay(self, state: MockState) -> int:
        """Apply the file's writes to `state` (creating the file if missing); returns how many."""
        lines = self.path.read_bytes().splitlines() if self.path.exists() else []
        if not lines:
            self.path.write_bytes(orjson.dumps({"brightpearl-mock-journal": 1, **self.account}) + b"\n")
        else:
            header = orjson.loads(lines[0])
            written_for = {key: header.get(key) for key in self.account}
            if written_for != self.account:
                raise JournalError(f"{self.path} holds writes made on {written_for}, not on {self.account}: "
                                   "start with the same --seed/--orders/--account/--timezone, or another file")
        for number, line in enumerate(lines[1:], start=2):
            entry = orjson.loads(line)
            found = find_write(entry["method"], entry["path"])
            try:
                if found is None:
                    raise errors.unknown_uri(entry["path"])
                perform(state, found[0], found[1], entry["body"], entry["now"])
            except ApiError as error:
                raise JournalError(f"{self.path} line {number} ({entry['method']} {entry['path']}) "
                                   f"no longer applies: {error.message}") from None
        self._file = self.path.open("ab")
        return max(0, len(lines) - 1)

    def append(self, method: str, path: str, body: Any, now: str) -> None:
        assert self._file is not None, "replay() opens the journal"
        self._file.write(orjson.dumps({"method": method, "path": path, "body": body, "now": now}) + b"\n")
        self._file.flush()
