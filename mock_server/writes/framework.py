"""What every write handler stands on: the call being served, the endpoint declaration, and body readers.

A handler validates its body like the real service (400 `{"errors":[{"code","message"}]}`), changes
the dataset keeping related records consistent, stamps `updatedOn`/`createdOn` with the mock clock
(`call.now`), and names the webhook events the change raised (`call.publish`). Handlers depend only
on the dataset, the body and `call.now`, so replaying a journal of writes rebuilds the same account.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

import orjson

from .. import errors
from ..errors import ApiError
from ..resources import Record
from ..state import MockState
from ..store import Dataset, Table
from ..world import format_stamp


@dataclass
class WriteCall:
    """One write being served: the mock's state, the path's IDs, the decoded body and its moment.

    The handler sets `result` (None answers a bare `{}`) and lists its events with `publish`; they
    are raised after the write succeeds, and not at all when a journal is replayed.
    """

    state: MockState
    ids: dict[str, int]
    body: Any
    now: str
    result: Any = None
    events: list[tuple[str, list[int]]] = field(default_factory=list)

    @property
    def dataset(self) -> Dataset:
        return self.state.dataset

    def publish(self, full_event: str, ids: Iterable[int]) -> None:
        self.events.append((full_event, list(ids)))


# A handler returns the `response` value: the new ID of a POST, None for the bare `{}` of a PUT/PATCH.
Handler = Callable[[WriteCall], Any]


@dataclass(frozen=True)
class Write:
    """A write endpoint: `path` is under the account, `{name}` segments are positive integer IDs."""

    method: str
    path: str
    handle: Handler
    message_type: str

    @cached_property
    def pattern(self) -> re.Pattern:
        literal = re.escape(self.path)
        for name in re.findall(r"\{(\w+)\}", self.path):
            literal = literal.replace(re.escape("{" + name + "}"), f"(?P<{name}>[1-9][0-9]{{0,17}})")
        return re.compile(f"^{literal}/?$")

    def match(self, method: str, path: str) -> dict[str, int] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        return None if found is None else {name: int(value) for name, value in found.groupdict().items()}


def perform(state: MockState, write: Write, ids: dict[str, int], body: Any, now: str) -> WriteCall:
    """Run the write's handler; the caller raises the events it lists (a journal replay does not)."""
    call = WriteCall(state, ids, body, now)
    call.result = write.handle(call)
    return call


def decode_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise errors.bad_request(f"The request body is not valid JSON: {error}") from None


def invalid(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


# ---------------------------------------------------------------------------------------------
# Body reading: each helper names the field it refuses, so the error says what to fix
# ---------------------------------------------------------------------------------------------


def json_object(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise errors.bad_request(f"{name} must be a JSON object")
    return value


def text_field(body: dict, name: str, required: bool = False, default: str = "") -> str:
    value = body.get(name)
    if value is None:
        if required:
            raise errors.bad_request(f"You must supply {name}")
        return default
    if not isinstance(value, str):
        raise errors.bad_request(f"{name} must be a string")
    return value


def id_number(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.bad_request(f"{name} must be a whole number of 0 or more, not {value!r}")
    return value


def true_or_false(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise errors.bad_request(f"{name} must be true or false")
    return value


def parse_decimal(value: Any, minimum: Decimal | None = None) -> Decimal | None:
    """The decimal in a string or number, or None when it is not one (or below `minimum`)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or (minimum is not None and number < minimum):
        return None
    return number


def parse_moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def local_stamp(dataset: Dataset, value: str) -> str:
    moment = parse_moment(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dataset.account_tz)
    return format_stamp(moment, dataset.account_tz)


# ---------------------------------------------------------------------------------------------
# Records: the one a path names, the next ID, column scans
# ---------------------------------------------------------------------------------------------


def existing(dataset: Dataset, resource: str, record_id: int, message: str) -> Record:
    table = dataset[resource]
    if record_id not in table:
        raise errors.not_found(message.format(id=record_id))
    return table.record(record_id)


def new_id(dataset: Dataset, resource: str) -> int:
    table = dataset[resource]
    return dataset.next_id(resource, lambda: max(table.ids(), default=0), taken=table)


def search_values(table: Table, *names: str) -> Iterator[tuple]:
    """The named columns of every search row: a scan without decoding the records."""
    indexes = [[column.name for column in table.resource.columns].index(name) for name in names]
    return (tuple(row[index] for index in indexes) for row in table.search_rows())
