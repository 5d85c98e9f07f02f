"""Custom components for what manifest.yaml cannot express on its own.

The same file runs in our package and on Airbyte's declarative runtime, which receives it as text (Connector
Builder, Cloud, PyAirbyte by manifest) and executes it before registering it as a module. Hence imports of the
standard library, airbyte_cdk and its own dependencies only (nothing of `source_brightpearl`), and no
`from __future__ import annotations`: a dataclass with string annotations looks its module up in `sys.modules`
while the class is built, which fails there.
"""

import copy
import functools
import heapq
import ipaddress
import logging
import math
import re
import sys
import threading
import time
import weakref
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import InitVar, dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from typing import (
    Any,
)
from urllib.parse import urljoin, urlsplit

import backoff
import orjson
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.auth.oauth import DeclarativeSingleUseRefreshTokenOauth2Authenticator
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.partition_routers import GroupingPartitionRouter, SubstreamPartitionRouter
from airbyte_cdk.sources.declarative.partition_routers.partition_router import PartitionRouter
from airbyte_cdk.sources.declarative.partition_routers.substream_partition_router import iterate_with_last_flag
from airbyte_cdk.sources.declarative.requesters.error_handlers import DefaultErrorHandler
from airbyte_cdk.sources.declarative.retrievers import SimpleRetriever
from airbyte_cdk.sources.declarative.schema.schema_loader import SchemaLoader
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import (
    ConfigTransformation,
)
from airbyte_cdk.sources.declarative.validators.validation_strategy import ValidationStrategy
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import (
    SUCCESS_RESOLUTION,
    ErrorResolution,
    ResponseAction,
)
from airbyte_cdk.sources.types import Config, Record, StreamSlice, StreamState
from airbyte_cdk.sources.utils.transform import TransformConfig
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.datetime_helpers import AirbyteDateTime, ab_datetime_now
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from urllib3.exceptions import InvalidHeader, LocationParseError
from urllib3.util import Retry, parse_url

LOGGER = logging.getLogger("airbyte")
THROTTLE_PERIOD_HEADER = "brightpearl-next-throttle-period"
THROTTLED_RESPONSE_TEXT = "too many requests"
REQUESTS_REMAINING_HEADER = "brightpearl-requests-remaining"
TOKEN_EXPIRED_TEXT = "authorization token expired"
# Private-app tokens: nothing can renew them, unlike an OAuth access token.
NON_REFRESHABLE_AUTH_TYPES = ("account_token", "staff_token")


def decode_body(response: requests.Response) -> Any:
    """The JSON body of a response, parsed by orjson (several times faster than `response.json()`)
    once, and kept on the response: an ID-set GET's body is read for the IDs it holds, then for its
    records (a second parse was a tenth of a read's CPU time).

    A body cut short (a connection dropped mid-response) is a transient failure, not an empty page:
    the CDK's JsonDecoder would yield `{}` for it and the page's records would be lost silently.
    """
    body = getattr(response, DECODED_BODY, _NOT_DECODED)
    if body is _NOT_DECODED:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as error:
            raise malformed_response(response, f"invalid JSON ({error})") from None
        setattr(response, DECODED_BODY, body)
    return body


DECODED_BODY = "_brightpearl_decoded_body"
_NOT_DECODED = object()


def malformed_response(response: requests.Response, problem: str) -> AirbyteTracedException:
    """The transient failure for a body that is not what Brightpearl answers: read as no records, it
    would let a sync exit 0 without them."""
    return AirbyteTracedException(
        message=(
            "Brightpearl sent an incomplete or malformed response. This is usually temporary: run the sync again."
        ),
        internal_message=f"The {response.status_code} answer to {response.url} is not usable: {problem}",
        failure_type=FailureType.transient_error,
    )


def _excerpt(value: Any) -> str:
    """A short JSON rendering of a value a server sent, for an internal message."""
    text = orjson.dumps(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class BrightpearlResponseExtractor(RecordExtractor):
    """The records in Brightpearl's `{"response": ...}` envelope: one per item of a list, or the
    object itself.

    `DpathExtractor` with `field_path: ["response"]` does the same, but `dpath.get` visits every
    value of the body to find that one key: at 200 orders a GET it was a third of a read's CPU time
    (bench/PROFILE.md).
    """

    parameters: InitVar[Mapping[str, Any]]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        return response_records(response)

    def ids_answered(self, response: requests.Response, id_field: str) -> list[Any]:
        """The IDs of the records an ID-set GET answered (see BrightpearlIdSetRetriever)."""
        return [record.get(id_field) for record in response_records(response)]


def response_records(response: requests.Response) -> list[MutableMapping[str, Any]]:
    """The records in a body's `response`: the items of a list, or a non-empty object.

    Anything else (`{"response": null}`, a string, a list of non-objects, no `response`) is no answer
    Brightpearl gives for records, so it fails as malformed rather than reading as none.
    """
    records = response_field(response)
    if isinstance(records, list) and all(isinstance(record, Mapping) for record in records):
        return records
    if isinstance(records, Mapping):
        return [records] if records else []
    raise malformed_response(response, f"`response` is {_excerpt(records)}, not a list of records")


def response_field(response: requests.Response) -> Any:
    """The `response` of Brightpearl's `{"response": ...}` envelope (None if it is missing); a body
    that is not such an envelope is malformed."""
    body = decode_body(response)
    if not isinstance(body, Mapping):
        raise malformed_response(response, f"the body is {_excerpt(body)}, not a JSON object")
    return body.get("response")


@dataclass
class BrightpearlSearchRowsExtractor(RecordExtractor):
    """Turns `*-search` rows into records keyed by column name.

    Search results are positional arrays whose meaning is given by `metaData.columns[].name`, and
    Brightpearl adds columns over time, so rows must be zipped with the column list of the same
    response. A `DpathExtractor` can only select values, not pair them with a sibling list.
    """

    parameters: InitVar[Mapping[str, Any]]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        body = decode_body(response).get("response") or {}
        column_names = [column["name"] for column in body.get("metaData", {}).get("columns", [])]
        for row in body.get("results", []):
            yield dict(zip(column_names, row))


class BrightpearlCursorValueConverter(CustomFormatConcurrentStreamStateConverter):
    """The converter of a `search_cursor` (a `DatetimeBasedCursor`), reading a cursor value in the
    ISO 8601 shape of its `cursor_datetime_formats` with `datetime.fromisoformat`, and any other
    value as the CDK does.

    The CDK's converter parses every record's cursor value with `strptime`, trying the formats in
    turn, and a search's cursor and its ID-set stream's both observe each order: 9 % of a read's CPU
    (bench/PROFILE.md), for values whose one shape is known. The factory builds the converter itself
    and the manifest cannot name another, so the retrievers put this one on their stream's cursor
    (`install`). A value of that shape reads the same either way (unit_tests/test_cursor_values.py);
    state, records and calls do not change.
    """

    # Each format of `search_cursor`, and the values `strptime` reads with it that `fromisoformat`
    # reads the same (%f takes 1 to 6 digits; %z also takes forms left to the CDK, like +HH:MM:SS).
    ISO_SHAPES = {
        "%Y-%m-%dT%H:%M:%S.%f%z": r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,6}(?:Z|[+-][0-9]{2}:?[0-9]{2})",
        "%Y-%m-%dT%H:%M:%S%z": r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|[+-][0-9]{2}:?[0-9]{2})",
    }

    def __init__(self, converter: CustomFormatConcurrentStreamStateConverter) -> None:
        # The cursor's own converter, setting for setting (formats, granularity, state shape).
        vars(self).update(vars(converter))
        self._iso_shape = re.compile("|".join(self.ISO_SHAPES[each] for each in self._input_datetime_formats))

    @classmethod
    def install(cls, cursor: Any) -> None:
        """Puts the converter on a concurrent cursor whose formats all have an ISO shape (others keep the CDK's)."""
        converter = getattr(cursor, "_connector_state_converter", None)
        if type(converter) is CustomFormatConcurrentStreamStateConverter and all(
            each in cls.ISO_SHAPES for each in converter._input_datetime_formats
        ):
            cursor._connector_state_converter = cls(converter)

    def parse_timestamp(self, timestamp: Any) -> datetime:
        if isinstance(timestamp, str) and self._iso_shape.fullmatch(timestamp):
            try:
                return datetime.fromisoformat(timestamp)
            except ValueError:  # a date that does not exist (02-30): the CDK's error says so
                pass
        return super().parse_timestamp(timestamp)


# Brightpearl's largest page, and the keys of a search's page token (read by the manifest's URL).
SEARCH_PAGE_SIZE = 500
FIRST_RESULT = "first_result"
FILTER_COLUMN = "filter_column"


