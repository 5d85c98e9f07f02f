"""Pacing on Brightpearl's budget headers, 429 Retry-After, and an expired private-app token."""

import pytest
import requests
import responses

from source_brightpearl.components import BrightpearlBudgetPacer
from unit_tests.builders import ConfigBuilder, api_url, run_declarative_read, run_read

ORDER_STATUSES = api_url("order-service/order-status")


def _response(remaining: int, period_ms: int) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.headers.update(
        {"brightpearl-requests-remaining": str(remaining), "brightpearl-next-throttle-period": str(period_ms)}
    )
    return response


def test_given_remaining_down_to_the_reserve_when_next_request_then_it_waits_until_the_period_rolls(monkeypatch):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    pacer = BrightpearlBudgetPacer(reserve=20)
    pacer.update_from_response(None, _response(remaining=20, period_ms=30000))
    pacer.acquire_call(None)
    assert len(waits) == 1 and 29 < waits[0] <= 30


def test_given_remaining_above_the_reserve_when_next_request_then_it_goes_at_once(monkeypatch):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    pacer = BrightpearlBudgetPacer(reserve=20)
    pacer.update_from_response(None, _response(remaining=21, period_ms=30000))
    pacer.acquire_call(None)
    assert waits == []


def test_given_two_calls_above_the_reserve_when_four_requests_then_two_go_and_the_rest_go_one_spacing_apart(
    monkeypatch,
):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    pacer = BrightpearlBudgetPacer(reserve=20)
    pacer.update_from_response(None, _response(remaining=22, period_ms=0))

    for _ in range(4):
        pacer.acquire_call(None)

    assert len(waits) == 1 and abs(waits[0] - BrightpearlBudgetPacer.SPACING_SECONDS) < 0.05


@pytest.mark.parametrize(
    "read", [pytest.param(run_read, id="package"), pytest.param(run_declarative_read, id="declarative runtime")]
)
def test_given_low_budget_answer_when_read_then_the_following_request_waits_for_the_period(monkeypatch, read):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
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
    assert any(10 < wait <= 12 for wait in waits)


def test_given_429_with_retry_after_when_read_then_retried_after_that_many_seconds(monkeypatch):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_STATUSES, status=429, json={"response": "slow down"}, headers={"Retry-After": "7"})
        mocked.get(ORDER_STATUSES, json={"response": [{"statusId": 1}]})
        output = run_read(ConfigBuilder().build(), "order_statuses")
        assert len(mocked.calls) == 2
    assert len(output.records) == 1
    # The CDK adds one second to a strategy's wait.
    assert any(7 <= wait <= 8 for wait in waits)


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
