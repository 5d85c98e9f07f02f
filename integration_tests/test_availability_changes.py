"""`product_availability_changes` against the mock: after each kind of stock change the next incremental
sync returns the changed product's new availability, and a sync with nothing changed sends no
availability GET.

The connector runs as a real process per sync, carrying its state from one sync to the next as the
Airbyte platform does; the changes are the API writes (and a control-API mutation) that move stock
in the mock, whose availability is derived from its goods movements and goods-out notes.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from integration_tests.conftest import messages, run_connector
from mock_server.testing import MockServer

STREAM = "product_availability_changes"
CATALOG = {
    "streams": [
        {
            "stream": {"name": STREAM, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "incremental",
            "destination_sync_mode": "append_dedup",
            "cursor_field": ["readOn"],
            "primary_key": [["productId"]],
        }
    ]
}
AVAILABILITY_GET = "GET warehouse-service/product-availability/{ids}"
SALES_ORDER, PURCHASE_ORDER = 1, 2


def _sync(mock: MockServer, tmp_path: Path, state: list[Any], **config: Any) -> dict[str, Any]:
    """One incremental sync: its records by product, the calls per route, its last state and exit code."""
    mock.reset_stats()
    result = run_connector(tmp_path, "read", config=mock.connector_config(**config), catalog=CATALOG, state=state)
    states = messages(result, "STATE")
    return {
        "records": {
            message["record"]["data"]["productId"]: message["record"]["data"] for message in messages(result, "RECORD")
        },
        "calls": {route: sum(statuses.values()) for route, statuses in mock.stats()["routes"].items()},
        "state": [states[-1]["state"]] if states else state,
        "returncode": result.returncode,
        "stderr": result.stderr,
        "traces": [message["trace"] for message in messages(result, "TRACE")],
    }


def _ok(sync: dict[str, Any]) -> dict[str, Any]:
    assert sync["returncode"] == 0, sync["stderr"][-3000:]
    return sync


def _api(mock: MockServer, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
    response = requests.request(
        method, mock.api_url(path), json=body, params=params, headers=mock.auth_headers(), timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json().get("response")


def _availability(mock: MockServer, product_id: int) -> dict[str, Any]:
    return _api(mock, "GET", f"warehouse-service/product-availability/{product_id}")[str(product_id)]


def _first_contact(mock: MockServer, order_type: int) -> int:
    search = _api(mock, "GET", "order-service/order-search", params={"orderTypeId": order_type, "columns": "contactId"})
    return search["results"][0][0]


def _new_order(mock: MockServer, order_type: int, product_id: int, quantity: int) -> tuple[int, int]:
    """A new sales or purchase order of one row: (order ID, row ID)."""
    code, party = {SALES_ORDER: ("SO", "customer"), PURCHASE_ORDER: ("PO", "supplier")}[order_type]
    order_id = _api(
        mock,
        "POST",
        "order-service/order",
        {
            "orderTypeCode": code,
            "parties": {party: {"contactId": _first_contact(mock, order_type)}},
            "rows": [{"productId": product_id, "quantity": {"magnitude": str(quantity)}}],
        },
    )
    [order] = _api(mock, "GET", f"order-service/order/{order_id}")
    return order_id, int(next(iter(order["orderRows"])))


def _correct_stock(mock: MockServer, product_id: int) -> None:
    _api(
        mock,
        "POST",
        "warehouse-service/warehouse/1/stock-correction",
        {"corrections": [{"productId": product_id, "quantity": 5, "reason": "Found in count"}]},
    )


def _receive_goods(mock: MockServer, product_id: int) -> None:
    order_id, row_id = _new_order(mock, PURCHASE_ORDER, product_id, 4)
    _api(
        mock,
        "POST",
        f"warehouse-service/order/{order_id}/goods-note/goods-in",
        {"warehouseId": 1, "goodsMoved": [{"purchaseOrderRowId": row_id, "quantity": 4}]},
    )


def _allocate(mock: MockServer, product_id: int) -> int:
    """A sales order of 2, allocated by a goods-out note: the note's ID."""
    order_id, row_id = _new_order(mock, SALES_ORDER, product_id, 2)
    [note_id] = _api(
        mock,
        "POST",
        f"warehouse-service/order/{order_id}/goods-note/goods-out",
        {"warehouses": [{"warehouseId": 1, "products": [{"salesOrderRowId": row_id, "quantity": 2}]}]},
    )
    return note_id


def _ship(mock: MockServer, note_id: int) -> None:
    _api(mock, "POST", f"warehouse-service/goods-note/goods-out/{note_id}/event", {"events": [{"eventCode": "SHW"}]})


def _mutate_a_movement(mock: MockServer, product_id: int) -> None:
    """A goods movement corrected as if in Brightpearl's own screens (the control API's mutations)."""
    search = _api(
        mock,
        "GET",
        "warehouse-service/goods-movement-search",
        params={"productId": product_id, "columns": "goodsMovementId,quantity"},
    )
    movement_id, quantity = search["results"][0]
    mock.mutate(resource="goods-movement", action="update", id=movement_id, changes={"quantity": quantity + 3})


KINDS = ["stock correction", "goods-in", "allocation", "goods-out shipped", "movement mutated"]


def _as_answered(record: dict[str, Any]) -> dict[str, Any]:
    """A record's figures in the shape of the availability GET: warehouses keyed by ID."""
    return {
        "total": record["total"],
        "warehouses": {
            str(row["warehouseId"]): {key: value for key, value in row.items() if key != "warehouseId"}
            for row in record["warehouses"]
        },
    }


