"""`read` builds only the streams its catalog selects (source.py `_read_selected_streams`)."""

import json
import re

import responses
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource

from unit_tests.builders import ConfigBuilder, api_url, order, run_read, search_body


def test_given_a_catalog_selecting_orders_when_read_then_orders_alone_is_built_and_its_records_arrive(monkeypatch):
    built: list[str] = []
    create_streams = ConcurrentDeclarativeSource._create_streams

    def recording(self, selected_configs, all_configs):
        streams = create_streams(self, selected_configs, all_configs)
        built.extend(stream.name for stream in streams)
        return streams

    monkeypatch.setattr(ConcurrentDeclarativeSource, "_create_streams", recording)
    with responses.RequestsMock() as mocked:
        mocked.get(api_url("order-service/order-search"), json=search_body("orderId", [1, 2, 3], first=1, total=3))
        mocked.get(
            re.compile(re.escape(api_url("order-service/order/")) + r"[0-9,-]+"),
            body=json.dumps({"response": [order(i) for i in (1, 2, 3)]}),
        )
        output = run_read(ConfigBuilder().build(), "orders")
    assert built == ["orders"]
    assert sorted(record.record.data["id"] for record in output.records) == [1, 2, 3]
