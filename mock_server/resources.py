"""The vocabulary of the resource registry: what a search column and a resource are.

A resource is declared once (see `registry.py`); the generic search, ID-set GET and OPTIONS handlers
serve every resource from its declaration, so adding one is a registry entry plus a record builder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

# reportDataType values the search engine understands (brightpearl-api.md §5a).
IDSET = "IDSET"
INTEGER = "INTEGER"
STRING = "STRING"
SEARCH_STRING = "SEARCH_STRING"
STRING_SET = "STRING_SET"
BOOLEAN = "BOOLEAN"
PERIOD = "PERIOD"

Record = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """One column of a `*-search`: its value is read from the search row by `source`.

    `source` is a dotted path into the row (`orderStatus.orderStatusId`) or a function of the row;
    it defaults to the column name.
    """

    name: str
    type: str
    source: str | Callable[[Record], Any] | None = None
    filterable: bool = True
    sortable: bool = True
    reference: str | None = None

    def __post_init__(self) -> None:
        # Search rows are read once per column per record at seed time (millions of reads for a big
        # account), so the path is split here once rather than on every read.
        object.__setattr__(self, "read", _reader(self.source or self.name))

    def read(self, row: Record) -> Any:  # replaced per instance by `__post_init__`
        raise NotImplementedError

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "sortable": self.sortable,
            "filterable": self.filterable,
            "reportDataType": self.type,
            "referenceData": [self.reference] if self.reference else [],
            "isFreeTextSearchable": False,
            "required": False,
        }


def _reader(source: str | Callable[[Record], Any]) -> Callable[[Record], Any]:
    if callable(source):
        return source
    keys = tuple(source.split("."))
    if len(keys) == 1:
        return lambda row: row.get(source)

    def read_path(row: Record) -> Any:
        value: Any = row
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return read_path


@dataclass(frozen=True)
class NotFound:
    """An ID-set GET whose IDs all miss answers 404 CMNC-404 with this message ({ids} is the set asked)."""

    message: str


# An ID-set GET whose IDs all miss answers 200 with an empty list (the order service).
EMPTY = None


@dataclass(frozen=True)
class Resource:
    """A Brightpearl resource as the mock serves it.

    - `search`: path of its `*-search` under the service, with `columns` in the real order and
      `search_rows` to explode one record into several search rows (journal lines, batch lines).
    - `get`: path of its ID-set GET under the service; `{parent}` in it stands for a second ID set
      (or `*`) matched against `parent_field` (goods notes live under `order/{orderIds}/...`).
      `get_all` lets the GET omit the ID set; `max_ids` caps its size; `missing` says how a GET
      whose IDs all miss answers; `as_map` answers `{id: record}` instead of a list, the ID then
      being the key and not a field of the record.
    - `optional`: `includeOptional` names mapped to the top-level record keys they add
      (`customFields` is only sent when asked for).
    - `build`: makes the seeded records from the world built so far (`world.py`); for a resource
      `derived_from` other tables, makes its records from the dataset each time those change.
    """

    name: str
    service: str
    id_field: str
    build: Callable[..., Iterable[Record]]
    search: str | None = None
    columns: tuple[Column, ...] = ()
    search_rows: Callable[[Record], Iterable[Record]] | None = None
    get: str | None = None
    parent_field: str | None = None
    get_all: bool = False
    max_ids: int = 200
    missing: NotFound | None = EMPTY
    as_map: bool = False
    optional: dict[str, str] = field(default_factory=dict)
    derived_from: tuple[str, ...] = ()

    @cached_property
    def search_row(self) -> Callable[[Record], tuple]:
        """Reads one search row's column values, in column order, as the table stores them."""
        sources = [column.source or column.name for column in self.columns]
        if all(isinstance(source, str) and "." not in source for source in sources):
            return lambda row: tuple(map(row.get, sources))
        readers = [column.read for column in self.columns]
        return lambda row: tuple([read(row) for read in readers])

    @property
    def id_column(self) -> Column:
        return self.columns[0]

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)
