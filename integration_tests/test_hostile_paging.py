"""Searches on a live account and searches whose pages do not add up, over real sockets.

Brightpearl's search pages are an offset window over records that change while they are read: orders
deleted or created between two pages must not hide any other order, and a search whose `lastResult`
stops advancing, or that always says `morePagesAvailable`, must end the read with an error after a
few calls instead of looping. An order created and never changed has an empty `updatedOn` cell in the
search (its GET has the date), so the next incremental sync must find it by its creation date.

The account has 1300 orders: the order search has three pages (500 rows, then 499 after the row of
overlap). Each case syncs `orders` alone, as a real connector process, through the hostile proxy.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from integration_tests import hostile as behave
from integration_tests.connector_process import ConnectorRun, account_token_config, run_connector
from integration_tests.hostile import HostileServer, Rule
from mock_server.testing import MockServer

ORDERS = 1300
ORDER_SEARCH = "order-service/order-search"
# Far enough back for every seeded order: the searches are then filtered (updatedOn, then createdOn).
START_DATE = "2000-01-01T00:00:00Z"


@pytest.fixture
def mock() -> MockServer:
    with MockServer(orders=ORDERS) as server:
        yield server


@pytest.fixture
def proxy(mock: MockServer) -> HostileServer:
    with HostileServer(mock.base_url) as server:
        yield server


def _sync(tmp_path: Path, config: dict[str, Any], stream: str = "orders", state: dict | None = None) -> ConnectorRun:
    """An incremental sync of one stream, from `state` (the stream's own state) if given."""
    work_dir = tmp_path / f"sync-{len(list(tmp_path.glob('sync-*')))}"
    work_dir.mkdir(parents=True)
    catalog = {
        "streams": [
            {
                "stream": {"name": stream, "json_schema": {}, "supported_sync_modes": ["incremental"]},
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
            }
        ]
    }
    (work_dir / "config.json").write_text(json.dumps(config))
    (work_dir / "catalog.json").write_text(json.dumps(catalog))
    args = ["read", "--config", str(work_dir / "config.json"), "--catalog", str(work_dir / "catalog.json")]
    if state is not None:
        (work_dir / "state.json").write_text(
            json.dumps([{"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": state}}])
        )
        args += ["--state", str(work_dir / "state.json")]
    return run_connector(work_dir, *args)


def _ids(run: ConnectorRun, key: str = "id") -> set[int]:
    return {message["record"]["data"][key] for message in run.of_type("RECORD")}


def _final_state(run: ConnectorRun) -> dict[str, Any]:
    return run.of_type("STATE")[-1]["state"]["stream"]["stream_state"]


def _order_ids(mock: MockServer) -> set[int]:
    rows, first = [], 1
    while True:
        response = mock.session.get(
            mock.api_url(ORDER_SEARCH),
            headers=mock.auth_headers(),
            timeout=30,
            params={"columns": "orderId", "firstResult": first},
        )
        answer = response.json()["response"]
        rows += [row[0] for row in answer["results"]]
        if not answer["metaData"]["morePagesAvailable"]:
            return set(rows)
        first = answer["metaData"]["lastResult"] + 1


def _config(mock: MockServer, proxy: HostileServer, **more: Any) -> dict[str, Any]:
    return {**account_token_config(mock), "api_domain": proxy.base_url, **more}


def _searches(proxy: HostileServer) -> list[str]:
    return [seen.path_qs for seen in proxy.seen if ORDER_SEARCH in seen.path_qs]


def _delete(mock: MockServer, order_ids: list[int]):
    def side_effect(seen: behave.Seen) -> None:
        for order_id in order_ids:
            mock.mutate(resource="order", action="delete", id=order_id)

    return side_effect


def _create(mock: MockServer, count: int, created: list[int]):
    def side_effect(seen: behave.Seen) -> None:
        created.extend(mock.mutate(resource="order", action="create", template_id=100001)["id"] for _ in range(count))

    return side_effect


def _errors(run: ConnectorRun) -> list[dict[str, Any]]:
    return run.errors()


# ---------------------------------------------------------------- records deleted or created while paged


@pytest.mark.hostile
def test_given_orders_of_the_first_page_deleted_before_the_second_when_synced_then_every_surviving_order_arrives(
    tmp_path, mock, proxy
):
    deleted = [100001, 100002, 100003, 100004, 100005]
    rule = Rule(path=ORDER_SEARCH, behaviour=behave.before(_delete(mock, deleted)), after=1)
    proxy.add(rule)

    run = _sync(tmp_path, _config(mock, proxy))

    assert run.exit_code == 0, run.stderr[-3000:]
    assert proxy.fired(rule) == 1
    assert _ids(run) >= _order_ids(mock)
    assert len(_order_ids(mock)) == ORDERS - len(deleted)


