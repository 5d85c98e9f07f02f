"""ID-set GETs must answer the records asked for: BrightpearlIdSetRetriever, BrightpearlRetriedIdsRouter
and the extractors' checks of a GET body, against `responses`."""

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import responses
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from unit_tests.builders import ConfigBuilder, api_url, final_stream_state, order, run_incremental_read, search_body

ORDER_SEARCH = api_url("order-service/order-search")
ORDER_GET = re.compile(re.escape(api_url("order-service/order/")) + r"[^?]+")
GOODS_OUT_GET = re.compile(re.escape(api_url("warehouse-service/order/*/goods-note/goods-out/")) + r"[^?]+")


def _asked(request: Any) -> list[int]:
    return [int(record_id) for record_id in urlsplit(request.url).path.rsplit("/", 1)[1].split(",")]


def _search(
    mocked: responses.RequestsMock, ids: list[Any], url: str = ORDER_SEARCH, id_column: str = "orderId"
) -> None:
    mocked.get(url, json=search_body(id_column, ids, 1, len(ids)))


def _order_gets(mocked: responses.RequestsMock, answer) -> list[list[int]]:
    """Serves order GETs with `answer(asked IDs, call number)` (a body); returns the IDs each call asked for."""
    calls: list[list[int]] = []

    def callback(request):
        calls.append(_asked(request))
        status, body = answer(calls[-1], len(calls))
        return status, {}, body if isinstance(body, (str, bytes)) else json.dumps(body)

    mocked.add_callback(responses.GET, ORDER_GET, callback=callback)
    return calls


def _orders(ids: list[int]) -> dict[str, Any]:
    return {"response": [order(record_id) for record_id in ids]}


def _read(stream: str, state: Mapping[str, Any] | None = None, expect_failure: bool = False) -> EntrypointOutput:
    return run_incremental_read(ConfigBuilder().build(), stream, state, expect_failure)


def _ids(output: EntrypointOutput, field: str = "id") -> list[int]:
    return sorted(record.record.data[field] for record in output.records)


def _warnings(output: EntrypointOutput) -> list[str]:
    return [log.log.message for log in output.logs if log.log.level.value == "WARN"]


def _stream_errors(output: EntrypointOutput) -> list[Any]:
    return [error.trace.error for error in output.errors if error.trace.error.stream_descriptor]


def _synced_state(ids_to_retry: list[int]) -> dict[str, Any]:
    return {
        "use_global_cursor": True,
        "state": {"updatedOn": "2024-03-05T00:00:00+0000"},
        "parent_state": {"order_search": {"updatedOn": "2024-03-05T00:00:00+0000"}, "ids_to_retry": ids_to_retry},
    }


def test_given_orders_found_by_both_passes_of_the_search_when_read_then_each_is_asked_for_once():
    with responses.RequestsMock() as mocked:
        # Answered alike from updatedOn and from createdOn: every order is found twice.
        _search(mocked, list(range(1, 251)))
        calls = _order_gets(mocked, lambda asked, call: (200, _orders(asked)))
        output = _read("orders", state=_synced_state([]))
        searches = [call for call in mocked.calls if call.request.url.startswith(ORDER_SEARCH)]

    assert len(searches) == 2
    # The two ID sets are read by two threads, in either order.
    assert sorted(calls) == [list(range(1, 201)), list(range(201, 251))]
    assert _ids(output) == list(range(1, 251))


def test_given_a_carried_order_the_search_finds_again_when_read_then_it_is_asked_for_once():
    with responses.RequestsMock() as mocked:
        _search(mocked, [2, 4, 7])
        calls = _order_gets(mocked, lambda asked, call: (200, _orders(asked)))
        output = _read("orders", state=_synced_state([4]))

    assert calls == [[4, 2, 7]]
    assert _ids(output) == [2, 4, 7]


def test_given_an_order_get_answering_response_null_when_read_then_the_stream_fails_as_transient():
    with responses.RequestsMock() as mocked:
        _search(mocked, [1, 2])
        _order_gets(mocked, lambda asked, call: (200, {"response": None}))
        output = _read("orders", expect_failure=True)

    assert output.records == []
    assert [error.failure_type.value for error in _stream_errors(output)] == ["transient_error"]


def test_given_an_order_get_answering_a_json_string_when_read_then_the_stream_fails_as_transient():
    with responses.RequestsMock() as mocked:
        _search(mocked, [1, 2])
        _order_gets(mocked, lambda asked, call: (200, '"Service temporarily unavailable"'))
        output = _read("orders", expect_failure=True)

    assert [error.failure_type.value for error in _stream_errors(output)] == ["transient_error"]


def test_given_a_goods_out_get_answering_a_list_of_numbers_when_read_then_the_stream_fails_as_transient():
    with responses.RequestsMock() as mocked:
        _search(mocked, [7], url=api_url("warehouse-service/goods-note/goods-out-search"), id_column="goodsOutNoteId")
        mocked.get(GOODS_OUT_GET, json={"response": {"7": 12}})
        output = _read("goods_out_notes", expect_failure=True)

    assert [error.failure_type.value for error in _stream_errors(output)] == ["transient_error"]


def test_given_an_order_left_out_of_the_first_answer_when_read_then_it_is_asked_once_more_and_delivered():
    with responses.RequestsMock() as mocked:
        _search(mocked, [1, 2, 3])
        calls = _order_gets(mocked, lambda asked, call: (200, _orders([i for i in asked if call > 1 or i != 2])))
        output = _read("orders")

    assert calls == [[1, 2, 3], [2]]
    assert _ids(output) == [1, 2, 3]


