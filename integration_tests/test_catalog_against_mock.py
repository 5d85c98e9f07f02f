"""The whole catalog against the mock, from the one shared read (`full_read`): keys, counts, schemas,
calls and typed custom fields; and the package's discover beside the CDK's, which builds every stream."""

from __future__ import annotations

import json
import logging
import math
import urllib.request
from datetime import datetime
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteCatalog, AirbyteMessage, AirbyteMessageSerializer, Type
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory

from bench.read_calls import STREAMS
from integration_tests.conftest import MockBrightpearl
from source_brightpearl.source import SourceBrightpearl
from unit_tests.builders import schema_errors


def _api(mock: MockBrightpearl, path: str) -> Any:
    request = urllib.request.Request(mock.server.api_url(path), headers=mock.server.auth_headers())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["response"]


def _search_rows(mock: MockBrightpearl, path: str, filters: dict[str, str]) -> int:
    query = "&".join([f"{key}={value}" for key, value in filters.items()] + ["countOnly=true"])
    return _api(mock, f"{path}?{query}")["metaData"]["resultsAvailable"]


def _option_ids(mock: MockBrightpearl, path: str) -> list:
    request = urllib.request.Request(mock.server.api_url(path), method="OPTIONS", headers=mock.server.auth_headers())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["response"]["getUris"]


def _children(mock: MockBrightpearl, get_path: str, count, query: str = "") -> int:
    """Child rows the mock holds: every record of `get_path`, fetched by the URIs its OPTIONS lists."""
    service = get_path.split("/")[0]
    return sum(count(body) for uri in _option_ids(mock, get_path) for body in [_api(mock, service + uri + query)])


def expected_records(mock: MockBrightpearl, full_read: dict[str, Any], name: str) -> int:
    stream = STREAMS[name]
    if name == "order_rows":
        return sum(len(order["orderRows"]) for order in full_read["records"]["orders"])
    if name == "product_prices":
        return _children(
            mock, "product-service/product-price", lambda body: sum(len(prices["priceLists"]) for prices in body)
        )
    if name == "product_availability":
        return _children(
            mock,
            "warehouse-service/product-availability",
            lambda body: sum(len(figures["warehouses"]) for figures in body.values()),
        )
    if name in ("product_availability_totals", "product_availability_changes"):
        return _children(mock, "warehouse-service/product-availability", len)
    if name == "product_availability_by_location":
        return _children(
            mock,
            "warehouse-service/product-availability",
            lambda body: sum(
                len(locations) for figures in body.values() for locations in figures["breakDownByLocation"].values()
            ),
            query="?includeOptional=breakDownByLocation",
        )
    if stream.get_all:
        return len(_api(mock, stream.get_all))
    if stream.get:
        return mock.control("health")["counts"][stream.get[2]]
    return _search_rows(mock, *stream.search)


def test_when_discover_then_at_least_45_streams_each_with_a_primary_key(full_read):
    streams = full_read["catalog"]["streams"]
    assert len(streams) >= 45
    assert [s["name"] for s in streams if not s.get("source_defined_primary_key")] == []


def test_when_discover_then_the_streams_are_the_bench_catalog(full_read):
    assert sorted(s["name"] for s in full_read["catalog"]["streams"]) == sorted(STREAMS)


def _printed_streams(catalog: AirbyteCatalog) -> dict[str, Any]:
    """The catalog's streams by name, as discover prints them."""
    printed = AirbyteMessageSerializer.dump(AirbyteMessage(type=Type.CATALOG, catalog=catalog))["catalog"]
    return {stream["name"]: stream for stream in printed["streams"]}


def test_given_the_mock_when_discover_then_each_stream_is_the_one_the_cdk_discovers_custom_fields_included(
    mock_brightpearl,
):
    config = mock_brightpearl.config()
    logger = logging.getLogger("airbyte")
    ours = _printed_streams(SourceBrightpearl(config=config).discover(logger, config))
    cdks = _printed_streams(ConcurrentDeclarativeSource.discover(SourceBrightpearl(config=config), logger, config))
    assert list(ours) == list(cdks)
    for name, stream in cdks.items():
        assert ours[name] == stream, name
    for name, metadata_paths in CUSTOM_FIELD_METADATA.items():
        codes = {field["code"] for path in metadata_paths for field in _api(mock_brightpearl, path)}
        assert codes and set(ours[name]["json_schema"]["properties"]["customFields"]["properties"]) == codes


