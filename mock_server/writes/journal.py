"""`--data-file`: the journal of API writes and control-API mutations, appended as they are served and
replayed at start-up."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import orjson

from .. import errors
from ..errors import ApiError
from ..state import MockState
from . import find_write
from .framework import perform
from .mutations import BadMutation, apply_mutations


class JournalError(Exception):
    """A `--data-file` that cannot be replayed onto this account."""


class JournalWriteError(Exception):
    """A journal line that could not be durably written: the change it records must not be applied."""


class WriteJournal:
    """`--data-file`: every API write and mutation as one JSON line, replayed over the same seeded account.

    A journal rather than a dump of the dataset: it stays small (one line per write, not the whole
    account), and replaying it through the same handlers with each write's recorded moment rebuilds
    the very same records, IDs included. A line is written and fsync'ed before the change it records
    is kept (the caller applies the change in a transaction and rolls it back when `append` fails),
    so a served write is never lost and a lost one was never served. A last line cut off mid-write
    (a crash, a full disk) is reported and dropped at start-up, the writes before it kept. The first
    line names the account it was written against; a file made for another seed, size, account or
    time zone is refused rather than replayed onto the wrong data.
    """

    def __init__(self, path: Path, account: dict[str, Any]):
        self.path = path
        self.account = account

    def replay(self, state: MockState) -> int:
        """Apply the file's writes to `state` (creating the file if missing); returns how many."""
        raw = self.path.read_bytes() if self.path.exists() else b""
        *lines, torn = raw.split(b"\n")
        if torn:
            # written in one piece with its newline, so a line without one is the tail of a crash
            print(
                f"brightpearl-mock: --data-file {self.path}: its last line ({len(torn)} bytes) was cut off "
                f"mid-write; it is dropped and the {max(0, len(lines) - 1)} writes before it are kept",
                file=sys.stderr,
                flush=True,
            )
            with self.path.open("r+b") as file:
                file.truncate(len(raw) - len(torn))
        if not lines:
            self._write(orjson.dumps({"brightpearl-mock-journal": 1, **self.account}) + b"\n")
            return 0
        header = orjson.loads(lines[0])
        written_for = {key: header.get(key) for key in self.account}
        if written_for != self.account:
            raise JournalError(
                f"{self.path} holds writes made on {written_for}, not on {self.account}: "
                "start with the same --seed/--orders/--account/--timezone, or another file"
            )
        for number, line in enumerate(lines[1:], start=2):
            try:
                self._apply(state, orjson.loads(line))
            except orjson.JSONDecodeError as error:
                raise JournalError(
                    f"{self.path} line {number} is not JSON ({error}): the file was changed by hand or is not a journal"
                ) from None
            except (ApiError, BadMutation) as error:
                raise JournalError(f"{self.path} line {number} no longer applies: {error}") from None
        return len(lines) - 1

    @staticmethod
    def _apply(state: MockState, entry: dict) -> None:
        if "mutations" in entry:
            apply_mutations(state, entry["mutations"], entry["now"])
            return
        found = find_write(entry["method"], entry["path"])
        if found is None:
            raise errors.unknown_uri(entry["path"])
        perform(state, found[0], found[1], entry["body"], entry["now"])

    def append_write(self, method: str, path: str, body: Any, now: str) -> None:
        self._write(orjson.dumps({"method": method, "path": path, "body": body, "now": now}) + b"\n")

    def append_mutations(self, changes: Any, now: str) -> None:
        self._write(orjson.dumps({"mutations": changes, "now": now}) + b"\n")

    def _write(self, line: bytes) -> None:
        """Append `line` and fsync it; JournalWriteError (the file left as it was) when that fails."""
        try:
            with self.path.open("ab") as file:
                kept = file.tell()
                try:
                    file.write(line)
                    file.flush()
                    os.fsync(file.fileno())
                except OSError:
                    file.truncate(kept)
                    raise
        except OSError as error:
            raise JournalWriteError(
                f"the change was not applied: {self.path} cannot be written ({error.strerror or error})"
            ) from None
