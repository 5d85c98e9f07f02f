"""What an ID-set stream keeps while it reads: each ID once, in a sorted array (`_SeenIds`), and no
cursor per ID set once its cursor is global (`_NoCursorPerIdSet`). Against `responses`."""

import json
import random
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
from airbyte_cdk.sources.declarative.incremental.concurrent_partition_cursor import ConcurrentPerPartitionCursor

from source_brightpearl.components import _SeenIds
from unit_tests.builders import (
    ConfigBuilder,
    api_url,
    final_stream_state,
    order,
    run_incremental_read,
    run_read,
    search_body,
)

ORDER_SEARCH = api_url("order-service/order-search")
ORDER_GET = re.compile(re.escape(api_url("order-service/order/")) + r"[^?]+")
ORDERS = 650  # four ID sets


def _new_ones(ids: list[int]) -> list[int]:
    seen = _SeenIds()
    return [record_id for record_id in ids if seen.add(record_id)]


def _first_of_each(ids: list[int]) -> list[int]:
    return list(dict.fromkeys(ids))


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param(list(range(1, 5001)) + list(range(1, 5001, 3)), id="a second pass over the first"),
        pytest.param(list(range(2, 4001, 2)) + list(range(1, 4001)), id="a second pass finding more"),
        pytest.param(list(range(3000, 0, -1)) * 2, id="descending, merged several times"),
        pytest.param(random.Random(7).choices(range(1, 3000), k=9000), id="random, with repeats"),
    ],
)
def test_given_ids_in_any_order_when_each_is_added_then_only_its_first_time_is_new(ids: list[int]):
    assert _new_ones(ids) == _first_of_each(ids)


def _serve_orders(mocked: responses.RequestsMock) -> None:
    mocked.get(ORDER_SEARCH, json=search_body("orderId", list(range(1, ORDERS + 1)), 1, ORDERS))

    def id_set(request: Any) -> tuple[int, dict, str]:
        asked = [int(record_id) for record_id in urlsplit(request.url).path.rsplit("/", 1)[1].split(",")]
        return 200, {}, json.dumps({"response": [order(record_id) for record_id in asked]})

    mocked.add_callback(responses.GET, ORDER_GET, callback=id_set)


def test_given_orders_in_several_id_sets_when_each_is_done_then_their_cursor_keeps_no_cursor_for_it(
    monkeypatch: pytest.MonkeyPatch,
):
    kept = []
    close_partition = ConcurrentPerPartitionCursor.close_partition

    def counted_close(self: ConcurrentPerPartitionCursor, partition: Any) -> None:
        close_partition(self, partition)
        if self._stream_name == "orders":
            kept.append(len(self._cursor_per_partition))

    monkeypatch.setattr(ConcurrentPerPartitionCursor, "close_partition", counted_close)
    with responses.RequestsMock() as mocked:
        _serve_orders(mocked)
        output = run_read(ConfigBuilder().build(), "orders")

    assert len(output.records) == ORDERS
    assert kept == [0, 0, 0, 0]


def test_given_a_state_of_cursors_per_id_set_when_read_then_the_sync_keeps_a_cursor_for_each():
    # A state without `use_global_cursor` (an older or hand-written one) turns the CDK's global mode
    # off: the cursor of each ID set is then part of the state, and must be kept.
    state = {
        "state": {"updatedOn": "2024-03-05T00:00:00+0000"},
        "parent_state": {"order_search": {"updatedOn": "2024-03-05T00:00:00+0000"}, "ids_to_retry": []},
    }
    with responses.RequestsMock() as mocked:
        _serve_orders(mocked)
        output = run_incremental_read(ConfigBuilder().build(), "orders", state)

    assert len(output.records) == ORDERS
    final_state = final_stream_state(output)
    assert final_state["use_global_cursor"] is False
    assert len(final_state["states"]) == 4