def schema_to_normalize_by(record_selector: Any, records_schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema a retriever hands its record selector: none when the selector's normalization leaves records
    as they are (`NoTransform`, every stream's here), for which the selector would still copy each record
    (`RecordSelector._normalize_by_schema`): 6 % of the CPU of a read of orders, search and ID sets."""
    normalization = getattr(record_selector, "schema_normalization", None)
    return {} if getattr(normalization, "_config", None) == TransformConfig.NoTransform else records_schema


@dataclass
class _SearchPage:
    """One page of a search: where it was asked, its records with their sort keys, its `metaData`."""

    first_result: int
    records: list[Record]
    keys: list[tuple]
    meta: Mapping[str, Any]

    @property
    def results_available(self) -> int:
        available = self.meta.get("resultsAvailable")
        return available if isinstance(available, int) else 0

    def starts_at_or_before(self, key: tuple) -> bool:
        return bool(self.keys) and self.keys[0] <= key


class _SliceHashedOnce(StreamSlice):
    """A search's slice, hashed once: each row read carries it, and the stream's cursor looks each
    row's slice up in a dict (`ConcurrentCursor.observe`), where `StreamSlice` hashes a JSON dump of
    itself every time (`SliceHasher`, 2 % of a read, bench/PROFILE.md). It equals and hashes like the
    slice it copies, which the cursor is handed when the partition closes."""

    def __init__(self, stream_slice: StreamSlice) -> None:
        super().__init__(
            partition=stream_slice.partition,
            cursor_slice=stream_slice.cursor_slice,
            extra_fields=stream_slice.extra_fields,
        )
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


@dataclass
class BrightpearlSearchRetriever(SimpleRetriever):
    """Pages a `*-search` so that records created or deleted while it is read never hide another,
    and stops with an error, after a bounded number of calls, when the pages stop making sense.

    Pages are a live offset window (`firstResult`): a record deleted from pages already read moves
    every later row up one place, so asking `lastResult + 1` next skips a row. So the search is
    sorted on its key (the ID column, or the stream's primary key for rows read as records: unique,
    and rising with creation, so new records land after the rows read), and each page after the
    first is asked from the last row read, one row of overlap (1 in 500). A page that starts at that
    row, or before it (rows added earlier only repeat, and are dropped), skipped nothing; one that
    starts after it means rows before it were removed, and positions between the two pages are asked
    until a page starts at or before that row again: one call more per such event, never a position
    asked before (the search's cached answer would be the old one). A page whose `lastResult` does
    not advance, or that is not full and claims more pages than `resultsAvailable` leaves, ends the read.

    `filter_columns` (by default the stream's `cursor_field`) are the PERIOD columns an incremental
    search is filtered on from the cursor (the manifest's URL puts the token's `filter_column` in),
    one pass each, their rows unioned; with no cursor the passes are one search, read once.

    A paginator sees a page only after its records have gone out, and can neither drop the overlap
    row nor ask a page again, nor compare a page with the one before.
    """

    filter_columns: list[str] = dataclass_field(default_factory=list)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        # The stream's cursor (its stream slicer, when incremental) observes every row read.
        BrightpearlCursorValueConverter.install(self.stream_slicer)
        self._filter_columns = self.filter_columns or [parameters.get("cursor_field")]
        key = parameters.get("id_column") or self.primary_key
        self._key_columns = [key] if isinstance(key, str) else list(key or [])
        if not self._key_columns:
            raise ValueError(f"Search {self.name} needs an id_column or a primary key to sort on.")
        self._sort = ",".join(f"{column}.ASC" for column in self._key_columns)

    def read_records(self, records_schema: Mapping[str, Any], stream_slice: StreamSlice | None = None) -> Iterable[Any]:
        yield from super().read_records(
            schema_to_normalize_by(self.record_selector, records_schema),
            stream_slice and _SliceHashedOnce(stream_slice),
        )

    def _request_params(
        self,
        stream_slice: StreamSlice | None = None,
        next_page_token: Mapping[str, Any] | None = None,
        page_size_override: int | None = None,
    ) -> Mapping[str, Any]:
        params = super()._request_params(stream_slice, next_page_token, page_size_override)
        first_result = next_page_token[FIRST_RESULT] if next_page_token else 1
        return {**params, "pageSize": SEARCH_PAGE_SIZE, "sort": self._sort, "firstResult": first_result}

    def _read_pages(
        self,
        records_generator_fn: Callable[[requests.Response | None], Iterable[Record]],
        stream_slice: StreamSlice,
    ) -> Iterable[Record]:
        searched = set()
        for column in self._filter_columns:
            url = self.requester.get_url(stream_slice=stream_slice, next_page_token=_page_token(1, column))
            if url not in searched:
                searched.add(url)
                yield from self._read_pass(records_generator_fn, stream_slice, column)

    def _read_pass(
        self,
        records_generator_fn: Callable[[requests.Response | None], Iterable[Record]],
        stream_slice: StreamSlice,
        filter_column: str | None,
    ) -> Iterable[Record]:
        asked: set = set()

        def fetch(first_result: int) -> _SearchPage:
            asked.add(first_result)
            response = self._fetch_next_page(stream_slice, _page_token(first_result, filter_column))
            meta = self._metadata(response, first_result)
            records = list(records_generator_fn(response))
            return _SearchPage(first_result, records, self._sorted_keys(records, first_result), meta)

        page, previous, last_key = fetch(1), None, None
        while True:
            if previous is not None and not page.starts_at_or_before(last_key):
                page = self._realigned(fetch, asked, previous, page, last_key)
            for record, key in zip(page.records, page.keys):
                if last_key is None or key > last_key:
                    last_key = key
                    yield record
            if page.meta.get("morePagesAvailable") is not True:
                return
            previous, page = page, fetch(self._next_first_result(page, max(asked)))

    def _realigned(
        self,
        fetch: Callable[[int], _SearchPage],
        asked: set,
        previous: _SearchPage,
        page: _SearchPage,
        last_key: tuple,
    ) -> _SearchPage:
        """A page asked between `previous` (which held the last row read) and `page` (which starts
        after it) that starts at or before that row: back by as many rows as the search lost, then
        twice as far each time, down to the row after `previous`'s first."""
        LOGGER.info(
            f"{self.name}: the page from firstResult {page.first_result} starts after the last row read: "
            "records were deleted meanwhile; reading the rows that moved up from an earlier position."
        )
        lowest = previous.first_result + 1
        distance = max(1, previous.results_available - page.results_available)
        while True:
            first_result = max(lowest, page.first_result - distance)
            while first_result in asked and first_result > lowest:
                first_result -= 1
            if first_result in asked:
                raise self._paging_error(
                    "lost more rows ahead of the page being read than one page holds while it was read "
                    "(records deleted meanwhile)",
                    page,
                )
            candidate = fetch(first_result)
            if candidate.starts_at_or_before(last_key):
                return candidate
            distance *= 2

    def _next_first_result(self, page: _SearchPage, highest_asked: int) -> int:
        last_result = page.meta.get("lastResult")
        if not isinstance(last_result, int) or last_result <= highest_asked:
            raise self._paging_error(
                f"says more pages follow but its lastResult ({last_result}) does not advance", page
            )
        # A full page past `resultsAvailable` is read on: supplier-payment-search is known to report
        # 500 whatever it holds, while its later pages do answer (the public record of a peer).
        if last_result >= page.results_available and page.meta.get("resultsReturned") != SEARCH_PAGE_SIZE:
            raise self._paging_error(
                f"says more pages follow past lastResult {last_result}, but resultsAvailable is "
                f"{page.meta.get('resultsAvailable')}",
                page,
            )
        return last_result

    def _metadata(self, response: requests.Response | None, first_result: int) -> Mapping[str, Any]:
        body = decode_body(response) if response is not None else None
        answer = body.get("response") if isinstance(body, Mapping) else None
        meta = answer.get("metaData") if isinstance(answer, Mapping) else None
        if not isinstance(meta, Mapping) or not isinstance(answer.get("results"), list):
            raise self._paging_error(
                "answered something that is not a search page (no results and metaData)",
                _SearchPage(first_result, [], [], {}),
            )
        return meta

    def _sorted_keys(self, records: list[Record], first_result: int) -> list[tuple]:
        keys = [tuple(record.get(column) for column in self._key_columns) for record in records]
        kinds = {type(value) for key in keys for value in key}
        if len(kinds) > 1:  # a row without its key, or with a path where its ID should be
            odd = next(key for key in keys if {type(value) for value in key} != {int})
            raise self._paging_error(
                f"answered a row whose {', '.join(self._key_columns)} is {_excerpt(odd[0] if len(odd) == 1 else odd)}, "
                "unlike its other rows",
                _SearchPage(first_result, [], [], {}),
            )
        if all(key <= following for key, following in zip(keys, keys[1:])):
            return keys
        raise self._paging_error(
            f"did not sort its rows on {', '.join(self._key_columns)} as asked (or sent rows without it)",
            _SearchPage(first_result, [], [], {}),
            FailureType.system_error,
        )

    def _paging_error(
        self, problem: str, page: _SearchPage, failure_type: FailureType = FailureType.transient_error
    ) -> AirbyteTracedException:
        search = self._parameters.get("endpoint", self.name)
        meta = {key: page.meta.get(key) for key in ("morePagesAvailable", "resultsAvailable", "lastResult")}
        return AirbyteTracedException(
            message=(
                f"Brightpearl's {search} {problem}. The read of {self.name} stopped there so that no record "
                "is skipped; its state did not move past the records read, so the next sync resumes."
            ),
            internal_message=f"{search} page asked from firstResult {page.first_result}: {meta}",
            failure_type=failure_type,
        )


def _page_token(first_result: int, filter_column: str | None) -> Mapping[str, Any]:
    return {FIRST_RESULT: first_result, FILTER_COLUMN: filter_column}


@dataclass
class BrightpearlFieldFallback(RecordTransformation):
    """Gives an empty `field` the value of `fallback_field` (a never-updated row's `updatedOn` cell
    takes its `createdOn`: the later of its two dates, since an update comes after the creation).

    `AddFields` with `{{ record['updatedOn'] or record['createdOn'] }}` evaluates its template for
    every row: 70 us a search row, seconds of a sync's CPU at 100k orders.
    """

    parameters: InitVar[Mapping[str, Any]]
    field: str = ""
    fallback_field: str = ""

    def transform(
        self,
        record: MutableMapping[str, Any],
        config: Config | None = None,
        stream_state: StreamState | None = None,
        stream_slice: StreamSlice | None = None,
    ) -> None:
        if record.get(self.field) is None:
            record[self.field] = record.get(self.fallback_field)


@dataclass
class BrightpearlKeyedMapToList(RecordTransformation):
    """Replaces a map keyed by ID (`{"20871": {...}}`) with a list of its values, each carrying
    its key as an integer field.

    Brightpearl nests child objects as maps keyed by ID (`orderRows`, availability per warehouse);
    `AddFields` can only set values at fixed paths and cannot iterate over a map's keys. `key_fields`
    names one key per level of nesting (`breakDownByLocation` is warehouse -> location -> figures),
    and a leaf that is a list (goods-out `orderRows`: row -> [lines]) gives one item per line.
    """

    parameters: InitVar[Mapping[str, Any]]
    field: str = ""
    key_fields: list[str] = dataclass_field(default_factory=list)

    def transform(
        self,
        record: MutableMapping[str, Any],
        config: Config | None = None,
        stream_state: StreamState | None = None,
        stream_slice: StreamSlice | None = None,
    ) -> None:
        keyed_map = record.get(self.field)
        if isinstance(keyed_map, Mapping):
            record[self.field] = flatten_keyed_map(keyed_map, self.key_fields)


def flatten_keyed_map(
    keyed_map: Mapping[str, Any], key_fields: list[str], keys: Mapping[str, int] | None = None
) -> list[MutableMapping[str, Any]]:
    """The leaves of a map nested `len(key_fields)` levels deep, each given its keys as integers. The leaves
    are the parsed body's own objects, updated rather than copied: an order's rows are read once per record."""
    key_field, deeper_key_fields = key_fields[0], key_fields[1:]
    leaves: list[MutableMapping[str, Any]] = []
    for key, value in keyed_map.items():
        if deeper_key_fields:
            leaves += flatten_keyed_map(value, deeper_key_fields, {**(keys or {}), key_field: int(key)})
            continue
        for leaf in value if isinstance(value, list) else (value,):
            if keys:
                leaf.update(keys)
            leaf[key_field] = int(key)
            leaves.append(leaf)
    return leaves


@dataclass
class BrightpearlKeyedMapExtractor(RecordExtractor):
    """Records from a response whose `field_path` is a map keyed by ID (goods notes, availability,
    tags: `{"response": {"1140": {...}}}`), each carrying its key as an integer field.

    A `DpathExtractor` would return the map as one record, or its values without their keys.
    """

    parameters: InitVar[Mapping[str, Any]]
    field_path: list[str] = dataclass_field(default_factory=list)
    key_fields: list[str] = dataclass_field(default_factory=list)

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        try:
            return flatten_keyed_map(self._keyed_map(response), self.key_fields)
        except (AttributeError, TypeError, ValueError):  # a key that is no ID, a record that is no object
            raise malformed_response(response, f"`{'.'.join(self.field_path)}` is not a map of records by ID") from None

    def ids_answered(self, response: requests.Response, id_field: str) -> list[Any]:
        """The IDs of the records an ID-set GET answered: the map's keys (see BrightpearlIdSetRetriever)."""
        keys = list(self._keyed_map(response))
        if not all(key.isascii() and key.isdigit() for key in keys):
            raise malformed_response(response, f"the map keys {_excerpt(keys)} are not all IDs")
        return [int(key) for key in keys]

    def _keyed_map(self, response: requests.Response) -> Mapping[str, Any]:
        keyed_map: Any = decode_body(response)
        for key in self.field_path:
            keyed_map = keyed_map.get(key) if isinstance(keyed_map, Mapping) else None
        if isinstance(keyed_map, Mapping):
            return keyed_map
        # A resource with no records answers `[]` rather than an empty map.
        if keyed_map == []:
            return {}
        raise malformed_response(response, f"`{'.'.join(self.field_path)}` is {_excerpt(keyed_map)}, not a map by ID")


@dataclass
class BrightpearlChildRowsExtractor(RecordExtractor):
    """The rows nested in each record of an ID-set GET (an order's `orderRows` map keyed by row
    ID), each carrying its key and the named fields of its parent (`orderId`, `updatedOn`).

    Read this way a child stream pages like its parent, one slice per ID set of 200, and the GETs
    the parent already made are answered from the request cache. A `SubstreamPartitionRouter` over
    the parent makes one slice per parent record instead, each with its own cursor, slice hash and
    three `dpath` walks of the whole parent: 90 % of a read of orders and order rows (bench/PROFILE.md).
    """

    parameters: InitVar[Mapping[str, Any]]
    rows_field: str = ""
    key_fields: list[str] = dataclass_field(default_factory=list)
    # child field -> parent field
    parent_fields: Mapping[str, str] = dataclass_field(default_factory=dict)

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[str, Any]]:
        for parent in response_records(response):
            rows = parent.get(self.rows_field)
            if not isinstance(rows, Mapping):
                continue
            inherited = {child: parent.get(field) for child, field in self.parent_fields.items()}
            for row in flatten_keyed_map(rows, self.key_fields):
                row.update(inherited)
                yield row

    def ids_answered(self, response: requests.Response, id_field: str) -> list[Any]:
        """The IDs of the parents an ID-set GET answered, rows or not, by the parent field a row's
        `id_field` comes from (see BrightpearlIdSetRetriever)."""
        parent_id_field = self.parent_fields.get(id_field, id_field)
        return [parent.get(parent_id_field) for parent in response_records(response)]


# The longest wait the connector takes when the server asks for one: Brightpearl's window is a rolling
# minute, so anything much longer is a broken or hostile header, not a reason to stall a sync for a day.
MAX_SERVER_WAIT_SECONDS = 600.0


# urllib3's reading of Retry-After (seconds or an HTTP date), without its own 6-hour cap, so the
# warning of `capped_server_wait` quotes what was asked.
RETRY_AFTER_PARSER = Retry(retry_after_max=sys.maxsize)


def capped_server_wait(seconds: float, asked_by: str) -> float:
    """`seconds`, or MAX_SERVER_WAIT_SECONDS with a warning quoting what `asked_by` asked for."""
    if seconds <= MAX_SERVER_WAIT_SECONDS:
        return seconds
    LOGGER.warning(
        f"Brightpearl's {asked_by} header asks for a wait of {seconds:.0f} s; waiting {MAX_SERVER_WAIT_SECONDS:.0f} s "
        "instead, the most this connector waits."
    )
    return MAX_SERVER_WAIT_SECONDS


def header_number(response: Any, name: str) -> float | None:
    """A header's finite numeric value, or None when it is missing or not a number."""
    try:
        value = float((getattr(response, "headers", None) or {})[name])
    except (KeyError, ValueError):
        return None
    return value if math.isfinite(value) else None


@dataclass
class BrightpearlThrottleBackoff(BackoffStrategy):
    """Waits as long as the server asks, at most MAX_SERVER_WAIT_SECONDS: until Brightpearl's
    rate-limit window resets when a request was throttled, or for a `Retry-After`.

    Brightpearl gives the wait in the `brightpearl-next-throttle-period` header in *milliseconds*,
    while `WaitTimeFromHeader` reads seconds; and since every response carries that header, it
    must be used only for throttled responses (503 "too many requests" or 429), not for outages.
    `WaitTimeFromHeader` also fails the stream on a `Retry-After` at or above its cap instead of
    waiting that long. Returns None for anything else, so the exponential backoff applies.
    """

    parameters: InitVar[Mapping[str, Any]]
    config: Config | None = None

    def backoff_time(
        self,
        response_or_exception: requests.Response | requests.RequestException | None,
        attempt_count: int,
    ) -> float | None:
        if not isinstance(response_or_exception, requests.Response):
            return None
        response = response_or_exception
        milliseconds = header_number(response, THROTTLE_PERIOD_HEADER)
        if milliseconds is not None and _is_throttled(response):
            # A zero or negative period still needs a short pause before the window has really moved.
            return capped_server_wait(max(milliseconds / 1000, 1.0), THROTTLE_PERIOD_HEADER)
        retry_after = response.headers.get("Retry-After")
        if not retry_after:
            return None
        try:
            seconds = RETRY_AFTER_PARSER.parse_retry_after(retry_after)
        except InvalidHeader:
            return None
        return capped_server_wait(seconds, "Retry-After") or None


def _is_throttled(response: requests.Response) -> bool:
    if response.status_code == 429:
        return True
    return response.status_code == 503 and THROTTLED_RESPONSE_TEXT in response.text.lower()


# The credentials the connector sends: as HTTP headers (tokens, app and developer references) or in
# the OAuth token request's form (client secret, refresh token).
CREDENTIAL_FIELDS = (
    "account_token",
    "staff_token",
    "app_ref",
    "dev_ref",
    "client_id",
    "client_secret",
    "access_token",
    "refresh_token",
)
# What RFC 9110 allows in a header value: visible ASCII, space, tab and obs-text (0x80-0xFF). requests
# refuses only line breaks (quoting the value in its error) and http.client what is not latin-1.
HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


@dataclass
class BrightpearlCredentialsTrim(ConfigTransformation):
    """Strips the spaces and line breaks around each credential (`CREDENTIAL_FIELDS`) in the config:
    a token pasted with the newline of a terminal or a password manager would otherwise fail every
    request in the HTTP client, with a traceback quoting the token.

    `ConfigAddFields` with `| trim` would need one conditional transformation per field and auth type
    (or it adds the fields of every auth type to every config), and its interpolation turns a token
    of digits into a number. The OAuth tokens are read from the config itself, so trimming them in
    the authenticator's interpolation is not possible.
    """

    def transform(self, config: MutableMapping[str, Any]) -> None:
        credentials = config.get("credentials")
        if not isinstance(credentials, MutableMapping):
            return
        for name in CREDENTIAL_FIELDS:
            if isinstance(credentials.get(name), str):
                credentials[name] = credentials[name].strip()


@dataclass
class BrightpearlCredentialsValidation(ValidationStrategy):
    """Rejects a credential that, once trimmed, still cannot be sent in an HTTP header (a line break
    inside, a control character, a character outside latin-1), naming the field and never the value.

    A JSON-schema `pattern` in the spec would say the same, but the CDK's own spec check (the one
    Airbyte's declarative runtime runs) quotes the value that breaks it: the token.
    """

    def validate(self, value: Any) -> None:
        if not isinstance(value, Mapping):
            return
        for name in CREDENTIAL_FIELDS:
            credential = value.get(name)
            if isinstance(credential, str) and not HEADER_VALUE.fullmatch(credential):
                raise config_error(
                    f"Config field 'credentials.{name}' holds a line break, a control character or a character "
                    "outside latin-1, which cannot be sent to Brightpearl. Copy the value again, on one line."
                )


@dataclass
class BrightpearlApiDomainValidation(ValidationStrategy):
    """Rejects an `api_domain` (or `oauth_host`) that is not a bare host or an http(s) base URL as
    the HTTP client reads it, that could send requests to a host other than the one it seems to
    name, or that uses plain http to anything but a loopback host (credentials would travel
    unencrypted): see `base_url_problem`. The value is quoted without its password, if it has one.

    A JSON-schema `pattern` can approximate this but not say which rule was broken.
    """

    # The config field it checks, for the message (the manifest names the others it is used for).
    field: str = "api_domain"

    def validate(self, value: Any) -> None:
        if value in (None, ""):
            return
        text = str(value).strip()
        problem = base_url_problem(text)
        if problem:
            raise config_error(f"{self.field} '{without_password(text)}' {problem}")


# The hosts a config without `api_domain` (and `datacenter`) or `credentials.oauth_host` is sent to.
DEFAULT_DATACENTER = "euw1.brightpearlconnect.com"
DEFAULT_OAUTH_HOST = "oauth.brightpearl.com"


def base_url(host: str) -> str:
    """The base URL a host setting (`api_domain`, `oauth_host`) stands for: `https://` unless it names
    its scheme, without a trailing slash. The connector's (`BrightpearlBaseUrls`) and the oauth
    command's rule."""
    host = host.strip()
    return (host if "://" in host else f"https://{host}").rstrip("/")


@dataclass
class BrightpearlBaseUrls(ConfigTransformation):
    """Adds to the config the base URLs every request starts with: `base_url`, the API's (from
    `api_domain`, `credentials.api_domain` or `datacenter`), and `oauth_base_url`, the token
    endpoint's (from `credentials.oauth_host`), each by `base_url`'s rule.

    `ConfigAddFields` would write that rule in Jinja once per URL, copies of the one the `oauth`
    command runs here (a template cannot call Python). It runs before the config is checked against
    the spec, so `credentials` may not be an object, nor a host a string.
    """

    def transform(self, config: MutableMapping[str, Any]) -> None:
        credentials = config.get("credentials") if isinstance(config.get("credentials"), Mapping) else {}
        api_host = (
            config.get("api_domain") or credentials.get("api_domain") or config.get("datacenter") or DEFAULT_DATACENTER
        )
        config["base_url"] = base_url(str(api_host))
        config["oauth_base_url"] = base_url(str(credentials.get("oauth_host") or DEFAULT_OAUTH_HOST))


def base_url_problem(text: str) -> str | None:
    """What makes `text` unfit to start request URLs, or None: it must be a host or an http(s) URL
    with no path, read as requests reads it (urllib3's `parse_url`), which Python's `urlsplit` (and
    so any other parser) must read the same way. `http://attacker.example.com\\@127.0.0.1` is
    loopback to `urlsplit`, but requests sends it to attacker.example.com."""
    if "\\" in text:
        return (
            "holds a backslash: the HTTP client would send requests to the host before it, not the one "
            "after it. Remove it."
        )
    if "@" in text:
        return (
            "holds a user name or password ('user:password@'): credentials are never put in the address, "
            "and what comes before the '@' could be taken for the host. Remove it."
        )
    not_a_base_url = (
        "is not a host (like use1.brightpearlconnect.com) or a base URL (like "
        "https://proxy.example.com), without a path, query or fragment."
    )
    url = text if "://" in text else f"https://{text}"
    try:
        parts = parse_url(url)
        other_reading = urlsplit(url).hostname
    except (LocationParseError, ValueError):
        return not_a_base_url
    if (
        parts.scheme not in ("http", "https")
        or not parts.host
        or parts.path not in (None, "", "/")
        or parts.query is not None
        or parts.fragment is not None
    ):
        return not_a_base_url
    host = parts.host.strip("[]")
    if not url.isascii() or host != other_reading:
        return (
            "does not name its host plainly (URL parsers read it differently); write the host in ASCII, "
            "without %-escapes (an international domain in its xn-- form)."
        )
    if parts.scheme == "http" and not _is_loopback(host):
        return (
            "uses plain http:// to a host that is not loopback; use https://. "
            "Plain http:// is only allowed for 127.0.0.0/8, localhost and ::1."
        )
    return None


def without_password(text: str) -> str:
    """`text` with whatever comes before its last '@' (a user name and password) masked."""
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    _, at, host = rest.rpartition("@")
    return f"{scheme}{separator}***@{host}" if at else text


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


@dataclass
class BrightpearlStartDateValidation(ValidationStrategy):
    """Rejects a `start_date` that matches the spec's pattern but is not a real moment
    (e.g. `2024-02-30T00:00:00Z`) or not a plausible one (year 0001 or 9999: nothing to read, or a
    typo), which a JSON-schema pattern cannot detect."""

    # Brightpearl started in 2007, so no account holds records before this.
    EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

    def validate(self, value: Any) -> None:
        if value in (None, ""):
            return
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise config_error(
                f"start_date '{value}' is not a valid date-time; use the form 2024-01-31T00:00:00Z."
            ) from None
        if moment.tzinfo is None:  # the spec reads a start_date without an offset as UTC
            moment = moment.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        if not self.EARLIEST <= moment <= now:
            raise config_error(
                f"start_date '{value}' is outside the accepted range, from {self.EARLIEST:%Y-%m-%dT%H:%M:%SZ} "
                f"to now ({now:%Y-%m-%dT%H:%M:%SZ}); leave it empty to replicate everything."
            )


def config_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)


# Brightpearl's token endpoint answers within a second; these bound one that accepts the connection
# and never answers, or trickles its answer (the CDK's refresh would wait forever).
TOKEN_REQUEST_TIMEOUT_SECONDS = (10, 10)  # (to connect, between two bytes of the answer)
TOKEN_ANSWER_SECONDS = 30  # for the whole answer
TOKEN_ANSWER_MAX_BYTES = 64 * 1024  # a real answer is under 500 bytes
TOKEN_REQUEST_ATTEMPTS = 3
# Brightpearl's access tokens live 7 days. A lifetime outside (0, 31 days] is a broken answer; the
# token is then taken to last an hour, as the CDK assumes when an answer gives none.
MAX_TOKEN_LIFETIME = timedelta(days=31)
DEFAULT_TOKEN_LIFETIME = timedelta(hours=1)


def post_token_request(url: str, form: Mapping[str, Any]) -> tuple[int, Any]:
    """POSTs `form` to an OAuth token endpoint: the answer's status and JSON body (None if the body
    is not JSON). The request has timeouts, its answer is read within `TOKEN_ANSWER_SECONDS` and up
    to `TOKEN_ANSWER_MAX_BYTES`, and a redirect is never followed: it would take the client secret
    and the refresh token (or the authorization code) to wherever it points.

    Raises a transient AirbyteTracedException when the endpoint cannot be reached or its answer does
    not arrive in full, and a config error naming the target host when it redirects.
    """
    try:
        with requests.post(
            url, data=form, timeout=TOKEN_REQUEST_TIMEOUT_SECONDS, allow_redirects=False, stream=True
        ) as response:
            body = _bounded_token_answer(response, url)
    except requests.RequestException as error:
        raise _token_endpoint_trouble(url, f"could not be reached ({type(error).__name__})") from None
    status = response.status_code
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("Location", "")).hostname
        raise config_error(
            f"The OAuth token endpoint {url} answered HTTP {status}, a redirect to "
            f"{repr(target[:100]) if target else 'another path'}, which is not followed: it would take the client "
            "secret and refresh token there. Check the OAuth server setting (credentials.oauth_host)."
        )
    try:
        return status, orjson.loads(body)
    except orjson.JSONDecodeError:
        return status, None


def _bounded_token_answer(response: requests.Response, url: str) -> bytes:
    deadline = time.monotonic() + TOKEN_ANSWER_SECONDS
    body = bytearray()
    for chunk in response.iter_content(chunk_size=4096):
        body += chunk
        if len(body) > TOKEN_ANSWER_MAX_BYTES:
            raise _token_endpoint_trouble(url, f"sent an answer larger than {TOKEN_ANSWER_MAX_BYTES // 1024} KiB")
        if time.monotonic() > deadline:
            raise _token_endpoint_trouble(url, f"did not send its answer within {TOKEN_ANSWER_SECONDS} s")
    return bytes(body)


def _token_endpoint_trouble(url: str, what_happened: str) -> AirbyteTracedException:
    message = f"The OAuth token endpoint {url} {what_happened}. This is usually temporary: try again."
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.transient_error)


