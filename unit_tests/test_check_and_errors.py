"""`check` messages per failure kind, config errors, throttling backoff, and secrets in output."""

import pytest
import requests
import responses

from unit_tests.builders import ACCOUNT_TOKEN, STAFF_TOKEN, ConfigBuilder, api_url, run_command, run_read

ACCOUNT_CONFIGURATION = api_url("integration-service/account-configuration")
THROTTLED = {"response": "You have sent too many requests. Please wait before sending another request"}


def _check(config, **response):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        if response:
            mocked.get(ACCOUNT_CONFIGURATION, **response)
        output = run_command("check", config)
        calls = len(mocked.calls)
    status = output.connection_status_messages[-1].connectionStatus
    return status, output, calls


def test_given_valid_account_when_check_then_succeeded_after_one_call():
    status, _, calls = _check(ConfigBuilder().build(), json={"response": {"configuration": {"timeZone": "UTC"}}})
    assert status.status.value == "SUCCEEDED"
    assert calls == 1


def test_given_unknown_account_code_when_check_then_failed_naming_the_account_code():
    body = {"errors": [{"code": "CMNC-404", "message": "Cannot find the account: acme"}]}
    status, _, _ = _check(ConfigBuilder().build(), status=404, json=body)
    assert status.status.value == "FAILED"
    assert "no account 'acme'" in status.message and "account code" in status.message


# ("Authorization token expired" is an OAuth answer: the connector refreshes on it, see test_oauth_refresh.py.)
@pytest.mark.parametrize(
    "text", ["Not authenticated. You must provide a valid authentication token.", "Invalid instance token: x"]
)
def test_given_rejected_token_when_check_then_failed_asking_to_check_the_credentials(text):
    status, _, _ = _check(ConfigBuilder().build(), status=401, json={"response": text})
    assert status.status.value == "FAILED"
    assert "rejected the credentials" in status.message and "account token" in status.message


def test_given_staff_token_rejected_when_check_then_message_names_the_staff_token():
    status, _, _ = _check(ConfigBuilder().with_staff_token().build(), status=401, json={"response": "nope"})
    assert "staff token" in status.message


def test_given_throttled_account_when_check_then_failed_once_saying_wait_a_minute():
    status, _, calls = _check(ConfigBuilder().build(), status=503, json=THROTTLED)
    assert status.status.value == "FAILED"
    assert "throttling" in status.message and "minute" in status.message
    assert calls == 1


def test_given_unreachable_host_when_check_then_failed_naming_the_host():
    body = requests.exceptions.ConnectionError("connection refused")
    status, _, _ = _check(ConfigBuilder().with_fields(api_domain="http://127.0.0.1:9").build(), body=body)
    assert status.status.value == "FAILED"
    assert status.message.startswith("Could not connect to http://127.0.0.1:9")


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"account_code": ""}, "should be non-empty"),
        ({"datacenter": "eu.example.com"}, "eu.example.com"),
        ({"api_domain": "http://evil.example.com"}, "api_domain"),
        ({"start_date": "yesterday"}, "yesterday"),
        ({"start_date": "2024-02-30T00:00:00Z"}, "start_date"),
    ],
)
def test_given_bad_config_when_check_then_failed_with_a_config_message_and_no_request(fields, expected):
    status, _, calls = _check(ConfigBuilder().with_fields(**fields).build())
    assert status.status.value == "FAILED"
    assert expected in status.message
    assert calls == 0


def test_given_bad_config_when_discover_then_config_error_trace():
    output = run_command("discover", ConfigBuilder().with_fields(datacenter="nowhere").build())
    assert output.errors[-1].trace.error.failure_type.value == "config_error"


def test_given_401_with_token_in_body_when_check_and_read_then_the_token_never_appears_in_output():
    body = {"response": f"Invalid instance token: {ACCOUNT_TOKEN}"}
    _, check_output, _ = _check(ConfigBuilder().build(), status=401, json=body)
    with responses.RequestsMock() as mocked:
        mocked.get(api_url("order-service/order-status"), status=401, json=body)
        read_output = run_read(ConfigBuilder().build(), "order_statuses", expect_failure=True)
    for output in (check_output, read_output):
        everything = "\n".join(str(message) for message in output._messages)
        assert ACCOUNT_TOKEN not in everything
        assert STAFF_TOKEN not in everything
    assert read_output.errors[-1].trace.error.failure_type.value == "config_error"


def test_given_throttled_then_ok_when_read_then_retried_after_throttle_period_in_seconds(monkeypatch):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    with responses.RequestsMock() as mocked:
        mocked.get(
            api_url("order-service/order-status"),
            status=503,
            json=THROTTLED,
            headers={"brightpearl-next-throttle-period": "2500", "brightpearl-requests-remaining": "0"},
        )
        mocked.get(api_url("order-service/order-status"), json={"response": [{"statusId": 1}]})
        output = run_read(ConfigBuilder().build(), "order_statuses")
        assert len(mocked.calls) == 2
    assert len(output.records) == 1
    # The CDK adds one second to a strategy's wait.
    assert any(2.5 <= wait <= 3.5 for wait in waits)


def test_given_outage_503_when_read_then_retried_with_exponential_backoff_not_the_throttle_period(monkeypatch):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    with responses.RequestsMock() as mocked:
        mocked.get(
            api_url("order-service/order-status"),
            status=503,
            json={"response": "Service unavailable"},
            headers={"brightpearl-next-throttle-period": "40000"},
        )
        mocked.get(api_url("order-service/order-status"), json={"response": [{"statusId": 1}]})
        output = run_read(ConfigBuilder().build(), "order_statuses")
    assert len(output.records) == 1
    assert waits and all(wait < 40 for wait in waits)
