"""Pacing on Brightpearl's budget headers (cached answers giving their calls back), 429 Retry-After, and an
expired private-app token."""

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from source_brightpearl.components import BrightpearlBudgetPacer
from unit_tests.builders import ConfigBuilder, api_url, order, run_declarative_read, run_read, search_body

ORDER_STATUSES = api_url("order-service/order-status")
ORDER_SEARCH = api_url("order-service/order-search")
ORDER_GET = re.compile(re.escape(api_url("order-service/order/")) + r"[0-9,-]+")


def _response(remaining: int, period_ms: int) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers.update(
        {"brightpearl-requests-remaining": str(remaining), "brightpearl-next-throttle-period": str(period_ms)}
    )
    return response


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every `time.sleep` of the test, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    return slept


def _pacer_told(remaining: int, period_ms: int) -> BrightpearlBudgetPacer:
    """A pacer keeping a reserve of 20 calls, after an answer saying `remaining` calls are left."""
    pacer = BrightpearlBudgetPacer(reserve=20)
    pacer.update_from_response(None, _response(remaining=remaining, period_ms=period_ms))
    return pacer


def test_given_remaining_down_to_the_reserve_when_next_request_then_it_waits_until_the_period_rolls(sleeps):
    pacer = _pacer_told(remaining=20, period_ms=30000)
    pacer.acquire_call(None)
    assert len(sleeps) == 1 and 29 < sleeps[0] <= 30


def test_given_remaining_above_the_reserve_when_next_request_then_it_goes_at_once(sleeps):
    pacer = _pacer_told(remaining=21, period_ms=30000)
    pacer.acquire_call(None)
    assert sleeps == []


def test_given_two_calls_above_the_reserve_when_four_requests_then_two_go_and_the_rest_go_one_spacing_apart(
    sleeps,
):
    pacer = _pacer_told(remaining=22, period_ms=0)

    for _ in range(4):
        pacer.acquire_call(None)

    assert len(sleeps) == 1 and abs(sleeps[0] - BrightpearlBudgetPacer.SPACING_SECONDS) < 0.05


def test_given_a_call_taken_when_the_cache_answers_it_then_the_estimate_has_it_back(sleeps):
    pacer = _pacer_told(remaining=21, period_ms=0)

    for _ in range(5):
        pacer.return_unspent(pacer.acquire_call(None))

    assert sleeps == []


def test_given_an_answer_from_brightpearl_since_a_call_was_taken_when_the_cache_answers_it_then_it_is_not_given_back(
    sleeps,
):
    pacer = _pacer_told(remaining=21, period_ms=0)
    ticket = pacer.acquire_call(None)
    pacer.update_from_response(None, _response(remaining=21, period_ms=0))  # Brightpearl's count, without it

    pacer.return_unspent(ticket)
    for _ in range(3):  # the 21st call left goes at once, the first at the reserve too, the next one spacing later
        pacer.acquire_call(None)

    assert len(sleeps) == 1 and abs(sleeps[0] - BrightpearlBudgetPacer.SPACING_SECONDS) < 0.05


def test_given_order_rows_read_from_the_cache_of_orders_when_the_budget_is_near_the_reserve_then_none_waits(
    monkeypatch,
):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    waits = []
    wait_for_a_call = BrightpearlBudgetPacer._wait_for_a_call

    def recorded(pacer: BrightpearlBudgetPacer) -> tuple[float, int | None]:
        wait, ticket = wait_for_a_call(pacer)
        waits.append(wait)
        return wait, ticket

    monkeypatch.setattr(BrightpearlBudgetPacer, "_wait_for_a_call", recorded)
    # A call for each reading thread, and one more, above the reserve.
    near_the_reserve = {"brightpearl-requests-remaining": "23", "brightpearl-next-throttle-period": "60000"}
    ids = list(range(1, 851))  # two search pages and five ID sets, which order_rows reads again from the cache

    def search(request: Any) -> tuple[int, dict, str]:
        first = int(parse_qs(urlsplit(request.url).query).get("firstResult", ["1"])[0])
        return 200, near_the_reserve, json.dumps(search_body("orderId", ids[first - 1 :], first, len(ids)))

    def id_set(request: Any) -> tuple[int, dict, str]:
        asked = [int(i) for i in urlsplit(request.url).path.rsplit("/", 1)[1].split(",")]
        return 200, near_the_reserve, json.dumps({"response": [order(i, [10 * i]) for i in asked]})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.GET, ORDER_SEARCH, callback=search)
        mocked.add_callback(responses.GET, ORDER_GET, callback=id_set)
        mocked.get(re.compile(r".*/custom-field-meta-data"), json={"response": []}, headers=near_the_reserve)
        output = run_read(ConfigBuilder().with_fields(rate_limit_reserve=20).build(), "orders", "order_rows")
        network_calls = len(mocked.calls)

    assert len(output.records) == 2 * len(ids)
    assert len(waits) >= network_calls + 5  # the cached answers were paced too
    assert max(waits) == 0


@pytest.mark.parametrize(
    "read", [pytest.param(run_read, id="package"), pytest.param(run_declarative_read, id="declarative runtime")]
)
def test_given_low_budget_answer_when_read_then_the_following_request_waits_for_the_period(sleeps, read):
    config = ConfigBuilder().with_fields(rate_limit_reserve=5).build()
    with responses.RequestsMock() as mocked:
        mocked.get(
            ORDER_STATUSES,
            status=503,
            json={"response": "Service unavailable"},
            headers={"brightpearl-requests-remaining": "3", "brightpearl-next-throttle-period": "12000"},
        )
        mocked.get(ORDER_STATUSES, json={"response": [{"statusId": 1}]})
        output = read(config, "order_statuses")
    assert len(output.records) == 1
    assert any(10 < wait <= 12 for wait in sleeps)


def test_given_429_with_retry_after_when_read_then_retried_after_that_many_seconds(sleeps):
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_STATUSES, status=429, json={"response": "slow down"}, headers={"Retry-After": "7"})
        mocked.get(ORDER_STATUSES, json={"response": [{"statusId": 1}]})
        output = run_read(ConfigBuilder().build(), "order_statuses")
        assert len(mocked.calls) == 2
    assert len(output.records) == 1
    # The CDK adds one second to a strategy's wait.
    assert any(7 <= wait <= 8 for wait in sleeps)


def test_given_expired_account_token_when_read_then_config_error_after_one_call_saying_to_replace_it():
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_STATUSES, status=401, json={"response": "Authorization token expired"})
        output = run_read(ConfigBuilder().build(), "order_statuses", expect_failure=True)
        assert len(mocked.calls) == 1
    messages = [error.trace.error.message for error in output.errors]
    assert output.errors[-1].trace.error.failure_type.value == "config_error"
    assert any(
        "account token" in message and "has expired" in message and "create a new one" in message
        for message in messages
    ), messages