@dataclass(frozen=True)
class TokenAnswer:
    """What may be saved from a token endpoint's 200 answer, each field checked."""

    access_token: str
    refresh_token: str | None  # None: absent or unusable, so the stored one stays
    lifetime: timedelta | None  # None: absent or implausible
    api_domain: str | None  # as given; the `oauth` command checks it before saving it

    @classmethod
    def from_body(cls, body: Any, url: str) -> "TokenAnswer":
        """Raises a transient error when `body` holds no usable access token: nothing is saved then."""
        fields = body if isinstance(body, Mapping) else {}
        access_token = _usable_token(fields.get("access_token"))
        if access_token is None:
            raise _token_endpoint_trouble(url, "answered without an access token, so nothing was saved")
        refresh_token = _usable_token(fields.get("refresh_token"))
        add_to_secrets(access_token)
        if refresh_token:
            add_to_secrets(refresh_token)
        api_domain = fields.get("api_domain")
        return cls(
            access_token,
            refresh_token,
            _token_lifetime(fields.get("expires_in")),
            api_domain.strip() if isinstance(api_domain, str) and api_domain.strip() else None,
        )


def _usable_token(value: Any) -> str | None:
    token = value.strip() if isinstance(value, str) else ""
    return token if token and HEADER_VALUE.fullmatch(token) else None


