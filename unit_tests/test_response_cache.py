"""Responses are cached only where another stream being built reads them again
(source.py `_cache_only_shared_responses`)."""

from __future__ import annotations

import copy
import json
import re

import responses

from source_brightpearl.source import SourceBrightpearl, _cache_only_shared_responses, _collect_requesters
from unit_tests.builders import ConfigBuilder, api_url, order, run_read, search_body

ID_SETS = re.compile(re.escape(api_url("order-service/order/")) + r"[0-9,-]+")
SALE_CUSTOM_FIELDS = api_url("order-service/sale/custom-field-meta-data")


def _orders_answered(mocked: responses.RequestsMock) -> None:
    mocked.get(api_url("order-service/order-search"), json=search_body("orderId", [1, 2, 3], first=1, total=3))
    mocked.get(ID_SETS, body=json.dumps({"response": [order(i, row_ids=[10 * i]) for i in (1, 2, 3)]}))
    mocked.get(SALE_CUSTOM_FIELDS, json={"response": [{"id": 5, "code": "PCF_GIFT", "customFieldType": "BOOLEAN"}]})
    mocked.get(api_url("order-service/purchase/custom-field-meta-data"), json={"response": []})


def _calls_to(mocked: responses.RequestsMock, url: str | re.Pattern) -> int:
    matches = url.match if isinstance(url, re.Pattern) else url.__eq__
    return sum(bool(matches(call.request.url.split("?")[0])) for call in mocked.calls)


def _stream_requesters_caching(*names: str) -> dict[str, bool]:
    """Each stream definition's requester (the streams named and their parents): cached or not."""
    source = SourceBrightpearl(config=ConfigBuilder().build())
    configs = [config for config in source._stream_configs(source._source_config) if config["name"] in names]
    definitions: list = []
    for config in _cache_only_shared_responses(copy.deepcopy(configs)):
        _collect_requesters(config, definitions, [])
    return {definition["name"]: definition["retriever"]["requester"].get("use_cache") for definition in definitions}


def test_given_orders_alone_when_built_then_neither_its_id_sets_nor_its_search_are_cached() -> None:
    assert _stream_requesters_caching("orders") == {"orders": False, "order_search": False}


def test_given_orders_and_order_rows_when_built_then_both_keep_the_cache_they_share() -> None:
    caching = _stream_requesters_caching("orders", "order_rows")

    assert caching == {"orders": True, "order_rows": True, "order_search": True}


def test_given_orders_and_order_rows_when_read_then_each_id_set_is_asked_once() -> None:
    with responses.RequestsMock() as mocked:
        _orders_answered(mocked)
        output = run_read(ConfigBuilder().build(), "orders", "order_rows")

        assert _calls_to(mocked, ID_SETS) == 1
    assert sorted(record.record.stream for record in output.records) == ["order_rows"] * 3 + ["orders"] * 3


def test_given_orders_and_their_custom_fields_when_read_then_the_metadata_is_asked_once() -> None:
    with responses.RequestsMock() as mocked:
        _orders_answered(mocked)
        output = run_read(ConfigBuilder().build(), "orders", "sales_order_custom_fields")

        assert _calls_to(mocked, SALE_CUSTOM_FIELDS) == 1
    assert [record.record.data["id"] for record in output.records if record.record.stream != "orders"] == [5]
