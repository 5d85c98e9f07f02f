"""The generic `*-search`: filters, `columns`, `sort`, paging and the metaData/reference envelope."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from . import resources as types
from .errors import bad_request, unparseable_filter
from .idsets import IdSetError, id_ranges
from .resources import Column
from .store import Table

MAX_PAGE_SIZE = 500
PAGING_PARAMS = {"columns", "sort", "pageSize", "firstResult", "lastResult", "countOnly"}

ReferenceBuilder = Callable[[str, set], dict]
Predicate = Callable[[tuple], bool]

_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
    # A `+` sent unencoded in a query string arrives as a space.
    r"(Z|[+\- ]\d{2}:?\d{2})?$"
)


def parse_filter_time(text: str, account_tz: tzinfo) -> tuple[datetime, bool]:
    """Parse a filter bound; returns the instant and whether only a date was given.

    A bound without an offset is read in the account's time zone, as the web app shows times.
    """
    match = _DATE_TIME.match(text.strip())
    if not match:
        raise ValueError(text)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        int((fraction or "0").ljust(6, "0")),
    )
    if offset is None:
        moment = moment.replace(tzinfo=account_tz)
    else:
        offset = "+00:00" if offset == "Z" else offset.replace(" ", "+")
        moment = datetime.fromisoformat(moment.isoformat() + offset)
    return moment, hour is None


@lru_cache(maxsize=1 << 18)
def _stored_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _period_predicate(column: Column, index: int, value: str, account_tz: tzinfo) -> Predicate:
    start_text, separator, end_text = value.partition("/")
    if not separator:
        end_text = start_text
    try:
        start = end = None
        if start_text:
            start, _ = parse_filter_time(start_text, account_tz)
        if end_text:
            end, date_only = parse_filter_time(end_text, account_tz)
            if date_only:
                end += timedelta(days=1) - timedelta(microseconds=1)
    except ValueError:
        raise unparseable_filter(column.name, value, column.type) from None
    if start is None and end is None:
        raise unparseable_filter(column.name, value, column.type)

    def matches(row: tuple) -> bool:
        stored = row[index]
        if stored is None:
            return False
        moment = _stored_time(stored)
        return (start is None or moment >= start) and (end is None or moment <= end)

    return matches


def _predicate(column: Column, index: int, value: str, account_tz: tzinfo) -> Predicate:
    kind = column.type
    if kind == types.PERIOD:
        return _period_predicate(column, index, value, account_tz)
    if kind == types.IDSET:
        try:
            wanted = id_ranges(value)
        except IdSetError:
            raise unparseable_filter(column.name, value, kind) from None
        return lambda row: row[index] in wanted
    if kind == types.INTEGER:
        try:
            number = int(value)
        except ValueError:
            raise unparseable_filter(column.name, value, kind) from None
        return lambda row: row[index] == number
    if kind == types.BOOLEAN:
        if value.lower() not in ("true", "false"):
            raise unparseable_filter(column.name, value, kind)
        flag = value.lower() == "true"
        return lambda row: bool(row[index]) == flag
    if kind == types.SEARCH_STRING:
        needle = value.lower()
        return lambda row: row[index] is not None and needle in str(row[index]).lower()
    if kind == types.STRING_SET:
        options = frozenset(value.split(","))
        return lambda row: row[index] is not None and str(row[index]) in options
    return lambda row: row[index] is not None and str(row[index]) == value


def _positive_int(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, not '{text}'") from None
    if number < 1:
        raise bad_request(f"{name} must be 1 or more, not {number}")
    return number


def _sort_order(table: Table, text: str | None) -> list[tuple[int, Column, str]]:
    """`sort=col.DESC`, `col|ASC` or `col1,col2.DESC` -> [(column index, column, direction)]."""
    columns = table.resource.columns
    if not text:
        return [(0, columns[0], "ASC")]
    order = []
    for item in text.split(","):
        name, direction = item, "ASC"
        match = re.match(r"^(.*)[.|](ASC|DESC)$", item, re.IGNORECASE)
        if match:
            name, direction = match.group(1), match.group(2).upper()
        column = table.resource.column(name)
        if column is None or not column.sortable:
            raise bad_request(f"Cannot sort by '{name}': it is not a sortable column of this search")
        order.append((columns.index(column), column, direction))
    return order


def _sort_key(index: int, column: Column) -> Callable[[tuple], Any]:
    if column.type == types.PERIOD:
        return lambda row: (0, None) if row[index] is None else (1, _stored_time(row[index]))
    return lambda row: (0, None) if row[index] is None else (1, row[index])


def _sorted(rows: list[tuple], order: list[tuple[int, Column, str]]) -> list[tuple]:
    for index, column, direction in reversed(order):
        rows = sorted(rows, key=_sort_key(index, column), reverse=direction == "DESC")
    return rows


def run_search(table: Table, params: Mapping[str, str], account_tz: tzinfo, reference: ReferenceBuilder) -> dict:
    resource = table.resource
    all_columns = resource.columns

    selected = list(range(len(all_columns)))
    if params.get("columns"):
        selected = []
        for name in params["columns"].split(","):
            column = resource.column(name.strip())
            if column is None:
                raise bad_request(f"Unknown column '{name.strip()}' requested in columns")
            selected.append(all_columns.index(column))

    predicates = []
    for name, value in params.items():
        if name in PAGING_PARAMS:
            continue
        column = resource.column(name)
        if column is None:
            continue  # unknown query parameters are ignored, as by the real service
        if not column.filterable:
            raise bad_request(f"'{name}' is not a filterable column of this search")
        predicates.append(_predicate(column, all_columns.index(column), value, account_tz))

    order = _sort_order(table, params.get("sort"))
    first_result = _positive_int(params, "firstResult", 1)
    default_size = MAX_PAGE_SIZE
    if "lastResult" in params and "pageSize" not in params:
        default_size = max(1, _positive_int(params, "lastResult", MAX_PAGE_SIZE) - first_result + 1)
    page_size = min(_positive_int(params, "pageSize", default_size), MAX_PAGE_SIZE)
    if "pageSize" in params and int(params["pageSize"]) > MAX_PAGE_SIZE:
        raise bad_request(f"pageSize must be {MAX_PAGE_SIZE} or less, not {params['pageSize']}")

    if order == [(0, all_columns[0], "ASC")]:
        rows = table.search_rows()
    else:
        rows = table.sorted_search_rows(
            tuple((index, direction) for index, _, direction in order), lambda unsorted: _sorted(unsorted, order)
        )
    for test in predicates:
        rows = [row for row in rows if test(row)]

    total = len(rows)
    page = [] if params.get("countOnly") == "true" else rows[first_result - 1 : first_result - 1 + page_size]
    results = [[row[index] for index in selected] for row in page]
    meta: dict[str, Any] = {
        "morePagesAvailable": first_result - 1 + len(page) < total and bool(page),
        "resultsAvailable": total,
        "resultsReturned": len(page),
    }
    if page:
        meta["firstResult"] = first_result
        meta["lastResult"] = first_result + len(page) - 1
    meta["columns"] = [all_columns[index].metadata() for index in selected]
    meta["sorting"] = [{"filterable": column.metadata(), "direction": direction} for _, column, direction in order]

    references = {}
    for index in selected:
        column = all_columns[index]
        if column.reference:
            references[column.reference] = reference(column.reference, {row[index] for row in page})
    return {"response": {"results": results, "metaData": meta}, "reference": references}