def _token_lifetime(expires_in: Any) -> timedelta | None:
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float, str)):
        return None
    try:
        seconds = float(expires_in)
    except ValueError:
        return None
    # Also false for NaN and infinity.
    return timedelta(seconds=seconds) if 0 < seconds <= MAX_TOKEN_LIFETIME.total_seconds() else None


@dataclass(eq=False, repr=False)
class BrightpearlOAuthAuthenticator(DeclarativeSingleUseRefreshTokenOauth2Authenticator):
    """The CDK's `OAuthAuthenticator` with a `refresh_token_updater` (the client ID and secret, the
    tokens and their expiry read from `credentials`, refreshed ones written back there and sent out
    as a CONTROL message), with a token request and answer that can be trusted:

    - the POST goes through `post_token_request` (timeouts, a bounded answer, no redirect followed),
      at most `TOKEN_REQUEST_ATTEMPTS` times: the CDK's has no timeout, follows redirects with the
      client secret and refresh token, and retries for five minutes;
    - nothing is saved from an answer without a usable access token (the CDK saves `null`, and
      every later run is refused); the refresh token is replaced only by a non-empty one (the CDK
      saves an empty one); an absent or implausible `expires_in` counts as an hour (the CDK crashes
      on `"soon"`, or saves an expiry already past).

    The manifest's `OAuthAuthenticator` has no setting for any of this.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    token_refresh_endpoint: str = ""
    refresh_token_error_status_codes: list[int] = dataclass_field(default_factory=list)
    refresh_token_error_key: str = ""
    refresh_token_error_values: list[str] = dataclass_field(default_factory=list)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__init__(
            self.config,
            InterpolatedString.create(self.token_refresh_endpoint, parameters=parameters or {}).eval(self.config),
            refresh_token_error_status_codes=tuple(self.refresh_token_error_status_codes),
            refresh_token_error_key=self.refresh_token_error_key,
            refresh_token_error_values=tuple(self.refresh_token_error_values),
        )

    def get_token_expiry_date(self) -> AirbyteDateTime:
        """The stored expiry; one that is not a date-time (a hand-edited config) counts as passed, so
        the token is refreshed and a good expiry saved, where the CDK crashes."""
        try:
            return super().get_token_expiry_date()
        except ValueError:
            return ab_datetime_now() - timedelta(days=1)

    def refresh_access_token(self) -> tuple[str, AirbyteDateTime, str | None]:
        answer = TokenAnswer.from_body(self._make_handled_request(), self.get_token_refresh_endpoint())
        if answer.lifetime is None:
            LOGGER.warning(
                "The OAuth token answer gave no plausible expires_in: the new access token is taken "
                f"to last {DEFAULT_TOKEN_LIFETIME.total_seconds() / 3600:.0f} h."
            )
        return (
            answer.access_token,
            ab_datetime_now() + (answer.lifetime or DEFAULT_TOKEN_LIFETIME),
            answer.refresh_token,
        )

    @backoff.on_exception(
        backoff.expo,
        AirbyteTracedException,
        max_tries=TOKEN_REQUEST_ATTEMPTS,
        giveup=lambda error: error.failure_type != FailureType.transient_error,
        logger=None,  # a failure that is not retried is raised, and says what happened itself
        on_backoff=lambda details: LOGGER.info(
            f"{details['exception'].message} Trying again in {details['wait']:.1f} s."
        ),
    )
    def _make_handled_request(self) -> Any:
        url = self.get_token_refresh_endpoint()
        status, body = post_token_request(url, self.build_refresh_request_body())
        if status == 200:
            return body
        if status == 429 or status >= 500:
            raise _token_endpoint_trouble(url, f"answered HTTP {status}")
        error = body.get(self._refresh_token_error_key) if isinstance(body, Mapping) else None
        if status in self._refresh_token_error_status_codes and error in self._refresh_token_error_values:
            raise config_error(
                f"Brightpearl refused to refresh the OAuth token of app '{self.get_client_id()}' ({error}): the "
                "refresh token has expired, been revoked or been used already, or the client secret is wrong. "
                "Re-authenticate in the connector settings (or run `source-brightpearl oauth` again)."
            )
        raise config_error(
            f"The OAuth token endpoint {url} answered HTTP {status}. Check the OAuth server setting "
            "(credentials.oauth_host) and the account code."
        )


# How each Brightpearl custom-field type arrives in a record (values are keyed by field code).
# A DATE is a plain string, as sent: real answers are not always RFC 3339 (`2023-03-06 17:22:26 -0600`
# is on record), so `format: date-time` would have destinations reject or null such values, and a
# normaliser would have to guess every other form; the warehouse can parse what it holds.
CUSTOM_FIELD_VALUE_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "TEXT": {"type": ["null", "string"]},
    "TEXTAREA": {"type": ["null", "string"]},
    "INTEGER": {"type": ["null", "integer"]},
    "YESNO": {"type": ["null", "boolean"]},
    "DATE": {"type": ["null", "string"]},
    "SELECT": {
        "type": ["null", "object"],
        "properties": {"id": {"type": ["null", "integer"]}, "value": {"type": ["null", "string"]}},
    },
}


@dataclass
class BrightpearlCustomFieldsSchemaLoader(SchemaLoader):
    """The stream's inline schema with `customFields` typed per field, from the account's
    custom-field metadata (`.../custom-field-meta-data`), so each field is a typed column.

    `DynamicSchemaLoader` builds top-level properties from the first record of a single endpoint;
    custom fields are nested under `customFields`, orders need two endpoints (sale and purchase), and
    a SELECT value is an object, which its type mapping cannot express. Fields created after
    discovery still validate through the base schema's `additionalProperties`, and so do all fields
    when the metadata cannot be read (a warning says why): the records themselves are unaffected.
    """

    base_schema_loader: SchemaLoader
    metadata_requesters: list[Any]
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def get_json_schema(self) -> Mapping[str, Any]:
        schema = copy.deepcopy(dict(self.base_schema_loader.get_json_schema()))
        try:
            typed_fields = self._typed_custom_fields()
        except Exception as error:  # noqa: BLE001 - any failure leaves the fields untyped, never the stream unreadable
            message = getattr(error, "message", None) or str(error)
            LOGGER.warning(f"Custom fields are left untyped: their metadata could not be read ({message}).")
            return schema
        custom_fields = schema["properties"]["customFields"]
        schema["properties"]["customFields"] = {**custom_fields, "properties": typed_fields}
        return schema

    def _typed_custom_fields(self) -> dict[str, Any]:
        typed_fields: dict[str, Any] = {}
        for requester in self.metadata_requesters:
            response = requester.send_request()
            for field in (response.json().get("response") or []) if response is not None else []:
                typed_fields[field["code"]] = {
                    **CUSTOM_FIELD_VALUE_SCHEMAS.get(field.get("customFieldType"), {}),
                    "title": field.get("name") or field["code"],
                }
        return typed_fields


class BrightpearlBudgetPacer:
    """Paces every request of the account on Brightpearl's own budget headers, so the sync never
    spends the last `reserve` calls of the rolling minute that the account's other apps (shop,
    shipping, ERP) share with it.

    It keeps an estimate of the calls left: each response's `brightpearl-requests-remaining` resets
    it, and each request sent takes one off, so threads released together cannot overspend it. Once
    the estimate is down to the reserve, requests go one at a time: the first when
    `brightpearl-next-throttle-period` (milliseconds until the oldest call leaves Brightpearl's
    rolling minute) has passed, each next one `SPACING_SECONDS` later unless an answer says more
    calls were freed. A request the response cache answers gives its call back (`return_unspent`):
    Brightpearl never saw it. The manifest's `HTTPAPIBudget` cannot do this: its policies adopt the
    server's remaining count as their own budget (no reserve below it) and its reset header must be
    absolute epoch seconds. `BrightpearlPacedAuthenticator` calls `acquire_call` before and
    `update_from_response` (or `return_unspent`) after each attempt of every request of a source.
    """

    # Under the 0.3 s in which Brightpearl frees a call at a steady 200 a minute, so requests at the
    # reserve keep up with the freed calls; the reserve absorbs the small overshoot.
    SPACING_SECONDS = 0.25

    def __init__(self, reserve: int) -> None:
        self.reserve = reserve
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._resume_at = 0.0
        self._answers_counted = 0

    def acquire_call(self, request: Any) -> int | None:
        """Waits until the request may go; answers what `return_unspent` needs to give its call back
        (None when it took none from the estimate)."""
        with self._lock:
            wait, ticket = self._wait_for_a_call()
        if wait > 0:
            log = LOGGER.info if wait >= 5 else LOGGER.debug
            log(f"Brightpearl budget down to its reserve of {self.reserve} calls; waiting {wait:.1f} s.")
            time.sleep(wait)
        return ticket

    def _wait_for_a_call(self) -> tuple[float, int | None]:
        now = time.monotonic()
        if self._remaining is None or self._remaining > self.reserve:
            if self._remaining is None:
                return 0.0, None
            self._remaining -= 1
            return 0.0, self._answers_counted
        go_at = max(now, self._resume_at)
        self._resume_at = go_at + self.SPACING_SECONDS
        return go_at - now, None

    def return_unspent(self, ticket: int | None) -> None:
        """Gives back the call a request took, its answer having come from the cache; not if an answer
        from Brightpearl has set the estimate since, as Brightpearl's count never held that call."""
        with self._lock:
            if ticket is not None and ticket == self._answers_counted:
                self._remaining += 1

    def update_from_response(self, request: Any, response: Any) -> None:
        remaining = header_number(response, REQUESTS_REMAINING_HEADER)
        period_milliseconds = header_number(response, THROTTLE_PERIOD_HEADER)
        if remaining is None or period_milliseconds is None:
            return
        with self._lock:
            self._remaining = int(remaining)
            self._answers_counted += 1
            if remaining <= self.reserve:
                wait = capped_server_wait(period_milliseconds / 1000, THROTTLE_PERIOD_HEADER)
                self._resume_at = time.monotonic() + wait