def test_given_the_mock_when_discover_then_no_stream_is_built(mock_brightpearl, monkeypatch):
    def build_stream(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("discover built a stream")

    monkeypatch.setattr(ModelToComponentFactory, "create_default_stream", build_stream)
    config = mock_brightpearl.config()
    catalog = SourceBrightpearl(config=config).discover(logging.getLogger("airbyte"), config)
    assert len(catalog.streams) == len(STREAMS)


def test_when_read_then_exit_0_without_errors(full_read):
    from integration_tests.conftest import messages

    assert full_read["result"].returncode == 0
    assert [m for m in messages(full_read["result"], "TRACE") if m["trace"]["type"] == "ERROR"] == []


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_when_read_then_record_count_equals_what_the_mock_holds(mock_brightpearl, full_read, stream):
    assert len(full_read["records"][stream]) == expected_records(mock_brightpearl, full_read, stream)


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_when_read_then_primary_keys_are_unique(full_read, stream):
    key = next(s["source_defined_primary_key"] for s in full_read["catalog"]["streams"] if s["name"] == stream)
    values = [tuple(record[path[0]] for path in key) for record in full_read["records"][stream]]
    assert len(values) == len(set(values))


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_when_read_then_every_record_validates_against_its_schema_without_undeclared_fields(full_read, stream):
    schema = next(s["json_schema"] for s in full_read["catalog"]["streams"] if s["name"] == stream)
    assert schema_errors(schema, full_read["records"][stream])[:5] == []


def test_when_read_then_order_rows_are_the_rows_of_every_order(full_read):
    rows_in_orders = {
        (order["id"], row["rowId"]) for order in full_read["records"]["orders"] for row in order["orderRows"]
    }
    assert {(row["orderId"], row["rowId"]) for row in full_read["records"]["order_rows"]} == rows_in_orders


def test_when_read_then_child_streams_cost_no_call_beyond_their_parents_gets(mock_brightpearl, full_read):
    routes = full_read["stats"]["routes"]
    counts = mock_brightpearl.control("health")["counts"]
    assert sum(routes["GET product-service/product-price/{ids}"].values()) == math.ceil(counts["product-price"] / 200)
    assert sum(routes["GET warehouse-service/product-availability/{ids}"].values()) == math.ceil(
        counts["product-availability"] / 200
    )


def test_when_read_then_goods_out_notes_come_500_to_a_get(mock_brightpearl, full_read):
    routes = full_read["stats"]["routes"]
    notes = mock_brightpearl.control("health")["counts"]["goods-out-note"]
    assert sum(routes["GET warehouse-service/order/{parent}/goods-note/goods-out/{ids}"].values()) == math.ceil(
        notes / 500
    )


def test_when_read_then_reference_resources_cost_one_get_each(full_read):
    routes = full_read["stats"]["routes"]
    for stream in ("order_types", "price_lists", "tax_codes", "webhooks", "channels"):
        route = f"GET {STREAMS[stream].get_all}/{{ids}}"
        assert sum(routes[route].values()) == 1, route


# ------------------------------------------------------------------ custom fields

JSON_TYPE_CHECKS = {
    "TEXT": lambda value: isinstance(value, str),
    "TEXTAREA": lambda value: isinstance(value, str),
    "INTEGER": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "YESNO": lambda value: isinstance(value, bool),
    "DATE": lambda value: isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00")) is not None,
    "SELECT": lambda value: (
        isinstance(value, dict) and isinstance(value["id"], int) and isinstance(value["value"], str)
    ),
}
CUSTOM_FIELD_METADATA = {
    "orders": ["order-service/sale/custom-field-meta-data", "order-service/purchase/custom-field-meta-data"],
    "products": ["product-service/product/custom-field-meta-data"],
}


def test_given_custom_fields_of_every_type_when_read_then_each_typed_column_holds_values_of_its_json_type(
    mock_brightpearl, full_read
):
    seen_types = set()
    for stream, metadata_paths in CUSTOM_FIELD_METADATA.items():
        schema = next(s["json_schema"] for s in full_read["catalog"]["streams"] if s["name"] == stream)
        typed_columns = schema["properties"]["customFields"]["properties"]
        for field in (field for path in metadata_paths for field in _api(mock_brightpearl, path)):
            assert field["code"] in typed_columns
            values = [
                record["customFields"][field["code"]]
                for record in full_read["records"][stream]
                if (record.get("customFields") or {}).get(field["code"]) is not None
            ]
            assert values and all(JSON_TYPE_CHECKS[field["customFieldType"]](value) for value in values), field["code"]
            seen_types.add(field["customFieldType"])
    assert seen_types == set(JSON_TYPE_CHECKS)
