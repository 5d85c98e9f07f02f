"""The `brightpearl-mock` command line: start-up line, fault flags, request log without tokens."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from mock_server.cli import parse_args
from mock_server.testing import MockServer


def test_given_defaults_when_parsed_then_the_shared_names_hold():
    args = parse_args([])

    assert (args.host, args.port, args.account, args.seed, args.rate_limit) == ("127.0.0.1", 8787, "acme", 1, 200)


@pytest.mark.parametrize("argv", [["--orders", "0"], ["--fault", "meteor"], ["--fault", "429:count=x"]])
def test_given_bad_flags_when_parsed_then_the_command_exits_with_a_usage_error(argv):
    result = subprocess.run([sys.executable, "-m", "mock_server", *argv], capture_output=True, text=True, timeout=30)

    assert result.returncode == 2
    assert "brightpearl-mock: error:" in result.stderr


def test_given_a_fault_flag_and_request_log_when_started_then_the_fault_fires_and_the_log_hides_tokens():
    with MockServer(orders=50, extra_args=["--fault", "429:count=1,retry_after=2", "--log-requests"]) as mock:
        first = requests.get(mock.api_url("order-service/order-search"), headers=mock.auth_headers(), timeout=10)
        second = requests.get(mock.api_url("order-service/order-search"), headers=mock.auth_headers(), timeout=10)
    output = mock.output

    assert (first.status_code, first.headers["retry-after"], second.status_code) == (429, "2", 200)
    assert "base_url=http://127.0.0.1:" in output and f"account_token={mock.account_token}" in output
    log_lines = output.splitlines()[1:]
    assert any("GET /public-api/acme/order-service/order-search -> 200" in line for line in log_lines)
    assert not any(mock.account_token in line or mock.app_ref in line for line in log_lines)