# Far above the largest real answer (an ID set of 200 orders with their rows is a few MB), far below what
# would exhaust a worker's memory.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# The deadline of a body whose request was sent without a read timeout (every requester of the manifest has one).
DEFAULT_BODY_SECONDS = 300.0


class RedirectRefused(requests.RequestException):
    """An API request answered with a redirect, which is never followed."""


class ResponseTooLarge(requests.RequestException):
    """An answer whose body, decompressed, exceeds MAX_RESPONSE_BYTES."""


class ResponseTooSlow(requests.Timeout):
    """An answer whose body did not arrive in time, however steadily it trickled: retried like any timeout."""


class BrightpearlTransportGuard:
    """Holds every API answer to three rules before requests acts on it: a redirect is an error (never
    followed), and the body is read within the request's read timeout and up to MAX_RESPONSE_BYTES
    decompressed.

    requests follows a redirect inside `Session.send` and re-sends every header but `Authorization`, so a
    3xx to another host would receive the account or staff token; it inflates a compressed body without
    limit; and a read timeout bounds each wait for data, not a body trickling a byte a second. The
    manifest can set none of this (no field reaches a session's hooks, `max_redirects` or adapters), and
    `HttpRequester` sends no `allow_redirects`. `guard` registers `inspect` as the request's response hook
    (requests' public `PreparedRequest.register_hook`), which requests runs on the answer, with the
    request's `timeout`, before it reads the body or follows a redirect.
    """

    def guard(self, request: requests.PreparedRequest) -> None:
        # A retry sends the same prepared request again: one hook is enough.
        if self.inspect not in request.hooks["response"]:
            request.register_hook("response", self.inspect)

    def inspect(self, response: requests.Response, timeout: Any = None, **kwargs: Any) -> None:
        if response.is_redirect:
            response.close()
            raise RedirectRefused(_describe_redirect(response), response=response)
        if not isinstance(response.raw, _BoundedBody):
            response.raw = _BoundedBody(response, _read_timeout(timeout))


