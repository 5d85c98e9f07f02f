"""Per-record custom fields: `{order|contact|product}/{id}/custom-field`, read (GET) and changed (PATCH).

A record keeps its values in `customFields`, keyed by field code, an unset field as None; the GET
answers the set ones as a map (`{"response": {"PCF_CODE": value}}`, as recorded). Which fields a
record has comes from its kind's metadata table (`sale-custom-field`, `supplier-custom-field`...):
a PATCH (RFC 6902, on the GET's map) that names another code, or gives a value its type cannot
hold, is refused whole. Values are read as the recorded PATCH answers show: an INTEGER field takes
`"1234567890"` and answers `1234567890`; a SELECT takes `{"id": 137}` and answers the option's
`{"id": 137, "value": "…"}`. A DATE keeps the text it was given (real values are not all RFC 3339).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors
from .resources import Record
from .store import Dataset, patched


@dataclass(frozen=True)
class Owner:
    """A resource whose records carry custom fields, and how a record names its kind of fields."""

    path: str  # under the account: `order-service/order`
    resource: str
    kind: Callable[[Record], str]


OWNERS = (
    Owner(
        "order-service/order", "order", lambda order: "sale" if order["orderTypeCode"] in ("SO", "SC") else "purchase"
    ),
    Owner(
        "contact-service/contact",
        "contact",
        lambda contact: "supplier" if contact["relationshipToAccount"]["isSupplier"] else "customer",
    ),
    Owner("product-service/product", "product", lambda product: "product"),
)
_PATH = re.compile(r"^(?P<owner>[a-z-]+/[a-z-]+)/(?P<id>[1-9][0-9]{0,17})/custom-field/?$")


def owner_of(path: str) -> tuple[Owner, int] | None:
    """The owner and record ID a `…/{id}/custom-field` path names, or None for any other path."""
    match = _PATH.match(path)
    owner = next((owner for owner in OWNERS if match and owner.path == match.group("owner")), None)
    return None if owner is None else (owner, int(match.group("id")))


def record_of(dataset: Dataset, owner: Owner, record_id: int) -> Record:
    table = dataset[owner.resource]
    if record_id not in table:
        raise errors.not_found(f"No {owner.resource} found with ID {record_id}")
    return table.record(record_id)


def set_values(record: Record) -> dict[str, Any]:
    """The record's custom fields that have a value, as the GET answers them."""
    return {code: value for code, value in (record.get("customFields") or {}).items() if value is not None}


def patch(dataset: Dataset, owner: Owner, record: Record, operations: Any) -> dict[str, Any]:
    """Apply a JSON Patch to the record's set custom fields; returns the new `customFields` (None for unset)."""
    changed = patched(set_values(record), operations)
    kind = owner.kind(record)
    fields = {field["code"]: field for field in dataset[f"{kind}-custom-field"].records()}
    unknown = sorted(set(changed) - set(fields))
    if unknown:
        raise errors.bad_request(
            f"{', '.join(unknown)} is not a {kind} custom field; "
            f"the {kind} custom fields are {', '.join(sorted(fields))}"
        )
    return {code: _value(field, changed[code]) if code in changed else None for code, field in fields.items()}


def _value(field: Record, value: Any) -> Any:
    """`value` as a field of this type holds it; a 400 naming the field when it cannot."""
    code, kind = field["code"], field["customFieldType"]
    if value is None:
        return None
    if kind == "INTEGER":
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,18}", value.strip()):
            return int(value)
        if type(value) is int:
            return value
    elif kind == "YESNO":
        if isinstance(value, bool):
            return value
    elif kind == "SELECT":
        option_id = value.get("id") if isinstance(value, dict) else None
        option = (field.get("options") or {}).get(str(option_id)) if type(option_id) is int else None
        if option is not None:
            return {"id": option["id"], "value": option["value"]}
        choices = ", ".join(str(option["id"]) for option in (field.get("options") or {}).values())
        raise errors.bad_request(f'{code} takes {{"id": <option>}} with an option of {choices}, not {value!r}')
    elif isinstance(value, str):  # TEXT, TEXTAREA, DATE
        return value
    raise errors.bad_request(f"{code} is a {kind} custom field and cannot hold {value!r}")
