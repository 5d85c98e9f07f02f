"""Custom-field writes: the JSON-Patch PATCH of an order's, a contact's or a product's custom fields.

What a field takes and how the answer reads is `custom_fields.py`'s; this stores the change. It
leaves `updatedOn` as it was and raises no event: changing custom fields is known not to bump it
(brightpearl-api.md §8.10), which is why a connector's lookback exists.
"""

from __future__ import annotations

from typing import Any

from ..custom_fields import Owner, patch, record_of, set_values
from .framework import WriteCall


def patch_custom_fields(owner: Owner, call: WriteCall) -> dict[str, Any]:
    """Answers the record's custom fields after the change, as the recorded PATCH does."""
    record = record_of(call.dataset, owner, call.ids["recordId"])
    record["customFields"] = patch(call.dataset, owner, record, call.body)
    call.dataset[owner.resource].put(record)
    return set_values(record)