def _read_timeout(timeout: Any) -> float:
    """The read part of a requests `timeout`: a number, or a (connect, read) pair."""
    read = timeout[1] if isinstance(timeout, tuple) else timeout
    return float(read) if isinstance(read, (int, float)) else DEFAULT_BODY_SECONDS


# The attribute of a prepared request holding its latest attempt's `BrightpearlBudgetPacer.acquire_call` ticket.
PACER_TICKET = "_brightpearl_pacer_ticket"
# One pacer per source: the factory hands the budget it builds from the manifest's `api_budget` to every
# component with an `api_budget` field, and builds a new one with each new set of streams.
_PACERS_BY_BUDGET: weakref.WeakKeyDictionary[APIBudget, BrightpearlBudgetPacer] = weakref.WeakKeyDictionary()
_PACERS_LOCK = threading.Lock()


@dataclass
class BrightpearlPacedAuthenticator(DeclarativeAuthenticator):
    """`authenticator`'s credentials on each attempt of each request, sent once the source's
    BrightpearlBudgetPacer lets it go, with BrightpearlTransportGuard's rules on its answer.

    The pacer must run before every attempt and see every answer, and the guard must reach each
    request before it is sent. The manifest's `api_budget` is the CDK's `HttpAPIBudget` (no custom
    policy or class), and no other component the manifest names is called before a request goes
    out, except its authenticator: the HTTP client applies it when it prepares a request and again
    before each retry, and hands it each answer from the network as a `ResponseAwareAuthenticator`
    (the CDK's feedback channel for quota-tracking authenticators). So this wraps the one
    authenticator of every requester; whatever else the client asks of an authenticator (an OAuth
    refresh, its auth header) is `authenticator`'s. A request the response cache answers is prepared
    too; the client does not hand its answer to the authenticator, but the request's response hooks run
    on it, and one gives the call back.
    """

    authenticator: DeclarativeAuthenticator
    # Calls of each rolling minute left to the account's other apps (interpolated from the config).
    rate_limit_reserve: str | int
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    api_budget: APIBudget | None = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        reserve = InterpolatedString.create(str(self.rate_limit_reserve), parameters=parameters).eval(self.config)
        self._pacer = self._source_pacer(int(reserve))
        self._guard = BrightpearlTransportGuard()

    def _source_pacer(self, reserve: int) -> BrightpearlBudgetPacer:
        if self.api_budget is None:  # a requester built on its own, like the package's check
            return BrightpearlBudgetPacer(reserve)
        with _PACERS_LOCK:
            return _PACERS_BY_BUDGET.setdefault(self.api_budget, BrightpearlBudgetPacer(reserve))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        first_attempt = not hasattr(request, PACER_TICKET)
        setattr(request, PACER_TICKET, self._pacer.acquire_call(request))
        if first_attempt:  # a retry sends the same prepared request again: one hook is enough
            request.register_hook("response", functools.partial(self._return_call_if_cached, request))
        self._guard.guard(request)
        return self.authenticator(request)

    def _return_call_if_cached(self, request: requests.PreparedRequest, response: requests.Response, **_: Any) -> None:
        if getattr(response, "from_cache", False):
            self._pacer.return_unspent(getattr(request, PACER_TICKET))

    def update_from_response(self, request: requests.PreparedRequest, response: requests.Response) -> None:
        self._pacer.update_from_response(request, response)

    @property
    def auth_header(self) -> str:
        return self.authenticator.auth_header

    @property
    def token(self) -> str:
        return self.authenticator.token

    def get_auth_header(self) -> Mapping[str, Any]:
        return self.authenticator.get_auth_header()

    def get_request_params(self) -> Mapping[str, Any]:
        return self.authenticator.get_request_params()

    def get_request_body_data(self) -> Mapping[str, Any] | str:
        return self.authenticator.get_request_body_data()

    def get_request_body_json(self) -> Mapping[str, Any]:
        return self.authenticator.get_request_body_json()

    def __getattr__(self, name: str) -> Any:
        # Only for what this class does not define (`refresh_and_set_access_token`, ...); never for
        # the fields, which `__post_init__` may not have set yet.
        if name in ("authenticator", "_pacer", "_guard"):
            raise AttributeError(name)
        return getattr(self.authenticator, name)


def _describe_redirect(response: requests.Response) -> str:
    """Names the status and both hosts, never the Location's user, path or query (which may carry a
    password or a signature)."""
    try:
        target = urlsplit(urljoin(response.url, response.headers["Location"])).netloc.rpartition("@")[2]
    except ValueError:  # a Location that is not a URL, such as an unclosed IPv6 bracket
        target = "an address that is not a URL"
    return (
        f"{urlsplit(response.url).hostname} answered HTTP {response.status_code}, a redirect to {target}, which the "
        "connector does not follow: credentials go to the configured host only. Check the datacenter and "
        "api_domain settings (use the host Brightpearl's answers come from, not one that forwards to it)."
    )


class _BoundedBody:
    """A response's urllib3 body whose `stream()`, the one way requests reads a body, reads at most one
    socket receive at a time (`read1`, which also inflates at most that much), so that the size
    decompressed and the deadline are checked between receives. Everything else is urllib3's own."""

    def __init__(self, response: requests.Response, timeout_seconds: float) -> None:
        self._raw = response.raw
        self._url = response.url
        self._timeout_seconds = timeout_seconds
        self._deadline = time.monotonic() + timeout_seconds

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        received = 0
        while chunk := self._raw.read1(amt, decode_content=decode_content):
            received += len(chunk)
            if received > MAX_RESPONSE_BYTES:
                self._raw.close()
                raise ResponseTooLarge(
                    f"The answer to {self._url} is larger than {MAX_RESPONSE_BYTES // 2**20} MB once decompressed, "
                    "far more than any Brightpearl answer; it was not read further."
                )
            if time.monotonic() > self._deadline:
                self._raw.close()
                raise ResponseTooSlow(
                    f"The answer to {self._url} did not arrive within {self._timeout_seconds:g} s of its headers "
                    f"({received} bytes so far)."
                )
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


# The answers BrightpearlTransportGuard refuses that no retry can change, and the failure each is.
TRANSPORT_REFUSALS = {RedirectRefused: FailureType.config_error, ResponseTooLarge: FailureType.system_error}


@dataclass
class BrightpearlErrorHandler(ErrorHandler):
    """The manifest's `error_handler`, plus two answers that depend on more than the response body:

    - 401 "Authorization token expired" to an account or staff token (which nothing can refresh)
      fails at once as a config error saying what to do, where `error_handler` asks for an OAuth
      refresh that such a token cannot have and retries for minutes;
    - 400 to an ID-set GET is handed back to `BrightpearlIdSetRetriever` (IGNORE), which splits the set;
    - a redirect or an oversized body refused by `BrightpearlTransportGuard` fails at once (config
      error: the configured host is not Brightpearl's; system error: no retry can make a body smaller),
      where every request exception would otherwise be retried as transient;
    - a timeout is retried with a message saying which setting bounds it, where the CDK's names only
      "requests.exceptions.RequestException".

    A response filter cannot do these: its `predicate` sees neither the config nor the status
    code nor an exception, and `http_codes: [400]` would also ignore a 400 to a search, losing its
    rows silently.
    """

    error_handler: DefaultErrorHandler
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._is_id_set_get = bool((parameters or {}).get("id_set_get"))

    @property
    def max_retries(self) -> int | None:
        return self.error_handler.max_retries

    @property
    def max_time(self) -> int | None:
        return self.error_handler.max_time

    @property
    def backoff_strategies(self) -> list[BackoffStrategy] | None:
        return self.error_handler.backoff_strategies

    def interpret_response(self, response_or_exception: requests.Response | Exception | None) -> ErrorResolution:
        for refusal, failure_type in TRANSPORT_REFUSALS.items():
            if isinstance(response_or_exception, refusal):
                return ErrorResolution(
                    response_action=ResponseAction.FAIL,
                    failure_type=failure_type,
                    error_message=str(response_or_exception),
                )
        if isinstance(response_or_exception, requests.Timeout):
            return ErrorResolution(
                response_action=ResponseAction.RETRY,
                failure_type=FailureType.transient_error,
                error_message=(
                    f"Brightpearl did not answer in time ({response_or_exception}). Retried with backoff; if this "
                    "account's answers are known to be slow, raise request_timeout_seconds."
                ),
            )
        if isinstance(response_or_exception, requests.Response):
            status = response_or_exception.status_code
            if response_or_exception.ok:
                # Every filter of `error_handler` would parse the body again (a 200-order ID set five
                # times over) and no 2xx can be an error: a 200 whose text says "too many requests"
                # (an order note) must not be retried as throttling.
                return SUCCESS_RESOLUTION
            if status == 400 and self._is_id_set_get:
                return ErrorResolution(
                    response_action=ResponseAction.IGNORE,
                    failure_type=FailureType.system_error,
                    error_message="Brightpearl rejected an ID set; reading it again in halves to find the bad record.",
                )
            if status == 401 and TOKEN_EXPIRED_TEXT in response_or_exception.text.lower():
                auth_type = (self.config.get("credentials") or {}).get("auth_type")
                if auth_type in NON_REFRESHABLE_AUTH_TYPES:
                    return ErrorResolution(
                        response_action=ResponseAction.FAIL,
                        failure_type=FailureType.config_error,
                        error_message=(
                            f"Brightpearl says the {auth_type.replace('_', ' ')} of app "
                            f"'{self.config['credentials'].get('app_ref')}' on account '{self.config.get('account_code')}' "
                            "has expired. It cannot be renewed automatically: create a new one (Settings > "
                            "App Store > Private apps, or the staff member's token) and put it in the connector "
                            "settings, or switch to OAuth, whose tokens are refreshed."
                        ),
                    )
        return self.error_handler.interpret_response(response_or_exception)