@pytest.fixture(scope="module")
def journey(tmp_path_factory) -> dict[str, Any]:
    """A first sync, one with nothing changed, then one after each kind of change; then a sync whose
    availability GET fails after a change and one after it; then one whose last full read is old."""
    tmp_path = tmp_path_factory.mktemp("availability_changes")
    with MockServer(orders=200, rate_limit=0) as mock:
        first = _ok(_sync(mock, tmp_path, []))
        unchanged = _ok(_sync(mock, tmp_path, first["state"]))
        stocked = sorted(
            product_id
            for product_id, record in first["records"].items()
            if record["warehouses"]
            and record["warehouses"][0]["warehouseId"] == 1
            and record["warehouses"][0]["onHand"] >= 5
        )
        product_of = {
            "stock correction": stocked[0],
            "goods-in": stocked[1],
            "allocation": stocked[2],
            "goods-out shipped": stocked[2],  # the note that allocated it
            "movement mutated": stocked[3],
        }
        note_id = None
        changes, state = {}, unchanged["state"]
        for kind in KINDS:
            product_id = product_of[kind]
            before = _availability(mock, product_id)
            if kind == "stock correction":
                _correct_stock(mock, product_id)
            elif kind == "goods-in":
                _receive_goods(mock, product_id)
            elif kind == "allocation":
                note_id = _allocate(mock, product_id)
            elif kind == "goods-out shipped":
                _ship(mock, note_id)
            else:
                _mutate_a_movement(mock, product_id)
            after = _availability(mock, product_id)
            sync = _ok(_sync(mock, tmp_path, state))
            changes[kind] = {"product_id": product_id, "before": before, "after": after, "sync": sync}
            state = sync["state"]

        failing_product = stocked[4]
        _correct_stock(mock, failing_product)
        mock.add_fault(kind="token_expired", count=1, path="warehouse-service/product-availability")
        failed = _sync(mock, tmp_path, state)
        mock.clear_faults()
        resumed = _ok(_sync(mock, tmp_path, failed["state"]))

        old_sweep = copy.deepcopy(resumed["state"])
        old_sweep[0]["stream"]["stream_state"]["parent_state"]["stock_tracked_product_search"] = {
            "sweptOn": (datetime.now(UTC) - timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%S+0000")
        }
        swept = _ok(_sync(mock, tmp_path, old_sweep))
        never_swept_again = _ok(_sync(mock, tmp_path, old_sweep, availability_full_refresh_days=0))
        tracked = _api(
            mock, "GET", "product-service/product-search", params={"stockTracked": "true", "columns": "productId"}
        )
    return {
        "first": first,
        "unchanged": unchanged,
        "changes": changes,
        "failing_product": failing_product,
        "failed": failed,
        "resumed": resumed,
        "swept": swept,
        "never_swept_again": never_swept_again,
        "tracked": sorted(row[0] for row in tracked["results"]),
    }


def test_given_no_state_when_synced_then_every_stock_tracked_product_is_emitted(journey):
    first = journey["first"]

    assert sorted(first["records"]) == journey["tracked"]


def test_given_nothing_changed_when_synced_then_no_record_and_no_availability_get(journey):
    unchanged = journey["unchanged"]

    assert unchanged["records"] == {}
    assert AVAILABILITY_GET not in unchanged["calls"]
    assert sum(unchanged["calls"].values()) == 3  # goods movements since the cursor, orders updated or created


@pytest.mark.parametrize("kind", KINDS)
def test_given_a_stock_change_when_the_next_sync_runs_then_the_products_new_availability_is_emitted(journey, kind):
    change = journey["changes"][kind]

    record = change["sync"]["records"][change["product_id"]]

    assert change["after"] != change["before"]  # the mock's availability really moved
    assert _as_answered(record) == {"total": change["after"]["total"], "warehouses": change["after"]["warehouses"]}


@pytest.mark.parametrize("kind", KINDS)
def test_given_a_stock_change_when_the_next_sync_runs_then_only_products_changed_lately_are_reread(journey, kind):
    changed_so_far = {change["product_id"] for change in journey["changes"].values()}

    reread = set(journey["changes"][kind]["sync"]["records"])

    # the lookback window re-reads the products changed in the hour before the cursor, no others
    assert reread <= changed_so_far
    assert journey["changes"][kind]["sync"]["calls"][AVAILABILITY_GET] == 1


def test_given_the_availability_get_failing_when_the_sync_fails_then_its_state_does_not_pass_the_change(journey):
    failed, resumed = journey["failed"], journey["resumed"]

    assert failed["returncode"] != 0 and journey["failing_product"] not in failed["records"]
    assert [trace["error"]["failure_type"] for trace in failed["traces"] if trace["type"] == "ERROR"][:1] == [
        "config_error"
    ]
    assert journey["failing_product"] in resumed["records"]


def test_given_a_full_read_older_than_the_period_when_synced_then_every_stock_tracked_product_is_reread(journey):
    swept = journey["swept"]

    assert sorted(swept["records"]) == journey["tracked"]


def test_given_full_refresh_days_0_when_the_full_read_is_old_then_it_is_not_repeated(journey):
    never_swept_again = journey["never_swept_again"]

    assert "GET product-service/product-search" not in never_swept_again["calls"]
    assert len(never_swept_again["records"]) < len(journey["tracked"])
