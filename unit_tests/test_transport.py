"""The transport rules of every API request: capped server-asked waits, no redirect, bounded bodies, timeouts,
and a check that knows Brightpearl's answer from any 200."""

import gzip
import json
import logging
import socket
import threading
import time
from email.utils import formatdate

import pytest
import requests
import responses

from source_brightpearl import components
from source_brightpearl.components import (
    MAX_SERVER_WAIT_SECONDS,
    BrightpearlBudgetPacer,
    BrightpearlThrottleBackoff,
    ResponseTooSlow,
    _BoundedBody,
)
from source_brightpearl.source import SourceBrightpearl
from unit_tests.builders import (
    ACCOUNT_TOKEN,
    ConfigBuilder,
    api_url,
    run_command,
    run_declarative_read,
    run_entry_point,
    run_read,
)

ORDER_STATUSES = api_url("order-service/order-status")
ACCOUNT_CONFIGURATION = api_url("integration-service/account-configuration")
THROTTLED = {"response": "You have sent too many requests. Please wait before sending another request"}
DAY_SECONDS = 24 * 3600


def _answer(status: int, body: bytes = b"{}", **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers)
    return response


def _backoff(response: requests.Response):
    return BrightpearlThrottleBackoff(parameters={}).backoff_time(response, attempt_count=1)


# ---------------------------------------------------------------- waits the server asks for


def test_given_a_throttled_503_asking_for_a_day_when_backed_off_then_it_waits_10_minutes_and_says_so(caplog):
    answer = _answer(
        503,
        b'{"response": "You have sent too many requests"}',
        **{"brightpearl-next-throttle-period": str(DAY_SECONDS * 1000)},
    )

    with caplog.at_level(logging.WARNING, logger="airbyte"):
        wait = _backoff(answer)

    assert wait == MAX_SERVER_WAIT_SECONDS == 600
    assert f"asks for a wait of {DAY_SECONDS} s; waiting 600 s" in caplog.text


def test_given_a_retry_after_of_a_day_when_backed_off_then_it_waits_10_minutes_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        wait = _backoff(_answer(429, **{"Retry-After": str(DAY_SECONDS)}))

    assert wait == 600
    assert f"Retry-After header asks for a wait of {DAY_SECONDS} s" in caplog.text


def test_given_a_retry_after_as_an_http_date_when_backed_off_then_it_waits_until_then():
    wait = _backoff(_answer(503, **{"Retry-After": formatdate(time.time() + 120, usegmt=True)}))

    assert 115 <= wait <= 120


@pytest.mark.parametrize("period", ["nan", "inf", "soon"])
def test_given_a_throttle_period_that_is_not_a_number_when_backed_off_then_the_exponential_backoff_applies(period):
    answer = _answer(
        503, b'{"response": "You have sent too many requests"}', **{"brightpearl-next-throttle-period": period}
    )

    assert _backoff(answer) is None


def test_given_a_day_long_throttle_period_with_the_budget_spent_when_paced_then_the_wait_is_10_minutes(monkeypatch):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    pacer = BrightpearlBudgetPacer(reserve=20)
    pacer.update_from_response(
        None,
        _answer(
            200, **{"brightpearl-requests-remaining": "0", "brightpearl-next-throttle-period": str(DAY_SECONDS * 1000)}
        ),
    )

    pacer.acquire_call(None)

    assert len(waits) == 1 and 599 < waits[0] <= 600


