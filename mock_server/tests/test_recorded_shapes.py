"""The mock's answers against real ones: answers a client library recorded against live accounts
(`unit_tests/resource/recorded/`, each naming its cassette) set the fields, the JSON types and the
search columns the mock must have. A recorded field the mock never sends, or sends with another type,
fails; the mock may send more (real records omit unset fields, and other accounts set more)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from mock_server.registry import REGISTRY

RECORDED = Path(__file__).resolve().parents[2] / "unit_tests" / "resource" / "recorded"


def recorded(name: str) -> Any:
    return json.loads((RECORDED / f"{name}.json").read_text())["body"]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", dict: "object", list: "array"}[type(value)]


def shape(value: Any, path: str = "", into: dict | None = None) -> dict[str, set[str]]:
    """Every path in `value` and the JSON types seen there; `<id>` stands for the keys of a map keyed by
    ID, `[]` for list items."""
    into = {} if into is None else into
    into.setdefault(path, set()).add(_json_type(value))
    if isinstance(value, dict):
        keyed_by_id = bool(value) and all(key.isdigit() for key in value)
        for key, item in value.items():
            shape(item, f"{path}.{'<id>' if keyed_by_id else key}", into)
    elif isinstance(value, list):
        for item in value:
            shape(item, f"{path}[]", into)
    return into


def shape_of_all(records: Iterable[Any]) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for record in records:
        for path, types in shape(record).items():
            merged.setdefault(path, set()).update(types)
    return merged


def differences(real: Iterable[Any], mocked: Iterable[Any]) -> list[str]:
    """Recorded paths the mock never sends, and recorded non-null types it never sends there."""
    mock_shape = shape_of_all(mocked)
    problems = []
    for path, types in sorted(shape_of_all(real).items()):
        if path not in mock_shape:
            problems.append(f"{path or '<record>'}: recorded, never sent by the mock")
        elif types - {"null"} - mock_shape[path]:
            problems.append(f"{path}: recorded as {sorted(types)}, the mock sends {sorted(mock_shape[path])}")
    return problems


def _service_path(resource_name: str, attribute: str) -> str:
    resource = REGISTRY[resource_name]
    return f"{resource.service}-service/{getattr(resource, attribute)}".replace("{parent}", "*")


# resources without a search of their own, keyed by product ID: the product search lists their IDs
BY_PRODUCT = {"product-price": {}, "product-availability": {"stockTracked": "true"}}


def mock_records(api, resource_name: str) -> list[Any]:
    """Records of the mock's GET: every record of a reference resource, else the first 200 a search lists."""
    resource = REGISTRY[resource_name]
    path = _service_path(resource_name, "get")
    if resource.get_all:
        return _records(api.search(path))
    search, filters = ("product", BY_PRODUCT[resource_name]) if resource_name in BY_PRODUCT else (resource_name, {})
    rows = api.search(_service_path(search, "search"), columns=REGISTRY[search].id_column.name, pageSize=200, **filters)
    return _records(api.search(f"{path}/{','.join(str(row[0]) for row in rows['response']['results'])}"))


def _records(body: Any) -> list[Any]:
    answer = body["response"]
    return list(answer.values()) if isinstance(answer, dict) else answer


@pytest.mark.parametrize(
    ("recording", "resource_name"),
    [
        ("order_get_multiple", "order"),
        ("order_get_one_po", "order"),
        ("product_get_multiple", "product"),
        ("tax_code_get", "tax-code"),
        ("goods_out_note_get", "goods-out-note"),
        ("contact_get", "contact"),
        ("product_price_get", "product-price"),
        ("price_list_get", "price-list"),
        ("order_status_get", "order-status"),
        ("order_shipping_status_get", "order-shipping-status"),
        ("product_availability_get", "product-availability"),
    ],
)
def test_given_a_recorded_get_when_the_mock_answers_the_same_get_then_it_sends_every_recorded_field_with_its_type(
    api, recording, resource_name
):
    assert differences(_records(recorded(recording)), mock_records(api, resource_name)) == []


@pytest.mark.parametrize(
    ("recording", "resource_name"),
    [
        ("order_search", "order"),
        ("product_search", "product"),
        ("contact_search", "contact"),
        ("customer_payment_search", "customer-payment"),
    ],
)
def test_given_a_recorded_search_when_the_mock_answers_it_then_its_columns_are_the_recorded_ones(
    api, recording, resource_name
):
    columns = api.search(_service_path(resource_name, "search"), pageSize=1)["response"]["metaData"]["columns"]
    assert columns == recorded(recording)["response"]["metaData"]["columns"]


def test_given_a_recorded_search_page_when_the_mock_answers_then_its_rows_have_the_recorded_cell_types(api):
    def rows(body):
        names = [column["name"] for column in body["response"]["metaData"]["columns"]]
        return [dict(zip(names, row)) for row in body["response"]["results"]]

    mocked = api.search(_service_path("customer-payment", "search"), pageSize=200)
    assert differences(rows(recorded("customer_payment_search")), rows(mocked)) == []


def test_given_an_order_search_when_the_mock_answers_then_shipping_statuses_are_named_by_description(api):
    """A recorded order search names status 1 in `reference.orderShippingStatusNames` by its description."""
    body = api.search(_service_path("order", "search"), pageSize=500)
    assert (
        body["reference"]["orderShippingStatusNames"]["1"]
        == (recorded("order_search")["reference"]["orderShippingStatusNames"]["1"])
    )
