"""An order created through the API and then changed reaches the connector's next incremental syncs once per change.

The connector runs as a real process per sync (its own HTTP cache each time), carrying its state from
one sync to the next as the Airbyte platform does; the writes are the ones an order-sync app sends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from integration_tests.conftest import messages, run_connector
from mock_server.testing import MockServer

SALES_ORDER_TYPE = 1
NEW_STATUS = 2


# Only orders changed from a few minutes before the test: the first sync then reads no seeded history.
START_DATE = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
ORDERS_CATALOG = {
    "streams": [
        {
            "stream": {"name": "orders", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "incremental",
            "destination_sync_mode": "append_dedup",
            "cursor_field": ["updatedOn"],
            "primary_key": [["id"]],
        }
    ]
}


def _sync(mock: MockServer, tmp_path: Path, state: list[Any]) -> tuple[list[dict], list[Any]]:
    """One incremental sync of `orders` from `state`: its records and the state to start the next one from."""
    result = run_connector(
        tmp_path, "read", config=mock.connector_config(start_date=START_DATE), catalog=ORDERS_CATALOG, state=state
    )
    assert result.returncode == 0, result.stderr[-3000:]
    states = messages(result, "STATE")
    return [message["record"]["data"] for message in messages(result, "RECORD")], [states[-1]["state"]]


def _api(mock: MockServer, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
    response = requests.request(
        method, mock.api_url(path), json=body, params=params, headers=mock.auth_headers(), timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def _a_customer(mock: MockServer) -> int:
    search = _api(
        mock,
        "GET",
        "order-service/order-search",
        params={"orderTypeId": SALES_ORDER_TYPE, "columns": "contactId", "pageSize": 1},
    )
    return search["response"]["results"][0][0]


@pytest.fixture(scope="module")
def journey(tmp_path_factory) -> dict[str, Any]:
    """A first sync; an order POSTed; a sync; its status PUT; a sync; a sync with nothing changed."""
    tmp_path = tmp_path_factory.mktemp("api_writes")
    with MockServer(orders=200, rate_limit=0) as mock:
        _, state = _sync(mock, tmp_path, [])
        new_order = {
            "orderTypeCode": "SO",
            "reference": "SHOP-1001",
            "parties": {"customer": {"contactId": _a_customer(mock)}},
        }
        order_id = _api(mock, "POST", "order-service/order", new_order)["response"]
        after_create, state = _sync(mock, tmp_path, state)
        _api(mock, "PUT", f"order-service/order/{order_id}/status", {"orderStatusId": NEW_STATUS})
        after_change, state = _sync(mock, tmp_path, state)
        unchanged, _ = _sync(mock, tmp_path, state)
    return {"order_id": order_id, "syncs": [after_create, after_change, unchanged]}


def _versions(records: list[dict], order_id: int) -> list[dict]:
    return [record for record in records if record["id"] == order_id]


def _moment(record: dict) -> datetime:
    return datetime.fromisoformat(record["updatedOn"])


def test_given_an_order_posted_through_the_api_when_the_next_sync_runs_then_it_is_emitted(journey):
    after_create = journey["syncs"][0]

    [created] = _versions(after_create, journey["order_id"])

    assert created["reference"] == "SHOP-1001"


def test_given_its_status_put_through_the_api_when_the_next_sync_runs_then_the_changed_order_is_emitted(journey):
    [created] = _versions(journey["syncs"][0], journey["order_id"])

    [changed] = _versions(journey["syncs"][1], journey["order_id"])

    assert changed["orderStatus"]["orderStatusId"] == NEW_STATUS != created["orderStatus"]["orderStatusId"]
    assert _moment(changed) > _moment(created)


def test_given_every_sync_when_deduplicated_by_primary_key_and_cursor_then_the_order_appears_once_per_change(journey):
    [created] = _versions(journey["syncs"][0], journey["order_id"])
    emitted = [record for sync in journey["syncs"] for record in _versions(sync, journey["order_id"])]

    distinct = sorted({(record["id"], record["updatedOn"]): record for record in emitted}.values(), key=_moment)

    assert [record["orderStatus"]["orderStatusId"] for record in distinct] == [
        created["orderStatus"]["orderStatusId"],
        NEW_STATUS,
    ]