def test_given_a_throttled_read_asking_for_a_day_when_read_then_it_is_retried_after_10_minutes(monkeypatch):
    waits = []
    monkeypatch.setattr("time.sleep", waits.append)
    with responses.RequestsMock() as mocked:
        mocked.get(
            ORDER_STATUSES,
            status=503,
            json=THROTTLED,
            headers={"brightpearl-next-throttle-period": str(DAY_SECONDS * 1000)},
        )
        mocked.get(ORDER_STATUSES, json={"response": [{"statusId": 1}]})
        output = run_read(ConfigBuilder().build(), "order_statuses")

    assert len(output.records) == 1
    # The CDK adds one second to a strategy's wait.
    assert max(waits) == 601


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_given_a_redirect_to_another_host_when_read_then_config_error_naming_status_and_host_and_one_request(status):
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_STATUSES, status=status, headers={"Location": "https://collector.example:8443/x?sig=5f2b9c"})
        output = run_read(ConfigBuilder().build(), "order_statuses", expect_failure=True)
        assert [call.request.url for call in mocked.calls] == [ORDER_STATUSES]

    error = output.errors[0].trace.error
    assert error.failure_type.value == "config_error"
    assert f"HTTP {status}, a redirect to collector.example:8443" in error.message
    everything = "\n".join(str(message) for message in output._messages)
    assert "sig=5f2b9c" not in everything and ACCOUNT_TOKEN not in everything


def test_given_a_redirect_when_read_on_the_declarative_runtime_then_config_error_and_the_redirect_is_not_followed():
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_STATUSES, status=302, headers={"Location": "https://collector.example:8443/x?sig=5f2b9c"})
        output = run_declarative_read(ConfigBuilder().build(), "order_statuses", expect_failure=True)
        assert [call.request.url for call in mocked.calls] == [ORDER_STATUSES]

    error = output.errors[0].trace.error
    assert error.failure_type.value == "config_error"
    assert "HTTP 302, a redirect to collector.example:8443" in error.message


@pytest.mark.parametrize(
    "location, named",
    [
        pytest.param(
            "https://user:hunter2@collector.example:99999/x?sig=5f2b9c", "collector.example:99999", id="userinfo"
        ),
        pytest.param("http://[::1/x?sig=5f2b9c", "an address that is not a URL", id="not-a-url"),
        pytest.param("/elsewhere?sig=5f2b9c", "euw1.brightpearlconnect.com", id="relative"),
    ],
)
def test_given_a_redirect_location_when_read_then_the_error_names_its_host_and_nothing_else(location, named):
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_STATUSES, status=302, headers={"Location": location})
        output = run_read(ConfigBuilder().build(), "order_statuses", expect_failure=True)

    message = output.errors[0].trace.error.message
    assert f"HTTP 302, a redirect to {named}, which" in message
    everything = "\n".join(str(message) for message in output._messages)
    assert "hunter2" not in everything and "sig=5f2b9c" not in everything


def test_given_a_redirect_when_check_then_failed_naming_status_and_host():
    with responses.RequestsMock() as mocked:
        mocked.get(ACCOUNT_CONFIGURATION, status=307, headers={"Location": "https://collector.example/x"})
        output = run_command("check", ConfigBuilder().build())
        calls = len(mocked.calls)

    status = output.connection_status_messages[-1].connectionStatus
    assert status.status.value == "FAILED"
    assert "HTTP 307, a redirect to collector.example" in status.message
    assert calls == 1


# ---------------------------------------------------------------- bodies


def test_given_a_compressed_body_over_the_cap_when_read_then_system_error_once_without_retry(monkeypatch):
    monkeypatch.setattr(components, "MAX_RESPONSE_BYTES", 1 << 20)
    bomb = gzip.compress(b'{"response": [' + b" " * (8 << 20) + b"]}")
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_STATUSES, body=bomb, headers={"Content-Encoding": "gzip"}, content_type="application/json")
        output = run_read(ConfigBuilder().build(), "order_statuses", expect_failure=True)
        calls = len(mocked.calls)

    error = output.errors[0].trace.error
    assert error.failure_type.value == "system_error"
    assert "larger than 1 MB once decompressed" in error.message
    assert calls == 1


def test_given_a_compressed_body_under_the_cap_when_read_then_its_records_arrive(monkeypatch):
    monkeypatch.setattr(components, "MAX_RESPONSE_BYTES", 1 << 20)
    body = gzip.compress(b'{"response": [{"statusId": 1}, {"statusId": 2}]}' + b" " * 1000)
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_STATUSES, body=body, headers={"Content-Encoding": "gzip"}, content_type="application/json")
        output = run_read(ConfigBuilder().build(), "order_statuses")

    assert [record.record.data["statusId"] for record in output.records] == [1, 2]


