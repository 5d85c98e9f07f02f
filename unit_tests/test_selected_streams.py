"""`read` builds only the streams its catalog selects (source.py `_read_selected_streams`)."""

import json
import re

import responses
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read as entrypoint_read

from source_brightpearl.source import SourceBrightpearl
from unit_tests.builders import ConfigBuilder, api_url, order, run_read, search_body

ORDER_GET = re.compile(re.escape(api_url("order-service/order/")) + r"[0-9,-]+")


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


def _serve_three_orders(mocked: responses.RequestsMock, on_id_set=lambda: None) -> None:
    mocked.get(api_url("order-service/order-search"), json=search_body("orderId", [1, 2, 3], first=1, total=3))

    def id_set(request):
        on_id_set()
        return 200, {}, json.dumps({"response": [order(i) for i in (1, 2, 3)]})

    mocked.add_callback(responses.GET, ORDER_GET, callback=id_set)


def _orders_source():
    config = ConfigBuilder().build()
    catalog = CatalogBuilder().with_stream("orders", SyncMode.full_refresh).build()
    return SourceBrightpearl(config=config, catalog=catalog), config, catalog


def test_given_a_read_when_its_streams_are_built_then_the_source_no_longer_holds_the_resolved_manifest():
    source, config, catalog = _orders_source()
    manifest = source.resolved_manifest
    held_during_read: list[bool] = []
    with responses.RequestsMock() as mocked:
        _serve_three_orders(mocked, lambda: held_during_read.append(manifest in list(vars(source).values())))
        output = entrypoint_read(source, config, catalog)
    assert len(output.records) == 3
    assert held_during_read == [False]


def test_given_a_source_that_has_read_when_its_resolved_manifest_is_asked_for_then_it_is_read_again_whole():
    source, config, catalog = _orders_source()
    manifest = source.resolved_manifest
    with responses.RequestsMock() as mocked:
        _serve_three_orders(mocked)
        entrypoint_read(source, config, catalog)
    assert source.resolved_manifest == manifest
