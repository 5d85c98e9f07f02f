"""The hostile-server harness itself: each behaviour does what the connector's hostile tests rely on."""

from __future__ import annotations

import gzip
import time

import pytest
import requests

from integration_tests.hostile import (
    HostileServer,
    RecordingServer,
    Rule,
    gzip_bomb,
    redirect,
    respond,
    rewrite_json,
    stall,
    trickle,
    with_headers,
)
from mock_server.testing import MockServer

SEARCH = "order-service/order-search"


@pytest.fixture(scope="module")
def mock() -> MockServer:
    with MockServer(orders=20) as server:
        yield server


@pytest.fixture
def proxy(mock):
    with HostileServer(mock.base_url) as server:
        yield server


def _get(proxy: HostileServer, mock: MockServer, path: str = SEARCH, **kwargs) -> requests.Response:
    return requests.get(
        f"{proxy.base_url}/public-api/{mock.account}/{path}",
        headers=mock.auth_headers(),
        timeout=kwargs.pop("timeout", 10),
        **kwargs,
    )


def test_given_no_rule_when_a_request_passes_then_the_mocks_answer_arrives_and_the_request_is_recorded(proxy, mock):
    answer = _get(proxy, mock)

    assert answer.status_code == 200
    assert answer.json()["response"]["metaData"]["resultsReturned"] == 20
    assert proxy.seen[-1].headers["brightpearl-account-token"] == mock.account_token


def test_given_a_rule_after_one_with_count_one_when_three_requests_pass_then_only_the_second_gets_it(proxy, mock):
    rule = Rule(path=SEARCH, behaviour=respond(500, "<html>down</html>"), after=1, count=1)
    proxy.add(rule)

    statuses = [_get(proxy, mock).status_code for _ in range(3)]

    assert statuses == [200, 500, 200]
    assert proxy.fired(rule) == 1


def test_given_a_stall_when_a_client_has_a_read_timeout_then_it_times_out(proxy, mock):
    proxy.add(Rule(path=SEARCH, behaviour=stall(seconds=30)))
    started = time.monotonic()

    with pytest.raises(requests.ReadTimeout):
        _get(proxy, mock, timeout=(2, 0.5))
    assert time.monotonic() - started < 5


def test_given_a_trickle_when_read_then_bytes_arrive_one_by_one_and_the_body_is_cut_at_the_limit(proxy, mock):
    proxy.add(Rule(path=SEARCH, behaviour=trickle(seconds_per_byte=0.05, max_seconds=0.5)))

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _get(proxy, mock, timeout=(2, 1))


def test_given_a_redirect_when_followed_by_a_naive_client_then_the_other_host_records_the_token(proxy, mock):
    with RecordingServer() as elsewhere:
        proxy.add(Rule(path=SEARCH, behaviour=redirect(302, f"{elsewhere.base_url}/stolen")))

        _get(proxy, mock)

        assert elsewhere.seen[0].path_qs == "/stolen"
        assert elsewhere.seen[0].headers["brightpearl-account-token"] == mock.account_token


def test_given_rewrite_json_when_read_then_the_transformed_body_arrives(proxy, mock):
    proxy.add(Rule(path=SEARCH, behaviour=rewrite_json(lambda body: {"response": None})))

    assert _get(proxy, mock).json() == {"response": None}


def test_given_with_headers_when_read_then_status_and_headers_are_replaced(proxy, mock):
    proxy.add(Rule(path=SEARCH, behaviour=with_headers({"brightpearl-next-throttle-period": "86400000"}, status=503)))

    answer = _get(proxy, mock)

    assert (answer.status_code, answer.headers["brightpearl-next-throttle-period"]) == (503, "86400000")


def test_given_a_gzip_bomb_when_read_raw_then_it_is_small_on_the_wire_and_inflates_to_the_size_asked(proxy, mock):
    proxy.add(Rule(path=SEARCH, behaviour=gzip_bomb(expanded_bytes=64 << 20)))

    answer = _get(proxy, mock, stream=True)
    wire = answer.raw.read(decode_content=False)

    assert answer.headers["content-encoding"] == "gzip"
    assert len(wire) < 1 << 20
    assert len(gzip.decompress(wire)) >= 64 << 20
