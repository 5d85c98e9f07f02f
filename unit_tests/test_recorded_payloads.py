"""Real answers through the connector: bodies that a client library recorded against live Brightpearl
accounts (`unit_tests/resource/recorded/`, each naming its cassette) are served with `responses`, and
every record the read emits must validate against the stream's declared schema, with no field the
schema does not describe and `date-time` formats checked.

The ID searches in front of ID-set GETs are built here (`search_body`): only the IDs they carry
matter, and the recorded GETs answer whatever IDs are asked.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import responses

from unit_tests.builders import ConfigBuilder, api_url, run_command, run_read, schema_errors, search_body

RECORDED = Path(__file__).parent / "resource" / "recorded"
CUSTOM_FIELD_METADATA = (
    "order-service/sale/custom-field-meta-data",
    "order-service/purchase/custom-field-meta-data",
    "product-service/product/custom-field-meta-data",
)


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text())["body"]


@dataclass(frozen=True)
class Recording:
    """A stream's recorded answer: `body` for `path`; for an ID-set stream, the `search` (and its
    `id_column`) that lists the IDs, each record's ID being its `id_key` (or its key in a map)."""

    path: str
    body: dict[str, Any]
    search: str | None = None
    id_column: str = ""
    id_key: str = ""

    def ids(self) -> list[int]:
        response = self.body["response"]
        if isinstance(response, dict):
            return sorted(int(record_id) for record_id in response)
        return sorted(record[self.id_key] for record in response)


def _merged(*names: str) -> dict[str, Any]:
    """One ID-set GET answer holding the records of several recordings (the read asks for all at once)."""
    return {"response": [record for name in names for record in recorded(name)["response"]]}


ORDERS = Recording(
    "order-service/order",
    _merged("order_get_multiple", "order_get_one_po"),
    "order-service/order-search",
    "orderId",
    "id",
)
AVAILABILITY = Recording(
    "warehouse-service/product-availability",
    recorded("product_availability_get"),
    "product-service/product-search",
    "productId",
)
RECORDINGS = {
    "orders": ORDERS,
    "order_rows": ORDERS,
    "products": Recording(
        "product-service/product", recorded("product_get_multiple"), "product-service/product-search", "productId", "id"
    ),
    "product_prices": Recording(
        "product-service/product-price",
        recorded("product_price_get"),
        "product-service/product-search",
        "productId",
        "productId",
    ),
    "product_availability": AVAILABILITY,
    "product_availability_totals": AVAILABILITY,
    "goods_out_notes": Recording(
        "warehouse-service/order/*/goods-note/goods-out",
        recorded("goods_out_note_get"),
        "warehouse-service/goods-note/goods-out-search",
        "goodsOutNoteId",
    ),
    "contacts": Recording(
        "contact-service/contact", recorded("contact_get"), "contact-service/contact-search", "contactId", "contactId"
    ),
    "tax_codes": Recording("accounting-service/tax-code", recorded("tax_code_get")),
    "price_lists": Recording("product-service/price-list", recorded("price_list_get")),
    "order_statuses": Recording("order-service/order-status", recorded("order_status_get")),
    "order_shipping_statuses": Recording("order-service/order-shipping-status", recorded("order_shipping_status_get")),
    "customer_payments": Recording("accounting-service/customer-payment-search", recorded("customer_payment_search")),
}


def _answer(mocked: responses.RequestsMock, path: str, body: Mapping[str, Any]) -> None:
    """`body` for the path, with or without an ID set and a query after it."""
    mocked.add(responses.GET, re.compile(re.escape(api_url(path)) + r"(/[^?]*)?(\?.*)?$"), json=body)


def _answer_metadata(mocked: responses.RequestsMock, metadata: Mapping[str, list[Any]]) -> None:
    for path in CUSTOM_FIELD_METADATA:
        mocked.add(responses.GET, api_url(path), json={"response": metadata.get(path, [])})


@functools.cache
def _discovered_schemas(metadata_json: str) -> dict[str, dict[str, Any]]:
    """Each stream's discovered schema, by name, the account's custom-field metadata being `metadata_json`:
    discover asks for nothing else, so one discover per metadata serves every stream."""
    with responses.RequestsMock() as mocked:
        _answer_metadata(mocked, json.loads(metadata_json))
        catalog = run_command("discover", ConfigBuilder().build()).catalog.catalog
        assert len(mocked.calls) == len(CUSTOM_FIELD_METADATA), [call.request.url for call in mocked.calls]
    return {entry.name: entry.json_schema for entry in catalog.streams}


def _read_with_schema(
    stream: str, recording: Recording | None = None, metadata: dict[str, list[Any]] | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The stream's records and its discovered schema, the account answering as `recording` (the
    stream's own by default) and its custom-field metadata as `metadata` (none by default)."""
    recording = recording or RECORDINGS[stream]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        _answer_metadata(mocked, metadata or {})
        if recording.search:
            ids = recording.ids()
            mocked.add(
                responses.GET,
                re.compile(re.escape(api_url(recording.search)) + r"(\?.*)?$"),
                json=search_body(recording.id_column, ids, 1, len(ids)),
            )
        _answer(mocked, recording.path, recording.body)
        output = run_read(ConfigBuilder().build(), stream)
    schema = _discovered_schemas(json.dumps(metadata or {}, sort_keys=True))[stream]
    return [message.record.data for message in output.records], schema


@pytest.mark.parametrize("stream", sorted(RECORDINGS))
def test_given_a_recorded_answer_when_read_then_every_record_validates_against_the_declared_schema(stream):
    records, schema = _read_with_schema(stream)
    assert records
    assert schema_errors(schema, records)[:5] == []


def test_given_recorded_availability_when_read_then_each_products_total_block_is_a_record():
    records, _ = _read_with_schema("product_availability_totals")
    assert sorted(records, key=lambda record: record["productId"]) == [
        {"inStock": 4, "onHand": 4, "allocated": 0, "inTransit": 0, "productId": 1007},
        {"inStock": 60, "onHand": 48, "allocated": 12, "inTransit": 0, "productId": 1532},
    ]


def test_given_a_recorded_custom_field_value_not_in_rfc_3339_when_read_as_a_date_field_then_the_order_validates():
    """Values from the recorded custom fields of an order; their types are not on record: the two
    SELECT objects are typed SELECT, `PCF_ETAORIG` DATE (the case at stake), the rest TEXT. The order
    around them is a recorded order of the same account."""
    values = recorded("order_custom_field_patch")["response"]
    types = {code: "SELECT" if isinstance(value, dict) else "TEXT" for code, value in values.items()}
    types["PCF_ETAORIG"] = "DATE"
    metadata = [
        {"id": number, "code": code, "name": code, "customFieldType": field_type, "required": False}
        for number, (code, field_type) in enumerate(sorted(types.items()), start=1)
    ]
    order = {**recorded("order_get_multiple")["response"][1], "customFields": values}
    records, schema = _read_with_schema(
        "orders", replace(ORDERS, body={"response": [order]}), {"order-service/sale/custom-field-meta-data": metadata}
    )
    assert schema["properties"]["customFields"]["properties"]["PCF_ETAORIG"]["type"] == ["null", "string"]
    assert [record["customFields"]["PCF_ETAORIG"] for record in records] == ["2023-03-06 17:22:26 -0600"]
    assert schema_errors(schema, records) == []