def is_record_id(value: Any) -> bool:
    """Whether a value can be an ID in an ID set: a positive integer of at most 64 bits (Brightpearl's
    IDs are Java longs at most, and `_SeenIds` keeps them in 64 bits)."""
    return type(value) is int and 0 < value < 2**63


def _listed(ids: list[Any], shown: int = 10) -> str:
    listed = ", ".join(_excerpt(record_id) for record_id in ids[:shown])
    return listed if len(ids) <= shown else f"{listed} and {len(ids) - shown} more"


class _IdsToRetry(list):
    """The IDs a stream's state carries to ask for again, as one list object kept up to date.

    The cursor writes, in a sync's final state, the router state it read when the last ID batch was
    made, and ID sets are read after that: this object, in that state, still takes in what they
    skip. The cursor copies the router state for its other checkpoints from another thread, so
    copies and updates take turns.
    """

    # Built from an iterable too, as a list is: `dataclasses.asdict` copies a list that way (the
    # Connector Builder's answer to a test read holds the state this object is in).
    def __init__(self, ids: Iterable[int] = ()) -> None:
        super().__init__(ids)
        self._lock = threading.Lock()

    def settle(self, asked: Iterable[int], skipped: Iterable[int]) -> None:
        with self._lock:
            self[:] = sorted(set(self).difference(asked).union(skipped))

    def __deepcopy__(self, memo: dict[int, Any]) -> list[int]:
        with self._lock:
            return list(self)


# A column name as a search's `columns` and rows have it: a key `dpath` would take literally.
SEARCH_COLUMN_NAME = re.compile(r"[A-Za-z0-9_]+")
# The parent partition of an ID that has none (a search's row, an ID carried over from the last sync): one
# object, where the CDK makes a new empty dict per row, and an ID batch lists its 200 IDs' (6 MB of them per
# stream at 100k orders, bench/PROFILE.md). Only read, never changed: the cursor copies what it keeps.
NO_PARENT_PARTITION: Mapping[str, Any] = {}