def test_given_an_order_never_returned_when_read_then_a_warning_counts_it_as_gone_and_the_sync_succeeds():
    with responses.RequestsMock() as mocked:
        _search(mocked, [1, 2, 3])
        calls = _order_gets(mocked, lambda asked, call: (200, _orders([i for i in asked if i != 2])))
        output = _read("orders")

    assert calls == [[1, 2, 3], [2]]
    assert _ids(output) == [1, 3]
    assert (
        "orders: 1 of 3 records asked for were not returned, twice: deleted since the search found them (2)."
        in _warnings(output)
    )
    assert _stream_errors(output) == []


def test_given_an_answer_with_records_of_other_ids_when_read_then_they_are_not_emitted_and_the_asked_ids_are_asked_again():
    def answer(asked, call):
        return 200, _orders([1000 + i for i in asked] if call == 1 else asked)

    with responses.RequestsMock() as mocked:
        _search(mocked, [1, 2])
        calls = _order_gets(mocked, answer)
        output = _read("orders")

    assert calls == [[1, 2], [1, 2]]
    assert _ids(output) == [1, 2]
    assert any(
        "records for IDs not asked for (1001, 1002); they are dropped" in warning for warning in _warnings(output)
    )


def test_given_order_rows_of_an_order_without_rows_when_read_then_it_is_not_asked_again():
    with responses.RequestsMock() as mocked:
        _search(mocked, [1, 2])
        calls = _order_gets(mocked, lambda asked, call: (200, {"response": [order(1, [10]), order(2)]}))
        output = _read("order_rows")

    assert calls == [[1, 2]]
    assert [(record.record.data["orderId"], record.record.data["rowId"]) for record in output.records] == [(1, 10)]


def test_given_a_search_id_that_is_a_path_when_read_then_the_stream_fails_naming_it_and_no_get_carries_it():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        _search(mocked, [1, "../../integration-service/webhook"])
        calls = _order_gets(mocked, lambda asked, call: (200, _orders(asked)))
        output = _read("orders", expect_failure=True)

    errors = _stream_errors(output)
    assert [error.failure_type.value for error in errors] == ["transient_error"]
    assert 'whose orderId is "../../integration-service/webhook"' in errors[0].message
    assert calls == []


def test_given_every_order_get_rejected_when_read_then_the_stream_fails_as_transient_after_a_few_gets():
    with responses.RequestsMock() as mocked:
        _search(mocked, list(range(1, 201)))
        calls = _order_gets(mocked, lambda asked, call: (400, {"errors": [{"code": "ORDC-001", "message": "bad"}]}))
        output = _read("orders", expect_failure=True)

    assert output.records == []
    assert [error.failure_type.value for error in _stream_errors(output)] == ["transient_error"]
    assert len(calls) < 40, "a rejected set is not bisected to its last ID once more than 1 % of it failed"


def test_given_a_sync_that_failed_on_rejected_gets_when_the_closing_trace_is_read_then_it_is_transient():
    with responses.RequestsMock() as mocked:
        _search(mocked, [1, 2, 3])
        _order_gets(mocked, lambda asked, call: (400, {"errors": [{"code": "ORDC-001", "message": "bad"}]}))
        output = _read("orders", expect_failure=True)

    closing = [error.trace.error for error in output.errors if not error.trace.error.stream_descriptor]
    assert [error.failure_type.value for error in closing] == ["transient_error"]


def _rejecting(bad: list[int]):
    def answer(asked, call):
        if set(asked) & set(bad):
            return 400, {"errors": [{"code": "ORDC-001", "message": "One or more resources could not be loaded"}]}
        return 200, _orders(asked)

    return answer


def test_given_one_bad_order_when_read_then_it_is_skipped_and_kept_in_the_state_to_be_asked_again():
    with responses.RequestsMock() as mocked:
        _search(mocked, list(range(1, 11)))
        _order_gets(mocked, _rejecting([4]))
        output = _read("orders")

    assert _ids(output) == [1, 2, 3, 5, 6, 7, 8, 9, 10]
    assert final_stream_state(output)["parent_state"]["ids_to_retry"] == [4]


def test_given_a_state_carrying_a_skipped_order_when_read_then_it_is_asked_again_and_dropped_from_the_state():
    with responses.RequestsMock() as mocked:
        _search(mocked, [7])
        calls = _order_gets(mocked, lambda asked, call: (200, _orders(asked)))
        output = _read("orders", state=_synced_state([4]))

    assert calls == [[4, 7]]
    assert _ids(output) == [4, 7]
    assert final_stream_state(output)["parent_state"]["ids_to_retry"] == []


def test_given_carried_orders_still_rejected_when_read_then_they_stay_in_the_state_without_failing_the_stream():
    with responses.RequestsMock() as mocked:
        _search(mocked, [7])
        _order_gets(mocked, _rejecting([4, 5]))
        output = _read("orders", state=_synced_state([4, 5]))

    assert _ids(output) == [7]
    assert final_stream_state(output)["parent_state"]["ids_to_retry"] == [4, 5]


def test_given_a_state_whose_ids_to_retry_are_not_ids_when_read_then_it_is_a_config_error_naming_the_stream():
    state = {
        "use_global_cursor": True,
        "state": {"updatedOn": "2024-03-05T00:00:00+0000"},
        "parent_state": {"order_search": {"updatedOn": "2024-03-05T00:00:00+0000"}, "ids_to_retry": ["4; drop"]},
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        output = _read("orders", state=state, expect_failure=True)

    assert [error.trace.error.failure_type.value for error in output.errors] == ["config_error"]
    assert "The state of stream 'orders' has parent_state.ids_to_retry" in output.errors[0].trace.error.message
