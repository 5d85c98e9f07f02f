"""In-memory tables of seeded records, kept as ready-to-send JSON.

Each record is stored serialised once (an ID-set GET of 200 orders then only joins bytes) together
with its search rows as tuples in column order. A mutation decodes, changes and re-stores the record.

A write runs in `Dataset.transaction()`: every record it stores or deletes, and every ID it draws,
is put back as it was if the write fails, whether its body is refused halfway or its journal line
cannot be kept, so a failed write changes nothing and takes no ID.

A derived resource (`Resource.derived_from`, availability) is never stored apart: its table is
made again from the tables it derives from whenever one of them has changed since, when it is next
read, so whatever changed them (a write, a mutation, a rolled-back write) it says what they say.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Hashable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import jsonpatch
import orjson

from .errors import ApiError
from .resources import Record, Resource

WITH_NULLS = "nullCustomFields"
_ABSENT = object()


def compact_json(value: Any) -> bytes:
    """JSON bytes that own only their length: orjson's result keeps its whole write buffer (~16 KB)."""
    return memoryview(orjson.dumps(value)).tobytes()


def deep_merge(target: dict, changes: dict) -> None:
    """Deep-merge `changes` into `target`; a None value removes the key."""
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = value


def patched(record: Record, operations: Any) -> Record:
    """A copy of `record` with an RFC 6902 JSON Patch applied; a bad operation is CMNC-044 as recorded."""
    if not isinstance(operations, list):
        raise ApiError(500, "CMNC-044", "A PATCH body must be a JSON Patch array of operations")
    try:
        return jsonpatch.apply_patch(record, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as error:
        raise ApiError(500, "CMNC-044", f"The PATCH operation could not be applied: {error}") from None


class Table:
    def __init__(self, resource: Resource):
        self.resource = resource
        self._bodies: dict[int, bytes] = {}
        # id -> {record key: (JSON without null entries, JSON with them)}
        self._optional: dict[int, dict[str, tuple[bytes, bytes]]] = {}
        self._rows: dict[int, list[tuple]] = {}
        self._parents: dict[int, Any] = {}
        self._flat_rows: list[tuple] | None = None
        # sort order -> search rows in that order, until a record changes
        self._sorted_rows: dict[Hashable, list[tuple]] = {}
        # during a transaction: record id -> what it was before the transaction first touched it
        self._undo: dict[int, tuple] | None = None
        # counts every change, rolled-back ones included: derived tables compare it
        self.version = 0

    def __len__(self) -> int:
        return len(self._bodies)

    def __contains__(self, record_id: object) -> bool:
        # strict: an ID from a request body may be a bool, a string or a list, and none of those is an ID
        return type(record_id) is int and record_id in self._bodies

    def ids(self) -> list[int]:
        return list(self._bodies)

    def put(self, record: Record) -> int:
        resource = self.resource
        record = dict(record)
        record_id = record[resource.id_field]
        self._remember(record_id)
        self.version += 1
        if resource.columns:
            self._flat_rows, self._sorted_rows = None, {}
            explode = resource.search_rows or (lambda whole: (whole,))
            self._rows[record_id] = [resource.search_row(row) for row in explode(record)]
        if resource.parent_field:
            self._parents[record_id] = record.get(resource.parent_field)
        optional = {}
        for key in resource.optional.values():
            if key in record:
                value = record.pop(key)
                compact = {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value
                optional[key] = (compact_json(compact), compact_json(value))
        if optional:
            self._optional[record_id] = optional
        else:
            self._optional.pop(record_id, None)
        if resource.as_map:
            record.pop(resource.id_field)
        self._bodies[record_id] = compact_json(record)
        return record_id

    def put_all(self, records: Iterable[Record]) -> None:
        for record in records:
            self.put(record)

    def record(self, record_id: int) -> Record:
        """The whole record, optional parts included, as a builder made it."""
        record = orjson.loads(self._bodies[record_id])
        if self.resource.as_map:
            record = {self.resource.id_field: record_id, **record}
        for key, (_, with_nulls) in self._optional.get(record_id, {}).items():
            record[key] = orjson.loads(with_nulls)
        return record

    def records(self) -> Iterator[Record]:
        for record_id in self._bodies:
            yield self.record(record_id)

    def delete(self, record_id: int) -> None:
        self._remember(record_id)
        self.version += 1
        del self._bodies[record_id]
        self._flat_rows, self._sorted_rows = None, {}
        for index in (self._optional, self._rows, self._parents):
            index.pop(record_id, None)

    # transactions ------------------------------------------------------------------------------
    def _remember(self, record_id: int) -> None:
        if self._undo is not None and record_id not in self._undo:
            self._undo[record_id] = (
                self._bodies.get(record_id, _ABSENT),
                self._optional.get(record_id, _ABSENT),
                self._rows.get(record_id, _ABSENT),
                self._parents.get(record_id, _ABSENT),
            )

    def begin(self) -> None:
        self._undo = {}

    def commit(self) -> None:
        self._undo = None

    def rollback(self) -> None:
        undo, self._undo = self._undo or {}, None
        self.version += 1
        indexes = (self._bodies, self._optional, self._rows, self._parents)
        reinserted = False
        for record_id, before in undo.items():
            reinserted |= record_id not in self._bodies and before[0] is not _ABSENT
            for index, value in zip(indexes, before):
                if value is _ABSENT:
                    index.pop(record_id, None)
                else:
                    index[record_id] = value
        if reinserted:  # a record deleted and put back goes to its place in ID order again
            self._bodies, self._optional, self._rows, self._parents = (dict(sorted(index.items())) for index in indexes)
        self._flat_rows = None

    def parent_of(self, record_id: int) -> Any:
        return self._parents.get(record_id)

    def render(self, record_id: int, include: frozenset[str] = frozenset()) -> bytes:
        """The record's JSON with the optional parts named in `include` (`includeOptional`)."""
        body = self._bodies[record_id]
        optional = self._optional.get(record_id)
        if not optional or not include:
            return body
        extra = b""
        for name, key in self.resource.optional.items():
            if name in include and key in optional:
                compact, with_nulls = optional[key]
                extra += b',"' + key.encode() + b'":' + (with_nulls if WITH_NULLS in include else compact)
        if not extra:
            return body
        return body[:-1] + (extra[1:] if body == b"{}" else extra) + b"}"

    def search_rows(self) -> list[tuple]:
        """Every search row in ID order; the list is shared between searches until a record changes."""
        if self._flat_rows is None:
            self._flat_rows = [row for rows in self._rows.values() for row in rows]
        return self._flat_rows

    def sorted_search_rows(self, order: Hashable, sort: Callable[[list[tuple]], list[tuple]]) -> list[tuple]:
        """`search_rows()` put in `order` by `sort`, once until a record changes: a client paging a
        search sorted on another column than the ID asks the same order for every page."""
        if order not in self._sorted_rows:
            self._sorted_rows[order] = sort(self.search_rows())
        return self._sorted_rows[order]


class Dataset:
    """Every table of one mock account."""

    def __init__(self, resources: Iterable[Resource], account_tz: ZoneInfo):
        self.tables: dict[str, Table] = {resource.name: Table(resource) for resource in resources}
        self.account_tz = account_tz
        self.account_configuration: Record = {}
        self._last_ids: dict[str, int] = {}
        # derived table name -> the versions of its sources it was made from
        self._derived_at: dict[str, tuple[int, ...]] = {}

    def __getitem__(self, name: str) -> Table:
        table = self.tables[name]
        sources = table.resource.derived_from
        if sources:
            versions = tuple(self.tables[source].version for source in sources)
            if self._derived_at.get(name) != versions:
                table = self.tables[name] = Table(table.resource)
                table.put_all(table.resource.build(self))
                self._derived_at[name] = versions
        return table

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Keep every change made inside, or, if it raises, none of them (a nested one joins the outer)."""
        tables = list(self.tables.values())
        if tables[0]._undo is not None:
            yield
            return
        last_ids = dict(self._last_ids)
        for table in tables:
            table.begin()
        try:
            yield
        except BaseException:
            for table in tables:
                table.rollback()
            self._last_ids = last_ids
            raise
        for table in tables:
            table.commit()

    def next_id(self, sequence: str, highest_in_use: Callable[[], int], taken: Container[int] = ()) -> int:
        """A new ID in `sequence`, never one handed out before (Brightpearl never reuses IDs).

        `highest_in_use` is asked once, at the sequence's first use; IDs in `taken` are skipped, so a
        record the control API's mutations made since is never overwritten.
        """
        new_id = (self._last_ids.get(sequence) or highest_in_use()) + 1
        while new_id in taken:
            new_id += 1
        self._last_ids[sequence] = new_id
        return new_id

    def counts(self) -> dict[str, int]:
        return {name: len(self[name]) for name in self.tables}