class _SeenIds:
    """The record IDs a router has let through, in about 8 bytes each where a set of ints takes 70
    (7 MB for each ID-set stream of a 100k-order account, bench/PROFILE.md).

    A search pass finds its IDs in ascending order (BrightpearlSearchRetriever sorts on the ID and
    drops any row not above the last), so nearly every new ID is above all those seen, and goes at
    the end of one sorted array. The others (a second pass, order rows' products) wait in a set
    until they are a quarter as many as the array holds, then are merged into it: each ID is copied
    a bounded number of times on average, whatever their order.
    """

    SET_HOLDS_AT_LEAST = 1024

    def __init__(self) -> None:
        self._sorted = array("q")
        self._recent: set[int] = set()

    def add(self, record_id: int) -> bool:
        """Whether `record_id` is new, keeping it if so; it must be a record ID (`is_record_id`)."""
        if record_id in self._recent:
            return False
        if not self._sorted or record_id > self._sorted[-1]:
            self._sorted.append(record_id)
            return True
        if self._sorted[bisect_left(self._sorted, record_id)] == record_id:
            return False
        self._recent.add(record_id)
        if len(self._recent) > max(self.SET_HOLDS_AT_LEAST, len(self._sorted) // 4):
            self._sorted = array("q", heapq.merge(self._sorted, sorted(self._recent)))
            self._recent = set()
        return True


@dataclass
class BrightpearlRetriedIdsRouter(PartitionRouter):
    """The IDs of a stream's ID-set GETs: those its search finds (`found_by`), each checked to be a
    positive integer before it goes into a URL path, after the IDs the last sync had to skip.

    Bisection skips a record Brightpearl fails every GET for (BrightpearlIdSetRetriever); the
    cursor moves on regardless, so the next search would not find it again. The stream's state
    carries it instead, in `parent_state.ids_to_retry` (a partition router's part of the state, next
    to the search's own), until a GET answers for it. The CDK hands a partition router no state:
    the stream's retriever passes on the state its cursor started from (`carry_over`) and reports
    what became of each ID set (`settle`).
    """

    STATE_KEY = "ids_to_retry"

    found_by: SubstreamPartitionRouter
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    stream_name: str = ""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        parents = self.found_by.parent_stream_configs
        self.partition_field = str(parents[0].partition_field.eval(self.config))
        self._searches = [(parent.stream, str(parent.parent_key.eval(self.config))) for parent in parents]
        for parent, (_, id_column) in zip(parents, self._searches):
            if parent.extra_fields or parent.lazy_read_pointer or not SEARCH_COLUMN_NAME.fullmatch(id_column):
                raise ValueError(
                    f"{self.stream_name}: each of found_by's parents must name one column as parent_key "
                    f"({id_column!r}), without extra_fields or lazy_read_pointer"
                )
        self._carried: frozenset = frozenset()
        self._ids_to_retry = _IdsToRetry()

    def carry_over(self, stream_state: Mapping[str, Any]) -> None:
        parent_state = stream_state.get("parent_state")
        ids = parent_state.get(self.STATE_KEY, []) if isinstance(parent_state, Mapping) else []
        if not isinstance(ids, list) or not all(is_record_id(record_id) for record_id in ids):
            raise config_error(
                f"The state of stream '{self.stream_name}' has parent_state.{self.STATE_KEY} {_excerpt(ids)}, "
                "which is not a list of record IDs (positive whole numbers). Remove it from the state "
                "(those records are then read only when they next change)."
            )
        self._carried = frozenset(ids)
        self._ids_to_retry.settle(asked=(), skipped=self._carried)

    def was_carried(self, record_id: int) -> bool:
        return record_id in self._carried

    def settle(self, asked: Iterable[int], skipped: Iterable[int]) -> None:
        """`asked` were answered for, except those `skipped`, which are to be asked again next sync."""
        self._ids_to_retry.settle(asked, skipped)

    def stream_slices(self) -> Iterable[StreamSlice]:
        for record_id, parent_partition in self.ids():
            yield StreamSlice(
                partition={self.partition_field: record_id, "parent_slice": parent_partition}, cursor_slice={}
            )

    def ids(self) -> Iterator[tuple[int, Mapping[str, Any]]]:
        """Each ID of `stream_slices` with its parent partition, without a slice made of it."""
        # Each ID once: a record found by both passes of an incremental search (updatedOn, then
        # createdOn), or carried over and found again, is asked for once.
        seen = _SeenIds()
        for record_id in sorted(self._carried):
            seen.add(record_id)
            yield record_id, NO_PARENT_PARTITION
        for record_id, parent_partition in self._ids_found():
            if not is_record_id(record_id):
                raise AirbyteTracedException(
                    message=(
                        f"Brightpearl's search for stream '{self.stream_name}' returned {_excerpt(record_id)} as an ID, "
                        "which is not a positive whole number, so it cannot go into the URL of an ID-set GET. "
                        "The stream stops; check that api_domain points at Brightpearl and run the sync again."
                    ),
                    failure_type=FailureType.transient_error,
                )
            if seen.add(record_id):
                yield record_id, parent_partition

    def _ids_found(self) -> Iterator[tuple[Any, Mapping[str, Any]]]:
        """Each parent row's ID and the parent's partition, search after search: what
        `found_by.stream_slices()` makes a slice of, with the same calls of each parent's cursor in the
        same order, less its `dpath.get` of each row, which walks and glob-matches every column to find
        one (40 % of the CPU of turning 10,000 search rows into ID sets, bench/PROFILE.md)."""
        for search, id_column in self._searches:
            for partition, is_last_partition in iterate_with_last_flag(search.generate_partitions()):
                if partition is None:
                    break
                for row, is_last_row in iterate_with_last_flag(partition.read()):
                    if row is not None:
                        # Observed and, for the last row, closed before the row's ID goes out: the CDK's
                        # per-partition cursor gives an ID set the search's state as of its last row.
                        search.cursor.observe(row)
                    if is_last_row:
                        search.cursor.close_partition(partition)
                        if is_last_partition:
                            search.cursor.ensure_at_least_one_state_emitted()
                    if row is not None and (record_id := row.data.get(id_column)) is not None:
                        partition_read = row.associated_slice.partition if row.associated_slice else None
                        yield record_id, partition_read or NO_PARENT_PARTITION

    def get_stream_state(self) -> Mapping[str, StreamState] | None:
        return {**(self.found_by.get_stream_state() or {}), self.STATE_KEY: self._ids_to_retry}

    def get_request_params(self, **kwargs: Any) -> Mapping[str, Any]:
        return {}

    def get_request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        return {}

    def get_request_body_data(self, **kwargs: Any) -> Mapping[str, Any]:
        return {}

    def get_request_body_json(self, **kwargs: Any) -> Mapping[str, Any]:
        return {}


class BrightpearlIdBatches(GroupingPartitionRouter):
    """The `GroupingPartitionRouter` of an ID-set stream (`deduplicate: false`, over a
    BrightpearlRetriedIdsRouter), making the same slices with the same router state as of each, without
    a slice made and checked for each ID first: a third of the CPU of turning 10,000 search rows into ID
    sets (bench/PROFILE.md).

    The manifest cannot name it in the CDK's router's place: a custom router's nested components are
    built without the stream's name, and the search's `SubstreamPartitionRouter` needs it to find the
    stream's state. So the stream's retriever gives its router this class (`install`), which adds no
    field, and the CDK's factory still sees a `GroupingPartitionRouter` (for which it gives the stream
    one cursor for all its partitions).
    """

    @classmethod
    def install(cls, router: Any) -> BrightpearlRetriedIdsRouter:
        """Makes `router` one, and returns the IDs' router; raises ValueError if it is not an ID-set stream's."""
        if not (
            type(router) in (GroupingPartitionRouter, cls)
            and not router.deduplicate
            and isinstance(router.underlying_partition_router, BrightpearlRetriedIdsRouter)
        ):
            raise ValueError(
                "an ID-set stream's partition_router must group a BrightpearlRetriedIdsRouter, "
                "with deduplicate: false (the router drops repeated IDs itself)"
            )
        router.__class__ = cls
        return router.underlying_partition_router

    def stream_slices(self) -> Iterable[StreamSlice]:
        router = self.underlying_partition_router
        ids: list[int] = []
        parent_partitions: list[Mapping[str, Any]] = []
        for record_id, parent_partition in router.ids():
            ids.append(record_id)
            parent_partitions.append(parent_partition)
            if len(ids) == self.group_size:
                self._state = router.get_stream_state()
                yield self._id_set(ids, parent_partitions)
                ids, parent_partitions = [], []
        self._state = router.get_stream_state()
        if ids:
            yield self._id_set(ids, parent_partitions)

    def _id_set(self, ids: list[int], parent_partitions: list[Mapping[str, Any]]) -> StreamSlice:
        return StreamSlice(
            partition={self.underlying_partition_router.partition_field: ids, "parent_slice": parent_partitions},
            cursor_slice={},
        )


# The slice field that marks a GET asking again for IDs a first answer left out.
ASKED_AGAIN = "asked_again"


class _NoCursorPerIdSet(OrderedDict):
    """The per-partition cursors (`_cursor_per_partition`) of an ID-set stream's cursor, none kept.

    The CDK's `ConcurrentPerPartitionCursor` keeps the cursor it makes for each partition, here each
    ID set, up to 10,000 of them: about 4 MB at 100k orders (bench/PROFILE.md). In global mode, which
    its factory sets for a `GroupingPartitionRouter`'s partitions, it reads none of them again: its
    state, `observe` and `close_partition` use the global cursor only, and the one it makes for a
    partition is held by the slicing that made it. A state of per-partition cursors (global mode
    off) keeps the CDK's dict.
    """

    def __setitem__(self, partition_key: str, cursor: Any) -> None:
        pass

    @classmethod
    def install(cls, cursor: Any) -> None:
        if (
            getattr(cursor, "_use_global_cursor", False)
            and type(getattr(cursor, "_cursor_per_partition", None)) is OrderedDict
        ):
            cursor._cursor_per_partition = cls()


@dataclass
class _IdSetOutcome:
    """What became of the IDs of one ID set as it is read."""

    size: int
    skipped: list[int] = dataclass_field(default_factory=list)
    newly_skipped: int = 0

    @property
    def tolerated_skips(self) -> int:
        # One bad record in any set, 1 % of a full one (2 of 200): more is Brightpearl failing.
        return max(1, self.size // 100)


@dataclass
class BrightpearlIdSetRetriever(SimpleRetriever):
    """Reads one batch of IDs with one ID-set GET, and makes sure the answer is the records asked for:

    - a record for an ID that was not asked for is dropped with a warning (another resource's
      records must not come out as this stream's);
    - IDs asked for and not returned are asked once more; those still missing were deleted since
      the search, and a warning counts and names them;
    - when Brightpearl rejects the whole set (one bad record fails all of it: HTTP 400), each half
      is read again, down to the bad IDs, which are skipped with a warning that names them and are
      asked again next sync (BrightpearlRetriedIdsRouter) while every other record still arrives.
      More rejected IDs in a set than one bad record, or 1 % of the set, is Brightpearl failing,
      not bad records: the stream then fails as transient rather than skip them.

    Finding the bad IDs takes new, smaller requests, and checking an answer takes the IDs asked
    for, which no response filter, backoff or extractor has. Its requester's
    `BrightpearlErrorHandler` lets the 400 through. The ID asked for is the first field of the
    stream's primary key; the extractor says which IDs an answer holds (`ids_answered`).

    `cached_responses_of` names another stream whose GETs this one reads from the response cache
    (`order_rows` reads those of `orders`): the CDK keeps a requester's cached responses in a file
    named after the requester, which a custom retriever's requester cannot rename in the manifest.
    """

    cached_responses_of: str | None = None
    # Given by the factory: the stream's ID batches, a GroupingPartitionRouter over a BrightpearlRetriedIdsRouter.
    partition_router: PartitionRouter | None = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        if self.cached_responses_of:
            self.requester.name = self.cached_responses_of
            self.requester.__post_init__(self.requester._parameters)  # builds its HttpClient again
        primary_key = self.primary_key if isinstance(self.primary_key, str) else self.primary_key[0]
        self._id_field = primary_key if isinstance(primary_key, str) else primary_key[0]
        try:
            self._ids = BrightpearlIdBatches.install(self.partition_router)
        except ValueError as error:
            raise ValueError(f"{self.name}: {error}") from None
        # The stream's cursor (its stream slicer, when incremental) holds the state the sync started
        # from, and observes every record read.
        self._ids.carry_over(getattr(self.stream_slicer, "state", None) or {})
        BrightpearlCursorValueConverter.install(self.stream_slicer)
        _NoCursorPerIdSet.install(self.stream_slicer)

    def read_records(self, records_schema: Mapping[str, Any], stream_slice: StreamSlice | None = None) -> Iterable[Any]:
        assert stream_slice is not None, "an ID-set GET needs a slice of IDs"
        records_schema = schema_to_normalize_by(self.record_selector, records_schema)
        ids = list(stream_slice.partition["ids"])
        outcome = _IdSetOutcome(size=len(ids))
        missing = yield from self._read_ids(records_schema, stream_slice, ids, outcome)
        if missing:
            gone = yield from self._read_ids(records_schema, stream_slice, missing, outcome, asked_again=True)
            if gone:
                LOGGER.warning(
                    f"{self.name}: {len(gone)} of {len(ids)} records asked for were not returned, twice: "
                    f"deleted since the search found them ({_listed(gone)})."
                )
        self._ids.settle(asked=ids, skipped=outcome.skipped)

    def _read_ids(
        self,
        records_schema: Mapping[str, Any],
        stream_slice: StreamSlice,
        ids: list[int],
        outcome: _IdSetOutcome,
        asked_again: bool = False,
    ) -> Generator[Any, None, list[int]]:
        """The records of `ids` from one GET, or from GETs of each half when Brightpearl rejects it;
        returns the IDs the answers left out."""
        part = StreamSlice(
            partition={**stream_slice.partition, "ids": ids},
            cursor_slice=stream_slice.cursor_slice,
            extra_fields={**stream_slice.extra_fields, ASKED_AGAIN: asked_again},
        )
        response = self._fetch_next_page(part)
        if response is not None and response.status_code == 400:
            if len(ids) == 1:
                self._skip(ids[0], outcome)
                return []
            middle = len(ids) // 2
            missing = yield from self._read_ids(records_schema, stream_slice, ids[:middle], outcome, asked_again)
            return missing + (
                yield from self._read_ids(records_schema, stream_slice, ids[middle:], outcome, asked_again)
            )
        # 404 CMNC-404 (let through by `error_handler`): none of them exists any more.
        if response is None or response.status_code == 404:
            return ids
        asked = set(ids)
        answered = self.record_selector.extractor.ids_answered(response, self._id_field)
        not_asked = [record_id for record_id in answered if not (is_record_id(record_id) and record_id in asked)]
        if not_asked:
            LOGGER.warning(
                f"{self.name}: Brightpearl answered an ID-set GET with records for IDs not asked for "
                f"({_listed(not_asked)}); they are dropped."
            )
        # Selected against the partition's slice, which the cursor knows records by, not the half of it
        # asked for: the CDK would copy each record to point it there (`_reassociate_with_original_slice`).
        for record in self._parse_records(response, records_schema, stream_slice):
            record_id = record.data.get(self._id_field)
            if is_record_id(record_id) and record_id in asked:
                yield record
        returned = asked.intersection(record_id for record_id in answered if is_record_id(record_id))
        return [record_id for record_id in ids if record_id not in returned]

    def _request_headers(
        self,
        stream_slice: StreamSlice | None = None,
        next_page_token: Mapping[str, Any] | None = None,
        page_size_override: int | None = None,
    ) -> Mapping[str, Any]:
        headers = super()._request_headers(stream_slice, next_page_token, page_size_override)
        if stream_slice is not None and stream_slice.extra_fields.get(ASKED_AGAIN):
            # Asked of Brightpearl, not of the response cache, which may hold the first answer (and
            # keeps this one, for the stream that reads the same GETs).
            return {**headers, "Cache-Control": "no-cache"}
        return headers

    def _skip(self, record_id: int, outcome: _IdSetOutcome) -> None:
        if not self._ids.was_carried(record_id):
            outcome.newly_skipped += 1
            if outcome.newly_skipped > outcome.tolerated_skips:
                raise AirbyteTracedException(
                    message=(
                        f"Brightpearl rejected (HTTP 400) more {self.name} records of one ID-set GET than the "
                        f"{outcome.tolerated_skips} of {outcome.size} that are skipped as bad records: that is "
                        "Brightpearl failing, so the stream stops instead. This is usually temporary: run the sync again."
                    ),
                    internal_message=f"Rejected one by one: {_listed(outcome.skipped + [record_id])}",
                    failure_type=FailureType.transient_error,
                )
        LOGGER.warning(
            f"Skipping {self.name} record {record_id}: Brightpearl fails every GET that includes it (HTTP 400)."
        )
        outcome.skipped.append(record_id)


@dataclass
class BrightpearlParentRowsRetriever(SimpleRetriever):
    """Reads a child's rows out of its parent record (`lazy_read_pointer`), on every sync, without
    a request of its own.

    The CDK reads the handed-over rows only while the stream has no state; once it has one (an
    incremental cursor, or the state of a full-refresh stream that the platform carries into a
    retried attempt) it requests the child's own URL, one call per parent record. Brightpearl has
    no such URL for order rows, price lists or availability rows (they come only inside their
    parent), so those syncs would fail.
    """

    def read_records(self, records_schema: Mapping[str, Any], stream_slice: StreamSlice | None = None) -> Iterable[Any]:
        yield from super().read_records(schema_to_normalize_by(self.record_selector, records_schema), stream_slice)

    def _read_pages(
        self,
        records_generator_fn: Callable[[requests.Response | None], Iterable[Record]],
        stream_slice: StreamSlice,
    ) -> Iterable[Record]:
        yield from records_generator_fn(stream_slice.extra_fields["child_response"])