class _TricklingBody:
    """A urllib3 body that yields a byte per read, each read taking a second of a fake clock."""

    def __init__(self, clock):
        self.clock = clock
        self.closed = False

    def read1(self, amt, decode_content=None):
        self.clock[0] += 1.0
        return b"x"

    def close(self):
        self.closed = True


def test_given_a_body_trickling_past_its_deadline_when_read_then_it_is_cut_as_a_timeout(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(components.time, "monotonic", lambda: clock[0])
    response = requests.Response()
    response.raw, response.url = _TricklingBody(clock), ORDER_STATUSES
    body = _BoundedBody(response, timeout_seconds=5)

    with pytest.raises(ResponseTooSlow, match="within 5 s"):
        list(body.stream(10, decode_content=True))
    assert response.raw.closed and clock[0] == 6


# ---------------------------------------------------------------- timeouts and the check's answer


@pytest.fixture
def silent_host():
    """A loopback host that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted = []
        thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
        for connection, _ in accepted:
            connection.close()


def test_given_a_host_that_never_answers_and_a_1_s_timeout_when_check_then_failed_after_that_timeout(silent_host):
    config = ConfigBuilder().with_fields(api_domain=silent_host, request_timeout_seconds=1).build()
    # The time bound is the check's: its manifest (a timeout of its own) is resolved before the clock starts.
    SourceBrightpearl(config=config)
    started = time.monotonic()

    output = run_command("check", config)

    status = output.connection_status_messages[-1].connectionStatus
    assert status.status.value == "FAILED"
    assert "did not answer within 1 s" in status.message
    assert time.monotonic() - started < 10


def test_given_every_attempt_timing_out_when_read_then_retried_then_transient_error_naming_the_timeout_setting(
    monkeypatch,
):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    with responses.RequestsMock() as mocked:
        mocked.get(ORDER_STATUSES, body=requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)"))
        output = run_read(ConfigBuilder().build(), "order_statuses", expect_failure=True)
        calls = len(mocked.calls)

    error = output.errors[0].trace.error
    assert calls == 9  # the first attempt and 8 retries
    assert error.failure_type.value == "transient_error"
    assert "did not answer in time (Read timed out. (read timeout=60))" in error.message
    assert "request_timeout_seconds" in error.message


@pytest.mark.parametrize("value, rule", [(0, "at least 1"), (601, "at most 600"), ("60", "a whole number")])
def test_given_a_request_timeout_out_of_range_when_check_then_failed_naming_the_field(tmp_path, value, rule):
    config = ConfigBuilder().with_fields(api_domain="http://127.0.0.1:9", request_timeout_seconds=value).build()

    result = run_entry_point(tmp_path, "check", config=config)

    [status] = [
        json.loads(line)["connectionStatus"] for line in result.stdout.splitlines() if "CONNECTION_STATUS" in line
    ]
    assert status["status"] == "FAILED"
    assert f"Config field 'request_timeout_seconds' must be {rule}" in status["message"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"body": "<html><body>Sign in</body></html>", "content_type": "text/html"}, id="html"),
        pytest.param({"json": {}}, id="empty-object"),
        pytest.param({"json": {"response": {}}}, id="empty-response"),
        pytest.param({"json": {"response": "ok"}}, id="string-response"),
        pytest.param({"json": [{"configuration": {"timeZone": "UTC"}}]}, id="list"),
    ],
)
def test_given_a_200_that_is_not_the_account_configuration_when_check_then_failed_saying_so(body):
    with responses.RequestsMock() as mocked:
        mocked.get(ACCOUNT_CONFIGURATION, **body)
        output = run_command("check", ConfigBuilder().build())

    status = output.connection_status_messages[-1].connectionStatus
    assert status.status.value == "FAILED"
    assert "does not answer like Brightpearl" in status.message and "HTTP 200" in status.message
