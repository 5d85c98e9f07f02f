"""State never moves past the sync's start, and a `--state` cursor is read only when it is a date-time
no later than now (StreamCursors and SourceBrightpearl.read), against `responses`."""

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import responses
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput
from airbyte_cdk.test.entrypoint_wrapper import read as entrypoint_read
from airbyte_cdk.test.models import ExpectedOutcome
from airbyte_cdk.test.state_builder import StateBuilder

from source_brightpearl.source import SourceBrightpearl, _cursor_lag_log
from unit_tests.builders import ConfigBuilder, api_url, order, run_entry_point

ORDER_SEARCH = re.compile(re.escape(api_url("order-service/order-search")) + r".*")
ORDER_GET = re.compile(re.escape(api_url("order-service/order/")) + r"[^?]+")
FUTURE = "2031-05-04T10:00:00.000+01:00"


def _search_with_dates(rows: list[list[Any]]) -> dict[str, Any]:
    meta = {
        "morePagesAvailable": False,
        "resultsAvailable": len(rows),
        "resultsReturned": len(rows),
        "firstResult": 1,
        "lastResult": len(rows),
        "columns": [{"name": "orderId", "reportDataType": "IDSET"}, {"name": "updatedOn", "reportDataType": "PERIOD"}],
        "sorting": [],
    }
    return {"response": {"results": rows, "metaData": meta}, "reference": {}}


def _dated_order(order_id: int, updated_on: str) -> dict[str, Any]:
    return {**order(order_id), "updatedOn": updated_on}


def _read(state: Mapping[str, Any] | None = None) -> EntrypointOutput:
    config = ConfigBuilder().build()
    catalog = CatalogBuilder().with_stream("orders", SyncMode.incremental).build()
    states = StateBuilder().with_stream_state("orders", state).build() if state else None
    source = SourceBrightpearl(config=config, catalog=catalog, state=states)
    return entrypoint_read(source, config, catalog, state=states, expected_outcome=ExpectedOutcome.EXPECT_SUCCESS)


def _warnings(output: EntrypointOutput) -> list[str]:
    return [log.log.message for log in output.logs if log.log.level.value == "WARN"]


def _cursors(state: Mapping[str, Any]) -> list[datetime]:
    return [
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
        for value in (state["state"]["updatedOn"], state["parent_state"]["order_search"]["updatedOn"])
    ]


def _serve_orders(mocked: responses.RequestsMock, updated_on: Mapping[int, str]) -> None:
    mocked.get(ORDER_SEARCH, json=_search_with_dates([[order_id, value] for order_id, value in updated_on.items()]))
    mocked.get(ORDER_GET, json={"response": [_dated_order(order_id, value) for order_id, value in updated_on.items()]})


def test_given_an_order_updated_in_the_future_when_read_then_it_is_delivered_and_the_state_stops_at_the_sync_start():
    before = datetime.now(UTC).replace(microsecond=0)
    with responses.RequestsMock() as mocked:
        _serve_orders(mocked, {1: "2024-03-05T16:01:02.000Z", 2: FUTURE})
        output = _read()
    after = datetime.now(UTC)

    assert sorted(record.record.data["id"] for record in output.records) == [1, 2]
    assert all(before <= cursor <= after for cursor in _cursors(output.most_recent_state.stream_state.__dict__))


def test_given_an_order_updated_in_the_future_when_read_then_a_warning_names_the_stream_the_record_and_the_value():
    with responses.RequestsMock() as mocked:
        _serve_orders(mocked, {2: FUTURE})
        output = _read()

    assert any(
        warning.startswith(f"Stream 'orders' record 2 has updatedOn {FUTURE}, in the future: it is delivered")
        for warning in _warnings(output)
    )


def test_given_a_state_cursor_in_the_future_when_read_then_the_search_starts_from_now_with_a_warning():
    future = "2031-01-01T00:00:00+0000"
    state = {
        "use_global_cursor": True,
        "state": {"updatedOn": future},
        "lookback_window": 0,
        "parent_state": {"order_search": {"updatedOn": future}},
    }
    before = datetime.now(UTC).replace(microsecond=0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        _serve_orders(mocked, {})
        output = _read(state)
        search_url = next(unquote(call.request.url) for call in mocked.calls if "order-search" in call.request.url)

    searched_from = datetime.strptime(re.search(r"updatedOn=([^/]+)/", search_url).group(1), "%Y-%m-%dT%H:%M:%SZ")
    assert before - timedelta(hours=2) <= searched_from.replace(tzinfo=UTC) <= datetime.now(UTC)
    assert (
        "The state of stream 'orders' has parent_state.order_search.updatedOn 2031-01-01T00:00:00+0000, "
        "which is in the future; reading from now" in " ".join(_warnings(output))
    )


def test_given_a_state_cursor_in_an_odd_format_when_read_then_it_is_a_config_error_naming_the_stream(tmp_path: Path):
    config = ConfigBuilder().build()
    catalog = {
        "streams": [
            {
                "stream": {"name": "orders", "json_schema": {}, "supported_sync_modes": ["incremental"]},
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
            }
        ]
    }
    state = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "orders"}, "stream_state": {"state": {"updatedOn": "yesterday"}}},
        }
    ]
    result = run_entry_point(tmp_path, "read", config=config, catalog=catalog, state=state)

    errors = [json.loads(line)["trace"]["error"] for line in result.stdout.splitlines() if '"ERROR"' in line]
    assert result.returncode == 1
    assert [(error["failure_type"], error.get("stack_trace")) for error in errors] == [("config_error", None)]
    assert errors[0]["message"].startswith(
        "The state of stream 'orders' has state.updatedOn 'yesterday', "
        "which is not a date-time like 2024-01-31T00:00:00+0000."
    )
    assert "Traceback" not in result.stderr


def test_given_a_cursor_in_the_future_when_its_lag_is_logged_then_it_says_ahead_of_now_not_0_h_behind():
    ahead = (datetime.now(UTC) + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S+0000")

    message = _cursor_lag_log("orders", ahead).log.message

    assert message.endswith("h 29 min ahead of now.") or message.endswith("h 30 min ahead of now.")
    assert message.startswith(f"Stream 'orders' cursor is now {ahead}, 5 h ")