@pytest.mark.hostile
def test_given_orders_deleted_while_a_filtered_search_is_paged_when_synced_and_synced_again_then_every_survivor_arrives(
    tmp_path, mock, proxy
):
    deleted = [100010, 100020, 100030]
    proxy.add(Rule(path=f"{ORDER_SEARCH}?updatedOn=", behaviour=behave.before(_delete(mock, deleted)), after=1))
    config = _config(mock, proxy, start_date=START_DATE)

    first = _sync(tmp_path, config)
    second = _sync(tmp_path, config, state=_final_state(first))

    assert first.exit_code == second.exit_code == 0, first.stderr[-3000:] + second.stderr[-3000:]
    assert _ids(first) | _ids(second) >= _order_ids(mock)


@pytest.mark.hostile
def test_given_orders_created_while_a_filtered_search_is_paged_when_synced_then_they_arrive_with_every_other(
    tmp_path, mock, proxy
):
    created: list[int] = []
    proxy.add(Rule(path=f"{ORDER_SEARCH}?updatedOn=", behaviour=behave.before(_create(mock, 3, created)), after=1))

    run = _sync(tmp_path, _config(mock, proxy, start_date=START_DATE))

    assert run.exit_code == 0, run.stderr[-3000:]
    assert len(created) == 3
    assert _ids(run) >= _order_ids(mock) >= set(created)


# ---------------------------------------------------------------- pages that do not add up


def _error_of(run: ConnectorRun) -> dict[str, Any]:
    errors = [error for error in _errors(run) if "order-search" in error["message"]]
    assert errors, [error["message"] for error in _errors(run)]
    return errors[0]


def _failed_sync_with_search_metadata(tmp_path, mock, proxy, **metadata: Any) -> dict[str, Any]:
    """The order search's error in a sync that failed with every search page's metaData updated with
    `metadata`."""

    def rewritten(body: dict[str, Any]) -> dict[str, Any]:
        body["response"]["metaData"].update(metadata)
        return body

    proxy.add(Rule(path=ORDER_SEARCH, behaviour=behave.rewrite_json(rewritten), count=None))
    run = _sync(tmp_path, _config(mock, proxy))
    assert run.exit_code != 0
    return _error_of(run)


@pytest.mark.hostile
def test_given_a_last_result_that_stops_advancing_when_synced_then_the_read_fails_transient_after_a_few_calls(
    tmp_path, mock, proxy
):
    error = _failed_sync_with_search_metadata(tmp_path, mock, proxy, lastResult=500, morePagesAvailable=True)

    assert error["failure_type"] == "transient_error"
    assert "lastResult (500) does not advance" in error["message"]
    assert len(_searches(proxy)) <= 3


@pytest.mark.hostile
def test_given_more_pages_always_available_when_synced_then_the_read_fails_transient_at_results_available(
    tmp_path, mock, proxy
):
    error = _failed_sync_with_search_metadata(tmp_path, mock, proxy, morePagesAvailable=True)

    assert error["failure_type"] == "transient_error"
    assert f"resultsAvailable is {ORDERS}" in error["message"]
    assert len(_searches(proxy)) == 3


# ---------------------------------------------------------------- records the updatedOn filter leaves out


@pytest.mark.parametrize("stream, resource, key", [("orders", "order", "id"), ("contacts", "contact", "contactId")])
def test_given_a_record_created_after_the_cursor_and_never_changed_when_the_next_sync_runs_then_it_arrives(
    tmp_path, mock, stream, resource, key
):
    config = account_token_config(mock)
    state = _final_state(_sync(tmp_path, config, stream))

    created = mock.mutate(resource=resource, action="create")["id"]
    after = _sync(tmp_path, config, stream, state)

    assert after.exit_code == 0, after.stderr[-3000:]
    assert created in _ids(after, key)


def test_given_a_never_changed_order_found_by_its_creation_when_the_sync_ends_then_the_state_is_its_creation_date(
    tmp_path, mock
):
    config = account_token_config(mock)
    state = _final_state(_sync(tmp_path, config))
    created = mock.mutate(resource="order", action="create")

    found = _sync(tmp_path, config, state=state)

    cursors = _final_state(found)
    created_on = datetime.fromisoformat(created["updatedOn"]).replace(microsecond=0)
    assert datetime.fromisoformat(cursors["parent_state"]["order_search"]["updatedOn"]) == created_on
    assert datetime.fromisoformat(cursors["state"]["updatedOn"]) == created_on
