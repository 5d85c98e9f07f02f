"""Incremental sync, delete listings and ID-set bisection, in-process against a mock over real sockets."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.state_builder import StateBuilder

from mock_server.testing import MockServer
from source_brightpearl.source import SourceBrightpearl

ORDERS = 600


@pytest.fixture(scope="module")
def mock() -> MockServer:
    with MockServer(orders=ORDERS, rate_limit=0) as server:
        yield server


def _read(mock: MockServer, stream: str, mode: SyncMode, state: list[Any] | None = None) -> EntrypointOutput:
    catalog = (
        CatalogBuilder()
        .with_stream(
            ConfiguredAirbyteStreamBuilder()
            .with_name(stream)
            .with_sync_mode(mode)
            .with_primary_key([["id"]] if stream == "orders" else [[f"{stream[:-4]}Id"]])
        )
        .build()
    )
    config = mock.connector_config()
    source = SourceBrightpearl(config=config, catalog=catalog, state=state)
    return read(source, config, catalog, state=state)


def _read_every_incremental_stream(mock: MockServer, state: list[Any] | None = None) -> EntrypointOutput:
    config = mock.connector_config()
    streams = (
        SourceBrightpearl(config=config, catalog=None, state=None)
        .discover(logging.getLogger("discover"), config)
        .streams
    )
    catalog = CatalogBuilder()
    for stream in streams:
        if SyncMode.incremental in stream.supported_sync_modes:
            catalog.with_stream(
                ConfiguredAirbyteStreamBuilder()
                .with_name(stream.name)
                .with_sync_mode(SyncMode.incremental)
                .with_primary_key(stream.source_defined_primary_key)
            )
    catalog = catalog.build()
    return read(SourceBrightpearl(config=config, catalog=catalog, state=state), config, catalog, state=state)


def _records(output: EntrypointOutput, stream: str) -> list[dict[str, Any]]:
    return [record.record.data for record in output.records if record.record.stream == stream]


@pytest.fixture(scope="module")
def two_syncs() -> dict[str, Any]:
    """Every incremental stream synced from scratch, then again from its final state with nothing changed.

    On a mock of its own: the CDK's response cache is shared by every read in this process, so a
    search URL another test already sent would be answered from the cache and not counted.
    """
    with MockServer(orders=ORDERS, rate_limit=0) as mock:
        first = _read_every_incremental_stream(mock)
        states = {
            message.state.stream.stream_descriptor.name: message.state.stream.stream_state.__dict__
            for message in first.state_messages
        }
        state = StateBuilder()
        for name, stream_state in states.items():
            state.with_stream_state(name, stream_state)
        mock.reset_stats()
        second = _read_every_incremental_stream(mock, state.build())
        return {"first": first, "second": second, "streams": sorted(states), "routes": mock.stats()["routes"]}


def _calls(mock: MockServer, route_part: str) -> int:
    return sum(sum(statuses.values()) for route, statuses in mock.stats()["routes"].items() if route_part in route)


def _final_state(output: EntrypointOutput) -> list[Any]:
    state = output.most_recent_state
    return StateBuilder().with_stream_state(state.stream_descriptor.name, state.stream_state.__dict__).build()


def test_given_orders_synced_when_nothing_changed_then_one_search_per_date_and_only_the_lookback_overlap_is_read(mock):
    first = _read(mock, "orders", SyncMode.incremental)
    mock.reset_stats()
    second = _read(mock, "orders", SyncMode.incremental, _final_state(first))
    assert len(first.records) == ORDERS
    # From `updatedOn`, then from `createdOn` (a never-updated order has no `updatedOn` in the search).
    assert _calls(mock, "order-search") == 2
    assert len(second.records) < 200  # only records updated within the lookback of the cursor


def test_given_orders_synced_when_37_change_then_the_next_sync_returns_them(mock):
    state = _final_state(_read(mock, "orders", SyncMode.incremental))
    mock.advance_clock(3 * 3600)  # past the lookback window
    changed = list(range(100101, 100138))
    for order_id in changed:
        mock.mutate(resource="order", action="update", id=order_id, changes={"reference": f"changed-{order_id}"})
    output = _read(mock, "orders", SyncMode.incremental, state)
    ids = {record.record.data["id"] for record in output.records}
    assert set(changed) <= ids
    assert all(
        record.record.data["reference"] == f"changed-{record.record.data['id']}"
        for record in output.records
        if record.record.data["id"] in changed
    )


def test_given_incremental_orders_when_stream_completes_then_a_log_line_gives_the_cursor_and_its_lag(mock):
    output = _read(mock, "orders", SyncMode.incremental)
    lines = [log.log.message for log in output.logs if "cursor is now" in log.log.message]
    assert len(lines) == 1 and lines[0].startswith("Stream 'orders' cursor is now ") and "behind now" in lines[0]


def test_given_deleted_orders_when_order_ids_read_then_they_are_missing(mock):
    deleted = [100201, 100202, 100203, 100204, 100205]
    for order_id in deleted:
        mock.mutate(resource="order", action="delete", id=order_id)
    output = _read(mock, "order_ids", SyncMode.full_refresh)
    ids = {record.record.data["orderId"] for record in output.records}
    assert not ids & set(deleted)
    assert len(ids) == mock.counts()["order"]


@pytest.mark.parametrize("bad_ids", [[100007], [100050, 100051]])
def test_given_bad_ids_in_a_set_of_200_when_read_orders_then_they_are_skipped_and_named_and_the_rest_arrive(
    mock, bad_ids
):
    mock.add_fault(kind="bad_id", ids=bad_ids, count=None)
    try:
        output = _read(mock, "orders", SyncMode.full_refresh)
    finally:
        mock.clear_faults()
    ids = {record.record.data["id"] for record in output.records}
    assert not ids & set(bad_ids)
    assert len(ids) == mock.counts()["order"] - len(bad_ids)
    warnings = [
        log.log.message for log in output.logs if log.log.level.value == "WARN" and "Skipping orders" in log.log.message
    ]
    assert sorted(warnings) == sorted(
        f"Skipping orders record {bad_id}: Brightpearl fails every GET that includes it (HTTP 400)."
        for bad_id in bad_ids
    )


def test_given_every_incremental_stream_synced_when_nothing_changed_then_each_search_runs_once_per_date(two_syncs):
    searches = {route: sum(statuses.values()) for route, statuses in two_syncs["routes"].items() if "-search" in route}
    # Every incremental stream has one search, but for `order_rows` (read from its orders) and
    # `categories` (one GET filtered client-side); the six whose search has `createdOn` search again
    # from the cursor on it (a never-updated record has no `updatedOn` in the search); two searches
    # serve two streams each: the order search (orders, credits) and the goods-movement search
    # (movements, stock corrections). `product_availability_changes` sends three: the goods movements
    # and the orders updated and created since its cursor (its sweep of every product is not due).
    created_passes = ["orders", "sales_credits", "sales_orders", "products", "contacts", "companies"]
    availability_changes = 3
    assert sum(searches.values()) == len(two_syncs["streams"]) - 3 + len(created_passes) + availability_changes, str(
        sorted(searches.items())
    )
    assert {route: calls for route, calls in searches.items() if calls > 1} == {
        "GET order-service/order-search": 4 + 2,
        "GET warehouse-service/goods-movement-search": 2 + 1,
        "GET order-service/sales-order-search": 2,
        "GET product-service/product-search": 2,
        "GET contact-service/contact-search": 2,
        "GET contact-service/company-search": 2,
    }


def test_given_every_incremental_stream_synced_when_nothing_changed_then_each_returns_only_its_lookback_overlap(
    two_syncs,
):
    first, second = two_syncs["first"], two_syncs["second"]
    grew = {
        name: (len(_records(first, name)), len(_records(second, name)))
        for name in two_syncs["streams"]
        if len(_records(second, name)) >= max(len(_records(first, name)), 2)
    }
    assert not grew, f"second sync re-read everything: {grew}"


def test_given_order_rows_synced_incrementally_then_each_row_carries_its_orders_updated_on(two_syncs):
    for output in (two_syncs["first"], two_syncs["second"]):
        updated_on = {order["id"]: order["updatedOn"] for order in _records(output, "orders")}
        rows = _records(output, "order_rows")
        assert rows and all(row["updatedOn"] == updated_on[row["orderId"]] for row in rows)
